package handlertest_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/job"
)

// GET /metrics counts the answers by route template and the 503s by what
// was unreachable, and its own answer conforms to the OpenAPI document.
func TestMetricsCountAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		err   error
		cause string
	}{
		{"temporal unavailable", job.ErrUnavailable, "temporal-unavailable"},
		{"unclassified", errors.New("something else"), "unclassified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.jobs.listErr = tc.err
			require.Equal(t, http.StatusServiceUnavailable, h.call(t, http.MethodGet, "/jobs", nil, nil).Status)
			require.Equal(t, http.StatusNotFound, h.call(t, http.MethodGet, "/jobs/nope", nil, nil).Status)
			// A path the document does not describe, so not through h.call.
			resp, err := http.Get(h.url + "/no/such/path")
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, http.StatusNotFound, resp.StatusCode)
			r := h.call(t, http.MethodGet, "/metrics", nil, nil)
			require.Equal(t, http.StatusOK, r.Status)
			body := string(r.Body)
			for _, want := range []string{
				`docket_http_requests_total{code="503",method="GET",route="/jobs"} 1`,
				`docket_http_requests_total{code="404",method="GET",route="/jobs/{id}"} 1`,
				`docket_http_requests_total{code="404",method="GET",route="other"} 1`,
				`docket_http_rejections_total{cause="` + tc.cause + `",code="503"} 1`,
			} {
				require.True(t, strings.Contains(body, want), "GET /metrics lacks %s", want)
			}
			require.NotContains(t, body, "no/such", "a path never labels a series")
			require.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain"), r.Header.Get("Content-Type"))
		})
	}
}
