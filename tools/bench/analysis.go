package bench

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// analysis is the closing section: where the time goes and what would
// close the gaps. Its figures come from this run (scenario 3's tables and
// the perf profiles taken after scenario 2); the explanations come from
// reading Temporal Server 1.29.1's source.
func analysis(b *Bench) *Section {
	sec := &Section{Title: "Where the time goes"}
	if f := b.Floor; f != nil {
		sec.Para("**The 50 ms per hop.** Every workflow or activity task is written by the history service as a *transfer task* and read back by the shard's transfer queue reader, which hands it to matching. "+
			"That reader is rate limited by `history.transferProcessorMaxPollRPS`, default 20 reads per second per shard with a burst of 20, and the dev server has a single history shard. "+
			"While jobs run back to back the burst is spent and every read waits for the next token: one task dispatch every 1/20 s = 50 ms. "+
			"Eager workflow start skips the transfer queue for the first workflow task (hence 5 ms in the issue); eager activity execution would skip it for activities, but the server ignores the SDK's "+
			"eager request unless `system.enableActivityEagerExecution` is true, which it is not by default. In this run, with Temporal's defaults, the gaps were %s ms (start → first workflow task), "+
			"%s ms (activity scheduled → started) and %s ms (activity done → second workflow task) at p50; with `make run`'s settings %s, %s and %s ms.",
			ms(f.todayHops[hopNames[0]].P(0.5)), ms(f.todayHops[hopNames[2]].P(0.5)), ms(f.todayHops[hopNames[4]].P(0.5)),
			ms(f.hops[hopNames[0]].P(0.5)), ms(f.hops[hopNames[2]].P(0.5)), ms(f.hops[hopNames[4]].P(0.5)))
		st := &Table{Header: []string{"settings (each adds to the row above)", "Docket API p50 ms", "bare SDK p50 ms", "server: start → closed p50 ms", "closed → result at the client p50 ms"}}
		for _, x := range f.steps {
			st.Add(x.label, ms(x.api), ms(x.sdk), ms(x.closed), ms(x.result))
		}
		sec.Para("**What each of `make run`'s settings does** (scenario 3's rows, one setting added per row; the file keeps WAL and `synchronous=NORMAL` throughout):")
		sec.Table(st)
		sec.Para("**None of them changes durability.** The rate limits only pace reads of tasks that are already committed, and an eager activity's start is recorded in the same transaction that completes the workflow task, "+
			"so these settings change neither what is written nor when. One partition per task queue (the default is four) means a queue's few pollers all wait on the partition every task lands on: "+
			"with four, a task on a partition where no poller waits is forwarded or backlogged while another partition's poller idles, which matters most for the OCR queue's two slots (scenario 5). "+
			"A queue that needs more than one partition's throughput needs more than the one-shard dev server anyway. "+
			"The visibility queue keeps its default rate: it is not on a job's path, and reading it at 1,000/s (tried) made every visibility task a queue slice of its own, merged with each pending one, "+
			"for about a fifth more server CPU per job. "+
			"`make run` (scripts/run.sh) starts the dev server with %s and %s.", joinCode(dcFlags(tuningFast)), joinCode(pragmaFlags(storageFileWAL)))
		per := func(op string) (float64, string) {
			v := f.ops[op]
			if v.N == 0 {
				return 0, "-"
			}
			return v.N / float64(max(f.opJobs, 1)), ms(time.Duration(v.Sum / v.N * float64(time.Second)))
		}
		dN, dMs := per("DescribeWorkflowExecution")
		qN, qMs := per("QueryWorkflow")
		pN, _ := per("PollWorkflowExecutionHistory")
		hN, hMs := per("RecordActivityTaskHeartbeat")
		if qN >= 0.5 || dN > 1.5 || pN > 1.5 {
			sec.Para("**The API's result read costs extra round trips.** `GET /jobs/{id}/results?wait=…` made per job %.1f `DescribeWorkflowExecution` (%s ms each), "+
				"%.1f `QueryWorkflow` (%s ms each: the `status` query goes through matching to a worker) and %.1f history long polls, where the SDK makes one long poll. "+
				"Reading the status from the describe alone, passing its run id to `GetWorkflow` and taking the result from the long poll itself removes them.",
				dN, dMs, qN, qMs, pN)
		} else {
			sec.Para("**Between the API and the bare SDK** (p50 %s against %s ms on `make run`'s configuration) there is little left: the result read costs "+
				"%.1f `DescribeWorkflowExecution` (%s ms) and %.1f history long poll per job, the SDK's `Get` one long poll; `POST /jobs` takes %s ms at p50 "+
				"where `ExecuteWorkflow` takes %s ms (the HTTP hop, the request's validation, and the search attribute and memo the job carries).",
				ms(f.api), ms(f.sdk), dN, dMs, pN, ms(f.post), ms(f.exec))
		}
		if hN >= 0.5 {
			sec.Para("**The sum step itself** heartbeats after its only slice even with work_ms 0: %.1f `RecordActivityTaskHeartbeat` per job, %s ms each, synchronous in the SDK for the first heartbeat. "+
				"Skipping the heartbeat when the slice is the last one (the completion follows at once) removes that round trip from every job.", hN, hMs)
		}
	}
	for _, p := range b.Profiles {
		if p.err != nil {
			sec.Para("CPU profile of %s: not taken (%v).", p.process, p.err)
			continue
		}
		sec.Para("**CPU profile of %s** during one more block of scenario 2's API jobs (perf, 499 Hz, call graphs): self time by package, and the inclusive time of `%s…` functions.", p.process, p.focus)
		sec.Table(shareTable("package", p.byPkg, 10))
		sec.Table(shareTable("function (inclusive)", p.inclusive, 10))
	}
	var gz []string
	for _, p := range b.Profiles {
		for _, sh := range p.byPkg {
			if sh.What == "compress/flate" && p.err == nil {
				gz = append(gz, fmt.Sprintf("%.1f%% of the %s's samples", sh.Pct, p.process))
			}
		}
	}
	if len(gz) > 0 {
		sec.Para("**gzip on loopback.** `compress/flate` takes %s: Temporal Go SDK 1.50 gzips every request by default (`client.ConnectionOptions.GrpcCompression`), "+
			"and the server answers in kind. Docket's processes turn it off for a loopback server (`DOCKET_GRPC_COMPRESSION=auto`, the default); check that the variable is not set to gzip here.", strings.Join(gz, ", "))
	}
	sec.Para("**Throughput** is bounded by the dev server's CPU (scenario 6: its CPU seconds per 1,000 jobs dwarf the API's and the worker's): every job costs SQLite transactions for the execution, " +
		"its history, its tasks and three visibility rows (start, Docket's `DocketStatus` upsert, close), each statement parsed afresh by the pure-Go SQLite " +
		"(`modernc.org/sqlite/lib` and the visibility task executor in the server's profile). Scenario 2's *SDK, Docket's start options* row separates what Docket's job model costs Temporal " +
		"(execution timeout timer, search attribute, memo) from what the API process adds.")
	return sec
}

// pragmaFlags spells a storage's pragmas as start-dev flags.
func pragmaFlags(st Storage) []string {
	var out []string
	for _, p := range st.Pragmas {
		out = append(out, fmt.Sprintf("--sqlite-pragma %s", p))
	}
	return out
}

// dcFlags spells a tuning as start-dev flags.
func dcFlags(t Tuning) []string {
	var out []string
	for _, v := range t.Values {
		out = append(out, fmt.Sprintf("--dynamic-config-value %s", v))
	}
	return out
}

// summary is the report's first section: every target checked in this run.
func summary(b *Bench) *Section {
	sec := &Section{Title: "Targets"}
	if len(b.Targets) == 0 {
		sec.Para("No target was checked in this run.")
		return sec
	}
	t := &Table{Header: []string{"scenario", "target", "this run", "verdict"}}
	slices.SortStableFunc(b.Targets, func(x, y targetRow) int { return byScenario(x.scenario, y.scenario) })
	for _, r := range b.Targets {
		t.Add(r.scenario, r.target, r.measured, r.verdict)
	}
	sec.Table(t)
	return sec
}

// byScenario orders scenario numbers as numbers (9 before 10), and any
// that is not one after them, as text.
func byScenario(x, y string) int {
	nx, errx := strconv.Atoi(x)
	ny, erry := strconv.Atoi(y)
	switch {
	case errx == nil && erry == nil:
		return cmp.Compare(nx, ny)
	case errx == nil:
		return -1
	case erry == nil:
		return 1
	}
	return strings.Compare(x, y)
}
