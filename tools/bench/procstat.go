package bench

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat; it
// is 100 on every Linux architecture Go supports.
const clockTick = 100

// rssKB is VmRSS of pid in KiB, from /proc/PID/status.
func rssKB(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// cpuTime is utime+stime of pid, from /proc/PID/stat.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after ")" are fixed.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("bad stat for pid %d", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("short stat for pid %d", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad stat times for pid %d", pid)
	}
	return time.Duration(ut+st) * time.Second / clockTick, nil
}

// cpuSnapshot is the CPU time of several processes at one moment.
type cpuSnapshot map[int]time.Duration

func snapshotCPU(pids ...int) cpuSnapshot {
	s := cpuSnapshot{}
	for _, p := range pids {
		if d, err := cpuTime(p); err == nil {
			s[p] = d
		}
	}
	return s
}

// since is the CPU time each process used from before to s.
func (s cpuSnapshot) since(before cpuSnapshot) cpuSnapshot {
	d := cpuSnapshot{}
	for p, t := range s {
		d[p] = t - before[p]
	}
	return d
}

// rssSampler polls VmRSS of some processes until stopped.
type rssSampler struct {
	mu   sync.Mutex
	peak map[int]int64
	sum  map[int]int64
	n    int
	stop chan struct{}
	done chan struct{}
}

func sampleRSS(every time.Duration, pids ...int) *rssSampler {
	r := &rssSampler{peak: map[int]int64{}, sum: map[int]int64{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			r.mu.Lock()
			r.n++
			for _, p := range pids {
				if kb, err := rssKB(p); err == nil {
					r.sum[p] += kb
					r.peak[p] = max(r.peak[p], kb)
				}
			}
			r.mu.Unlock()
			select {
			case <-r.stop:
				return
			case <-t.C:
			}
		}
	}()
	return r
}

// Stop ends sampling and returns peak and mean RSS (KiB) per pid.
func (r *rssSampler) Stop() (peak, mean map[int]int64) {
	close(r.stop)
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	mean = map[int]int64{}
	for p, s := range r.sum {
		mean[p] = s / int64(r.n)
	}
	return r.peak, mean
}

func mib(kb int64) string { return fmt.Sprintf("%.1f", float64(kb)/1024) }
