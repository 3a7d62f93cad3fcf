package job

import (
	"context"
	"regexp"

	"go.temporal.io/sdk/temporal"
)

// tenantPattern is what a tenant name looks like. A tenant ends up in a
// visibility query, a blob-store prefix and a Temporal fairness key (at most
// 64 bytes), so it is kept to a safe alphabet and length.
var tenantPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidTenant reports whether t can name a tenant.
func ValidTenant(t string) bool { return tenantPattern.MatchString(t) }

// Scope is whose jobs a call may see and start: one tenant's (Tenant), or
// every job (All: an admin key, or an API serving without keys). A tenant's
// scope sees only jobs whose DocketTenant is that tenant; another tenant's
// job is not found, so that its existence does not leak.
type Scope struct {
	Tenant string
	All    bool
}

// AllJobs is the scope of admin keys, the starter and an API without keys.
var AllJobs = Scope{All: true}

// TenantScope is the scope of one tenant's key.
func TenantScope(tenant string) Scope { return Scope{Tenant: tenant} }

// sees reports whether a job of tenant is in the scope.
func (s Scope) sees(tenant string) bool { return s.All || s.Tenant == tenant }

type scopeKey struct{}

// WithScope returns ctx carrying the scope of the caller: the API sets it
// on every request from the request's key.
func WithScope(ctx context.Context, s Scope) context.Context {
	return context.WithValue(ctx, scopeKey{}, s)
}

// ScopeOf is the scope ctx carries. A context without one (the starter and
// Docket's own tools, which talk to Temporal directly and could read every
// job anyway) sees every job.
func ScopeOf(ctx context.Context) Scope {
	if s, ok := ctx.Value(scopeKey{}).(Scope); ok {
		return s
	}
	return AllJobs
}

// tenantKey is the typed key of TenantSearchAttribute.
var tenantKey = temporal.NewSearchAttributeKeyKeyword(TenantSearchAttribute)

// Priorities a job may ask for: Temporal's priority keys, 1 first.
const (
	PriorityHighest = 1
	PriorityDefault = 3
	PriorityLowest  = 5
)
