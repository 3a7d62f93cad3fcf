package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/steps"
	"github.com/docket-dev/docket/workflows"
)

// sumSlice is the sum activity's slice time (activities/sum.go): a sum
// with work_ms W sleeps W/100 slices of 100 ms and heartbeats after each.
const sumSlice = 100 * time.Millisecond

// sumEnd is the range of the scenarios' long sums: 1..sumEnd.
const sumEnd = 1_000_000

// --- scenario 1 ------------------------------------------------------------

// workerKilled submits long sums, waits until they run and have recorded
// progress, then kills (SIGKILL) the worker running most of them. Every job
// must complete, those of the killed worker on the other worker, and each
// of those must resume from its last heartbeat: the attempt that completed
// it must have taken less time than the work left at the start would need.
// Then it does the same to a document job's OCR (documentResumed).
func (r *runner) workerKilled(ctx context.Context) Result {
	var res Result
	s := r.cfg.Scale
	topo := r.cfg.Topology
	since := time.Now()
	mark := r.hookMark()
	subs := r.submitBatch(ctx, "s1", s.KillJobs, func(int) []byte { return r.withNotify(sumBody(sumEnd, s.KillWorkMS)) }, submitPolicy{MaxAttempts: 10, Deadline: time.Minute})
	ids := acceptedIDs(subs)

	prefixes := map[string]string{} // "worker-<pid>@" -> component
	for _, w := range topo.Workers() {
		pid, err := topo.Pid(ctx, w)
		if err != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("pid of %s: %v", w, err))
			return r.finish(ctx, res, subs, since)
		}
		prefixes[fmt.Sprintf("worker-%d@", pid)] = w
	}
	workerOf := func(identity string) string {
		for p, w := range prefixes {
			if strings.HasPrefix(identity, p) {
				return w
			}
		}
		return ""
	}

	// Wait until every job runs with at least 30% done (a heartbeat to
	// resume from), then pick the worker that runs the most.
	var byWorker map[string]map[string]job.Progress
	deadline := time.Now().Add(time.Minute + time.Duration(s.KillWorkMS)*time.Millisecond/2)
	for {
		views := r.snapshot(ctx, ids)
		byWorker = map[string]map[string]job.Progress{}
		ready := 0
		for id, v := range views {
			st := sumStep(v)
			if v.Status != job.StatusRunning || st == nil || st.Progress == nil || st.Progress.Done*10 < st.Progress.Total*3 {
				continue
			}
			w := workerOf(st.Worker)
			if w == "" {
				continue
			}
			if byWorker[w] == nil {
				byWorker[w] = map[string]job.Progress{}
			}
			byWorker[w][id] = *st.Progress
			ready++
		}
		if ready == len(ids) || (ready > 0 && time.Now().After(deadline)) {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			res.Problems = append(res.Problems, "no job was running with recorded progress in time")
			return r.finish(ctx, res, subs, since)
		}
		time.Sleep(300 * time.Millisecond)
	}
	victim := ""
	for _, w := range topo.Workers() {
		if victim == "" || len(byWorker[w]) > len(byWorker[victim]) {
			victim = w
		}
	}
	survivor := ""
	for _, w := range topo.Workers() {
		if w != victim {
			survivor = w
			break
		}
	}
	onVictim := byWorker[victim]
	dist := []string{}
	for _, w := range topo.Workers() {
		dist = append(dist, fmt.Sprintf("%s runs %d", w, len(byWorker[w])))
	}
	r.logf("jobs running: %s; killing %s with SIGKILL", strings.Join(dist, ", "), victim)
	killedAt := time.Now()
	if err := topo.Kill(ctx, victim); err != nil {
		res.Problems = append(res.Problems, fmt.Sprintf("kill %s: %v", victim, err))
		return r.finish(ctx, res, subs, since)
	}

	// Watch the killed worker's jobs through the API while they are
	// retried: the first view of attempt 2 shows the progress Temporal hands
	// it (the last heartbeat of attempt 1), and a resumed attempt never
	// shows less than that.
	victimIDs := make([]string, 0, len(onVictim))
	for id := range onVictim {
		victimIDs = append(victimIDs, id)
	}
	sort.Strings(victimIDs)
	type retryWatch struct {
		handover, least int64
		seen            bool
	}
	watch := map[string]*retryWatch{}
	for _, id := range victimIDs {
		watch[id] = &retryWatch{}
	}
	var watchMu sync.Mutex
	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for watchCtx.Err() == nil {
			views := r.snapshot(watchCtx, victimIDs)
			ended := 0
			watchMu.Lock()
			for id, v := range views {
				if v.Status.Terminal() {
					ended++
					continue
				}
				st := sumStep(v)
				if st == nil || st.Attempt < 2 || st.Progress == nil {
					continue
				}
				w := watch[id]
				if !w.seen {
					w.seen, w.handover, w.least = true, st.Progress.Done, st.Progress.Done
				}
				w.least = min(w.least, st.Progress.Done)
			}
			watchMu.Unlock()
			if ended == len(victimIDs) {
				return
			}
			select {
			case <-watchCtx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()

	// The victim stays down until every job has ended, so that its jobs
	// can only complete on the survivor.
	res = r.finish(ctx, res, subs, since)
	stopWatch()
	<-watchDone
	res = r.checkNotifications(ctx, res, ids, mark)
	views := r.snapshot(ctx, ids)
	res.Notes = append(res.Notes, fmt.Sprintf("%s killed %s after start with %d of %d jobs on it; %s kept running",
		victim, killedAt.Sub(since).Round(100*time.Millisecond), len(onVictim), len(ids), survivor))

	slices := max(1, s.KillWorkMS/sumSlice.Milliseconds())
	resumed := 0
	for _, id := range victimIDs {
		before := onVictim[id]
		v := views[id]
		st := sumStep(v)
		short := shortID(id)
		if v.Status != job.StatusSucceeded || st == nil {
			res.Problems = append(res.Problems, fmt.Sprintf("job %s of the killed worker ended %s", short, v.Status))
			continue
		}
		if w := workerOf(st.Worker); w != survivor {
			res.Problems = append(res.Problems, fmt.Sprintf("job %s completed on %q, not on %s", short, st.Worker, survivor))
		}
		if st.Attempt < 2 {
			res.Problems = append(res.Problems, fmt.Sprintf("job %s completed in attempt %d: the killed attempt was not retried", short, st.Attempt))
		}
		if st.StartedAt == nil || st.FinishedAt == nil {
			res.Problems = append(res.Problems, fmt.Sprintf("job %s: its step has no start or finish time", short))
			continue
		}
		// Each slice left sleeps sumSlice, so the completing attempt, which
		// took took, cannot have started before slice slices-took/sumSlice.
		took := st.FinishedAt.Sub(*st.StartedAt)
		resumedAt := slices - int64(took/sumSlice)
		ok := resumedAt >= 1
		watchMu.Lock()
		w := *watch[id]
		watchMu.Unlock()
		handover := "the retry was not seen while pending"
		if w.seen {
			handover = fmt.Sprintf("the retry was handed done=%d and never showed less (least %d)", w.handover, w.least)
			if w.handover < before.Done || w.least < w.handover {
				ok = false
				handover = fmt.Sprintf("the retry showed done=%d, then least %d: below the %d done before the kill", w.handover, w.least, before.Done)
			}
		}
		sumOK := r.checkSum(ctx, id, sumEnd)
		res.Notes = append(res.Notes, fmt.Sprintf("job %s: %d/%d done when %s died; %s; attempt %d on %s took %s of %dms work, so it resumed at slice >= %d of %d; %s; result %s",
			short, before.Done, before.Total, victim, handover, st.Attempt, survivor, took.Round(10*time.Millisecond), s.KillWorkMS, max(resumedAt, 0), slices, r.retryCause(ctx, id), sumOK))
		if ok {
			resumed++
		} else {
			res.Problems = append(res.Problems, fmt.Sprintf("job %s did not resume from its last heartbeat", short))
		}
		if sumOK != "correct" {
			res.Problems = append(res.Problems, fmt.Sprintf("job %s: sum %s", short, sumOK))
		}
	}
	res.Notes = append(res.Notes, fmt.Sprintf("%d of %d jobs of the killed worker resumed from their last heartbeat on %s", resumed, len(victimIDs), survivor))
	if len(victimIDs) == 0 {
		res.Problems = append(res.Problems, "the killed worker ran no job")
	}
	if s.DocPages > 0 {
		res = r.documentResumed(ctx, res)
	}
	return res
}

func sumStep(v job.View) *job.Step {
	for i := range v.Steps {
		if v.Steps[i].Name == steps.Sum.Name {
			return &v.Steps[i]
		}
	}
	return nil
}

// retryCause reads, from the job's workflow history, the attempt that
// completed the sum step and the failure of the attempt before it (the
// history keeps only the last attempt's start, with its predecessor's
// failure; heartbeat details are not recorded there).
func (r *runner) retryCause(ctx context.Context, id string) string {
	iter := r.cfg.Temporal.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return "history unreadable: " + err.Error()
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil {
			f := a.GetLastFailure()
			if t := f.GetTimeoutFailureInfo(); t != nil {
				return fmt.Sprintf("history: ActivityTaskStarted attempt %d after a %s timeout", a.GetAttempt(), strings.ToLower(t.GetTimeoutType().String()))
			}
			return fmt.Sprintf("history: ActivityTaskStarted attempt %d after %q", a.GetAttempt(), f.GetMessage())
		}
	}
	return "history: no ActivityTaskStarted"
}

// readResult reads a finished job's result from the first replica that
// answers; problem says why it could not.
func readResult[T any](ctx context.Context, r *runner, id string) (out struct {
	Result T `json:"result"`
}, problem string) {
	for i := range r.api.urls {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.api.urls[i]+"/jobs/"+url.PathEscape(id)+"/results", nil)
		if err != nil {
			return out, err.Error()
		}
		resp, err := r.api.http.Do(req)
		if err != nil {
			continue
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return out, fmt.Sprintf("unreadable (HTTP %d)", resp.StatusCode)
		}
		return out, ""
	}
	return out, "unreadable: no replica answered"
}

// checkSum reads a sum job's result and says whether it is the right one.
func (r *runner) checkSum(ctx context.Context, id string, end int64) string {
	out, problem := readResult[job.SumResult](ctx, r, id)
	if problem != "" {
		return problem
	}
	if out.Result.Sum != sumOf(end) || out.Result.Count != end {
		return fmt.Sprintf("WRONG: sum %d count %d, want %d and %d", out.Result.Sum, out.Result.Count, sumOf(end), end)
	}
	return "correct"
}

// --- scenario 2 ------------------------------------------------------------

// serverRestarted stops the Temporal server while jobs run, keeps it down
// while clients go on submitting, and starts it again: every accepted job
// must still end.
func (r *runner) serverRestarted(ctx context.Context) Result {
	var res Result
	s := r.cfg.Scale
	topo := r.cfg.Topology
	since := time.Now()
	policy := submitPolicy{MaxAttempts: 60, Deadline: s.ServerDown + 3*time.Minute}
	mark := r.hookMark()
	subs := r.submitBatch(ctx, "s2", s.RestartJobs, func(int) []byte { return r.withNotify(sumBody(sumEnd, s.RestartWorkMS)) }, policy)
	ids := acceptedIDs(subs)
	running := r.waitRunning(ctx, ids, len(ids), time.Minute)
	r.logf("%d of %d jobs running; stopping the Temporal server", running, len(ids))

	stopStart := time.Now()
	if err := topo.Stop(ctx, "temporal"); err != nil {
		res.Problems = append(res.Problems, "stop temporal: "+err.Error())
		return r.finish(ctx, res, subs, since)
	}
	downAt := time.Now()
	// Clients keep submitting while the server is down.
	late := make([]*submission, s.DownSubmissions)
	var wg sync.WaitGroup
	for i := range late {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * s.ServerDown / time.Duration(max(1, s.DownSubmissions)))
			late[i] = r.api.submit(ctx, r.key("s2-late", i), r.withNotify(sumBody(1000, 200)), i, policy)
		}()
	}
	sleepUntil(ctx, downAt.Add(s.ServerDown))
	startAt := time.Now()
	r.logf("server down for %s; starting it again", startAt.Sub(downAt).Round(100*time.Millisecond))
	if err := topo.Start(ctx, "temporal"); err != nil {
		res.Problems = append(res.Problems, "start temporal: "+err.Error())
	}
	upAt := time.Now()
	wg.Wait()
	refused := 0
	for _, l := range late {
		for _, a := range l.Attempts {
			if a.Status != http.StatusAccepted && a.Status != http.StatusOK {
				refused++
			}
		}
	}
	all := append(subs, late...)
	res = r.finish(ctx, res, all, since)
	res = r.checkNotifications(ctx, res, acceptedIDs(all), mark)
	retried := 0
	for _, v := range r.snapshot(ctx, ids) {
		if st := sumStep(v); st != nil && st.Attempt > 1 {
			retried++
		}
	}
	res.Notes = append(res.Notes,
		fmt.Sprintf("%d of %d jobs were running when the server was stopped (SIGTERM, %s to exit); it stayed down %s and answered health checks %s after its start",
			running, len(ids), downAt.Sub(stopStart).Round(100*time.Millisecond), startAt.Sub(downAt).Round(100*time.Millisecond), upAt.Sub(startAt).Round(100*time.Millisecond)),
		fmt.Sprintf("of the %d running jobs, %d finished in their first attempt and %d after a retry (heartbeat timeout during the outage)", len(ids), len(ids)-retried, retried),
		fmt.Sprintf("%d submissions during the outage: %d refused attempts (503 or no answer) were retried with the same key until accepted: %d accepted",
			len(late), refused, countAccepted(late)))
	return res
}

// --- scenario 3 ------------------------------------------------------------

// apiKilled has several clients submit through both replicas while one
// replica is killed with SIGKILL (and later started again). Clients retry
// failed submissions on the other replica with the same Idempotency-Key.
func (r *runner) apiKilled(ctx context.Context) Result {
	var res Result
	s := r.cfg.Scale
	topo := r.cfg.Topology
	since := time.Now()
	total := s.APIClients * s.APIJobsPerClient
	subs := make([]*submission, total)
	var accepted atomic.Int64
	var wg sync.WaitGroup
	policy := submitPolicy{MaxAttempts: 30, Deadline: 2 * time.Minute}
	for c := 0; c < s.APIClients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < s.APIJobsPerClient; j++ {
				i := c*s.APIJobsPerClient + j
				subs[i] = r.api.submit(ctx, r.key("s3", i), sumBody(1000, 300), c+j, policy)
				if subs[i].Accepted {
					accepted.Add(1)
				}
				time.Sleep(40 * time.Millisecond)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	waitFor := func(n int64, limit time.Duration) {
		end := time.Now().Add(limit)
		for accepted.Load() < n && time.Now().Before(end) {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	victim := topo.APIs()[0]
	waitFor(int64(total/3), time.Minute)
	killedAfter := accepted.Load()
	r.logf("%d of %d submissions accepted; killing %s with SIGKILL", killedAfter, total, victim)
	if err := topo.Kill(ctx, victim); err != nil {
		res.Problems = append(res.Problems, fmt.Sprintf("kill %s: %v", victim, err))
	}
	waitFor(int64(2*total/3), time.Minute)
	restartedAfter := accepted.Load()
	r.logf("%d of %d submissions accepted; starting %s again", restartedAfter, total, victim)
	if err := topo.Start(ctx, victim); err != nil {
		res.Problems = append(res.Problems, fmt.Sprintf("start %s: %v", victim, err))
	}
	<-done

	failedAttempts, recovered, recoveredExisting := 0, 0, 0
	for _, sub := range subs {
		for _, a := range sub.Attempts {
			if a.Status == 0 {
				failedAttempts++
			}
		}
		if sub.Recovered {
			recovered++
			if last := sub.Attempts[len(sub.Attempts)-1]; last.Status == http.StatusOK {
				recoveredExisting++
			}
		}
	}
	res = r.finish(ctx, res, subs, since)
	res.Notes = append(res.Notes,
		fmt.Sprintf("%d clients, %d submissions; %s killed after %d were accepted, started again after %d",
			s.APIClients, total, victim, killedAfter, restartedAfter),
		fmt.Sprintf("%d attempts got no answer (connection refused or cut by the kill); %d submissions were accepted only on a retry with the same key, %d of them with 200 (the job the lost request had already started)",
			failedAttempts, recovered, recoveredExisting))
	return res
}

// --- scenario 4 ------------------------------------------------------------

// workersDown stops every worker, submits jobs while they are down, checks
// that the API accepts them and shows them QUEUED, then starts the workers
// again: every job must complete.
func (r *runner) workersDown(ctx context.Context) Result {
	var res Result
	s := r.cfg.Scale
	topo := r.cfg.Topology
	since := time.Now()
	mark := r.hookMark()
	for _, w := range topo.Workers() {
		if err := topo.Stop(ctx, w); err != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("stop %s: %v", w, err))
		}
	}
	downAt := time.Now()
	r.logf("all workers stopped; submitting %d jobs over the next %s", s.QueuedJobs, s.WorkersDown/2)
	subs := make([]*submission, s.QueuedJobs)
	policy := submitPolicy{MaxAttempts: 10, Deadline: 30 * time.Second}
	spacing := s.WorkersDown / 2 / time.Duration(max(1, s.QueuedJobs))
	for i := range subs {
		subs[i] = r.api.submit(ctx, r.key("s4", i), r.withNotify(sumBody(10000, 500)), i, policy)
		time.Sleep(spacing)
	}
	ids := acceptedIDs(subs)
	firstTry := 0
	for _, sub := range subs {
		if sub.Accepted && len(sub.Attempts) == 1 && sub.Attempts[0].Status == http.StatusAccepted {
			firstTry++
		}
	}
	if firstTry != len(subs) {
		res.Problems = append(res.Problems, fmt.Sprintf("only %d of %d submissions were accepted (202) at the first attempt while the workers were down", firstTry, len(subs)))
	}
	views := r.snapshot(ctx, ids)
	queued := 0
	for _, id := range ids {
		if v, ok := views[id]; ok && v.Status == job.StatusQueued {
			queued++
		} else {
			res.Problems = append(res.Problems, fmt.Sprintf("job %s showed %q while no worker ran", shortID(id), v.Status))
		}
	}
	listed := 0
	for try := 0; try < 20; try++ {
		got, err := r.api.list(ctx, url.Values{"status": {string(job.StatusQueued)}, "type": {job.TypeSum}}, 20)
		if err == nil {
			listed = 0
			for _, id := range ids {
				if got[id] == job.StatusQueued {
					listed++
				}
			}
			if listed == len(ids) {
				break
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	if listed != len(ids) {
		res.Problems = append(res.Problems, fmt.Sprintf("GET /jobs?status=QUEUED listed %d of %d jobs", listed, len(ids)))
	}
	sleepUntil(ctx, downAt.Add(s.WorkersDown))
	downFor := time.Since(downAt)
	r.logf("workers down for %s; starting them again", downFor.Round(100*time.Millisecond))
	var upAt time.Time
	for _, w := range topo.Workers() {
		if err := topo.Start(ctx, w); err != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("start %s: %v", w, err))
		}
		if upAt.IsZero() {
			upAt = time.Now()
		}
	}
	res = r.finish(ctx, res, subs, since)
	res = r.checkNotifications(ctx, res, ids, mark)
	res.Notes = append(res.Notes,
		fmt.Sprintf("workers down for %s: %d of %d submissions accepted with 202 at once, %d showed QUEUED in GET /jobs/{id}, %d in GET /jobs?status=QUEUED",
			downFor.Round(100*time.Millisecond), firstTry, len(subs), queued, listed),
		fmt.Sprintf("all ended %s after the first worker was back", time.Since(upAt).Round(100*time.Millisecond)))
	return res
}

// --- shared ------------------------------------------------------------------

// submitBatch submits n jobs, four at a time, alternating the replicas.
func (r *runner) submitBatch(ctx context.Context, scenario string, n int, body func(int) []byte, p submitPolicy) []*submission {
	subs := make([]*submission, n)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := range subs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			subs[i] = r.api.submit(ctx, r.key(scenario, i), body(i), i, p)
		}()
	}
	wg.Wait()
	return subs
}

func acceptedIDs(subs []*submission) []string {
	var ids []string
	seen := map[string]bool{}
	for _, s := range subs {
		if s != nil && s.Accepted && !seen[s.ID] {
			seen[s.ID] = true
			ids = append(ids, s.ID)
		}
	}
	return ids
}

func countAccepted(subs []*submission) int {
	n := 0
	for _, s := range subs {
		if s != nil && s.Accepted {
			n++
		}
	}
	return n
}

// snapshot reads the current view of each job (those that answer).
func (r *runner) snapshot(ctx context.Context, ids []string) map[string]job.View {
	out := map[string]job.View{}
	var mu sync.Mutex
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if v, notFound, err := r.api.get(ctx, id, i); err == nil && !notFound {
				mu.Lock()
				out[id] = v
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

// waitRunning waits until n of the jobs are RUNNING with progress.
func (r *runner) waitRunning(ctx context.Context, ids []string, n int, limit time.Duration) int {
	end := time.Now().Add(limit)
	best := 0
	for time.Now().Before(end) && ctx.Err() == nil {
		running := 0
		for _, v := range r.snapshot(ctx, ids) {
			if st := sumStep(v); v.Status == job.StatusRunning && st != nil && st.Progress != nil && st.Progress.Done > 0 {
				running++
			}
		}
		best = max(best, running)
		if running >= n {
			return running
		}
		time.Sleep(300 * time.Millisecond)
	}
	return best
}

// finish waits for the scenario's accepted jobs to end and counts them:
// succeeded, failed, lost; and duplicates, from the answers each key got
// and from Temporal's own list of the workflows started since the
// scenario began, which must hold exactly one run per accepted job.
func (r *runner) finish(ctx context.Context, res Result, subs []*submission, since time.Time) Result {
	keyOf := map[string]string{}
	var ids []string
	var gaveUp []string
	for _, s := range subs {
		if s == nil {
			continue
		}
		res.Submitted++
		if s.GaveUp != "" {
			gaveUp = append(gaveUp, fmt.Sprintf("%s: %s", s.Key, s.GaveUp))
		}
		if !s.Accepted {
			continue
		}
		res.Accepted++
		if len(s.IDs) > 1 || s.Created > 1 {
			res.Duplicated++
			res.Problems = append(res.Problems, fmt.Sprintf("key %s was answered with %d job ids and created %d times", s.Key, len(s.IDs), s.Created))
		}
		if other, ok := keyOf[s.ID]; ok {
			res.Problems = append(res.Problems, fmt.Sprintf("keys %s and %s were answered with the same job %s", other, s.Key, s.ID))
			continue
		}
		keyOf[s.ID] = s.Key
		ids = append(ids, s.ID)
	}
	if len(gaveUp) > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("%d submissions were never accepted: %s", len(gaveUp), joinLimited(gaveUp, 3)))
	}

	views, missing := r.api.waitTerminal(ctx, ids, r.cfg.Scale.JobDeadline)
	var lost, failed []string
	for _, id := range ids {
		v, ok := views[id]
		switch {
		case missing[id]:
			lost = append(lost, shortID(id)+" unknown (404)")
		case !ok:
			lost = append(lost, shortID(id)+" never answered")
		case !v.Status.Terminal():
			lost = append(lost, fmt.Sprintf("%s still %s", shortID(id), v.Status))
		case v.Status == job.StatusSucceeded:
			res.Succeeded++
		default:
			res.Failed++
			msg := string(v.Status)
			if v.Error != nil {
				msg += ": " + string(v.Error.Type) + ": " + v.Error.Message
			}
			failed = append(failed, shortID(id)+" "+msg)
		}
	}
	res.Lost += len(lost)
	if len(lost) > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("%d accepted jobs did not end within %s: %s", len(lost), r.cfg.Scale.JobDeadline, joinLimited(lost, 5)))
	}
	if len(failed) > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d jobs failed: %s", len(failed), joinLimited(failed, 5)))
	}

	runs, err := r.workflowsSince(ctx, since, keyOf)
	if err != nil {
		res.Problems = append(res.Problems, "list Temporal's workflows: "+err.Error())
		return res
	}
	var extra []string
	for id, n := range runs {
		if _, ok := keyOf[id]; !ok {
			res.Duplicated += n
			extra = append(extra, id)
		} else if n > 1 {
			res.Duplicated += n - 1
			extra = append(extra, fmt.Sprintf("%s (%d runs)", id, n))
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		res.Problems = append(res.Problems, fmt.Sprintf("Temporal has %d workflows no accepted submission accounts for: %s", len(extra), joinLimited(extra, 5)))
	}
	inTemporal := 0
	for _, id := range ids {
		if runs[id] > 0 {
			inTemporal++
		}
	}
	res.Notes = append(res.Notes, fmt.Sprintf("Temporal lists %d workflows started during the scenario for %d accepted keys (%d distinct job ids)", len(runs), res.Accepted, len(ids)))
	if inTemporal != len(ids) {
		res.Problems = append(res.Problems, fmt.Sprintf("Temporal's list holds %d of the %d accepted jobs", inTemporal, len(ids)))
	}
	return res
}

// workflowsSince counts the runs of each Docket workflow Temporal started
// since the given time. Visibility trails the executions a little, so it
// lists again until every expected id is there (or a few seconds pass).
func (r *runner) workflowsSince(ctx context.Context, since time.Time, expected map[string]string) (map[string]int, error) {
	names := workflows.Kinds.Names()
	quoted := make([]string, len(names))
	for i, t := range names {
		quoted[i] = "'" + t + "'"
	}
	query := fmt.Sprintf("WorkflowType IN (%s) AND StartTime >= '%s'", strings.Join(quoted, ", "),
		since.Add(-500*time.Millisecond).UTC().Format(time.RFC3339Nano))
	var runs map[string]int
	for try := 0; try < 20; try++ {
		runs = map[string]int{}
		var token []byte
		for page := 0; page < 50; page++ {
			lctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			resp, err := r.cfg.Temporal.ListWorkflow(lctx, &workflowservice.ListWorkflowExecutionsRequest{
				PageSize: 1000, NextPageToken: token, Query: query,
			})
			cancel()
			if err != nil {
				return nil, err
			}
			for _, e := range resp.GetExecutions() {
				runs[e.GetExecution().GetWorkflowId()]++
			}
			token = resp.GetNextPageToken()
			if len(token) == 0 {
				break
			}
		}
		complete := true
		for id := range expected {
			if runs[id] == 0 {
				complete = false
			}
		}
		if complete {
			return runs, nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return runs, nil
}

func sleepUntil(ctx context.Context, t time.Time) {
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(t)):
	}
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
