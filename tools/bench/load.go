package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// requestTimeout bounds every single request of a load run.
const requestTimeout = 60 * time.Second

// openResult is one open-loop block: requests are due at fixed intervals
// whether or not earlier ones have been answered, and latency is measured
// from when a request was due (so a stalled sender cannot hide queueing).
type openResult struct {
	Rate     float64
	Lat      *Sample
	Sent     int
	Dropped  int // not sent: maxInFlight requests were outstanding
	Elapsed  time.Duration
	Achieved float64 // answered requests per second over Elapsed
	ok       bool    // Sustained, for every block merged into this one
	attempt  int     // which attempt at this rate the figures are from
}

// Sustained: every request answered without error and none dropped, the
// block finished within maxP99 of its last due time, and p99 stayed under
// maxP99 (an overloaded open loop grows its queue and its p99 without
// bound).
func (r openResult) Sustained(dur, maxP99 time.Duration) bool {
	return r.Lat.Errors() == 0 && r.Dropped == 0 && r.Elapsed <= dur+maxP99 && r.Lat.P(0.99) <= maxP99
}

func openLoop(ctx context.Context, rate float64, dur time.Duration, maxInFlight int64, fire func(context.Context) error) openResult {
	res := openResult{Rate: rate, Lat: &Sample{}}
	interval := time.Duration(float64(time.Second) / rate)
	n := int(rate * dur.Seconds())
	var wg sync.WaitGroup
	var inFlight atomic.Int64
	start := time.Now()
	for i := 0; i < n && ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
		if inFlight.Load() >= maxInFlight {
			res.Dropped++
			continue
		}
		res.Sent++
		inFlight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer inFlight.Add(-1)
			rctx, cancel := context.WithTimeout(ctx, requestTimeout)
			defer cancel()
			if err := fire(rctx); err != nil {
				res.Lat.Fail(err)
				return
			}
			res.Lat.Add(time.Since(due))
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Achieved = float64(res.Lat.N()) / res.Elapsed.Seconds()
	return res
}

// closedResult is one closed-loop block: conc clients each run a job and
// start the next when it is done, until total jobs have run.
type closedResult struct {
	Lat     *Sample
	Elapsed time.Duration
}

func (r closedResult) PerSecond() float64 { return float64(r.Lat.N()) / r.Elapsed.Seconds() }

func closedLoop(ctx context.Context, conc, total int, fire func(context.Context) error) closedResult {
	res := closedResult{Lat: &Sample{}}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(total) && ctx.Err() == nil {
				rctx, cancel := context.WithTimeout(ctx, requestTimeout)
				t := time.Now()
				err := fire(rctx)
				cancel()
				if err != nil {
					res.Lat.Fail(err)
					continue
				}
				res.Lat.Add(time.Since(t))
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res
}
