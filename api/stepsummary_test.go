package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/docket-dev/docket/internal/crypt"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/tools/teststack"
)

// Each step's activity carries a summary the Web UI shows on it: the
// step's name and what the job works on, read here from the real
// server's history as the UI reads it (through the codec server, since
// the summary is encrypted like every other payload).
func TestWebUIShowsWhatEachStepIs(t *testing.T) {
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "one two two")
	}))
	defer page.Close()
	host := strings.TrimPrefix(page.URL, "http://")
	dc := teststack.Config(taskQueue).DataConverter()
	for _, tc := range []struct {
		typ   string
		input map[string]any
		want  string
	}{
		{job.TypeSum, map[string]any{"start": 1, "end": 10}, "sum · 1..10"},
		{job.TypeWordcount, map[string]any{"url": page.URL + "/news?token=s3cret"}, "count words · " + host + "/news"},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			v := submit(t, tc.typ, tc.input)
			_, _, err := stack.jobs.Result(t.Context(), v.ID, time.Minute)
			require.NoError(t, err)
			it := stack.server.Client().GetWorkflowHistory(t.Context(), v.ID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			var summaries []string
			for it.HasNext() {
				ev, err := it.Next()
				require.NoError(t, err)
				if ev.GetEventType() != enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED {
					continue
				}
				p := ev.GetUserMetadata().GetSummary()
				require.NotNil(t, p, "a step without a summary")
				require.Equal(t, crypt.EncodingEncrypted, string(p.GetMetadata()["encoding"]), "the summary is encrypted with the rest")
				var s string
				require.NoError(t, dc.FromPayload(p, &s))
				summaries = append(summaries, s)
			}
			require.Equal(t, []string{tc.want}, summaries)
		})
	}
}
