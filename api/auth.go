package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/docket-dev/docket/documents"
	"github.com/docket-dev/docket/internal/auth"
	"github.com/docket-dev/docket/internal/metrics"
	"github.com/docket-dev/docket/job"
)

// open marks a route that needs no key: health, readiness and the API's
// own documentation, which load balancers and browsers fetch unauthenticated.
const open auth.Scope = ""

// principalKey carries the request's key in its context.
type principalKey struct{}

// principalOf is the key a request was authenticated with; nil when the
// server has no keys.
func principalOf(ctx context.Context) *auth.Principal {
	p, _ := ctx.Value(principalKey{}).(*auth.Principal)
	return p
}

// scopeOf is the job scope of a key: its tenant's jobs, or every job for an
// admin key (whose own jobs and documents are its tenant's, if it has one).
func scopeOf(p *auth.Principal) job.Scope {
	if p == nil {
		return job.AllJobs
	}
	if p.Admin() {
		return job.Scope{All: true, Tenant: p.Tenant}
	}
	return job.TenantScope(p.Tenant)
}

// guard authenticates a request for a route that needs scope, limits the
// key's request rate, and puts the key and its job scope in the request's
// context, from which every handler and job.Client call reads the tenant.
// Without keys (s.Keys nil: loopback or DOCKET_AUTH=off) every request sees
// every job, as before tenants.
func (s *Server) guard(scope auth.Scope, next http.HandlerFunc) http.HandlerFunc {
	if scope == open {
		return next
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Keys == nil {
			next(w, r.WithContext(job.WithScope(r.Context(), job.AllJobs)))
			return
		}
		now := time.Now()
		p, err := s.authenticate(r, now)
		if err != nil {
			var authErr *auth.Error
			detail := "send Authorization: Bearer <key>"
			challenge := `Bearer realm="docket"`
			if errors.As(err, &authErr) {
				detail = authErr.Message
				if authErr.Reason != auth.ReasonMissing {
					challenge += `, error="invalid_token"`
				}
			}
			w.Header().Set("WWW-Authenticate", challenge)
			writeProblem(w, r, http.StatusUnauthorized, "unauthenticated", detail, nil)
			return
		}
		metrics.SetTenant(r, p.Tenant)
		if ok, wait := p.Allow(now); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			writeProblem(w, r, http.StatusTooManyRequests, "rate-limited",
				fmt.Sprintf("key %s is limited in requests per second; try again after Retry-After", p.KeyID), nil)
			return
		}
		if !p.Has(scope) {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="docket", error="insufficient_scope", scope=%q`, scope))
			writeProblem(w, r, http.StatusForbidden, "insufficient-scope",
				fmt.Sprintf("key %s lacks the scope %s this route needs", p.KeyID, scope), nil)
			return
		}
		ctx := context.WithValue(r.Context(), principalKey{}, p)
		next(w, r.WithContext(job.WithScope(ctx, scopeOf(p))))
	}
}

// tenantFilter reads the ?tenant= of a list: an admin key's filter. A
// tenant key may name only its own tenant (or none).
func (s *Server) tenantFilter(w http.ResponseWriter, r *http.Request) (string, bool) {
	t := r.URL.Query().Get("tenant")
	if t == "" {
		return "", true
	}
	scope := job.ScopeOf(r.Context())
	if !scope.All && t != scope.Tenant {
		writeProblem(w, r, http.StatusForbidden, "insufficient-scope", "only an admin key may list another tenant's jobs or documents", nil)
		return "", false
	}
	if !job.ValidTenant(t) {
		s.badParam(w, r, "tenant", "must be a tenant name (lower-case letters, digits, '-' and '_')")
		return "", false
	}
	return t, true
}

// docs is the part of the blob store a request works in: its key's
// tenant's (the part of no tenant without keys, or for an admin key
// without a tenant), or, for an admin key, that of ?tenant=: the same bytes
// are a document of each tenant that uploaded them, so an admin names
// whose. It answers and returns false for a ?tenant= the key may not use.
func (s *Server) docs(w http.ResponseWriter, r *http.Request) (*documents.Store, bool) {
	tenant, ok := s.tenantFilter(w, r)
	if !ok {
		return nil, false
	}
	if tenant == "" {
		tenant = job.ScopeOf(r.Context()).Tenant
	}
	return s.Docs.ForTenant(tenant), true
}

// openJobsRetryAfter is the Retry-After of a tenant at its open-job quota:
// jobs take seconds, and the count is refreshed every second.
const openJobsRetryAfter = 5

// withinQuota applies the key's limits to a start request: the best
// priority it may ask for (a request without one gets the default, or the
// key's best when that is lower), and the tenant's number of unfinished
// jobs, counted in Temporal so that it holds across API replicas (it lags
// by up to a second, plus visibility's own delay). It answers and returns
// false when the request is refused.
func (s *Server) withinQuota(ctx context.Context, w http.ResponseWriter, r *http.Request, req *job.StartRequest) bool {
	p := principalOf(ctx)
	if p == nil {
		return true
	}
	if best := p.MaxPriority; best > job.PriorityHighest {
		if req.Priority == 0 && best > job.PriorityDefault {
			req.Priority = best
		}
		if req.Priority != 0 && req.Priority < best {
			s.fail(w, r, &job.InputError{Field: "priority", Message: fmt.Sprintf(
				"key %s may ask for priority %d to %d (1 runs first)", p.KeyID, best, job.PriorityLowest)})
			return false
		}
	}
	if p.MaxOpenJobs > 0 && p.Tenant != "" {
		n, err := s.Jobs.OpenJobs(ctx, p.Tenant)
		if err != nil {
			s.fail(w, r, err)
			return false
		}
		if n >= int64(p.MaxOpenJobs) && req.IdempotencyKey != "" {
			// A retry of a request that was accepted is answered with its
			// job, not refused: the job it names already counts.
			if _, err := s.Jobs.Owner(ctx, job.IdempotentID(p.Tenant, req.IdempotencyKey)); err == nil {
				return true
			}
		}
		if n >= int64(p.MaxOpenJobs) {
			w.Header().Set("Retry-After", strconv.Itoa(openJobsRetryAfter))
			writeProblem(w, r, http.StatusTooManyRequests, "too-many-open-jobs", fmt.Sprintf(
				"tenant %s has %d unfinished jobs, its limit; start more when some have finished", p.Tenant, n), nil)
			return false
		}
	}
	return true
}
