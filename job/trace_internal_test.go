package job

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/baggage"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// The job is named on the request's span and, as baggage, on everything
// started under it; without a span (tracing off) nothing is added.
func TestTraceJob(t *testing.T) {
	ctx := context.Background()
	require.Equal(t, ctx, traceJob(ctx, "j1", TypeSum, "acme"), "tracing off: ctx unchanged")

	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	for _, tc := range []struct {
		tenant string
		want   map[string]string
	}{
		{"acme", map[string]string{TraceJobID: "j1", TraceJobType: TypeSum, TraceTenant: "acme"}},
		{"", map[string]string{TraceJobID: "j1", TraceJobType: TypeSum}},
	} {
		ctx, span := tp.Tracer("test").Start(context.Background(), "POST /jobs")
		got := traceJob(ctx, "j1", TypeSum, tc.tenant)
		span.End()
		bag := map[string]string{}
		for _, m := range baggage.FromContext(got).Members() {
			bag[m.Key()] = m.Value()
		}
		require.Equal(t, tc.want, bag)
		ended := rec.Ended()
		attrs := map[string]string{}
		for _, a := range ended[len(ended)-1].Attributes() {
			attrs[string(a.Key)] = a.Value.AsString()
		}
		require.Equal(t, tc.want, attrs)
	}
}
