package handlertest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/api"
	"github.com/docket-dev/docket/api/internal/spectest"
)

const pageOrigin = "https://app.example.com"

// A browser page on an allowed origin gets its preflight answered on every
// route of the OpenAPI document, with the methods and headers Docket's
// clients send; a page on another origin gets no CORS headers, so the
// browser keeps the answer from it.
func TestCORSPreflights(t *testing.T) {
	h := newHarness(t, func(s *api.Server) { s.CORSOrigins = []string{pageOrigin} })
	doc := spectest.Document(t)
	require.NotEmpty(t, doc.Paths.Map())
	for path, item := range doc.Paths.Map() {
		concrete := strings.NewReplacer("{id}", "00000000-0000-0000-0000-000000000000", "{page}", "1").Replace(path)
		for method := range item.Operations() {
			t.Run(method+" "+path, func(t *testing.T) {
				for _, origin := range []string{pageOrigin, "https://evil.example.net"} {
					req, err := http.NewRequest(http.MethodOptions, h.url+concrete, nil)
					require.NoError(t, err)
					req.Header.Set("Origin", origin)
					req.Header.Set("Access-Control-Request-Method", method)
					req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,idempotency-key,last-event-id")
					resp, err := http.DefaultClient.Do(req)
					require.NoError(t, err)
					resp.Body.Close()
					if origin != pageOrigin {
						require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"), "another origin is not allowed")
						continue
					}
					require.Less(t, resp.StatusCode, 300, "a preflight is answered, not routed")
					require.Equal(t, pageOrigin, resp.Header.Get("Access-Control-Allow-Origin"))
					require.Equal(t, method, resp.Header.Get("Access-Control-Allow-Methods"))
					allowed := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
					for _, hd := range []string{"authorization", "content-type", "idempotency-key", "last-event-id"} {
						require.Contains(t, allowed, hd)
					}
					require.Empty(t, resp.Header.Get("Access-Control-Allow-Credentials"), "the key is a header, never a cookie")
				}
			})
		}
	}
}

// An actual cross-origin answer carries the origin and exposes the headers
// a page reads (Location of a new job, Retry-After, the bearer challenge);
// without DOCKET_CORS_ORIGINS nothing is allowed.
func TestCORSActualRequests(t *testing.T) {
	h := newHarness(t, func(s *api.Server) { s.CORSOrigins = []string{pageOrigin} })
	r := h.call(t, http.MethodPost, "/jobs", []byte(`{"type":"sum","input":{"start":1,"end":2}}`), http.Header{"Origin": {pageOrigin}})
	require.Equal(t, http.StatusAccepted, r.Status)
	require.Equal(t, pageOrigin, r.Header.Get("Access-Control-Allow-Origin"))
	exposed := r.Header.Get("Access-Control-Expose-Headers")
	for _, hd := range []string{"Location", "Retry-After", "Www-Authenticate"} {
		require.Contains(t, exposed, hd)
	}

	closed := newHarness(t)
	r = closed.call(t, http.MethodGet, "/healthz", nil, http.Header{"Origin": {pageOrigin}})
	require.Equal(t, http.StatusOK, r.Status)
	require.Empty(t, r.Header.Get("Access-Control-Allow-Origin"))
}
