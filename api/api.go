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
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	swgui "github.com/swaggest/swgui/v5emb"
	"go.temporal.io/sdk/client"

	"github.com/docket-dev/docket/documents"
	"github.com/docket-dev/docket/job"
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

// Server serves the Jobs API.
type Server struct {
	Jobs *job.Client
	// Docs stores uploaded documents and document jobs' outputs.
	Docs *documents.Store
	// MaxDocumentBytes caps an upload (documents.DefaultMaxBytes if 0).
	MaxDocumentBytes int64
	Log              *slog.Logger
	// CallTimeout bounds each call to Temporal made for a request.
	CallTimeout time.Duration
}

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/jobs", s.createJob).Methods(http.MethodPost)
	r.HandleFunc("/jobs", s.listJobs).Methods(http.MethodGet)
	r.HandleFunc("/jobs/{id}", s.getJob).Methods(http.MethodGet)
	r.HandleFunc("/jobs/{id}", s.cancelJob).Methods(http.MethodDelete)
	r.HandleFunc("/jobs/{id}/results", s.getResult).Methods(http.MethodGet)
	r.HandleFunc("/jobs/{id}/pages/{page}", s.getJobPage).Methods(http.MethodGet)
	r.HandleFunc("/documents", s.uploadDocument).Methods(http.MethodPost)
	r.HandleFunc("/documents", s.listDocuments).Methods(http.MethodGet)
	r.HandleFunc("/documents/{id}", s.getDocument).Methods(http.MethodGet)
	r.HandleFunc("/documents/{id}/content", s.getDocumentContent).Methods(http.MethodGet)
	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet)
	r.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet)
	r.HandleFunc("/openapi.json", serveSpec).Methods(http.MethodGet)
	r.PathPrefix("/docs").Handler(swgui.New("Docket Jobs API", "/openapi.json", "/docs"))
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, http.StatusNotFound, "not-found", "no such resource", nil)
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, http.StatusMethodNotAllowed, "method-not-allowed", r.Method+" is not allowed here", nil)
	})
	r.Use(s.recoverer, s.logRequests)
	return r
}

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
	body, err := readBody(w, r)
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
	v, created, err := s.Jobs.Start(ctx, req)
	if err != nil {
		s.fail(w, r, err)
		return
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
	if req.Status != "" && !req.Status.Valid() {
		s.badParam(w, r, "status", fmt.Sprintf("must be one of %v", job.Statuses))
		return
	}
	if _, ok := job.NewInput(req.Type); req.Type != "" && !ok {
		s.badParam(w, r, "type", "must be one of "+strings.Join(job.Types, ", "))
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
	if _, err := s.Jobs.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		s.Log.Warn("not ready", "error", err)
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		writeProblem(w, r, http.StatusServiceUnavailable, "unavailable", "Temporal is not reachable", nil)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
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

// fail answers an error from the job client with the status it calls for.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var inputErr *job.InputError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &inputErr):
		writeProblem(w, r, http.StatusUnprocessableEntity, "invalid-job", inputErr.Error(), func(p *Problem) { p.Field = inputErr.Field })
	case errors.As(err, &tooLarge):
		writeProblem(w, r, http.StatusRequestEntityTooLarge, "too-large", fmt.Sprintf("the request body is larger than %d bytes", tooLarge.Limit), nil)
	case errors.Is(err, documents.ErrBadPageToken):
		s.badParam(w, r, "page_token", "is not a token this API returned for the same search")
	case errors.Is(err, job.ErrNotFound):
		writeProblem(w, r, http.StatusNotFound, "job-not-found", "no job has id "+mux.Vars(r)["id"], nil)
	case errors.Is(err, job.ErrIdempotencyMismatch):
		writeProblem(w, r, http.StatusUnprocessableEntity, "idempotency-key-reused",
			"this Idempotency-Key was already used with a different request body", func(p *Problem) { p.Field = "Idempotency-Key" })
	case errors.Is(err, job.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		s.Log.Warn("temporal unavailable", "path", r.URL.Path, "error", err)
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		writeProblem(w, r, http.StatusServiceUnavailable, "unavailable", "Temporal is not reachable; try again shortly", nil)
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads the answer.
		w.WriteHeader(499)
	default:
		s.Log.Error("request failed", "path", r.URL.Path, "error", err)
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		writeProblem(w, r, http.StatusServiceUnavailable, "unavailable", "the request could not be completed; try again shortly", nil)
	}
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
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
