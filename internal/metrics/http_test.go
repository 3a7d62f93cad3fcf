package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/internal/metrics"
)

// serve answers one request through Wrap with a handler that names route
// (none: unmatched), cause and tenant as the API's handlers do.
func serve(m *metrics.HTTP, method, route, cause, tenant string, code int) {
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if route != "" {
			metrics.SetRoute(r, route)
		}
		if tenant != "" {
			metrics.SetTenant(r, tenant)
		}
		if cause != "" {
			metrics.SetCause(r, cause)
		}
		if code == http.StatusAccepted {
			m.JobStarted(r, "sum")
		}
		w.WriteHeader(code)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, "/jobs/0b8f1c2e", nil))
}

func TestHTTPLabels(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tenants bool
		method  string
		route   string
		cause   string
		code    int
		want    string
	}{
		{name: "route template", method: http.MethodGet, route: "/jobs/{id}", code: 200,
			want: `docket_http_requests_total{code="200",method="GET",route="/jobs/{id}"} 1`},
		{name: "unmatched path is other", method: http.MethodGet, code: 404,
			want: `docket_http_requests_total{code="404",method="GET",route="other"} 1`},
		{name: "unknown method is other", method: "BREW", route: "/jobs/{id}", code: 405,
			want: `docket_http_requests_total{code="405",method="other",route="/jobs/{id}"} 1`},
		{name: "429 by cause", method: http.MethodPost, route: "/jobs", cause: "rate-limited", code: 429,
			want: `docket_http_rejections_total{cause="rate-limited",code="429"} 1`},
		{name: "503 without a cause", method: http.MethodGet, route: "/jobs", code: 503,
			want: `docket_http_rejections_total{cause="unclassified",code="503"} 1`},
		{name: "no tenant label by default", method: http.MethodPost, route: "/jobs", code: 202,
			want: `docket_jobs_started_total{type="sum"} 1`},
		{name: "tenant label when enabled", tenants: true, method: http.MethodPost, route: "/jobs", code: 202,
			want: `docket_jobs_started_total{tenant="acme",type="sum"} 1`},
		{name: "tenant on refusals when enabled", tenants: true, method: http.MethodPost, route: "/jobs", cause: "too-many-open-jobs", code: 429,
			want: `docket_http_rejections_total{cause="too-many-open-jobs",code="429",tenant="acme"} 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := metrics.NewRegistry()
			m := metrics.NewHTTP(reg, tc.tenants)
			serve(m, tc.method, tc.route, tc.cause, "acme", tc.code)
			name := tc.want[:strings.Index(tc.want, "{")]
			text := strings.Join(gather(t, m, name), "\n")
			require.Contains(t, text, tc.want)
			require.NotContains(t, text, "0b8f1c2e", "the path never labels a series")
			if !tc.tenants {
				require.NotContains(t, text, "acme")
			}
		})
	}
}

// gather returns the exposition lines of name.
func gather(t *testing.T, m *metrics.HTTP, name string) []string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler(nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	var out []string
	for _, l := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(l, name+"{") {
			out = append(out, l)
		}
	}
	return out
}

// A refusal keeps the first cause named: the handler's finer one over the
// problem type writeProblem names after it.
func TestFirstCauseStays(t *testing.T) {
	m := metrics.NewHTTP(metrics.NewRegistry(), false)
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		metrics.SetCause(r, "temporal-unavailable")
		metrics.SetCause(r, "unavailable")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/jobs", nil))
	require.Equal(t, []string{`docket_http_rejections_total{cause="temporal-unavailable",code="503"} 1`}, gather(t, m, "docket_http_rejections_total"))
}

// The exposition of a fresh registry lints clean: no metric without help,
// no bad name (promtool checks the same on real ones in tools/metricstest).
func TestRegistryLints(t *testing.T) {
	reg := metrics.NewRegistry()
	m := metrics.NewHTTP(reg, true)
	serve(m, http.MethodPost, "/jobs", "", "acme", 202)
	metrics.OCRPage("ocr", 0)
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	require.Empty(t, problems)
}
