package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/docket-dev/docket/internal/workers"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/tools/teststack"
)

// A document job whose OCR step waits because no worker polls the OCR queue
// is QUEUED everywhere: in its view, in the lists of either status, in the
// DocketStatus search attribute that `temporal workflow list` filters on,
// and in the status query the Web UI runs. Once an OCR worker takes the
// step it is RUNNING in DocketStatus, and its view keeps the step's worker
// and final progress after the job ends.
func TestStatusAgreesWhileTheOCRQueueWaits(t *testing.T) {
	const queue = "docket-api-test-no-ocr"
	c := stack.server.Client()
	wf, err := teststack.StartWorker(c, teststack.WorkerOptions{
		TaskQueue: queue, Identity: "workflows-only", Docs: stack.docs, Roles: []string{workers.RoleWorkflows},
	})
	require.NoError(t, err)
	defer wf.Stop()
	srv := teststack.StartAPI(c, queue, stack.docs)
	defer srv.Close()

	// A page long enough that its OCR outlasts the worker's 100 ms delay
	// before it signals a step's start (a one-line page is read in less).
	lines := []string{"Status check 77"}
	for i := range 12 {
		lines = append(lines, fmt.Sprintf("Line %d of a page that takes tesseract a while to read.", i+1))
	}
	d := uploadDoc(t, pngDoc(t, lines))
	r := call(t, srv.URL, http.MethodPost, "/jobs", jsonBody(t, map[string]any{
		"type": job.TypeDocument, "input": map[string]any{"document_id": d.ID, "steps": []string{"ocr"}},
	}), nil)
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
	id := r.view(t).ID

	// The workflow has run its first task and scheduled the OCR step.
	ctx := context.Background()
	require.Eventually(t, func() bool {
		desc, err := c.DescribeWorkflowExecution(ctx, id, "")
		return err == nil && len(desc.GetPendingActivities()) == 1
	}, 30*time.Second, 100*time.Millisecond)

	v := call(t, srv.URL, http.MethodGet, "/jobs/"+id, nil, nil).view(t)
	require.Equal(t, job.StatusQueued, v.Status)
	require.Nil(t, v.StartedAt)
	require.Len(t, v.Steps, 1)
	require.Equal(t, job.StatusQueued, v.Steps[0].Status)

	q, err := c.QueryWorkflow(ctx, id, "", job.QueryStatus)
	require.NoError(t, err)
	var queried job.View
	require.NoError(t, q.Get(&queried))
	require.Equal(t, job.StatusQueued, queried.Status, "the status query agrees")

	// Visibility is eventually consistent; the answer must settle on QUEUED
	// and stay there.
	require.Eventually(t, func() bool {
		return contains(ids(listJobs(t, "?status=QUEUED&page_size=100").Jobs), id) &&
			slices.Contains(visible(t, "DocketStatus = 'QUEUED'"), id)
	}, 30*time.Second, 200*time.Millisecond)
	require.NotContains(t, ids(listJobs(t, "?status=RUNNING&page_size=100").Jobs), id)
	require.NotContains(t, visible(t, "DocketStatus = 'RUNNING'"), id)

	ocr, err := teststack.StartWorker(c, teststack.WorkerOptions{
		TaskQueue: queue, Identity: "ocr-only", Docs: stack.docs, Roles: []string{workers.RoleOCR},
	})
	require.NoError(t, err)
	defer ocr.Stop()
	require.Equal(t, http.StatusOK, waitResultAt(t, srv.URL, id).Status)

	// The step's start reached the workflow: DocketStatus went RUNNING
	// before it went SUCCEEDED.
	require.Equal(t, []string{"RUNNING", "SUCCEEDED"}, publishedStatuses(t, id))
	end := call(t, srv.URL, http.MethodGet, "/jobs/"+id, nil, nil).view(t)
	require.Equal(t, job.StatusSucceeded, end.Steps[0].Status)
	require.Equal(t, "ocr-only", end.Steps[0].Worker)
	require.Equal(t, &job.Progress{Done: 1, Total: 1}, end.Steps[0].Progress, "a finished step keeps its progress")
}

// While a step runs, the status query (what the Web UI's Queries tab shows)
// answers its attempt, worker and progress, as GET /jobs/{id} does.
func TestStatusQueryShowsRunningStep(t *testing.T) {
	v := submit(t, job.TypeSum, map[string]any{"start": 1, "end": 1000, "work_ms": 5000})
	var q job.View
	require.Eventually(t, func() bool {
		res, err := stack.server.Client().QueryWorkflow(context.Background(), v.ID, "", job.QueryStatus)
		if err != nil || res.Get(&q) != nil {
			return false
		}
		return len(q.Steps) == 1 && q.Steps[0].Progress != nil && q.Steps[0].Progress.Done > 0
	}, 30*time.Second, 200*time.Millisecond, "last query answer: %+v", q)
	require.Equal(t, job.StatusRunning, q.Status)
	require.Equal(t, job.StatusRunning, q.Steps[0].Status)
	require.Equal(t, workerIdentity, q.Steps[0].Worker)
	require.EqualValues(t, 1, q.Steps[0].Attempt)
	require.EqualValues(t, 1000, q.Steps[0].Progress.Total)
	require.NotNil(t, q.StartedAt)
	require.Equal(t, http.StatusOK, waitResult(t, v.ID).Status)
}

// One clock, one precision: the created_at of a job's view, of its list
// entry and of its status query are the workflow's start time, to the
// microsecond. The 202 answer has none rather than a time of its own.
func TestCreatedAtIsTheWorkflowsStartTime(t *testing.T) {
	v := submit(t, job.TypeSum, map[string]any{"start": 1, "end": 2})
	require.Nil(t, v.CreatedAt, "the accept answer carries no clock of its own")
	require.Equal(t, http.StatusOK, waitResult(t, v.ID).Status)

	got := call(t, stack.api.URL, http.MethodGet, "/jobs/"+v.ID, nil, nil).view(t)
	require.NotNil(t, got.CreatedAt)
	require.Equal(t, got.CreatedAt.Truncate(time.Microsecond), *got.CreatedAt, "microsecond precision")
	desc, err := stack.server.Client().DescribeWorkflowExecution(context.Background(), v.ID, "")
	require.NoError(t, err)
	require.Equal(t, desc.GetWorkflowExecutionInfo().GetStartTime().AsTime().Truncate(time.Microsecond), got.CreatedAt.UTC())

	var listed *job.View
	require.Eventually(t, func() bool {
		for _, l := range listJobs(t, "?status=SUCCEEDED&page_size=100").Jobs {
			if l.ID == v.ID {
				listed = &l
				return true
			}
		}
		return false
	}, 30*time.Second, 200*time.Millisecond)
	require.Equal(t, *got.CreatedAt, *listed.CreatedAt)
	require.Equal(t, *got.FinishedAt, *listed.FinishedAt)

	res, err := stack.server.Client().QueryWorkflow(context.Background(), v.ID, "", job.QueryStatus)
	require.NoError(t, err)
	var q job.View
	require.NoError(t, res.Get(&q))
	require.Equal(t, got.CreatedAt.UTC(), q.CreatedAt.UTC())
}

// visible lists the workflow ids that Temporal's own visibility query
// finds, as `temporal workflow list --query` would.
func visible(t *testing.T, query string) []string {
	t.Helper()
	resp, err := stack.server.Client().ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: 1000})
	require.NoError(t, err)
	var out []string
	for _, e := range resp.GetExecutions() {
		out = append(out, e.GetExecution().GetWorkflowId())
	}
	return out
}

// publishedStatuses reads the DocketStatus values a job's workflow upserted,
// in order, from its history.
func publishedStatuses(t *testing.T, id string) []string {
	t.Helper()
	it := stack.server.Client().GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var out []string
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		attrs := ev.GetUpsertWorkflowSearchAttributesEventAttributes()
		if attrs == nil {
			continue
		}
		if p := attrs.GetSearchAttributes().GetIndexedFields()[job.StatusSearchAttribute]; p != nil {
			var s string
			require.NoError(t, converter.GetDefaultDataConverter().FromPayload(p, &s))
			out = append(out, s)
		}
	}
	return out
}

// A step over within the start-signal delay costs Temporal no signal: the
// trivial job's history holds no step event, and DocketStatus goes straight
// to its final status.
func TestQuickStepSendsNoStepEvent(t *testing.T) {
	v := submit(t, job.TypeSum, map[string]any{"start": 1, "end": 2})
	require.Equal(t, http.StatusOK, waitResult(t, v.ID).Status)
	it := stack.server.Client().GetWorkflowHistory(context.Background(), v.ID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		require.NotEqual(t, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, ev.GetEventType(), "a quick step was signalled")
	}
	require.Equal(t, []string{"SUCCEEDED"}, publishedStatuses(t, v.ID))
}
