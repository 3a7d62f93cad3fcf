// Package chaos proves that Docket loses and duplicates no job when its
// processes fail. It drives a running topology (two API replicas, two
// workers, a Temporal server) through the HTTP API as a client would, with
// idempotency keys and retries on the other replica, while it kills and
// restarts the topology's processes:
//
//  1. a worker is killed with SIGKILL in the middle of long sum activities:
//     the jobs complete on the other worker, and each resumes from its last
//     heartbeat rather than from the start; then the same for the OCR of a
//     multi-page scanned PDF shared out in batches to both workers: the
//     batch of the killed worker resumes on the other from the pages it
//     recorded, none of which tesseract reads again;
//  2. the Temporal server is stopped and restarted while jobs run: every
//     accepted job reaches a terminal state;
//  3. an API replica is killed with SIGKILL while clients submit through
//     both: every accepted job reaches a terminal state and retried
//     submissions create no second job;
//  4. all workers are down while jobs are submitted: the API keeps
//     accepting, the jobs show QUEUED, and they complete once workers return.
//
// With webhooks on (Config.WebhookSecret), the jobs of scenarios 1, 2 and 4
// also name a receiver the run serves on loopback as their notify URL, and
// those scenarios count notifications too: every accepted job's terminal
// event must arrive, signed, under exactly one webhook-id.
//
// `make chaos` runs it against `make cluster` (the Temporal server on
// PostgreSQL) with tools/cmd/chaos; `make test` runs a shorter version against a
// dev server (chaos_test.go).
package chaos

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
)

// Topology controls the processes of a running Docket deployment.
type Topology interface {
	// APIURLs are the base URLs of the API replicas, in the order of APIs.
	APIURLs() []string
	// APIKey is the bearer key the replicas accept; "" when they serve
	// without keys.
	APIKey() string
	// APIs and Workers name the components Start, Stop and Kill act on.
	APIs() []string
	Workers() []string
	// TemporalAddress and Namespace locate the Temporal frontend.
	TemporalAddress() string
	Namespace() string
	// Start starts a stopped component ("temporal", a worker or an API)
	// and returns once it is ready: a worker polls, an API answers /readyz,
	// the server answers health checks.
	Start(ctx context.Context, name string) error
	// Stop stops a component gracefully (SIGTERM) and waits for it.
	Stop(ctx context.Context, name string) error
	// Kill kills a component with SIGKILL.
	Kill(ctx context.Context, name string) error
	// Pid is the process id of a running component.
	Pid(ctx context.Context, name string) (int, error)
}

// Scale sizes a run.
type Scale struct {
	// Scenario 1: jobs running when a worker is killed, and their work time.
	KillJobs   int
	KillWorkMS int64
	// Scenario 1's document case: pages of the scanned PDF whose OCR is
	// interrupted, and their text size in pixels per em (0 pages: no
	// document case). They must be more than one batch of the workers'
	// (DOCKET_OCR_BATCH_PAGES; the short run's workers take 3).
	DocPages int
	DocPx    float64
	// Scenario 2: jobs running when the server stops, their work time, how
	// long the server stays down, and jobs submitted while it is down.
	RestartJobs     int
	RestartWorkMS   int64
	ServerDown      time.Duration
	DownSubmissions int
	// Scenario 3: concurrent clients and jobs each submits.
	APIClients       int
	APIJobsPerClient int
	// Scenario 4: how long every worker is down, and jobs submitted meanwhile.
	WorkersDown time.Duration
	QueuedJobs  int
	// JobDeadline bounds each scenario's wait for its jobs to finish.
	JobDeadline time.Duration
	// NotifyWait bounds the wait, once the jobs have ended, for their
	// terminal events to reach the webhook receiver (with webhooks on).
	NotifyWait time.Duration
}

// FullScale is what `make chaos` runs against the cluster.
func FullScale() Scale {
	return Scale{
		KillJobs: 6, KillWorkMS: 20000, DocPages: 12, DocPx: 40,
		RestartJobs: 8, RestartWorkMS: 10000, ServerDown: 15 * time.Second, DownSubmissions: 4,
		APIClients: 6, APIJobsPerClient: 15,
		WorkersDown: 30 * time.Second, QueuedJobs: 12,
		JobDeadline: 4 * time.Minute, NotifyWait: 2 * time.Minute,
	}
}

// ShortScale is the run of `make test`.
func ShortScale() Scale {
	return Scale{
		KillJobs: 4, KillWorkMS: 8000, DocPages: 8, DocPx: 36,
		RestartJobs: 4, RestartWorkMS: 5000, ServerDown: 6 * time.Second, DownSubmissions: 2,
		APIClients: 3, APIJobsPerClient: 6,
		WorkersDown: 12 * time.Second, QueuedJobs: 6,
		JobDeadline: 3 * time.Minute, NotifyWait: time.Minute,
	}
}

// Result counts the jobs of one scenario. A job is submitted once per
// idempotency key, however often the client retried it.
type Result struct {
	Scenario string
	// Submitted: idempotency keys the clients sent.
	Submitted int
	// Accepted: keys some replica answered 202 or 200 for.
	Accepted int
	// Succeeded and Failed: accepted jobs that ended SUCCEEDED, or in
	// another terminal status (FAILED, CANCELED, TIMED_OUT).
	Succeeded int
	Failed    int
	// Lost: accepted jobs that did not reach a terminal status in time or
	// that Temporal does not know.
	Lost int
	// Duplicated: keys answered with more than one job id or created more
	// than once, plus workflows Temporal started that no accepted key names.
	Duplicated int
	// With webhooks on, for the scenarios whose jobs name the run's
	// receiver: NotifyExpected, the accepted jobs that did; Notified,
	// those whose terminal event arrived (signed, verified); NotifyLost,
	// those whose terminal event never arrived within Scale.NotifyWait;
	// NotifyDuplicated, terminal events of one job that arrived under a
	// second (third…) webhook-id; Redelivered, arrivals of a webhook-id
	// already seen, which are legitimate retries.
	NotifyExpected, Notified, NotifyLost, NotifyDuplicated, Redelivered int
	// Problems are the scenario's own checks that failed.
	Problems []string
	// Notes are figures worth printing (resumption, retries, QUEUED checks).
	Notes []string
}

// OK reports whether the scenario passed.
func (r Result) OK() bool {
	return r.Lost == 0 && r.Duplicated == 0 && r.NotifyLost == 0 && r.NotifyDuplicated == 0 && len(r.Problems) == 0
}

func (r Result) line() string {
	l := fmt.Sprintf("submitted=%d accepted=%d succeeded=%d failed=%d lost=%d duplicated=%d",
		r.Submitted, r.Accepted, r.Succeeded, r.Failed, r.Lost, r.Duplicated)
	if r.NotifyExpected > 0 {
		l += fmt.Sprintf(" webhooks: notified=%d lost=%d duplicated=%d retried=%d",
			r.Notified, r.NotifyLost, r.NotifyDuplicated, r.Redelivered)
	}
	return l
}

// Summary is the outcome of a whole run.
type Summary struct {
	Results []Result
}

// Total adds up the scenarios.
func (s Summary) Total() Result {
	var t Result
	for _, r := range s.Results {
		t.Submitted += r.Submitted
		t.Accepted += r.Accepted
		t.Succeeded += r.Succeeded
		t.Failed += r.Failed
		t.Lost += r.Lost
		t.Duplicated += r.Duplicated
		t.NotifyExpected += r.NotifyExpected
		t.Notified += r.Notified
		t.NotifyLost += r.NotifyLost
		t.NotifyDuplicated += r.NotifyDuplicated
		t.Redelivered += r.Redelivered
		t.Problems = append(t.Problems, r.Problems...)
	}
	return t
}

// Line is the run's one-line summary.
func (s Summary) Line() string {
	return fmt.Sprintf("chaos: scenarios=%d %s", len(s.Results), s.Total().line())
}

// OK reports whether every scenario passed.
func (s Summary) OK() bool {
	for _, r := range s.Results {
		if !r.OK() {
			return false
		}
	}
	return len(s.Results) > 0
}

// Config is what Run needs.
type Config struct {
	Topology Topology
	// Temporal is a client of the topology's namespace, used to check
	// Temporal's own records (workflow counts, histories).
	Temporal client.Client
	Scale    Scale
	// Out receives progress and the per-scenario figures.
	Out io.Writer
	// RunID makes this run's idempotency keys unique; defaults to the time.
	RunID string
	// Only, if set, names the scenarios (1-4) to run.
	Only []int
	// WebhookSecret (whsec_…), if set, turns webhooks on: Run starts a
	// receiver on 127.0.0.1 that verifies with it, the jobs of scenarios
	// 1 (its sums), 2 and 4 name it as their notify URL, and each of those
	// scenarios fails unless every accepted job's terminal event arrives
	// exactly once (by webhook-id). The topology's workers must sign with
	// it (DOCKET_WEBHOOK_SECRET[_FILE]) and its APIs and workers allow
	// 127.0.0.1 (DOCKET_FETCH_ALLOW_HOSTS).
	WebhookSecret string
}

// Run runs the scenarios one after the other and prints their figures, then
// the summary line. It returns an error only when it could not run them at
// all; Summary.OK says whether they passed.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	if cfg.RunID == "" {
		cfg.RunID = time.Now().UTC().Format("20060102T150405")
	}
	if len(cfg.Topology.APIURLs()) < 2 || len(cfg.Topology.Workers()) < 2 {
		return Summary{}, fmt.Errorf("chaos needs two API replicas and two workers, got %d and %d",
			len(cfg.Topology.APIURLs()), len(cfg.Topology.Workers()))
	}
	r := &runner{cfg: cfg, api: newAPIClient(cfg.Topology.APIURLs(), cfg.Topology.APIKey()), out: cfg.Out}
	if cfg.WebhookSecret != "" {
		// Every third message's first attempt is refused with a 503, so
		// that the run also sees retries keep their webhook-id.
		hooks, err := newReceiver(cfg.WebhookSecret, 3)
		if err != nil {
			return Summary{}, err
		}
		defer hooks.Close()
		r.hooks = hooks
		r.logf("webhooks on: jobs of scenarios 1, 2 and 4 notify %s", hooks.url)
	}
	scenarios := []struct {
		n    int
		name string
		run  func(context.Context) Result
	}{
		{1, "worker killed (SIGKILL) mid-activity", r.workerKilled},
		{2, "Temporal server stopped and restarted", r.serverRestarted},
		{3, "API replica killed (SIGKILL) during submissions", r.apiKilled},
		{4, "all workers down while jobs are submitted", r.workersDown},
	}
	var sum Summary
	for _, sc := range scenarios {
		if len(cfg.Only) > 0 && !contains(cfg.Only, sc.n) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		name := fmt.Sprintf("scenario %d: %s", sc.n, sc.name)
		r.logf("=== %s", name)
		if err := r.ensureAllUp(ctx); err != nil {
			return sum, fmt.Errorf("%s: bring the topology up: %w", name, err)
		}
		started := time.Now()
		res := sc.run(ctx)
		res.Scenario = name
		// Whatever happened, leave every component running for the next one.
		if err := r.ensureAllUp(ctx); err != nil {
			res.Problems = append(res.Problems, "could not restart the topology afterwards: "+err.Error())
		}
		for _, n := range res.Notes {
			r.logf("    %s", n)
		}
		for _, p := range res.Problems {
			r.logf("    PROBLEM: %s", p)
		}
		verdict := "PASS"
		if !res.OK() {
			verdict = "FAIL"
		}
		r.logf("--- %s %s in %s: %s", verdict, name, time.Since(started).Round(time.Second), res.line())
		sum.Results = append(sum.Results, res)
	}
	fmt.Fprintln(cfg.Out, sum.Line())
	return sum, nil
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

type runner struct {
	cfg Config
	api *apiClient
	out io.Writer
	// hooks is the webhook receiver; nil with webhooks off.
	hooks *receiver
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.out, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// ensureAllUp starts any component that is not running.
func (r *runner) ensureAllUp(ctx context.Context) error {
	names := append([]string{"temporal"}, r.cfg.Topology.Workers()...)
	names = append(names, r.cfg.Topology.APIs()...)
	for _, n := range names {
		if _, err := r.cfg.Topology.Pid(ctx, n); err == nil {
			continue
		}
		r.logf("starting %s", n)
		if err := r.cfg.Topology.Start(ctx, n); err != nil {
			return fmt.Errorf("start %s: %w", n, err)
		}
	}
	return nil
}

func (r *runner) key(scenario string, i int) string {
	return fmt.Sprintf("chaos-%s-%s-%03d", r.cfg.RunID, scenario, i)
}

func sumBody(end, workMS int64) []byte {
	return fmt.Appendf(nil, `{"type":"sum","input":{"start":1,"end":%d,"work_ms":%d}}`, end, workMS)
}

// sumOf is the result a sum job of 1..end must have.
func sumOf(end int64) int64 { return end * (end + 1) / 2 }

func joinLimited(xs []string, n int) string {
	if len(xs) <= n {
		return strings.Join(xs, "; ")
	}
	return strings.Join(xs[:n], "; ") + fmt.Sprintf("; … %d more", len(xs)-n)
}
