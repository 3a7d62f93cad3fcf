package job

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/golang-lru/v2/expirable"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/docket-dev/docket/internal/pagetoken"
)

// Errors returned by Client. The API maps each to an HTTP status.
var (
	// ErrNotFound: no job has that id.
	ErrNotFound = errors.New("job not found")
	// ErrNotFinished: the job has no result yet, or has ended without one.
	ErrNotFinished = errors.New("job has no result")
	// ErrFinished: the job has already ended.
	ErrFinished = errors.New("job has already finished")
	// ErrIdempotencyMismatch: an idempotency key was reused for another request.
	ErrIdempotencyMismatch = errors.New("idempotency key was used for a different request")
	// ErrUnavailable: Temporal could not be reached.
	ErrUnavailable = errors.New("temporal is unavailable")
)

// Memo keys a job is started with, so that its input and request
// fingerprint can be read from Temporal even when no worker is running.
const (
	memoInput   = "docket_input"
	memoRequest = "docket_request"
)

// idempotencyNamespace derives job ids from idempotency keys (UUIDv5), so
// that two API replicas given the same key race for the same workflow id
// and Temporal lets only one of them start it.
var idempotencyNamespace = uuid.MustParse("6f1c9f3e-8b2a-4c55-9d1e-3c0f4a7b2d10")

// statusKey is the typed key of StatusSearchAttribute.
var statusKey = temporal.NewSearchAttributeKeyKeyword(StatusSearchAttribute)

// Client runs jobs on Temporal: it is what the API and the starter use.
type Client struct {
	Temporal client.Client
	// Namespace is the client's Temporal namespace ("default" if empty),
	// for the calls made to the service directly.
	Namespace string
	TaskQueue string
	// Kinds are the job types this client starts and shows
	// (workflows.Kinds); a job of another workflow type is not found.
	Kinds Kinds
	// JobTimeout bounds a job whose request names no timeout.
	JobTimeout time.Duration
	// QueryTimeout bounds the status query to a job's workflow.
	QueryTimeout time.Duration
	// DataConverter and FailureConverter are those of Temporal (the
	// client's, as config.Dial sets them: with the encryption codec when
	// keys are configured), for the payloads the client reads itself: the
	// memo, heartbeat details, a pending step's last failure. Nil: the
	// SDK's defaults.
	DataConverter    converter.DataConverter
	FailureConverter converter.FailureConverter
	// Check, when set, vets a valid input against the world before the job
	// starts (the API checks that a document exists); an *InputError it
	// returns is the client's fault.
	Check func(ctx context.Context, jobType string, in Input) error

	recentOnce sync.Once
	recent     *expirable.LRU[string, startedJob]
	openOnce   sync.Once
	open       *expirable.LRU[string, int64]
}

// startedJob is what a client remembers of a job it started.
type startedJob struct {
	jobType, runID, tenant string
}

// Jobs this client started are remembered for a while (bounded in number
// and time), so that the result of a job read back through the replica
// that accepted it needs no describe: see Result.
const (
	recentJobs   = 10_000
	recentJobTTL = 10 * time.Minute
)

func (c *Client) recentStarts() *expirable.LRU[string, startedJob] {
	c.recentOnce.Do(func() { c.recent = expirable.NewLRU[string, startedJob](recentJobs, nil, recentJobTTL) })
	return c.recent
}

// StartRequest asks for a job to be started.
type StartRequest struct {
	Type  string          `json:"type"`
	Input json.RawMessage `json:"input"`
	// Timeout bounds the whole job, e.g. "90s"; the server's default applies when empty.
	Timeout string `json:"timeout,omitempty"`
	// IdempotencyKey makes the start idempotent (the Idempotency-Key header).
	IdempotencyKey string `json:"-"`
	// Priority is Temporal's priority key of the job and its steps, from
	// PriorityHighest (1, runs first) to PriorityLowest (5); 0 means
	// PriorityDefault.
	Priority int `json:"priority,omitempty"`
}

// MaxTimeout is the longest time a job may be given.
const MaxTimeout = 7 * 24 * time.Hour

// Prepared is a validated StartRequest.
type Prepared struct {
	Type     string
	Input    Input
	Timeout  time.Duration
	Priority int
	// Fingerprint identifies the request's content for idempotency checks.
	Fingerprint string
}

// Prepare validates a start request without starting anything.
func (c *Client) Prepare(req StartRequest) (Prepared, error) {
	names := strings.Join(c.Kinds.Names(), ", ")
	if req.Type == "" {
		return Prepared{}, &InputError{"type", "is required; one of " + names}
	}
	kind, ok := c.Kinds.Lookup(req.Type)
	if !ok {
		return Prepared{}, &InputError{"type", fmt.Sprintf("unknown job type %q; one of %s", req.Type, names)}
	}
	in, err := kind.Decode(req.Input)
	if err != nil {
		return Prepared{}, err
	}
	timeout := c.JobTimeout
	if req.Timeout != "" {
		d, err := time.ParseDuration(req.Timeout)
		if err != nil || d < time.Second || d > MaxTimeout {
			return Prepared{}, &InputError{"timeout", fmt.Sprintf("must be a duration between 1s and %s, such as \"90s\"", MaxTimeout)}
		}
		timeout = d
	}
	if req.Priority != 0 && (req.Priority < PriorityHighest || req.Priority > PriorityLowest) {
		return Prepared{}, &InputError{"priority", fmt.Sprintf("must be between %d (first) and %d", PriorityHighest, PriorityLowest)}
	}
	normalized, err := json.Marshal(in)
	if err != nil {
		return Prepared{}, fmt.Errorf("encode input: %w", err)
	}
	// The fingerprint covers what the client sent (the timeout as asked,
	// not the server's default), so that a retry stays the same request
	// after the operator changes a default.
	asked := time.Duration(0)
	if req.Timeout != "" {
		asked = timeout
	}
	fp := fmt.Appendf(nil, "%s\x00%s\x00%s", req.Type, normalized, asked)
	if req.Priority != 0 {
		// Only when asked, so that fingerprints of requests without a
		// priority stay what they were.
		fp = fmt.Appendf(fp, "\x00priority=%d", req.Priority)
	}
	sum := sha256.Sum256(fp)
	return Prepared{Type: req.Type, Input: in, Timeout: timeout, Priority: req.Priority, Fingerprint: hex.EncodeToString(sum[:])}, nil
}

// Start starts a job. It returns the job's view and whether this call
// created it (false when an idempotency key named an existing job).
func (c *Client) Start(ctx context.Context, req StartRequest) (View, bool, error) {
	p, err := c.Prepare(req)
	if err != nil {
		return View{}, false, err
	}
	if c.Check != nil {
		if err := c.Check(ctx, p.Type, p.Input); err != nil {
			return View{}, false, err
		}
	}
	tenant := ScopeOf(ctx).Tenant
	if tenant != "" && !ValidTenant(tenant) {
		return View{}, false, fmt.Errorf("start job: invalid tenant %q", tenant)
	}
	id := uuid.NewString()
	if req.IdempotencyKey != "" {
		id = IdempotentID(tenant, req.IdempotencyKey)
	}
	attrs := []temporal.SearchAttributeUpdate{statusKey.ValueSet(string(StatusQueued))}
	if tenant != "" {
		attrs = append(attrs, tenantKey.ValueSet(tenant))
	}
	opts := client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                c.TaskQueue,
		WorkflowExecutionTimeout:                 p.Timeout,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(attrs...),
		Memo:                                     map[string]any{memoInput: p.Input, memoRequest: p.Fingerprint},
		// The tenant is the fairness key of the workflow's tasks and, by
		// inheritance, of every step's: one tenant's backlog does not hold
		// another's jobs behind it. Steps inherit the priority too.
		Priority: temporal.Priority{PriorityKey: p.Priority, FairnessKey: tenant},
		// What the job works on, for the Web UI's list.
		StaticSummary: SummaryOf(p.Type, p.Input),
	}
	run, err := c.Temporal.ExecuteWorkflow(traceJob(ctx, id, p.Type, tenant), opts, p.Type, p.Input)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case err == nil:
		// Built here rather than read back: a failed read would turn an
		// accepted job into an error that invites a duplicate submission.
		// It has no created_at: the job's clock is its workflow's start
		// time, which the start call does not return, and a time taken
		// here would differ from the one every later read shows.
		v := View{ID: id, Type: p.Type, Status: StatusQueued, Input: p.Input, Tenant: tenant, Priority: p.Priority}
		c.recentStarts().Add(id, startedJob{jobType: p.Type, runID: run.GetRunID(), tenant: tenant})
		return v, true, nil
	case errors.As(err, &already) && req.IdempotencyKey != "":
		desc, err := c.describe(ctx, id)
		if err != nil {
			return View{}, false, err
		}
		var fp string
		if _, err := c.decodeMemo(desc.GetWorkflowExecutionInfo(), memoRequest, &fp); err != nil {
			return View{}, false, fmt.Errorf("read the request of job %s: %w", id, err)
		}
		if fp != p.Fingerprint {
			return View{}, false, ErrIdempotencyMismatch
		}
		v, err := c.viewOf(ctx, desc)
		return v, false, err
	}
	return View{}, false, fmt.Errorf("start %s job: %w", p.Type, classify(err))
}

// Get returns the view of a job.
func (c *Client) Get(ctx context.Context, id string) (View, error) {
	desc, err := c.describe(ctx, id)
	if err != nil {
		return View{}, err
	}
	return c.viewOf(ctx, desc)
}

// Owner returns the tenant of a job ("" when it has none): the API reads a
// job's stored outputs from its tenant's part of the blob store. A job out
// of the caller's scope is ErrNotFound.
func (c *Client) Owner(ctx context.Context, id string) (string, error) {
	desc, err := c.describe(ctx, id)
	if err != nil {
		return "", err
	}
	return tenantOf(desc.GetWorkflowExecutionInfo()), nil
}

// Cancel asks a running job to stop and returns its view.
func (c *Client) Cancel(ctx context.Context, id string) (View, error) {
	v, err := c.Get(ctx, id)
	if err != nil {
		return View{}, err
	}
	if v.Status.Terminal() {
		return v, ErrFinished
	}
	if err := c.Temporal.CancelWorkflow(ctx, id, ""); err != nil {
		var notFound *serviceerror.NotFound
		if errors.As(err, &notFound) {
			// It ended between the two calls.
			v, gerr := c.Get(ctx, id)
			if gerr != nil {
				return View{}, gerr
			}
			return v, ErrFinished
		}
		return View{}, fmt.Errorf("cancel job %s: %w", id, classify(err))
	}
	v.CancelRequested = true
	return v, nil
}

// Result returns a finished job's view and result. If the job has not
// finished it waits up to wait for it; ErrNotFinished (with the view)
// means there is no result to give. The view is what Temporal's own records
// say (no status query, no steps): a result is read on the hot path of
// every client, and the query would cost a round trip through a worker.
// With a result, only the view's id, type and status are certain to be set.
func (c *Client) Result(ctx context.Context, id string, wait time.Duration) (View, json.RawMessage, error) {
	var raw json.RawMessage
	if known, ok := c.recentStarts().Get(id); ok && wait > 0 && ScopeOf(ctx).sees(known.tenant) {
		// This client started the job moments ago and knows its type and
		// run: wait on the result straight away. A client that submits and
		// then waits (the common case) costs Temporal one call instead of
		// two, and the describe no longer competes with the job for the
		// server. (Without the run id the SDK would describe to find it.)
		waitCtx, cancel := context.WithTimeout(ctx, wait)
		err := c.Temporal.GetWorkflow(waitCtx, id, known.runID).Get(waitCtx, &raw)
		cancel()
		if err == nil {
			return View{ID: id, Type: known.jobType, Status: StatusSucceeded, Tenant: known.tenant}, raw, nil
		}
		if ctx.Err() != nil {
			return View{}, nil, ctx.Err()
		}
		// Still running after the wait, or ended without a result: the
		// view below says which, without waiting again.
		wait = 0
	}
	desc, err := c.describe(ctx, id)
	if err != nil {
		return View{}, nil, err
	}
	v := summaryOf(desc.GetWorkflowExecutionInfo())
	runID := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	run := c.Temporal.GetWorkflow(ctx, id, runID)
	if !v.Status.Terminal() {
		if wait <= 0 {
			return v, nil, ErrNotFinished
		}
		// One long poll returns the result itself as soon as the job ends.
		waitCtx, cancel := context.WithTimeout(ctx, wait)
		err := run.Get(waitCtx, &raw)
		cancel()
		if err == nil {
			v.Status = StatusSucceeded
			return v, raw, nil
		}
		if ctx.Err() != nil {
			return View{}, nil, ctx.Err()
		}
		if desc, err = c.describe(ctx, id); err != nil {
			return View{}, nil, err
		}
		v = summaryOf(desc.GetWorkflowExecutionInfo())
	}
	if v.Status != StatusSucceeded {
		return v, nil, ErrNotFinished
	}
	if err := run.Get(ctx, &raw); err != nil {
		return View{}, nil, fmt.Errorf("read result of job %s: %w", id, classify(err))
	}
	return v, raw, nil
}

// ListRequest filters and pages a job list.
type ListRequest struct {
	Status Status
	Type   string
	// Tenant narrows a list in the AllJobs scope to one tenant's jobs; in a
	// tenant's scope the list is that tenant's whatever it says.
	Tenant    string
	PageSize  int
	PageToken string
}

// List returns one page of jobs from Temporal visibility, in its order (running
// jobs first, then closed ones by close time, most recent first; SQL
// visibility accepts no ORDER BY):
// jobs started by the starter or the temporal CLI are listed too. The
// views carry what visibility knows: no steps and no input.
func (c *Client) List(ctx context.Context, req ListRequest) ([]View, string, error) {
	if _, ok := c.Kinds.Lookup(req.Type); req.Type != "" && !ok {
		return nil, "", &InputError{"type", "must be one of " + strings.Join(c.Kinds.Names(), ", ")}
	}
	if req.Status != "" && !req.Status.Valid() {
		return nil, "", &InputError{"status", fmt.Sprintf("must be one of %v", Statuses)}
	}
	scope := ScopeOf(ctx)
	if !scope.All {
		req.Tenant = scope.Tenant
	} else if req.Tenant != "" && !ValidTenant(req.Tenant) {
		return nil, "", &InputError{"tenant", "must be a tenant name (lower-case letters, digits, '-' and '_')"}
	}
	query := listQuery(c.Kinds, req, !scope.All)
	var token []byte
	if req.PageToken != "" {
		t, ok := pagetoken.Open(query, req.PageToken)
		if !ok {
			return nil, "", &InputError{"page_token", "is not a token this API returned for the same filters"}
		}
		token = t
	}
	resp, err := c.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		PageSize:      int32(req.PageSize),
		NextPageToken: token,
		Query:         query,
	})
	if err != nil {
		var invalid *serviceerror.InvalidArgument
		if errors.As(err, &invalid) && token != nil {
			return nil, "", &InputError{"page_token", "is not a token this API returned"}
		}
		return nil, "", fmt.Errorf("list jobs: %w", classify(err))
	}
	views := make([]View, 0, len(resp.GetExecutions()))
	for _, e := range resp.GetExecutions() {
		views = append(views, summaryOf(e))
	}
	// A garbled token, or one from another filter, is then a 400 at once
	// instead of a server-side error that the SDK retries until the call
	// times out.
	return views, pagetoken.Seal(query, resp.GetNextPageToken()), nil
}

// listQuery builds the visibility query of a list request. Only known
// values reach it, so nothing from the request is interpolated unchecked.
func listQuery(kinds Kinds, req ListRequest, scoped bool) string {
	types := kinds.Names()
	if req.Type != "" {
		types = []string{req.Type}
	}
	quoted := make([]string, len(types))
	for i, t := range types {
		quoted[i] = "'" + t + "'"
	}
	q := []string{"WorkflowType IN (" + strings.Join(quoted, ", ") + ")"}
	switch {
	case req.Tenant != "":
		q = append(q, TenantSearchAttribute+" = '"+req.Tenant+"'")
	case scoped:
		// The scope of jobs without a tenant.
		q = append(q, TenantSearchAttribute+" IS NULL")
	}
	switch req.Status {
	case StatusQueued:
		q = append(q, "ExecutionStatus = 'Running'", "("+StatusSearchAttribute+" IS NULL OR "+StatusSearchAttribute+" = 'QUEUED')")
	case StatusRunning:
		q = append(q, "ExecutionStatus = 'Running'", StatusSearchAttribute+" = 'RUNNING'")
	case StatusSucceeded:
		q = append(q, "ExecutionStatus = 'Completed'")
	case StatusFailed:
		q = append(q, "ExecutionStatus IN ('Failed', 'Terminated')")
	case StatusCanceled:
		q = append(q, "ExecutionStatus = 'Canceled'")
	case StatusTimedOut:
		q = append(q, "ExecutionStatus = 'TimedOut'")
	}
	return strings.Join(q, " AND ")
}

func (c *Client) describe(ctx context.Context, id string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	desc, err := c.Temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		var notFound *serviceerror.NotFound
		var invalid *serviceerror.InvalidArgument
		if errors.As(err, &notFound) || errors.As(err, &invalid) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("describe job %s: %w", id, classify(err))
	}
	if _, ok := c.Kinds.Lookup(desc.GetWorkflowExecutionInfo().GetType().GetName()); !ok {
		return nil, ErrNotFound
	}
	if !ScopeOf(ctx).sees(tenantOf(desc.GetWorkflowExecutionInfo())) {
		// Another tenant's job is not found, as if it did not exist.
		return nil, ErrNotFound
	}
	return desc, nil
}

// viewOf builds a job's view from Temporal's description of its workflow
// and, when a worker answers in time, the workflow's own status query.
func (c *Client) viewOf(ctx context.Context, desc *workflowservice.DescribeWorkflowExecutionResponse) (View, error) {
	info := desc.GetWorkflowExecutionInfo()
	v := summaryOf(info)
	v.CancelRequested = desc.GetWorkflowExtendedInfo().GetCancelRequested() && !v.Status.Terminal()

	var q View
	qctx, cancel := context.WithTimeout(ctx, c.QueryTimeout)
	queried := c.query(qctx, v.ID, info.GetExecution().GetRunId(), &q) == nil
	cancel()
	if queried {
		v.Input, v.StartedAt, v.Steps = q.Input, q.StartedAt, q.Steps
		if v.Error == nil {
			v.Error = q.Error
		}
	} else {
		var in json.RawMessage
		found, err := c.decodeMemo(info, memoInput, &in)
		if err != nil {
			return View{}, fmt.Errorf("read the input of job %s: %w", v.ID, err)
		}
		if found {
			v.Input = in
		}
	}
	c.overlayPending(&v, desc.GetPendingActivities())
	settle(&v, info, desc.GetPendingActivities())
	if v.Status == StatusFailed && v.Error == nil {
		v.Error = c.failureOf(ctx, v.ID)
	}
	return v, nil
}

func (c *Client) query(ctx context.Context, id, runID string, into *View) error {
	resp, err := c.Temporal.QueryWorkflow(ctx, id, runID, QueryStatus)
	if err != nil {
		return err
	}
	return resp.Get(into)
}

// failureOf reads why a job failed from its workflow's close event.
func (c *Client) failureOf(ctx context.Context, id string) *Error {
	err := c.Temporal.GetWorkflow(ctx, id, "").GetWithOptions(ctx, nil, client.WorkflowRunGetOptions{DisableFollowingRuns: true})
	if err == nil {
		return nil
	}
	e := ErrorOf(err)
	return &e
}

// tenantOf is the tenant of a job's workflow; "" when it has none.
func tenantOf(info *workflowpb.WorkflowExecutionInfo) string {
	var t string
	_ = decodePayload(info.GetSearchAttributes().GetIndexedFields()[TenantSearchAttribute], &t)
	return t
}

// summaryOf is what visibility alone says of a job.
func summaryOf(info *workflowpb.WorkflowExecutionInfo) View {
	v := View{ID: info.GetExecution().GetWorkflowId(), Type: info.GetType().GetName(), Tenant: tenantOf(info)}
	v.Priority = int(info.GetPriority().GetPriorityKey())
	if t := info.GetStartTime(); t != nil {
		ts := t.AsTime().UTC().Truncate(TimePrecision)
		v.CreatedAt = &ts
	}
	if t := info.GetCloseTime(); t != nil && info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		ts := t.AsTime().UTC().Truncate(TimePrecision)
		v.FinishedAt = &ts
	}
	var sa string
	_ = decodePayload(info.GetSearchAttributes().GetIndexedFields()[StatusSearchAttribute], &sa)
	v.Status = DeriveStatus(StatusFacts{Execution: info.GetStatus(), SearchAttribute: Status(sa)})
	switch info.GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		v.Error = &Error{Type: FailTerminated, Message: "the job's workflow was terminated"}
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		v.Error = &Error{Type: FailTimeout, Message: "the job did not finish within its time limit"}
	}
	return v
}

// overlayPending adds what only the server knows of a running step, fresher
// than the workflow's own view: whether a worker has picked it up, which
// one, its attempt, its last heartbeat's progress and its last failure.
func (c *Client) overlayPending(v *View, pending []*workflowpb.PendingActivityInfo) {
	for _, pa := range pending {
		name := pa.GetActivityType().GetName()
		if name == StepOCRPages || name == StepOCRAssemble {
			c.overlayPart(v, pa)
			continue
		}
		idx := -1
		for i := range v.Steps {
			if v.Steps[i].Name == name && !v.Steps[i].Status.Terminal() {
				idx = i
			}
		}
		if idx < 0 {
			v.Steps = append(v.Steps, Step{Name: name})
			idx = len(v.Steps) - 1
		}
		s := &v.Steps[idx]
		s.Attempt = max(s.Attempt, pa.GetAttempt())
		if w := pa.GetLastWorkerIdentity(); w != "" {
			s.Worker = w
		}
		if f := pa.GetLastFailure(); f != nil {
			s.LastError = ErrorOf(c.failureConverter().FailureToError(f)).Message
		}
		if t := pa.GetLastStartedTime(); t != nil {
			ts := t.AsTime().UTC().Truncate(TimePrecision)
			s.StartedAt = &ts
		}
		var p Progress
		if d := pa.GetHeartbeatDetails().GetPayloads(); len(d) > 0 && c.decode(d[0], &p) == nil && p.Total > 0 {
			s.Progress = &p
		}
		if pendingStarted(pa) {
			s.Status = StatusRunning
		} else {
			s.Status = StatusQueued
		}
	}
}

// overlayPart adds a pending batch of a long document (or its assembly) to
// the ocr step it is part of: the workflow's view counts the step's
// progress over every batch, so only the step's being worked on, its
// workers and a batch's last failure come from here.
func (c *Client) overlayPart(v *View, pa *workflowpb.PendingActivityInfo) {
	for i := range v.Steps {
		s := &v.Steps[i]
		if s.Name != StepOCR || s.Status.Terminal() {
			continue
		}
		if w := pa.GetLastWorkerIdentity(); w != "" && pendingStarted(pa) && !slices.Contains(s.Workers, w) {
			s.Workers = append(s.Workers, w)
		}
		if f := pa.GetLastFailure(); f != nil {
			s.LastError = ErrorOf(c.failureConverter().FailureToError(f)).Message
		}
		if pendingStarted(pa) {
			s.Status = StatusRunning
		}
		return
	}
}

// settle makes a detailed view agree with itself and with lists: the status
// from DeriveStatus, steps of an ended job settled, and no start time while
// nothing has started.
func settle(v *View, info *workflowpb.WorkflowExecutionInfo, pending []*workflowpb.PendingActivityInfo) {
	var sa string
	_ = decodePayload(info.GetSearchAttributes().GetIndexedFields()[StatusSearchAttribute], &sa)
	v.Status = DeriveStatus(StatusFacts{Execution: info.GetStatus(), SearchAttribute: Status(sa), Pending: pending, Steps: v.Steps})
	SettleSteps(v.Status, v.Steps)
	if v.Status == StatusQueued {
		v.StartedAt = nil
		return
	}
	for _, s := range v.Steps {
		if s.StartedAt != nil && (v.StartedAt == nil || s.StartedAt.Before(*v.StartedAt)) {
			v.StartedAt = s.StartedAt
		}
	}
}

// IdempotentID is the id of the job a start request with idempotency key
// key makes for tenant: derived, per tenant (two tenants sending the same
// key get two jobs). Jobs without a tenant keep the derivation they always
// had.
func IdempotentID(tenant, key string) string {
	if tenant == "" {
		return uuid.NewSHA1(idempotencyNamespace, []byte(key)).String()
	}
	return uuid.NewSHA1(idempotencyNamespace, []byte(tenant+"\x00"+key)).String()
}

// openJobsTTL is how long a tenant's count of open jobs is reused: the
// quota may lag by this much plus Temporal's visibility delay.
const openJobsTTL = time.Second

// OpenJobs counts the unfinished jobs of a tenant in Temporal visibility, so
// that the count holds across API replicas. A count younger than
// openJobsTTL is reused, which bounds the calls a busy tenant causes.
func (c *Client) OpenJobs(ctx context.Context, tenant string) (int64, error) {
	c.openOnce.Do(func() { c.open = expirable.NewLRU[string, int64](recentJobs, nil, openJobsTTL) })
	if n, ok := c.open.Get(tenant); ok {
		return n, nil
	}
	if !ValidTenant(tenant) {
		return 0, fmt.Errorf("count open jobs: invalid tenant %q", tenant)
	}
	quoted := make([]string, len(c.Kinds))
	for i, name := range c.Kinds.Names() {
		quoted[i] = "'" + name + "'"
	}
	resp, err := c.Temporal.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
		Query: "WorkflowType IN (" + strings.Join(quoted, ", ") + ") AND ExecutionStatus = 'Running' AND " +
			TenantSearchAttribute + " = '" + tenant + "'",
	})
	if err != nil {
		return 0, fmt.Errorf("count open jobs of %s: %w", tenant, classify(err))
	}
	c.open.Add(tenant, resp.GetCount())
	return resp.GetCount(), nil
}

// decode reads a payload written through Temporal's data converter (the
// memo, heartbeat details); search attributes are never encoded by it
// and are read with decodePayload.
func (c *Client) decode(p *commonpb.Payload, into any) error {
	if p == nil {
		return errors.New("no payload")
	}
	dc := c.DataConverter
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	return dc.FromPayload(p, into)
}

// decodeMemo reads the memo field key of a job's workflow into into;
// found is false when the workflow has no such field (jobs the temporal
// CLI or the starter started). A field that is there but does not decode
// (encrypted under a key the ring lacks, say) is an error, so that a view
// is not shown as if the job had no input, nor an idempotent retry taken
// for a different request.
func (c *Client) decodeMemo(info *workflowpb.WorkflowExecutionInfo, key string, into any) (found bool, err error) {
	p := info.GetMemo().GetFields()[key]
	if p == nil {
		return false, nil
	}
	if err := c.decode(p, into); err != nil {
		return false, fmt.Errorf("decode its memo %s: %w", key, err)
	}
	return true, nil
}

func (c *Client) failureConverter() converter.FailureConverter {
	if c.FailureConverter != nil {
		return c.FailureConverter
	}
	return temporal.GetDefaultFailureConverter()
}

func decodePayload(p *commonpb.Payload, into any) error {
	if p == nil {
		return errors.New("no payload")
	}
	return converter.GetDefaultDataConverter().FromPayload(p, into)
}

// classify marks errors that mean Temporal could not be reached, so that
// callers can answer 503 rather than fail.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	if errors.As(err, &unavailable) || errors.As(err, &deadline) || errors.Is(err, context.DeadlineExceeded) {
		return errors.Join(ErrUnavailable, err)
	}
	if s, ok := status.FromError(err); ok && (s.Code() == codes.Unavailable || s.Code() == codes.DeadlineExceeded) {
		return errors.Join(ErrUnavailable, err)
	}
	return err
}
