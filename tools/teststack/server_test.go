package teststack_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/tools/teststack"
)

// startServer starts a dev server with o for the test and stops it after.
func startServer(t *testing.T, o teststack.ServerOptions) *teststack.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := teststack.StartServerWith(ctx, o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	return srv
}

// priorityWorkflow returns the priority the workflow runs with.
func priorityWorkflow(ctx workflow.Context) (temporal.Priority, error) {
	return workflow.GetInfo(ctx).Priority, nil
}

// A job's workflow carries its tenant in DocketTenant, next to
// DocketStatus, and as its fairness key: the test server registers the
// attribute as Keyword, lists filter on it, and the workflow keeps the
// priority it was started with.
func TestServerRegistersTenant(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := teststack.StartServer(ctx)
	require.NoError(t, err)
	defer func() { _ = srv.Stop() }()
	c := srv.Client()

	sa, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
	require.NoError(t, err)
	for _, name := range []string{job.StatusSearchAttribute, job.TenantSearchAttribute} {
		require.Equal(t, enumspb.INDEXED_VALUE_TYPE_KEYWORD, sa.GetCustomAttributes()[name], "%s in %v", name, sa.GetCustomAttributes())
	}

	const queue = "tenant-attribute"
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflow(priorityWorkflow)
	require.NoError(t, w.Start())
	defer w.Stop()

	tenantKey := temporal.NewSearchAttributeKeyKeyword(job.TenantSearchAttribute)
	start := func(tenant string, pri temporal.Priority) client.WorkflowRun {
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID:                    "tenant-" + tenant,
			TaskQueue:             queue,
			TypedSearchAttributes: temporal.NewSearchAttributes(tenantKey.ValueSet(tenant)),
			Priority:              pri,
		}, priorityWorkflow)
		require.NoError(t, err)
		return run
	}
	want := temporal.Priority{FairnessKey: "acme", PriorityKey: 2}
	acme := start("acme", want)
	other := start("globex", temporal.Priority{FairnessKey: "globex"})
	var got temporal.Priority
	require.NoError(t, acme.Get(ctx, &got))
	require.Equal(t, want, got, "the priority the workflow sees")
	require.NoError(t, other.Get(ctx, nil))

	desc, err := c.DescribeWorkflowExecution(ctx, acme.GetID(), acme.GetRunID())
	require.NoError(t, err)
	pri := desc.GetWorkflowExecutionInfo().GetPriority()
	require.Equal(t, "acme", pri.GetFairnessKey())
	require.EqualValues(t, 2, pri.GetPriorityKey())
	var tenant string
	require.NoError(t, converterDecode(desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()[job.TenantSearchAttribute], &tenant))
	require.Equal(t, "acme", tenant)

	// Visibility is eventually consistent: wait for the list to settle on
	// exactly the acme workflow.
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: job.TenantSearchAttribute + " = 'acme'",
		})
		require.NoError(ct, err)
		var ids []string
		for _, e := range resp.GetExecutions() {
			ids = append(ids, e.GetExecution().GetWorkflowId())
		}
		assert.Equal(ct, []string{acme.GetID()}, ids, "DocketTenant = 'acme' lists")
	}, 30*time.Second, 100*time.Millisecond)
}

// converterDecode decodes a search attribute's payload.
func converterDecode(p *commonpb.Payload, v any) error {
	if p == nil {
		return errors.New("no payload")
	}
	return converter.GetDefaultDataConverter().FromPayload(p, v)
}

// fairnessQueue is the activity task queue of the fairness test.
const fairnessQueue = "fairness-activities"

// fairnessWorkflow runs one activity on fairnessQueue, which inherits the
// workflow's priority and so its fairness key.
func fairnessWorkflow(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           fairnessQueue,
		StartToCloseTimeout: time.Minute,
	})
	return workflow.ExecuteActivity(ctx, "record").Get(ctx, nil)
}

// dispatchOrder starts 20 workflows with fairness key "a" and then 2 with
// key "b" while no worker polls fairnessQueue, so that their 22 activity
// tasks wait in its backlog, the b ones written after every a one. Then it
// starts a worker with one activity slot and one poller on fairnessQueue
// and returns the fairness keys of the activities in the order the worker
// ran them.
func dispatchOrder(t *testing.T, srv *teststack.Server) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := srv.Client()
	const workflows = "fairness-workflows"
	ww := worker.New(c, workflows, worker.Options{})
	ww.RegisterWorkflow(fairnessWorkflow)
	require.NoError(t, ww.Start())
	defer ww.Stop()

	// backlog waits until fairnessQueue's backlog holds n activity tasks:
	// the history service hands tasks to matching concurrently, so a
	// started workflow's task may not be in the backlog yet. (Matching
	// caches these stats for 5 s, matching.TaskQueueInfoByBuildIdTTL: each
	// wait takes that long.)
	backlog := func(n int64) {
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			resp, err := c.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
				Namespace:     "default",
				TaskQueue:     &taskqueuepb.TaskQueue{Name: fairnessQueue, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
				TaskQueueType: enumspb.TASK_QUEUE_TYPE_ACTIVITY,
				ReportStats:   true,
			})
			require.NoError(ct, err)
			assert.Equal(ct, n, resp.GetStats().GetApproximateBacklogCount())
		}, time.Minute, 50*time.Millisecond, "backlog of %d activity tasks", n)
	}
	var runs []client.WorkflowRun
	start := func(key string, n int) {
		for i := range n {
			run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
				ID:        fmt.Sprintf("fair-%s-%d", key, i),
				TaskQueue: workflows,
				Priority:  temporal.Priority{FairnessKey: key},
			}, fairnessWorkflow)
			require.NoError(t, err)
			runs = append(runs, run)
		}
	}
	start("a", 20)
	backlog(20)
	start("b", 2)
	backlog(22)

	var mu sync.Mutex
	var order []string
	aw := worker.New(c, fairnessQueue, worker.Options{
		MaxConcurrentActivityExecutionSize: 1,
		MaxConcurrentActivityTaskPollers:   1,
	})
	aw.RegisterActivityWithOptions(func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, activity.GetInfo(ctx).Priority.FairnessKey)
		return nil
	}, activity.RegisterOptions{Name: "record"})
	require.NoError(t, aw.Start())
	defer aw.Stop()
	for _, run := range runs {
		require.NoError(t, run.Get(ctx, nil))
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, order, 22, "each activity ran once: %v", order)
	return slices.Clone(order)
}

// positions are the indexes of key in order.
func positions(order []string, key string) []int {
	var out []int
	for i, k := range order {
		if k == key {
			out = append(out, i)
		}
	}
	return out
}

// The test server dispatches a task queue's backlog fairly across
// fairness keys: tenant b's two tasks, queued behind twenty of tenant a's,
// run among the first ones (stride scheduling puts them second and
// fourth) instead of last. With fairness off, the same backlog runs first
// in, first out, so the b tasks run last: the check tells the two apart.
func TestServerDispatchesFairly(t *testing.T) {
	t.Run("on", func(t *testing.T) {
		order := dispatchOrder(t, startServer(t, teststack.ServerOptions{Fairness: true}))
		b := positions(order, "b")
		require.Len(t, b, 2, "%v", order)
		// Both before half of the a tasks.
		require.Less(t, b[1], 11, "with fairness, b's tasks ran at %v of %v", b, order)
	})
	t.Run("off", func(t *testing.T) {
		order := dispatchOrder(t, startServer(t, teststack.ServerOptions{Fairness: false}))
		require.Equal(t, []int{20, 21}, positions(order, "b"), "without fairness, first in, first out: %v", order)
	})
}
