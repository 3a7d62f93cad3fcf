// Package auth authenticates the Jobs API's clients with API keys. The keys
// live in a JSON file that operators write (or extend with `docket-api keys
// new`); the file holds only SHA-256 hashes of the secrets, so reading it
// does not let anyone call the API. A Keyring loads the file and reloads it
// when it changes, so keys are added and revoked without a restart.
package auth

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/docket-dev/docket/job"
)

// Scope is one permission a key grants.
type Scope string

// The scopes a key may grant.
const (
	// ScopeJobsRead lets a key list jobs and read their status and results.
	ScopeJobsRead Scope = "jobs:read"
	// ScopeJobsWrite lets a key start and cancel jobs.
	ScopeJobsWrite Scope = "jobs:write"
	// ScopeDocumentsRead lets a key list and download documents.
	ScopeDocumentsRead Scope = "documents:read"
	// ScopeDocumentsWrite lets a key upload and delete documents.
	ScopeDocumentsWrite Scope = "documents:write"
	// ScopeCodec may use the codec server (POST /codec/encode and
	// /codec/decode): it decrypts any payload of any tenant, so it is a
	// scope of its own, for the Temporal Web UI and operators' CLIs.
	ScopeCodec Scope = "codec"
	// ScopeMetrics may read GET /metrics (Prometheus's scrape): counts and
	// latencies by route, job type and (when enabled) tenant, no job's
	// data, so that a scraper's key can do nothing else.
	ScopeMetrics Scope = "metrics"
	// ScopeAdmin reaches every tenant and implies every other scope.
	ScopeAdmin Scope = "admin"
)

// Scopes lists every known scope, in the order the docs present them.
var Scopes = []Scope{ScopeJobsRead, ScopeJobsWrite, ScopeDocumentsRead, ScopeDocumentsWrite, ScopeCodec, ScopeMetrics, ScopeAdmin}

// Priorities run from 1 (the best) to 5.
const (
	bestPriority  = 1
	worstPriority = 5
)

// tenantPattern bounds a tenant name because it ends up in a Temporal
// visibility query (no quotes or spaces to escape), a blob-store prefix (no
// slashes or dots) and a Temporal fairness key (at most 64 bytes).
var tenantPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Key is one entry of the keys file.
type Key struct {
	// ID names the key in logs and errors; it is not secret.
	ID string `json:"id"`
	// Tenant is whose jobs and documents the key reaches. Only an admin
	// key may leave it empty.
	Tenant string `json:"tenant"`
	// Scopes are what the key may do.
	Scopes []Scope `json:"scopes"`
	// SHA256 is the lowercase hex SHA-256 of the secret (HashSecret). The
	// file keeps only the hash so that a leaked copy of it grants nothing.
	SHA256 string `json:"sha256"`
	// ExpiresAt, when set, is the instant the key stops working.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// MaxOpenJobs caps the tenant's jobs that have not ended (0: no cap).
	MaxOpenJobs int `json:"max_open_jobs,omitzero"`
	// RequestsPerSecond is the key's rate limit (0: none).
	RequestsPerSecond float64 `json:"requests_per_second,omitzero"`
	// MaxPriority is the best priority (1..5, 1 is the best) the key may ask
	// for. A pointer, so that an absent member (any priority) is told apart
	// from a 0 written by mistake.
	MaxPriority *int `json:"max_priority,omitzero"`
}

// file is the keys file's shape. Keys is a pointer so that a file without
// a "keys" member (most likely the wrong file) is an error, while an empty
// list (every key revoked) is not.
type file struct {
	Keys *[]Key `json:"keys"`
}

// Parse decodes and validates a keys file. Unknown members are errors, so
// that a misspelt limit ("max_open_job") is not silently no limit. Errors
// name the key by index and id and the field; they never repeat a hash.
func Parse(data []byte) ([]Key, error) {
	var f file
	if err := job.DecodeStrict(data, &f); err != nil {
		return nil, fmt.Errorf("decode keys file: %w", err)
	}
	if f.Keys == nil {
		return nil, errors.New(`keys file: no "keys" member; want {"keys": [...]}`)
	}
	keys := *f.Keys
	if err := validate(keys); err != nil {
		return nil, err
	}
	return keys, nil
}

// validate checks every key and that ids and hashes are unique.
func validate(keys []Key) error {
	ids := make(map[string]int, len(keys))
	hashes := make(map[string]int, len(keys))
	for i, k := range keys {
		where := fmt.Sprintf("keys[%d]", i)
		if k.ID != "" {
			where += fmt.Sprintf(" (id %q)", k.ID)
		}
		field, err := k.check()
		if err != nil {
			return fmt.Errorf("keys file: %s: %s: %w", where, field, err)
		}
		if j, dup := ids[k.ID]; dup {
			return fmt.Errorf("keys file: %s: id: already used by keys[%d]", where, j)
		}
		ids[k.ID] = i
		// The same secret under two ids would make the key a request
		// authenticates as depend on the order of the file.
		if j, dup := hashes[k.SHA256]; dup {
			return fmt.Errorf("keys file: %s: sha256: the same as keys[%d] (id %q); every key needs its own secret", where, j, keys[j].ID)
		}
		hashes[k.SHA256] = i
	}
	return nil
}

// check validates one key on its own, returning the bad field's name.
func (k Key) check() (field string, err error) {
	if k.ID == "" {
		return "id", errors.New("required")
	}
	if len(k.Scopes) == 0 {
		return "scopes", fmt.Errorf("at least one of %s", scopeList())
	}
	for _, s := range k.Scopes {
		if !slices.Contains(Scopes, s) {
			return "scopes", fmt.Errorf("unknown scope %q; want %s", s, scopeList())
		}
	}
	switch {
	case k.Tenant == "" && slices.Contains(k.Scopes, ScopeAdmin):
		// An admin key reaches every tenant and needs none of its own.
	case k.Tenant == "":
		return "tenant", errors.New("required (only an admin key may have none)")
	case !tenantPattern.MatchString(k.Tenant):
		return "tenant", fmt.Errorf("%q: want 1 to 63 of a-z, 0-9, _ and -, starting with a letter or digit", k.Tenant)
	}
	// The hash is not echoed: it is not the secret, but there is no reason
	// to spread it into logs either.
	if !isSHA256Hex(k.SHA256) {
		return "sha256", errors.New("want 64 lowercase hex characters, the SHA-256 of the secret (docket-api keys new prints it)")
	}
	if k.MaxOpenJobs < 0 {
		return "max_open_jobs", fmt.Errorf("%d: want 0 (no limit) or more", k.MaxOpenJobs)
	}
	if k.RequestsPerSecond < 0 {
		return "requests_per_second", fmt.Errorf("%g: want 0 (no limit) or more", k.RequestsPerSecond)
	}
	if p := k.MaxPriority; p != nil && (*p < bestPriority || *p > worstPriority) {
		return "max_priority", fmt.Errorf("%d: want %d (the best) to %d, or leave it out for any", *p, bestPriority, worstPriority)
	}
	return "", nil
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func scopeList() string {
	names := make([]string, len(Scopes))
	for i, s := range Scopes {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}
