package api_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"
)

// oasSource parses the API's non-test Go files.
func oasSource(t *testing.T) []*ast.File {
	t.Helper()
	names, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		files = append(files, f)
	}
	return files
}

// oasBackends maps each route of Server.Handler() to what its handler
// reaches, directly or through other Server methods: "temporal" (s.Jobs)
// or "blob" (s.Docs). It reads the source so that a new handler, or one
// that starts calling a backend, is checked without editing this test.
func oasBackends(t *testing.T, files []*ast.File) map[oasRoute][]string {
	t.Helper()
	methods := map[string]*ast.FuncDecl{}
	for _, f := range files {
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv != nil && fn.Body != nil {
				methods[fn.Name.Name] = fn
			}
		}
	}
	memo := map[string]map[string]bool{}
	var reach func(name string) map[string]bool
	reach = func(name string) map[string]bool {
		if got, ok := memo[name]; ok {
			return got
		}
		got := map[string]bool{}
		memo[name] = got
		fn := methods[name]
		if fn == nil {
			return got
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "s" {
				switch sel.Sel.Name {
				case "Jobs":
					got["temporal"] = true
				case "Docs":
					got["blob"] = true
				default:
					for b := range reach(sel.Sel.Name) {
						got[b] = true
					}
				}
			}
			return true
		})
		return got
	}
	routes := map[oasRoute][]string{}
	handler := methods["Handler"]
	require.NotNil(t, handler, "no Server.Handler")
	oasRouteCalls(t, handler.Body, func(route oasRoute, call *ast.CallExpr) {
		// The handler, possibly wrapped: s.withJobID(s.handler).
		h := call.Args[3]
		for {
			wrap, ok := h.(*ast.CallExpr)
			if !ok || len(wrap.Args) != 1 {
				break
			}
			h = wrap.Args[0]
		}
		name := ""
		if hs, ok := h.(*ast.SelectorExpr); ok {
			name = hs.Sel.Name
		} else if id, ok := h.(*ast.Ident); ok {
			name = id.Name
		}
		require.NotEmpty(t, name, "%s: the handler must be named", route)
		var backends []string
		for _, b := range []string{"temporal", "blob"} {
			if reach(name)[b] {
				backends = append(backends, b)
			}
		}
		routes[route] = backends
	})
	require.NotEmpty(t, routes)
	return routes
}

// oasRouteCalls calls f with every route(http.MethodX, "/path", scope,
// handler, params...) call under n and the route it registers.
func oasRouteCalls(t *testing.T, n ast.Node, f func(oasRoute, *ast.CallExpr)) {
	t.Helper()
	ast.Inspect(n, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		if id, ok := call.Fun.(*ast.Ident); !ok || id.Name != "route" || len(call.Args) < 4 {
			return true
		}
		m, ok1 := call.Args[0].(*ast.SelectorExpr)
		lit, ok2 := call.Args[1].(*ast.BasicLit)
		if !ok1 || !ok2 {
			return true
		}
		path, err := strconv.Unquote(lit.Value)
		require.NoError(t, err)
		f(oasRoute{strings.ToUpper(strings.TrimPrefix(m.Sel.Name, "Method")), path}, call)
		return true
	})
}

// TestSpecDeclaresErrors: every operation that takes a body or a parameter
// (other than a job's or document's id, which is 404 when wrong) declares
// 400, and every operation whose handler reaches Temporal or the blob
// store declares 503 with Retry-After.
func TestSpecDeclaresErrors(t *testing.T) {
	doc := oasLoad(t)
	backends := oasBackends(t, oasSource(t))
	// The source reading finds what it should.
	require.Equal(t, []string{"temporal"}, backends[oasRoute{http.MethodPost, "/jobs"}])
	require.Equal(t, []string{"temporal"}, backends[oasRoute{http.MethodGet, "/readyz"}])
	require.Equal(t, []string{"temporal", "blob"}, backends[oasRoute{http.MethodGet, "/jobs/{id}/pages/{page}"}])
	require.Empty(t, backends[oasRoute{http.MethodGet, "/healthz"}])
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			route := oasRoute{method, path}
			t.Run(route.String(), func(t *testing.T) {
				takes := op.RequestBody != nil
				for _, p := range append(append(openapi3.Parameters{}, item.Parameters...), op.Parameters...) {
					if p.Value != nil && !(p.Value.In == "path" && p.Value.Name == "id") {
						takes = true
					}
				}
				// Every route registered through route() refuses query
				// parameters it does not take, so each declares 400.
				if _, registered := backends[route]; takes || registered {
					require.NotNil(t, op.Responses.Status(http.StatusBadRequest), "%s can answer 400 but declares none", route)
				}
				if len(backends[route]) == 0 {
					return
				}
				resp := op.Responses.Status(http.StatusServiceUnavailable)
				require.NotNil(t, resp, "%s reaches %v but declares no 503", route, backends[route])
				require.NotNil(t, resp.Value.Headers["Retry-After"], "%s: 503 has no Retry-After", route)
			})
		}
	}
	for route := range backends {
		require.NotNil(t, doc.Paths.Value(route.path), "%s is not in the document", route)
	}
}

// TestSpecProblemTypesAndStatuses: every writeProblem(w, r, http.StatusX,
// "kind", ...) in the API, and every problem the server writes for
// net/http's own errors (cannedKinds), is a row of the Errors table in the
// document's description with the same status, and every row is a kind the
// code has, so a new kind fails here until it is documented.
func TestSpecProblemTypesAndStatuses(t *testing.T) {
	doc := oasLoad(t)
	statuses := map[string]int{}
	for code := 100; code < 600; code++ {
		if text := http.StatusText(code); text != "" {
			statuses[strings.NewReplacer(" ", "", "-", "", "'", "").Replace(text)] = code
		}
	}
	statuses["RequestEntityTooLarge"] = http.StatusRequestEntityTooLarge
	statuses["UnprocessableEntity"] = http.StatusUnprocessableEntity
	emitted := map[string]int{}
	for _, f := range oasSource(t) {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) < 4 {
				return true
			}
			if id, ok := call.Fun.(*ast.Ident); !ok || id.Name != "writeProblem" {
				return true
			}
			lit, ok := call.Args[3].(*ast.BasicLit)
			require.True(t, ok && lit.Kind == token.STRING, "writeProblem's kind must be a string literal")
			kind, err := strconv.Unquote(lit.Value)
			require.NoError(t, err)
			sel, ok := call.Args[2].(*ast.SelectorExpr)
			require.True(t, ok, "writeProblem(%q)'s status must be an http.Status constant", kind)
			code, ok := statuses[strings.TrimPrefix(sel.Sel.Name, "Status")]
			require.True(t, ok, "unknown status %s", sel.Sel.Name)
			emitted[kind] = code
			return true
		})
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok || len(vs.Names) != 1 || vs.Names[0].Name != "cannedKinds" || len(vs.Values) != 1 {
				return true
			}
			lit, ok := vs.Values[0].(*ast.CompositeLit)
			require.True(t, ok, "cannedKinds must be a map literal")
			for _, el := range lit.Elts {
				kv := el.(*ast.KeyValueExpr)
				kind, err := strconv.Unquote(kv.Value.(*ast.BasicLit).Value)
				require.NoError(t, err)
				code, ok := statuses[strings.TrimPrefix(kv.Key.(*ast.SelectorExpr).Sel.Name, "Status")]
				require.True(t, ok, "unknown status in cannedKinds")
				emitted[kind] = code
			}
			return false
		})
	}
	require.Contains(t, emitted, "header-too-large", "cannedKinds was read")
	require.GreaterOrEqual(t, len(emitted), 10)
	rows := map[string]int{}
	for _, m := range regexp.MustCompile("(?m)^\\| `https://docket\\.dev/problems/([a-z-]+)` \\| (\\d{3}) \\|").FindAllStringSubmatch(doc.Info.Description, -1) {
		code, _ := strconv.Atoi(m[2])
		rows[m[1]] = code
	}
	for kind, code := range emitted {
		require.Contains(t, rows, kind, "problem type %s (%d) is not in the Errors table of the API description", kind, code)
		require.Equal(t, code, rows[kind], "status of problem type %s", kind)
	}
	for kind := range rows {
		_, ok := emitted[kind]
		require.True(t, ok, "the Errors table lists %s, which the API never answers", kind)
	}
}
