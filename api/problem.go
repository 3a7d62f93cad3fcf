package api

import (
	"encoding/json"
	"net/http"

	"github.com/docket-dev/docket/internal/metrics"
)

// Problem is an RFC 9457 problem details object. Docket adds the job's
// current status to conflicts and the offending field to validation errors.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Field names the request field that is wrong, as in "input.end".
	Field string `json:"field,omitempty"`
	// JobStatus is the job's status when it explains the problem (409).
	JobStatus string `json:"job_status,omitempty"`
}

// problemTypeBase prefixes the problem type URIs, which the OpenAPI
// document lists.
const problemTypeBase = "https://docket.dev/problems/"

func writeProblem(w http.ResponseWriter, r *http.Request, status int, kind, detail string, extra func(*Problem)) {
	p := Problem{
		Type:     problemTypeBase + kind,
		Title:    http.StatusText(status),
		Status:   status,
		Detail:   detail,
		Instance: r.URL.Path,
	}
	if extra != nil {
		extra(&p)
	}
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		// The cause of a refusal, for docket_http_rejections_total,
		// unless the handler named a finer one (what was unreachable).
		metrics.SetCause(r, kind)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeMade answers a request that creates a resource, or finds the one an
// earlier identical request created: status when new, 200 when not, and
// Location either way.
func writeMade(w http.ResponseWriter, location string, created bool, status int, v any) {
	w.Header().Set("Location", location)
	if !created {
		status = http.StatusOK
	}
	writeJSON(w, status, v)
}
