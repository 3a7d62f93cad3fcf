package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// side is one way of running trivial jobs end to end.
type side struct {
	name string
	run  func(context.Context) (string, error)
}

func (s side) fire(ctx context.Context) error { _, err := s.run(ctx); return err }

// sideTotals accumulates a side's blocks.
type sideTotals struct {
	lat     Sample
	elapsed time.Duration
	blocks  []float64 // jobs/s of each block
}

// median is the median of the blocks' jobs per second.
func (t *sideTotals) median() float64 {
	if len(t.blocks) == 0 {
		return 0
	}
	b := slices.Clone(t.blocks)
	slices.Sort(b)
	n := len(b)
	if n%2 == 1 {
		return b[n/2]
	}
	return (b[n/2-1] + b[n/2]) / 2
}

func (t *sideTotals) perSecond() float64 {
	if t.elapsed == 0 {
		return 0
	}
	return float64(t.lat.N()) / t.elapsed.Seconds()
}

// trivialScenario runs many work_ms 0 sum jobs with a fixed number of
// concurrent clients, each submitting a job and waiting for its result,
// through the API and through the bare SDK in alternating blocks. It also
// records the footprint of the main stack's processes for scenario 6.
func trivialScenario(ctx context.Context, b *Bench, sec *Section) error {
	m := b.Main
	api := newAPIJobs(m.APIURL)
	sides := []side{
		{pathAPI, api.run},
		{pathSDK, (&sdkJobs{c: m.client, taskQueue: m.TaskQueue}).run},
		{pathSDKDocket, (&sdkJobs{c: m.client, taskQueue: m.TaskQueue, docketOptions: true}).run},
	}
	roles := mainRoles(m)
	b.Foot.init(roles)
	b.Foot.idle = rssOfRoles(roles)

	// Warm up every path untimed.
	for _, s := range sides {
		if r := closedLoop(ctx, b.Set.TrivialConc, b.Set.TrivialConc, s.fire); r.Lat.Errors() > 0 {
			return fmt.Errorf("warm-up %s: %w", s.name, r.Lat.FirstError())
		}
	}

	totals := map[string]*sideTotals{}
	for _, s := range sides {
		totals[s.name] = &sideTotals{}
	}
	for blk := range b.Set.TrivialBlocks {
		order := slices.Clone(sides)
		if blk%2 == 1 {
			slices.Reverse(order)
		}
		for _, s := range order {
			before := snapshotCPU(roles.pids()...)
			sampler := sampleRSS(250*time.Millisecond, roles.pids()...)
			r := closedLoop(ctx, b.Set.TrivialConc, b.Set.TrivialJobs, s.fire)
			peak, mean := sampler.Stop()
			used := snapshotCPU(roles.pids()...).since(before)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			t := totals[s.name]
			t.lat.Merge(r.Lat)
			t.elapsed += r.Elapsed
			t.blocks = append(t.blocks, r.PerSecond())
			b.Foot.addLoad(s.name, r.Lat.N(), used, peak, mean)
			fmt.Printf("   %-10s block %d: %4d jobs, %6.1f jobs/s, p50 %s ms, errors %d\n",
				s.name, blk+1, r.Lat.N(), r.PerSecond(), ms(r.Lat.P(0.5)), r.Lat.Errors())
		}
	}
	b.Foot.idleAfter = rssOfRoles(roles)
	profileBlock(ctx, b, sides[0], roles)

	apiT, sdk := totals[sides[0].name], totals[sides[1].name]
	sec.Para("%d blocks of %d jobs per path, in turn A B C C B A …, each with %d concurrent clients that submit a job and wait for its result "+
		"(API: `POST /jobs` then `GET /jobs/{id}/results?wait=30s`; SDK: `ExecuteWorkflow` then `Get`), against the main server, worker and API. "+
		"Latency is submit to result. *%s* starts the workflow with the options `job.Client.Start` uses (24 h execution timeout, "+
		"id policies, the `DocketStatus` search attribute, the memo): what Docket's job model costs Temporal, without the API. "+
		"Ratios compare the median block of each path, so that one block slowed by the shared machine does not decide them.",
		b.Set.TrivialBlocks, b.Set.TrivialJobs, b.Set.TrivialConc, pathSDKDocket)
	t := &Table{Header: []string{"path", "jobs", "errors", "jobs/s (all blocks)", "jobs/s per block", "median block jobs/s", "p50 ms", "p99 ms", "vs SDK", "target ≥ 0.9×"}}
	for _, s := range sides {
		x := totals[s.name]
		target := ""
		if x == apiT {
			target = b.target("2", "API trivial-job throughput ≥ 0.9 × bare SDK (median blocks)",
				fmt.Sprintf("%.1f vs %.1f jobs/s (%s×; SDK with Docket's start options %s×)", apiT.median(), sdk.median(),
					ratio(apiT.median(), sdk.median()), ratio(totals[pathSDKDocket].median(), sdk.median())),
				apiT.median() >= 0.9*sdk.median())
		}
		t.Add(s.name, fmt.Sprint(x.lat.N()), fmt.Sprint(x.lat.Errors()), fmt.Sprintf("%.1f", x.perSecond()), fmtRates(x.blocks),
			fmt.Sprintf("%.1f", x.median()), ms(x.lat.P(0.5)), ms(x.lat.P(0.99)), ratio(x.median(), sdk.median()), target)
	}
	sec.Table(t)
	for _, s := range sides {
		if err := totals[s.name].lat.FirstError(); err != nil {
			sec.Para("%d errors on %s; the first: `%v`", totals[s.name].lat.Errors(), s.name, strings.TrimSpace(err.Error()))
			if d := diagnose(ctx, m.client, err); d != "" {
				sec.Para("Its history: %s", d)
			}
		}
	}
	return nil
}

func fmtRates(rs []float64) string {
	s := ""
	for i, r := range rs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%.0f", r)
	}
	return s
}
