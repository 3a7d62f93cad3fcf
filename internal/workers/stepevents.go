package workers

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"

	"github.com/docket-dev/docket/job"
)

// stepEvents tells a job's workflow, with job.SignalStep, that a worker
// has picked up one of its steps (once the step has run startSignalDelay)
// and, at most every interval, how far the step has got. Only a worker knows either, and the workflow needs both: its
// DocketStatus search attribute turns RUNNING only when a step really
// started (so lists, the Web UI and `temporal workflow list` agree with
// GET /jobs/{id}), and its status query then answers the attempt, worker and
// progress that GET /jobs/{id} shows. Being an interceptor, every activity
// of every role gets it without its own code.
type stepEvents struct {
	interceptor.WorkerInterceptorBase
	client   client.Client
	identity string
	interval time.Duration
}

// signalTimeout bounds one signal; a lost one only delays the status view.
const signalTimeout = 5 * time.Second

func newStepEvents(c client.Client, identity string, interval time.Duration) *stepEvents {
	if interval <= 0 {
		interval = time.Second
	}
	return &stepEvents{client: c, identity: identity, interval: interval}
}

// InterceptActivity is called for each activity execution, so the state
// below is per attempt.
func (s *stepEvents) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	in := &stepInbound{events: s}
	in.Next = next
	return in
}

type stepInbound struct {
	interceptor.ActivityInboundInterceptorBase
	events *stepEvents

	mu       sync.Mutex
	ev       job.StepEvent
	wfID     string
	runID    string
	lastSent time.Time
	sending  bool
	// again: a send was asked for while a signal was on its way; it goes
	// out when that one has landed.
	again bool
	// trailing sends the progress of a heartbeat that came too soon after
	// the last signal, once the interval has passed, so that no heartbeat
	// waits for the next one (which may be seconds away, an OCR page)
	// to be told; ended stops it when the step returns.
	trailing *time.Timer
	ended    bool
}

func (a *stepInbound) Init(outbound interceptor.ActivityOutboundInterceptor) error {
	o := &stepOutbound{in: a}
	o.Next = outbound
	return a.Next.Init(o)
}

func (a *stepInbound) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	info := activity.GetInfo(ctx)
	if !info.IsLocalActivity && info.WorkflowExecution.ID != "" {
		a.wfID, a.runID = info.WorkflowExecution.ID, info.WorkflowExecution.RunID
		a.ev = job.StepEvent{
			Step:    info.ActivityType.Name,
			Attempt: info.Attempt,
			Worker:  a.events.identity,
			Started: info.StartedTime.UTC(),
		}
		if info.ActivityType.Name == job.StepOCRPages {
			// A long document's batches share the ocr step: the
			// workflow tells them apart by their activity ids.
			a.ev.Activity = info.ActivityID
		}
		// After a short delay and in the background: the step itself must
		// not wait on the signal, and a step that is over within the delay
		// (most light steps) costs Temporal no signal at all. Such a step is
		// RUNNING in its job's own view (the pending activity says so) but
		// never in lists, which lag by about as much anyway.
		timer := time.AfterFunc(startSignalDelay, func() { a.send(true) })
		defer timer.Stop()
		defer a.end()
	}
	return a.Next.ExecuteActivity(ctx, in)
}

// end stops the step's pending progress signal: the step's result now
// carries its final progress.
func (a *stepInbound) end() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ended = true
	if a.trailing != nil {
		a.trailing.Stop()
		a.trailing = nil
	}
}

// startSignalDelay is how long a step runs before its start is signalled.
const startSignalDelay = 100 * time.Millisecond

// progressOf reads the Done and Total that Docket's heartbeats carry
// (job.Progress, or a struct that embeds its fields).
func progressOf(details []any) (*job.Progress, bool) {
	if len(details) == 0 {
		return nil, false
	}
	b, err := json.Marshal(details[0])
	if err != nil {
		return nil, false
	}
	var p job.Progress
	if json.Unmarshal(b, &p) != nil || p.Total <= 0 {
		return nil, false
	}
	return &p, true
}

func (a *stepInbound) progress(details []any) {
	if a.wfID == "" {
		return
	}
	p, ok := progressOf(details)
	if !ok {
		return
	}
	a.mu.Lock()
	a.ev.Progress = p
	// Progress goes out only once the start has (the start carries it),
	// at most once per interval: now, or when the interval is over.
	started := !a.lastSent.IsZero()
	wait := a.events.interval - time.Since(a.lastSent)
	due := started && wait <= 0
	if started && !due && a.trailing == nil && !a.ended {
		a.trailing = time.AfterFunc(wait, func() {
			a.mu.Lock()
			a.trailing = nil
			ended := a.ended
			a.mu.Unlock()
			if !ended {
				a.send(false)
			}
		})
	}
	a.mu.Unlock()
	if due {
		a.send(false)
	}
}

// send signals the current event; while a signal is on its way, the
// current event goes out once it has landed (the first, start, signal is
// always sent at once).
func (a *stepInbound) send(first bool) {
	a.mu.Lock()
	if a.sending && !first {
		a.again = true
		a.mu.Unlock()
		return
	}
	a.sending = true
	a.lastSent = time.Now()
	ev := a.ev
	a.mu.Unlock()
	go func() {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), signalTimeout)
			// The workflow may have closed meanwhile; nothing depends on it.
			_ = a.events.client.SignalWorkflow(ctx, a.wfID, a.runID, job.SignalStep, ev)
			cancel()
			a.mu.Lock()
			if !a.again || a.ended {
				a.sending, a.again = false, false
				a.mu.Unlock()
				return
			}
			a.again = false
			a.lastSent = time.Now()
			ev = a.ev
			a.mu.Unlock()
		}
	}()
}

type stepOutbound struct {
	interceptor.ActivityOutboundInterceptorBase
	in *stepInbound
}

func (o *stepOutbound) RecordHeartbeat(ctx context.Context, details ...any) {
	o.Next.RecordHeartbeat(ctx, details...)
	o.in.progress(details)
}
