// Package api is Docket's HTTP Jobs API: clients start, watch, list and
// cancel jobs and read their results. It holds no state of its own, so any
// number of replicas can serve the same Temporal namespace.
package api

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	swgui "github.com/swaggest/swgui/v5emb"
	"go.temporal.io/sdk/client"

	"github.com/docket-dev/docket/documents"
	"github.com/docket-dev/docket/internal/auth"
	"github.com/docket-dev/docket/internal/crypt"
	"github.com/docket-dev/docket/internal/metrics"
	"github.com/docket-dev/docket/internal/tracing"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/workflows"
)

// Limits of the API.
const (
	// MaxBodyBytes caps a request body.
	MaxBodyBytes = 1 << 20
	// MaxWait caps the long poll of GET /jobs/{id}/results.
	MaxWait = 60 * time.Second
	// MaxIdempotencyKeyLen caps the Idempotency-Key header.
	MaxIdempotencyKeyLen = 255
	// DefaultPageSize and MaxPageSize bound GET /jobs pages.
	DefaultPageSize = 20
	MaxPageSize     = 100
	// retryAfterSeconds is what a 503 tells clients to wait.
	retryAfterSeconds = 5
)

//go:embed openapi.json
var specFS embed.FS

// Spec returns the OpenAPI 3 document that GET /openapi.json serves.
func Spec() []byte {
	b, _ := specFS.ReadFile("openapi.json")
	return b
}

// Jobs is what the handlers need of the job client: *job.Client in
// production. It is an interface so that the handler layer can be tested
// without Temporal (api/handlertest): everything a handler decides before
// it calls one of these methods (media types, sizes, strict decoding, query
// parameters, ids, methods, paths) needs no job engine at all.
type Jobs interface {
	// Start validates and starts a job; created is false when an
	// idempotency key named an existing job.
	Start(ctx context.Context, req job.StartRequest) (v job.View, created bool, err error)
	// Get returns a job's view.
	Get(ctx context.Context, id string) (job.View, error)
	// Cancel asks a job to stop.
	Cancel(ctx context.Context, id string) (job.View, error)
	// Result waits up to wait for a job's result.
	Result(ctx context.Context, id string, wait time.Duration) (job.View, json.RawMessage, error)
	// List returns one page of jobs and the token of the next.
	List(ctx context.Context, req job.ListRequest) ([]job.View, string, error)
	// Owner returns the tenant of a job.
	Owner(ctx context.Context, id string) (string, error)
	// OpenJobs counts a tenant's unfinished jobs, for its quota.
	OpenJobs(ctx context.Context, tenant string) (int64, error)
	// DescribeQueue reads what Temporal knows of a task queue.
	DescribeQueue(ctx context.Context, name string) (job.Queue, error)
}

// *job.Client is the production Jobs; this keeps their methods in step.
var _ Jobs = (*job.Client)(nil)

// Server serves the Jobs API.
type Server struct {
	Jobs Jobs
	// Keys authenticates requests (DOCKET_API_KEYS_FILE); nil serves
	// without keys, every request seeing every job (auth.Setup allows it
	// only on loopback or with DOCKET_AUTH=off).
	Keys *auth.Keyring
	// Ring is the encryption key ring (DOCKET_ENCRYPTION_KEYS_FILE): the
	// codec server routes encode and decode with it. Nil: they answer 404.
	Ring *crypt.Ring
	// TaskQueue is the base task queue whose queues GET /queues describes
	// (the job's, and its OCR and LLM queues).
	TaskQueue string
	// CORSOrigins are the browser origins allowed to call the API
	// (DOCKET_CORS_ORIGINS); none: no cross-origin calls.
	CORSOrigins []string
	// Ready reports whether the job engine answers (GET /readyz). When nil,
	// a *job.Client's Temporal is asked; any other Jobs is never ready, so
	// that a server wired without a check does not claim to be.
	Ready func(context.Context) error
	// Docs stores uploaded documents and document jobs' outputs.
	Docs *documents.Store
	// Webhooks are the tenants' webhook endpoints (webhooks.go); nil: the
	// /webhooks routes answer 503.
	Webhooks *Webhooks
	// MaxDocumentBytes caps an upload (documents.DefaultMaxBytes if 0).
	MaxDocumentBytes int64
	// Tracing traces each request (internal/tracing); nil: no tracing.
	Tracing *tracing.Tracing
	// Log receives the server's own errors.
	Log *slog.Logger
	// CallTimeout bounds each call to Temporal made for a request.
	CallTimeout time.Duration
	// MinBodyRate (bytes per second; DefaultMinBodyRate if 0) and
	// BodySlack (DefaultBodySlack if 0) size the deadline of a request
	// body: BodySlack plus the route's body limit at MinBodyRate. A body
	// slower than that is answered 408.
	MinBodyRate int64
	BodySlack   time.Duration
	// Metrics counts the requests, the jobs started and the refusals, on
	// the registry GET /metrics serves (api.New makes it; nil: Handler
	// makes one of its own).
	Metrics *metrics.HTTP
	// Streams configures the job event streams (GET /jobs/{id}/events).
	Streams Streams
}

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	r := mux.NewRouter()
	// mux would answer an unclean path (/documents/..%2F..%2Fetc%2Fpasswd)
	// with a 301 to its cleaned form and no body; such paths name nothing
	// here and are 404s (cleanPaths, below).
	r.SkipClean(true)
	// route registers a handler for path and method, with the query
	// parameters it accepts: this list is the only place they are declared,
	// and any other parameter is a 400 (a typo such as ?limit= for
	// page_size would otherwise be ignored in silence). A GET route answers
	// HEAD too.
	//
	// scope is what a key needs for the route (open: no key); guard checks
	// it, with the key itself, before anything else of the request.
	route := func(method, path string, scope auth.Scope, h http.HandlerFunc, params ...string) {
		methods := []string{method}
		if method == http.MethodGet {
			methods = append(methods, http.MethodHead)
		}
		r.Handle(path, routeSpan(path, s.guard(scope, s.onlyParams(params, h)))).Methods(methods...)
	}
	route(http.MethodPost, "/jobs", auth.ScopeJobsWrite, s.createJob)
	route(http.MethodGet, "/jobs", auth.ScopeJobsRead, s.listJobs, "status", "type", "tenant", "page_size", "page_token")
	route(http.MethodGet, "/jobs/{id}", auth.ScopeJobsRead, s.withJobID(s.getJob))
	route(http.MethodDelete, "/jobs/{id}", auth.ScopeJobsWrite, s.withJobID(s.cancelJob))
	route(http.MethodGet, "/jobs/{id}/results", auth.ScopeJobsRead, s.withJobID(s.getResult), "wait")
	route(http.MethodGet, "/jobs/{id}/pages/{page}", auth.ScopeJobsRead, s.withJobID(s.getJobPage))
	route(http.MethodGet, "/jobs/{id}/events", auth.ScopeJobsRead, s.withJobID(s.jobEvents), "token", "last_event_id")
	route(http.MethodPost, "/jobs/{id}/events/token", auth.ScopeJobsRead, s.withJobID(s.mintStreamToken))
	route(http.MethodPost, "/documents", auth.ScopeDocumentsWrite, s.uploadDocument, "filename", "tenant")
	route(http.MethodGet, "/documents", auth.ScopeDocumentsRead, s.listDocuments, "search", "tenant", "page_size", "page_token")
	route(http.MethodGet, "/documents/{id}", auth.ScopeDocumentsRead, s.getDocument, "tenant")
	route(http.MethodDelete, "/documents/{id}", auth.ScopeDocumentsWrite, s.deleteDocument, "tenant")
	route(http.MethodGet, "/documents/{id}/content", auth.ScopeDocumentsRead, s.getDocumentContent, "tenant")
	route(http.MethodGet, "/queues", auth.ScopeAdmin, s.listQueues)
	route(http.MethodPost, "/webhooks", auth.ScopeJobsWrite, s.withWebhooks(s.createWebhook))
	route(http.MethodGet, "/webhooks", auth.ScopeJobsRead, s.withWebhooks(s.listWebhooks))
	route(http.MethodDelete, "/webhooks/{id}", auth.ScopeJobsWrite, s.withWebhooks(s.deleteWebhook))
	route(http.MethodPost, "/webhooks/{id}/rotate", auth.ScopeJobsWrite, s.withWebhooks(s.rotateWebhook))
	route(http.MethodGet, "/metrics", auth.ScopeMetrics, s.serveMetrics)
	route(http.MethodPost, "/codec/encode", auth.ScopeCodec, s.codec)
	route(http.MethodPost, "/codec/decode", auth.ScopeCodec, s.codec)
	route(http.MethodGet, "/healthz", open, s.healthz)
	route(http.MethodGet, "/readyz", open, s.readyz)
	route(http.MethodGet, "/openapi.json", open, serveSpec)
	// The Swagger UI's own assets take their own query parameters.
	r.PathPrefix("/docs").Methods(http.MethodGet, http.MethodHead).
		Handler(problemNotFound(swgui.New("Docket Jobs API", "/openapi.json", "/docs")))
	r.NotFoundHandler = http.HandlerFunc(notFound)
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !clean(req.URL.Path) {
			notFound(w, req)
			return
		}
		allow := allowed(r, req)
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeProblem(w, req, http.StatusMethodNotAllowed, "method-not-allowed",
			req.Method+" is not allowed here; allowed: "+strings.Join(allow, ", "), nil)
	})
	r.Use(s.measure, s.recoverer, s.logRequests, cleanPaths)
	r.NotFoundHandler = s.metrics().Wrap(r.NotFoundHandler)
	r.MethodNotAllowedHandler = s.metrics().Wrap(r.MethodNotAllowedHandler)
	return s.Tracing.Handler(s.withCORS(r))
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeProblem(w, r, http.StatusNotFound, "not-found", "no such resource", nil)
}

// allowMethods are the methods a 405's Allow header may list.
var allowMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, http.MethodTrace, http.MethodConnect,
}

// allowed lists the methods that the router routes for req's path (RFC
// 9110 requires them in a 405's Allow header), by asking the router itself
// so that the list cannot drift from the routes.
func allowed(r *mux.Router, req *http.Request) []string {
	var out []string
	for _, m := range allowMethods {
		try := req.Clone(req.Context())
		try.Method = m
		var match mux.RouteMatch
		if r.Match(try, &match) && match.MatchErr == nil {
			out = append(out, m)
		}
	}
	return out
}

// clean reports whether path has no empty, "." or ".." segment (a
// trailing slash aside). The router matches paths as sent, so that an
// unclean one names nothing rather than being redirected to what it cleans
// to.
func clean(path string) bool {
	if !strings.HasPrefix(path, "/") {
		return false
	}
	segs := strings.Split(strings.TrimSuffix(path[1:], "/"), "/")
	for i, seg := range segs {
		if seg == "." || seg == ".." || (seg == "" && !(i == 0 && len(segs) == 1)) {
			return false
		}
	}
	return true
}

// cleanPaths answers 404 to a matched route whose path is unclean, such as
// /docs/../jobs or /jobs/./results.
func cleanPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !clean(r.URL.Path) {
			notFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// onlyParams answers 400 naming the first query parameter that the route
// does not take, or a query that does not parse.
func (s *Server) onlyParams(params []string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			writeProblem(w, r, http.StatusBadRequest, "invalid-parameter", "the query string is malformed: "+err.Error(), nil)
			return
		}
		names := make([]string, 0, len(q))
		for name := range q {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			if !slices.Contains(params, name) {
				msg := "is not a parameter of this route"
				if len(params) > 0 {
					msg += "; it takes " + strings.Join(params, ", ")
				}
				s.badParam(w, r, name, msg)
				return
			}
		}
		next(w, r)
	}
}

// withJobID answers 404 for a job id that no job could have, before any
// call to Temporal: every /jobs/{id} route passes through it.
func (s *Server) withJobID(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !job.ValidID(mux.Vars(r)["id"]) {
			s.fail(w, r, job.ErrNotFound)
			return
		}
		next(w, r)
	}
}

// problemNotFound turns the plain-text 404 of h (the Swagger UI's file
// server, for an unknown asset) into the API's problem+json.
func problemNotFound(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&notFoundWriter{ResponseWriter: w, r: r}, r)
	})
}

type notFoundWriter struct {
	http.ResponseWriter
	r        *http.Request
	replaced bool
}

func (w *notFoundWriter) WriteHeader(code int) {
	if code == http.StatusNotFound && !w.replaced {
		w.replaced = true
		for k := range w.Header() {
			w.Header().Del(k)
		}
		notFound(w.ResponseWriter, w.r)
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *notFoundWriter) Write(b []byte) (int, error) {
	if w.replaced {
		return len(b), nil // the file server's text, replaced
	}
	return w.ResponseWriter.Write(b)
}

func (w *notFoundWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func serveSpec(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(Spec())
}

// createJob is POST /jobs.
func (s *Server) createJob(w http.ResponseWriter, r *http.Request) {
	if !isJSON(r.Header.Get("Content-Type")) {
		writeProblem(w, r, http.StatusUnsupportedMediaType, "unsupported-media-type",
			"the request body must be application/json", nil)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > MaxIdempotencyKeyLen || !printable(key) {
		writeProblem(w, r, http.StatusBadRequest, "invalid-header",
			fmt.Sprintf("Idempotency-Key must be at most %d printable ASCII characters", MaxIdempotencyKeyLen),
			func(p *Problem) { p.Field = "Idempotency-Key" })
		return
	}
	var req job.StartRequest
	body, err := s.readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := job.DecodeStrict(body, &req); err != nil {
		writeProblem(w, r, http.StatusBadRequest, "malformed-json", "the request body is not a valid job request: "+err.Error(), nil)
		return
	}
	req.IdempotencyKey = key
	ctx, cancel := context.WithTimeout(r.Context(), s.CallTimeout)
	defer cancel()
	if !s.withinQuota(ctx, w, r, &req) {
		return
	}
	v, created, err := s.Jobs.Start(ctx, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if created {
		s.metrics().JobStarted(r, v.Type)
	}
	writeMade(w, "/jobs/"+v.ID, created, http.StatusAccepted, v)
}

// JobList is the body of GET /jobs.
type JobList struct {
	Jobs          []job.View `json:"jobs"`
	NextPageToken string     `json:"next_page_token,omitempty"`
}

// listJobs is GET /jobs.
func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := job.ListRequest{Status: job.Status(q.Get("status")), Type: q.Get("type"), PageSize: DefaultPageSize, PageToken: q.Get("page_token")}
	tenant, ok := s.tenantFilter(w, r)
	if !ok {
		return
	}
	req.Tenant = tenant
	if req.Status != "" && !req.Status.Valid() {
		s.badParam(w, r, "status", fmt.Sprintf("must be one of %v", job.Statuses))
		return
	}
	if _, ok := workflows.Kinds.Lookup(req.Type); req.Type != "" && !ok {
		s.badParam(w, r, "type", "must be one of "+strings.Join(workflows.Kinds.Names(), ", "))
		return
	}
	size, ok := s.pageSize(w, r)
	if !ok {
		return
	}
	req.PageSize = size
	ctx, cancel := context.WithTimeout(r.Context(), s.CallTimeout)
	defer cancel()
	views, next, err := s.Jobs.List(ctx, req)
	var inputErr *job.InputError
	if errors.As(err, &inputErr) {
		s.badParam(w, r, inputErr.Field, inputErr.Message)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, JobList{Jobs: views, NextPageToken: next})
}

// getJob is GET /jobs/{id}.
func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.CallTimeout)
	defer cancel()
	v, err := s.Jobs.Get(ctx, mux.Vars(r)["id"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// cancelJob is DELETE /jobs/{id}.
func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.CallTimeout)
	defer cancel()
	v, err := s.Jobs.Cancel(ctx, mux.Vars(r)["id"])
	if errors.Is(err, job.ErrFinished) {
		writeProblem(w, r, http.StatusConflict, "job-finished",
			fmt.Sprintf("job %s has already finished with status %s", v.ID, v.Status),
			func(p *Problem) { p.JobStatus = string(v.Status) })
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, v)
}

// Result is the body of GET /jobs/{id}/results.
type Result struct {
	ID     string          `json:"id"`
	Type   string          `json:"type"`
	Status job.Status      `json:"status"`
	Result json.RawMessage `json:"result"`
}

// getResult is GET /jobs/{id}/results[?wait=30s].
func (s *Server) getResult(w http.ResponseWriter, r *http.Request) {
	var wait time.Duration
	if ws := r.URL.Query().Get("wait"); ws != "" {
		d, err := parseWait(ws)
		if err != nil {
			s.badParam(w, r, "wait", "must be a duration such as 30s or a number of seconds; waits are capped at 60s")
			return
		}
		wait = min(d, MaxWait)
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait+s.CallTimeout)
	defer cancel()
	v, res, err := s.Jobs.Result(ctx, mux.Vars(r)["id"], wait)
	if errors.Is(err, job.ErrNotFinished) {
		detail := fmt.Sprintf("job %s is %s and has no result yet", v.ID, v.Status)
		if v.Status.Terminal() {
			detail = fmt.Sprintf("job %s ended %s and has no result", v.ID, v.Status)
		}
		writeProblem(w, r, http.StatusConflict, "no-result", detail, func(p *Problem) { p.JobStatus = string(v.Status) })
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, Result{ID: v.ID, Type: v.Type, Status: v.Status, Result: res})
}

func parseWait(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		s = strconv.Itoa(n) + "s"
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, errors.New("bad wait")
	}
	return d, nil
}

// healthz is GET /healthz: the process is up.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is GET /readyz: Temporal answers.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		s.Log.Warn("not ready", "error", err)
		metrics.SetCause(r, "not-ready")
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		writeProblem(w, r, http.StatusServiceUnavailable, "unavailable", "Temporal is not reachable", nil)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// errNoReadyCheck is the readiness of a Server that has no way to know.
var errNoReadyCheck = errors.New("no readiness check is configured")

// ready runs the readiness check. The fallback to a *job.Client's Temporal
// keeps the servers that predate Ready (cmd/docket-api, the test stack)
// checking what they always did.
func (s *Server) ready(ctx context.Context) error {
	if s.Ready != nil {
		return s.Ready(ctx)
	}
	if c, ok := s.Jobs.(*job.Client); ok && c != nil && c.Temporal != nil {
		_, err := c.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
		return err
	}
	return errNoReadyCheck
}

// pageSize reads ?page_size=, answering 400 itself when it is invalid.
func (s *Server) pageSize(w http.ResponseWriter, r *http.Request) (int, bool) {
	ps := r.URL.Query().Get("page_size")
	if ps == "" {
		return DefaultPageSize, true
	}
	n, err := strconv.Atoi(ps)
	if err != nil || n < 1 || n > MaxPageSize {
		s.badParam(w, r, "page_size", fmt.Sprintf("must be a whole number from 1 to %d", MaxPageSize))
		return 0, false
	}
	return n, true
}

func (s *Server) badParam(w http.ResponseWriter, r *http.Request, name, msg string) {
	writeProblem(w, r, http.StatusBadRequest, "invalid-parameter", name+" "+msg, func(p *Problem) { p.Field = name })
}

// fail answers an error with the status it calls for. It is the one place
// errors become statuses: every handler hands it what the job client, the
// blob store or the body reader returned.
//
// 503 means exactly one thing, that Temporal or the blob store did not
// answer: only errors those packages classify as unavailable get it (and
// our own deadline on a call to them). Everything the client sent wrong is
// classified before it gets here (ids that cannot exist, unreadable,
// oversized or slow bodies, bad inputs, bad page tokens) and is a 4xx.
//
// The default case is for an error nobody classified. The API's rule is
// never a 500, and every remaining error does come from a dependency (the
// handlers call nothing else that can fail on a request's account), so it
// answers 503 with Retry-After, which is also what a client should do, and
// logs at error level so that the error gets classified.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var inputErr *job.InputError
	var tooLarge *http.MaxBytesError
	var bodyErr *bodyError
	if s.webhookProblem(w, r, err) {
		return
	}
	switch {
	case errors.As(err, &inputErr):
		writeProblem(w, r, http.StatusUnprocessableEntity, "invalid-job", inputErr.Error(), func(p *Problem) { p.Field = inputErr.Field })
	case errors.As(err, &tooLarge):
		writeProblem(w, r, http.StatusRequestEntityTooLarge, "too-large", fmt.Sprintf("the request body is larger than %d bytes", tooLarge.Limit), nil)
	case errors.As(err, &bodyErr) && bodyErr.timeout():
		writeProblem(w, r, http.StatusRequestTimeout, "request-timeout",
			"the request body did not arrive in time; send it at a steady rate", nil)
	case errors.As(err, &bodyErr):
		writeProblem(w, r, http.StatusBadRequest, "malformed-body", bodyErr.Error(), nil)
	case errors.Is(err, documents.ErrTooLarge):
		s.documentTooLarge(w, r)
	case errors.Is(err, documents.ErrUnsupportedMedia):
		writeProblem(w, r, http.StatusUnsupportedMediaType, "unsupported-media-type",
			"the document must be a PDF, PNG, JPEG or TIFF (recognised from its bytes, not its name or Content-Type)", nil)
	case errors.Is(err, documents.ErrTooManyPages):
		writeProblem(w, r, http.StatusUnprocessableEntity, "too-many-pages", err.Error(), func(p *Problem) { p.Field = "file" })
	case errors.Is(err, documents.ErrEmpty):
		writeProblem(w, r, http.StatusBadRequest, "malformed-upload", "the document is empty", func(p *Problem) { p.Field = "file" })
	case errors.Is(err, documents.ErrBadPageToken):
		s.badParam(w, r, "page_token", "is not a token this API returned for the same search")
	case errors.Is(err, job.ErrNotFound):
		writeProblem(w, r, http.StatusNotFound, "job-not-found", "no job has id "+strconv.QuoteToASCII(mux.Vars(r)["id"]), nil)
	case errors.Is(err, documents.ErrNotFound):
		writeProblem(w, r, http.StatusNotFound, "document-not-found", "no document has id "+strconv.QuoteToASCII(mux.Vars(r)["id"]), nil)
	case errors.Is(err, job.ErrIdempotencyMismatch):
		writeProblem(w, r, http.StatusUnprocessableEntity, "idempotency-key-reused",
			"this Idempotency-Key was already used with a different request body", func(p *Problem) { p.Field = "Idempotency-Key" })
	case errors.Is(err, crypt.ErrKeyNotFound):
		// A key retired from the ring while something it encrypted is
		// still read. A retry succeeds only once an operator puts the key
		// back; Retry-After is there as on every 503. The logged error
		// names the key (ids are not secret; the log is where the
		// operator looks).
		s.Log.Error("encrypted under a key the key ring lacks", "path", r.URL.Path, "error", err)
		metrics.SetCause(r, "encryption-key-missing")
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		writeProblem(w, r, http.StatusServiceUnavailable, "encryption-key-missing",
			"what this request reads is encrypted under a key that this server's key ring lacks; the server's log names the key", nil)
	case errors.Is(err, documents.ErrUnavailable):
		s.Log.Warn("blob store unavailable", "path", r.URL.Path, "error", err)
		metrics.SetCause(r, "blob-store-unavailable")
		s.unavailable(w, r, "the blob store is not reachable; try again shortly")
	case errors.Is(err, job.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		s.Log.Warn("temporal unavailable", "path", r.URL.Path, "error", err)
		metrics.SetCause(r, "temporal-unavailable")
		s.unavailable(w, r, "Temporal is not reachable; try again shortly")
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads the answer.
		w.WriteHeader(499)
	default:
		s.Log.Error("unclassified error", "path", r.URL.Path, "error", err)
		metrics.SetCause(r, "unclassified")
		s.unavailable(w, r, "the request could not be completed; try again shortly")
	}
}

func (s *Server) unavailable(w http.ResponseWriter, r *http.Request, detail string) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	writeProblem(w, r, http.StatusServiceUnavailable, "unavailable", detail, nil)
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// statusWriter remembers the status code for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// Unwrap lets http.ResponseController reach the connection (for the body
// read deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		s.Log.Info("request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "duration_ms", time.Since(start).Milliseconds())
	})
}

// recoverer turns a panic in a handler into a logged 500 problem rather
// than a dropped connection. No input should reach it.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Log.Error("handler panic", "path", r.URL.Path, "panic", fmt.Sprint(v))
				writeProblem(w, r, http.StatusInternalServerError, "internal", "internal error", nil)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
