package job

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/temporal"
)

// SignalStep is the signal a worker sends a job's workflow when one of its
// steps starts and, throttled, when the step's progress moves. It is how the
// workflow learns what only a worker knows (that the step was picked up, by
// whom, in which attempt, how far it got), so that the status query, the
// DocketStatus search attribute, lists and GET /jobs/{id} all tell the same
// story. Nothing but the status view depends on it: a lost signal leaves the
// job running as before.
const SignalStep = "docket.step"

// StepEvent is the argument of SignalStep.
type StepEvent struct {
	// Step is the activity type name, which is also the step's name.
	Step    string    `json:"step"`
	Attempt int32     `json:"attempt"`
	Worker  string    `json:"worker"`
	Started time.Time `json:"started"`
	// Progress is the step's last heartbeat, when it has one.
	Progress *Progress `json:"progress,omitempty"`
	// Activity is the activity's id in its workflow. A step that runs as
	// several activities at once (the pages of a long document, see
	// StepOCRPages) tells its parts apart by it.
	Activity string `json:"activity,omitempty"`
}

// TimePrecision is the precision of every time a job view carries: SQL
// visibility keeps microseconds, so a list and a job's own view can only
// agree at that precision.
const TimePrecision = time.Microsecond

// StatusFacts are what a job's status is derived from: Temporal's execution
// status, the DocketStatus search attribute, the workflow's pending
// activities and the workflow's own view. Lists know only the first two;
// a job's detail knows them all.
type StatusFacts struct {
	Execution enumspb.WorkflowExecutionStatus
	// SearchAttribute is DocketStatus as visibility holds it ("" when unset).
	SearchAttribute Status
	// Pending are the workflow's pending activities (detail only).
	Pending []*workflowpb.PendingActivityInfo
	// Steps are the workflow's view of its steps (detail only, when a
	// worker answered the status query).
	Steps []Step
}

// DeriveStatus is the one place a job's status is decided. A closed
// workflow's status is Temporal's. A running job is RUNNING once any worker
// has picked up any of its steps, which the workflow publishes in
// DocketStatus (lists filter on it) and which the pending activities and the
// workflow's view show a moment earlier; until then it is QUEUED.
func DeriveStatus(f StatusFacts) Status {
	switch f.Execution {
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return StatusSucceeded
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return StatusFailed
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return StatusCanceled
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return StatusTimedOut
	case enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		// The job goes on in a new run, which is what a describe returns.
		return StatusRunning
	}
	if f.SearchAttribute == StatusRunning {
		return StatusRunning
	}
	for _, pa := range f.Pending {
		if pendingStarted(pa) {
			return StatusRunning
		}
	}
	for _, s := range f.Steps {
		if s.Status != StatusQueued {
			return StatusRunning
		}
	}
	return StatusQueued
}

// pendingStarted reports whether a worker has picked up a pending activity.
// A retry waiting for its backoff counts: a worker ran the step before.
func pendingStarted(pa *workflowpb.PendingActivityInfo) bool {
	switch pa.GetState() {
	case enumspb.PENDING_ACTIVITY_STATE_STARTED, enumspb.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED:
		return true
	}
	return pa.GetAttempt() > 1
}

// SettleSteps gives the steps of a job that has ended the job's own status
// where they were still QUEUED or RUNNING: a job that timed out or was
// canceled no longer runs any step, whatever the workflow last recorded
// (its code does not run again once Temporal closes it for a timeout).
func SettleSteps(status Status, steps []Step) {
	if !status.Terminal() {
		return
	}
	settled := status
	if status == StatusSucceeded {
		// Cannot happen for a step the workflow awaited; say nothing false.
		return
	}
	for i := range steps {
		if steps[i].Status == StatusQueued || steps[i].Status == StatusRunning {
			steps[i].Status = settled
		}
	}
}

// ErrorOf is the one converter from an error a step or a job ended with to
// the Error a job reports: the type and message of the innermost cause
// Docket understands, without Temporal's wrapping ("activity error (type:
// …, scheduledEventID: …)"), so that the first line a person reads says
// why. It serves the workflows (a failed step, the job's own failure) and
// the client (a closed workflow's failure).
func ErrorOf(err error) Error {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		f := Failure(appErr.Type())
		return Error{Type: f, Message: appErr.Message(), Retryable: !appErr.NonRetryable() && !f.Permanent()}
	}
	var timeoutErr *temporal.TimeoutError
	if errors.As(err, &timeoutErr) {
		return Error{Type: FailTimeout, Message: timeoutMessage(timeoutErr.TimeoutType()), Retryable: true}
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		return Error{Type: FailCanceled, Message: "the step was canceled"}
	}
	var terminated *temporal.TerminatedError
	if errors.As(err, &terminated) {
		return Error{Type: FailTerminated, Message: "the job's workflow was terminated"}
	}
	return Error{Type: FailUnknown, Message: innermost(err).Error(), Retryable: true}
}

func timeoutMessage(t enumspb.TimeoutType) string {
	switch t {
	case enumspb.TIMEOUT_TYPE_HEARTBEAT:
		return "the step's worker stopped sending heartbeats (it may have crashed) and the step ran out of attempts"
	case enumspb.TIMEOUT_TYPE_START_TO_CLOSE:
		return "the step did not finish within its time limit"
	case enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START, enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE:
		return "no worker finished the step in time"
	}
	return fmt.Sprintf("the step timed out (%s)", t)
}

// innermost unwraps err to its root cause, whose message is the reason
// rather than the chain of wrappers around it.
func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}
