package bench

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"
)

// apiSide is one API whose latency floor and trivial-job throughput a
// scenario compares with another's: with a keys file or without (9), with
// encryption or without (10).
type apiSide struct {
	name   string
	api    *apiJobs
	floor  Sample // sequential jobs, submit to result
	post   Sample // … of which POST /jobs
	totals sideTotals
	// roles are the processes whose CPU time the throughput blocks add up
	// in cpu (role → pid); none when nil.
	roles map[string]int
	cpu   map[string]time.Duration
}

// withinGap says whether a/b is within gap of 1.
func withinGap(a, b, gap float64) bool {
	return b > 0 && math.Abs(a/b-1) <= gap
}

// abba is sides in the order of block i of an A B B A … sequence.
func abba[T any](sides []T, i int) []T {
	o := slices.Clone(sides)
	if i%2 == 1 {
		slices.Reverse(o)
	}
	return o
}

// compareAPIs measures sides in turn: a warm-up, then 2×floorRounds blocks
// of set.FloorBlock sequential jobs per side (the latency floor), then
// set.TrivialBlocks blocks of set.TrivialJobs jobs per side with
// set.TrivialConc concurrent clients (throughput), each sequence A B B A ….
func compareAPIs(ctx context.Context, set Settings, floorRounds int, sides []*apiSide) error {
	for _, x := range sides {
		if r := closedLoop(ctx, set.TrivialConc, set.TrivialConc, side{x.name, x.api.run}.fire); r.Lat.Errors() > 0 {
			return fmt.Errorf("warm-up %s: %w", x.name, r.Lat.FirstError())
		}
	}
	for r := range floorRounds * 2 {
		for _, x := range abba(sides, r) {
			if err := x.floorBlock(ctx, set.FloorBlock, set.FloorSkip); err != nil {
				return fmt.Errorf("floor, %s: %w", x.name, err)
			}
		}
	}
	for blk := range set.TrivialBlocks {
		for _, x := range abba(sides, blk) {
			pids := make([]int, 0, len(x.roles))
			for _, p := range x.roles {
				pids = append(pids, p)
			}
			before := snapshotCPU(pids...)
			r := closedLoop(ctx, set.TrivialConc, set.TrivialJobs, side{x.name, x.api.run}.fire)
			used := snapshotCPU(pids...).since(before)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if x.cpu == nil {
				x.cpu = map[string]time.Duration{}
			}
			for role, p := range x.roles {
				x.cpu[role] += used[p]
			}
			x.totals.lat.Merge(r.Lat)
			x.totals.elapsed += r.Elapsed
			x.totals.blocks = append(x.totals.blocks, r.PerSecond())
			fmt.Printf("   %-24s block %d: %4d jobs, %6.1f jobs/s, p50 %s ms, errors %d\n",
				x.name, blk+1, r.Lat.N(), r.PerSecond(), ms(r.Lat.P(0.5)), r.Lat.Errors())
		}
	}
	return nil
}

// cpuPerJob is the CPU time of role per throughput job, in ms ("-" when
// none was counted).
func (x *apiSide) cpuPerJob(role string) string {
	n := x.totals.lat.N()
	if n == 0 || x.roles == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(x.cpu[role])/float64(n)/float64(time.Millisecond))
}

// floorBlock runs n trivial jobs back to back; the first skip are not counted.
func (x *apiSide) floorBlock(ctx context.Context, n, skip int) error {
	for j := range n {
		t0 := time.Now()
		id, _, err := x.api.submit(ctx, trivialBody)
		if err != nil {
			return err
		}
		t1 := time.Now()
		r, err := x.api.result(ctx, id)
		if err != nil {
			return err
		}
		if r.Sum != trivialSum {
			return fmt.Errorf("job %s: sum %d, want %d", id, r.Sum, trivialSum)
		}
		if j >= skip {
			x.post.Add(t1.Sub(t0))
			x.floor.Add(time.Since(t0))
		}
	}
	return nil
}
