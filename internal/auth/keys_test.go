package auth_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/internal/auth"
)

// The secrets of the tests' keys. They only have to differ.
const (
	acmeSecret  = "dk_test-acme"
	otherSecret = "dk_test-other"
	adminSecret = "dk_test-admin"
)

func TestParse(t *testing.T) {
	two := 2
	keys, err := auth.Parse([]byte(`{"keys": [
		{"id": "acme-backend", "tenant": "acme", "scopes": ["jobs:read", "jobs:write", "documents:read", "documents:write"],
		 "sha256": "` + auth.HashSecret(acmeSecret) + `", "expires_at": "2027-06-01T00:00:00Z",
		 "max_open_jobs": 1000, "requests_per_second": 50, "max_priority": 2},
		{"id": "ops", "tenant": "", "scopes": ["admin"], "sha256": "` + auth.HashSecret(adminSecret) + `"},
		{"id": "minimal", "tenant": "b_2-x", "scopes": ["jobs:read"], "sha256": "` + auth.HashSecret(otherSecret) + `"}
	]}`))
	require.NoError(t, err)
	require.Equal(t, []auth.Key{
		{
			ID: "acme-backend", Tenant: "acme",
			Scopes:      []auth.Scope{auth.ScopeJobsRead, auth.ScopeJobsWrite, auth.ScopeDocumentsRead, auth.ScopeDocumentsWrite},
			SHA256:      auth.HashSecret(acmeSecret),
			ExpiresAt:   time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC),
			MaxOpenJobs: 1000, RequestsPerSecond: 50, MaxPriority: &two,
		},
		{ID: "ops", Scopes: []auth.Scope{auth.ScopeAdmin}, SHA256: auth.HashSecret(adminSecret)},
		{ID: "minimal", Tenant: "b_2-x", Scopes: []auth.Scope{auth.ScopeJobsRead}, SHA256: auth.HashSecret(otherSecret)},
	}, keys)

	keys, err = auth.Parse([]byte(`{"keys": []}`))
	require.NoError(t, err, "an empty list revokes every key; it is not an error")
	require.Empty(t, keys)
}

// baseKey is a valid key file entry that the cases of TestParseRejects
// change one member of.
func baseKey(id, secret string) map[string]any {
	return map[string]any{"id": id, "tenant": "acme", "scopes": []string{"jobs:read"}, "sha256": auth.HashSecret(secret)}
}

func TestParseRejects(t *testing.T) {
	badHash := strings.Repeat("A", 64)
	for _, tc := range []struct {
		name string
		// edit changes the first of two valid keys ("a" and "b").
		edit    func(a, b map[string]any)
		raw     string // the whole file instead, when set
		wantErr []string
	}{
		{name: "not JSON", raw: `{"keys": [`, wantErr: []string{"decode keys file"}},
		{name: "null", raw: `null`, wantErr: []string{"decode keys file"}},
		{name: "no keys member", raw: `{}`, wantErr: []string{`no "keys" member`}},
		{name: "unknown top-level member", raw: `{"keys": [], "key": []}`, wantErr: []string{"key"}},
		{name: "unknown key member", edit: func(a, _ map[string]any) { a["max_open_job"] = 5 }, wantErr: []string{"max_open_job"}},
		{name: "wrong type", edit: func(a, _ map[string]any) { a["max_open_jobs"] = "5" }, wantErr: []string{"max_open_jobs"}},
		{name: "no id", edit: func(a, _ map[string]any) { delete(a, "id") }, wantErr: []string{"keys[0]: id: required"}},
		{name: "duplicate id", edit: func(a, _ map[string]any) { a["id"] = "b" }, wantErr: []string{`keys[1] (id "b"): id: already used by keys[0]`}},
		{name: "duplicate hash", edit: func(a, b map[string]any) { a["sha256"] = b["sha256"] }, wantErr: []string{`keys[1] (id "b"): sha256: the same as keys[0] (id "a")`}},
		{name: "no tenant", edit: func(a, _ map[string]any) { a["tenant"] = "" }, wantErr: []string{`keys[0] (id "a"): tenant: required`}},
		{name: "upper-case tenant", edit: func(a, _ map[string]any) { a["tenant"] = "Acme" }, wantErr: []string{`keys[0] (id "a"): tenant: "Acme"`}},
		{name: "tenant with a quote", edit: func(a, _ map[string]any) { a["tenant"] = `acme" OR "x` }, wantErr: []string{`(id "a"): tenant`}},
		{name: "tenant with a slash", edit: func(a, _ map[string]any) { a["tenant"] = "acme/x" }, wantErr: []string{`(id "a"): tenant`}},
		{name: "tenant starting with -", edit: func(a, _ map[string]any) { a["tenant"] = "-acme" }, wantErr: []string{`(id "a"): tenant`}},
		{name: "tenant of 64 bytes", edit: func(a, _ map[string]any) { a["tenant"] = strings.Repeat("a", 64) }, wantErr: []string{`(id "a"): tenant`}},
		{name: "no scopes", edit: func(a, _ map[string]any) { a["scopes"] = []string{} }, wantErr: []string{`(id "a"): scopes: at least one of`}},
		{name: "unknown scope", edit: func(a, _ map[string]any) { a["scopes"] = []string{"jobs:read", "jobs:delete"} }, wantErr: []string{`(id "a"): scopes: unknown scope "jobs:delete"`}},
		{name: "short hash", edit: func(a, _ map[string]any) { a["sha256"] = "abc" }, wantErr: []string{`(id "a"): sha256: want 64 lowercase hex`}},
		{name: "upper-case hash", edit: func(a, _ map[string]any) { a["sha256"] = badHash }, wantErr: []string{`(id "a"): sha256: want 64 lowercase hex`}},
		{name: "secret instead of hash", edit: func(a, _ map[string]any) { a["sha256"] = acmeSecret }, wantErr: []string{`(id "a"): sha256`}},
		{name: "negative max_open_jobs", edit: func(a, _ map[string]any) { a["max_open_jobs"] = -1 }, wantErr: []string{`(id "a"): max_open_jobs: -1`}},
		{name: "negative rps", edit: func(a, _ map[string]any) { a["requests_per_second"] = -0.5 }, wantErr: []string{`(id "a"): requests_per_second: -0.5`}},
		{name: "max_priority 0", edit: func(a, _ map[string]any) { a["max_priority"] = 0 }, wantErr: []string{`(id "a"): max_priority: 0`}},
		{name: "max_priority 6", edit: func(a, _ map[string]any) { a["max_priority"] = 6 }, wantErr: []string{`(id "a"): max_priority: 6`}},
		{name: "bad expires_at", edit: func(a, _ map[string]any) { a["expires_at"] = "next year" }, wantErr: []string{"expires_at"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.raw)
			if tc.raw == "" {
				a, b := baseKey("a", acmeSecret), baseKey("b", otherSecret)
				tc.edit(a, b)
				var err error
				data, err = json.Marshal(map[string]any{"keys": []any{a, b}})
				require.NoError(t, err)
			}
			_, err := auth.Parse(data)
			require.Error(t, err)
			for _, want := range tc.wantErr {
				require.ErrorContains(t, err, want)
			}
			for _, secret := range []string{acmeSecret, otherSecret} {
				require.NotContains(t, err.Error(), auth.HashSecret(secret), "errors never repeat a hash")
				require.NotContains(t, err.Error(), secret)
			}
			require.NotContains(t, err.Error(), badHash)
		})
	}
}

// An admin key may have a tenant too, and the tenant may be as long as a
// fairness key allows.
func TestParseAccepts(t *testing.T) {
	for name, edit := range map[string]func(k map[string]any){
		"admin with a tenant":      func(k map[string]any) { k["scopes"] = []string{"admin"} },
		"tenant of 63 bytes":       func(k map[string]any) { k["tenant"] = strings.Repeat("a", 63) },
		"digit first":              func(k map[string]any) { k["tenant"] = "9lives" },
		"max_priority 5":           func(k map[string]any) { k["max_priority"] = 5 },
		"fractional rps":           func(k map[string]any) { k["requests_per_second"] = 0.5 },
		"explicit zero quotas":     func(k map[string]any) { k["max_open_jobs"], k["requests_per_second"] = 0, 0 },
		"expires_at with a offset": func(k map[string]any) { k["expires_at"] = "2027-06-01T02:00:00+02:00" },
	} {
		t.Run(name, func(t *testing.T) {
			k := baseKey("a", acmeSecret)
			edit(k)
			data, err := json.Marshal(map[string]any{"keys": []any{k}})
			require.NoError(t, err)
			_, err = auth.Parse(data)
			require.NoError(t, err)
		})
	}
}
