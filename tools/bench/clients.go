package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// The trivial job of every scenario: a sum of 1..10 with no simulated work.
const trivialBody = `{"type":"sum","input":{"start":1,"end":10,"work_ms":0}}`

// sumInput and sumResult mirror the sum job's input and result: the
// harness is a client of Docket and does not link its packages, so that it
// builds while they are being changed.
type sumInput struct {
	Start  int64 `json:"start"`
	End    int64 `json:"end"`
	WorkMS int64 `json:"work_ms,omitempty"`
}

type sumResult struct {
	Sum   int64 `json:"sum"`
	Count int64 `json:"count"`
}

// sumType is the sum job's type, also its workflow type.
const sumType = "sum"

var trivialInput = sumInput{Start: 1, End: 10}

const trivialSum = 55

// trivialBodyAt is the trivial job at a priority (1 runs first, 5 last).
func trivialBodyAt(priority int) string {
	return fmt.Sprintf(`{"type":"sum","input":{"start":1,"end":10,"work_ms":0},"priority":%d}`, priority)
}

// apiJobs drives Docket's HTTP Jobs API.
type apiJobs struct {
	base string
	http *http.Client
	// secret, when set, is sent as Authorization: Bearer <secret>.
	secret string
}

// withKey is a client of the same API that authenticates with secret.
func (a *apiJobs) withKey(secret string) *apiJobs {
	return &apiJobs{base: a.base, http: a.http, secret: secret}
}

func (a *apiJobs) authorize(req *http.Request) {
	if a.secret != "" {
		req.Header.Set("Authorization", "Bearer "+a.secret)
	}
}

func newAPIJobs(base string) *apiJobs {
	tr := &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096, IdleConnTimeout: time.Minute}
	return &apiJobs{base: base, http: &http.Client{Transport: tr, Timeout: 90 * time.Second}}
}

// submit is POST /jobs; it returns the job id.
func (a *apiJobs) submit(ctx context.Context, body string) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/jobs", bytes.NewBufferString(body))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	a.authorize(req)
	resp, err := a.http.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return "", resp.StatusCode, fmt.Errorf("POST /jobs: %s: %s", resp.Status, b)
	}
	var v struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.ID == "" {
		return "", resp.StatusCode, fmt.Errorf("POST /jobs: no id in %s", b)
	}
	return v.ID, resp.StatusCode, nil
}

// result is GET /jobs/{id}/results?wait=30s: it returns once the result is readable.
func (a *apiJobs) result(ctx context.Context, id string) (sumResult, error) {
	var out struct {
		Status string    `json:"status"`
		Result sumResult `json:"result"`
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/jobs/"+id+"/results?wait=30s", nil)
	if err != nil {
		return out.Result, err
	}
	a.authorize(req)
	resp, err := a.http.Do(req)
	if err != nil {
		return out.Result, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return out.Result, fmt.Errorf("GET results: %s: %s", resp.Status, b)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return out.Result, err
	}
	return out.Result, nil
}

// run submits the trivial job and waits for its result.
func (a *apiJobs) run(ctx context.Context) (string, error) {
	return a.runBody(ctx, trivialBody)
}

// runBody submits body, a trivial job (at some priority), and waits for
// its result.
func (a *apiJobs) runBody(ctx context.Context, body string) (string, error) {
	id, _, err := a.submit(ctx, body)
	if err != nil {
		return "", err
	}
	r, err := a.result(ctx, id)
	if err != nil {
		return id, err
	}
	if r.Sum != trivialSum {
		return id, fmt.Errorf("job %s: sum %d, want %d", id, r.Sum, trivialSum)
	}
	return id, nil
}

// sdkJobs starts the same workflow straight through the Go SDK, with the
// options a bare Temporal program would use: an id and a task queue; or,
// with docketOptions, the options job.Client.Start uses.
type sdkJobs struct {
	c             client.Client
	taskQueue     string
	docketOptions bool
	// opaque: the worker encrypts results (a key ring this program does
	// not hold), so run checks that the workflow completed and does not
	// decode its result.
	opaque bool
}

var statusAttr = temporal.NewSearchAttributeKeyKeyword("DocketStatus")

func (s *sdkJobs) start(ctx context.Context) (client.WorkflowRun, error) {
	opts := client.StartWorkflowOptions{ID: uuid.NewString(), TaskQueue: s.taskQueue}
	if s.docketOptions {
		// As job.Client.Start (job/client.go) sets them: keep in step.
		opts.WorkflowExecutionTimeout = 24 * time.Hour
		opts.WorkflowIDReusePolicy = enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
		opts.WorkflowIDConflictPolicy = enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL
		opts.WorkflowExecutionErrorWhenAlreadyStarted = true
		opts.TypedSearchAttributes = temporal.NewSearchAttributes(statusAttr.ValueSet("QUEUED"))
		opts.Memo = map[string]any{"docket_input": trivialInput, "docket_request": strings.Repeat("0", 64)}
	}
	return s.c.ExecuteWorkflow(ctx, opts, sumType, trivialInput)
}

func (s *sdkJobs) run(ctx context.Context) (string, error) {
	run, err := s.start(ctx)
	if err != nil {
		return "", err
	}
	if s.opaque {
		// A nil value makes Get return once the workflow completed,
		// without decoding the result.
		return run.GetID(), run.Get(ctx, nil)
	}
	var r sumResult
	if err := run.Get(ctx, &r); err != nil {
		return run.GetID(), err
	}
	if r.Sum != trivialSum {
		return run.GetID(), fmt.Errorf("workflow %s: sum %d, want %d", run.GetID(), r.Sum, trivialSum)
	}
	return run.GetID(), nil
}

func listReq(q string) *workflowservice.ListWorkflowExecutionsRequest {
	return &workflowservice.ListWorkflowExecutionsRequest{Query: q, PageSize: 1}
}
