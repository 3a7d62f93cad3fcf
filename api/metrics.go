package api

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/docket-dev/docket/internal/metrics"
)

// metrics is the server's request metrics, made on first use for a Server
// built without api.New (the handler tests).
func (s *Server) metrics() *metrics.HTTP {
	if s.Metrics == nil {
		s.Metrics = metrics.NewHTTP(metrics.NewRegistry(), false)
	}
	return s.Metrics
}

// serveMetrics is GET /metrics: the process's metrics in Prometheus's text
// format (metrics.Handler), for a key with the metrics scope. The API's
// DOCKET_METRICS_ADDR listener serves the same without a key.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	s.metrics().Handler(s.Log).ServeHTTP(w, r)
}

// measure is the router's first middleware: it counts and times every
// request that matched a route, labelled with the route's template
// (/jobs/{id}), never its path, so the route() table bounds the label's
// values. The router's 404 and 405 handlers are measured as route "other";
// CORS preflights, answered before the router, are not measured.
func (s *Server) measure(next http.Handler) http.Handler {
	return s.metrics().Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt := mux.CurrentRoute(r); rt != nil {
			if t, err := rt.GetPathTemplate(); err == nil {
				metrics.SetRoute(r, t)
			}
		}
		next.ServeHTTP(w, r)
	}))
}
