// Package bench measures Docket against bare Temporal on one machine, with
// every comparison interleaved within one run so that the noise of a shared
// machine cancels in the ratios. Command tools/cmd/bench runs it.
//
// It starts everything it needs: Temporal dev servers from the pinned CLI
// (in memory and on SQLite files), and the real bin/worker and
// bin/docket-api as separate processes.
package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Settings are the sizes of a run; short runs shrink them all.
type Settings struct {
	Short bool

	// Scenario 1.
	AcceptStep    time.Duration // open-loop time per rate and side
	AcceptSplit   int           // blocks it is split into, alternating sides
	AcceptRates   []float64     // the fixed rates
	AcceptRamp    []float64     // further rates tried to find the highest sustained
	AcceptBisect  int           // bisection rounds between the last sustained and first failed rate
	AcceptMaxP99  time.Duration // a block whose p99 exceeds this is not sustained
	AcceptInFlite int64         // cap of outstanding requests of one open loop
	AcceptPause   time.Duration // pause between blocks, for the server to settle

	// Scenario 2 and 6.
	TrivialBlocks int // blocks per side, interleaved A B B A ...
	TrivialJobs   int // jobs per block
	TrivialConc   int // concurrent clients

	// Scenario 3.
	FloorRounds int // rounds of blocks
	FloorBlock  int // sequential jobs per block (one configuration, one path)
	FloorSkip   int // first jobs of a block not counted

	// Scenario 4.
	DurabilityBlocks int
	DurabilityJobs   int

	// Scenarios 7 and 8 (a backlog, then jobs behind it).
	FairRounds int // rounds per stack (7) and per probe priority (8), alternating
	FairA      int // tenant a's backlog of trivial jobs
	FairB      int // tenant b's jobs behind it (and alone, idle)
	FairConc   int // concurrent requests submitting the backlog

	// Scenario 9: the floor's FloorBlock and FloorSkip, AuthRounds rounds;
	// throughput as scenario 2's blocks.
	AuthRounds int

	// Scenario 10: the floor's FloorBlock and FloorSkip, EncRounds rounds;
	// throughput as scenario 2's blocks; OCR in EncOCRBlocks blocks per
	// side, each of EncOCRDocs documents of EncOCRPages pages at once.
	EncRounds    int
	EncOCRBlocks int
	EncOCRDocs   int
	EncOCRPages  int

	// Scenario 11: EventJobs jobs of EventWorkMS watched for latency, then
	// EventStreams streams over EventStreamJobs jobs held EventHold.
	EventJobs       int
	EventWorkMS     int
	EventStreams    int
	EventStreamJobs int
	EventHold       time.Duration
}

func settings(short bool) Settings {
	if short {
		return Settings{Short: true,
			AcceptStep: 1500 * time.Millisecond, AcceptSplit: 1, AcceptRates: []float64{25, 50, 100, 200}, AcceptRamp: []float64{300},
			AcceptBisect: 0, AcceptMaxP99: 500 * time.Millisecond, AcceptInFlite: 2000, AcceptPause: 300 * time.Millisecond,
			TrivialBlocks: 2, TrivialJobs: 40, TrivialConc: 16,
			FloorRounds: 1, FloorBlock: 16, FloorSkip: 8,
			DurabilityBlocks: 1, DurabilityJobs: 40,
			FairRounds: 1, FairA: 60, FairB: 5, FairConc: 32,
			AuthRounds: 1,
			EncRounds:  1, EncOCRBlocks: 1, EncOCRDocs: 2, EncOCRPages: 2,
			EventJobs: 2, EventWorkMS: 4000, EventStreams: 100, EventStreamJobs: 10, EventHold: 5 * time.Second,
		}
	}
	return Settings{
		AcceptStep: 8 * time.Second, AcceptSplit: 4, AcceptRates: []float64{25, 50, 100, 200},
		AcceptRamp:   []float64{300, 400, 600, 800, 1200, 1600},
		AcceptBisect: 2, AcceptMaxP99: 500 * time.Millisecond, AcceptInFlite: 2000, AcceptPause: 300 * time.Millisecond,
		TrivialBlocks: 4, TrivialJobs: 150, TrivialConc: 16,
		FloorRounds: 3, FloorBlock: 40, FloorSkip: 10,
		DurabilityBlocks: 1, DurabilityJobs: 100,
		FairRounds: 3, FairA: 300, FairB: 10, FairConc: 32,
		AuthRounds: 3,
		EncRounds:  3, EncOCRBlocks: 4, EncOCRDocs: 3, EncOCRPages: 8,
		EventJobs: 8, EventWorkMS: 10000, EventStreams: 1000, EventStreamJobs: 100, EventHold: 30 * time.Second,
	}
}

// Options are a run's flags, as tools/cmd/bench parses them.
type Options struct {
	// Short runs every scenario briefly, as a smoke check.
	Short bool
	// Out is the report to write; empty writes none.
	Out string
	// Scenarios are the comma-separated scenario numbers to run.
	Scenarios string
	// Temporal is the pinned temporal CLI.
	Temporal string
	// Bin is the folder holding worker and docket-api.
	Bin string
	// Keep keeps the scratch folder (databases and logs).
	Keep bool
}

// Run runs the scenarios o asks for and writes the report. Every process
// it started is stopped before it returns, whatever the outcome.
func Run(ctx context.Context, o Options) error {
	defer stopAll()
	return run(ctx, settings(o.Short), o.Out, o.Scenarios, o.Temporal, o.Bin, o.Keep)
}

// KillAll kills every process a run started without waiting for orderly
// stops: the last resort of a second Ctrl-C.
func KillAll() { killAll() }

// DefaultCLI is the temporal CLI a run uses unless told: $DOCKET_TEMPORAL_CLI
// (the Makefile sets it) or .tools/bin/temporal under the working folder.
func DefaultCLI() string {
	if p := os.Getenv("DOCKET_TEMPORAL_CLI"); p != "" {
		return p
	}
	return filepath.Join(".tools", "bin", "temporal")
}

// scenario is one numbered part of the report.
type scenario struct {
	n     int
	title string
	run   func(ctx context.Context, b *Bench, sec *Section) error
}

// Bench is what scenarios share: settings, the environment, the main
// stack and the results one scenario hands to another.
type Bench struct {
	Set  Settings
	Env  *Env
	Main *Stack // the server scenarios 1, 2, 5 and 6 share, with worker and API
	// Footprint of the main stack, filled by scenarios 2 and 6.
	Foot footprint
	// CPU profiles taken after scenario 2, for the last section.
	Profiles []profileResult
	// Scenario 3's findings, for the last section.
	Floor *floorSummary
	// The stacks with tenants that scenarios 7 and 8 share (fairness on,
	// then off), started by the first of them to run.
	Tenants []*tenantStack
	// Targets checked, for the summary at the top.
	Targets []targetRow
}

// targetRow is one target of the issue and how this run did.
type targetRow struct{ scenario, target, measured, verdict string }

// target records a checked target and returns its verdict.
func (b *Bench) target(scenario, target, measured string, ok bool) string {
	b.Targets = append(b.Targets, targetRow{scenario, target, measured, verdict(ok)})
	return verdict(ok)
}

func run(ctx context.Context, set Settings, out, only, cli, bin string, keep bool) (err error) {
	for _, p := range []string{cli, filepath.Join(bin, "worker"), filepath.Join(bin, "docket-api")} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s is missing: run `make tools build` (or `make bench`)", p)
		}
	}
	dir, err := os.MkdirTemp("", "docket-bench-")
	if err != nil {
		return err
	}
	defer func() {
		if keep || err != nil {
			fmt.Fprintf(os.Stderr, "bench: logs and databases kept in %s\n", dir)
			return
		}
		os.RemoveAll(dir)
	}()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	b := &Bench{Set: set, Env: &Env{Dir: dir, Temporal: cli, Bin: bin, Log: quiet}}

	want := map[int]bool{}
	for _, s := range strings.Split(only, ",") {
		var n int
		if _, err := fmt.Sscanf(strings.TrimSpace(s), "%d", &n); err == nil {
			want[n] = true
		}
	}
	started := time.Now()
	rep := &Report{Started: started, Header: header(set, cli, started)}
	fmt.Println(strings.Join(rep.Header, "\n"))
	fmt.Println()

	all := scenarios()
	needsMain := func(n int) bool { return n == 1 || n == 2 || n == 5 || n == 6 }
	needsTenants := func(n int) bool { return n == 7 || n == 8 }
	defer b.stopTenantStacks()
	var failed []string
	for i, sc := range all {
		if !want[sc.n] || ctx.Err() != nil {
			continue
		}
		if needsMain(sc.n) && b.Main == nil {
			if b.Main, err = startMain(ctx, b); err != nil {
				return fmt.Errorf("start the main stack: %w", err)
			}
		}
		sec := &Section{Title: sc.title, N: sc.n}
		t0 := time.Now()
		fmt.Printf("== %s\n", sc.title)
		if serr := sc.run(ctx, b, sec); serr != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failed = append(failed, fmt.Sprint(sc.n))
			sec.Para("**This scenario failed:** `%v`", serr)
		}
		if needsTenants(sc.n) && !slices.ContainsFunc(all[i+1:], func(l scenario) bool { return want[l.n] && needsTenants(l.n) }) {
			// Nothing later needs them: they would only add noise.
			b.stopTenantStacks()
		}
		sec.Para("_Scenario time: %s; load average after it: %s._", time.Since(t0).Round(time.Second), loadAvg())
		sec.Write(os.Stdout)
		rep.Sections = append(rep.Sections, sec)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	sortSections(rep.Sections)
	rep.Sections = append([]*Section{summary(b)}, rep.Sections...)
	rep.Sections = append(rep.Sections, analysis(b))
	fmt.Printf("total time %s\n", time.Since(started).Round(time.Second))
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		rep.Write(f)
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Println("wrote", out)
	}
	if len(failed) > 0 {
		return errors.New("scenarios failed: " + strings.Join(failed, ", "))
	}
	return nil
}

// sortSections puts the scenarios' sections in the order of their numbers
// (9 before 10), whatever the order they ran in.
func sortSections(secs []*Section) {
	slices.SortStableFunc(secs, func(a, b *Section) int { return cmp.Compare(a.N, b.N) })
}

// DefaultScenarios is every scenario's number, comma-separated in order:
// the -scenarios of a full run.
func DefaultScenarios() string {
	var ns []int
	for _, sc := range scenarios() {
		ns = append(ns, sc.n)
	}
	slices.Sort(ns)
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ",")
}

// scenarios are every scenario in the order a run executes them.
func scenarios() []scenario {
	// Order of execution: the latency floor first on its own quiet servers,
	// then the other scenarios on servers of their own (the cost of auth,
	// the cost of encryption, then fairness and priority, which share two
	// stacks, then the seed's Celery stack beside Docket and a worker killed
	// on both, 12 and 13, and long documents, 14) before the main stack starts, then the main stack (footprint
	// idle, trivial jobs, the OCR pipeline, then the accept path, which
	// leaves many unpolled workflows behind), then the storage comparison on
	// servers of its own.
	return []scenario{
		{3, "Scenario 3: latency floor", floorScenario},
		{9, "Scenario 9: cost of auth", authScenario},
		{10, "Scenario 10: cost of encryption", encryptionScenario},
		{11, "Scenario 11: live job events (SSE)", eventsScenario},
		{7, "Scenario 7: fairness between tenants", fairnessScenario},
		{8, "Scenario 8: priority", priorityScenario},
		{12, "Scenario 12: Celery side by side", celeryScenario},
		{13, "Scenario 13: a worker killed mid-task, Docket and Celery", lossScenario},
		{14, "Scenario 14: documents at scale", scaleScenario},
		{15, "Scenario 15: the cost of seeing (metrics and tracing)", seeingScenario},
		{2, "Scenario 2: trivial jobs end to end", trivialScenario},
		{5, "Scenario 5: OCR pipeline", ocrScenario},
		{1, "Scenario 1: accept path", acceptScenario},
		{4, "Scenario 4: durability settings", durabilityScenario},
		{6, "Scenario 6: footprint", footprintScenario},
	}
}

// startMain starts the server that scenarios 1, 2, 5 and 6 share, with the
// storage and tuning `make run` uses, and a worker and an API on task
// queue docket.
func startMain(ctx context.Context, b *Bench) (*Stack, error) {
	s, err := b.Env.StartServer(ctx, "main", storageFileWAL, tuningFast)
	if err != nil {
		return nil, err
	}
	return b.Env.StartStack(ctx, s, "docket", true)
}

func header(set Settings, cli string, started time.Time) []string {
	cores, model, mem := machine()
	mode := "full"
	if set.Short {
		mode = "short (BENCH_SHORT=1: smoke check, figures are not meaningful)"
	}
	return []string{
		fmt.Sprintf("- **Date:** %s", started.UTC().Format("2006-01-02 15:04 MST")),
		fmt.Sprintf("- **Machine:** %d cores (`nproc`), %s, %s RAM; load average at start %s (the machine is shared: only ratios within one run are meaningful)", cores, model, mem, loadAvg()),
		fmt.Sprintf("- **Versions:** %s, Temporal Go SDK %s, `%s`", runtime.Version(), sdkVersion(), serverVersion(cli)),
		fmt.Sprintf("- **Mode:** %s", mode),
		"- **Servers:** `temporal server start-dev --headless` (one history shard), search attributes DocketStatus and DocketTenant registered. " +
			"Main server (scenarios 1, 2, 5, 6): as `make run` starts it (scripts/run.sh), a SQLite file with " + joinCode(storageFileWAL.Pragmas) +
			" and the dynamic config of scenario 3: " + joinCode(tuningFast.Values) + ".",
		"- **Docket:** `bin/worker` and `bin/docket-api` as built by `make build`, default settings (so `DOCKET_GRPC_COMPRESSION=auto`: no gzip to a loopback server) except `DOCKET_LOG_LEVEL=warn`, `DOCKET_OCR_CONCURRENCY=" + fmt.Sprint(ocrConcurrency()) + "` (scenario 5), `DOCKET_OCR_CACHE=false` (blocks read the same documents again; scenario 14 turns the cache on to measure it) and `DOCKET_DATA_DIR` in the scratch folder, and no key ring: unlike `make run`, `DOCKET_ENCRYPTION_KEYS_FILE` is unset, so payloads and stored objects are plain, except on scenario 10's encrypted stack; the SDK baseline is this program's own client (`client.ExecuteWorkflow` with an id and the task queue, `WorkflowRun.Get`), also without gzip, so that the comparisons measure Docket rather than compression.",
		fmt.Sprintf("- **Trivial job:** `%s`", trivialBody),
	}
}
