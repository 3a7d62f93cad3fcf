package workflows_test

import (
	"context"
	"sync"
	"testing"
	"time"

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

// fanOutEnv is a document job whose ocr step answers with a plan of three
// batches of pages 2..10 (page 1 came from the text layer); batchFn reads
// one batch.
func fanOutEnv(t *testing.T, batchFn func(ctx context.Context, in job.OCRPagesInput) (job.StepOutput[job.OCRPagesResult], error)) (*testsuite.TestWorkflowEnvironment, *sync.Map) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "long-doc", TaskQueue: "q"})
	workflows.Register(env)
	var a activities.DocumentActivities
	env.RegisterActivityWithOptions(a.OCR, activity.RegisterOptions{Name: steps.OCR.Name})
	env.RegisterActivityWithOptions(a.OCRPages, activity.RegisterOptions{Name: steps.OCRPages.Name})
	env.RegisterActivityWithOptions(a.OCRAssemble, activity.RegisterOptions{Name: steps.OCRAssemble.Name})
	t0 := time.Unix(100, 0).UTC()
	env.OnActivity(steps.OCR.Name, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in job.OCRInput) (job.StepOutput[job.OCRResult], error) {
			require.True(t, in.FanOut, "a new job lets the ocr step share its pages out")
			return job.StepOutput[job.OCRResult]{
				Report: job.StepReport{Worker: "w1", Attempt: 1, StartedAt: t0, FinishedAt: t0.Add(time.Second)},
				Result: job.OCRResult{Pages: 10, PageTexts: []job.PageText{{Page: 1, Method: "text-layer", Chars: 5}},
					Plan: &job.OCRPlan{Batches: [][]int{{2, 3, 4}, {5, 6, 7}, {8, 9, 10}}}},
			}, nil
		})
	queues := &sync.Map{}
	env.OnActivity(steps.OCRPages.Name, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in job.OCRPagesInput) (job.StepOutput[job.OCRPagesResult], error) {
			info := activity.GetInfo(ctx)
			queues.Store(info.ActivityID, info.TaskQueue)
			return batchFn(ctx, in)
		})
	env.OnActivity(steps.OCRAssemble.Name, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in job.OCRAssembleInput) (job.StepOutput[job.OCRResult], error) {
			res := job.OCRResult{Pages: in.Pages}
			for _, p := range in.PageTexts {
				p.Text = "text"
				res.PageTexts = append(res.PageTexts, p)
			}
			return job.StepOutput[job.OCRResult]{Report: job.StepReport{FinishedAt: t0.Add(9 * time.Second)}, Result: res}, nil
		})
	return env, queues
}

func readBatch(worker string) func(context.Context, job.OCRPagesInput) (job.StepOutput[job.OCRPagesResult], error) {
	return func(_ context.Context, in job.OCRPagesInput) (job.StepOutput[job.OCRPagesResult], error) {
		var out job.StepOutput[job.OCRPagesResult]
		for _, p := range in.Pages {
			out.Result.PageTexts = append(out.Result.PageTexts, job.PageText{Page: p, Method: "ocr", Chars: 4})
		}
		out.Report = job.StepReport{Worker: worker, Attempt: 1, StartedAt: time.Unix(101, 0).UTC(), FinishedAt: time.Unix(105, 0).UTC()}
		return out, nil
	}
}

// A long document's pages are read by batches on the OCR queue, each
// worker that took part is named, and the result holds every page in order.
func TestLongDocumentSharesItsPagesOut(t *testing.T) {
	var mu sync.Mutex
	n := 0
	env, queues := fanOutEnv(t, func(ctx context.Context, in job.OCRPagesInput) (job.StepOutput[job.OCRPagesResult], error) {
		mu.Lock()
		n++
		worker := []string{"w1", "w2"}[n%2]
		mu.Unlock()
		require.Equal(t, "long-doc", in.JobID)
		require.Equal(t, "eng", in.Language)
		return readBatch(worker)(ctx, in)
	})
	env.ExecuteWorkflow(job.TypeDocument, job.DocumentInput{DocumentID: docID, Steps: []string{job.StepOCR}})
	require.NoError(t, env.GetWorkflowError())
	var res job.DocumentResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, 10, res.Pages)
	require.Len(t, res.PageTexts, 10)
	for i, p := range res.PageTexts {
		require.Equal(t, i+1, p.Page)
	}
	var ids []string
	queues.Range(func(k, v any) bool {
		ids = append(ids, k.(string))
		require.Equal(t, steps.QueueOCR.On("q"), v, "batches run on the OCR queue")
		return true
	})
	require.ElementsMatch(t, []string{"ocr-pages-1", "ocr-pages-2", "ocr-pages-3"}, ids)

	v := statusOf(t, env)
	require.Len(t, v.Steps, 1, "the batches are the one ocr step")
	s := v.Steps[0]
	require.Equal(t, job.StatusSucceeded, s.Status)
	require.Equal(t, "w1", s.Worker)
	require.ElementsMatch(t, []string{"w1", "w2"}, s.Workers)
	require.Equal(t, &job.Progress{Done: 10, Total: 10}, s.Progress)
	require.Equal(t, int64(9000), res.TimingsMS[job.StepOCR], "from the inspecting attempt's start to the assembly's end")
}

// A batch's step events count in the ocr step's progress and name its
// worker, while the batches run.
func TestLongDocumentProgressCountsBatches(t *testing.T) {
	var env *testsuite.TestWorkflowEnvironment
	release := make(chan struct{})
	env, _ = fanOutEnv(t, func(ctx context.Context, in job.OCRPagesInput) (job.StepOutput[job.OCRPagesResult], error) {
		if activity.GetInfo(ctx).ActivityID != "ocr-pages-1" {
			<-release
		}
		return readBatch("w1")(ctx, in)
	})
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(job.SignalStep, job.StepEvent{Step: job.StepOCRPages, Activity: "ocr-pages-2", Attempt: 1, Worker: "w3", Started: time.Unix(102, 0), Progress: &job.Progress{Done: 2, Total: 3}})
	}, 2*time.Second)
	env.RegisterDelayedCallback(func() {
		v := statusOf(t, env)
		s := v.Steps[0]
		require.Equal(t, job.StatusRunning, s.Status)
		// 1 (text layer) + 3 (batch 1, done) + 2 (batch 2 so far).
		require.Equal(t, &job.Progress{Done: 6, Total: 10}, s.Progress)
		require.Contains(t, s.Workers, "w3")
		close(release)
	}, 3*time.Second)
	env.ExecuteWorkflow(job.TypeDocument, job.DocumentInput{DocumentID: docID, Steps: []string{job.StepOCR}})
	require.NoError(t, env.GetWorkflowError())
}

// A strict job's unreadable page fails the job once.
func TestLongDocumentStrictPageFailureFailsTheJob(t *testing.T) {
	env, _ := fanOutEnv(t, func(ctx context.Context, in job.OCRPagesInput) (job.StepOutput[job.OCRPagesResult], error) {
		require.True(t, in.Strict)
		if activity.GetInfo(ctx).ActivityID == "ocr-pages-2" {
			return job.StepOutput[job.OCRPagesResult]{}, temporal.NewNonRetryableApplicationError("page 6: bad image", string(job.FailPageUnreadable), nil)
		}
		// The others wait to be canceled (the real stack's test checks
		// that they stop; the test environment cancels asynchronously).
		<-ctx.Done()
		return job.StepOutput[job.OCRPagesResult]{}, ctx.Err()
	})
	env.ExecuteWorkflow(job.TypeDocument, job.DocumentInput{DocumentID: docID, Steps: []string{job.StepOCR}, Strict: true})
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, env.GetWorkflowError(), &appErr)
	require.Equal(t, string(job.FailPageUnreadable), appErr.Type())
	v := statusOf(t, env)
	require.Equal(t, job.StatusFailed, v.Status)
	require.Equal(t, job.FailPageUnreadable, v.Error.Type)
	require.False(t, v.Error.Retryable)
	require.Equal(t, job.StatusFailed, v.Steps[0].Status)
}

// Batches run one priority below their job, so that other jobs' first
// pages go first; a job without a tenant is its own fairness key.
func TestBatchPriority(t *testing.T) {
	tests := []struct {
		name string
		job  temporal.Priority
		in   job.OCRInput
		want temporal.Priority
	}{
		{"default", temporal.Priority{}, job.OCRInput{JobID: "j"}, temporal.Priority{PriorityKey: 4, FairnessKey: "j"}},
		{"first", temporal.Priority{PriorityKey: 1, FairnessKey: "acme"}, job.OCRInput{JobID: "j", Tenant: "acme"}, temporal.Priority{PriorityKey: 2, FairnessKey: "acme"}},
		{"last stays last", temporal.Priority{PriorityKey: 5, FairnessKey: "acme"}, job.OCRInput{JobID: "j", Tenant: "acme"}, temporal.Priority{PriorityKey: 5, FairnessKey: "acme"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, workflows.BatchPriority(tt.job, tt.in))
		})
	}
}
