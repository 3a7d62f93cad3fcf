package bench

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// Sample collects latencies and errors of one measured block. It is safe
// for concurrent use.
type Sample struct {
	mu     sync.Mutex
	lat    []time.Duration
	errs   int
	first  error
	sorted bool
}

func (s *Sample) Add(d time.Duration) {
	s.mu.Lock()
	s.lat = append(s.lat, d)
	s.sorted = false
	s.mu.Unlock()
}

func (s *Sample) Fail(err error) {
	s.mu.Lock()
	s.errs++
	if s.first == nil {
		s.first = err
	}
	s.mu.Unlock()
}

// Merge adds o's observations to s.
func (s *Sample) Merge(o *Sample) {
	o.mu.Lock()
	lat, errs, first := slices.Clone(o.lat), o.errs, o.first
	o.mu.Unlock()
	s.mu.Lock()
	s.lat = append(s.lat, lat...)
	s.errs += errs
	if s.first == nil {
		s.first = first
	}
	s.sorted = false
	s.mu.Unlock()
}

func (s *Sample) N() int      { s.mu.Lock(); defer s.mu.Unlock(); return len(s.lat) }
func (s *Sample) Errors() int { s.mu.Lock(); defer s.mu.Unlock(); return s.errs }
func (s *Sample) FirstError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first
}

// P is the q-quantile (0..1) by nearest rank; 0 when empty.
func (s *Sample) P(q float64) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.lat) == 0 {
		return 0
	}
	if !s.sorted {
		slices.Sort(s.lat)
		s.sorted = true
	}
	i := int(math.Ceil(q*float64(len(s.lat)))) - 1
	return s.lat[max(0, min(i, len(s.lat)-1))]
}

func (s *Sample) Mean() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.lat) == 0 {
		return 0
	}
	var t time.Duration
	for _, d := range s.lat {
		t += d
	}
	return t / time.Duration(len(s.lat))
}

// ms formats a duration as milliseconds with one decimal.
func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

// ratio formats a/b, or "-" when b is zero.
func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// verdict is the report's word for a target check.
func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}
