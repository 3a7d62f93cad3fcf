package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// prioBacklog is the priority of scenario 8's backlog (job.PriorityDefault).
const prioBacklog = 3

// prioRow is one probe priority's figures in scenario 8.
type prioRow struct {
	priority int
	lat      []time.Duration // the probe's submit to result, per round
	queued   []time.Duration // its tasks' time waiting to be dispatched
	drained  []float64       // share of the backlog closed when it closed
	pre      []float64       // … when it was submitted
}

// priorityScenario: on the stack with fairness on (priority keys need the
// new matcher), tenant a submits a backlog of trivial jobs at priority 3,
// then one more, at priority 1 or at priority 3, taking turns round by
// round (1 3 3 1 …).
func priorityScenario(ctx context.Context, b *Bench, sec *Section) error {
	stacks, err := b.tenantStacks(ctx)
	if err != nil {
		return err
	}
	var on *tenantStack
	for _, ts := range stacks {
		if ts.fair {
			on = ts
		}
	}
	set := b.Set
	rows := []*prioRow{{priority: 1}, {priority: prioBacklog}}
	a := on.as[tenantA]
	for r := range set.FairRounds {
		order := slices.Clone(rows)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, x := range order {
			res, err := behindBacklog(ctx, on.st.client, a, trivialBodyAt(prioBacklog), set.FairA, set.FairConc, a, trivialBodyAt(x.priority), 1)
			if err != nil {
				return fmt.Errorf("probe at priority %d, round %d: %w", x.priority, r+1, err)
			}
			x.lat = append(x.lat, res.lat[0])
			x.queued = append(x.queued, res.queued[0])
			x.drained = append(x.drained, res.drained)
			x.pre = append(x.pre, res.drainedPre)
			fmt.Printf("   priority %d round %d: %s ms behind %d at priority %d, backlog drained %s (%s when submitted)\n",
				x.priority, r+1, ms(res.lat[0]), set.FairA, prioBacklog, pct(res.drained), pct(res.drainedPre))
		}
	}
	priorityReport(sec, set, rows)
	return nil
}

// priorityReport writes scenario 8's section from its rows (the probe at
// priority 1, then at the backlog's).
func priorityReport(sec *Section, set Settings, rows []*prioRow) {
	sec.Para("On scenario 7's stack with fairness on (one worker; `matching.enableFairness=true` implies the new matcher, which priority keys need; "+
		"with the classic matcher they are ignored): tenant `a` submits %d trivial jobs at `\"priority\": %d` (the default), %d requests at a time, "+
		"and once all are accepted one more trivial job, the **probe**, at priority 1 (runs first) or %d (the same as the backlog), "+
		"which the client then waits for with `GET /jobs/{id}/results?wait=30s`. Probe priorities take turns (1 %[4]d %[4]d 1 …), %[5]d rounds each. "+
		"**Drained** is the share of the backlog closed when the probe closed; **queued** is the time the probe's tasks waited between scheduled and started.",
		set.FairA, prioBacklog, set.FairConc, prioBacklog, set.FairRounds)
	t := &Table{Header: []string{"probe priority", "probe submit to result ms (per round)", "median ms", "probe queued ms (median)",
		"backlog drained when the probe finished (per round)", "median", "backlog closed when it was submitted (median)"}}
	for _, x := range rows {
		t.Add(fmt.Sprint(x.priority), fmtMs(x.lat), ms(medianDur(x.lat)), ms(medianDur(x.queued)),
			fmtPcts(x.drained), pct(median(x.drained)), pct(median(x.pre)))
	}
	sec.Table(t)
	hi, same := rows[0], rows[1]
	sec.Para("At priority 1 the probe took %s× the time it took at priority %d (median %s against %s ms) and finished when %s of the backlog had, against %s.",
		ratio(float64(medianDur(hi.lat)), float64(medianDur(same.lat))), prioBacklog, ms(medianDur(hi.lat)), ms(medianDur(same.lat)),
		pct(median(hi.drained)), pct(median(same.drained)))
}

// medianDur is the median of ds (0 when empty).
func medianDur(ds []time.Duration) time.Duration {
	fs := make([]float64, len(ds))
	for i, d := range ds {
		fs[i] = float64(d)
	}
	return time.Duration(median(fs))
}

// fmtMs formats durations as a list of milliseconds.
func fmtMs(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = ms(d)
	}
	return strings.Join(s, ", ")
}
