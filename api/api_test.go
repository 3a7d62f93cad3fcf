package api_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/docket-dev/docket/api"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/steps"
	"github.com/docket-dev/docket/tools/teststack"
	"github.com/docket-dev/docket/workflows"
)

func TestSumJobEndToEnd(t *testing.T) {
	v := submit(t, job.TypeSum, map[string]any{"start": -5, "end": 1_000_000})
	require.Equal(t, job.TypeSum, v.Type)
	_, err := uuid.Parse(v.ID)
	require.NoError(t, err, "job ids are UUIDs")

	r := waitResult(t, v.ID)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var res struct {
		ID     string        `json:"id"`
		Status job.Status    `json:"status"`
		Result job.SumResult `json:"result"`
	}
	r.decode(t, &res)
	require.Equal(t, v.ID, res.ID)
	require.Equal(t, job.StatusSucceeded, res.Status)
	require.Equal(t, job.SumResult{Sum: 500000500000 - 15, Count: 1_000_006}, res.Result)

	got := call(t, stack.api.URL, http.MethodGet, "/jobs/"+v.ID, nil, nil).view(t)
	require.Equal(t, job.StatusSucceeded, got.Status)
	require.NotNil(t, got.StartedAt)
	require.NotNil(t, got.FinishedAt)
	require.False(t, got.FinishedAt.Before(*got.StartedAt))
	require.Len(t, got.Steps, 1)
	step := got.Steps[0]
	require.Equal(t, steps.Sum.Name, step.Name)
	require.Equal(t, job.StatusSucceeded, step.Status)
	require.Equal(t, workerIdentity, step.Worker)
	require.EqualValues(t, 1, step.Attempt)
	require.JSONEq(t, `{"start":-5,"end":1000000}`, string(jsonBody(t, got.Input)))
}

// A long job shows RUNNING with the worker and heartbeat progress while it
// works.
func TestRunningJobShowsProgress(t *testing.T) {
	v := submit(t, job.TypeSum, map[string]any{"start": 1, "end": 1000, "work_ms": 4000})
	running := waitFor(t, stack.api.URL, v.ID, func(v job.View) bool {
		return v.Status == job.StatusRunning && len(v.Steps) == 1 && v.Steps[0].Progress != nil && v.Steps[0].Progress.Done > 0
	})
	step := running.Steps[0]
	require.Equal(t, job.StatusRunning, step.Status)
	require.Equal(t, workerIdentity, step.Worker)
	require.EqualValues(t, 1000, step.Progress.Total)
	require.NotNil(t, running.StartedAt)
	require.Nil(t, running.FinishedAt)

	r := call(t, stack.api.URL, http.MethodGet, "/jobs/"+v.ID+"/results", nil, nil)
	if r.Status == http.StatusConflict {
		require.Equal(t, string(job.StatusRunning), r.problem(t).JobStatus)
	}
	require.Equal(t, http.StatusOK, waitResult(t, v.ID).Status)
}

func TestWordcountJob(t *testing.T) {
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<html><head><title>ignored</title><style>p{}</style></head>
<body><p>The cat and the hat.</p><script>var the = 1;</script><p>The end</p></body></html>`)
	}))
	defer page.Close()

	v := submit(t, job.TypeWordcount, map[string]any{"url": page.URL + "/doc", "top": 2})
	r := waitResult(t, v.ID)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var res struct {
		Result job.WordcountResult `json:"result"`
	}
	r.decode(t, &res)
	require.Equal(t, job.WordcountResult{Words: 7, Unique: 5, Top: []job.WordCount{{Word: "the", Count: 3}, {Word: "and", Count: 1}}}, res.Result)
}

// A target that fails twice with 503 is retried with backoff; the job
// succeeds on the third attempt and says so.
func TestRetryThenSuccess(t *testing.T) {
	var hits atomic.Int32
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "one two two")
	}))
	defer page.Close()

	v := submit(t, job.TypeWordcount, map[string]any{"url": page.URL})
	require.Equal(t, http.StatusOK, waitResult(t, v.ID).Status)
	got := call(t, stack.api.URL, http.MethodGet, "/jobs/"+v.ID, nil, nil).view(t)
	require.Equal(t, job.StatusSucceeded, got.Status)
	require.EqualValues(t, 3, got.Steps[0].Attempt)
	require.EqualValues(t, 3, hits.Load())
}

// Failures that retrying cannot fix fail the job once.
func TestNonRetryableFailures(t *testing.T) {
	var hits atomic.Int32
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	}))
	defer page.Close()
	port := page.URL[strings.LastIndex(page.URL, ":")+1:]
	// The same page on one of this machine's own addresses: the worker
	// must refuse it as it refuses loopback (traffic to it stays on the host).
	ownURL := ""
	if own := ownAddress(t); own != "" {
		srv := httptest.NewUnstartedServer(page.Config.Handler)
		ln, err := net.Listen("tcp", net.JoinHostPort(own, "0"))
		require.NoError(t, err)
		srv.Listener = ln
		srv.Start()
		defer srv.Close()
		ownURL = srv.URL + "/"
	}

	tests := []struct {
		name    string
		url     string
		errType job.Failure
		hits    int32
	}{
		{"target answers 404", page.URL + "/missing", job.FailHTTPClientError, 1},
		// "localhost" is not on the test worker's allow-list (127.0.0.1 is):
		// the worker refuses to dial it, and the page is never hit.
		{"loopback destination refused", "http://localhost:" + port + "/", job.FailFetchRefused, 0},
		{"the machine's own address refused", ownURL, job.FailFetchRefused, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.url == "" {
				t.Skip("this machine has no non-loopback address")
			}
			hits.Store(0)
			v := submit(t, job.TypeWordcount, map[string]any{"url": tt.url})
			r := waitResult(t, v.ID)
			require.Equal(t, http.StatusConflict, r.Status)
			require.Equal(t, string(job.StatusFailed), r.problem(t).JobStatus)

			got := call(t, stack.api.URL, http.MethodGet, "/jobs/"+v.ID, nil, nil).view(t)
			require.Equal(t, job.StatusFailed, got.Status)
			require.NotNil(t, got.Error)
			require.Equal(t, tt.errType, got.Error.Type)
			require.False(t, got.Error.Retryable)
			require.Len(t, got.Steps, 1)
			require.Equal(t, job.StatusFailed, got.Steps[0].Status)
			require.Equal(t, tt.hits, hits.Load())
		})
	}
}

func TestCancelRunningJob(t *testing.T) {
	v := submit(t, job.TypeSum, map[string]any{"start": 1, "end": 100, "work_ms": 60000})
	waitFor(t, stack.api.URL, v.ID, func(v job.View) bool { return v.Status == job.StatusRunning })

	r := call(t, stack.api.URL, http.MethodDelete, "/jobs/"+v.ID, nil, nil)
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
	require.True(t, r.view(t).CancelRequested)

	res := waitResult(t, v.ID)
	require.Equal(t, http.StatusConflict, res.Status)
	require.Equal(t, string(job.StatusCanceled), res.problem(t).JobStatus)
	got := call(t, stack.api.URL, http.MethodGet, "/jobs/"+v.ID, nil, nil).view(t)
	require.Equal(t, job.StatusCanceled, got.Status)
	require.Equal(t, job.StatusCanceled, got.Steps[0].Status)
	require.NotNil(t, got.FinishedAt)
	// The activity stopped on the cancellation rather than running out its
	// sixty seconds: the job ended well before the step could have.
	require.Less(t, got.FinishedAt.Sub(*got.CreatedAt), 50*time.Second)

	again := call(t, stack.api.URL, http.MethodDelete, "/jobs/"+v.ID, nil, nil)
	require.Equal(t, http.StatusConflict, again.Status)
	require.Equal(t, string(job.StatusCanceled), again.problem(t).JobStatus)
}

func TestJobTimeout(t *testing.T) {
	v := submit(t, job.TypeSum, map[string]any{"start": 1, "end": 10, "work_ms": 30000}, func(b map[string]any) { b["timeout"] = "2s" })
	r := waitResult(t, v.ID)
	require.Equal(t, http.StatusConflict, r.Status)
	require.Equal(t, string(job.StatusTimedOut), r.problem(t).JobStatus)
	got := call(t, stack.api.URL, http.MethodGet, "/jobs/"+v.ID, nil, nil).view(t)
	require.Equal(t, job.StatusTimedOut, got.Status)
	require.Equal(t, job.FailTimeout, got.Error.Type)
	require.Equal(t, job.StatusTimedOut, got.Steps[0].Status, "a step cannot run on in a job that timed out")
}

// With no worker on its task queue a job is accepted and stays QUEUED,
// readable and cancelable.
func TestQueuedWithoutWorkers(t *testing.T) {
	r := call(t, stack.idleAPI.URL, http.MethodPost, "/jobs", []byte(`{"type":"sum","input":{"start":1,"end":2}}`), nil)
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
	id := r.view(t).ID

	got := call(t, stack.idleAPI.URL, http.MethodGet, "/jobs/"+id, nil, nil).view(t)
	require.Equal(t, job.StatusQueued, got.Status)
	require.JSONEq(t, `{"start":1,"end":2}`, string(jsonBody(t, got.Input)), "the input is read from the memo")
	require.Nil(t, got.StartedAt)

	list := listJobs(t, "?status=QUEUED&page_size=100")
	require.Contains(t, ids(list.Jobs), id)
	require.NotContains(t, ids(listJobs(t, "?status=RUNNING&page_size=100").Jobs), id)

	res := call(t, stack.idleAPI.URL, http.MethodGet, "/jobs/"+id+"/results", nil, nil)
	require.Equal(t, http.StatusConflict, res.Status)
	require.Equal(t, string(job.StatusQueued), res.problem(t).JobStatus)

	del := call(t, stack.idleAPI.URL, http.MethodDelete, "/jobs/"+id, nil, nil)
	require.Equal(t, http.StatusAccepted, del.Status)
	require.True(t, del.view(t).CancelRequested)
}

func TestIdempotencyKey(t *testing.T) {
	key := http.Header{"Idempotency-Key": {"order-" + uuid.NewString()}}
	body := []byte(`{"type":"sum","input":{"start":1,"end":3}}`)

	// Concurrent first requests race for the same workflow id: exactly one
	// creates the job.
	var wg sync.WaitGroup
	results := make([]response, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = call(t, stack.api.URL, http.MethodPost, "/jobs", body, key)
		}()
	}
	wg.Wait()
	created := 0
	id := results[0].view(t).ID
	for _, r := range results {
		require.Contains(t, []int{http.StatusAccepted, http.StatusOK}, r.Status, "body: %s", r.Body)
		if r.Status == http.StatusAccepted {
			created++
		}
		require.Equal(t, id, r.view(t).ID)
	}
	require.Equal(t, 1, created)

	require.Equal(t, http.StatusOK, waitResult(t, id).Status)
	// After the job finished, the same key still names it.
	again := call(t, stack.api.URL, http.MethodPost, "/jobs", body, key)
	require.Equal(t, http.StatusOK, again.Status)
	require.Equal(t, id, again.view(t).ID)
	require.Equal(t, job.StatusSucceeded, again.view(t).Status)

	// The same key with another body is refused.
	other := call(t, stack.api.URL, http.MethodPost, "/jobs", []byte(`{"type":"sum","input":{"start":1,"end":4}}`), key)
	require.Equal(t, http.StatusUnprocessableEntity, other.Status)
	require.Equal(t, "Idempotency-Key", other.problem(t).Field)

	// Equivalent bodies (key order, defaults spelled out) are the same request.
	same := call(t, stack.api.URL, http.MethodPost, "/jobs", []byte(`{"input":{"end":3,"start":1,"work_ms":0},"type":"sum"}`), key)
	require.Equal(t, http.StatusOK, same.Status, "body: %s", same.Body)
}

func listJobs(t *testing.T, query string) api.JobList {
	t.Helper()
	return listJobsAt(t, stack.api.URL, query)
}

func listJobsAt(t *testing.T, base, query string) api.JobList {
	t.Helper()
	r := call(t, base, http.MethodGet, "/jobs"+query, nil, nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var l api.JobList
	r.decode(t, &l)
	return l
}

func ids(vs []job.View) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.ID
	}
	return out
}

func TestListJobs(t *testing.T) {
	a := submit(t, job.TypeSum, map[string]any{"start": 1, "end": 2})
	b := submit(t, job.TypeSum, map[string]any{"start": 1, "end": 3})
	require.Equal(t, http.StatusOK, waitResult(t, a.ID).Status)
	require.Equal(t, http.StatusOK, waitResult(t, b.ID).Status)

	// Visibility is eventually consistent.
	require.Eventually(t, func() bool {
		got := ids(listJobs(t, "?type=sum&status=SUCCEEDED&page_size=100").Jobs)
		return contains(got, a.ID) && contains(got, b.ID)
	}, 30*time.Second, 200*time.Millisecond)

	all := listJobs(t, "?page_size=100").Jobs
	for _, v := range all {
		require.Contains(t, workflows.Kinds.Names(), v.Type)
		require.True(t, v.Status.Valid())
		require.NotNil(t, v.CreatedAt)
	}
	for _, v := range listJobs(t, "?type=wordcount&page_size=100").Jobs {
		require.Equal(t, job.TypeWordcount, v.Type)
	}
	for _, v := range listJobs(t, "?status=FAILED&page_size=100").Jobs {
		require.Equal(t, job.StatusFailed, v.Status)
	}

	// Paging walks every job once, newest created first among the closed ones.
	seen := map[string]bool{}
	token := ""
	pages := 0
	for {
		q := "?type=sum&status=SUCCEEDED&page_size=1"
		if token != "" {
			q += "&page_token=" + token
		}
		l := listJobs(t, q)
		pages++
		for _, v := range l.Jobs {
			require.False(t, seen[v.ID], "job %s listed twice", v.ID)
			seen[v.ID] = true
		}
		if l.NextPageToken == "" || pages > 200 {
			break
		}
		token = l.NextPageToken
	}
	require.True(t, seen[a.ID] && seen[b.ID])
	require.GreaterOrEqual(t, pages, 2)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Jobs of every kind started with the temporal CLI, without the API, are
// read through the API with the result the API's own jobs get, are listed,
// and answer the status query on the CLI. A kind without a case here
// fails the test.
func TestTemporalCLIInterop(t *testing.T) {
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "to be or not to be")
	}))
	defer page.Close()
	d := uploadDoc(t, pngDoc(t, invoiceLines))
	es := startExtractStack(t)
	es.calls.Store(1) // no 429 first
	cases := map[string]struct {
		queue, api, input string
		check             func(t *testing.T, result json.RawMessage)
	}{
		job.TypeSum: {taskQueue, stack.api.URL, `{"start":1,"end":100}`, func(t *testing.T, res json.RawMessage) {
			require.JSONEq(t, `{"sum":5050,"count":100}`, string(res))
		}},
		job.TypeWordcount: {taskQueue, stack.api.URL, fmt.Sprintf(`{"url":%q,"top":1}`, page.URL), func(t *testing.T, res json.RawMessage) {
			require.JSONEq(t, `{"words":6,"unique":4,"top":[{"word":"be","count":2}]}`, string(res))
		}},
		job.TypeDocument: {taskQueue, stack.api.URL, fmt.Sprintf(`{"document_id":%q,"steps":["ocr"]}`, d.ID), func(t *testing.T, res json.RawMessage) {
			var out job.DocumentResult
			require.NoError(t, json.Unmarshal(res, &out))
			require.Equal(t, 1, out.Pages)
			require.Len(t, out.PageTexts, 1)
			require.Positive(t, out.PageTexts[0].Chars, "the page was read")
		}},
		job.TypeExtract: {es.queue, es.api, fmt.Sprintf(`{"document_id":%q,"schema":%s}`, d.ID, extractSchema), func(t *testing.T, res json.RawMessage) {
			var out job.ExtractResult
			require.NoError(t, json.Unmarshal(res, &out))
			require.JSONEq(t, `{"vendor":"Acme Trading Ltd"}`, string(out.Data))
			require.Equal(t, d.ID, out.DocumentID)
		}},
	}
	for _, kind := range workflows.Kinds.Names() {
		t.Run(kind, func(t *testing.T) {
			tc, ok := cases[kind]
			require.True(t, ok, "no temporal CLI case for the kind %s", kind)
			id := "cli-" + uuid.NewString()
			_, err := stack.server.CLIOutput(t.Context(), "workflow", "start", "--type", kind, "--task-queue", tc.queue,
				"--workflow-id", id, "--input", tc.input)
			require.NoError(t, err)
			r := waitResultAt(t, tc.api, id)
			require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
			tc.check(t, extractResult(t, r))

			require.Eventually(t, func() bool {
				return contains(ids(listJobsAt(t, tc.api, "?page_size=100&type="+kind).Jobs), id)
			}, 30*time.Second, 200*time.Millisecond)

			// Payloads are encrypted: the CLI reads them through the API's
			// codec server, as the README shows.
			out, err := stack.server.CLIOutput(t.Context(), "workflow", "query", "--workflow-id", id, "--type", job.QueryStatus, "--output", "json",
				"--codec-endpoint", stack.api.URL+"/codec")
			require.NoError(t, err)
			var q struct {
				QueryResult []job.View `json:"queryResult"`
			}
			require.NoError(t, json.Unmarshal(out, &q), "output: %s", out)
			require.Len(t, q.QueryResult, 1)
			require.Equal(t, job.StatusSucceeded, q.QueryResult[0].Status)
			require.Equal(t, id, q.QueryResult[0].ID)
			require.Equal(t, kind, q.QueryResult[0].Type)
		})
	}
}

// Bad input from the CLI fails the job once, clearly.
func TestTemporalCLIBadInput(t *testing.T) {
	bad := "cli-bad-" + uuid.NewString()
	_, err := stack.server.CLIOutput(t.Context(), "workflow", "start", "--type", "sum", "--task-queue", taskQueue,
		"--workflow-id", bad, "--input", `{"start":10,"end":1}`)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, waitResult(t, bad).Status)
	v := call(t, stack.api.URL, http.MethodGet, "/jobs/"+bad, nil, nil).view(t)
	require.Equal(t, job.StatusFailed, v.Status)
	require.Equal(t, job.FailInvalidInput, v.Error.Type)
	require.Contains(t, v.Error.Message, "input.end")
}

func extractResult(t *testing.T, r response) json.RawMessage {
	var res api.Result
	r.decode(t, &res)
	return res.Result
}

// Bad requests that only the job client with Temporal behind it can tell
// apart. Those the handlers refuse themselves, and job's input
// validation, are tested without Temporal in api/handlertest.
func TestBadRequests(t *testing.T) {
	// A real token, but for another filter than the request's.
	for range 2 {
		submit(t, job.TypeSum, map[string]any{"start": 1, "end": 2})
	}
	otherToken := listJobs(t, "?page_size=1").NextPageToken
	require.NotEmpty(t, otherToken)
	tests := []struct {
		name   string
		method string
		path   string
		status int
		field  string
	}{
		{"unknown job", "GET", "/jobs/" + uuid.NewString(), 404, ""},
		{"unknown job result", "GET", "/jobs/" + uuid.NewString() + "/results", 404, ""},
		{"cancel unknown job", "DELETE", "/jobs/" + uuid.NewString(), 404, ""},
		{"bad page token", "GET", "/jobs?page_token=***", 400, "page_token"},
		{"page token of another filter", "GET", "/jobs?status=FAILED&page_token=" + otherToken, 400, "page_token"},
		{"forged page token", "GET", "/jobs?page_token=bm90LWEtdG9rZW4", 400, "page_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, stack.api.URL, tt.method, tt.path, nil, nil)
			require.Equal(t, tt.status, r.Status, "body: %s", r.Body)
			p := r.problem(t)
			require.Equal(t, tt.field, p.Field)
		})
	}
}

// /readyz asks the job client's Temporal when the server has no Ready of
// its own (api/handlertest covers /healthz, /openapi.json and /docs).
func TestReadyzAsksTemporal(t *testing.T) {
	require.Equal(t, http.StatusOK, call(t, stack.api.URL, http.MethodGet, "/readyz", nil, nil).Status)
}

// With Temporal unreachable the API still answers: 503 with Retry-After,
// never a 500 and never a hang.
func TestTemporalUnavailable(t *testing.T) {
	c, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	require.NoError(t, err)
	defer c.Close()
	down := teststack.StartAPI(c, taskQueue, nil)
	defer down.Close()

	require.Equal(t, http.StatusOK, call(t, down.URL, http.MethodGet, "/healthz", nil, nil).Status)
	for _, tt := range []struct{ method, path, body string }{
		{"GET", "/readyz", ""},
		{"POST", "/jobs", `{"type":"sum","input":{"start":1,"end":2}}`},
		{"GET", "/jobs", ""},
		{"GET", "/jobs/" + uuid.NewString(), ""},
		{"GET", "/jobs/" + uuid.NewString() + "/results", ""},
		{"DELETE", "/jobs/" + uuid.NewString(), ""},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			r := call(t, down.URL, tt.method, tt.path, body, nil)
			require.Equal(t, http.StatusServiceUnavailable, r.Status, "body: %s", r.Body)
			require.NotEmpty(t, r.Header.Get("Retry-After"))
			r.problem(t)
		})
	}
}

// ownAddress is one of this machine's non-loopback IPv4 addresses, or ""
// if it has none.
func ownAddress(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	return ""
}
