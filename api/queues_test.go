package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/api"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/steps"
)

// GET /queues shows each of Docket's task queues as Temporal sees them:
// the suite's queue is polled by its worker; on a queue nobody polls,
// submitted jobs wait, and the backlog says so.
func TestQueues(t *testing.T) {
	queues := func(t *testing.T, base string) map[string]job.Queue {
		t.Helper()
		r := call(t, base, http.MethodGet, "/queues", nil, nil)
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		var l api.QueueList
		r.decode(t, &l)
		m := map[string]job.Queue{}
		for _, q := range l.Queues {
			m[q.Name] = q
		}
		return m
	}
	got := queues(t, stack.api.URL)
	require.Len(t, got, len(steps.Queues))
	pollers := func(s *job.QueueStats) []string {
		var ids []string
		for _, p := range s.Pollers {
			ids = append(ids, p.Identity)
		}
		return ids
	}
	main := got[taskQueue]
	require.Contains(t, pollers(main.Workflow), workerIdentity)
	require.Contains(t, pollers(main.Activity), workerIdentity)
	require.Contains(t, pollers(got[steps.QueueOCR.On(taskQueue)].Activity), workerIdentity)

	const idle = "docket-api-test-idle"
	for range 3 {
		r := call(t, stack.idleAPI.URL, http.MethodPost, "/jobs", []byte(`{"type":"sum","input":{"start":1,"end":2}}`), nil)
		require.Equal(t, http.StatusAccepted, r.Status)
	}
	var q job.Queue
	require.Eventually(t, func() bool {
		q = queues(t, stack.idleAPI.URL)[idle]
		return q.Workflow != nil && q.Workflow.Backlog >= 3
	}, 20*time.Second, 500*time.Millisecond, "the idle queue's backlog: %+v", q.Workflow)
	require.Empty(t, q.Workflow.Pollers, "nobody polls the idle queue")
	require.Positive(t, q.Workflow.OldestAgeMS)
}
