package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkpb "go.temporal.io/api/sdk/v1"

	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/tools/teststack"
)

// The Temporal Web UI says what each job works on: the workflow's static
// summary (its list and page), and the running step's progress as the
// workflow's current details (the page), both read here as the UI reads
// them, through the data converter.
func TestWebUIShowsWhatAJobIs(t *testing.T) {
	v := submit(t, job.TypeSum, map[string]any{"start": 1, "end": 1000, "work_ms": 6000})
	c := stack.server.Client()
	dc := teststack.Config(taskQueue).DataConverter()

	desc, err := c.DescribeWorkflowExecution(t.Context(), v.ID, "")
	require.NoError(t, err)
	var summary string
	require.NoError(t, dc.FromPayload(desc.GetExecutionConfig().GetUserMetadata().GetSummary(), &summary))
	require.Equal(t, "sum 1..1000", summary)

	var details string
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		resp, err := c.QueryWorkflow(ctx, v.ID, "", "__temporal_workflow_metadata")
		if err != nil {
			return false
		}
		var md sdkpb.WorkflowMetadata
		if err := resp.Get(&md); err != nil {
			details = "query answer: " + err.Error()
			return false
		}
		details = md.GetCurrentDetails()
		return strings.HasPrefix(details, "sum ") && !strings.HasPrefix(details, "sum 0/")
	}, 20*time.Second, 200*time.Millisecond, "the running step's progress, last: %q", details)
	require.Regexp(t, `^sum \d+/1000$`, details)
	require.Equal(t, http.StatusAccepted, call(t, stack.api.URL, http.MethodDelete, "/jobs/"+v.ID, nil, nil).Status)
}
