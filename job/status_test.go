package job

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/temporal"
)

func TestDeriveStatus(t *testing.T) {
	running := enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	scheduled := &workflowpb.PendingActivityInfo{State: enumspb.PENDING_ACTIVITY_STATE_SCHEDULED, Attempt: 1}
	started := &workflowpb.PendingActivityInfo{State: enumspb.PENDING_ACTIVITY_STATE_STARTED, Attempt: 1}
	cancelReq := &workflowpb.PendingActivityInfo{State: enumspb.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED, Attempt: 1}
	backoff := &workflowpb.PendingActivityInfo{State: enumspb.PENDING_ACTIVITY_STATE_SCHEDULED, Attempt: 2}
	tests := []struct {
		name  string
		facts StatusFacts
		want  Status
	}{
		{"completed", StatusFacts{Execution: enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, SearchAttribute: StatusRunning}, StatusSucceeded},
		{"failed", StatusFacts{Execution: enumspb.WORKFLOW_EXECUTION_STATUS_FAILED}, StatusFailed},
		{"terminated", StatusFacts{Execution: enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, SearchAttribute: StatusRunning}, StatusFailed},
		{"canceled", StatusFacts{Execution: enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED}, StatusCanceled},
		{"timed out", StatusFacts{Execution: enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT, SearchAttribute: StatusQueued}, StatusTimedOut},
		{"running, nothing known (a list of a CLI job)", StatusFacts{Execution: running}, StatusQueued},
		{"running, attribute QUEUED", StatusFacts{Execution: running, SearchAttribute: StatusQueued}, StatusQueued},
		{"running, attribute RUNNING (a list)", StatusFacts{Execution: running, SearchAttribute: StatusRunning}, StatusRunning},
		{"step scheduled, not picked up", StatusFacts{Execution: running, SearchAttribute: StatusQueued, Pending: []*workflowpb.PendingActivityInfo{scheduled}, Steps: []Step{{Name: "ocr", Status: StatusQueued}}}, StatusQueued},
		{"step started, signal not yet applied", StatusFacts{Execution: running, SearchAttribute: StatusQueued, Pending: []*workflowpb.PendingActivityInfo{started}}, StatusRunning},
		{"step cancel requested", StatusFacts{Execution: running, Pending: []*workflowpb.PendingActivityInfo{cancelReq}}, StatusRunning},
		{"retry waiting for its backoff", StatusFacts{Execution: running, Pending: []*workflowpb.PendingActivityInfo{backoff}}, StatusRunning},
		{"the workflow's view says a step runs", StatusFacts{Execution: running, Steps: []Step{{Name: "sum", Status: StatusRunning}}}, StatusRunning},
		{"an earlier step finished, the next is queued", StatusFacts{Execution: running, Pending: []*workflowpb.PendingActivityInfo{scheduled},
			Steps: []Step{{Name: "ocr", Status: StatusSucceeded}, {Name: "entities", Status: StatusQueued}}}, StatusRunning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, DeriveStatus(tt.facts))
		})
	}
}

func TestSettleSteps(t *testing.T) {
	steps := func() []Step {
		return []Step{{Name: "ocr", Status: StatusSucceeded}, {Name: "entities", Status: StatusRunning}, {Name: "x", Status: StatusQueued}}
	}
	for _, status := range []Status{StatusTimedOut, StatusCanceled, StatusFailed} {
		s := steps()
		SettleSteps(status, s)
		require.Equal(t, []Status{StatusSucceeded, status, status}, []Status{s[0].Status, s[1].Status, s[2].Status}, "%s", status)
	}
	s := steps()
	SettleSteps(StatusRunning, s)
	require.Equal(t, steps(), s, "a running job's steps are left as they are")
}

func TestErrorOf(t *testing.T) {
	app := temporal.NewNonRetryableApplicationError("server answered 404 Not Found", string(FailHTTPClientError), nil)
	tests := []struct {
		name string
		err  error
		want Error
	}{
		{"application error", app, Error{Type: FailHTTPClientError, Message: "server answered 404 Not Found"}},
		{"wrapped application error", fmt.Errorf("step: %w", app), Error{Type: FailHTTPClientError, Message: "server answered 404 Not Found"}},
		{"retryable", temporal.NewApplicationError("busy", "http_server_error"), Error{Type: "http_server_error", Message: "busy", Retryable: true}},
		{"permanent though flagged retryable", temporal.NewApplicationError("total: missing", string(FailInvalidLLMOutput)), Error{Type: FailInvalidLLMOutput, Message: "total: missing"}},
		{"heartbeat timeout", temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_HEARTBEAT, nil),
			Error{Type: FailTimeout, Message: "the step's worker stopped sending heartbeats (it may have crashed) and the step ran out of attempts", Retryable: true}},
		{"canceled", temporal.NewCanceledError(), Error{Type: FailCanceled, Message: "the step was canceled"}},
		{"unknown, unwrapped to its cause", fmt.Errorf("a: %w", fmt.Errorf("b: %w", errors.New("disk full"))), Error{Type: FailUnknown, Message: "disk full", Retryable: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, ErrorOf(tt.err))
		})
	}
}
