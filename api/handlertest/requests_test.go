package handlertest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/api"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/tools/testdocs"
)

// header builds the request headers of a table row: contentType "" sends
// a body as application/json, "none" sends an empty Content-Type.
func header(contentType string, body []byte, extra http.Header) http.Header {
	h := http.Header{}
	for k, v := range extra {
		h[k] = v
	}
	switch contentType {
	case "":
		if body != nil {
			h.Set("Content-Type", "application/json")
		}
	case "none":
		h.Set("Content-Type", "")
	default:
		h.Set("Content-Type", contentType)
	}
	return h
}

// Requests the handlers refuse themselves never reach the job client.
func TestRejectedBeforeTheJobClient(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte(" "), api.MaxBodyBytes+1)
	sum := []byte(`{"type":"sum","input":{"start":1,"end":2}}`)
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        []byte
		header      http.Header
		status      int
		field       string
	}{
		{"wrong media type", "POST", "/jobs", "text/plain", sum, nil, 415, ""},
		{"no media type", "POST", "/jobs", "none", []byte(`{"type":"sum"}`), nil, 415, ""},
		{"body too large", "POST", "/jobs", "", append(append([]byte{}, sum...), big...), nil, 413, ""},
		{"malformed JSON", "POST", "/jobs", "", []byte(`{"type":`), nil, 400, ""},
		{"null body", "POST", "/jobs", "", []byte(`null`), nil, 400, ""},
		{"names in another case", "POST", "/jobs", "", []byte(`{"TYPE":"sum","Input":{"START":1}}`), nil, 400, ""},
		{"duplicate name", "POST", "/jobs", "", []byte(`{"type":"wordcount","type":"sum","input":{"start":1,"end":2}}`), nil, 400, ""},
		{"duplicate input name", "POST", "/jobs", "", []byte(`{"type":"sum","input":{"start":1,"end":2,"end":3}}`), nil, 400, ""},
		{"not an object", "POST", "/jobs", "", []byte(`[1,2]`), nil, 400, ""},
		{"unknown top-level field", "POST", "/jobs", "", []byte(`{"type":"sum","input":{"start":1,"end":2},"priorty":1}`), nil, 400, ""},
		{"trailing data", "POST", "/jobs", "", append(append([]byte{}, sum...), " {}"...), nil, 400, ""},
		{"empty body", "POST", "/jobs", "", []byte(``), nil, 400, ""},
		{"idempotency key too long", "POST", "/jobs", "", sum, http.Header{"Idempotency-Key": {strings.Repeat("k", 300)}}, 400, "Idempotency-Key"},
		{"idempotency key not printable", "POST", "/jobs", "", sum, http.Header{"Idempotency-Key": {"clé"}}, 400, "Idempotency-Key"},
		{"unknown query parameter", "GET", "/jobs?limit=5", "", nil, nil, 400, "limit"},
		{"unknown query parameter of results", "GET", "/jobs/" + uuid.NewString() + "/results?wiat=5", "", nil, nil, 400, "wiat"},
		{"unknown document list parameter", "GET", "/documents?page_sise=5", "", nil, nil, 400, "page_sise"},
		{"query on POST /jobs", "POST", "/jobs?dry_run=1", "", sum, nil, 400, "dry_run"},
		{"malformed query", "GET", "/jobs?status=%zz", "", nil, nil, 400, ""},
		{"bad wait", "GET", "/jobs/x/results?wait=soon", "", nil, nil, 400, "wait"},
		{"negative wait", "GET", "/jobs/x/results?wait=-5s", "", nil, nil, 400, "wait"},
		{"bad status filter", "GET", "/jobs?status=DONE", "", nil, nil, 400, "status"},
		{"bad type filter", "GET", "/jobs?type=nope", "", nil, nil, 400, "type"},
		{"bad page size", "GET", "/jobs?page_size=0", "", nil, nil, 400, "page_size"},
		{"huge page size", "GET", "/jobs?page_size=100000", "", nil, nil, 400, "page_size"},
		{"garbage document page token", "GET", "/documents?page_token=garbage", "", nil, nil, 400, "page_token"},
		{"NUL document page token", "GET", "/documents?page_token=%00", "", nil, nil, 400, "page_token"},
		{"document search too long", "GET", "/documents?search=" + strings.Repeat("s", 256), "", nil, nil, 400, "search"},
		{"bad page number", "GET", "/jobs/" + uuid.NewString() + "/pages/0", "", nil, nil, 400, "page"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			r := h.call(t, tt.method, tt.path, tt.body, header(tt.contentType, tt.body, tt.header))
			require.Equal(t, tt.status, r.Status, "body: %s", r.Body)
			require.Equal(t, tt.field, r.Problem(t).Field)
			h.requireNoJobCalls(t)
		})
	}
}

// A request that decodes reaches the job client as sent, and the job's
// own validation (job.Client.Prepare, run by the recording client as the
// real one runs it before Temporal) is answered 422 naming the field.
func TestRefusedByJobValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		body  string
		field string
	}{
		{"input name in another case", `{"type":"sum","input":{"START":1,"end":2}}`, "input"},
		{"missing type", `{"input":{}}`, "type"},
		{"unknown type", `{"type":"mine-bitcoin","input":{}}`, "type"},
		{"missing input", `{"type":"sum"}`, "input"},
		{"unknown input field", `{"type":"sum","input":{"start":1,"end":2,"step":3}}`, "input"},
		{"wrong input type", `{"type":"sum","input":{"start":"1","end":2}}`, "input"},
		{"start after end", `{"type":"sum","input":{"start":3,"end":2}}`, "input.end"},
		{"sum out of bounds", `{"type":"sum","input":{"start":1,"end":9223372036854775807}}`, "input.end"},
		{"integer overflow", `{"type":"sum","input":{"start":1,"end":99999999999999999999999}}`, "input"},
		{"work_ms too long", `{"type":"sum","input":{"start":1,"end":2,"work_ms":600000}}`, "input.work_ms"},
		{"bad url", `{"type":"wordcount","input":{"url":"ftp://example.org/"}}`, "input.url"},
		{"top too large", `{"type":"wordcount","input":{"url":"https://example.org/","top":1000}}`, "input.top"},
		{"bad timeout", `{"type":"sum","input":{"start":1,"end":2},"timeout":"forever"}`, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			r := h.call(t, http.MethodPost, "/jobs", []byte(tt.body), nil)
			require.Equal(t, http.StatusUnprocessableEntity, r.Status, "body: %s", r.Body)
			require.Equal(t, tt.field, r.Problem(t).Field)
			var want job.StartRequest
			require.NoError(t, json.Unmarshal([]byte(tt.body), &want))
			require.Equal(t, []jobCall{{Method: "Start", Start: want}}, h.jobs.Calls())
		})
	}
}

// Valid requests reach the job client once, with the request decoded:
// the body, the Idempotency-Key header, the list filters with their
// defaults, the job id and the wait capped at api.MaxWait.
func TestValidRequestsReachTheJobClient(t *testing.T) {
	t.Parallel()
	id := uuid.NewString()
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		header http.Header
		status int
		want   jobCall
	}{
		{"start", "POST", "/jobs", `{"type":"sum","input":{"start":1,"end":2},"timeout":"90s"}`, http.Header{"Idempotency-Key": {"order-42"}}, 202,
			jobCall{Method: "Start", Start: job.StartRequest{Type: "sum", Input: json.RawMessage(`{"start":1,"end":2}`), Timeout: "90s", IdempotencyKey: "order-42"}}},
		{"start with a +json media type", "POST", "/jobs", `{"type":"sum","input":{"start":1,"end":2}}`, http.Header{"Content-Type": {"application/vnd.docket+json; charset=utf-8"}}, 202,
			jobCall{Method: "Start", Start: job.StartRequest{Type: "sum", Input: json.RawMessage(`{"start":1,"end":2}`)}}},
		{"list with defaults", "GET", "/jobs", "", nil, 200,
			jobCall{Method: "List", List: job.ListRequest{PageSize: api.DefaultPageSize}}},
		{"list filtered", "GET", "/jobs?status=FAILED&type=sum&page_size=5&page_token=abc", "", nil, 200,
			jobCall{Method: "List", List: job.ListRequest{Status: job.StatusFailed, Type: "sum", PageSize: 5, PageToken: "abc"}}},
		{"get", "GET", "/jobs/" + id, "", nil, 404, jobCall{Method: "Get", ID: id}},
		{"cancel", "DELETE", "/jobs/" + id, "", nil, 404, jobCall{Method: "Cancel", ID: id}},
		{"result without wait", "GET", "/jobs/" + id + "/results", "", nil, 404, jobCall{Method: "Result", ID: id}},
		{"result, wait in seconds", "GET", "/jobs/" + id + "/results?wait=5", "", nil, 404, jobCall{Method: "Result", ID: id, Wait: 5 * time.Second}},
		{"result, wait capped", "GET", "/jobs/" + id + "/results?wait=10m", "", nil, 404, jobCall{Method: "Result", ID: id, Wait: api.MaxWait}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			r := h.call(t, tt.method, tt.path, body, tt.header)
			require.Equal(t, tt.status, r.Status, "body: %s", r.Body)
			require.Equal(t, []jobCall{tt.want}, h.jobs.Calls())
			if tt.method == "POST" {
				v := r.View(t)
				require.Equal(t, "/jobs/"+v.ID, r.Header.Get("Location"))
				require.Equal(t, job.StatusQueued, v.Status)
			}
			if tt.status == 404 {
				require.Equal(t, "https://docket.dev/problems/job-not-found", r.Problem(t).Type)
			}
		})
	}
}

// The job client's errors become the API's answers: a page token it
// refuses is a 400 naming page_token (the token checks themselves are
// job's, tested against Temporal in package api), and an outage is a 503
// with Retry-After.
func TestJobClientErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		status int
		field  string
	}{
		{"refused page token", &job.InputError{Field: "page_token", Message: "is not a token this API returned"}, 400, "page_token"},
		{"temporal unavailable", job.ErrUnavailable, 503, ""},
		{"unclassified", errors.New("something else"), 503, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.jobs.listErr = tt.err
			r := h.call(t, http.MethodGet, "/jobs?page_token=abc", nil, nil)
			require.Equal(t, tt.status, r.Status, "body: %s", r.Body)
			require.Equal(t, tt.field, r.Problem(t).Field)
			if tt.status == 503 {
				require.NotEmpty(t, r.Header.Get("Retry-After"))
			}
			require.Len(t, h.jobs.Calls(), 1)
		})
	}
}

// Uploads the blob store refuses, and reads of what it does not hold.
func TestDocumentUploadErrors(t *testing.T) {
	t.Parallel()
	png, err := testdocs.PNG([]string{"Invoice 4821 from Acme Trading Ltd", "Total due: EUR 1375.50"}, 32)
	require.NoError(t, err)
	tests := []struct {
		name        string
		maxBytes    int64
		body        []byte
		contentType string
		status      int
	}{
		{"plain text", 0, []byte("just some text, not a document"), "application/pdf", http.StatusUnsupportedMediaType},
		{"html", 0, []byte("<html><body>not a scan</body></html>"), "text/html", http.StatusUnsupportedMediaType},
		{"empty", 0, []byte{}, "application/pdf", http.StatusBadRequest},
		{"over the limit", 1024, png, "image/png", http.StatusRequestEntityTooLarge},
		{"multipart without file", 0, []byte("--x\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nv\r\n--x--\r\n"), "multipart/form-data; boundary=x", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(s *api.Server) { s.MaxDocumentBytes = tt.maxBytes })
			r := h.call(t, http.MethodPost, "/documents", tt.body, http.Header{"Content-Type": {tt.contentType}})
			require.Equal(t, tt.status, r.Status, "body: %s", r.Body)
			r.Problem(t)
			h.requireNoJobCalls(t)
		})
	}
	for _, path := range []string{"/documents/" + strings.Repeat("a", 64), "/documents/nope", "/documents/nope/content"} {
		t.Run("GET "+path, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			r := h.call(t, http.MethodGet, path, nil, nil)
			require.Equal(t, http.StatusNotFound, r.Status, path)
			r.Problem(t)
			h.requireNoJobCalls(t)
		})
	}
	// A job's page is read only once the job is known to be the caller's
	// (it names the tenant whose part of the store holds the page).
	t.Run("GET /jobs/{id}/pages/1", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		id := uuid.NewString()
		r := h.call(t, http.MethodGet, "/jobs/"+id+"/pages/1", nil, nil)
		require.Equal(t, http.StatusNotFound, r.Status)
		r.Problem(t)
		calls := h.jobs.Calls()
		require.Len(t, calls, 1)
		require.Equal(t, "Owner", calls[0].Method)
		require.Equal(t, id, calls[0].ID)
	})
}

// /healthz, /openapi.json and the Swagger UI need nothing; /readyz is
// what Server.Ready says, and never ready without a check.
func TestHealthAndDocs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	require.Equal(t, http.StatusOK, h.call(t, http.MethodGet, "/healthz", nil, nil).Status)
	spec := h.call(t, http.MethodGet, "/openapi.json", nil, nil)
	require.Equal(t, http.StatusOK, spec.Status)
	require.JSONEq(t, string(api.Spec()), string(spec.Body))
	resp, err := http.Get(h.url + "/docs/")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	h.requireNoJobCalls(t)

	for _, tt := range []struct {
		name   string
		ready  func(context.Context) error
		status int
	}{
		{"no check", nil, http.StatusServiceUnavailable},
		{"ready", func(context.Context) error { return nil }, http.StatusOK},
		{"not ready", func(context.Context) error { return errors.New("down") }, http.StatusServiceUnavailable},
	} {
		t.Run("readyz "+tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(s *api.Server) { s.Ready = tt.ready })
			r := h.call(t, http.MethodGet, "/readyz", nil, nil)
			require.Equal(t, tt.status, r.Status, "body: %s", r.Body)
			if tt.status != http.StatusOK {
				r.Problem(t)
				require.NotEmpty(t, r.Header.Get("Retry-After"))
			}
		})
	}
}
