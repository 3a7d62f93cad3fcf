package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/api"
	"github.com/docket-dev/docket/job"
)

var (
	specOnce   sync.Once
	specRouter routers.Router
	specErr    error
)

func router() (routers.Router, error) {
	specOnce.Do(func() {
		openapi3filter.RegisterBodyDecoder("application/problem+json", openapi3filter.JSONBodyDecoder)
		doc, err := openapi3.NewLoader().LoadFromData(api.Spec())
		if err != nil {
			specErr = err
			return
		}
		// Match any host: the tests' servers listen on random ports.
		doc.Servers = openapi3.Servers{{URL: "/"}}
		specRouter, specErr = gorillamux.NewRouter(doc)
	})
	return specRouter, specErr
}

// response is a finished HTTP exchange whose answer has been checked
// against the OpenAPI document.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.Body, v), "body: %s", r.Body)
}

func (r response) view(t *testing.T) job.View {
	t.Helper()
	var v job.View
	r.decode(t, &v)
	return v
}

func (r response) problem(t *testing.T) api.Problem {
	t.Helper()
	require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), "body: %s", r.Body)
	var p api.Problem
	r.decode(t, &p)
	require.Equal(t, r.Status, p.Status)
	require.NotEmpty(t, p.Detail)
	return p
}

// call sends a request to base and validates the response against the
// OpenAPI document, so that the document cannot drift from the code.
func call(t *testing.T, base, method, path string, body []byte, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
	require.NoError(t, err)
	for k, vs := range header {
		req.Header[k] = vs
	}
	if _, set := req.Header["Content-Type"]; body != nil && !set {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NotEqual(t, http.StatusInternalServerError, resp.StatusCode, "body: %s", got)

	validate(t, req, body, resp, got)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: got}
}

func validate(t *testing.T, req *http.Request, body []byte, resp *http.Response, got []byte) {
	t.Helper()
	r, err := router()
	require.NoError(t, err, "load OpenAPI document")
	if !strings.HasPrefix(req.URL.Path, "/docs") {
		route, params, err := r.FindRoute(req)
		require.NoError(t, err, "%s %s is not in the OpenAPI document", req.Method, req.URL.Path)
		req.Body = io.NopCloser(bytes.NewReader(body))
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{
				Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
			},
			Status: resp.StatusCode,
			Header: resp.Header,
			Body:   io.NopCloser(bytes.NewReader(got)),
			Options: &openapi3filter.Options{
				IncludeResponseStatus: true,
				MultiError:            true,
			},
		}
		require.NoError(t, openapi3filter.ValidateResponse(context.Background(), in),
			"%s %s answered %d with a body the OpenAPI document does not allow: %s", req.Method, req.URL.Path, resp.StatusCode, got)
	}
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
