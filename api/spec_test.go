package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gorilla/mux"
	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/api"
	"github.com/docket-dev/docket/documents"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/ocr"
	"github.com/docket-dev/docket/workflows"
)

// The tests in this file check the OpenAPI document (api/openapi.json)
// against the code: that it is valid, that it describes every route and
// every answer, and that its schemas match the Go types' JSON encoding.
// They need neither Temporal nor the network.

// oasLoad loads and validates the served document.
func oasLoad(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(api.Spec())
	if err != nil {
		t.Fatalf("load OpenAPI document: %v", err)
	}
	return doc
}

func TestSpecIsValidOpenAPI(t *testing.T) {
	doc := oasLoad(t)
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("OpenAPI document is invalid: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0 (its webhooks object describes the deliveries)", doc.OpenAPI)
	}
	if !json.Valid(api.Spec()) {
		t.Error("the served document is not JSON")
	}
}

// oasRoute is one method and path template of the API.
type oasRoute struct{ method, path string }

func (r oasRoute) String() string { return r.method + " " + r.path }

// oasRoutes is every route of the API and every status its handler can answer.
var oasRoutes = []struct {
	route    oasRoute
	statuses []int
}{
	{oasRoute{http.MethodPost, "/jobs"}, []int{200, 202, 400, 401, 403, 408, 413, 415, 422, 429, 500, 503}},
	{oasRoute{http.MethodGet, "/jobs"}, []int{200, 400, 401, 403, 429, 500, 503}},
	{oasRoute{http.MethodGet, "/jobs/{id}"}, []int{200, 400, 401, 403, 404, 429, 500, 503}},
	{oasRoute{http.MethodDelete, "/jobs/{id}"}, []int{202, 400, 401, 403, 404, 409, 429, 500, 503}},
	{oasRoute{http.MethodGet, "/jobs/{id}/results"}, []int{200, 400, 401, 403, 404, 409, 429, 500, 503}},
	{oasRoute{http.MethodGet, "/jobs/{id}/pages/{page}"}, []int{200, 400, 401, 403, 404, 429, 500, 503}},
	{oasRoute{http.MethodGet, "/jobs/{id}/events"}, []int{200, 204, 400, 401, 403, 404, 429, 500, 503}},
	{oasRoute{http.MethodPost, "/jobs/{id}/events/token"}, []int{200, 400, 401, 403, 404, 429, 500, 503}},
	{oasRoute{http.MethodPost, "/documents"}, []int{200, 201, 400, 401, 403, 408, 413, 415, 422, 429, 500, 503}},
	{oasRoute{http.MethodGet, "/documents"}, []int{200, 400, 401, 403, 429, 500, 503}},
	{oasRoute{http.MethodGet, "/documents/{id}"}, []int{200, 400, 401, 403, 404, 429, 500, 503}},
	{oasRoute{http.MethodDelete, "/documents/{id}"}, []int{204, 400, 401, 403, 404, 429, 500, 503}},
	{oasRoute{http.MethodGet, "/documents/{id}/content"}, []int{200, 400, 401, 403, 404, 429, 500, 503}},
	{oasRoute{http.MethodGet, "/queues"}, []int{200, 400, 401, 403, 429, 500, 503}},
	{oasRoute{http.MethodPost, "/webhooks"}, []int{201, 400, 401, 403, 408, 409, 413, 415, 422, 429, 500, 503}},
	{oasRoute{http.MethodGet, "/webhooks"}, []int{200, 400, 401, 403, 429, 500, 503}},
	{oasRoute{http.MethodDelete, "/webhooks/{id}"}, []int{204, 400, 401, 403, 404, 429, 500, 503}},
	{oasRoute{http.MethodPost, "/webhooks/{id}/rotate"}, []int{200, 400, 401, 403, 404, 429, 500, 503}},
	{oasRoute{http.MethodGet, "/metrics"}, []int{200, 400, 401, 403, 429, 500}},
	{oasRoute{http.MethodPost, "/codec/encode"}, []int{200, 400, 401, 403, 404, 429, 500}},
	{oasRoute{http.MethodPost, "/codec/decode"}, []int{200, 400, 401, 403, 404, 429, 500}},
	{oasRoute{http.MethodGet, "/healthz"}, []int{200, 400}},
	{oasRoute{http.MethodGet, "/readyz"}, []int{200, 400, 500, 503}},
	{oasRoute{http.MethodGet, "/openapi.json"}, []int{200, 400}},
	{oasRoute{http.MethodGet, "/docs"}, []int{200}},
}

// oasRouterRoutes walks the API's router. A route without methods (the
// Swagger UI under /docs) counts as GET.
func oasRouterRoutes(t *testing.T) map[oasRoute]bool {
	t.Helper()
	h := (&api.Server{}).Handler()
	r, ok := h.(*mux.Router)
	if !ok {
		t.Fatalf("Handler() returns %T, want *mux.Router", h)
	}
	routes := map[oasRoute]bool{}
	err := r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		path, err := route.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			methods = []string{http.MethodGet}
		}
		for _, m := range methods {
			// HEAD is GET without the body (RFC 9110): every GET route
			// answers it and the document leaves it implied.
			if m == http.MethodHead {
				if !slices.Contains(methods, http.MethodGet) {
					t.Errorf("%s answers HEAD but not GET", path)
				}
				continue
			}
			routes[oasRoute{m, path}] = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk routes: %v", err)
	}
	return routes
}

func TestSpecCoversRoutes(t *testing.T) {
	doc := oasLoad(t)
	registered := oasRouterRoutes(t)
	listed := map[oasRoute]bool{}
	for _, tc := range oasRoutes {
		listed[tc.route] = true
		t.Run(tc.route.String(), func(t *testing.T) {
			if !registered[tc.route] {
				t.Errorf("%s is not a route of Server.Handler()", tc.route)
			}
			item := doc.Paths.Value(tc.route.path)
			if item == nil || item.GetOperation(tc.route.method) == nil {
				t.Fatalf("%s is not in the OpenAPI document", tc.route)
			}
		})
	}
	for r := range registered {
		if !listed[r] {
			t.Errorf("route %s of Server.Handler() is missing from this test's table (and maybe from the document)", r)
		}
		if item := doc.Paths.Value(r.path); item == nil || item.GetOperation(r.method) == nil {
			t.Errorf("route %s of Server.Handler() is not in the OpenAPI document", r)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if r := (oasRoute{method, path}); !registered[r] {
				t.Errorf("the OpenAPI document describes %s, which Server.Handler() does not route", r)
			}
		}
	}
}

func TestSpecResponses(t *testing.T) {
	doc := oasLoad(t)
	problem := doc.Components.Schemas["Problem"]
	if problem == nil {
		t.Fatal("no Problem schema")
	}
	for _, tc := range oasRoutes {
		t.Run(tc.route.String(), func(t *testing.T) {
			item := doc.Paths.Value(tc.route.path)
			if item == nil || item.GetOperation(tc.route.method) == nil {
				t.Fatalf("%s is not in the OpenAPI document", tc.route)
			}
			op := item.GetOperation(tc.route.method)
			if op.OperationID == "" || op.Summary == "" {
				t.Errorf("%s has no operationId or summary", tc.route)
			}
			var documented []int
			for code := range op.Responses.Map() {
				n, err := strconv.Atoi(code)
				if err != nil {
					t.Errorf("response %q is not a status code", code)
					continue
				}
				documented = append(documented, n)
			}
			sort.Ints(documented)
			if !slices.Equal(documented, tc.statuses) {
				t.Errorf("documented statuses %v, want %v", documented, tc.statuses)
			}
			for _, status := range tc.statuses {
				ref := op.Responses.Status(status)
				if ref == nil || ref.Value == nil {
					continue
				}
				resp := ref.Value
				if resp.Description == nil || *resp.Description == "" {
					t.Errorf("%d has no description", status)
				}
				if status >= 400 {
					mt := resp.Content.Get("application/problem+json")
					if mt == nil || mt.Schema == nil || mt.Schema.Value != problem.Value {
						t.Errorf("%d is not an application/problem+json Problem", status)
					}
					if len(resp.Content) != 1 {
						t.Errorf("%d has media types besides application/problem+json", status)
					}
				}
				if status == http.StatusServiceUnavailable && resp.Headers["Retry-After"] == nil {
					t.Errorf("503 has no Retry-After header")
				}
				creates := tc.route == (oasRoute{http.MethodPost, "/jobs"}) || tc.route == (oasRoute{http.MethodPost, "/documents"})
				if creates && status < 300 && resp.Headers["Location"] == nil {
					t.Errorf("%d has no Location header", status)
				}
			}
		})
	}
}

// oasJSONFields returns the JSON names of a struct's fields and which of
// them are always encoded (no omitempty).
func oasJSONFields(typ reflect.Type) (names, always []string) {
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
		if !slices.Contains(strings.Split(opts, ","), "omitempty") {
			always = append(always, name)
		}
	}
	sort.Strings(names)
	sort.Strings(always)
	return names, always
}

// oasFlatten returns a schema's properties and required fields together
// with those of its allOf parts (a job view variant is JobBase plus its
// type and input).
func oasFlatten(s *openapi3.Schema) (openapi3.Schemas, []string) {
	props := openapi3.Schemas{}
	var required []string
	for name, p := range s.Properties {
		props[name] = p
	}
	required = append(required, s.Required...)
	for _, part := range s.AllOf {
		if part.Value == nil {
			continue
		}
		pp, pr := oasFlatten(part.Value)
		for name, p := range pp {
			props[name] = p
		}
		required = append(required, pr...)
	}
	slices.Sort(required)
	return props, slices.Compact(required)
}

func TestSpecSchemasMatchGoTypes(t *testing.T) {
	doc := oasLoad(t)
	for name, v := range map[string]any{
		"SumJob":                  job.View{},
		"WordcountJob":            job.View{},
		"DocumentJob":             job.View{},
		"ExtractJob":              job.View{},
		"ExtractResultEnvelope":   api.Result{},
		"ExtractStartRequest":     job.StartRequest{},
		"ExtractInput":            job.ExtractInput{},
		"ExtractResult":           job.ExtractResult{},
		"Step":                    job.Step{},
		"Progress":                job.Progress{},
		"JobError":                job.Error{},
		"JobList":                 api.JobList{},
		"SumResultEnvelope":       api.Result{},
		"WordcountResultEnvelope": api.Result{},
		"DocumentResultEnvelope":  api.Result{},
		"Problem":                 api.Problem{},
		"SumStartRequest":         job.StartRequest{},
		"WordcountStartRequest":   job.StartRequest{},
		"DocumentStartRequest":    job.StartRequest{},
		"SumInput":                job.SumInput{},
		"WordcountInput":          job.WordcountInput{},
		"SumResult":               job.SumResult{},
		"WordcountResult":         job.WordcountResult{},
		"WordCount":               job.WordCount{},
		"DocumentInput":           job.DocumentInput{},
		"SummarizeOptions":        job.SummarizeOptions{},
		"DocumentResult":          job.DocumentResult{},
		"PageText":                job.PageText{},
		"EntitiesResult":          job.EntitiesResult{},
		"Entity":                  job.Entity{},
		"SummaryResult":           job.SummaryResult{},
		"Usage":                   job.Usage{},
		"Document":                documents.Document{},
		"DocumentList":            api.DocumentList{},
		"NotifyRequest":           job.NotifyRequest{},
		"Notification":            job.Notification{},
		"WebhookRequest":          api.WebhookRequest{},
		"WebhookEndpoint":         api.WebhookEndpoint{},
		"WebhookList":             api.WebhookList{},
		"StatusEvent":             job.StatusChange{},
		"StepEvent":               job.StepChange{},
		"ProgressEvent":           job.ProgressChange{},
		"StreamToken":             api.StreamToken{},
	} {
		t.Run(name, func(t *testing.T) {
			ref := doc.Components.Schemas[name]
			if ref == nil || ref.Value == nil {
				t.Fatalf("no schema %s", name)
			}
			s := ref.Value
			if !s.Type.Is(openapi3.TypeObject) {
				t.Errorf("type %v, want object", s.Type)
			}
			names, always := oasJSONFields(reflect.TypeOf(v))
			propMap, required := oasFlatten(s)
			var props []string
			for p := range propMap {
				props = append(props, p)
			}
			sort.Strings(props)
			if !slices.Equal(props, names) {
				t.Errorf("properties %v, want the JSON fields of %T %v", props, v, names)
			}
			sort.Strings(required)
			if !slices.Equal(required, always) {
				t.Errorf("required %v, want the fields %T always encodes %v", required, v, always)
			}
		})
	}
}

// TestSpecSchemasAcceptGoValues encodes values as the handlers do and
// validates them against the document's schemas.
func TestSpecSchemasAcceptGoValues(t *testing.T) {
	doc := oasLoad(t)
	ts := time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)
	sumIn := func(start, end int64) *job.SumInput { return &job.SumInput{Start: &start, End: &end, WorkMS: 10} }
	full := job.View{
		ID: "3f0c1a4e-2b1d-4c3a-9a57-0d5c8e2f6b11", Type: job.TypeSum, Status: job.StatusRunning,
		Input:     sumIn(1, 10),
		CreatedAt: &ts, StartedAt: &ts, FinishedAt: &ts,
		Steps: []job.Step{{
			Name: "sum", Status: job.StatusRunning, Attempt: 2, StartedAt: &ts, FinishedAt: &ts,
			Worker: "w", Progress: &job.Progress{Done: 1, Total: 10}, LastError: "boom",
		}},
		Error:           &job.Error{Type: job.FailInvalidInput, Message: "m"},
		CancelRequested: true,
	}
	// A list's view of a job: what visibility knows (job.summaryOf).
	summary := job.View{ID: "x", Type: job.TypeSum, Status: job.StatusTimedOut, CreatedAt: &ts, FinishedAt: &ts,
		Error: &job.Error{Type: "timeout", Message: "the job did not finish within its time limit"}}
	const docID = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	docIn := &job.DocumentInput{DocumentID: docID}
	if err := docIn.Normalize(); err != nil {
		t.Fatal(err)
	}
	docOCR := &job.DocumentInput{DocumentID: docID, Steps: []string{job.StepOCR}, Language: "eng+deu", Summarize: &job.SummarizeOptions{MaxWords: job.MaxSummaryWords}}
	if err := docOCR.Normalize(); err != nil {
		t.Fatal(err)
	}
	entity := job.Entity{Label: "IBAN", Text: "DE89 3704 0044 0532 0130 00", Value: "DE89370400440532013000", Page: 1, Start: 4, End: 31, Source: "pattern"}
	fullDoc := job.DocumentResult{
		DocumentID: docID, Pages: 2,
		PageTexts: []job.PageText{
			{Page: 1, Method: ocr.MethodTextLayer, Chars: 5, Text: "hello"},
			{Page: 2, Method: ocr.MethodOCR, Chars: 0},
		},
		Entities:  &job.EntitiesResult{Count: 201, Entities: []job.Entity{entity, {Label: "ORG", Text: "ACME", Page: 2, Start: 0, End: 4, Source: "model"}}, Truncated: true},
		Summary:   &job.SummaryResult{Text: "s", Method: "llm", Model: "m", Usage: &job.Usage{PromptTokens: 10, CompletionTokens: 2, TotalTokens: 12}},
		TimingsMS: map[string]int64{job.StepOCR: 120, job.StepEntities: 30, job.StepSummarize: 900},
	}
	linkedDoc := job.DocumentResult{
		DocumentID: docID, Pages: 1,
		PageTexts: []job.PageText{{Page: 1, Method: ocr.MethodOCR, Chars: 70000, URL: "/jobs/x/pages/1"}},
		TimingsMS: map[string]int64{job.StepOCR: 5000},
	}
	document := documents.Document{ID: docID, SHA256: docID, Size: 1234, MediaType: ocr.MediaPDF, Filename: "invoice.pdf", Pages: 3, CreatedAt: ts}
	raw := func(v any) json.RawMessage {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name, schema string
		value        any
	}{
		{"minimal job", "Job", job.View{ID: "x", Type: job.TypeWordcount, Status: job.StatusQueued}},
		{"full job", "Job", full},
		{"wordcount job", "Job", job.View{ID: "x", Type: job.TypeWordcount, Status: job.StatusSucceeded,
			Input: &job.WordcountInput{URL: "https://example.com/", Top: 10}, CreatedAt: &ts}},
		{"empty list", "JobList", api.JobList{Jobs: []job.View{}}},
		{"status event", "StatusEvent", job.StatusChange{ID: "x", Status: job.StatusFailed, Error: &job.Error{Type: job.FailInvalidInput, Message: "m"}}},
		{"step event", "StepEvent", job.StepChange{ID: "x", Index: 1, Step: job.Step{Name: "ocr", Status: job.StatusRunning, Attempt: 2, StartedAt: &ts, Worker: "w"}}},
		{"progress event", "ProgressEvent", job.ProgressChange{ID: "x", Step: "sum", Done: 1, Total: 10}},
		{"stream token", "StreamToken", api.StreamToken{Token: "dst1.a.b", ExpiresAt: ts, URL: "/jobs/x/events?token=dst1.a.b"}},
		{"list", "JobList", api.JobList{Jobs: []job.View{summary, {ID: "y", Type: job.TypeDocument, Status: job.StatusQueued, CreatedAt: &ts}}, NextPageToken: "abc"}},
		{"summary", "JobSummary", summary},
		{"sum result", "Result", api.Result{ID: "x", Type: job.TypeSum, Status: job.StatusSucceeded,
			Result: raw(job.SumResult{Sum: 55, Count: 10})}},
		{"wordcount result", "Result", api.Result{ID: "x", Type: job.TypeWordcount, Status: job.StatusSucceeded,
			Result: raw(job.WordcountResult{Words: 3, Unique: 2, Top: []job.WordCount{{Word: "a", Count: 2}}})}},
		{"sum result schema", "SumResult", job.SumResult{Sum: 55, Count: 10}},
		{"wordcount result schema", "WordcountResult", job.WordcountResult{Top: []job.WordCount{}}},
		{"extract result schema", "ExtractResult", job.ExtractResult{DocumentID: strings.Repeat("a", 64), Data: json.RawMessage(`{"total":3}`), Model: "m", Pages: 1, Truncated: true}},
		{"extract result", "Result", api.Result{ID: "x", Type: job.TypeExtract, Status: job.StatusSucceeded,
			Result: raw(job.ExtractResult{DocumentID: strings.Repeat("a", 64), Data: json.RawMessage(`{"total":3}`), Model: "m", Pages: 1, Usage: &job.Usage{}})}},
		{"extract start", "StartRequest", job.StartRequest{Type: job.TypeExtract, Input: raw(job.ExtractInput{DocumentID: strings.Repeat("a", 64), Schema: json.RawMessage(`{"type":"object"}`), Language: "eng"})}},
		{"sum input", "SumInput", sumIn(-5, 5)},
		{"wordcount input", "WordcountInput", job.WordcountInput{URL: "https://example.com/", Top: 100}},
		{"start request", "StartRequest", job.StartRequest{Type: job.TypeSum, Input: raw(sumIn(1, 2)), Timeout: "90s", IdempotencyKey: "k"}},
		{"document job", "Job", job.View{ID: "x", Type: job.TypeDocument, Status: job.StatusRunning, Input: docIn, CreatedAt: &ts,
			Steps: []job.Step{{Name: job.StepOCR, Status: job.StatusRunning, Attempt: 1, Progress: &job.Progress{Done: 3, Total: 9}}}}},
		{"document input", "DocumentInput", docIn},
		{"document input, ocr only", "DocumentInput", docOCR},
		{"minimal document input", "DocumentInput", job.DocumentInput{DocumentID: docID}},
		{"document start request", "StartRequest", job.StartRequest{Type: job.TypeDocument, Input: raw(job.DocumentInput{DocumentID: docID})}},
		{"document result", "Result", api.Result{ID: "x", Type: job.TypeDocument, Status: job.StatusSucceeded, Result: raw(fullDoc)}},
		{"full document result", "DocumentResult", fullDoc},
		{"linked document result", "DocumentResult", linkedDoc},
		{"empty entities", "EntitiesResult", job.EntitiesResult{Entities: []job.Entity{}}},
		{"extractive summary", "SummaryResult", job.SummaryResult{Text: "s", Method: "extractive"}},
		{"document", "Document", document},
		{"uncounted document", "Document", documents.Document{ID: docID, SHA256: docID, Size: 1, MediaType: ocr.MediaTIFF, CreatedAt: ts}},
		{"empty document list", "DocumentList", api.DocumentList{Documents: []documents.Document{}}},
		{"document list", "DocumentList", api.DocumentList{Documents: []documents.Document{document}, NextPageToken: "t"}},
		{"minimal problem", "Problem", api.Problem{Type: "https://docket.dev/problems/internal", Title: "Internal Server Error", Status: 500}},
		{"conflict problem", "Problem", api.Problem{Type: "https://docket.dev/problems/no-result", Title: "Conflict", Status: 409,
			Detail: "d", Instance: "/jobs/x/results", Field: "f", JobStatus: string(job.StatusRunning)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := doc.Components.Schemas[tc.schema]
			if ref == nil || ref.Value == nil {
				t.Fatalf("no schema %s", tc.schema)
			}
			var decoded any
			if err := json.Unmarshal(raw(tc.value), &decoded); err != nil {
				t.Fatal(err)
			}
			if err := ref.Value.VisitJSON(decoded); err != nil {
				t.Errorf("%s does not accept %s: %v", tc.schema, raw(tc.value), err)
			}
		})
	}
	// The per-type variants bite: a value of one type is not a value of
	// another, and lists carry no input.
	for _, tc := range []struct {
		name, schema string
		value        any
	}{
		{"sum job with a wordcount input", "Job", job.View{ID: "x", Type: job.TypeSum, Status: job.StatusQueued,
			Input: &job.WordcountInput{URL: "https://example.com/", Top: 10}}},
		{"document job with a sum input", "Job", job.View{ID: "x", Type: job.TypeDocument, Status: job.StatusQueued, Input: sumIn(1, 2)}},
		{"job of an unknown type", "Job", job.View{ID: "x", Type: "resize", Status: job.StatusQueued}},
		{"listed job with input", "JobList", api.JobList{Jobs: []job.View{full}}},
		{"listed job with steps", "JobSummary", job.View{ID: "x", Type: job.TypeSum, Status: job.StatusRunning, Steps: full.Steps}},
		{"sum result holding a document result", "Result", api.Result{ID: "x", Type: job.TypeSum, Status: job.StatusSucceeded, Result: raw(fullDoc)}},
		{"document result holding a sum result", "Result", api.Result{ID: "x", Type: job.TypeDocument, Status: job.StatusSucceeded,
			Result: raw(job.SumResult{Sum: 3, Count: 2})}},
		{"sum start with a document input", "StartRequest", job.StartRequest{Type: job.TypeSum, Input: raw(job.DocumentInput{DocumentID: docID})}},
		{"wordcount start with a sum input", "StartRequest", job.StartRequest{Type: job.TypeWordcount, Input: raw(sumIn(1, 2))}},
		{"start without a type", "StartRequest", job.StartRequest{Input: raw(sumIn(1, 2))}},
	} {
		t.Run("rejects "+tc.name, func(t *testing.T) {
			ref := doc.Components.Schemas[tc.schema]
			require.NotNil(t, ref, "no schema %s", tc.schema)
			var decoded any
			require.NoError(t, json.Unmarshal(raw(tc.value), &decoded))
			require.Error(t, ref.Value.VisitJSON(decoded), "%s accepts %s", tc.schema, raw(tc.value))
		})
	}
	// Every status and type is in the enums.
	for _, s := range job.Statuses {
		if err := doc.Components.Schemas["Status"].Value.VisitJSON(string(s)); err != nil {
			t.Errorf("status %s: %v", s, err)
		}
	}
	for _, typ := range workflows.Kinds.Names() {
		if err := doc.Components.Schemas["JobType"].Value.VisitJSON(typ); err != nil {
			t.Errorf("type %s: %v", typ, err)
		}
	}
	if got, want := len(doc.Components.Schemas["Status"].Value.Enum), len(job.Statuses); got != want {
		t.Errorf("Status enum has %d values, want %d", got, want)
	}
	if got, want := len(doc.Components.Schemas["JobType"].Value.Enum), len(workflows.Kinds.Names()); got != want {
		t.Errorf("JobType enum has %d values, want %d", got, want)
	}
}

// TestSpecListsProblemTypes checks that the API description lists every
// problem type the handlers write.
func TestSpecListsProblemTypes(t *testing.T) {
	doc := oasLoad(t)
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var kinds []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) < 4 {
				return true
			}
			if id, ok := call.Fun.(*ast.Ident); !ok || id.Name != "writeProblem" {
				return true
			}
			if lit, ok := call.Args[3].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if kind, err := strconv.Unquote(lit.Value); err == nil {
					kinds = append(kinds, kind)
				}
			}
			return true
		})
	}
	if len(kinds) < 10 {
		t.Fatalf("found only %d writeProblem calls: %v", len(kinds), kinds)
	}
	for _, kind := range kinds {
		if !strings.Contains(doc.Info.Description, "`https://docket.dev/problems/"+kind+"`") {
			t.Errorf("problem type %s is not listed in the API description", kind)
		}
	}
}

// TestSpecDocumentDetails checks the document API's enums, defaults and
// bounds against the constants of the code.
func TestSpecDocumentDetails(t *testing.T) {
	doc := oasLoad(t)
	schema := func(name string) *openapi3.Schema {
		t.Helper()
		ref := doc.Components.Schemas[name]
		if ref == nil || ref.Value == nil {
			t.Fatalf("no schema %s", name)
		}
		return ref.Value
	}
	prop := func(s *openapi3.Schema, name string) *openapi3.Schema {
		t.Helper()
		ref := s.Properties[name]
		if ref == nil || ref.Value == nil {
			t.Fatalf("no property %s", name)
		}
		return ref.Value
	}
	strs := func(vs []any) []string {
		var out []string
		for _, v := range vs {
			out = append(out, v.(string))
		}
		return out
	}
	media := []string{ocr.MediaPDF, ocr.MediaPNG, ocr.MediaJPEG, ocr.MediaTIFF}
	if got := strs(prop(schema("Document"), "media_type").Enum); !slices.Equal(got, media) {
		t.Errorf("Document.media_type enum %v, want %v", got, media)
	}
	content := doc.Paths.Value("/documents/{id}/content").Get.Responses.Status(http.StatusOK).Value.Content
	var served []string
	for mt := range content {
		served = append(served, mt)
	}
	sort.Strings(served)
	want := slices.Clone(media)
	sort.Strings(want)
	if !slices.Equal(served, want) {
		t.Errorf("GET /documents/{id}/content serves %v, want %v", served, want)
	}
	upload := doc.Paths.Value("/documents").Post.RequestBody.Value.Content
	for _, mt := range append(media, "application/octet-stream", "multipart/form-data") {
		if upload.Get(mt) == nil {
			t.Errorf("POST /documents does not take %s", mt)
		}
	}

	in := schema("DocumentInput")
	steps := prop(in, "steps")
	if got := strs(steps.Items.Value.Enum); !slices.Equal(got, job.DocumentSteps) {
		t.Errorf("DocumentInput.steps enum %v, want %v", got, job.DocumentSteps)
	}
	// Input defaults are stated in the descriptions, not as `default`:
	// openapi-typescript makes a property with a default required (outside
	// inline request bodies), so a client could not leave it out; see
	// TestSpecRequestSchemasHaveNoDefaults.
	if d := steps.Description; !strings.Contains(d, "Empty or absent means all three") || len(job.DocumentSteps) != 3 {
		t.Errorf("DocumentInput.steps description %q does not say that absent means all %d steps %v", d, len(job.DocumentSteps), job.DocumentSteps)
	}
	if d := prop(in, "language").Description; !strings.Contains(d, "absent means `"+job.DefaultLanguage+"`") {
		t.Errorf("DocumentInput.language description %q does not state the default %s", d, job.DefaultLanguage)
	}
	words := prop(schema("SummarizeOptions"), "max_words")
	if words.Min == nil || *words.Min != job.MinSummaryWords || words.Max == nil || *words.Max != job.MaxSummaryWords ||
		!strings.Contains(words.Description, fmt.Sprintf("absent means %d.", job.DefaultSummaryWords)) {
		t.Errorf("SummarizeOptions.max_words is %v..%v (%q), want %d..%d and default %d in the description",
			words.Min, words.Max, words.Description, job.MinSummaryWords, job.MaxSummaryWords, job.DefaultSummaryWords)
	}
	if d := prop(schema("WordcountInput"), "top").Description; !strings.Contains(d, fmt.Sprintf("absent means %d.", job.WordcountDefaultTop)) {
		t.Errorf("WordcountInput.top description %q does not state the default %d", d, job.WordcountDefaultTop)
	}
	for _, tc := range []struct {
		value any
		ok    bool
	}{
		{map[string]any{"document_id": strings.Repeat("a", 64)}, true},
		{map[string]any{"document_id": strings.Repeat("A", 64)}, false},
		{map[string]any{"document_id": strings.Repeat("a", 63)}, false},
		{map[string]any{"document_id": strings.Repeat("a", 64), "language": "eng+deu"}, true},
		{map[string]any{"document_id": strings.Repeat("a", 64), "language": "English"}, false},
		{map[string]any{"document_id": strings.Repeat("a", 64), "steps": []any{"ocr", "ocr"}}, false},
		{map[string]any{"document_id": strings.Repeat("a", 64), "steps": []any{"translate"}}, false},
		{map[string]any{"document_id": strings.Repeat("a", 64), "pages": 3}, false},
	} {
		raw, _ := json.Marshal(tc.value)
		_, goErr := workflows.Kinds.Decode(job.TypeDocument, raw)
		if (goErr == nil) != tc.ok {
			t.Errorf("DecodeInput(%s) = %v, want ok=%v", raw, goErr, tc.ok)
		}
		// The schema cannot express every rule (step order), but it must
		// not reject what the code accepts, nor accept these rejections.
		if err := in.VisitJSON(tc.value); (err == nil) != tc.ok {
			t.Errorf("DocumentInput schema on %s: %v, want ok=%v", raw, err, tc.ok)
		}
	}

	methods := []string{ocr.MethodTextLayer, ocr.MethodOCR, ocr.MethodBlank, job.PageMethodNone}
	if got := strs(prop(schema("PageText"), "method").Enum); !slices.Equal(got, methods) {
		t.Errorf("PageText.method enum %v, want %v", got, methods)
	}
}

// The failure vocabulary is one list (job.Failures): the JobError.type
// enum of the document is exactly that list, in that order, and its
// description explains each value.
func TestSpecListsEveryFailure(t *testing.T) {
	doc := oasLoad(t)
	jobErr := doc.Components.Schemas["JobError"].Value
	typ := jobErr.Properties["type"].Value
	var want []string
	for _, f := range job.Failures {
		want = append(want, string(f))
	}
	var got []string
	for _, v := range typ.Enum {
		got = append(got, fmt.Sprint(v))
	}
	require.Equal(t, want, got, "JobError.type enum")
	for _, f := range job.Failures {
		require.Contains(t, jobErr.Description, "`"+string(f)+"`", "the JobError description explains %s", f)
	}
}
