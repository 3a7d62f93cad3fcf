package api_test

import (
	"go/ast"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/internal/auth"
)

// oasScopes maps each route of Server.Handler() to the scope its route()
// call names ("" for open routes), read from the source.
func oasScopes(t *testing.T, files []*ast.File) map[oasRoute]string {
	t.Helper()
	scopes := map[oasRoute]string{}
	values := map[string]string{}
	for _, s := range auth.Scopes {
		values["Scope"+strings.NewReplacer(":", "", "jobs", "Jobs", "documents", "Documents", "read", "Read", "write", "Write", "admin", "Admin", "codec", "Codec", "metrics", "Metrics").Replace(string(s))] = string(s)
	}
	for _, f := range files {
		oasRouteCalls(t, f, func(route oasRoute, call *ast.CallExpr) {
			switch a := call.Args[2].(type) {
			case *ast.Ident:
				require.Equal(t, "open", a.Name, "%s: the scope is open or an auth.Scope", route)
				scopes[route] = ""
			case *ast.SelectorExpr:
				v, known := values[a.Sel.Name]
				require.True(t, known, "%s: unknown scope %s", route, a.Sel.Name)
				scopes[route] = v
			default:
				t.Fatalf("%s: the scope must be named", route)
			}
		})
	}
	require.NotEmpty(t, scopes)
	return scopes
}

// TestSpecSecurity: the document requires the bearer key on every route
// the server guards, and on no other (open routes say security: []); every
// guarded operation declares 401, 403 and 429, and its description names
// the scope it needs.
func TestSpecSecurity(t *testing.T) {
	doc := oasLoad(t)
	scopes := oasScopes(t, oasSource(t))
	require.Equal(t, "jobs:write", scopes[oasRoute{http.MethodPost, "/jobs"}])
	require.Equal(t, "", scopes[oasRoute{http.MethodGet, "/healthz"}])
	require.NotNil(t, doc.Components.SecuritySchemes["bearerAuth"])
	require.Equal(t, "bearer", doc.Components.SecuritySchemes["bearerAuth"].Value.Scheme)
	require.Len(t, doc.Security, 1)
	require.Contains(t, doc.Security[0], "bearerAuth")
	for route, scope := range scopes {
		t.Run(route.String(), func(t *testing.T) {
			op := doc.Paths.Value(route.path).GetOperation(route.method)
			require.NotNil(t, op)
			if scope == "" {
				require.NotNil(t, op.Security, "an open route overrides the document's security")
				require.Empty(t, *op.Security)
				return
			}
			require.Nil(t, op.Security, "a guarded route inherits the document's bearer security")
			for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests} {
				require.NotNil(t, op.Responses.Status(status), "declares no %d", status)
			}
			require.Contains(t, op.Description, "`"+scope+"`", "the description names the scope")
		})
	}
}
