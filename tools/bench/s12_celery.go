package bench

import (
	"context"
	"fmt"
	"strings"
)

// Scenario 12's paths.
const (
	pathCelerySingle = "Celery, one task"
	pathCeleryChain  = "Celery, three-task chain"
)

// celeryScenario runs scenario 2's Docket API workload and the seed's
// Celery stack side by side: blocks of trivial jobs, in turn A B C C B A …,
// each with the same number of concurrent clients submitting a job and
// waiting for its result. Without Celery's packages it is skipped, with
// the reason.
func celeryScenario(ctx context.Context, b *Bench, sec *Section) error {
	tools, err := findCelery()
	if err != nil {
		fmt.Println("   skipped:", err)
		sec.Para("Skipped: %v.", err)
		return nil
	}
	set := b.Set
	totals, err := compareCelery(ctx, b.Env, set, tools)
	if err != nil {
		return err
	}
	sides := celeryPaths
	sec.Para("The seed's Celery stack beside Docket, on the same machine and in the same run: %s. "+
		"Celery runs tools/bench/celery/app.py with the seed's settings (`task_acks_late=True`, `worker_prefetch_multiplier=1`, "+
		"`worker_concurrency=2`: one worker with a prefork pool of two processes; Redis as broker and result backend, "+
		"on a loopback port of its own with Redis's default persistence, RDB snapshots, in the scratch folder). "+
		"Docket is scenario 2's API path on a server, worker and API of its own with `make run`'s settings. "+
		"%d blocks of %d jobs per path, in turn A B C C B A …, each with %d concurrent clients that submit a job and wait for its result; "+
		"latency is submit to result. The job is Docket's trivial job (a sum of 1..10); "+
		"*%s* is that sum as one task, what a Celery user would write; *%s* is `validate | sum | finish`, one task for each of the three "+
		"dispatches Docket's job takes (a workflow task that validates the input and schedules the step, the activity, a workflow task that "+
		"records the outcome). Celery's clients are Celery's own (`apply_async`, then `AsyncResult.get` on the Redis backend, in %d threads "+
		"of tools/bench/celery/driver.py, which warms up with as many untimed jobs before each block); Docket's are this program's HTTP clients. "+
		"Ratios compare median blocks.",
		tools.describe(), set.TrivialBlocks, set.TrivialJobs, set.TrivialConc, pathCelerySingle, pathCeleryChain, set.TrivialConc)
	t := &Table{Header: []string{"path", "jobs", "errors", "jobs/s (all blocks)", "jobs/s per block", "median block jobs/s", "p50 ms", "p99 ms", "vs Docket"}}
	docket := totals[pathAPI]
	for _, name := range sides {
		x := totals[name]
		t.Add(name, fmt.Sprint(x.lat.N()), fmt.Sprint(x.lat.Errors()), fmt.Sprintf("%.1f", x.perSecond()), fmtRates(x.blocks),
			fmt.Sprintf("%.1f", x.median()), ms(x.lat.P(0.5)), ms(x.lat.P(0.99)), ratio(x.median(), docket.median()))
	}
	sec.Table(t)
	sec.Para("Reading the Celery rows: their latencies come in steps of seconds, and whole blocks slow down together. " +
		"The time is spent between the submit and the worker's `date_done`, not on the way back (the client has the result within " +
		"milliseconds of it). The likely cause, from kombu's code: its Redis transport sends the next `BRPOP` only on a tick of the " +
		"worker's event loop, and while both pool processes are busy a tick can wait for the loop's next timer (a second when none is due, " +
		"up to ten). Checks while building this scenario found the same steps without `acks_late` and with prefetch 4, and none with a " +
		"one-process `--pool solo` worker on the same Redis; the seed's two processes are a prefork pool, so the rows keep it.")
	sec.Para("What the figures do not show: a Docket job is durable once `POST /jobs` has answered 202 (the server's SQLite WAL; scenario 4), " +
		"has a status, a history and a retry policy per step, and survives a worker's death mid-step (scenario 13). A Celery task " +
		"lives in a Redis list while it waits and its result in a Redis key; Redis writes them to disk only in RDB snapshots (by default a minute " +
		"after 10,000 changes, five after 100, an hour after one), so a crash of Redis loses what changed since the last one.")
	for _, name := range sides {
		if err := totals[name].lat.FirstError(); err != nil {
			sec.Para("%d errors on %s; the first: `%v`", totals[name].lat.Errors(), name, strings.TrimSpace(err.Error()))
		}
	}
	return nil
}

// celeryPaths are scenario 12's paths in the order of its A B C C B A ….
var celeryPaths = []string{pathAPI, pathCelerySingle, pathCeleryChain}

// compareCelery starts a Docket stack (a server with make run's settings,
// a worker, an API) and the seed's Celery stack, runs set.TrivialBlocks
// blocks of set.TrivialJobs trivial jobs per path with set.TrivialConc
// clients, interleaved, and returns each path's totals. Every process it
// started is stopped when it returns.
func compareCelery(ctx context.Context, e *Env, set Settings, tools celeryTools) (map[string]*sideTotals, error) {
	srv, err := e.StartServer(ctx, "celery-docket", storageFileWAL, tuningFast)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	st, err := e.StartStack(ctx, srv, "docket", true)
	if err != nil {
		return nil, err
	}
	defer st.Stop()
	cs, err := e.startCelery(ctx, "s12", tools)
	if err != nil {
		return nil, err
	}
	defer cs.Stop()

	api := newAPIJobs(st.APIURL)
	run := map[string]func(ctx context.Context) (closedResult, error){
		pathAPI: func(ctx context.Context) (closedResult, error) {
			return closedLoop(ctx, set.TrivialConc, set.TrivialJobs, side{pathAPI, api.run}.fire), nil
		},
		pathCelerySingle: func(ctx context.Context) (closedResult, error) {
			return cs.block(ctx, celerySingle, set.TrivialConc, set.TrivialJobs)
		},
		pathCeleryChain: func(ctx context.Context) (closedResult, error) {
			return cs.block(ctx, celeryChain, set.TrivialConc, set.TrivialJobs)
		},
	}
	// Docket's path warms up here; each Celery block warms its own client
	// up (driver.py runs as many untimed jobs as it has clients first).
	if r := closedLoop(ctx, set.TrivialConc, set.TrivialConc, side{pathAPI, api.run}.fire); r.Lat.Errors() > 0 {
		return nil, fmt.Errorf("warm-up %s: %w", pathAPI, r.Lat.FirstError())
	}
	totals := map[string]*sideTotals{}
	for _, name := range celeryPaths {
		totals[name] = &sideTotals{}
	}
	for blk := range set.TrivialBlocks {
		for _, name := range abba(celeryPaths, blk) {
			r, err := run[name](ctx)
			if err != nil {
				return nil, fmt.Errorf("%s, block %d: %w", name, blk+1, err)
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			t := totals[name]
			t.lat.Merge(r.Lat)
			t.elapsed += r.Elapsed
			t.blocks = append(t.blocks, r.PerSecond())
			fmt.Printf("   %-26s block %d: %4d jobs, %6.1f jobs/s, p50 %s ms, errors %d\n",
				name, blk+1, r.Lat.N(), r.PerSecond(), ms(r.Lat.P(0.5)), r.Lat.Errors())
		}
	}

	return totals, nil
}
