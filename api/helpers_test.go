package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/api"
	"github.com/docket-dev/docket/api/internal/spectest"
	"github.com/docket-dev/docket/job"
)

// response is a finished HTTP exchange whose answer has been checked
// against the OpenAPI document (spectest.Response, with this suite's
// lower-case helpers).
type response spectest.Response

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	spectest.Response(r).Decode(t, v)
}

func (r response) view(t *testing.T) job.View {
	t.Helper()
	return spectest.Response(r).View(t)
}

func (r response) problem(t *testing.T) api.Problem {
	t.Helper()
	return spectest.Response(r).Problem(t)
}

// call sends a request to base and validates the response against the
// OpenAPI document, so that the document cannot drift from the code.
func call(t *testing.T, base, method, path string, body []byte, header http.Header) response {
	t.Helper()
	return response(spectest.Call(t, base, method, path, body, header))
}

func jsonBody(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// submit starts a job through the API and requires a 202.
func submit(t *testing.T, typ string, input any, extra ...func(map[string]any)) job.View {
	t.Helper()
	body := map[string]any{"type": typ, "input": input}
	for _, f := range extra {
		f(body)
	}
	r := call(t, stack.api.URL, http.MethodPost, "/jobs", jsonBody(t, body), nil)
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
	v := r.view(t)
	require.Equal(t, "/jobs/"+v.ID, r.Header.Get("Location"))
	return v
}

// waitResult long-polls the job's result; it returns the final response.
func waitResult(t *testing.T, id string) response {
	t.Helper()
	return waitResultAt(t, stack.api.URL, id)
}

func waitResultAt(t *testing.T, base, id string) response {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		r := call(t, base, http.MethodGet, "/jobs/"+id+"/results?wait=30s", nil, nil)
		if r.Status == http.StatusOK {
			return r
		}
		require.Equal(t, http.StatusConflict, r.Status, "body: %s", r.Body)
		p := r.problem(t)
		if job.Status(p.JobStatus).Terminal() || time.Now().After(deadline) {
			return r
		}
	}
}

// waitFor polls the job's view until cond holds (or fails the test after a minute).
func waitFor(t *testing.T, base, id string, cond func(job.View) bool) job.View {
	t.Helper()
	var v job.View
	require.Eventually(t, func() bool {
		r := call(t, base, http.MethodGet, "/jobs/"+id, nil, nil)
		require.Equal(t, http.StatusOK, r.Status)
		v = r.view(t)
		return cond(v)
	}, time.Minute, 100*time.Millisecond, "last view: %+v", v)
	return v
}
