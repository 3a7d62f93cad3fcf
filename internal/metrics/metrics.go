// Package metrics is Docket's Prometheus instrumentation: the registry a
// process exposes (GET /metrics on the API, DOCKET_METRICS_ADDR on a
// worker), the Temporal SDK's own metrics on it (temporal.go), the API's
// request, job and refusal counters (http.go), and the counters of the
// workers' document and fetch steps (steps.go).
//
// Every label has a bounded set of values: route templates, never paths;
// job types, methods, outcomes and model names from configuration, never
// document or job ids, URLs or anything a key or a payload holds. Tenants
// label only the API's job and refusal counters, and only when
// DOCKET_METRICS_TENANT_LABELS is true (an operator's keys file bounds them).
//
// Recording is an atomic add; the text is built only when something scrapes.
package metrics

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric of Docket's own.
const Namespace = "docket"

// NewRegistry returns the registry of one process: the Go runtime's and
// the process's own collectors and the step counters of this package. The
// API adds its request metrics (NewHTTP) and every process the Temporal
// SDK's (NewTemporal). A registry per process rather than the global one
// keeps tests that run several components in one binary apart.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	for _, c := range stepCollectors() {
		reg.MustRegister(c)
	}
	return reg
}

// Handler serves reg in Prometheus's text exposition format (or
// OpenMetrics, when the scraper asks for it).
func Handler(reg *prometheus.Registry, log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slogPrinter{log},
		// A collector that fails leaves its metrics out rather than the
		// whole answer.
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          reg,
		EnableOpenMetrics: true,
		// Bounds the work of a scrape.
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// slogPrinter hands promhttp's errors to slog.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) {
	if p.log != nil {
		p.log.Warn("metrics", "error", fmt.Sprint(v...))
	}
}

// Server serves reg at /metrics on addr (DOCKET_METRICS_ADDR): the
// listener of a worker, and the API's second listener that needs no key.
// Any other path is 404.
func Server(addr string, reg *prometheus.Registry, log *slog.Logger) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", Handler(reg, log))
	return &http.Server{
		Addr:              addr,
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
}

// Listen starts serving s in the background and returns the address it
// listens on (the port chosen when addr ends in :0), or the listen error.
// errc receives the error that ends serving, other than a shutdown.
func Listen(s *http.Server, errc chan<- error) (string, error) {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return "", fmt.Errorf("metrics listener %s: %w", s.Addr, err)
	}
	go func() {
		if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && errc != nil {
			errc <- fmt.Errorf("serve metrics on %s: %w", s.Addr, err)
		}
	}()
	return ln.Addr().String(), nil
}
