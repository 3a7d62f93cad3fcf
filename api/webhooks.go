package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/docket-dev/docket/documents"
	"github.com/docket-dev/docket/internal/crypt"
	"github.com/docket-dev/docket/internal/egress"
	"github.com/docket-dev/docket/internal/webhook"
	"github.com/docket-dev/docket/internal/webhook/endpoints"
	"github.com/docket-dev/docket/job"
)

// Webhooks are the tenants' registered webhook endpoints, as the API
// serves and resolves them.
type Webhooks struct {
	Store *endpoints.Store
	// Policy vets endpoint URLs when they are registered.
	Policy egress.Policy
	// targets caches each tenant's endpoints for job submissions, which
	// would otherwise list the blob store on every POST /jobs. This
	// replica's own changes clear it; another replica's show within
	// targetsTTL.
	targets *expirable.LRU[string, []job.NotifyTarget]
}

// targetsTTL is how long a tenant's endpoints are reused at submit.
const targetsTTL = 2 * time.Second

// NewWebhooks returns the endpoints kept in docs' bucket, sealed with
// ring; nil when there is no blob store.
func NewWebhooks(docs *documents.Store, ring *crypt.Ring, policy egress.Policy) *Webhooks {
	if docs == nil {
		return nil
	}
	return &Webhooks{
		Store:   endpoints.NewStore(docs.Bucket, ring),
		Policy:  policy,
		targets: expirable.NewLRU[string, []job.NotifyTarget](10_000, nil, targetsTTL),
	}
}

// Targets lists the receivers a new job of tenant notifies: its endpoints
// that are not gone (job.Client.Endpoints).
func (h *Webhooks) Targets(ctx context.Context, tenant string) ([]job.NotifyTarget, error) {
	if t, ok := h.targets.Get(tenant); ok {
		return t, nil
	}
	eps, err := h.Store.List(ctx, tenant)
	if err != nil {
		return nil, err
	}
	var out []job.NotifyTarget
	for _, e := range eps {
		if e.GoneAt == nil {
			out = append(out, job.NotifyTarget{EndpointID: e.ID, URL: e.URL, Events: e.Events})
		}
	}
	h.targets.Add(tenant, out)
	return out, nil
}

// WebhookRequest is the body of POST /webhooks.
type WebhookRequest struct {
	URL string `json:"url"`
	// Events are what to deliver; empty means every terminal event.
	Events []string `json:"events,omitempty"`
}

// WebhookEndpoint is an endpoint as the API shows it. Secret is there only
// in the answers of POST /webhooks and of rotate.
type WebhookEndpoint struct {
	ID        string     `json:"id"`
	URL       string     `json:"url"`
	Events    []string   `json:"events"`
	Status    string     `json:"status"`
	CreatedAt time.Time  `json:"created_at"`
	GoneAt    *time.Time `json:"gone_at,omitempty"`
	Secret    string     `json:"secret,omitempty"`
	// PreviousSecretExpiresAt is when a rotated secret stops signing.
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
}

// WebhookList is the body of GET /webhooks.
type WebhookList struct {
	Webhooks []WebhookEndpoint `json:"webhooks"`
}

func endpointView(e endpoints.Endpoint, secret webhook.Secret) WebhookEndpoint {
	v := WebhookEndpoint{ID: e.ID, URL: e.URL, Events: e.Events, Status: "active", CreatedAt: e.CreatedAt.Truncate(job.TimePrecision), GoneAt: e.GoneAt}
	if e.GoneAt != nil {
		v.Status = "gone"
	}
	if !secret.Zero() {
		v.Secret = secret.Text()
	}
	for _, s := range e.Secrets {
		if s.ExpiresAt != nil {
			v.PreviousSecretExpiresAt = s.ExpiresAt
		}
	}
	return v
}

// webhookTenant is whose endpoints a request manages: the key's tenant
// ("" for keys without one and for an API without keys).
func webhookTenant(r *http.Request) string { return job.ScopeOf(r.Context()).Tenant }

// withWebhooks answers 503 when the API has no blob store to keep
// endpoints in, and 404 for an id no endpoint can have.
func (s *Server) withWebhooks(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Webhooks == nil {
			s.unavailable(w, r, "this server has no blob store to keep webhook endpoints in")
			return
		}
		if id, ok := mux.Vars(r)["id"]; ok && !endpoints.ValidID(id) {
			s.fail(w, r, endpoints.ErrNotFound)
			return
		}
		next(w, r)
	}
}

// createWebhook is POST /webhooks.
func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	if !isJSON(r.Header.Get("Content-Type")) {
		writeProblem(w, r, http.StatusUnsupportedMediaType, "unsupported-media-type", "the request body must be application/json", nil)
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req WebhookRequest
	if err := job.DecodeStrict(body, &req); err != nil {
		writeProblem(w, r, http.StatusBadRequest, "malformed-json", "the request body is not a valid webhook request: "+err.Error(), nil)
		return
	}
	if err := job.CheckNotifyURL(s.Webhooks.Policy, "url", req.URL); err != nil {
		s.fail(w, r, err)
		return
	}
	events, err := job.CheckEvents("events", req.Events)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.CallTimeout)
	defer cancel()
	tenant := webhookTenant(r)
	e, secret, err := s.Webhooks.Store.Create(ctx, tenant, req.URL, events, time.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.Webhooks.targets.Remove(tenant)
	writeMade(w, "/webhooks/"+e.ID, true, http.StatusCreated, endpointView(e, secret))
}

// listWebhooks is GET /webhooks.
func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.CallTimeout)
	defer cancel()
	eps, err := s.Webhooks.Store.List(ctx, webhookTenant(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := WebhookList{Webhooks: []WebhookEndpoint{}}
	for _, e := range eps {
		out.Webhooks = append(out.Webhooks, endpointView(e, webhook.Secret{}))
	}
	writeJSON(w, http.StatusOK, out)
}

// deleteWebhook is DELETE /webhooks/{id}.
func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.CallTimeout)
	defer cancel()
	tenant := webhookTenant(r)
	if err := s.Webhooks.Store.Delete(ctx, tenant, mux.Vars(r)["id"]); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Webhooks.targets.Remove(tenant)
	w.WriteHeader(http.StatusNoContent)
}

// rotateWebhook is POST /webhooks/{id}/rotate.
func (s *Server) rotateWebhook(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.CallTimeout)
	defer cancel()
	e, secret, err := s.Webhooks.Store.Rotate(ctx, webhookTenant(r), mux.Vars(r)["id"], time.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, endpointView(e, secret))
}

// webhookProblem answers the webhook store's errors; false when err is
// not one of them (fail, the one place errors become statuses, asks).
func (s *Server) webhookProblem(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case errors.Is(err, endpoints.ErrNotFound):
		writeProblem(w, r, http.StatusNotFound, "webhook-not-found", fmt.Sprintf("no webhook endpoint has id %q", mux.Vars(r)["id"]), nil)
	case errors.Is(err, endpoints.ErrTooMany):
		writeProblem(w, r, http.StatusConflict, "too-many-webhooks", err.Error(), nil)
	case errors.Is(err, endpoints.ErrUnavailable):
		s.Log.Warn("blob store unavailable", "path", r.URL.Path, "error", err)
		s.unavailable(w, r, "the blob store is not reachable; try again shortly")
	default:
		return false
	}
	return true
}
