package bench

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"time"
)

// benchKey is one API key the harness issues: the key's id, its tenant
// and its secret (what a client sends as Authorization: Bearer <secret>).
type benchKey struct {
	ID, Tenant, Secret string
}

// keyScopes are the scopes of every key the harness writes: everything a
// tenant may do, not admin (an admin key would see every tenant's jobs and
// not be a tenant's client).
var keyScopes = []string{"jobs:read", "jobs:write", "documents:read", "documents:write"}

// newBenchKeys makes one key per tenant, each with a fresh random secret.
func newBenchKeys(tenants ...string) ([]benchKey, error) {
	var keys []benchKey
	for _, t := range tenants {
		s, err := newSecret()
		if err != nil {
			return nil, err
		}
		keys = append(keys, benchKey{ID: "bench-" + t, Tenant: t, Secret: s})
	}
	return keys, nil
}

// newSecret is a secret as `docket-api keys new` makes them (auth.NewSecret):
// dk_ and 32 random bytes in unpadded base64url. The harness is a client of
// Docket and does not link its packages (see clients.go); the tests check
// the file against internal/auth's parser and keyring.
func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random bytes for a secret: %w", err)
	}
	return "dk_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// hashSecret is the lowercase hex SHA-256 of a secret, what the keys file
// stores (auth.HashSecret).
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// keysFileJSON is the keys file (DOCKET_API_KEYS_FILE) holding keys: every
// tenant scope, any priority (max_priority 1, the best), no rate limit and
// no cap on open jobs, so that the API's limits do not shape the load.
func keysFileJSON(keys []benchKey) ([]byte, error) {
	type key struct {
		ID                string   `json:"id"`
		Tenant            string   `json:"tenant"`
		Scopes            []string `json:"scopes"`
		SHA256            string   `json:"sha256"`
		MaxPriority       int      `json:"max_priority"`
		RequestsPerSecond float64  `json:"requests_per_second"`
	}
	f := struct {
		Keys []key `json:"keys"`
	}{Keys: []key{}}
	for _, k := range keys {
		f.Keys = append(f.Keys, key{ID: k.ID, Tenant: k.Tenant, Scopes: slices.Clone(keyScopes), SHA256: hashSecret(k.Secret), MaxPriority: 1})
	}
	return json.MarshalIndent(f, "", "  ")
}

// writeKeysFile writes keys to path, readable by this user only (as
// `docket-api keys new --file` does), and returns the env var that points
// the API at it.
func writeKeysFile(path string, keys []benchKey) (string, error) {
	b, err := keysFileJSON(keys)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return "", err
	}
	return "DOCKET_API_KEYS_FILE=" + path, nil
}

// secretOf is the secret of tenant's key in keys ("" when none).
func secretOf(keys []benchKey, tenant string) string {
	for _, k := range keys {
		if k.Tenant == tenant {
			return k.Secret
		}
	}
	return ""
}

// drainedFraction is the share of closes at or before at: how much of a
// backlog had finished by then (0 for an empty backlog).
func drainedFraction(closes []time.Time, at time.Time) float64 {
	if len(closes) == 0 {
		return 0
	}
	n := 0
	for _, c := range closes {
		if !c.IsZero() && !c.After(at) {
			n++
		}
	}
	return float64(n) / float64(len(closes))
}

// latest is the latest of ts (the zero time when empty).
func latest(ts []time.Time) time.Time {
	var l time.Time
	for _, t := range ts {
		if t.After(l) {
			l = t
		}
	}
	return l
}

// median is the median of xs (0 when empty).
func median(xs []float64) float64 {
	return (&sideTotals{blocks: xs}).median()
}

// pct formats a fraction as a percentage.
func pct(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) }

// fmtPcts formats fractions as a list of percentages.
func fmtPcts(fs []float64) string {
	s := ""
	for i, f := range fs {
		if i > 0 {
			s += ", "
		}
		s += pct(f)
	}
	return s
}
