package tracing_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/docket-dev/docket/config"
	"github.com/docket-dev/docket/internal/tracing"
	"github.com/docket-dev/docket/internal/tracing/tracingtest"
	"github.com/docket-dev/docket/tools/teststack"
)

// otelVars are the variables a test sets; each is reset to empty (unset,
// for tracing) first, so the developer's own settings do not leak in.
var otelVars = []string{
	"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
	"OTEL_TRACES_EXPORTER", "OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
	"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
}

func setenv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range otelVars {
		t.Setenv(k, env[k])
	}
}

func TestEnabled(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"unset", nil, false},
		{"endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true},
		{"traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, true},
		{"blank endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": " "}, false},
		{"sdk disabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"}, false},
		{"exporter none", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"}, false},
		{"only a service name", map[string]string{"OTEL_SERVICE_NAME": "docket"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tracing.Enabled(func(k string) string { return tc.env[k] }))
		})
	}
}

// Without an endpoint nothing is installed: no Temporal interceptor on the
// clients config.Dial makes, no HTTP middleware, and the global tracer
// provider stays the one the process started with.
func TestOffInstallsNothing(t *testing.T) {
	for _, env := range []map[string]string{
		nil,
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"},
	} {
		setenv(t, env)
		global := otel.GetTracerProvider()
		tr, err := tracing.Setup(t.Context(), "docket-test", "test")
		require.NoError(t, err)
		require.Nil(t, tr)
		require.Same(t, global, otel.GetTracerProvider())
		require.Nil(t, tr.TracerProvider())
		require.Empty(t, tr.ClientInterceptors())
		require.Empty(t, tr.WorkerInterceptors())
		require.NoError(t, tr.Shutdown(t.Context()))

		cfg := teststack.Config("docket-tracing-test")
		cfg.Interceptors = tr.ClientInterceptors()
		opts, err := cfg.ClientOptions(teststack.Logger(), "test")
		require.NoError(t, err)
		require.Empty(t, opts.Interceptors)

		mux := http.NewServeMux()
		require.Same(t, mux, tr.Handler(mux), "no middleware")
	}
}

func TestBadSettingsAreErrors(t *testing.T) {
	for _, env := range []map[string]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "zipkin"},
	} {
		setenv(t, env)
		tr, err := tracing.Setup(t.Context(), "docket-test", "test")
		require.Error(t, err, "%v", env)
		require.Nil(t, tr)
	}
}

// With an endpoint, a request's span continues the caller's traceparent,
// is named by its route template, and reaches the OTLP receiver when the
// process shuts down (nothing is sent before: the batch delay is long),
// over either protocol and either endpoint variable. The caller's baggage
// does not become attributes; OTEL_TRACES_SAMPLER is the SDK's.
func TestRequestSpanReachesTheReceiverOnShutdown(t *testing.T) {
	recv, err := tracingtest.NewReceiver()
	require.NoError(t, err)
	defer recv.Close()
	for i, tc := range []struct {
		name string
		env  map[string]string
		want int
	}{
		{"http", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": recv.Endpoint()}, 1},
		{"http traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": recv.Endpoint() + "/v1/traces"}, 1},
		{"grpc", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": recv.GRPCEndpoint(), "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, 1},
		{"grpc traces protocol", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": recv.GRPCEndpoint(), "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}, 1},
		{"sampled out", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": recv.Endpoint(), "OTEL_TRACES_SAMPLER": "always_off"}, 0},
	} {
		traceID := fmt.Sprintf("%032x", i+1) // one trace per case
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"OTEL_SERVICE_NAME": "docket-" + tc.name}
			for k, v := range tc.env {
				env[k] = v
			}
			setenv(t, env)
			t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "600000")
			global := otel.GetTracerProvider()
			tr, err := tracing.Setup(t.Context(), "docket-test", "test-1")
			require.NoError(t, err)
			require.NotNil(t, tr)
			t.Cleanup(func() { otel.SetTracerProvider(global) })
			require.IsType(t, &sdktrace.TracerProvider{}, otel.GetTracerProvider(), "libraries that trace by themselves join in")
			require.Len(t, tr.ClientInterceptors(), 1)
			cfg := config.Defaults()
			cfg.Interceptors = tr.ClientInterceptors()
			opts, err := cfg.ClientOptions(teststack.Logger(), "test")
			require.NoError(t, err)
			require.Len(t, opts.Interceptors, 1)

			h := tr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tracing.RouteSpan(r, "/jobs/{id}")
				w.WriteHeader(http.StatusNoContent)
			}))
			const parentID = "00f067aa0ba902b7"
			for _, path := range []string{"/jobs/5b0e", "/healthz"} {
				req := httptest.NewRequest(http.MethodGet, path, nil)
				req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
				req.Header.Set("baggage", "docket.tenant=forged")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				require.Equal(t, http.StatusNoContent, rec.Code)
			}
			require.Empty(t, spansOf(recv, traceID), "sent before the batch delay")

			require.NoError(t, tr.Shutdown(t.Context()))
			require.Zero(t, recv.Errors())
			spans := spansOf(recv, traceID)
			require.Len(t, spans, tc.want, "/healthz is not traced")
			if tc.want == 0 {
				return
			}
			s := spans[0]
			require.Equal(t, "GET /jobs/{id}", s.Name)
			require.Equal(t, parentID, s.ParentID)
			require.Equal(t, "docket-"+tc.name, s.Service, "OTEL_SERVICE_NAME wins over the default")
			require.Equal(t, "/jobs/{id}", s.Attrs["http.route"])
			require.NotContains(t, s.Attrs, "docket.tenant", "a client's baggage is not taken")
		})
	}
}

func spansOf(recv *tracingtest.Receiver, traceID string) []tracingtest.Span {
	var out []tracingtest.Span
	for _, s := range recv.Spans() {
		if s.TraceID == traceID {
			out = append(out, s)
		}
	}
	return out
}
