package chaos

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/docket-dev/docket/job"
)

// fakeTemporal answers ListWorkflow with a fixed set of workflow runs.
type fakeTemporal struct {
	client.Client
	runs []string
}

func (f fakeTemporal) ListWorkflow(_ context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	if !strings.Contains(req.GetQuery(), "StartTime >= '") {
		panic("query without a start time: " + req.GetQuery())
	}
	resp := &workflowservice.ListWorkflowExecutionsResponse{}
	for _, id := range f.runs {
		resp.Executions = append(resp.Executions, &workflowpb.WorkflowExecutionInfo{Execution: &commonpb.WorkflowExecution{WorkflowId: id}})
	}
	return resp, nil
}

// TestFinishCountsLossesAndDuplicates checks that the tally notices what
// chaos is there to catch: a job that never ends, a job the API no longer
// knows, a key answered with two job ids, a workflow nobody accepted and a
// workflow id with two runs.
func TestFinishCountsLossesAndDuplicates(t *testing.T) {
	views := map[string]job.Status{
		"ok-1": job.StatusSucceeded, "ok-2": job.StatusSucceeded, "failed": job.StatusFailed,
		"stuck": job.StatusRunning, "dup-a": job.StatusSucceeded, "dup-b": job.StatusSucceeded,
	}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/jobs/")
		st, ok := views[id]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"status":404}`)
			return
		}
		_ = json.NewEncoder(w).Encode(job.View{ID: id, Type: job.TypeSum, Status: st})
	}))
	defer api.Close()

	accepted := func(key string, ids ...string) *submission {
		s := &submission{Key: key, Accepted: true, ID: ids[0], IDs: map[string]bool{}, Created: 1}
		for _, id := range ids {
			s.IDs[id] = true
		}
		return s
	}
	subs := []*submission{
		accepted("k1", "ok-1"),
		accepted("k2", "ok-2"),
		accepted("k3", "failed"),
		accepted("k4", "stuck"),          // lost: never ends
		accepted("k5", "gone"),           // lost: 404
		accepted("k6", "dup-a", "dup-b"), // duplicated: two ids for one key (dup-a succeeds)
		{Key: "k7", IDs: map[string]bool{}, GaveUp: "HTTP 422"},
	}
	temporal := fakeTemporal{runs: []string{"ok-1", "ok-2", "ok-2", "failed", "stuck", "dup-a", "dup-b", "stranger"}}
	r := &runner{
		cfg: Config{Temporal: temporal, Scale: Scale{JobDeadline: 2 * time.Second}},
		api: newAPIClient([]string{api.URL}, ""),
		out: io.Discard,
	}
	res := r.finish(context.Background(), Result{}, subs, time.Now())

	want := Result{Submitted: 7, Accepted: 6, Succeeded: 3, Failed: 1, Lost: 2,
		// k6's two ids, then: "stranger" (nobody's), "ok-2"'s second run,
		// "dup-b" (accepted by no key as its first answer).
		Duplicated: 4}
	got := Result{Submitted: res.Submitted, Accepted: res.Accepted, Succeeded: res.Succeeded, Failed: res.Failed, Lost: res.Lost, Duplicated: res.Duplicated}
	if got.line() != want.line() {
		t.Errorf("tally %s\nwant  %s\nproblems: %s", got.line(), want.line(), strings.Join(res.Problems, " | "))
	}
	if res.OK() {
		t.Error("a run with losses and duplicates passed")
	}
	for _, p := range []string{"never accepted", "did not end", "2 job ids", "stranger"} {
		if !strings.Contains(strings.Join(res.Problems, "\n"), p) {
			t.Errorf("no problem mentions %q: %s", p, strings.Join(res.Problems, " | "))
		}
	}
	sum := Summary{Results: []Result{res, {Submitted: 1, Accepted: 1, Succeeded: 1}}}
	if line := sum.Line(); line != "chaos: scenarios=2 submitted=8 accepted=7 succeeded=4 failed=1 lost=2 duplicated=4" {
		t.Errorf("summary line %q", line)
	}
	if sum.OK() {
		t.Error("summary OK with a failed scenario")
	}
}
