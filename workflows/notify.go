package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

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

// maxInlineResult is the largest result a delivery's body carries inline;
// a larger one is linked (result_url).
const maxInlineResult = 64 << 10

// notifier is a job run's part in its webhooks: the plan its memo
// carries and how many deliveries it has started.
type notifier struct {
	plan    *job.NotifyPlan
	started int
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

// eventData is the data of a delivery's body: the job's view, and its
// result inline or linked, or the step that finished.
type eventData struct {
	job.View
	Result    json.RawMessage `json:"result,omitempty"`
	ResultURL string          `json:"result_url,omitempty"`
	Step      *job.Step       `json:"step,omitempty"`
}

// notifyStep delivers job.step_finished for the job's step idx to the
// receivers that asked for it.
func (r *jobRun) notifyStep(ctx workflow.Context, idx int) {
	if r.notify.plan == nil {
		return
	}
	step := r.view.Steps[idx]
	r.deliver(ctx, job.EventStepFinished, eventData{View: r.view, Step: &step})
}

// notifyEnd delivers the job's terminal event, with its result when it
// succeeded.
func (r *jobRun) notifyEnd(ctx workflow.Context, result any) {
	if r.notify.plan == nil {
		return
	}
	d := eventData{View: r.view}
	finished := workflow.Now(ctx).UTC().Truncate(job.TimePrecision)
	d.FinishedAt = &finished
	if r.view.Status == job.StatusSucceeded {
		b, err := json.Marshal(result)
		switch {
		case err != nil:
			workflow.GetLogger(ctx).Warn("could not encode the result for webhooks", "error", err)
		case len(b) > maxInlineResult:
			d.ResultURL = "/jobs/" + url.PathEscape(r.view.ID) + "/results"
		default:
			d.Result = b
		}
	}
	r.deliver(ctx, job.EventOf(r.view.Status), d)
}

// deliver starts a delivery workflow for each receiver that asked for
// event and waits only until each has started: the deliveries are
// abandoned children, so the job closes at once and its result never
// waits on a receiver. A delivery that cannot start is logged, never a
// failure of the job.
func (r *jobRun) deliver(ctx workflow.Context, event string, data eventData) {
	// A canceled job still tells its receivers.
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	if workflow.GetVersion(ctx, changeNotify, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	data.Steps = append([]job.Step(nil), data.Steps...)
	body, err := json.Marshal(data)
	if err != nil {
		workflow.GetLogger(ctx).Warn("could not encode a webhook's data", "event", event, "error", err)
		return
	}
	info := workflow.GetInfo(ctx)
	now := workflow.Now(ctx).UTC()
	var started []workflow.ChildWorkflowFuture
	for _, t := range r.notify.plan.Targets {
		if !t.Wants(event) || r.notify.started >= job.MaxNotifications {
			continue
		}
		id := job.NotificationID(info.WorkflowExecution.ID, r.notify.started)
		r.notify.started++
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:            id,
			TaskQueue:             info.TaskQueueName,
			ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
			Memo:                  map[string]any{job.MemoNotification: job.NotificationMemo{URL: t.URL, Event: event}},
			StaticSummary:         event + " → " + shortURL(t.URL),
		})
		started = append(started, workflow.ExecuteChildWorkflow(cctx, job.NotifyWorkflow, job.Delivery{
			JobID: info.WorkflowExecution.ID, Tenant: r.view.Tenant, MessageID: id, Target: t,
			Event: event, Timestamp: now, Data: body, RetryFor: r.notify.plan.RetryFor,
		}))
	}
	for _, f := range started {
		if err := f.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("could not start a webhook delivery", "event", event, "error", err)
		}
	}
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
