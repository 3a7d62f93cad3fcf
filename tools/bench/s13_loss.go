package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
)

// lossSize is scenario 13's size: jobs of work each.
func lossSize(set Settings) (jobs int, work time.Duration) {
	if set.Short {
		return 6, 2 * time.Second
	}
	return 50, 5 * time.Second
}

// lossScenario runs the same slow jobs on Docket (two workers) and on the
// seed's Celery stack (one worker, two pool processes), SIGKILLs one worker
// process mid-task, and counts what each completes, runs twice or loses.
func lossScenario(ctx context.Context, b *Bench, sec *Section) error {
	tools, err := findCelery()
	if err != nil {
		fmt.Println("   skipped:", err)
		sec.Para("Skipped: %v.", err)
		return nil
	}
	jobs, work := lossSize(b.Set)
	res, err := runLoss(ctx, b.Env, tools, jobs, work)
	if err != nil {
		return err
	}
	res.report(sec, tools, jobs, work)
	return nil
}

// lossRun is one request a job's body made to the counting server.
type lossRun struct {
	pid     int // the Celery pool process, from the URL; 0 for Docket
	start   time.Time
	end     time.Time // zero while in flight
	served  bool      // the answer went out whole; false: the client went away
	aborted bool
}

// lossCounter is the side effect both systems' job bodies have: each job
// fetches /loss/<job key> from it, and it counts every request per key,
// holding each answer for the job's length. A key with two requests is a
// job whose body ran twice.
type lossCounter struct {
	work time.Duration
	mu   sync.Mutex
	runs map[string][]*lossRun
	srv  *http.Server
	URL  string // http://127.0.0.1:<port>/loss
}

// lossPage is what the counting server answers: a few words to count.
const lossPage = "the quick brown fox jumps over the lazy dog\n"

func startLossCounter(work time.Duration) (*lossCounter, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &lossCounter{work: work, runs: map[string][]*lossRun{}, URL: "http://" + l.Addr().String() + "/loss"}
	c.srv = &http.Server{Handler: c, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = c.srv.Serve(l) }()
	return c, nil
}

func (c *lossCounter) Close() { _ = c.srv.Close() }

func (c *lossCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := path.Base(r.URL.Path)
	run := &lossRun{start: time.Now()}
	run.pid, _ = strconv.Atoi(r.URL.Query().Get("pid"))
	c.mu.Lock()
	c.runs[key] = append(c.runs[key], run)
	c.mu.Unlock()
	select {
	case <-time.After(c.work):
	case <-r.Context().Done():
		// The client is gone (its process was killed): this execution
		// never finished.
		c.mu.Lock()
		run.end, run.aborted = time.Now(), true
		c.mu.Unlock()
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := io.WriteString(w, lossPage)
	c.mu.Lock()
	run.end, run.served = time.Now(), err == nil
	c.mu.Unlock()
}

// snapshot copies the runs of the keys with prefix.
func (c *lossCounter) snapshot(prefix string) map[string][]lossRun {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]lossRun{}
	for k, rs := range c.runs {
		if strings.HasPrefix(k, prefix) {
			for _, r := range rs {
				out[k] = append(out[k], *r)
			}
		}
	}
	return out
}

// lossSide is one system's outcome.
type lossSide struct {
	name      string
	jobs      int
	completed int // the system says the job succeeded
	failed    int // the system says the job failed
	unknown   int // no outcome within the bound
	execs     int // requests to the counting server
	twice     int // jobs whose body started more than once
	servedTwo int // jobs whose body ran to its end more than once
	onVictim  int // jobs running on the killed process when it died
	victim    string
	took      time.Duration // submission to the last outcome
	notes     []string
}

// tally fills the side's counts from the counting server's runs.
func (s *lossSide) tally(runs map[string][]lossRun) {
	for _, rs := range runs {
		s.execs += len(rs)
		if len(rs) > 1 {
			s.twice++
		}
		served := 0
		for _, r := range rs {
			if r.served {
				served++
			}
		}
		if served > 1 {
			s.servedTwo++
		}
	}
}

// lossResult is scenario 13's two sides.
type lossResult struct{ docket, celery lossSide }

// runLoss runs the experiment on Docket, then on Celery, each with its own
// processes, all stopped before it returns.
func runLoss(ctx context.Context, e *Env, tools celeryTools, jobs int, work time.Duration) (*lossResult, error) {
	counter, err := startLossCounter(work)
	if err != nil {
		return nil, err
	}
	defer counter.Close()
	res := &lossResult{}
	if res.docket, err = lossDocket(ctx, e, counter, jobs, work); err != nil {
		return nil, fmt.Errorf("docket: %w", err)
	}
	if res.celery, err = lossCelery(ctx, e, tools, counter, jobs, work); err != nil {
		return nil, fmt.Errorf("celery: %w", err)
	}
	return res, nil
}

// waitInFlight waits until want keys of prefix each have a run that has
// been in flight for at least least (mid-task), for at most limit; it
// returns those runs by key.
func waitInFlight(ctx context.Context, counter *lossCounter, prefix string, want int, least time.Duration, limit time.Duration) (map[string]lossRun, error) {
	deadline := time.Now().Add(limit)
	for {
		inFlight := map[string]lossRun{}
		for k, rs := range counter.snapshot(prefix) {
			last := rs[len(rs)-1]
			if last.end.IsZero() && time.Since(last.start) >= least {
				inFlight[k] = last
			}
		}
		if len(inFlight) >= want {
			return inFlight, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d jobs in flight for %s after %s, want %d", len(inFlight), least, limit, want)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// jobView is the part of GET /jobs/{id} the experiment reads.
type jobView struct {
	Status string `json:"status"`
	Steps  []struct {
		Attempt int    `json:"attempt"`
		Worker  string `json:"worker"`
	} `json:"steps"`
}

func (a *apiJobs) view(ctx context.Context, id string) (jobView, error) {
	var v jobView
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/jobs/"+id, nil)
	if err != nil {
		return v, err
	}
	a.authorize(req)
	resp, err := a.http.Do(req)
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return v, fmt.Errorf("GET /jobs/%s: %s: %s", id, resp.Status, b)
	}
	return v, json.Unmarshal(b, &v)
}

// lossDocket: a server, an API and two workers; wordcount jobs fetch from
// the counting server; once every job is mid-fetch, the worker running the
// most is SIGKILLed, as tools/chaos kills one, and stays down.
func lossDocket(ctx context.Context, e *Env, counter *lossCounter, jobs int, work time.Duration) (lossSide, error) {
	side := lossSide{name: "Docket", jobs: jobs}
	srv, err := e.StartServer(ctx, "loss", storageFileWAL, tuningFast)
	if err != nil {
		return side, err
	}
	defer srv.Stop()
	// The counting server is on loopback, which wordcount refuses unless
	// the worker allows it.
	allow := []string{"DOCKET_FETCH_ALLOW_HOSTS=127.0.0.1"}
	st, err := e.StartStackWith(ctx, srv, "docket", true, nil, allow)
	if err != nil {
		return side, err
	}
	defer st.Stop()
	second, err := startProc("worker-loss-2", st.Worker.Log+".2", append(e.stackEnv(srv, "docket"), allow...), filepath.Join(e.Bin, "worker"))
	if err != nil {
		return side, err
	}
	defer second.Stop(10 * time.Second)
	workers := map[string]*Proc{fmt.Sprintf("worker-%d@", st.Worker.PID()): st.Worker, fmt.Sprintf("worker-%d@", second.PID()): second}
	// Both workers must poll before the jobs go in, or the first takes
	// them all.
	err = waitFor(ctx, 30*time.Second, func() error {
		if second.Exited() {
			return fmt.Errorf("second worker exited:\n%s", second.Tail(20))
		}
		for _, typ := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
			resp, err := srv.client.DescribeTaskQueue(ctx, st.TaskQueue, typ)
			if err != nil {
				return err
			}
			polling := 0
			for prefix := range workers {
				if slices.ContainsFunc(resp.GetPollers(), func(p *taskqueuepb.PollerInfo) bool { return strings.HasPrefix(p.GetIdentity(), prefix) }) {
					polling++
				}
			}
			if polling < len(workers) {
				return fmt.Errorf("%d of %d workers poll %s tasks", polling, len(workers), typ)
			}
		}
		return nil
	})
	if err != nil {
		return side, err
	}
	api := newAPIJobs(st.APIURL)

	started := time.Now()
	ids := make([]string, jobs)
	for i := range jobs {
		body := fmt.Sprintf(`{"type":"wordcount","input":{"url":"%s/docket-%d"}}`, counter.URL, i)
		if ids[i], _, err = api.submit(ctx, body); err != nil {
			return side, err
		}
	}
	// Mid-task: every job's fetch has run for a fifth of its length.
	if _, err := waitInFlight(ctx, counter, "docket-", jobs, work/5, time.Minute); err != nil {
		return side, err
	}
	byWorker := map[*Proc][]string{}
	for _, id := range ids {
		v, err := api.view(ctx, id)
		if err != nil {
			return side, err
		}
		for prefix, p := range workers {
			if len(v.Steps) > 0 && strings.HasPrefix(v.Steps[0].Worker, prefix) {
				byWorker[p] = append(byWorker[p], id)
			}
		}
	}
	victim := st.Worker
	if len(byWorker[second]) > len(byWorker[victim]) {
		victim = second
	}
	side.onVictim = len(byWorker[victim])
	side.victim = fmt.Sprintf("one of the two `bin/worker` processes (pid %d, SIGKILL to its process group), with %d of the %d jobs on it; the other had %d",
		victim.PID(), side.onVictim, jobs, jobs-side.onVictim)
	if err := killGroup(victim); err != nil {
		return side, err
	}

	// Every job's outcome, within a bound: the heartbeat timeout that
	// hands a killed attempt to the other worker (wordcount's, 20 s), the
	// job again, and a margin.
	bound := time.Now().Add(20*time.Second + 2*work + time.Minute)
	outcome := map[string]string{}
	for len(outcome) < jobs && time.Now().Before(bound) && ctx.Err() == nil {
		for _, id := range ids {
			if _, done := outcome[id]; done {
				continue
			}
			v, err := api.view(ctx, id)
			if err != nil {
				continue
			}
			switch v.Status {
			case "SUCCEEDED", "FAILED", "CANCELED", "TIMED_OUT":
				outcome[id] = v.Status
				side.took = time.Since(started)
				if v.Status != "SUCCEEDED" {
					side.notes = append(side.notes, fmt.Sprintf("job %s ended %s", id, v.Status))
				}
			}
		}
		if len(outcome) < jobs {
			time.Sleep(500 * time.Millisecond)
		}
	}
	if ctx.Err() != nil {
		return side, ctx.Err()
	}
	for _, id := range ids {
		switch outcome[id] {
		case "SUCCEEDED":
			side.completed++
		case "":
			side.unknown++
		default:
			side.failed++
		}
	}
	side.tally(counter.snapshot("docket-"))
	return side, nil
}

// killGroup SIGKILLs p's process group, as tools/chaos kills a worker,
// and waits for it to end.
func killGroup(p *Proc) error {
	if err := syscall.Kill(-p.PID(), syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %s: %w", p.Name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s survived SIGKILL", p.Name)
	}
}

// lossCelery: Redis and the seed's worker (two pool processes); the
// driver submits count_words tasks on the counting server; once both pool
// processes are mid-task, one of them is SIGKILLed, as a crash or the
// kernel's OOM killer ends a task's process.
func lossCelery(ctx context.Context, e *Env, tools celeryTools, counter *lossCounter, jobs int, work time.Duration) (lossSide, error) {
	side := lossSide{name: "Celery", jobs: jobs}
	cs, err := e.startCelery(ctx, "loss", tools)
	if err != nil {
		return side, err
	}
	defer cs.Stop()
	pool := cs.poolPIDs()
	if len(pool) != 2 {
		return side, fmt.Errorf("the celery worker has pool processes %v, want two", pool)
	}
	// The bound: the jobs one at a time on one process, and a margin; an
	// outcome still missing then is lost as far as a user can tell.
	bound := time.Duration(jobs)*work + time.Minute
	type driven struct {
		out []byte
		err error
	}
	done := make(chan driven, 1)
	started := time.Now()
	go func() {
		out, err := cs.driver(ctx, []string{"BENCH_LOSS_URL=" + counter.URL}, "loss", "celery", fmt.Sprint(jobs), fmt.Sprint(bound.Seconds()))
		done <- driven{out, err}
	}()
	inFlight, err := waitInFlight(ctx, counter, "celery-", min(2, jobs), work/5, time.Minute)
	if err != nil {
		return side, err
	}
	var victim int
	for _, k := range slices.Sorted(maps.Keys(inFlight)) {
		if r := inFlight[k]; slices.Contains(pool, r.pid) {
			victim = r.pid
			break
		}
	}
	if victim == 0 {
		return side, fmt.Errorf("no job in flight on a pool process of %v", pool)
	}
	for _, r := range inFlight {
		if r.pid == victim {
			side.onVictim++
		}
	}
	side.victim = fmt.Sprintf("one of the two pool processes (pid %d, SIGKILL) of the one Celery worker, with %d job running on it; the worker's main process starts a new one", victim, side.onVictim)
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		return side, fmt.Errorf("kill pool process %d: %w", victim, err)
	}
	d := <-done
	if d.err != nil {
		return side, d.err
	}
	side.took = time.Since(started)
	var v struct {
		Jobs []struct {
			ID    string  `json:"id"`
			State string  `json:"state"`
			Error *string `json:"error"`
		} `json:"jobs"`
	}
	if err := json.Unmarshal(d.out, &v); err != nil {
		return side, fmt.Errorf("driver.py loss printed %q: %w", d.out, err)
	}
	if len(v.Jobs) != jobs {
		return side, errors.New("driver.py loss did not report every job")
	}
	for _, j := range v.Jobs {
		switch j.State {
		case "SUCCESS":
			side.completed++
		case "FAILURE", "REVOKED":
			side.failed++
		default:
			side.unknown++
		}
		if j.State != "SUCCESS" && j.Error != nil {
			side.notes = append(side.notes, fmt.Sprintf("task %s ended %s: `%s`", j.ID, j.State, strings.TrimSpace(*j.Error)))
		}
	}
	side.tally(counter.snapshot("celery-"))
	return side, nil
}

func (r *lossResult) report(sec *Section, tools celeryTools, jobs int, work time.Duration) {
	sec.Para("%d jobs of %s each on each system, one worker process SIGKILLed mid-task, then every job's outcome within a bound. "+
		"The job is the same on both: fetch a page from this program's counting server, which holds each answer for %s and counts every request "+
		"per job (the side effect that shows a body run twice), and count its words: Docket's `wordcount` job "+
		"(`DOCKET_FETCH_ALLOW_HOSTS=127.0.0.1` on its workers, so that the loopback server may be fetched), and the `count_words` task of "+
		"tools/bench/celery/app.py. Docket runs a server (`make run`'s settings), an API and two workers; the kill comes once every job's "+
		"fetch has run a fifth of its length, and the killed worker stays down. Celery runs the seed's stack (%s; `task_acks_late`, "+
		"prefetch 1, one worker with two pool processes, Redis broker and result backend); the kill comes once both pool processes are a "+
		"fifth into a task, and hits one of them. *Executions* are requests the counting server saw; *run twice* are jobs with more than one "+
		"(a killed execution and its retry), *answered twice* jobs whose body ran to its end twice.",
		jobs, work, work, tools.describe())
	t := &Table{Header: []string{"system", "jobs", "completed", "failed", "no outcome in the bound", "executions", "run twice", "answered twice", "submit to last outcome", "killed"}}
	for _, s := range []lossSide{r.docket, r.celery} {
		t.Add(s.name, fmt.Sprint(s.jobs), fmt.Sprint(s.completed), fmt.Sprint(s.failed), fmt.Sprint(s.unknown), fmt.Sprint(s.execs),
			fmt.Sprint(s.twice), fmt.Sprint(s.servedTwo), s.took.Round(100*time.Millisecond).String(), s.victim)
	}
	sec.Table(t)
	sec.Para("Why they differ: a Docket step whose worker dies is an activity attempt that stops heartbeating; after its heartbeat timeout "+
		"(20 s for `wordcount`) Temporal hands it to a live worker, and the job completes, its body having run twice. With `task_acks_late`, "+
		"Celery leaves a task unacknowledged while it runs, but a pool process that dies makes the worker fail the task with `WorkerLostError` "+
		"and acknowledge it (`task_reject_on_worker_lost` is off by default, so that a task that kills its process does not loop): that job "+
		"is lost, its result a failure. Had the whole worker died, its unacknowledged tasks would stay in Redis until the transport's "+
		"`visibility_timeout` (one hour by default) hands them out again. Celery runs %d jobs at a time here against Docket's %d, so its "+
		"run takes longer; the counts, not the times, are the comparison.", 2, jobs)
	for _, s := range []lossSide{r.docket, r.celery} {
		if len(s.notes) > 0 {
			n := s.notes
			if len(n) > 5 {
				n = append(n[:5:5], fmt.Sprintf("and %d more", len(s.notes)-5))
			}
			sec.Para("%s: %s.", s.name, strings.Join(n, "; "))
		}
	}
}
