package workflows_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"

	"github.com/docket-dev/docket/internal/crypt"
	"github.com/docket-dev/docket/workflows"
)

// A worker with tracing on (internal/tracing) replays every recorded
// history too, those recorded without trace headers included: the tracing
// interceptor reads and writes headers and spans, never commands. (A
// history recorded with tracing replays with and without it:
// internal/tracing's TestOneTraceFromPostToEveryStep.)
func TestReplayRecordedHistoriesWithTracing(t *testing.T) {
	ring, err := crypt.LoadRing(t.Context(), filepath.Join("..", "tools", "teststack", "testdata", "encryption-keys.json"), "")
	require.NoError(t, err)
	dc := crypt.DataConverter(ring)
	tracer, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{Tracer: tracenoop.NewTracerProvider().Tracer("replay")})
	require.NoError(t, err)
	opts := worker.WorkflowReplayerOptions{DataConverter: dc, FailureConverter: crypt.FailureConverter(dc),
		Interceptors: []interceptor.WorkerInterceptor{tracer}}
	for _, file := range historyFiles(t) {
		t.Run(file, func(t *testing.T) {
			r, err := worker.NewWorkflowReplayerWithOptions(opts)
			require.NoError(t, err)
			workflows.Register(r)
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(quietLogger(), file))
		})
	}
}
