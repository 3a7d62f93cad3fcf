package bench

import (
	"context"
	"fmt"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
)

// floorConfig is one server configuration of the latency floor.
type floorConfig struct {
	label   string
	storage Storage
	tuning  Tuning
	stack   *Stack
	api     *apiJobs
	sdk     *sdkJobs
	apiLat  *Sample
	postLat *Sample // the POST alone
	sdkLat  *Sample
	execLat *Sample // ExecuteWorkflow alone
	hops    map[string]*Sample
	ops     map[string]opStats // path → frontend calls
	opJobs  map[string]int
}

// hopNames are the gaps between a one-activity workflow's history events.
var hopNames = []string{
	"start → workflow task 1 picked up",
	"workflow task 1 run",
	"activity scheduled → picked up",
	"activity run",
	"activity done → workflow task 2 picked up",
	"workflow task 2 run",
	"start → closed (server side)",
	"closed → result at the client",
}

const (
	pathAPI = "Docket API"
	pathSDK = "bare SDK"
	// pathSDKDocket starts the workflow with job.Client.Start's options.
	pathSDKDocket = "SDK, Docket's start options"
)

// floorScenario runs one sum job at a time, back to back, from submission
// to result readable, against servers with Temporal's defaults, with make
// run's settings added one at a time, and in memory. Configurations and paths take turns in
// blocks; the first jobs of each block are not counted.
func floorScenario(ctx context.Context, b *Bench, sec *Section) error {
	configs := []*floorConfig{
		{label: "Temporal's defaults: WAL file, default dynamic config", storage: storageFileWAL, tuning: tuningDefault},
		{label: "WAL file, no 50 ms quantum (transfer queue reads, eager activities)", storage: storageFileWAL, tuning: tuningNoQuantum},
		{label: "make run: … and one partition per task queue", storage: storageFileWAL, tuning: tuningFast},
		{label: "in memory, default dynamic config", storage: storageMemory, tuning: tuningDefault},
		{label: "in memory, make run's dynamic config", storage: storageMemory, tuning: tuningFast},
	}
	// The target is checked on make run's configuration, against Temporal's;
	// the rows between add make run's settings one at a time.
	const makeRun, defaults = 2, 0
	if b.Set.Short {
		configs = configs[:makeRun+1]
	}
	var specs []stackSpec
	for i, c := range configs {
		specs = append(specs, stackSpec{name: fmt.Sprintf("floor%d", i), storage: c.storage, tuning: c.tuning})
	}
	stacks, err := b.Env.startStacks(ctx, specs)
	if err != nil {
		return err
	}
	defer stopStacks(stacks)
	for i, c := range configs {
		st := stacks[i]
		c.stack, c.api, c.sdk = st, newAPIJobs(st.APIURL), &sdkJobs{c: st.client, taskQueue: "docket"}
		c.apiLat, c.postLat, c.sdkLat, c.execLat, c.hops = &Sample{}, &Sample{}, &Sample{}, &Sample{}, map[string]*Sample{}
		for _, h := range hopNames {
			c.hops[h] = &Sample{}
		}
		c.ops, c.opJobs = map[string]opStats{pathAPI: {}, pathSDK: {}}, map[string]int{}
	}
	set := b.Set
	for r := range set.FloorRounds {
		for k := range configs {
			c := configs[(r+k)%len(configs)]
			paths := []string{pathAPI, pathSDK}
			if (r+k)%2 == 1 {
				slices.Reverse(paths)
			}
			for _, path := range paths {
				if err := c.block(ctx, path, set.FloorBlock, set.FloorSkip); err != nil {
					return fmt.Errorf("%s, %s: %w", c.label, path, err)
				}
			}
		}
	}

	sec.Para("One trivial `sum` job at a time, back to back (work_ms 0: one workflow task, one activity, one workflow task). "+
		"**Docket API** is `POST /jobs` then `GET /jobs/{id}/results?wait=30s` against bin/docket-api and bin/worker; "+
		"**bare SDK** is `ExecuteWorkflow` then `Get` of the same workflow on the same worker. "+
		"%d rounds; in each, every configuration and path runs a block of %d jobs in turn, of which the first %d are not counted "+
		"(after idle the history service's task reader has a burst of 20 reads that hides the quantum for a few jobs). "+
		"The dynamic config without the quantum is %s; one partition per task queue adds %s.",
		set.FloorRounds, set.FloorBlock, set.FloorSkip, joinCode(tuningNoQuantum.Values), joinCode(tuningFast.Values[len(tuningNoQuantum.Values):]))
	t := &Table{Header: []string{"server", "path", "jobs", "p50 ms", "p99 ms", "mean ms", "target p50 ≤ 30 ms"}}
	for i, c := range configs {
		target := ""
		if i == makeRun {
			target = b.target("3", "one-activity sum job p50 ≤ 30 ms through the API on the stack `make run` starts",
				fmt.Sprintf("%s ms (Temporal's default settings %s ms; bare SDK %s ms)",
					ms(c.apiLat.P(0.5)), ms(configs[defaults].apiLat.P(0.5)), ms(c.sdkLat.P(0.5))),
				c.apiLat.P(0.5) <= 30*time.Millisecond)
		}
		t.Add(c.label, pathAPI, fmt.Sprint(c.apiLat.N()), ms(c.apiLat.P(0.5)), ms(c.apiLat.P(0.99)), ms(c.apiLat.Mean()), target)
		t.Add(c.label, "… of which POST /jobs", "", ms(c.postLat.P(0.5)), ms(c.postLat.P(0.99)), ms(c.postLat.Mean()), "")
		t.Add(c.label, pathSDK, fmt.Sprint(c.sdkLat.N()), ms(c.sdkLat.P(0.5)), ms(c.sdkLat.P(0.99)), ms(c.sdkLat.Mean()), "")
		t.Add(c.label, "… of which ExecuteWorkflow", "", ms(c.execLat.P(0.5)), ms(c.execLat.P(0.99)), ms(c.execLat.Mean()), "")
	}
	sec.Table(t)

	sec.Para("Where the time goes inside Temporal, from the event times of the counted bare-SDK jobs' histories (p50 ms of each gap; " +
		"\"picked up\" is the task's Started event, written when matching hands the task to a polling worker; the last row is the client's clock when `Get` returned " +
		"less the close event's time, on the same host):")
	h := &Table{Header: []string{"gap"}}
	for _, c := range configs {
		h.Header = append(h.Header, c.label)
	}
	for _, name := range hopNames {
		row := []string{name}
		for _, c := range configs {
			row = append(row, ms(c.hops[name].P(0.5)))
		}
		h.Add(row...)
	}
	sec.Table(h)

	prop, today := configs[makeRun], configs[defaults]
	b.Floor = &floorSummary{
		todayAPI: today.apiLat.P(0.5), todaySDK: today.sdkLat.P(0.5),
		api: prop.apiLat.P(0.5), sdk: prop.sdkLat.P(0.5), post: prop.postLat.P(0.5), exec: prop.execLat.P(0.5),
		todayHops: today.hops, hops: prop.hops, ops: prop.ops[pathAPI], opJobs: prop.opJobs[pathAPI],
	}
	for _, c := range configs[defaults : makeRun+1] {
		b.Floor.steps = append(b.Floor.steps, floorStep{label: c.label, api: c.apiLat.P(0.5), sdk: c.sdkLat.P(0.5),
			closed: c.hops[hopNames[6]].P(0.5), result: c.hops[hopNames[7]].P(0.5)})
	}
	sec.Para("Calls the server's frontend received per job on make run's configuration (its Prometheus `service_latency` counters; worker polls left out; " +
		"a history long poll's latency is mostly waiting for the job to finish):")
	sec.Table(opsTable([]string{pathAPI, pathSDK}, []opStats{prop.ops[pathAPI], prop.ops[pathSDK]},
		[]int{prop.opJobs[pathAPI], prop.opJobs[pathSDK]}))
	return nil
}

// block runs n jobs back to back on path; the first skip are not counted.
func (c *floorConfig) block(ctx context.Context, path string, n, skip int) error {
	before, err := scrapeOps(c.stack.Metrics)
	if err != nil {
		return err
	}
	var ids []string
	doneAt := map[string]time.Time{}
	for j := range n {
		count := j >= skip
		t0 := time.Now()
		if path == pathAPI {
			id, _, err := c.api.submit(ctx, trivialBody)
			if err != nil {
				return err
			}
			t1 := time.Now()
			if _, err := c.api.result(ctx, id); err != nil {
				return err
			}
			if count {
				c.postLat.Add(t1.Sub(t0))
				c.apiLat.Add(time.Since(t0))
			}
			continue
		}
		run, err := c.sdk.start(ctx)
		if err != nil {
			return err
		}
		t1 := time.Now()
		var r sumResult
		if err := run.Get(ctx, &r); err != nil {
			return err
		}
		if count {
			done := time.Now()
			c.execLat.Add(t1.Sub(t0))
			c.sdkLat.Add(done.Sub(t0))
			ids = append(ids, run.GetID())
			doneAt[run.GetID()] = done
		}
	}
	after, err := scrapeOps(c.stack.Metrics)
	if err != nil {
		return err
	}
	c.ops[path].add(after.since(before))
	c.opJobs[path] += n
	// Histories are read after the block so that the reads do not space
	// the jobs out.
	for _, id := range ids {
		if err := c.recordHops(ctx, id, doneAt[id]); err != nil {
			return err
		}
	}
	return nil
}

// recordHops reads a finished job's history (untimed) and adds its gaps.
func (c *floorConfig) recordHops(ctx context.Context, id string, done time.Time) error {
	it := c.stack.client.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var evs []*historypb.HistoryEvent
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return err
		}
		evs = append(evs, e)
	}
	at := func(t enumspb.EventType, nth int) time.Time {
		for _, e := range evs {
			if e.GetEventType() == t {
				if nth == 0 {
					return e.GetEventTime().AsTime()
				}
				nth--
			}
		}
		return time.Time{}
	}
	started := at(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, 0)
	gaps := []time.Duration{
		at(enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED, 0).Sub(started),
		at(enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, 0).Sub(at(enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED, 0)),
		at(enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED, 0).Sub(at(enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, 0)),
		at(enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, 0).Sub(at(enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED, 0)),
		at(enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED, 1).Sub(at(enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, 0)),
		at(enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, 1).Sub(at(enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED, 1)),
		at(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, 0).Sub(started),
		done.Sub(at(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, 0)),
	}
	for i, g := range gaps {
		c.hops[hopNames[i]].Add(g)
	}
	return nil
}

// floorSummary is what the closing section quotes of scenario 3.
type floorSummary struct {
	todayAPI, todaySDK, api, sdk, post, exec time.Duration
	todayHops, hops                          map[string]*Sample
	ops                                      opStats
	opJobs                                   int
	steps                                    []floorStep // Temporal's defaults, then make run's settings added one at a time
}

// floorStep is one configuration's p50s.
type floorStep struct {
	label                    string
	api, sdk, closed, result time.Duration
}
