package workflows_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/docket-dev/docket/activities"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/steps"
	"github.com/docket-dev/docket/workflows"
)

const invoiceSchema = `{"type":"object","properties":{"total":{"type":"number"}},"required":["total"]}`

// newExtractEnv registers the extract workflow's two steps. ocr answers
// the OCR step, extract the LLM step; each call's task queue is recorded.
func newExtractEnv(t *testing.T, extract func(job.ExtractTextInput) (job.ExtractResult, error)) (*testsuite.TestWorkflowEnvironment, map[string][]string) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "extract-job", TaskQueue: "q"})
	workflows.Register(env)
	var a activities.DocumentActivities
	env.RegisterActivityWithOptions(a.OCR, activity.RegisterOptions{Name: steps.OCR.Name})
	env.RegisterActivityWithOptions(a.Extract, activity.RegisterOptions{Name: steps.Extract.Name})
	queues := map[string][]string{}
	seen := func(ctx context.Context) {
		info := activity.GetInfo(ctx)
		queues[info.ActivityType.Name] = append(queues[info.ActivityType.Name], info.TaskQueue)
	}
	env.OnActivity(steps.OCR.Name, mock.Anything, job.OCRInput{JobID: "extract-job", DocumentID: docID, Language: "eng", Strict: true, FanOut: true}).Return(
		func(ctx context.Context, _ job.OCRInput) (job.StepOutput[job.OCRResult], error) {
			seen(ctx)
			return job.StepOutput[job.OCRResult]{Result: job.OCRResult{Pages: 3}}, nil
		}).Maybe()
	env.OnActivity(steps.Extract.Name, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in job.ExtractTextInput) (job.StepOutput[job.ExtractResult], error) {
			seen(ctx)
			res, err := extract(in)
			return job.StepOutput[job.ExtractResult]{Result: res}, err
		}).Maybe()
	return env, queues
}

// The extract job runs OCR on the OCR queue, then hands the stored pages,
// the schema and the instructions to the LLM step on the LLM queue, and
// its result is that step's object with the document's page count.
func TestExtractRunsOCRThenTheLLMStep(t *testing.T) {
	var got job.ExtractTextInput
	env, queues := newExtractEnv(t, func(in job.ExtractTextInput) (job.ExtractResult, error) {
		got = in
		return job.ExtractResult{Data: json.RawMessage(`{"total":12.5}`), Model: "m", Usage: &job.Usage{TotalTokens: 9}}, nil
	})
	env.ExecuteWorkflow(job.TypeExtract, job.ExtractInput{DocumentID: docID, Schema: json.RawMessage(invoiceSchema), Instructions: "Totals as numbers."})
	require.NoError(t, env.GetWorkflowError())
	var res job.ExtractResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, docID, res.DocumentID)
	require.Equal(t, 3, res.Pages)
	require.JSONEq(t, `{"total":12.5}`, string(res.Data))
	require.Equal(t, "m", res.Model)

	require.Equal(t, job.TextInput{JobID: "extract-job", Pages: 3}, got.TextInput)
	require.Equal(t, docID, got.DocumentID)
	require.JSONEq(t, invoiceSchema, string(got.Schema))
	require.Equal(t, "Totals as numbers.", got.Instructions)
	require.Equal(t, map[string][]string{
		steps.OCR.Name:     {steps.QueueOCR.On("q")},
		steps.Extract.Name: {steps.QueueLLM.On("q")},
	}, queues)

	v := statusOf(t, env)
	require.Equal(t, job.StatusSucceeded, v.Status)
	require.Len(t, v.Steps, 2)
	for i, name := range []string{steps.OCR.Name, steps.Extract.Name} {
		require.Equal(t, name, v.Steps[i].Name)
		require.Equal(t, job.StatusSucceeded, v.Steps[i].Status)
	}
}

// The failures the extract step's retry policy names end the job after one
// attempt, even when the activity marks them retryable; a rate limit is
// retried by Temporal until the step succeeds.
func TestExtractFailures(t *testing.T) {
	tests := []struct {
		name      string
		errs      []error
		wantCalls int
		wantType  job.Failure
	}{
		{"no LLM configured", []error{temporal.NewApplicationError("set DOCKET_LLM_URL", string(job.FailLLMNotConfigured))}, 1, job.FailLLMNotConfigured},
		{"answer never conforms", []error{temporal.NewApplicationError("total: missing", string(job.FailInvalidLLMOutput))}, 1, job.FailInvalidLLMOutput},
		{"request refused", []error{temporal.NewApplicationError("bad request", string(job.FailLLMRejected))}, 1, job.FailLLMRejected},
		{"rate limited, then answered", []error{temporal.NewApplicationError("429", string(job.FailLLMUnavailable)), nil}, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			env, _ := newExtractEnv(t, func(job.ExtractTextInput) (job.ExtractResult, error) {
				err := tt.errs[min(calls, len(tt.errs)-1)]
				calls++
				if err != nil {
					return job.ExtractResult{}, err
				}
				return job.ExtractResult{Data: json.RawMessage(`{"total":1}`)}, nil
			})
			env.ExecuteWorkflow(job.TypeExtract, job.ExtractInput{DocumentID: docID, Schema: json.RawMessage(invoiceSchema)})
			require.Equal(t, tt.wantCalls, calls)
			v := statusOf(t, env)
			if tt.wantType == "" {
				require.NoError(t, env.GetWorkflowError())
				require.Equal(t, job.StatusSucceeded, v.Status)
				return
			}
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, env.GetWorkflowError(), &appErr)
			require.Equal(t, string(tt.wantType), appErr.Type())
			require.Equal(t, job.StatusFailed, v.Status)
			require.Equal(t, tt.wantType, v.Error.Type)
			require.False(t, v.Error.Retryable)
		})
	}
}

// A schema that is not a JSON Schema fails the job before any step, as
// the API's 422 would have: a job started with the temporal CLI gets the
// same rule.
func TestExtractRefusesABadSchemaBeforeAnyStep(t *testing.T) {
	calls := 0
	env, queues := newExtractEnv(t, func(job.ExtractTextInput) (job.ExtractResult, error) {
		calls++
		return job.ExtractResult{}, nil
	})
	env.ExecuteWorkflow(job.TypeExtract, job.ExtractInput{DocumentID: docID, Schema: json.RawMessage(`{"type":"no-such-type"}`)})
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, env.GetWorkflowError(), &appErr)
	require.Equal(t, string(job.FailInvalidInput), appErr.Type())
	require.Empty(t, queues)
	require.Zero(t, calls)
}
