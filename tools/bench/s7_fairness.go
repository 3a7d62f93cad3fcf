package bench

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// fairRow is one stack's figures in scenario 7.
type fairRow struct {
	ts                  *tenantStack
	idle, behind        Sample // tenant b's submit to result, alone and behind a's backlog
	idleQ, behindQ      Sample // … of which its tasks waited to be dispatched
	drained, drainedPre []float64
	submit              []time.Duration
}

// fairTargetFactor bounds tenant b's p99 behind a's backlog, as a multiple
// of its idle p99, with fairness on.
const fairTargetFactor = 3

// fairnessMet is scenario 7's target: behind's p99 within fairTargetFactor
// of idle's.
func fairnessMet(behindP99, idleP99 time.Duration) bool {
	return idleP99 > 0 && behindP99 <= fairTargetFactor*idleP99
}

// fairnessScenario: on a stack with matching.enableFairness and on one
// without, each with one worker, tenant a submits a backlog of trivial
// jobs at once and tenant b then submits a few; b's latency is compared
// with b's alone on the idle stack. The stacks take turns, round by round.
func fairnessScenario(ctx context.Context, b *Bench, sec *Section) error {
	stacks, err := b.tenantStacks(ctx)
	if err != nil {
		return err
	}
	set := b.Set
	var rows []*fairRow
	for _, ts := range stacks {
		rows = append(rows, &fairRow{ts: ts})
	}
	for r := range set.FairRounds {
		order := slices.Clone(rows)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, x := range order {
			idle, behind, err := x.round(ctx, set)
			if err != nil {
				return fmt.Errorf("%s, round %d: %w", x.ts.label, r+1, err)
			}
			n := len(x.drained) - 1
			fmt.Printf("   %-12s round %d: b alone p99 %s ms, behind %d of a's: p50 %s p99 %s ms, a drained %s (%s when b submitted), backlog submitted in %s\n",
				x.ts.label, r+1, ms(idle.P(0.99)), set.FairA, ms(behind.P(0.5)), ms(behind.P(0.99)),
				pct(x.drained[n]), pct(x.drainedPre[n]), x.submit[n].Round(time.Millisecond))
		}
	}
	fairnessReport(b, sec, set, rows)
	return nil
}

// fairnessReport writes scenario 7's section from its rows (fairness on,
// then off) and records its target.
func fairnessReport(b *Bench, sec *Section, set Settings, rows []*fairRow) {
	sec.Para("Two stacks in the same run, each a dev server with make run's storage and dynamic config, search attributes DocketStatus and DocketTenant, "+
		"ONE bin/worker (so that jobs contend for it) and a bin/docket-api with a keys file (`DOCKET_API_KEYS_FILE`) holding a key for tenant `a` and one for tenant `b`; "+
		"one server adds `matching.enableFairness=true` (Temporal 1.29.1's fairness, off by default; it implies the new matcher), the other does not. "+
		"Every job's fairness key is its tenant (`job.Client.Start`). "+
		"In each round, on each stack in turn (A B, then B A, …): tenant `b` runs %d trivial jobs at once on the idle stack (**alone**); then tenant `a` submits %d trivial jobs, "+
		"%d requests at a time, as fast as the API accepts them, and once all are accepted tenant `b` submits %d at once (**behind a's backlog**), each waiting for its result with "+
		"`GET /jobs/{id}/results?wait=30s`. Latency is b's submit to result. **a drained** is the share of a's jobs that had closed when b's last job closed (close events of the histories, "+
		"server clock); the share already closed when b submitted is beside it, so that a backlog mostly drained before b arrived can be told apart. "+
		"**Queued** is the time b's tasks waited between scheduled and started (every workflow and activity task; the transfer queue, then matching, where fairness orders tasks). "+
		"Rounds: %d; p99 of %d jobs per stack and setting is close to their maximum.",
		set.FairB, set.FairA, set.FairConc, set.FairB, set.FairRounds, set.FairB*set.FairRounds)
	t := &Table{Header: []string{"server", "b alone p50 ms", "b alone p99 ms", "b behind a p50 ms", "b behind a p99 ms", "p99 vs alone",
		"b queued p50 ms (alone / behind)", "a drained when b finished (per round)", "median", "a closed when b submitted (median)", "backlog submitted in (median)",
		fmt.Sprintf("target with fairness: p99 ≤ %d× alone", fairTargetFactor)}}
	byLabel := map[bool]*fairRow{}
	for _, x := range rows {
		byLabel[x.ts.fair] = x
	}
	for _, x := range rows {
		target := ""
		if x.ts.fair {
			off := byLabel[false]
			target = b.target("7", fmt.Sprintf("with fairness, tenant b's p99 behind tenant a's backlog of %d ≤ %d × b's p99 alone", set.FairA, fairTargetFactor),
				fmt.Sprintf("%s ms vs %s ms alone (%s×); without fairness %s ms (%s×), a's backlog %s drained when b finished with fairness, %s without",
					ms(x.behind.P(0.99)), ms(x.idle.P(0.99)), ratio(float64(x.behind.P(0.99)), float64(x.idle.P(0.99))),
					ms(off.behind.P(0.99)), ratio(float64(off.behind.P(0.99)), float64(off.idle.P(0.99))), pct(median(x.drained)), pct(median(off.drained))),
				fairnessMet(x.behind.P(0.99), x.idle.P(0.99)))
		}
		var submits []float64
		for _, d := range x.submit {
			submits = append(submits, d.Seconds())
		}
		t.Add(x.ts.label, ms(x.idle.P(0.5)), ms(x.idle.P(0.99)), ms(x.behind.P(0.5)), ms(x.behind.P(0.99)),
			ratio(float64(x.behind.P(0.99)), float64(x.idle.P(0.99))),
			ms(x.idleQ.P(0.5))+" / "+ms(x.behindQ.P(0.5)), fmtPcts(x.drained), pct(median(x.drained)), pct(median(x.drainedPre)),
			fmt.Sprintf("%.2f s", median(submits)), target)
	}
	sec.Table(t)
	on, off := byLabel[true], byLabel[false]
	sec.Para("Without fairness, tenant b's last job finished when %s of a's backlog had (median of rounds); with fairness, when %s had. "+
		"b's p99 behind the backlog was %s× its p99 alone with fairness and %s× without; the target is at most %d× with fairness.",
		pct(median(off.drained)), pct(median(on.drained)),
		ratio(float64(on.behind.P(0.99)), float64(on.idle.P(0.99))), ratio(float64(off.behind.P(0.99)), float64(off.idle.P(0.99))), fairTargetFactor)
}

// round runs b alone, then b behind a's backlog, on x's stack, and
// returns the round's own latencies (also merged into x).
func (x *fairRow) round(ctx context.Context, set Settings) (idle, behind *Sample, err error) {
	st := x.ts
	lat, ids, err := runBurst(ctx, st.as[tenantB], trivialBody, set.FairB)
	if err != nil {
		return nil, nil, fmt.Errorf("b alone: %w", err)
	}
	idle = &Sample{}
	addAll(idle, lat)
	times, err := finishedTimes(ctx, st.st.client, ids, 8)
	if err != nil {
		return nil, nil, fmt.Errorf("b alone: %w", err)
	}
	for _, t := range times {
		x.idleQ.Add(t.queued)
	}
	r, err := behindBacklog(ctx, st.st.client, st.as[tenantA], trivialBody, set.FairA, set.FairConc, st.as[tenantB], trivialBody, set.FairB)
	if err != nil {
		return nil, nil, err
	}
	behind = &Sample{}
	addAll(behind, r.lat)
	x.idle.Merge(idle)
	x.behind.Merge(behind)
	addAll(&x.behindQ, r.queued)
	x.drained = append(x.drained, r.drained)
	x.drainedPre = append(x.drainedPre, r.drainedPre)
	x.submit = append(x.submit, r.submit)
	return idle, behind, nil
}
