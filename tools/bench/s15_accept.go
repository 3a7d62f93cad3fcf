package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// acceptProfileRate is the open-loop rate of scenario 15's accept profile:
// the rate at which scenario 1 compares p99s, below every path's ceiling.
const acceptProfileRate = 100

// acceptPath is one path of the accept profile and the CPU time each
// process spent on its blocks.
type acceptPath struct {
	name string
	fire func(context.Context) error
	lat  *Sample
	cpu  map[string]time.Duration // role → CPU time over the path's blocks
	// serverBlocks is the server's CPU ms per start of each block: their
	// spread is the measurement's noise.
	serverBlocks []float64
}

// roleBench is this program in the accept profile's CPU counts: the load
// generator, and the SDK paths' client.
const roleBench = "this program (the client)"

// The accept profile's paths that add one of Docket's start options to
// the direct SDK's.
const (
	pathSDKMemo    = "direct SDK + Docket's memo"
	pathSDKAttr    = "direct SDK + DocketStatus search attribute"
	pathSDKTimeout = "direct SDK + 24 h execution timeout"
)

// sdkStartWith starts the sum workflow on s's unpolled queue with the
// direct SDK's options (an id and the task queue) changed by mod.
func sdkStartWith(s *Server, mod func(*client.StartWorkflowOptions)) func(context.Context) error {
	return func(ctx context.Context) error {
		opts := client.StartWorkflowOptions{ID: uuid.NewString(), TaskQueue: unpolledQueue}
		mod(&opts)
		_, err := s.client.ExecuteWorkflow(ctx, opts, sumType, trivialInput)
		return err
	}
}

// acceptProf is scenario 15's accept profile.
type acceptProf struct {
	rate      float64
	blocks    int
	block     time.Duration
	paths     []*acceptPath
	byPkg     []cpuShare
	inclusive []cpuShare
	buckets   []bucketShare
	perfErr   error
}

// bucketShare is one part of the API's work: its share of the API's
// samples (inclusive of what it calls).
type bucketShare struct {
	key, what, why string
	pct            float64
}

// apiBuckets name where a POST /jobs spends its time, each by the
// functions whose inclusive time it is (the largest of them counts, as
// they may nest). The SDK's own start call is what the direct SDK path
// does too; the rest is what the API adds.
var apiBuckets = []struct {
	key, what, why string
	syms           []string
}{
	{"request", "the whole request (net/http's connection goroutine)", "every request's time, from reading it to writing the answer", []string{"net/http.(*conn).serve"}},
	{"chain", "… the handler chain (Docket's middleware, router, handler)", "", []string{"github.com/docket-dev/docket/api.(*Server).measure.func"}},
	{"handler", "… … POST /jobs handler (createJob)", "", []string{"github.com/docket-dev/docket/api.(*Server).createJob"}},
	{"decode", "… … … read body, strict JSON decode", "job.DecodeStrict and the body limit", []string{"github.com/docket-dev/docket/api.(*Server).readBody", "github.com/docket-dev/docket/job.DecodeStrict"}},
	{"start", "… … … job.Client.Start", "validation, fingerprint, options, the start call", []string{"github.com/docket-dev/docket/job.(*Client).Start"}},
	{"prepare", "… … … … job.Client.Prepare (validate, fingerprint)", "", []string{"github.com/docket-dev/docket/job.(*Client).Prepare"}},
	{"execute", "… … … … SDK ExecuteWorkflow (the start call)", "what the direct SDK path does in this program", []string{"go.temporal.io/sdk/internal.(*WorkflowClient).ExecuteWorkflow"}},
	{"encode", "… … … … … payload and memo encoding (data converter)", "", []string{"go.temporal.io/sdk/converter.(*CompositeDataConverter).ToPayloads", "go.temporal.io/sdk/internal.getWorkflowMemo", "go.temporal.io/sdk/internal.encodeArgs"}},
	{"answer", "… … … write the answer (JSON encode)", "", []string{"github.com/docket-dev/docket/api.writeMade"}},
	{"log", "… … logging middleware (slog)", "level check and the record at warn level", []string{"log/slog.(*Logger).log", "log/slog.(*Logger).Info"}},
	{"metrics", "… … metrics (prometheus observe)", "", []string{"github.com/prometheus/client_golang/prometheus.(*histogram).Observe", "github.com/prometheus/client_golang/prometheus.(*counter).Inc"}},
	{"router", "… router (gorilla/mux match)", "", []string{"github.com/gorilla/mux.(*Router).Match"}},
	{"grpc", "gRPC transport goroutines (HTTP/2 writer and reader)", "the SDK's connection; the direct SDK path pays it too", []string{"google.golang.org/grpc/internal/transport.(*loopyWriter).run", "google.golang.org/grpc/internal/transport.(*http2Client).reader"}},
	{"gc", "GC (background mark workers)", "", []string{"runtime.gcBgMarkWorker"}},
	{"sched", "Go scheduler (finding work, netpoll, waking threads)", "goroutines handing work to each other: a request wakes several", []string{"runtime.schedule"}},
}

// acceptProfile runs scenario 1's accept load at acceptProfileRate on an
// unpolled queue of s, through a fresh API (no metrics listener, no
// tracing), the direct SDK and the SDK with Docket's start options, in
// alternating blocks, with the CPU of the API, the server and this program
// counted per path and perf sampling the API.
func acceptProfile(ctx context.Context, b *Bench, s *Server) (*acceptProf, error) {
	st, err := b.Env.StartStack(ctx, s, unpolledQueue, false)
	if err != nil {
		return nil, err
	}
	defer st.Stop()
	api := newAPIJobs(st.APIURL)
	sdk := &sdkJobs{c: s.client, taskQueue: unpolledQueue}
	sdkDocket := &sdkJobs{c: s.client, taskQueue: unpolledQueue, docketOptions: true}
	a := &acceptProf{rate: acceptProfileRate, blocks: max(2, b.Set.AcceptSplit), block: b.Set.AcceptStep / time.Duration(max(1, b.Set.AcceptSplit))}
	a.paths = []*acceptPath{
		{name: pathAPI, fire: func(ctx context.Context) error { _, _, err := api.submit(ctx, trivialBody); return err }},
		{name: "direct SDK", fire: func(ctx context.Context) error { _, err := sdk.start(ctx); return err }},
		{name: pathSDKDocket, fire: func(ctx context.Context) error { _, err := sdkDocket.start(ctx); return err }},
		// Docket's options one at a time (as sdkJobs sets them with
		// docketOptions), to tell which of them the server pays for.
		{name: pathSDKMemo, fire: sdkStartWith(s, func(o *client.StartWorkflowOptions) {
			o.Memo = map[string]any{"docket_input": trivialInput, "docket_request": strings.Repeat("0", 64)}
		})},
		{name: pathSDKAttr, fire: sdkStartWith(s, func(o *client.StartWorkflowOptions) {
			o.TypedSearchAttributes = temporal.NewSearchAttributes(statusAttr.ValueSet("QUEUED"))
		})},
		{name: pathSDKTimeout, fire: sdkStartWith(s, func(o *client.StartWorkflowOptions) {
			o.WorkflowExecutionTimeout = 24 * time.Hour
		})},
	}
	for _, p := range a.paths {
		p.lat, p.cpu = &Sample{}, map[string]time.Duration{}
		if r := openLoop(ctx, 50, time.Second, 100, p.fire); r.Lat.Errors() > 0 {
			return nil, fmt.Errorf("warm-up %s: %w", p.name, r.Lat.FirstError())
		}
	}
	roles := map[string]int{roleAPI: st.API.PID(), roleServer: s.PID(), roleBench: os.Getpid()}
	pids := []int{st.API.PID(), s.PID(), os.Getpid()}
	perf := startPerf(b.Env.Dir, fmt.Sprintf("accept-api-pid%d", st.API.PID()), st.API.PID())
	if perf != nil {
		time.Sleep(300 * time.Millisecond) // let perf attach
	}
	for blk := range a.blocks {
		for _, p := range abba(a.paths, blk) {
			before := snapshotCPU(pids...)
			r := openLoop(ctx, a.rate, a.block, b.Set.AcceptInFlite, p.fire)
			used := snapshotCPU(pids...).since(before)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			p.lat.Merge(r.Lat)
			if n := r.Lat.N(); n > 0 {
				p.serverBlocks = append(p.serverBlocks, float64(used[s.PID()])/float64(n)/float64(time.Millisecond))
			}
			for role, pid := range roles {
				p.cpu[role] += used[pid]
			}
			fmt.Printf("   accept %-28s block %d: %4d starts, p50 %s ms, p99 %s ms, errors %d\n",
				p.name, blk+1, r.Lat.N(), ms(r.Lat.P(0.5)), ms(r.Lat.P(0.99)), r.Lat.Errors())
			time.Sleep(b.Set.AcceptPause)
		}
	}
	if perf == nil {
		a.perfErr = fmt.Errorf("perf is not installed or not permitted")
		return a, nil
	}
	a.byPkg, a.inclusive, a.perfErr = perf.Stop("github.com/docket-dev/docket/")
	if a.perfErr != nil {
		return a, nil
	}
	children, err := perfReport(perf.data, "--children")
	if err != nil {
		a.perfErr = err
		return a, nil
	}
	a.buckets = bucketsOf(children)
	return a, nil
}

// bucketsOf is the share of each of apiBuckets in a profile's inclusive
// (children) shares.
func bucketsOf(children []cpuShare) []bucketShare {
	var out []bucketShare
	for _, bk := range apiBuckets {
		var best float64
		for _, c := range children {
			for _, sym := range bk.syms {
				if strings.HasPrefix(c.What, sym) && !strings.Contains(c.What, "-fm") && c.Pct > best {
					best = c.Pct
				}
			}
		}
		out = append(out, bucketShare{key: bk.key, what: bk.what, why: bk.why, pct: best})
	}
	return out
}

// perJob is the CPU time of role per accepted start of p, in ms.
func (p *acceptPath) perJob(role string) float64 {
	n := p.lat.N()
	if n == 0 {
		return 0
	}
	return float64(p.cpu[role]) / float64(n) / float64(time.Millisecond)
}

// total is the CPU per start of every process counted.
func (p *acceptPath) total() float64 {
	return p.perJob(roleAPI) + p.perJob(roleServer) + p.perJob(roleBench)
}

// path is the accept profile's path called name.
func (a *acceptProf) path(name string) *acceptPath {
	for _, p := range a.paths {
		if p.name == name {
			return p
		}
	}
	return &acceptPath{lat: &Sample{}}
}

// bucket is the CPU per accepted API job, in ms, of the bucket key.
func (a *acceptProf) bucket(key string) float64 {
	apiMS := a.path(pathAPI).perJob(roleAPI)
	for _, bk := range a.buckets {
		if bk.key == key {
			return bk.pct / 100 * apiMS
		}
	}
	return 0
}

// report writes the accept profile: CPU per start by process and path,
// where the API's share goes, and what that says about scenario 1's and
// 2's targets; e2e, when not nil, is the side whose end-to-end CPU per job
// the reading quotes.
func (a *acceptProf) report(sec *Section, e2e *apiSide) {
	sec.Para("### Where the API's time goes on the accept path (scenarios 1 and 2)")
	sec.Para("Scenario 1's load at %.0f/s open loop on task queue `%s`, which no worker polls, on this scenario's server, through a bin/docket-api of its own "+
		"(no metrics listener, no tracing: as scenario 1's), the direct SDK, the SDK with Docket's start options and the direct SDK with each of those options alone, %d blocks of %s per path in turn A B C … C B A. "+
		"The CPU time (user+system, from /proc) of the API, the dev server and this program (the load generator and the SDK paths' client) over each path's blocks, "+
		"divided by the starts accepted; `perf record -g` at 499 Hz samples the API meanwhile.",
		a.rate, unpolledQueue, a.blocks, a.block)
	t := &Table{Header: []string{"path", "starts", "errors", "p50 ms", "p99 ms", "API CPU ms per start", "server CPU ms per start", "this program's CPU ms per start", "total CPU ms per start", "server CPU ms per start, each block", fmt.Sprintf("ceiling on %d cores, starts/s", runtime.NumCPU())}}
	for _, p := range a.paths {
		api := "-"
		if p.name == pathAPI {
			api = fmt.Sprintf("%.2f", p.perJob(roleAPI))
		}
		ceiling := "-"
		if tot := p.total(); tot > 0 {
			ceiling = fmt.Sprintf("%.0f", float64(runtime.NumCPU())*1000/tot)
		}
		t.Add(p.name, fmt.Sprint(p.lat.N()), fmt.Sprint(p.lat.Errors()), ms(p.lat.P(0.5)), ms(p.lat.P(0.99)), api,
			fmt.Sprintf("%.2f", p.perJob(roleServer)), fmt.Sprintf("%.2f", p.perJob(roleBench)), fmt.Sprintf("%.2f", p.total()), fmtRatesPrec(p.serverBlocks), ceiling)
	}
	sec.Table(t)
	if a.perfErr != nil {
		sec.Para("No profile of the API: `%v`.", a.perfErr)
		return
	}
	apiMS := a.path(pathAPI).perJob(roleAPI)
	bt := &Table{Header: []string{"part of the API's work (inclusive of what it calls)", "% of the API's samples", "ms per accepted job", "note"}}
	for _, bk := range a.buckets {
		bt.Add(bk.what, fmt.Sprintf("%.1f", bk.pct), fmt.Sprintf("%.3f", bk.pct/100*apiMS), bk.why)
	}
	sec.Table(bt)
	sec.Table(shareTable("API self time by package", a.byPkg, 12))
	sec.Table(shareTable("Docket's functions in the API, inclusive", a.inclusive, 12))
	sec.Para("%s", a.explain(e2e))
}

// explain is the accept profile's reading, with this run's numbers; e2e
// is the API's CPU per job in scenario 15's end-to-end throughput blocks
// (its "off" side), and the worker's and the server's.
func (a *acceptProf) explain(e2e *apiSide) string {
	apiP, sdkP, docP := a.path(pathAPI), a.path("direct SDK"), a.path(pathSDKDocket)
	apiMS := apiP.perJob(roleAPI)
	kernel, runtimeSelf := 0.0, 0.0
	for _, s := range a.byPkg {
		switch {
		case strings.HasPrefix(s.What, "kernel"):
			kernel = s.Pct / 100 * apiMS
		case strings.HasPrefix(s.What, "Go runtime"):
			runtimeSelf = s.Pct / 100 * apiMS
		}
	}
	gap := apiP.total() - sdkP.total()
	options := docP.perJob(roleServer) - sdkP.perJob(roleServer)
	serverGap := apiP.perJob(roleServer) - sdkP.perJob(roleServer)
	clientGap := apiP.perJob(roleBench) - sdkP.perJob(roleBench)
	docket := a.bucket("handler") - a.bucket("execute")
	httpOnly := a.bucket("request") - a.bucket("chain")
	var b strings.Builder
	fmt.Fprintf(&b, "**Reading.** The dev server's work dominates a start: %.2f ms of CPU for a bare start, %.2f with Docket's options, %.2f on the API path, "+
		"against the API process's %.2f ms. The API path costs %.2f ms in all per accepted start, the direct SDK %.2f (%.2f× as much CPU, so %.2f× the ceiling on the shared cores) "+
		"and the SDK with Docket's options %.2f (the API path is %.2f× that). The %.2f ms more than the direct SDK are the server's %+.2f "+
		"(Docket's job model: the memo with the input and the request's fingerprint, the DocketStatus search attribute, the 24 h execution timeout; the SDK with the same options costs the server %+.2f), "+
		"the API process's %.2f and this program's %+.2f (an HTTP client is cheaper than the SDK's). ",
		sdkP.perJob(roleServer), docP.perJob(roleServer), apiP.perJob(roleServer), apiMS, apiP.total(), sdkP.total(), apiP.total()/sdkP.total(), sdkP.total()/apiP.total(),
		docP.total(), apiP.total()/docP.total(), gap, serverGap, options, apiMS, clientGap)
	fmt.Fprintf(&b, "Of the API's %.2f ms (perf's shares of its samples times its CPU per start): the SDK's start call is %.3f ms and the gRPC connection's goroutines %.3f, "+
		"the work the direct SDK path does in this program instead; net/http reading the request and writing the answer outside Docket's handler chain %.3f; "+
		"Docket's own code in the handler, everything but the start call, %.3f (the strict JSON decode and body read %.3f, validation and fingerprint %.3f, "+
		"the JSON answer %.3f; the router %.3f, logging %.3f, metrics %.3f; authentication none without a keys file, the idempotency id none as the load sends no Idempotency-Key, "+
		"the encryption codec none without a key ring: scenarios 9 and 10 measure those); "+
		"the Go scheduler handing each request between goroutines %.3f and the GC %.3f. By self time, the kernel (loopback sockets: HTTP in, gRPC out) is %.3f ms and the Go runtime %.3f. ",
		apiMS, a.bucket("execute"), a.bucket("grpc"), httpOnly, docket, a.bucket("decode"), a.bucket("prepare"), a.bucket("answer"), a.bucket("router"), a.bucket("log"), a.bucket("metrics"),
		a.bucket("sched"), a.bucket("gc"), kernel, runtimeSelf)
	var each []string
	for _, name := range []string{pathSDKMemo, pathSDKAttr, pathSDKTimeout} {
		if p := a.path(name); p.lat.N() > 0 {
			each = append(each, fmt.Sprintf("%s %+.2f", strings.TrimPrefix(name, "direct SDK + "), p.perJob(roleServer)-sdkP.perJob(roleServer)))
		}
	}
	noise := spread(sdkP.serverBlocks)
	if len(each) > 0 {
		fmt.Fprintf(&b, "Docket's options one at a time, server CPU per start against the bare start's: %s ms; the bare start's own blocks spread over %.2f ms, "+
			"so a difference smaller than that is noise of the shared machine, not a cost. ", strings.Join(each, ", "), noise)
	}
	if e2e != nil {
		fmt.Fprintf(&b, "End to end (this scenario's *off* throughput blocks) a job costs the API %s ms, the worker %s and the server %s: the API is the smallest part there too. ",
			e2e.cpuPerJob(roleAPI), e2e.cpuPerJob(roleWorker), e2e.cpuPerJob(roleServer))
	}
	ceiling := sdkP.total() / apiP.total()
	fmt.Fprintf(&b, "**So** scenario 1's highest sustained rate, where the server, the API and the load generator share %d cores, is bounded by CPU per start: "+
		"the API path's ceiling is %.2f× the direct SDK's by this run's CPU (scenario 1's target is ≥ 0.9×), and its p99 near the top rates pays for the hop's "+
		"extra process to be scheduled on busy cores (at %.0f/s here: p99 %s ms through the API, %s ms direct, on a machine other programs load). ",
		runtime.NumCPU(), ceiling, a.rate, ms(apiP.lat.P(0.99)), ms(sdkP.lat.P(0.99)))
	if docket < 0.1*apiP.total() {
		fmt.Fprintf(&b, "No step of the API's own is the cause: Docket's code in the handler is %.3f ms of the path's %.2f, too little for a fix there to move a ratio "+
			"(no cheap fix was made); the gap is the API process itself, %.2f ms a start less the %.2f this program saves sending HTTP rather than gRPC, mostly the HTTP hop's "+
			"syscalls and goroutine hand-offs, plus Docket's job model on the server (%+.2f ms a start here, against a block-to-block spread of %.2f). "+
			"Scenario 2 adds the worker on the same cores, and a job costs the server most of all; the API's share per job is the same hop. "+
			"Closing the gap takes less CPU per request in the HTTP hop (fewer goroutine hand-offs and syscalls per request) or the API on cores of its own, as in production.",
			docket, apiP.total(), apiMS, -clientGap, serverGap, noise)
	} else {
		fmt.Fprintf(&b, "Docket's code in the handler is %.3f ms of the path's %.2f in this run: enough to be worth a look (the tables above name its functions).", docket, apiP.total())
	}
	return b.String()
}

// spread is the difference between the largest and the smallest of xs.
func spread(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return slices.Max(xs) - slices.Min(xs)
}
