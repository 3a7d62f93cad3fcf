package job

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"
)

// The attributes that name a job on its trace's spans (internal/tracing).
// They are all a span says of a job: never its input (a wordcount URL may
// carry a token) nor anything of a document's content.
const (
	// TracePrefix starts every one of them; the tracing SDK copies the
	// baggage members with it onto each span.
	TracePrefix  = "docket."
	TraceJobID   = TracePrefix + "job.id"
	TraceJobType = TracePrefix + "job.type"
	TraceTenant  = TracePrefix + "tenant"
)

// traceJob names the job on the span of ctx (the API's POST /jobs) and
// returns ctx with the same as baggage, which the Temporal tracing
// interceptor carries in the workflow's headers to every span of the job:
// the workflow's and each step's, on whichever worker runs them. Without a
// span (tracing off) it returns ctx unchanged.
func traceJob(ctx context.Context, id, typ, tenant string) context.Context {
	span := trace.SpanFromContext(ctx)
	if !span.SpanContext().IsValid() {
		return ctx
	}
	attrs := []attribute.KeyValue{attribute.String(TraceJobID, id), attribute.String(TraceJobType, typ)}
	if tenant != "" {
		attrs = append(attrs, attribute.String(TraceTenant, tenant))
	}
	span.SetAttributes(attrs...)
	bag := baggage.FromContext(ctx)
	for _, a := range attrs {
		m, err := baggage.NewMemberRaw(string(a.Key), a.Value.AsString())
		if err != nil {
			// Ids, types and tenants are plain tokens; a value baggage
			// refuses only loses the attribute on the workflow's spans.
			continue
		}
		if b, err := bag.SetMember(m); err == nil {
			bag = b
		}
	}
	return baggage.ContextWithBaggage(ctx, bag)
}
