package bench

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	// The one Docket package the harness links: a test receiver that
	// depends on the Collector's pdata and gRPC only, not on the code
	// being measured.
	"github.com/docket-dev/docket/internal/tracing/tracingtest"
)

// Scenario 15's sides.
const (
	seeOn  = "metrics and tracing on"
	seeOff = "metrics and tracing off"
)

// seeTargetGap is how far apart scenario 15's sides may be.
const seeTargetGap = 0.05

// seeScrapeEvery is how often the bench scrapes the "on" side's metrics
// listeners, as a Prometheus with a short scrape interval would.
const seeScrapeEvery = time.Second

// The environment that turns metrics' listener and tracing on.
const (
	envMetricsAddr  = "DOCKET_METRICS_ADDR"
	envOTLPEndpoint = "OTEL_EXPORTER_OTLP_ENDPOINT"
)

// Service names of Docket's processes' traces (tracing.Setup's callers).
const (
	serviceAPI    = "docket-api"
	serviceWorker = "docket-worker"
)

// seeingScenario measures what observability costs: scenario 3's latency
// floor and scenario 2's trivial-job throughput through two stacks of the
// same server, one whose API and worker serve Prometheus metrics (scraped
// every second) and export every trace to a real OTLP receiver on
// loopback, one with neither, in alternating blocks. Then it profiles the
// API under scenario 1's accept load to show where its time goes per job.
func seeingScenario(ctx context.Context, b *Bench, sec *Section) error {
	// The receiver decodes every export as a collector would (the
	// Collector's pdata module), so the exporters do their full work.
	rcv, err := tracingtest.NewReceiver()
	if err != nil {
		return err
	}
	defer rcv.Close()
	s, err := b.Env.StartServer(ctx, "seeing", storageFileWAL, tuningFast)
	if err != nil {
		return err
	}
	defer s.Stop()
	apiPort, err := freePort()
	if err != nil {
		return err
	}
	workerPort, err := freePort()
	if err != nil {
		return err
	}
	apiMetrics, workerMetrics := fmt.Sprintf("127.0.0.1:%d", apiPort), fmt.Sprintf("127.0.0.1:%d", workerPort)
	// The harness's own environment must not turn tracing on for the
	// "off" side (startProc passes it on).
	for _, k := range []string{envOTLPEndpoint, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", envMetricsAddr} {
		if os.Getenv(k) != "" {
			return fmt.Errorf("%s is set in the bench's environment: unset it, or the \"off\" side is not off", k)
		}
	}
	on, err := b.Env.StartStackWith(ctx, s, "docket-seen", true,
		[]string{envMetricsAddr + "=" + apiMetrics, envOTLPEndpoint + "=" + rcv.Endpoint()},
		[]string{envMetricsAddr + "=" + workerMetrics, envOTLPEndpoint + "=" + rcv.Endpoint()})
	if err != nil {
		return fmt.Errorf("%s: %w", seeOn, err)
	}
	defer on.Stop()
	off, err := b.Env.StartStack(ctx, s, "docket-unseen", true)
	if err != nil {
		return fmt.Errorf("%s: %w", seeOff, err)
	}
	defer off.Stop()
	scr, err := startScraper(ctx, seeScrapeEvery, "http://"+apiMetrics+"/metrics", "http://"+workerMetrics+"/metrics")
	if err != nil {
		return err
	}
	defer scr.stop()
	sides := []*apiSide{
		{name: seeOn, api: newAPIJobs(on.APIURL), roles: map[string]int{roleAPI: on.API.PID(), roleWorker: on.Worker.PID(), roleServer: s.PID()}},
		{name: seeOff, api: newAPIJobs(off.APIURL), roles: map[string]int{roleAPI: off.API.PID(), roleWorker: off.Worker.PID(), roleServer: s.PID()}},
	}
	set := b.Set
	if err := compareAPIs(ctx, set, seeRounds(set), sides); err != nil {
		return err
	}
	scr.stop()
	// Stopped, the processes send the spans their batchers still hold
	// (they flush at shutdown), and leave the accept profile below alone.
	on.Stop()
	off.Stop()
	// What is measured must be what is meant: both processes' traces
	// reached the receiver.
	spans := countSpans(rcv.Spans())
	if spans.byService[serviceAPI] == 0 || spans.byService[serviceWorker] == 0 {
		return fmt.Errorf("the OTLP receiver has spans %v; want some of %s and of %s", spans.byService, serviceAPI, serviceWorker)
	}
	if n := rcv.Errors(); n > 0 {
		return fmt.Errorf("the OTLP receiver could not decode %d exports", n)
	}
	if ok, _, _ := scr.counts(); ok == 0 {
		return fmt.Errorf("no scrape of the metrics listeners succeeded: %v", scr.firstErr())
	}
	acc, err := acceptProfile(ctx, b, s)
	if err != nil {
		return fmt.Errorf("accept profile: %w", err)
	}
	seeingReport(b, sec, set, sides, scr, spans)
	acc.report(sec, sides[1])
	return nil
}

// seeRounds is scenario 15's floor rounds: as many as scenario 9's.
func seeRounds(set Settings) int { return set.AuthRounds }

// scraper GETs some metrics endpoints every interval until stopped.
type scraper struct {
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
	ok     atomic.Int64
	fail   atomic.Int64
	bytes  atomic.Int64
	mu     sync.Mutex
	first  error
}

// startScraper checks that every url answers with Docket's metrics, then
// scrapes them all every interval in the background.
func startScraper(ctx context.Context, every time.Duration, urls ...string) (*scraper, error) {
	hc := &http.Client{Timeout: 5 * time.Second}
	for _, u := range urls {
		body, err := scrape(ctx, hc, u)
		if err != nil {
			return nil, err
		}
		if !strings.Contains(body, "docket_") {
			return nil, fmt.Errorf("GET %s: no docket_ metric in the exposition", u)
		}
	}
	sctx, cancel := context.WithCancel(ctx)
	s := &scraper{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
			for _, u := range urls {
				body, err := scrape(sctx, hc, u)
				if sctx.Err() != nil {
					return
				}
				if err != nil {
					s.fail.Add(1)
					s.mu.Lock()
					if s.first == nil {
						s.first = err
					}
					s.mu.Unlock()
					continue
				}
				s.ok.Add(1)
				s.bytes.Add(int64(len(body)))
			}
		}
	}()
	return s, nil
}

func scrape(ctx context.Context, hc *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("scrape %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	return string(b), nil
}

// stop ends the scrapes and waits for the last one; it may be called again.
func (s *scraper) stop() {
	s.once.Do(func() {
		s.cancel()
		<-s.done
	})
}

// counts are the scrapes that succeeded, those that failed, and the bytes
// the successful ones read.
func (s *scraper) counts() (ok, failed, bytes int64) {
	return s.ok.Load(), s.fail.Load(), s.bytes.Load()
}

func (s *scraper) firstErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first
}

// spanCount is what the OTLP receiver got: spans by service, and traces.
type spanCount struct {
	total     int
	traces    int
	byService map[string]int
}

func countSpans(spans []tracingtest.Span) spanCount {
	c := spanCount{total: len(spans), byService: map[string]int{}}
	traces := map[string]bool{}
	for _, s := range spans {
		c.byService[s.Service]++
		traces[s.TraceID] = true
	}
	c.traces = len(traces)
	return c
}

// seeingReport writes scenario 15's comparison and records its targets.
func seeingReport(b *Bench, sec *Section, set Settings, sides []*apiSide, scr *scraper, spans spanCount) {
	onS, offS := sides[0], sides[1]
	ok, failed, bytes := scr.counts()
	sec.Para("Two stacks (a bin/worker and a bin/docket-api each, on task queues of their own) on one dev server with make run's settings. "+
		"**On:** the API and the worker have `%s` (a Prometheus listener on loopback, which this program scrapes every %s, both processes, as a Prometheus would) "+
		"and `%s` pointing at an OTLP/HTTP receiver on loopback in this program that decodes every export with the OpenTelemetry Collector's pdata module "+
		"(internal/tracing/tracingtest), with the SDK's default sampler (parent-based, always on) and batcher: every request, workflow and step is a span. "+
		"**Off:** neither variable. The API counts its metrics (its own and the Temporal SDK's) either way, as they also back `GET /metrics`, so for the API *off* saves the listener, "+
		"the scrapes and the traces, not the counting; the worker without the variable counts nothing (the SDK's no-op metrics handler, no step metrics). **Floor:** one trivial job at a time as scenario 3 runs them, %d blocks of %d jobs per side in turn A B B A …, the first %d of each block not counted. "+
		"**Throughput:** scenario 2's load, %d blocks of %d jobs per side with %d concurrent clients, in turn A B B A …; ratios compare median blocks. Target: the two within %.0f%%.",
		envMetricsAddr, seeScrapeEvery, envOTLPEndpoint, seeRounds(set)*2, set.FloorBlock, set.FloorSkip, set.TrivialBlocks, set.TrivialJobs, set.TrivialConc, 100*seeTargetGap)
	floorT := b.target("15", fmt.Sprintf("latency floor (p50) with metrics and tracing within %.0f%% of without", 100*seeTargetGap),
		fmt.Sprintf("%s vs %s ms (%s×); p99 %s vs %s ms", ms(onS.floor.P(0.5)), ms(offS.floor.P(0.5)), ratio(float64(onS.floor.P(0.5)), float64(offS.floor.P(0.5))),
			ms(onS.floor.P(0.99)), ms(offS.floor.P(0.99))),
		withinGap(float64(onS.floor.P(0.5)), float64(offS.floor.P(0.5)), seeTargetGap))
	thrT := b.target("15", fmt.Sprintf("trivial-job throughput with metrics and tracing within %.0f%% of without (median blocks)", 100*seeTargetGap),
		fmt.Sprintf("%.1f vs %.1f jobs/s (%s×)", onS.totals.median(), offS.totals.median(), ratio(onS.totals.median(), offS.totals.median())),
		withinGap(onS.totals.median(), offS.totals.median(), seeTargetGap))
	t := &Table{Header: []string{"side", "floor jobs", "floor p50 ms", "floor p99 ms", "POST /jobs p50 ms", "floor p50 on / off",
		"throughput jobs", "errors", "jobs/s per block", "median block jobs/s", "p50 ms", "p99 ms", "throughput on / off",
		"API CPU ms per job", "worker CPU ms per job", "server CPU ms per job"}}
	for _, x := range sides {
		fv, tv := "", ""
		if x == onS {
			fv = ratio(float64(x.floor.P(0.5)), float64(offS.floor.P(0.5))) + " (" + floorT + ")"
			tv = ratio(x.totals.median(), offS.totals.median()) + " (" + thrT + ")"
		}
		t.Add(x.name, fmt.Sprint(x.floor.N()), ms(x.floor.P(0.5)), ms(x.floor.P(0.99)), ms(x.post.P(0.5)), fv,
			fmt.Sprint(x.totals.lat.N()), fmt.Sprint(x.totals.lat.Errors()), fmtRates(x.totals.blocks), fmt.Sprintf("%.1f", x.totals.median()),
			ms(x.totals.lat.P(0.5)), ms(x.totals.lat.P(0.99)), tv, x.cpuPerJob(roleAPI), x.cpuPerJob(roleWorker), x.cpuPerJob(roleServer))
	}
	sec.Table(t)
	var added []string
	for _, role := range []string{roleAPI, roleWorker, roleServer} {
		a, o := onS.cpuMS(role), offS.cpuMS(role)
		if o > 0 {
			added = append(added, fmt.Sprintf("the %s %+.2f ms (%+.0f%%)", role, a-o, 100*(a/o-1)))
		}
	}
	if len(added) > 0 {
		var onT, offT float64
		for _, role := range []string{roleAPI, roleWorker, roleServer} {
			onT, offT = onT+onS.cpuMS(role), offT+offS.cpuMS(role)
		}
		sec.Para("CPU per throughput job that seeing adds, on minus off: %s; in all %+.2f ms of %.2f (%+.1f%%), "+
			"an estimate of the throughput lost where CPU bounds it, as on this machine. The server's part is the noisiest (its CPU per job moves with other programs' load), "+
			"though some is real: the tracing interceptor's context travels in the headers of every workflow and activity, which the server stores in the history.",
			strings.Join(added, ", "), onT-offT, offT, 100*(onT/offT-1))
	}
	jobs := set.TrivialConc + 2*seeRounds(set)*set.FloorBlock + set.TrivialBlocks*set.TrivialJobs
	var svc []string
	for _, k := range slices.Sorted(maps.Keys(spans.byService)) {
		svc = append(svc, fmt.Sprintf("%s %d", k, spans.byService[k]))
	}
	sec.Para("What the *on* side was seen by: %d scrapes answered (%d failed), %.0f KiB of exposition each on average; the receiver got %d spans (%s) in %d traces "+
		"for the %d jobs the side ran (warm-up included; the stack's start-up probe job is one more trace), %.1f spans per job. CPU per job is the process's user+system time over the throughput blocks divided by their jobs.",
		ok, failed, float64(bytes)/float64(max(ok, 1))/1024, spans.total, strings.Join(svc, ", "), spans.traces, jobs, float64(spans.total)/float64(jobs))
	for _, x := range sides {
		if err := x.totals.lat.FirstError(); err != nil {
			sec.Para("%d errors on %s; the first: `%v`", x.totals.lat.Errors(), x.name, strings.TrimSpace(err.Error()))
		}
	}
}

// cpuMS is the CPU time of role per throughput job of x, in ms; 0 when
// none was counted.
func (x *apiSide) cpuMS(role string) float64 {
	n := x.totals.lat.N()
	if n == 0 || x.roles == nil {
		return 0
	}
	return float64(x.cpu[role]) / float64(n) / float64(time.Millisecond)
}
