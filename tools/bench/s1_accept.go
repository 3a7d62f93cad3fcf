package bench

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// unpolledQueue is the task queue of scenario 1: no worker polls it.
const unpolledQueue = "bench-unpolled"

type acceptSide struct {
	name string
	fire func(context.Context) error
	// results by rate
	res map[float64]openResult
	// ramp state
	lastOK, firstFail float64
}

// merge adds block r (sustained or not: ok) to the result of an attempt.
func merge(into map[*acceptSide]openResult, s *acceptSide, r openResult, ok bool) {
	prev, seen := into[s]
	if !seen {
		r.ok = ok
		into[s] = r
		return
	}
	prev.Lat.Merge(r.Lat)
	prev.Sent += r.Sent
	prev.Dropped += r.Dropped
	prev.Elapsed += r.Elapsed
	prev.Achieved = float64(prev.Lat.N()) / prev.Elapsed.Seconds()
	prev.ok = prev.ok && ok
	into[s] = prev
}

// finish updates the ramp state once every block at rate has run.
func (s *acceptSide) finish(rate float64) {
	r := s.res[rate]
	if r.ok && rate > s.lastOK {
		s.lastOK = rate
	}
	if !r.ok && (s.firstFail == 0 || rate < s.firstFail) {
		s.firstFail = rate
	}
	fmt.Printf("   %-10s %6.0f/s: achieved %6.1f/s, p50 %6s ms, p99 %7s ms, errors %d, held back %d, sustained %v (attempt %d)\n",
		s.name, rate, r.Achieved, ms(r.Lat.P(0.5)), ms(r.Lat.P(0.99)), r.Lat.Errors(), r.Dropped, r.ok, r.attempt)
}

// acceptScenario measures starting jobs at fixed open-loop rates through
// POST /jobs and through client.ExecuteWorkflow, on a task queue that no
// worker polls, so that only the accept path is measured.
func acceptScenario(ctx context.Context, b *Bench, sec *Section) error {
	st, err := b.Env.StartStack(ctx, b.Main.Server, unpolledQueue, false)
	if err != nil {
		return err
	}
	defer st.Stop()
	api := newAPIJobs(st.APIURL)
	sdk := &sdkJobs{c: b.Main.client, taskQueue: unpolledQueue}
	sdkDocket := &sdkJobs{c: b.Main.client, taskQueue: unpolledQueue, docketOptions: true}
	sides := []*acceptSide{
		{name: "Docket API", fire: func(ctx context.Context) error { _, _, err := api.submit(ctx, trivialBody); return err }},
		{name: "direct SDK", fire: func(ctx context.Context) error { _, err := sdk.start(ctx); return err }},
		// What Docket's job model (timeout, search attribute, memo) costs
		// the server, without the API process.
		{name: pathSDKDocket, fire: func(ctx context.Context) error { _, err := sdkDocket.start(ctx); return err }},
	}
	for _, s := range sides {
		s.res = map[float64]openResult{}
		if r := openLoop(ctx, 50, time.Second, 100, s.fire); r.Lat.Errors() > 0 {
			return fmt.Errorf("warm-up %s: %w", s.name, r.Lat.FirstError())
		}
	}
	// attempt runs the sides at rate in AcceptSplit short blocks each,
	// alternating A B B A … so that a burst of outside load hits both alike.
	turn := 0
	sub := b.Set.AcceptStep / time.Duration(b.Set.AcceptSplit)
	attempt := func(rate float64, playing []*acceptSide) map[*acceptSide]openResult {
		got := map[*acceptSide]openResult{}
		for range b.Set.AcceptSplit {
			if turn%2 == 1 {
				slices.Reverse(playing)
			}
			turn++
			for _, s := range playing {
				if ctx.Err() != nil {
					return got
				}
				r := openLoop(ctx, rate, sub, b.Set.AcceptInFlite, s.fire)
				merge(got, s, r, r.Sustained(sub, b.Set.AcceptMaxP99))
				// Let the server drain what the block left before the next one.
				time.Sleep(b.Set.AcceptPause)
			}
		}
		return got
	}
	// step runs the sides in (every side, or those still ramping) at rate. A
	// side that fails gets a second attempt, so that one burst of outside
	// load does not end its ramp; the better attempt counts.
	step := func(rate float64, in func(*acceptSide) bool) {
		var playing []*acceptSide
		for _, s := range sides {
			if in(s) {
				playing = append(playing, s)
			}
		}
		first := attempt(rate, playing)
		var failed []*acceptSide
		for _, s := range playing {
			r := first[s]
			r.attempt = 1
			s.res[rate] = r
			if !r.ok {
				failed = append(failed, s)
			}
		}
		if len(failed) > 0 {
			second := attempt(rate, failed)
			for _, s := range failed {
				if r, ok := second[s]; ok && r.ok {
					r.attempt = 2
					s.res[rate] = r
				}
			}
		}
		for _, s := range playing {
			s.finish(rate)
		}
	}
	all := func(*acceptSide) bool { return true }
	for _, rate := range b.Set.AcceptRates {
		step(rate, all)
	}
	for _, rate := range b.Set.AcceptRamp {
		step(rate, func(s *acceptSide) bool { return s.firstFail == 0 })
	}
	for range b.Set.AcceptBisect {
		// Each side bisects its own interval; sides whose midpoints differ
		// run one after the other.
		for _, s := range sides {
			if s.firstFail > 0 && s.firstFail-s.lastOK > 1 {
				mid := float64(int((s.lastOK + s.firstFail) / 2))
				step(mid, func(x *acceptSide) bool { return x == s })
			}
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}

	apiS, sdkS, optS := sides[0], sides[1], sides[2]
	sec.Para("Jobs are started at fixed open-loop rates for %s per rate and side, in %d blocks alternating A B B A …: `POST /jobs` through bin/docket-api versus `client.ExecuteWorkflow` "+
		"(id and task queue only) from this program, on the main server; *%s* is `client.ExecuteWorkflow` with the options `job.Client.Start` sets "+
		"(24 h execution timeout, id policies, the `DocketStatus` search attribute, the memo), which separates what Docket's job model costs the server from what the API process adds. "+
		"All start the `sum` workflow on task queue "+
		"`%s`, which **no worker polls**: the workflows stay queued, so the figures are the accept path alone, without the worker and the server's "+
		"workflow processing competing for the two cores (scenario 2 measures that). Latency runs from when a request was due, so queueing in the "+
		"sender counts. A block is *sustained* when every request succeeded, none was held back (at most %d outstanding), the block finished and its p99 stayed "+
		"within %s of the due times, in every block of the rate. A rate a path fails is tried once more and the better attempt counts "+
		"(the *attempt* column).", b.Set.AcceptStep, b.Set.AcceptSplit, pathSDKDocket, unpolledQueue, b.Set.AcceptInFlite, b.Set.AcceptMaxP99)
	t := &Table{Header: []string{"rate /s", "API p50 ms", "API p99 ms", "API errors", "SDK p50 ms", "SDK p99 ms", "SDK errors",
		"SDK, Docket's options: p50 / p99 ms", "p99 API / SDK", "target API p99 ≤ 1.2×SDK p99 + 2 ms"}}
	for _, rate := range b.Set.AcceptRates {
		a, d, o := apiS.res[rate], sdkS.res[rate], optS.res[rate]
		limit := time.Duration(1.2*float64(d.Lat.P(0.99))) + 2*time.Millisecond
		// Latency targets hold at rates a path sustains; beyond that both
		// queues grow without bound and p99 measures the block length.
		check := "n/a: beyond what the SDK sustains"
		if d.ok {
			check = b.target("1", fmt.Sprintf("at %v/s: API p99 ≤ 1.2 × SDK p99 + 2 ms", rate), fmt.Sprintf("%s ms vs limit %s ms", ms(a.Lat.P(0.99)), ms(limit)),
				a.Lat.P(0.99) <= limit)
		}
		t.Add(fmt.Sprint(rate), ms(a.Lat.P(0.5)), ms(a.Lat.P(0.99)), errCell(a), ms(d.Lat.P(0.5)), ms(d.Lat.P(0.99)), errCell(d),
			ms(o.Lat.P(0.5))+" / "+ms(o.Lat.P(0.99)), ratio(float64(a.Lat.P(0.99)), float64(d.Lat.P(0.99))), check)
	}
	if r := sdkS.lastOK; r > 0 && !slices.Contains(b.Set.AcceptRates, r) {
		if a, ok := apiS.res[r]; ok {
			d := sdkS.res[r]
			limit := time.Duration(1.2*float64(d.Lat.P(0.99))) + 2*time.Millisecond
			b.target("1", fmt.Sprintf("at %v/s (the SDK's highest sustained): API p99 ≤ 1.2 × SDK p99 + 2 ms", r),
				fmt.Sprintf("%s ms vs limit %s ms", ms(a.Lat.P(0.99)), ms(limit)), a.Lat.P(0.99) <= limit)
		}
	}
	sec.Table(t)

	every := &Table{Header: []string{"path", "rate /s", "achieved /s", "p50 ms", "p99 ms", "errors", "held back", "sustained", "attempt"}}
	for _, s := range sides {
		rates := make([]float64, 0, len(s.res))
		for r := range s.res {
			rates = append(rates, r)
		}
		slices.Sort(rates)
		for _, r := range rates {
			x := s.res[r]
			every.Add(s.name, fmt.Sprint(r), fmt.Sprintf("%.1f", x.Achieved), ms(x.Lat.P(0.5)), ms(x.Lat.P(0.99)), fmt.Sprint(x.Lat.Errors()),
				fmt.Sprint(x.Dropped), fmt.Sprint(x.ok), fmt.Sprint(x.attempt))
		}
	}
	hs := &Table{Header: []string{"path", "highest sustained rate /s", "lowest failed rate /s", "vs SDK", "target ≥ 0.9×"}}
	for _, s := range sides {
		failed := "none tried"
		if s.firstFail > 0 {
			failed = fmt.Sprint(s.firstFail)
		}
		target := ""
		if s == apiS {
			target = b.target("1", "API highest sustained rate ≥ 0.9 × direct", fmt.Sprintf("%v/s vs %v/s", apiS.lastOK, sdkS.lastOK),
				apiS.lastOK >= 0.9*sdkS.lastOK)
			if sdkS.firstFail == 0 {
				target += " (SDK limit not reached: lower bound)"
			}
		}
		hs.Add(s.name, fmt.Sprint(s.lastOK), failed, ratio(s.lastOK, sdkS.lastOK), target)
	}
	sec.Para("Highest sustained rate (the rates tried, then %d bisection rounds between the last sustained and the first failed rate):", b.Set.AcceptBisect)
	sec.Table(hs)
	sec.Para("Every block:")
	sec.Table(every)
	for _, s := range sides {
		for _, r := range s.res {
			if err := r.Lat.FirstError(); err != nil {
				sec.Para("First %s error (at %v/s): `%v`", s.name, r.Rate, err)
				break
			}
		}
	}
	return nil
}

func errCell(r openResult) string {
	if r.Dropped > 0 {
		return fmt.Sprintf("%d (+%d held back)", r.Lat.Errors(), r.Dropped)
	}
	return fmt.Sprint(r.Lat.Errors())
}
