package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// footprint is what scenario 2 records of the main stack's processes.
type footprint struct {
	roles     roleSet
	idle      map[string]int64 // VmRSS KiB before any load
	idleAfter map[string]int64 // VmRSS KiB after scenario 2
	paths     []string
	jobs      map[string]int                      // path → jobs run
	cpu       map[string]map[string]time.Duration // path → role → CPU
	peak      map[string]map[string]int64         // path → role → peak VmRSS KiB
	mean      map[string]map[string]int64         // path → role → mean VmRSS KiB (of blocks' means)
	blocks    map[string]int
}

func (f *footprint) init(r roleSet) {
	f.roles = r
	f.jobs, f.cpu, f.peak, f.mean, f.blocks = map[string]int{}, map[string]map[string]time.Duration{},
		map[string]map[string]int64{}, map[string]map[string]int64{}, map[string]int{}
}

func (f *footprint) addLoad(path string, jobs int, used cpuSnapshot, peak, mean map[int]int64) {
	if _, ok := f.jobs[path]; !ok {
		f.paths = append(f.paths, path)
		f.cpu[path], f.peak[path], f.mean[path] = map[string]time.Duration{}, map[string]int64{}, map[string]int64{}
	}
	f.jobs[path] += jobs
	f.blocks[path]++
	n := int64(f.blocks[path])
	for _, role := range f.roles.names {
		pid := f.roles.pid[role]
		f.cpu[path][role] += used[pid]
		f.peak[path][role] = max(f.peak[path][role], peak[pid])
		// Running mean of the blocks' means.
		f.mean[path][role] += (mean[pid] - f.mean[path][role]) / n
	}
}

// footprintScenario reports the resident memory and CPU time scenario 2
// measured: VmRSS from /proc/PID/status, utime+stime from /proc/PID/stat.
func footprintScenario(_ context.Context, b *Bench, sec *Section) error {
	f := &b.Foot
	if len(f.paths) == 0 {
		return errors.New("scenario 6 needs scenario 2's load: run it with -scenarios 2,6")
	}
	sec.Para("Resident memory (VmRSS) of the main stack's processes idle (after start-up and a warm-up job, before any load) and while scenario 2 ran, sampled every 250 ms; " +
		"CPU time (utime+stime) used during scenario 2's blocks, per 1,000 trivial jobs. The dev server holds frontend, history, matching and the SQLite store in one process.")
	mt := &Table{Header: []string{"process", "idle RSS MiB", "idle after load MiB"}}
	for _, p := range f.paths {
		mt.Header = append(mt.Header, p+" load: mean / peak RSS MiB")
	}
	for _, role := range f.roles.names {
		row := []string{role, mib(f.idle[role]), mib(f.idleAfter[role])}
		for _, p := range f.paths {
			row = append(row, mib(f.mean[p][role])+" / "+mib(f.peak[p][role]))
		}
		mt.Add(row...)
	}
	sec.Table(mt)

	ct := &Table{Header: []string{"process"}}
	for _, p := range f.paths {
		ct.Header = append(ct.Header, fmt.Sprintf("%s: CPU s per 1,000 jobs (%d jobs)", p, f.jobs[p]))
	}
	total := map[string]time.Duration{}
	for _, role := range f.roles.names {
		row := []string{role}
		for _, p := range f.paths {
			row = append(row, cpuPer1000(f.cpu[p][role], f.jobs[p]))
			total[p] += f.cpu[p][role]
		}
		ct.Add(row...)
	}
	row := []string{"**all**"}
	for _, p := range f.paths {
		row = append(row, "**"+cpuPer1000(total[p], f.jobs[p])+"**")
	}
	ct.Add(row...)
	sec.Table(ct)
	return nil
}

func cpuPer1000(d time.Duration, jobs int) string {
	if jobs == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", d.Seconds()*1000/float64(jobs))
}

// roleSet names the processes whose footprint is measured.
type roleSet struct {
	names []string
	pid   map[string]int
}

func (r roleSet) pids() []int {
	var ps []int
	for _, n := range r.names {
		ps = append(ps, r.pid[n])
	}
	return ps
}

func mainRoles(m *Stack) roleSet {
	return roleSet{
		names: []string{"API (bin/docket-api)", "worker (bin/worker)", "Temporal dev server", "load generator + SDK client (this program)"},
		pid: map[string]int{
			"API (bin/docket-api)":                       m.API.PID(),
			"worker (bin/worker)":                        m.Worker.PID(),
			"Temporal dev server":                        m.PID(),
			"load generator + SDK client (this program)": os.Getpid(),
		},
	}
}

func rssOfRoles(r roleSet) map[string]int64 {
	out := map[string]int64{}
	for _, n := range r.names {
		if kb, err := rssKB(r.pid[n]); err == nil {
			out[n] = kb
		}
	}
	return out
}
