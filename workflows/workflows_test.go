package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/docket-dev/docket/activities"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/steps"
	"github.com/docket-dev/docket/workflows"
)

func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	workflows.Register(env)
	activities.Register(env, (&activities.Activities{Worker: "test-worker"}).Steps())
	return env
}

func i64(v int64) *int64 { return &v }

func statusOf(t *testing.T, env *testsuite.TestWorkflowEnvironment) job.View {
	t.Helper()
	res, err := env.QueryWorkflow(job.QueryStatus)
	require.NoError(t, err)
	var v job.View
	require.NoError(t, res.Get(&v))
	return v
}

func sumOutput(sum, count int64, attempt int32) job.StepOutput[job.SumResult] {
	return job.StepOutput[job.SumResult]{
		Report: job.StepReport{Worker: "mock-worker", Attempt: attempt, StartedAt: time.Unix(0, 0).UTC(), FinishedAt: time.Unix(1, 0).UTC()},
		Result: job.SumResult{Sum: sum, Count: count},
	}
}

// The real activity runs inside the test environment: the workflow's
// result and its status view come from it.
func TestSumSucceeds(t *testing.T) {
	env := newEnv(t)
	env.ExecuteWorkflow(job.TypeSum, job.SumInput{Start: i64(1), End: i64(100)})

	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res job.SumResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, job.SumResult{Sum: 5050, Count: 100}, res)

	v := statusOf(t, env)
	require.Equal(t, job.StatusSucceeded, v.Status)
	require.Equal(t, job.TypeSum, v.Type)
	require.NotNil(t, v.StartedAt)
	require.Len(t, v.Steps, 1)
	require.Equal(t, steps.Sum.Name, v.Steps[0].Name)
	require.Equal(t, job.StatusSucceeded, v.Steps[0].Status)
	require.Equal(t, "test-worker", v.Steps[0].Worker)
	require.EqualValues(t, 1, v.Steps[0].Attempt)
	require.Nil(t, v.Error)
}

func TestWordcountSucceeds(t *testing.T) {
	env := newEnv(t)
	want := job.WordcountResult{Words: 3, Unique: 2, Top: []job.WordCount{{Word: "a", Count: 2}, {Word: "b", Count: 1}}}
	env.OnActivity(steps.CountWords.Name, mock.Anything, job.WordcountInput{URL: "https://example.org/", Top: 10}).
		Return(job.StepOutput[job.WordcountResult]{Result: want}, nil).Once()

	// Top is omitted, as from the CLI: the workflow applies the default.
	env.ExecuteWorkflow(job.TypeWordcount, job.WordcountInput{URL: "https://example.org/"})

	require.NoError(t, env.GetWorkflowError())
	var res job.WordcountResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, want, res)
	env.AssertExpectations(t)
}

// DocketStatus says RUNNING only once a worker has picked up a step (its
// step event), then the final status; a job that fails before any step
// runs, or whose step ends before its event arrives, goes straight to the
// final status.
func TestStatusIsPublishedOnPickup(t *testing.T) {
	tests := []struct {
		name   string
		input  job.SumInput
		pickup bool
		want   []job.Status
	}{
		{"picked up, succeeded", job.SumInput{Start: i64(1), End: i64(2), WorkMS: 400}, true, []job.Status{job.StatusRunning, job.StatusSucceeded}},
		{"no step event, succeeded", job.SumInput{Start: i64(1), End: i64(2)}, false, []job.Status{job.StatusSucceeded}},
		{"invalid input", job.SumInput{Start: i64(2), End: i64(1)}, false, []job.Status{job.StatusFailed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			var published []job.Status
			env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
				sa := args.Get(0).(temporal.SearchAttributes)
				if v, ok := sa.GetKeyword(temporal.NewSearchAttributeKeyKeyword(job.StatusSearchAttribute)); ok {
					published = append(published, job.Status(v))
				}
			}).Return(nil)
			if tt.pickup {
				env.RegisterDelayedCallback(func() {
					env.SignalWorkflow(job.SignalStep, job.StepEvent{Step: steps.Sum.Name, Attempt: 1, Worker: "w-1", Started: time.Now()})
				}, 100*time.Millisecond)
			}
			env.ExecuteWorkflow(job.TypeSum, tt.input)
			require.True(t, env.IsWorkflowCompleted())
			require.Equal(t, tt.want, published)
		})
	}
}

// The status query answers what the API shows: a step is QUEUED until a
// worker's step event says it was picked up, then RUNNING with its attempt,
// worker and progress; a finished step keeps its final progress.
func TestStatusQueryFollowsStepEvents(t *testing.T) {
	env := newEnv(t)
	var before, after job.View
	env.RegisterDelayedCallback(func() { before = statusOf(t, env) }, 50*time.Millisecond)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(job.SignalStep, job.StepEvent{Step: steps.Sum.Name, Attempt: 1, Worker: "w-1", Started: time.Now(),
			Progress: &job.Progress{Done: 5, Total: 10}})
	}, 100*time.Millisecond)
	env.RegisterDelayedCallback(func() { after = statusOf(t, env) }, 150*time.Millisecond)
	env.ExecuteWorkflow(job.TypeSum, job.SumInput{Start: i64(1), End: i64(10), WorkMS: 400})
	require.NoError(t, env.GetWorkflowError())

	require.Equal(t, job.StatusQueued, before.Status)
	require.Nil(t, before.StartedAt)
	require.Equal(t, []job.Status{job.StatusQueued}, stepStatuses(before))

	require.Equal(t, job.StatusRunning, after.Status)
	require.NotNil(t, after.StartedAt)
	require.Len(t, after.Steps, 1)
	require.Equal(t, job.StatusRunning, after.Steps[0].Status)
	require.Equal(t, "w-1", after.Steps[0].Worker)
	require.EqualValues(t, 1, after.Steps[0].Attempt)
	require.Equal(t, &job.Progress{Done: 5, Total: 10}, after.Steps[0].Progress)

	end := statusOf(t, env)
	require.Equal(t, job.StatusSucceeded, end.Steps[0].Status)
	require.Equal(t, &job.Progress{Done: 10, Total: 10}, end.Steps[0].Progress, "the finished step keeps its final progress")
}

func stepStatuses(v job.View) []job.Status {
	var out []job.Status
	for _, s := range v.Steps {
		out = append(out, s.Status)
	}
	return out
}

// A retryable failure is retried by the activity's retry policy and the
// job still succeeds; the view shows the attempt that did.
func TestSumRetriesThenSucceeds(t *testing.T) {
	env := newEnv(t)
	calls := 0
	env.OnActivity(steps.Sum.Name, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in job.SumInput) (job.StepOutput[job.SumResult], error) {
			calls++
			attempt := activity.GetInfo(ctx).Attempt
			if attempt < 3 {
				return job.StepOutput[job.SumResult]{}, errors.New("worker lost its connection")
			}
			return sumOutput(55, 10, attempt), nil
		})

	env.ExecuteWorkflow(job.TypeSum, job.SumInput{Start: i64(1), End: i64(10)})

	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, 3, calls)
	v := statusOf(t, env)
	require.Equal(t, job.StatusSucceeded, v.Status)
	require.EqualValues(t, 3, v.Steps[0].Attempt)
	require.Equal(t, "mock-worker", v.Steps[0].Worker)
}

// A non-retryable error fails the job at once, with its type in the view.
func TestNonRetryableFailureFailsOnce(t *testing.T) {
	env := newEnv(t)
	calls := 0
	env.OnActivity(steps.CountWords.Name, mock.Anything, mock.Anything).Return(
		func(context.Context, job.WordcountInput) (job.StepOutput[job.WordcountResult], error) {
			calls++
			return job.StepOutput[job.WordcountResult]{}, temporal.NewNonRetryableApplicationError("server answered 404 Not Found", string(job.FailHTTPClientError), nil)
		})

	env.ExecuteWorkflow(job.TypeWordcount, job.WordcountInput{URL: "https://example.org/missing"})

	err := env.GetWorkflowError()
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, job.FailHTTPClientError, job.Failure(appErr.Type()))
	require.Equal(t, 1, calls)
	// The workflow fails with Docket's own error, so that the first line
	// the Web UI and `temporal workflow describe` show is the reason.
	var wfErr *temporal.WorkflowExecutionError
	require.ErrorAs(t, err, &wfErr)
	top, ok := wfErr.Unwrap().(*temporal.ApplicationError)
	require.True(t, ok, "the workflow's failure is Docket's error, not Temporal's activity error: %T", wfErr.Unwrap())
	require.Equal(t, "server answered 404 Not Found", top.Message())
	require.Equal(t, string(job.FailHTTPClientError), top.Type())
	require.True(t, top.NonRetryable())

	v := statusOf(t, env)
	require.Equal(t, job.StatusFailed, v.Status)
	require.Equal(t, &job.Error{Type: job.FailHTTPClientError, Message: "server answered 404 Not Found", Retryable: false}, v.Error)
	require.Equal(t, job.StatusFailed, v.Steps[0].Status)
	require.Contains(t, v.Steps[0].LastError, "404")
}

// Input that the API would have refused can still arrive from the temporal
// CLI: the workflow fails without running a step and without retrying.
func TestInvalidInputFailsWithoutRunningAStep(t *testing.T) {
	tests := []struct {
		name  string
		typ   string
		input any
		field string
	}{
		{"sum end before start", job.TypeSum, job.SumInput{Start: i64(10), End: i64(1)}, "input.end"},
		{"sum missing start", job.TypeSum, job.SumInput{End: i64(1)}, "input.start"},
		{"sum work too long", job.TypeSum, job.SumInput{Start: i64(1), End: i64(2), WorkMS: 10 * job.SumMaxWorkMS}, "input.work_ms"},
		{"wordcount bad scheme", job.TypeWordcount, job.WordcountInput{URL: "file:///etc/passwd"}, "input.url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			env.SetOnActivityStartedListener(func(*activity.Info, context.Context, converter.EncodedValues) {
				t.Fatal("no activity may start")
			})
			env.ExecuteWorkflow(tt.typ, tt.input)

			var appErr *temporal.ApplicationError
			require.ErrorAs(t, env.GetWorkflowError(), &appErr)
			require.Equal(t, job.FailInvalidInput, job.Failure(appErr.Type()))
			require.True(t, appErr.NonRetryable())
			require.Contains(t, appErr.Message(), tt.field)
			v := statusOf(t, env)
			require.Equal(t, job.StatusFailed, v.Status)
			require.Equal(t, job.FailInvalidInput, v.Error.Type)
			require.Empty(t, v.Steps)
		})
	}
}

// Canceling the workflow cancels the running activity, waits for it to
// stop, and ends the job CANCELED.
func TestCancelStopsRunningStep(t *testing.T) {
	env := newEnv(t)
	// The test environment reports the cancellation to the workflow
	// without waiting for the activity; that the real activity stops is
	// tested against a real server in the api package.
	var canceled []string
	env.SetOnActivityCanceledListener(func(info *activity.Info) { canceled = append(canceled, info.ActivityType.Name) })
	env.OnActivity(steps.Sum.Name, mock.Anything, mock.Anything).After(time.Hour).Return(sumOutput(55, 10, 1), nil)
	env.RegisterDelayedCallback(env.CancelWorkflow, 2*time.Second)

	env.ExecuteWorkflow(job.TypeSum, job.SumInput{Start: i64(1), End: i64(10), WorkMS: 60_000})

	require.True(t, env.IsWorkflowCompleted())
	require.True(t, temporal.IsCanceledError(env.GetWorkflowError()), "got %v", env.GetWorkflowError())
	require.Equal(t, []string{steps.Sum.Name}, canceled)
	v := statusOf(t, env)
	require.Equal(t, job.StatusCanceled, v.Status)
	require.Equal(t, job.StatusCanceled, v.Steps[0].Status)
	require.Equal(t, "the step was canceled", v.Steps[0].LastError)
}

// An activity that keeps timing out is retried up to the policy's limit,
// then the job fails with a timeout error.
func TestStepTimeoutsExhaustRetries(t *testing.T) {
	env := newEnv(t)
	calls := 0
	env.OnActivity(steps.Sum.Name, mock.Anything, mock.Anything).Return(
		func(context.Context, job.SumInput) (job.StepOutput[job.SumResult], error) {
			calls++
			return job.StepOutput[job.SumResult]{}, temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_HEARTBEAT, nil)
		})

	env.ExecuteWorkflow(job.TypeSum, job.SumInput{Start: i64(1), End: i64(10)})

	var timeoutErr *temporal.TimeoutError
	require.ErrorAs(t, env.GetWorkflowError(), &timeoutErr)
	require.Equal(t, 5, calls, "the retry policy allows five attempts")
	v := statusOf(t, env)
	require.Equal(t, job.StatusFailed, v.Status)
	require.Equal(t, job.FailTimeout, v.Error.Type)
	require.Equal(t, job.StatusTimedOut, v.Steps[0].Status)
}

// A job given less time than its step needs ends by the workflow timeout.
func TestJobTimeout(t *testing.T) {
	env := newEnv(t)
	env.SetWorkflowRunTimeout(5 * time.Second)
	env.OnActivity(steps.Sum.Name, mock.Anything, mock.Anything).After(time.Minute).Return(sumOutput(3, 2, 1), nil)

	env.ExecuteWorkflow(job.TypeSum, job.SumInput{Start: i64(1), End: i64(2)})

	require.True(t, env.IsWorkflowCompleted())
	var timeoutErr *temporal.TimeoutError
	require.ErrorAs(t, env.GetWorkflowError(), &timeoutErr)
	require.Equal(t, enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE, timeoutErr.TimeoutType())
}
