// Package tracing exports OpenTelemetry traces of Docket's processes over
// OTLP: the API's requests (otelhttp) and, through the Temporal SDK's
// tracing interceptor, every workflow and step of a job, so that one trace
// runs from POST /jobs through the workflow to each step's activity on
// whichever worker ran it. It is configured by the standard OTEL_*
// variables only, and is off (nothing installed: no interceptor, no HTTP
// middleware, the no-op global provider) unless an OTLP endpoint is set.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/contrib/processors/baggagecopy"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"

	"github.com/docket-dev/docket/job"
)

// The standard variables that decide whether and how traces are exported
// (the OpenTelemetry specification's; the exporters read the rest of the
// OTEL_EXPORTER_OTLP_* family, the SDK OTEL_TRACES_SAMPLER and OTEL_BSP_*,
// the resource OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES).
const (
	envEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	envTracesExporter = "OTEL_TRACES_EXPORTER"
	envSDKDisabled    = "OTEL_SDK_DISABLED"
)

// OTLP protocols.
const (
	protocolHTTP = "http/protobuf"
	protocolGRPC = "grpc"
)

// Tracing is a process's tracing. A nil *Tracing is tracing turned off:
// its methods install nothing and cost nothing.
type Tracing struct {
	provider    *sdktrace.TracerProvider
	interceptor interceptor.Interceptor
}

// Enabled reports whether the environment getenv reads asks for traces:
// an OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), and neither OTEL_SDK_DISABLED=true
// nor OTEL_TRACES_EXPORTER=none turns them off.
func Enabled(getenv func(string) string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv(envSDKDisabled)), "true") {
		return false
	}
	if strings.TrimSpace(getenv(envTracesExporter)) == "none" {
		return false
	}
	return strings.TrimSpace(getenv(envEndpoint)) != "" || strings.TrimSpace(getenv(envTracesEndpoint)) != ""
}

// Setup starts tracing as the process's environment configures it, for
// the process service (the default service.name, which OTEL_SERVICE_NAME
// overrides) whose instance is named identity. It returns nil when the
// environment asks for no traces (see Enabled). Otherwise the provider
// becomes the global one too, so that libraries that trace by themselves
// (gocloud.dev's blob store) join the job's trace. Call Shutdown before
// the process exits: it sends the spans still buffered.
func Setup(ctx context.Context, service, identity string) (*Tracing, error) {
	if !Enabled(os.Getenv) {
		return nil, nil
	}
	if exp := strings.TrimSpace(os.Getenv(envTracesExporter)); exp != "" && exp != "otlp" {
		return nil, fmt.Errorf("%s=%q: Docket exports traces over OTLP only (otlp, or none)", envTracesExporter, exp)
	}
	exporter, err := newExporter(ctx)
	if err != nil {
		return nil, err
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(service), semconv.ServiceInstanceID(identity)),
		// Later options win: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
		// override the defaults above.
		resource.WithFromEnv(),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		_ = exporter.Shutdown(ctx)
		return nil, fmt.Errorf("tracing resource: %w", err)
	}
	// No sampler option: the SDK's default reads OTEL_TRACES_SAMPLER (and
	// _ARG), parent-based always-on when unset.
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		// The job's id, type and tenant travel as baggage (job.Client.Start
		// sets them); every span started under them carries them.
		sdktrace.WithSpanProcessor(baggagecopy.NewSpanProcessor(func(m baggage.Member) bool {
			return strings.HasPrefix(m.Key(), job.TracePrefix)
		})),
		sdktrace.WithBatcher(exporter),
	)
	ic, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{
		Tracer: provider.Tracer("go.temporal.io/sdk"),
		// The workers' step events (one signal per step and heartbeat
		// interval) are bookkeeping: traced, they would outnumber the
		// spans of the work itself.
		DisableSignalTracing: true,
	})
	if err != nil {
		_ = provider.Shutdown(ctx)
		return nil, fmt.Errorf("temporal tracing interceptor: %w", err)
	}
	otel.SetTracerProvider(provider)
	return &Tracing{provider: provider, interceptor: ic}, nil
}

// newExporter is the OTLP exporter of OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
// (or OTEL_EXPORTER_OTLP_PROTOCOL): http/protobuf by default, or grpc.
// The exporters read the endpoint, headers, timeout, compression and TLS
// settings from the environment themselves.
func newExporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	protocol := strings.TrimSpace(os.Getenv(envTracesProtocol))
	if protocol == "" {
		protocol = strings.TrimSpace(os.Getenv(envProtocol))
	}
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch protocol {
	case "", protocolHTTP:
		exp, err = otlptracehttp.New(ctx)
	case protocolGRPC:
		exp, err = otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("%s=%q: want %s or %s", envProtocol, protocol, protocolHTTP, protocolGRPC)
	}
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter (%s): %w", protocol, err)
	}
	return exp, nil
}

// ClientInterceptors are the interceptors of the process's Temporal
// clients (config.Config.Interceptors): the SDK's tracing interceptor,
// which workers made from the client take too. None when t is nil.
func (t *Tracing) ClientInterceptors() []interceptor.ClientInterceptor {
	if t == nil {
		return nil
	}
	return []interceptor.ClientInterceptor{t.interceptor}
}

// WorkerInterceptors is the tracing interceptor for a workflow replayer
// or a worker whose client was made without it. None when t is nil.
func (t *Tracing) WorkerInterceptors() []interceptor.WorkerInterceptor {
	if t == nil {
		return nil
	}
	return []interceptor.WorkerInterceptor{t.interceptor}
}

// TracerProvider is the provider of t's spans, nil when t is nil.
func (t *Tracing) TracerProvider() trace.TracerProvider {
	if t == nil {
		return nil
	}
	return t.provider
}

// Handler returns h with a server span per request (otelhttp), or h itself
// when t is nil. The span continues the trace of the request's W3C
// traceparent header; the client's baggage is not taken, so that a client
// cannot put attributes (a tenant) on Docket's spans. The span is named by
// the method until the route names it (RouteSpan). Health checks are not
// traced.
func (t *Tracing) Handler(h http.Handler) http.Handler {
	if t == nil {
		return h
	}
	return otelhttp.NewHandler(h, "docket-api",
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(propagation.TraceContext{}),
		// Traces only: Docket's metrics are not otelhttp's business.
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
		otelhttp.WithFilter(func(r *http.Request) bool {
			return r.URL.Path != "/healthz" && r.URL.Path != "/readyz"
		}),
	)
}

// RouteSpan names the request's server span after its route template
// ("POST /jobs/{id}", as OpenTelemetry's HTTP conventions name server
// spans) and records the template as http.route: the path itself holds
// ids. Without a recording span it does nothing.
func RouteSpan(r *http.Request, route string) {
	span := trace.SpanFromContext(r.Context())
	if !span.IsRecording() {
		return
	}
	span.SetName(r.Method + " " + route)
	span.SetAttributes(semconv.HTTPRoute(route))
}

// Shutdown sends the spans still buffered and stops the exporter, within
// ctx. A nil t has nothing to send.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("flush traces: %w", err)
	}
	return nil
}
