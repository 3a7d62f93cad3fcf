package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RouteOther labels a request that matched no route (404, 405, a CORS
// preflight answered before routing), so that unknown paths cannot add
// series.
const RouteOther = "other"

// httpBuckets are the buckets of request latency, in seconds: from a
// health check to the 60 s long poll of a result.
var httpBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// HTTP is the API's request metrics on its registry:
//
//   - docket_http_requests_total{route,method,code}
//   - docket_http_request_duration_seconds{route,method} (histogram)
//   - docket_jobs_started_total{type[,tenant]}: jobs a POST /jobs started
//     (not those an Idempotency-Key found already started)
//   - docket_http_rejections_total{code,cause[,tenant]}: the 429s and 503s,
//     by why (rate-limited, too-many-open-jobs, temporal-unavailable,
//     blob-store-unavailable, encryption-key-missing, not-ready,
//     unclassified)
type HTTP struct {
	reg      *prometheus.Registry
	once     sync.Once
	handler  http.Handler
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	jobs     *prometheus.CounterVec
	rejected *prometheus.CounterVec
	tenants  bool
}

// NewHTTP registers the API's request metrics on reg, which GET /metrics
// then serves. tenants adds a tenant label to the job and refusal
// counters (DOCKET_METRICS_TENANT_LABELS).
func NewHTTP(reg *prometheus.Registry, tenants bool) *HTTP {
	byTenant := func(labels ...string) []string {
		if tenants {
			return append(labels, "tenant")
		}
		return labels
	}
	m := &HTTP{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "http", Name: "requests_total",
			Help: "Requests the API answered, by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its answer, by route template and method.",
			Buckets: httpBuckets,
		}, []string{"route", "method"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "jobs_started_total",
			Help: "Jobs started through POST /jobs, by job type.",
		}, byTenant("type")),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "http", Name: "rejections_total",
			Help: "Requests answered 429 or 503, by status code and cause.",
		}, byTenant("code", "cause")),
		tenants: tenants,
	}
	reg.MustRegister(m.requests, m.duration, m.jobs, m.rejected)
	return m
}

// Registry is the registry the metrics are on, which GET /metrics serves.
func (m *HTTP) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry (Handler), one for every request so that its
// bound on concurrent scrapes holds; log receives its errors.
func (m *HTTP) Handler(log *slog.Logger) http.Handler {
	m.once.Do(func() { m.handler = Handler(m.reg, log) })
	return m.handler
}

// request is what the handlers tell the metrics about a request, carried
// in its context from Wrap to the inner handlers.
type request struct {
	route  string
	cause  string
	tenant string
}

type requestKey struct{}

func requestOf(r *http.Request) *request {
	q, _ := r.Context().Value(requestKey{}).(*request)
	return q
}

// SetRoute records the route template r matched (such as /jobs/{id}).
func SetRoute(r *http.Request, template string) {
	if q := requestOf(r); q != nil {
		q.route = template
	}
}

// SetCause records why r is answered 429 or 503 (a problem type, such as
// rate-limited, or what was unreachable). The first cause set stays.
func SetCause(r *http.Request, cause string) {
	if q := requestOf(r); q != nil && q.cause == "" {
		q.cause = cause
	}
}

// SetTenant records the tenant of r's key.
func SetTenant(r *http.Request, tenant string) {
	if q := requestOf(r); q != nil {
		q.tenant = tenant
	}
}

// JobStarted counts a job that r started.
func (m *HTTP) JobStarted(r *http.Request, kind string) {
	labels := []string{kind}
	if m.tenants {
		labels = append(labels, tenantOf(r))
	}
	m.jobs.WithLabelValues(labels...).Inc()
}

func tenantOf(r *http.Request) string {
	if q := requestOf(r); q != nil {
		return q.tenant
	}
	return ""
}

// Wrap measures every request h answers. The route label is RouteOther
// unless the router calls SetRoute.
func (m *HTTP) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		q := &request{route: RouteOther}
		cw := &codeWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(cw, r.WithContext(context.WithValue(r.Context(), requestKey{}, q)))
		method := methodLabel(r.Method)
		m.requests.WithLabelValues(q.route, method, strconv.Itoa(cw.code)).Inc()
		m.duration.WithLabelValues(q.route, method).Observe(time.Since(start).Seconds())
		if cw.code == http.StatusTooManyRequests || cw.code == http.StatusServiceUnavailable {
			cause := q.cause
			if cause == "" {
				cause = "unclassified"
			}
			labels := []string{strconv.Itoa(cw.code), cause}
			if m.tenants {
				labels = append(labels, q.tenant)
			}
			m.rejected.WithLabelValues(labels...).Inc()
		}
	})
}

// methodLabel keeps the method label to the methods HTTP defines: any
// other string a client sends is "other".
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodTrace, http.MethodConnect:
		return m
	}
	return "other"
}

// codeWriter remembers the status code of an answer.
type codeWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (w *codeWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *codeWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (the API's
// body deadlines) and its Flush (event streams).
func (w *codeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes a flush on, for handlers that stream.
func (w *codeWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
