package handlertest_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/api"
	"github.com/docket-dev/docket/api/internal/spectest"
	"github.com/docket-dev/docket/documents"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/workflows"
)

// jobCall is one call a handler made to the job client, with its decoded
// arguments.
type jobCall struct {
	Method string
	Start  job.StartRequest
	ID     string
	Wait   time.Duration
	List   job.ListRequest
}

// recordingJobs is the api.Jobs of these tests. It records every call, so
// that a test can require that a bad request never reached the job client
// and that a good one reached it with what the client sent.
//
// Start validates as *job.Client does before it talks to Temporal (with
// job.Client.Prepare itself, so the 422s here are job's real rules) and
// then accepts the job. It knows no jobs: Get, Cancel and Result answer
// job.ErrNotFound. List answers listErr, or an empty page.
type recordingJobs struct {
	listErr error

	mu    sync.Mutex
	calls []jobCall
}

var _ api.Jobs = (*recordingJobs)(nil)

// validator is a job client that is only ever asked to Prepare.
var validator = &job.Client{Kinds: workflows.Kinds, JobTimeout: time.Hour}

func (j *recordingJobs) record(c jobCall) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.calls = append(j.calls, c)
}

// Calls returns the calls made so far.
func (j *recordingJobs) Calls() []jobCall {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]jobCall(nil), j.calls...)
}

func (j *recordingJobs) Start(_ context.Context, req job.StartRequest) (job.View, bool, error) {
	j.record(jobCall{Method: "Start", Start: req})
	p, err := validator.Prepare(req)
	if err != nil {
		return job.View{}, false, err
	}
	return job.View{ID: uuid.NewString(), Type: p.Type, Status: job.StatusQueued, Input: p.Input}, true, nil
}

func (j *recordingJobs) Owner(_ context.Context, id string) (string, error) {
	j.record(jobCall{Method: "Owner", ID: id})
	return "", job.ErrNotFound
}

func (j *recordingJobs) DescribeQueue(_ context.Context, name string) (job.Queue, error) {
	j.record(jobCall{Method: "DescribeQueue", ID: name})
	return job.Queue{Name: name, Workflow: &job.QueueStats{Pollers: []job.Poller{}}, Activity: &job.QueueStats{Pollers: []job.Poller{}}}, nil
}

func (j *recordingJobs) OpenJobs(_ context.Context, tenant string) (int64, error) {
	j.record(jobCall{Method: "OpenJobs", ID: tenant})
	return 0, nil
}

func (j *recordingJobs) Get(_ context.Context, id string) (job.View, error) {
	j.record(jobCall{Method: "Get", ID: id})
	return job.View{}, job.ErrNotFound
}

func (j *recordingJobs) Cancel(_ context.Context, id string) (job.View, error) {
	j.record(jobCall{Method: "Cancel", ID: id})
	return job.View{}, job.ErrNotFound
}

func (j *recordingJobs) Result(_ context.Context, id string, wait time.Duration) (job.View, json.RawMessage, error) {
	j.record(jobCall{Method: "Result", ID: id, Wait: wait})
	return job.View{}, nil, job.ErrNotFound
}

func (j *recordingJobs) List(_ context.Context, req job.ListRequest) ([]job.View, string, error) {
	j.record(jobCall{Method: "List", List: req})
	if j.listErr != nil {
		return nil, "", j.listErr
	}
	return []job.View{}, "", nil
}

// harness is one API server of its own, so that parallel tests each see
// only their own calls.
type harness struct {
	ts   *httptest.Server
	url  string
	jobs *recordingJobs
	docs *documents.Store
}

// quiet drops the request log; DOCKET_TEST_VERBOSE=1 shows it.
func quiet() *slog.Logger {
	level := slog.LevelError + 4
	if os.Getenv("DOCKET_TEST_VERBOSE") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// newHarness serves an api.Server with a recordingJobs and a documents
// store in a temporary folder, under the production http.Server
// (api.NewHTTPServer: its timeouts and its problem+json answers to
// requests net/http cannot parse). configure may change the server first.
func newHarness(t *testing.T, configure ...func(*api.Server)) *harness {
	t.Helper()
	dir := t.TempDir()
	docs, err := documents.Open(context.Background(), "file://"+filepath.ToSlash(dir)+"?create_dir=1&no_tmp_dir=1")
	require.NoError(t, err)
	t.Cleanup(func() { _ = docs.Close() })
	jobs := &recordingJobs{}
	s := &api.Server{Jobs: jobs, Docs: docs, Log: quiet(), CallTimeout: 5 * time.Second}
	for _, f := range configure {
		f(s)
	}
	h := s.Handler()
	ts := httptest.NewUnstartedServer(h)
	hs := api.NewHTTPServer("", h)
	ts.Config = hs.Server
	ts.Listener = hs.WrapListener(ts.Listener)
	ts.Start()
	t.Cleanup(ts.Close)
	return &harness{ts: ts, url: ts.URL, jobs: jobs, docs: docs}
}

// call sends a request and checks the answer against the OpenAPI document.
func (h *harness) call(t *testing.T, method, path string, body []byte, header http.Header) spectest.Response {
	t.Helper()
	return spectest.Call(t, h.url, method, path, body, header)
}

// requireNoJobCalls requires that nothing reached the job client.
func (h *harness) requireNoJobCalls(t *testing.T) {
	t.Helper()
	require.Empty(t, h.jobs.Calls(), "the request reached the job client")
}
