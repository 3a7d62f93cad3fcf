package workflows_test

import (
	"context"
	"strings"
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

var docID = strings.Repeat("ab", 32)

func newDocEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, map[string]string) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "doc-job", TaskQueue: "q"})
	workflows.Register(env)
	queues := map[string]string{}
	seen := func(ctx context.Context) {
		queues[activity.GetInfo(ctx).ActivityType.Name] = activity.GetInfo(ctx).TaskQueue
	}
	var a activities.DocumentActivities
	env.RegisterActivityWithOptions(a.OCR, activity.RegisterOptions{Name: steps.OCR.Name})
	env.RegisterActivityWithOptions(a.Entities, activity.RegisterOptions{Name: steps.Entities.Name})
	env.RegisterActivityWithOptions(a.Summarize, activity.RegisterOptions{Name: steps.Summarize.Name})
	env.OnActivity(steps.OCR.Name, mock.Anything, job.OCRInput{JobID: "doc-job", DocumentID: docID, Language: "eng", FanOut: true}).Return(
		func(ctx context.Context, _ job.OCRInput) (job.StepOutput[job.OCRResult], error) {
			seen(ctx)
			return job.StepOutput[job.OCRResult]{Result: job.OCRResult{Pages: 2, PageTexts: []job.PageText{{Page: 1, Method: "ocr", Chars: 3, Text: "abc"}, {Page: 2, Method: "text-layer", Chars: 1, Text: "d"}}}}, nil
		}).Maybe()
	env.OnActivity(steps.Entities.Name, mock.Anything, job.TextInput{JobID: "doc-job", Pages: 2, MaxWords: job.DefaultSummaryWords}).Return(
		func(ctx context.Context, _ job.TextInput) (job.StepOutput[job.EntitiesResult], error) {
			seen(ctx)
			return job.StepOutput[job.EntitiesResult]{Result: job.EntitiesResult{Count: 1, Entities: []job.Entity{{Label: "EMAIL", Text: "a@b.org", Page: 1}}}}, nil
		}).Maybe()
	env.OnActivity(steps.Summarize.Name, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, _ job.TextInput) (job.StepOutput[job.SummaryResult], error) {
			seen(ctx)
			return job.StepOutput[job.SummaryResult]{Result: job.SummaryResult{Text: "short", Method: "extractive"}}, nil
		}).Maybe()
	return env, queues
}

func TestDocumentRunsTheChosenSteps(t *testing.T) {
	tests := []struct {
		steps []string
		want  []string
	}{
		{nil, []string{"ocr", "entities", "summarize"}},
		{[]string{"ocr"}, []string{"ocr"}},
		{[]string{"ocr", "summarize"}, []string{"ocr", "summarize"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.want, "+"), func(t *testing.T) {
			env, queues := newDocEnv(t)
			env.ExecuteWorkflow(job.TypeDocument, job.DocumentInput{DocumentID: docID, Steps: tt.steps})
			require.NoError(t, env.GetWorkflowError())
			var res job.DocumentResult
			require.NoError(t, env.GetWorkflowResult(&res))
			require.Equal(t, 2, res.Pages)
			require.Len(t, res.PageTexts, 2)
			require.Equal(t, contains(tt.want, "entities"), res.Entities != nil)
			require.Equal(t, contains(tt.want, "summarize"), res.Summary != nil)
			require.Len(t, queues, len(tt.want))
			// OCR and LLM work go to their own task queues.
			require.Equal(t, steps.QueueOCR.On("q"), queues["ocr"])
			if contains(tt.want, "summarize") {
				require.Equal(t, steps.QueueLLM.On("q"), queues["summarize"])
			}
			if contains(tt.want, "entities") {
				require.Equal(t, "q", queues["entities"])
			}
			v := statusOf(t, env)
			var names []string
			for _, s := range v.Steps {
				names = append(names, s.Name)
				require.Equal(t, job.StatusSucceeded, s.Status)
			}
			require.Equal(t, tt.want, names)
		})
	}
}

func TestDocumentStopsAtAFailedStep(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	workflows.Register(env)
	var a activities.DocumentActivities
	env.RegisterActivityWithOptions(a.OCR, activity.RegisterOptions{Name: steps.OCR.Name})
	calls := 0
	env.OnActivity(steps.OCR.Name, mock.Anything, mock.Anything).Return(
		func(context.Context, job.OCRInput) (job.StepOutput[job.OCRResult], error) {
			calls++
			return job.StepOutput[job.OCRResult]{}, temporal.NewNonRetryableApplicationError("the PDF needs a password", "encrypted_document", nil)
		})
	env.ExecuteWorkflow(job.TypeDocument, job.DocumentInput{DocumentID: docID})
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, env.GetWorkflowError(), &appErr)
	require.Equal(t, "encrypted_document", appErr.Type())
	require.Equal(t, 1, calls)
	v := statusOf(t, env)
	require.Len(t, v.Steps, 1)
	require.Equal(t, job.StatusFailed, v.Status)
	require.Equal(t, job.FailEncryptedDocument, v.Error.Type)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
