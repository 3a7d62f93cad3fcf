package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"
)

// Scenario 11's targets (issue 14).
const (
	eventsProgressTarget = 1500 * time.Millisecond
	eventsEndTarget      = 500 * time.Millisecond
	// eventsHeartbeatInterval is DOCKET_HEARTBEAT_INTERVAL's default, which
	// the bench's workers run with: the longest a heartbeat's progress
	// waits for its signal.
	eventsHeartbeatInterval = time.Second
)

// sseEvent is one event a stream delivered, and when.
type sseEvent struct {
	id    int64
	event string
	data  string
	at    time.Time
}

// sseRead reads an event stream until it closes or ctx ends, calling
// each with every event; comments are skipped.
func sseRead(ctx context.Context, hc *http.Client, url string, each func(sseEvent)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		return fmt.Errorf("GET %s: %s (%s)", url, resp.Status, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.event != "" {
				ev.at = time.Now()
				each(ev)
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				ev.id, _ = strconv.ParseInt(value, 10, 64)
			case "event":
				ev.event = value
			case "data":
				ev.data += value
			}
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}

// stepSignal mirrors the docket.step signal's argument (job.StepEvent):
// the harness does not link Docket's packages.
type stepSignal struct {
	Step     string `json:"step"`
	Progress *struct {
		Done  int64 `json:"done"`
		Total int64 `json:"total"`
	} `json:"progress"`
}

// progressEvent mirrors a progress event's data.
type progressEvent struct {
	Step string `json:"step"`
	Done int64  `json:"done"`
}

// eventsScenario measures GET /jobs/{id}/events on a stack of its own
// (make run's settings): how long after the worker's step signal that
// carries a heartbeat's progress the progress reaches a stream, and how
// long after the workflow's close its end does (both timed against the
// events' times in the workflow's history, on the same clock); then the
// API's memory and CPU while it holds many concurrent streams.
func eventsScenario(ctx context.Context, b *Bench, sec *Section) error {
	set := b.Set
	s, err := b.Env.StartServer(ctx, "events", storageFileWAL, tuningFast)
	if err != nil {
		return err
	}
	defer s.Stop()
	st, err := b.Env.StartStack(ctx, s, "docket", true)
	if err != nil {
		return err
	}
	defer st.Stop()
	api := newAPIJobs(st.APIURL)
	streams := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8192, MaxConnsPerHost: 0}}

	// Part 1: latency.
	type run struct {
		id     string
		events []sseEvent
		err    error
	}
	runs := make([]*run, set.EventJobs)
	var wg sync.WaitGroup
	for i := range runs {
		r := &run{}
		runs[i] = r
		body := fmt.Sprintf(`{"type":"sum","input":{"start":1,"end":1000000,"work_ms":%d}}`, set.EventWorkMS)
		id, _, err := api.submit(ctx, body)
		if err != nil {
			return fmt.Errorf("submit: %w", err)
		}
		r.id = id
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, time.Duration(set.EventWorkMS)*time.Millisecond+2*time.Minute)
			defer cancel()
			r.err = sseRead(rctx, streams, st.APIURL+"/jobs/"+id+"/events", func(ev sseEvent) { r.events = append(r.events, ev) })
		}()
	}
	wg.Wait()
	progress, ends := &Sample{}, &Sample{}
	signals := 0
	for _, r := range runs {
		if r.err != nil {
			return fmt.Errorf("stream of %s: %w", r.id, r.err)
		}
		if len(r.events) == 0 || r.events[len(r.events)-1].event != "end" {
			return fmt.Errorf("stream of %s did not end with end: %d events", r.id, len(r.events))
		}
		n, err := eventLatencies(ctx, s, r.id, r.events, progress, ends)
		if err != nil {
			return err
		}
		signals += n
	}

	// Part 2: many streams at once.
	held, err := holdStreams(ctx, set, st, api, streams)
	if err != nil {
		return err
	}

	sec.Para("A stack of its own (dev server with make run's settings, bin/worker, bin/docket-api). **Latency:** %d `sum` jobs of 1..1,000,000 with `work_ms` %d at once, each watched by one stream from its start; "+
		"a progress event's latency is from the `docket.step` signal in the job's history that carries a heartbeat's progress "+
		"(the worker signals a heartbeat's progress at once, or, when the heartbeat comes less than `DOCKET_HEARTBEAT_INTERVAL` (1 s) after the last signal, when the interval is over: so at most 1 s after the heartbeat) "+
		"to the first progress event with that `done` or more; the end's latency is from the workflow's close event to the `end` event. Both are timed on this machine's one clock (history event times against arrival times).",
		set.EventJobs, set.EventWorkMS)
	// A heartbeat's progress is signalled at once or, when it comes too
	// soon after the last signal, once the interval is over: at most the
	// interval after the heartbeat.
	bound := eventsHeartbeatInterval + progress.P(1)
	pT := b.target("11", "a progress change reaches an SSE client within 1.5 s of the heartbeat that carries it",
		fmt.Sprintf("at most %s ms: the %s heartbeat interval plus the slowest signal → event, %s ms (p50 %s) over %d signals",
			ms(bound), eventsHeartbeatInterval, ms(progress.P(1)), ms(progress.P(0.5)), signals),
		progress.N() > 0 && bound <= eventsProgressTarget)
	eT := b.target("11", "a terminal status reaches an SSE client within 0.5 s of the workflow's close (max)",
		fmt.Sprintf("p50 %s, max %s ms over %d jobs", ms(ends.P(0.5)), ms(ends.P(1)), ends.N()),
		ends.N() > 0 && ends.P(1) <= eventsEndTarget)
	lt := &Table{Header: []string{"what", "n", "p50 ms", "p99 ms", "max ms", "target", "verdict"}}
	lt.Add("heartbeat's signal → progress event", fmt.Sprint(progress.N()), ms(progress.P(0.5)), ms(progress.P(0.99)), ms(progress.P(1)), "", "")
	lt.Add("heartbeat → progress event (bound: interval + the above)", "", "", "", ms(bound), "≤ 1500 ms", pT)
	lt.Add("workflow close → end event", fmt.Sprint(ends.N()), ms(ends.P(0.5)), ms(ends.P(0.99)), ms(ends.P(1)), "≤ 500 ms", eT)
	sec.Table(lt)

	sec.Para("**Concurrent streams:** %d streams over %d running `sum` jobs (%d per job, so the API follows %d jobs: one history long poll per job, shared by its streams), opened at once and held %s while the jobs report progress; "+
		"the API's resident memory (VmRSS, sampled every 250 ms) and CPU time (utime+stime) over the hold.",
		held.streams, held.jobs, held.streams/max(1, held.jobs), held.jobs, held.hold)
	hT := b.target("11", fmt.Sprintf("%d concurrent streams held", held.streams),
		fmt.Sprintf("%d of %d open at the end of the hold, %d events delivered during it", held.open, held.streams, held.delivered),
		held.open == int64(held.streams))
	ht := &Table{Header: []string{"streams", "jobs followed", "open after hold", "verdict", "API RSS before MiB", "API RSS held (mean / peak) MiB", "RSS per stream KiB", "API CPU during hold s", "CPU per stream ms/min", "events delivered"}}
	perStream := float64(held.meanKB-held.beforeKB) / float64(max(1, held.streams))
	cpuPer := float64(held.cpu.Milliseconds()) / float64(max(1, held.streams)) / held.hold.Minutes()
	ht.Add(fmt.Sprint(held.streams), fmt.Sprint(held.jobs), fmt.Sprint(held.open), hT, mib(held.beforeKB), mib(held.meanKB)+" / "+mib(held.peakKB),
		fmt.Sprintf("%.1f", perStream), fmt.Sprintf("%.2f", held.cpu.Seconds()), fmt.Sprintf("%.2f", cpuPer), fmt.Sprint(held.delivered))
	sec.Table(ht)
	return nil
}

// eventLatencies adds a job's progress and end latencies to the samples,
// from its history's signals and close; it returns how many signals
// carried progress.
func eventLatencies(ctx context.Context, s *Server, id string, events []sseEvent, progress, ends *Sample) (int, error) {
	it := s.client.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	dc := converter.GetDefaultDataConverter()
	signals := 0
	var closed time.Time
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return 0, fmt.Errorf("history of %s: %w", id, err)
		}
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
			a := e.GetWorkflowExecutionSignaledEventAttributes()
			if a.GetSignalName() != "docket.step" || len(a.GetInput().GetPayloads()) == 0 {
				continue
			}
			var sig stepSignal
			if err := dc.FromPayload(a.GetInput().GetPayloads()[0], &sig); err != nil || sig.Progress == nil {
				continue
			}
			at := e.GetEventTime().AsTime()
			for _, ev := range events {
				var p progressEvent
				if ev.event != "progress" || json.Unmarshal([]byte(ev.data), &p) != nil || p.Step != sig.Step || p.Done < sig.Progress.Done {
					continue
				}
				progress.Add(max(0, ev.at.Sub(at)))
				signals++
				break
			}
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
			closed = e.GetEventTime().AsTime()
		}
	}
	if closed.IsZero() {
		return 0, fmt.Errorf("job %s did not complete", id)
	}
	ends.Add(max(0, events[len(events)-1].at.Sub(closed)))
	return signals, nil
}

// heldStreams is what holdStreams measured.
type heldStreams struct {
	streams, jobs            int
	hold                     time.Duration
	open, delivered          int64
	beforeKB, meanKB, peakKB int64
	cpu                      time.Duration
}

// holdStreams opens set.EventStreams streams over set.EventStreamJobs long
// jobs, holds them set.EventHold and measures the API meanwhile; then it
// closes them and cancels the jobs.
func holdStreams(ctx context.Context, set Settings, st *Stack, api *apiJobs, hc *http.Client) (heldStreams, error) {
	h := heldStreams{streams: set.EventStreams, jobs: set.EventStreamJobs, hold: set.EventHold}
	work := (set.EventHold + 2*time.Minute).Milliseconds()
	ids := make([]string, h.jobs)
	for i := range ids {
		id, _, err := api.submit(ctx, fmt.Sprintf(`{"type":"sum","input":{"start":1,"end":1000000000,"work_ms":%d}}`, min(work, 60000)))
		if err != nil {
			return h, fmt.Errorf("submit: %w", err)
		}
		ids[i] = id
	}
	defer func() {
		for _, id := range ids {
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodDelete, api.base+"/jobs/"+id, nil)
			if resp, err := api.http.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}()
	pid := st.API.PID()
	h.beforeKB, _ = rssKB(pid)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var open, first, delivered atomic.Int64
	var counting atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, h.streams)
	for i := range h.streams {
		id := ids[i%len(ids)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			open.Add(1)
			got := false
			err := sseRead(sctx, hc, st.APIURL+"/jobs/"+id+"/events", func(sseEvent) {
				if !got {
					got = true
					first.Add(1)
				}
				if counting.Load() {
					delivered.Add(1)
				}
			})
			open.Add(-1)
			if err != nil {
				errs <- err
			}
		}()
	}
	// Held once every stream has had its first event.
	deadline := time.Now().Add(2 * time.Minute)
	for first.Load() < int64(h.streams) {
		if time.Now().After(deadline) {
			return h, fmt.Errorf("only %d of %d streams got their first event in 2 minutes", first.Load(), h.streams)
		}
		select {
		case err := <-errs:
			return h, fmt.Errorf("a stream failed: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	rss := sampleRSS(250*time.Millisecond, pid)
	cpu0, _ := cpuTime(pid)
	counting.Store(true)
	select {
	case <-time.After(h.hold):
	case <-ctx.Done():
		return h, ctx.Err()
	}
	cpu1, _ := cpuTime(pid)
	counting.Store(false)
	h.open, h.delivered = open.Load(), delivered.Load()
	peak, mean := rss.Stop()
	h.peakKB, h.meanKB, h.cpu = peak[pid], mean[pid], cpu1-cpu0
	cancel()
	wg.Wait()
	select {
	case err := <-errs:
		if !errors.Is(err, context.Canceled) {
			return h, fmt.Errorf("a stream failed during the hold: %w", err)
		}
	default:
	}
	return h, nil
}
