// Package workflows holds Docket's workflows: one per job type, registered
// under the job type's name. Workflow code here must stay deterministic;
// `make lint` runs Temporal's workflowcheck over it.
package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/steps"
)

// statusKey is the typed key of job.StatusSearchAttribute.
var statusKey = temporal.NewSearchAttributeKeyKeyword(job.StatusSearchAttribute)

// tenantKey is the typed key of job.TenantSearchAttribute.
var tenantKey = temporal.NewSearchAttributeKeyKeyword(job.TenantSearchAttribute)

// jobRun keeps the job view of one workflow run and answers the status
// query with it.
type jobRun struct {
	view job.View
	// pickup is the version of changeStatusOnPickup this run follows.
	pickup workflow.Version
	// runningPublished: DocketStatus already says RUNNING.
	runningPublished bool
	// notify is the job's webhooks (notify.go).
	notify notifier
	// fan is the long document whose batches are being read, if any.
	fan *fanOut
}

// setup starts the job's view, registers the status query, listens for the
// workers' step events and validates the input, which may come from the
// temporal CLI without the API's checks.
func setup(ctx workflow.Context, jobType string, in job.Input) (*jobRun, error) {
	info := workflow.GetInfo(ctx)
	created := info.WorkflowStartTime.UTC().Truncate(job.TimePrecision)
	// The tenant is set when the job starts and never changes; a job
	// started without one (the temporal CLI) has none.
	tenant, _ := workflow.GetTypedSearchAttributes(ctx).GetKeyword(tenantKey)
	r := &jobRun{view: job.View{
		ID:        info.WorkflowExecution.ID,
		Type:      jobType,
		Status:    job.StatusQueued,
		Input:     in,
		Tenant:    tenant,
		CreatedAt: &created,
		Steps:     []job.Step{},
	}}
	if err := workflow.SetQueryHandler(ctx, job.QueryStatus, func() (job.View, error) {
		return r.view, nil
	}); err != nil {
		return nil, err
	}
	r.startNotify(ctx)
	r.pickup = workflow.GetVersion(ctx, changeStatusOnPickup, workflow.DefaultVersion, 1)
	if r.pickup == workflow.DefaultVersion {
		// Before the change the job was marked RUNNING on its first
		// workflow task, whether or not any worker had picked up a step.
		if err := workflow.UpsertTypedSearchAttributes(ctx, statusKey.ValueSet(string(job.StatusRunning))); err != nil {
			return nil, err
		}
		r.runningPublished = true
	}
	// Step events keep arriving while a canceled step winds down.
	events, _ := workflow.NewDisconnectedContext(ctx)
	workflow.Go(events, r.watchSteps)
	if err := r.trackEvents(events); err != nil {
		return nil, err
	}
	if err := in.Normalize(); err != nil {
		r.fail(job.Error{Type: job.FailInvalidInput, Message: err.Error()})
		r.publishStatus(ctx)
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), string(job.FailInvalidInput), err)
	}
	return r, nil
}

// watchSteps applies the workers' step events (job.SignalStep) to the view.
func (r *jobRun) watchSteps(ctx workflow.Context) {
	ch := workflow.GetSignalChannel(ctx, job.SignalStep)
	for {
		var ev job.StepEvent
		if !ch.Receive(ctx, &ev) {
			return
		}
		r.onStepEvent(ctx, ev)
	}
}

// onStepEvent records that a worker picked up a step, or how far it got.
// Events of an earlier attempt, or of a step that has already ended, arrive
// late and change nothing.
func (r *jobRun) onStepEvent(ctx workflow.Context, ev job.StepEvent) {
	if ev.Step == job.StepOCRPages {
		r.onBatchEvent(ctx, ev)
		return
	}
	idx := -1
	for i := range r.view.Steps {
		if r.view.Steps[i].Name == ev.Step && !r.view.Steps[i].Status.Terminal() {
			idx = i
		}
	}
	if idx < 0 {
		return
	}
	s := &r.view.Steps[idx]
	if ev.Attempt < s.Attempt {
		return
	}
	if ev.Attempt > s.Attempt {
		s.Progress = nil
	}
	started := ev.Started.UTC().Truncate(job.TimePrecision)
	s.Status, s.Attempt, s.Worker, s.StartedAt = job.StatusRunning, ev.Attempt, ev.Worker, &started
	if ev.Progress != nil && (s.Progress == nil || ev.Progress.Done >= s.Progress.Done) {
		s.Progress = ev.Progress
		// The Web UI shows the workflow's current details on the job's
		// page: the running step's progress, without opening its pending
		// activities. Not a command: histories replay unchanged.
		workflow.SetCurrentDetails(ctx, fmt.Sprintf("%s %d/%d", s.Name, s.Progress.Done, s.Progress.Total))
	}
	if r.view.StartedAt == nil {
		r.view.StartedAt = &started
	}
	r.markRunning(ctx)
}

// markRunning records that a worker has picked up a step of the job: in the
// view and, once, in DocketStatus.
func (r *jobRun) markRunning(ctx workflow.Context) {
	if r.view.Status.Terminal() {
		return
	}
	r.view.Status = job.StatusRunning
	if r.runningPublished || r.pickup == workflow.DefaultVersion {
		return
	}
	r.runningPublished = true
	if err := workflow.UpsertTypedSearchAttributes(ctx, statusKey.ValueSet(string(job.StatusRunning))); err != nil {
		workflow.GetLogger(ctx).Warn("could not publish the RUNNING status", "error", err)
	}
}

// runStep runs one step of the job through its descriptor, on the queue
// and with the timeouts the descriptor declares, and records its outcome in
// the view.
func runStep[In, Out any](ctx workflow.Context, r *jobRun, def steps.Def[In, Out], in In) (Out, job.StepReport, error) {
	opts := def.Options(workflow.GetInfo(ctx).TaskQueueName)
	// The Web UI shows it on the step's activity. User metadata, not part
	// of the command the replayer compares: histories replay unchanged.
	opts.Summary = job.StepSummaryOf(def.Name, r.view.Input)
	ctx = workflow.WithActivityOptions(ctx, opts)
	idx := r.beginStep(ctx, def.Name)
	var out job.StepOutput[Out]
	err := workflow.ExecuteActivity(ctx, def.Name, in).Get(ctx, &out)
	r.endStep(ctx, idx, out.Report, err)
	return out.Result, out.Report, err
}

// beginStep adds a step to the view, QUEUED until a worker says it has
// picked the step up, and returns its index.
func (r *jobRun) beginStep(ctx workflow.Context, name string) int {
	if len(r.view.Steps) > 0 {
		// An earlier step ran, so a worker picked the job up even if its
		// step event was lost.
		r.markRunning(ctx)
	}
	r.view.Steps = append(r.view.Steps, job.Step{Name: name, Status: job.StatusQueued})
	return len(r.view.Steps) - 1
}

// endStep records how step idx ended: err, or success with the report of
// the attempt that finished it.
func (r *jobRun) endStep(ctx workflow.Context, idx int, rep job.StepReport, err error) {
	// After the outcome is recorded below (a no-op without webhooks).
	defer r.notifyStep(ctx, idx)
	// Step events may have grown the slice meanwhile; index, not pointer.
	step := &r.view.Steps[idx]
	finished := workflow.Now(ctx).UTC().Truncate(job.TimePrecision)
	step.FinishedAt = &finished
	if err != nil {
		step.Status = stepStatus(err)
		step.LastError = job.ErrorOf(err).Message
		var timeoutErr *temporal.TimeoutError
		var p job.Progress
		if errors.As(err, &timeoutErr) && timeoutErr.HasLastHeartbeatDetails() && timeoutErr.LastHeartbeatDetails(&p) == nil && p.Total > 0 {
			step.Progress = &p
		}
		return
	}
	started := rep.StartedAt.UTC().Truncate(job.TimePrecision)
	step.Status = job.StatusSucceeded
	step.Attempt = rep.Attempt
	step.Worker = rep.Worker
	step.StartedAt = &started
	if rep.Progress != nil {
		step.Progress = rep.Progress
	}
	if r.view.StartedAt == nil {
		r.view.StartedAt = &started
	}
}

// finish records the job's outcome and returns what the workflow returns:
// on failure Docket's own error, the cause's type and message, so that the
// Web UI and `temporal workflow describe` lead with the reason rather than
// with Temporal's "activity error" wrapping (the original stays its cause).
func finish[T any](ctx workflow.Context, r *jobRun, result T, err error) (T, error) {
	switch {
	case err == nil:
		r.view.Status = job.StatusSucceeded
	case temporal.IsCanceledError(err):
		r.view.Status = job.StatusCanceled
	default:
		e := job.ErrorOf(err)
		r.fail(e)
		if r.pickup != workflow.DefaultVersion {
			err = temporal.NewApplicationErrorWithOptions(e.Message, string(e.Type), temporal.ApplicationErrorOptions{NonRetryable: !e.Retryable, Cause: err})
		}
	}
	r.publishStatus(ctx)
	r.notifyEnd(ctx, result)
	return result, err
}

// Change ids for workflow.GetVersion. Each guards a change that alters the
// commands a workflow emits, so that jobs started before the change replay
// the old way; see the README's "Changing a workflow".
const (
	// changeFinalStatus: the final status is published in DocketStatus.
	changeFinalStatus = "final-status-search-attribute"
	// changeStatusOnPickup: DocketStatus turns RUNNING when a worker picks
	// up a step (job.SignalStep), not on the first workflow task, and a
	// failed job fails with Docket's own error.
	changeStatusOnPickup = "status-on-pickup"
)

// publishStatus records the job's final status in the DocketStatus search
// attribute, so that lists and the Web UI can filter by it directly.
func (r *jobRun) publishStatus(ctx workflow.Context) {
	// A canceled job's context is canceled; the upsert needs one that is not.
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	if workflow.GetVersion(ctx, changeFinalStatus, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	// An upsert failure must not fail a job whose work is done: the status
	// is still in the view and in Temporal's execution status.
	if err := workflow.UpsertTypedSearchAttributes(ctx, statusKey.ValueSet(string(r.view.Status))); err != nil {
		workflow.GetLogger(ctx).Warn("could not publish the final status", "error", err)
	}
}

func (r *jobRun) fail(e job.Error) {
	r.view.Status = job.StatusFailed
	r.view.Error = &e
}

// stepStatus is the status of a step whose activity returned err.
func stepStatus(err error) job.Status {
	var timeoutErr *temporal.TimeoutError
	switch {
	case temporal.IsCanceledError(err):
		return job.StatusCanceled
	case errors.As(err, &timeoutErr):
		return job.StatusTimedOut
	}
	return job.StatusFailed
}
