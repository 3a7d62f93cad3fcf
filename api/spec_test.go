package api_test

import (
	"context"
	"encoding/json"
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

	"github.com/docket-dev/docket/api"
	"github.com/docket-dev/docket/job"
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
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
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
	{oasRoute{http.MethodPost, "/jobs"}, []int{200, 202, 400, 413, 415, 422, 500, 503}},
	{oasRoute{http.MethodGet, "/jobs"}, []int{200, 400, 500, 503}},
	{oasRoute{http.MethodGet, "/jobs/{id}"}, []int{200, 404, 500, 503}},
	{oasRoute{http.MethodDelete, "/jobs/{id}"}, []int{202, 404, 409, 500, 503}},
	{oasRoute{http.MethodGet, "/jobs/{id}/results"}, []int{200, 400, 404, 409, 500, 503}},
	{oasRoute{http.MethodGet, "/healthz"}, []int{200}},
	{oasRoute{http.MethodGet, "/readyz"}, []int{200, 500, 503}},
	{oasRoute{http.MethodGet, "/openapi.json"}, []int{200}},
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
				if tc.route == (oasRoute{http.MethodPost, "/jobs"}) && status < 300 && resp.Headers["Location"] == nil {
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

func TestSpecSchemasMatchGoTypes(t *testing.T) {
	doc := oasLoad(t)
	for name, v := range map[string]any{
		"Job":             job.View{},
		"Step":            job.Step{},
		"Progress":        job.Progress{},
		"JobError":        job.Error{},
		"JobList":         api.JobList{},
		"Result":          api.Result{},
		"Problem":         api.Problem{},
		"StartRequest":    job.StartRequest{},
		"SumInput":        job.SumInput{},
		"WordcountInput":  job.WordcountInput{},
		"SumResult":       job.SumResult{},
		"WordcountResult": job.WordcountResult{},
		"WordCount":       job.WordCount{},
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
			var props []string
			for p := range s.Properties {
				props = append(props, p)
			}
			sort.Strings(props)
			if !slices.Equal(props, names) {
				t.Errorf("properties %v, want the JSON fields of %T %v", props, v, names)
			}
			required := slices.Clone(s.Required)
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
		Error:           &job.Error{Type: job.ErrInvalidInput, Message: "m"},
		CancelRequested: true,
	}
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
		{"list", "JobList", api.JobList{Jobs: []job.View{full}, NextPageToken: "abc"}},
		{"sum result", "Result", api.Result{ID: "x", Type: job.TypeSum, Status: job.StatusSucceeded,
			Result: raw(job.SumResult{Sum: 55, Count: 10})}},
		{"wordcount result", "Result", api.Result{ID: "x", Type: job.TypeWordcount, Status: job.StatusSucceeded,
			Result: raw(job.WordcountResult{Words: 3, Unique: 2, Top: []job.WordCount{{Word: "a", Count: 2}}})}},
		{"sum result schema", "SumResult", job.SumResult{Sum: 55, Count: 10}},
		{"wordcount result schema", "WordcountResult", job.WordcountResult{Top: []job.WordCount{}}},
		{"sum input", "SumInput", sumIn(-5, 5)},
		{"wordcount input", "WordcountInput", job.WordcountInput{URL: "https://example.com/", Top: 100}},
		{"start request", "StartRequest", job.StartRequest{Type: job.TypeSum, Input: raw(sumIn(1, 2)), Timeout: "90s", IdempotencyKey: "k"}},
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
	// Every status and type is in the enums.
	for _, s := range job.Statuses {
		if err := doc.Components.Schemas["Status"].Value.VisitJSON(string(s)); err != nil {
			t.Errorf("status %s: %v", s, err)
		}
	}
	for _, typ := range job.Types {
		if err := doc.Components.Schemas["JobType"].Value.VisitJSON(typ); err != nil {
			t.Errorf("type %s: %v", typ, err)
		}
	}
	if got, want := len(doc.Components.Schemas["Status"].Value.Enum), len(job.Statuses); got != want {
		t.Errorf("Status enum has %d values, want %d", got, want)
	}
	if got, want := len(doc.Components.Schemas["JobType"].Value.Enum), len(job.Types); got != want {
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
