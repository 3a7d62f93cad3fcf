package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"
)

// The tenants of scenarios 7 and 8: a floods the queue, b arrives behind it.
const (
	tenantA = "a"
	tenantB = "b"
)

// tuningFair is make run's dynamic config, fairness on: the tenant is each
// job's fairness key (job.Client.Start), and fairness implies the new
// matcher that priority keys need too. tuningUnfair is the same with
// fairness off, as Temporal 1.29.1 ships.
var (
	tuningFair   = tuningFast
	tuningUnfair = Tuning{Name: "unfair", Values: unfair(tuningFast.Values)}
)

func unfair(values []string) []string {
	out := slices.Clone(values)
	for i, v := range out {
		if v == "matching.enableFairness=true" {
			out[i] = "matching.enableFairness=false"
		}
	}
	return out
}

// tenantStack is one of scenarios 7 and 8's stacks: a server, ONE worker,
// and an API with a keys file for tenants a and b.
type tenantStack struct {
	label string
	fair  bool
	st    *Stack
	as    map[string]*apiJobs // tenant → a client with its key
}

// tenantStacks are the stacks scenarios 7 and 8 share, started on first
// use: with fairness first, then without.
func (b *Bench) tenantStacks(ctx context.Context) ([]*tenantStack, error) {
	if b.Tenants != nil {
		return b.Tenants, nil
	}
	keys, err := newBenchKeys(tenantA, tenantB)
	if err != nil {
		return nil, err
	}
	env, err := writeKeysFile(filepath.Join(b.Env.Dir, "keys-tenants.json"), keys)
	if err != nil {
		return nil, err
	}
	ts := []*tenantStack{
		{label: "fairness on", fair: true},
		{label: "fairness off", fair: false},
	}
	specs := []stackSpec{
		{name: "fair-on", storage: storageFileWAL, tuning: tuningFair, apiEnv: []string{env}},
		{name: "fair-off", storage: storageFileWAL, tuning: tuningUnfair, apiEnv: []string{env}},
	}
	stacks, err := b.Env.startStacks(ctx, specs)
	if err != nil {
		return nil, err
	}
	for i, t := range ts {
		t.st = stacks[i]
		api := newAPIJobs(t.st.APIURL)
		t.as = map[string]*apiJobs{tenantA: api.withKey(secretOf(keys, tenantA)), tenantB: api.withKey(secretOf(keys, tenantB))}
		// A job of each tenant end to end: the keys work and the server
		// takes the DocketTenant search attribute.
		for _, tenant := range []string{tenantA, tenantB} {
			if _, err := t.as[tenant].run(ctx); err != nil {
				stopStacks(stacks)
				return nil, fmt.Errorf("%s, tenant %s: %w", t.label, tenant, err)
			}
		}
	}
	b.Tenants = ts
	return ts, nil
}

// stopTenantStacks stops scenarios 7 and 8's stacks, if they run.
func (b *Bench) stopTenantStacks() {
	for _, t := range b.Tenants {
		stopStacks([]*Stack{t.st})
	}
	b.Tenants = nil
}

// submitBurst submits n jobs of body through a, conc requests at a time,
// as fast as the API accepts them, and returns their ids.
func submitBurst(ctx context.Context, a *apiJobs, body string, n, conc int) ([]string, error) {
	ids := make([]string, n)
	err := each(n, conc, func(i int) (err error) {
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		ids[i], _, err = a.submit(rctx, body)
		return err
	})
	return ids, err
}

// each runs f(0) … f(n-1), conc at a time, and returns the first error.
func each(n, conc int, f func(i int) error) error {
	var g errgroup.Group
	g.SetLimit(max(1, conc))
	for i := range n {
		g.Go(func() error { return f(i) })
	}
	return g.Wait()
}

// runBurst submits n jobs of body through a at once, each from its own
// client that then waits for the job's result, and returns each job's
// submit-to-result latency and id.
func runBurst(ctx context.Context, a *apiJobs, body string, n int) ([]time.Duration, []string, error) {
	lat := make([]time.Duration, n)
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, requestTimeout)
			defer cancel()
			t0 := time.Now()
			ids[i], errs[i] = a.runBody(rctx, body)
			lat[i] = time.Since(t0)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	return lat, ids, nil
}

// jobTimes is what a finished job's history says of its time on the server.
type jobTimes struct {
	closed time.Time
	// queued is the time its tasks waited to be handed to a worker: the sum
	// of every workflow and activity task's scheduled → started gap (the
	// history service's transfer queue, then matching, where fairness and
	// priority order the tasks).
	queued time.Duration
}

// finishedTimes waits for every workflow of ids to close (untimed: the
// figures come from the histories), conc at a time, and returns each one's
// close time and time queued. A job that did not complete is an error.
func finishedTimes(ctx context.Context, c client.Client, ids []string, conc int) ([]jobTimes, error) {
	out := make([]jobTimes, len(ids))
	err := each(len(ids), conc, func(i int) (err error) {
		out[i], err = historyTimes(ctx, c, ids[i])
		return err
	})
	return out, err
}

// historyTimes long-polls a workflow's history to its close event.
func historyTimes(ctx context.Context, c client.Client, id string) (jobTimes, error) {
	rctx, cancel := context.WithTimeout(ctx, 2*requestTimeout)
	defer cancel()
	it := c.GetWorkflowHistory(rctx, id, "", true, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var evs []*historypb.HistoryEvent
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return jobTimes{}, fmt.Errorf("history of %s: %w", id, err)
		}
		evs = append(evs, e)
	}
	t, err := timesOf(evs)
	if err != nil {
		return jobTimes{}, fmt.Errorf("workflow %s: %w", id, err)
	}
	return t, nil
}

// timesOf reads a closed workflow's history: its close time and how long
// its tasks waited between scheduled and started.
func timesOf(evs []*historypb.HistoryEvent) (jobTimes, error) {
	var t jobTimes
	wfScheduled, actScheduled := map[int64]time.Time{}, map[int64]time.Time{}
	for _, e := range evs {
		at := e.GetEventTime().AsTime()
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
			wfScheduled[e.GetEventId()] = at
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
			if s, ok := wfScheduled[e.GetWorkflowTaskStartedEventAttributes().GetScheduledEventId()]; ok {
				t.queued += at.Sub(s)
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			actScheduled[e.GetEventId()] = at
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			if s, ok := actScheduled[e.GetActivityTaskStartedEventAttributes().GetScheduledEventId()]; ok {
				t.queued += at.Sub(s)
			}
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
			t.closed = at
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
			enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
			return t, fmt.Errorf("ended with %s", e.GetEventType())
		}
	}
	if t.closed.IsZero() {
		return t, fmt.Errorf("no completion in its history")
	}
	return t, nil
}

// closesOf is the close times of ts.
func closesOf(ts []jobTimes) []time.Time {
	out := make([]time.Time, len(ts))
	for i, t := range ts {
		out[i] = t.closed
	}
	return out
}

// backlogRound is one backlog and what arrived behind it.
type backlogRound struct {
	lat        []time.Duration // the late jobs' submit to result
	queued     []time.Duration // the late jobs' time queued (server side)
	drained    float64         // share of the backlog closed when the last late job closed
	drainedPre float64         // … when the late jobs were submitted
	submit     time.Duration   // time to submit the backlog
}

// behindBacklog submits backlog jobs of backlogBody through flood, conc at
// a time, then, once all are accepted, late jobs of lateBody through late
// at once, and waits for every job. c reads the histories.
func behindBacklog(ctx context.Context, c client.Client, flood *apiJobs, backlogBody string, backlog, conc int,
	late *apiJobs, lateBody string, lateN int) (backlogRound, error) {
	var r backlogRound
	t0 := time.Now()
	aIDs, err := submitBurst(ctx, flood, backlogBody, backlog, conc)
	if err != nil {
		return r, fmt.Errorf("backlog: %w", err)
	}
	lateAt := time.Now()
	r.submit = lateAt.Sub(t0)
	lat, bIDs, err := runBurst(ctx, late, lateBody, lateN)
	if err != nil {
		return r, fmt.Errorf("behind the backlog: %w", err)
	}
	aT, err := finishedTimes(ctx, c, aIDs, 8)
	if err != nil {
		return r, fmt.Errorf("backlog: %w", err)
	}
	bT, err := finishedTimes(ctx, c, bIDs, 8)
	if err != nil {
		return r, fmt.Errorf("behind the backlog: %w", err)
	}
	aClose := closesOf(aT)
	r.lat = lat
	for _, t := range bT {
		r.queued = append(r.queued, t.queued)
	}
	r.drained = drainedFraction(aClose, latest(closesOf(bT)))
	r.drainedPre = drainedFraction(aClose, lateAt)
	return r, nil
}

// addAll adds ds to s.
func addAll(s *Sample, ds []time.Duration) {
	for _, d := range ds {
		s.Add(d)
	}
}
