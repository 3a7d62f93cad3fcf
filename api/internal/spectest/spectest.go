// Package spectest checks HTTP exchanges with the Jobs API against its
// OpenAPI document. Both API test suites use it (the real-stack one in
// package api and the Temporal-free one in api/handlertest), so that every
// answer either suite sees is one the document allows.
package spectest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

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

// router loads the OpenAPI document once per test binary.
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

// Document is the API's OpenAPI document, loaded.
func Document(t testing.TB) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(api.Spec())
	require.NoError(t, err)
	return doc
}

// Response is a finished HTTP exchange whose answer has been checked
// against the OpenAPI document.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Decode unmarshals the body into v.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.Body, v), "body: %s", r.Body)
}

// View decodes the body as a job view.
func (r Response) View(t testing.TB) job.View {
	t.Helper()
	var v job.View
	r.Decode(t, &v)
	return v
}

// Problem decodes the body as problem+json and checks the fields every
// problem has.
func (r Response) Problem(t testing.TB) api.Problem {
	t.Helper()
	require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), "body: %s", r.Body)
	var p api.Problem
	r.Decode(t, &p)
	require.Equal(t, r.Status, p.Status)
	require.NotEmpty(t, p.Detail)
	return p
}

// Call sends a request to base and validates the response against the
// OpenAPI document, so that the document cannot drift from the code. A
// body without a Content-Type header is sent as application/json.
func Call(t testing.TB, base, method, path string, body []byte, header http.Header) Response {
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

	Validate(t, req, body, resp, got)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: got}
}

// Validate requires that resp (whose body was got) is an answer the
// OpenAPI document allows to req (whose body was body). The Swagger UI's
// assets under /docs are not in the document and are not checked.
func Validate(t testing.TB, req *http.Request, body []byte, resp *http.Response, got []byte) {
	t.Helper()
	if strings.HasPrefix(req.URL.Path, "/docs") {
		return
	}
	r, err := router()
	require.NoError(t, err, "load OpenAPI document")
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
