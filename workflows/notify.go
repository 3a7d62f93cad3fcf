package workflows

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/steps"
)

// changeNotify: a job with a notify plan starts a delivery workflow per
// (receiver, event). Only such jobs ever reach the GetVersion call, so a
// job nobody is notified of emits exactly the commands it always did.
const changeNotify = "notify-webhooks"

// notifier is a job run's part in its webhooks: the plan its memo
// carries and how many deliveries it has started.
type notifier struct {
	plan    *job.NotifyPlan
	started int
	// watcher: the job's timeout watcher was started.
	watcher bool
}

// readPlan reads the job's notify plan from its memo; nil when it has none
// (every job started before webhooks, and every job nobody hears of).
//
// The memo is encoded with the workflow's data converter (encrypted with
// the key ring), which the SDK does not expose to workflow code. A
// workflow channel decodes what it receives with exactly that converter,
// so the payload takes a trip through a local buffered channel: no command,
// no event, deterministic, and the same converter on every worker and in
// the replayer.
func readPlan(ctx workflow.Context) *job.NotifyPlan {
	p := workflow.GetInfo(ctx).Memo.GetFields()[job.MemoNotify]
	if p == nil {
		return nil
	}
	ch := workflow.NewBufferedChannel(ctx, 1)
	ch.Send(ctx, &commonpb.Payloads{Payloads: []*commonpb.Payload{p}})
	var plan job.NotifyPlan
	if !ch.ReceiveAsync(&plan) || len(plan.Targets) == 0 {
		// A plan that does not decode notifies nobody rather than failing
		// a job whose work is its own.
		workflow.GetLogger(ctx).Warn("the job's notify plan could not be read")
		return nil
	}
	return &plan
}

// notifyStep delivers job.step_finished for the job's step idx to the
// receivers that asked for it.
func (r *jobRun) notifyStep(ctx workflow.Context, idx int) {
	if r.notify.plan == nil {
		return
	}
	step := r.view.Steps[idx]
	r.deliver(ctx, job.EventStepFinished, job.EventData{View: r.view, Step: &step})
}

// notifyEnd delivers the job's terminal event, with its result when it
// succeeded.
func (r *jobRun) notifyEnd(ctx workflow.Context, result any) {
	if r.notify.plan == nil {
		return
	}
	d := job.EventData{View: r.view}
	finished := workflow.Now(ctx).UTC().Truncate(job.TimePrecision)
	d.FinishedAt = &finished
	if r.view.Status == job.StatusSucceeded {
		// The deliver step links it instead when it is large.
		d.Result = result
	}
	r.endWatch(ctx)
	r.deliver(ctx, job.EventOf(r.view.Status), d)
}

// deliver starts a delivery workflow for each receiver that asked for
// event and waits only until each has started: the deliveries are
// abandoned children, so the job closes at once and its result never
// waits on a receiver. A delivery that cannot start is logged, never a
// failure of the job.
func (r *jobRun) deliver(ctx workflow.Context, event string, data job.EventData) {
	// A canceled job still tells its receivers.
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	if workflow.GetVersion(ctx, changeNotify, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	data.Steps = append([]job.Step(nil), data.Steps...)
	var targets []job.NotifyTarget
	for _, t := range r.notify.plan.Targets {
		if t.Wants(event) && r.notify.started+len(targets) < job.MaxNotifications {
			targets = append(targets, t)
		}
	}
	jobID := workflow.GetInfo(ctx).WorkflowExecution.ID
	first := r.notify.started
	r.notify.started += len(targets)
	startDeliveries(ctx, job.Delivery{JobID: jobID, Tenant: r.view.Tenant, Event: event, Data: data, RetryFor: r.notify.plan.RetryFor},
		targets, func(i int) string { return job.NotificationID(jobID, first+i) })
}

// startDeliveries starts a delivery workflow of d for each target, named
// by id(i), and waits until each has started.
func startDeliveries(ctx workflow.Context, d job.Delivery, targets []job.NotifyTarget, id func(int) string) {
	info := workflow.GetInfo(ctx)
	d.Timestamp = workflow.Now(ctx).UTC()
	var started []workflow.ChildWorkflowFuture
	for i, t := range targets {
		d.MessageID, d.Target = id(i), t
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:            d.MessageID,
			TaskQueue:             info.TaskQueueName,
			ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
			Memo:                  map[string]any{job.MemoNotification: job.NotificationMemo{URL: t.URL, Event: d.Event}},
			StaticSummary:         d.Event + " → " + shortURL(t.URL),
		})
		started = append(started, workflow.ExecuteChildWorkflow(cctx, job.NotifyWorkflow, d))
	}
	for _, f := range started {
		if err := f.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("could not start a webhook delivery", "event", d.Event, "error", err)
		}
	}
}

// timeoutGrace is how long past a job's deadline its watcher waits before
// asking whether the job timed out.
const timeoutGrace = 2 * time.Second

// startNotify reads the job's notify plan and, when a receiver asks for
// job.timed_out and the job has a time limit, starts its timeout watcher:
// a job that runs out of time is closed by Temporal without running any
// more of its code, so the watcher must exist before.
func (r *jobRun) startNotify(ctx workflow.Context) {
	r.notify.plan = readPlan(ctx)
	info := workflow.GetInfo(ctx)
	if r.notify.plan == nil || info.WorkflowExecutionTimeout <= 0 {
		return
	}
	var targets []job.NotifyTarget
	for _, t := range r.notify.plan.Targets {
		if t.Wants(job.EventTimedOut) {
			targets = append(targets, t)
		}
	}
	if len(targets) == 0 || workflow.GetVersion(ctx, changeNotify, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	timedOut := r.view
	timedOut.Status = job.StatusTimedOut
	timedOut.Steps = nil
	timedOut.Error = &job.Error{Type: job.FailTimeout, Message: "the job did not finish within its time limit"}
	deadline := info.WorkflowStartTime.Add(info.WorkflowExecutionTimeout).UTC()
	finished := deadline.Truncate(job.TimePrecision)
	timedOut.FinishedAt = &finished
	data := job.EventData{View: timedOut}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            job.TimeoutWatcherID(info.WorkflowExecution.ID),
		TaskQueue:             info.TaskQueueName,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		StaticSummary:         "job.timed_out watcher",
	})
	f := workflow.ExecuteChildWorkflow(cctx, job.NotifyTimeoutWorkflow, job.TimeoutWatch{
		JobID: info.WorkflowExecution.ID, Tenant: r.view.Tenant, Deadline: deadline, Targets: targets, Data: data, RetryFor: r.notify.plan.RetryFor,
	})
	if err := f.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("could not start the job.timed_out watcher", "error", err)
		return
	}
	r.notify.watcher = true
}

// endWatch tells the timeout watcher, if any, that the job ended by
// itself, and waits until the signal is recorded, so that it arrives
// before the job closes.
func (r *jobRun) endWatch(ctx workflow.Context) {
	if !r.notify.watcher {
		return
	}
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	id := job.TimeoutWatcherID(workflow.GetInfo(ctx).WorkflowExecution.ID)
	if err := workflow.SignalExternalWorkflow(ctx, id, "", job.SignalJobEnded, nil).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("could not tell the job.timed_out watcher that the job ended", "error", err)
	}
}

// NotifyTimeout is a job's timeout watcher: it waits for the job's end
// signal or its deadline (plus timeoutGrace); past the deadline, once the
// job is confirmed timed out (not terminated, not ended), it starts the
// job.timed_out deliveries.
func NotifyTimeout(ctx workflow.Context, w job.TimeoutWatch) error {
	timerCtx, cancelTimer := workflow.WithCancel(ctx)
	timer := workflow.NewTimer(timerCtx, max(w.Deadline.Add(timeoutGrace).Sub(workflow.Now(ctx)), time.Millisecond))
	ended := false
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(workflow.GetSignalChannel(ctx, job.SignalJobEnded), func(c workflow.ReceiveChannel, _ bool) {
		c.Receive(ctx, nil)
		ended = true
		cancelTimer()
	})
	sel.AddFuture(timer, func(workflow.Future) {})
	sel.Select(ctx)
	if ended {
		return nil
	}
	actx := workflow.WithActivityOptions(ctx, steps.JobTimedOut.Options(workflow.GetInfo(ctx).TaskQueueName))
	var out job.StepOutput[bool]
	if err := workflow.ExecuteActivity(actx, steps.JobTimedOut.Name, w.JobID).Get(ctx, &out); err != nil {
		return err
	}
	if !out.Result {
		return nil
	}
	startDeliveries(ctx, job.Delivery{JobID: w.JobID, Tenant: w.Tenant, Event: job.EventTimedOut, Data: w.Data, RetryFor: w.RetryFor},
		w.Targets, func(i int) string { return job.TimeoutNotificationID(w.JobID, i) })
	return nil
}

// shortURL is a receiver as the Web UI's summaries show it: host and path,
// without the query (which may carry tokens).
func shortURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "webhook"
	}
	return u.Host + u.EscapedPath()
}

// Notify is the delivery workflow: one event to one receiver, through the
// deliver step, retried for the plan's RetryFor. It always completes with
// the outcome (delivered, gone or failed), which the job's view shows.
func Notify(ctx workflow.Context, d job.Delivery) (job.DeliveryOutcome, error) {
	opts := steps.Deliver.Options(workflow.GetInfo(ctx).TaskQueueName)
	opts.ScheduleToCloseTimeout = d.RetryFor
	if opts.ScheduleToCloseTimeout <= 0 {
		opts.ScheduleToCloseTimeout = job.DefaultRetryFor
	}
	opts.Summary = "POST " + shortURL(d.Target.URL)
	ctx = workflow.WithActivityOptions(ctx, opts)
	var out job.StepOutput[job.DeliveryOutcome]
	err := workflow.ExecuteActivity(ctx, steps.Deliver.Name, d).Get(ctx, &out)
	if err == nil {
		return out.Result, nil
	}
	o := job.DeliveryOutcome{Status: job.NotificationFailed, LastError: job.ErrorOf(err).Message}
	var appErr *temporal.ApplicationError
	var detail job.DeliveryDetail
	if errors.As(err, &appErr) && appErr.HasDetails() && appErr.Details(&detail) == nil {
		o.Attempts, o.LastStatusCode = detail.Attempt, detail.StatusCode
	}
	var timeoutErr *temporal.TimeoutError
	if errors.As(err, &timeoutErr) {
		o.LastError = fmt.Sprintf("retried for %s without success; last: %s", opts.ScheduleToCloseTimeout, o.LastError)
	}
	return o, nil
}
