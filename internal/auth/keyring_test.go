package auth_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/internal/auth"
)

const expiredSecret = "dk_test-expired"

func TestAuthenticate(t *testing.T) {
	acme := baseKey("acme-backend", acmeSecret)
	acme["scopes"] = []string{"jobs:read", "jobs:write"}
	acme["expires_at"] = "2027-06-01T00:00:00Z"
	acme["max_open_jobs"] = 1000
	acme["max_priority"] = 2
	admin := baseKey("ops", adminSecret)
	admin["tenant"], admin["scopes"] = "", []string{"admin"}
	old := baseKey("old", expiredSecret)
	old["expires_at"] = "2020-01-01T00:00:00Z"
	other := baseKey("other", otherSecret)
	other["tenant"] = "other"
	_, k, _ := openKeyring(t, acme, admin, old, other)

	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	acmePrincipal := auth.Principal{
		KeyID: "acme-backend", Tenant: "acme", Scopes: []auth.Scope{auth.ScopeJobsRead, auth.ScopeJobsWrite},
		MaxOpenJobs: 1000, MaxPriority: 2,
	}
	for _, tc := range []struct {
		name          string
		authorization string
		now           time.Time
		want          *auth.Principal
		wantReason    auth.Reason
		wantMessage   string
	}{
		{name: "no header", authorization: "", wantReason: auth.ReasonMissing, wantMessage: "send Authorization: Bearer <key>"},
		{name: "blank header", authorization: "  ", wantReason: auth.ReasonMissing, wantMessage: "send Authorization: Bearer <key>"},
		{name: "no scheme", authorization: acmeSecret, wantReason: auth.ReasonMalformed, wantMessage: "send Authorization: Bearer <key>"},
		{name: "basic", authorization: "Basic " + acmeSecret, wantReason: auth.ReasonMalformed, wantMessage: "send Authorization: Bearer <key>"},
		{name: "scheme only", authorization: "Bearer", wantReason: auth.ReasonMalformed, wantMessage: "send Authorization: Bearer <key>"},
		{name: "two tokens", authorization: "Bearer " + acmeSecret + " " + acmeSecret, wantReason: auth.ReasonMalformed, wantMessage: "not a bearer token"},
		{name: "unknown", authorization: "Bearer dk_test-nobody", wantReason: auth.ReasonUnknown, wantMessage: "the key is unknown or revoked"},
		{name: "prefix of a key", authorization: "Bearer " + acmeSecret[:len(acmeSecret)-1], wantReason: auth.ReasonUnknown, wantMessage: "unknown or revoked"},
		{name: "a hash instead of the secret", authorization: "Bearer " + auth.HashSecret(acmeSecret), wantReason: auth.ReasonUnknown, wantMessage: "unknown or revoked"},
		{name: "expired", authorization: "Bearer " + expiredSecret, wantReason: auth.ReasonExpired, wantMessage: "the key expired at 2020-01-01T00:00:00Z"},
		{
			name: "at the expiry instant", authorization: "Bearer " + acmeSecret, now: time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC),
			wantReason: auth.ReasonExpired, wantMessage: "the key expired at 2027-06-01T00:00:00Z",
		},
		{name: "a moment before expiry", authorization: "Bearer " + acmeSecret, now: time.Date(2027, 5, 31, 23, 59, 59, 0, time.UTC), want: &acmePrincipal},
		{name: "valid", authorization: "Bearer " + acmeSecret, want: &acmePrincipal},
		{name: "scheme in lower case", authorization: "bearer " + acmeSecret, want: &acmePrincipal},
		{name: "extra spaces", authorization: " BEARER   " + acmeSecret + " ", want: &acmePrincipal},
		{
			name: "defaults", authorization: "Bearer " + otherSecret,
			want: &auth.Principal{KeyID: "other", Tenant: "other", Scopes: []auth.Scope{auth.ScopeJobsRead}, MaxPriority: 1},
		},
		{
			name: "admin without a tenant", authorization: "Bearer " + adminSecret,
			want: &auth.Principal{KeyID: "ops", Scopes: []auth.Scope{auth.ScopeAdmin}, MaxPriority: 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at := now
			if !tc.now.IsZero() {
				at = tc.now
			}
			p, err := k.Authenticate(tc.authorization, at)
			if tc.want == nil {
				var authErr *auth.Error
				require.True(t, errors.As(err, &authErr), "want *auth.Error, got %v", err)
				require.Equal(t, tc.wantReason, authErr.Reason)
				require.Contains(t, authErr.Message, tc.wantMessage)
				require.Equal(t, authErr.Message, err.Error())
				require.Nil(t, p)
				for _, secret := range []string{acmeSecret, expiredSecret} {
					require.NotContains(t, err.Error(), secret, "errors never echo the secret")
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want.KeyID, p.KeyID)
			require.Equal(t, tc.want.Tenant, p.Tenant)
			require.Equal(t, tc.want.Scopes, p.Scopes)
			require.Equal(t, tc.want.MaxOpenJobs, p.MaxOpenJobs)
			require.Equal(t, tc.want.MaxPriority, p.MaxPriority)
		})
	}

	t.Run("expired names the key for logs", func(t *testing.T) {
		_, err := k.Authenticate("Bearer "+expiredSecret, now)
		var authErr *auth.Error
		require.True(t, errors.As(err, &authErr))
		require.Equal(t, "old", authErr.KeyID)
	})
}

// A caller that edits a principal's scopes does not edit the key.
func TestPrincipalScopesAreACopy(t *testing.T) {
	_, k, _ := openKeyring(t, baseKey("a", acmeSecret))
	p, err := k.Authenticate("Bearer "+acmeSecret, time.Now())
	require.NoError(t, err)
	p.Scopes[0] = auth.ScopeAdmin
	p, err = k.Authenticate("Bearer "+acmeSecret, time.Now())
	require.NoError(t, err)
	require.Equal(t, []auth.Scope{auth.ScopeJobsRead}, p.Scopes)
	require.False(t, p.Admin())
}

func TestPrincipalHas(t *testing.T) {
	for _, tc := range []struct {
		scopes []auth.Scope
		has    []auth.Scope
		admin  bool
	}{
		{scopes: []auth.Scope{auth.ScopeJobsRead}, has: []auth.Scope{auth.ScopeJobsRead}},
		{scopes: []auth.Scope{auth.ScopeJobsWrite}, has: []auth.Scope{auth.ScopeJobsWrite}},
		{scopes: []auth.Scope{auth.ScopeDocumentsRead, auth.ScopeDocumentsWrite}, has: []auth.Scope{auth.ScopeDocumentsRead, auth.ScopeDocumentsWrite}},
		{scopes: []auth.Scope{auth.ScopeAdmin}, has: auth.Scopes, admin: true},
		{scopes: []auth.Scope{auth.ScopeJobsRead, auth.ScopeAdmin}, has: auth.Scopes, admin: true},
		{scopes: nil},
	} {
		t.Run(strings.Join(scopeStrings(tc.scopes), ","), func(t *testing.T) {
			p := &auth.Principal{Scopes: tc.scopes}
			require.Equal(t, tc.admin, p.Admin())
			for _, s := range auth.Scopes {
				want := false
				for _, h := range tc.has {
					want = want || h == s
				}
				require.Equal(t, want, p.Has(s), "Has(%s)", s)
			}
		})
	}
}

func scopeStrings(scopes []auth.Scope) []string {
	out := make([]string, len(scopes))
	for i, s := range scopes {
		out[i] = string(s)
	}
	return out
}

func TestAllow(t *testing.T) {
	type step struct {
		at    time.Duration // since the first request
		ok    bool
		retry time.Duration
	}
	for _, tc := range []struct {
		name  string
		rps   float64
		steps []step
	}{
		{name: "2/s, burst 2", rps: 2, steps: []step{
			{0, true, 0}, {0, true, 0}, {0, false, time.Second},
			{500 * time.Millisecond, true, 0}, {500 * time.Millisecond, false, time.Second},
			{2 * time.Second, true, 0}, {2 * time.Second, true, 0}, {2 * time.Second, false, time.Second},
		}},
		{name: "1.5/s, burst 2", rps: 1.5, steps: []step{{0, true, 0}, {0, true, 0}, {0, false, time.Second}}},
		{name: "0.25/s, burst 1", rps: 0.25, steps: []step{
			{0, true, 0}, {0, false, 4 * time.Second},
			{time.Second, false, 3 * time.Second},
			{3500 * time.Millisecond, false, time.Second}, // half a second, rounded up
			{4 * time.Second, true, 0},
		}},
		{name: "0.1/s", rps: 0.1, steps: []step{{0, true, 0}, {0, false, 10 * time.Second}, {10 * time.Second, true, 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := baseKey("a", acmeSecret)
			key["requests_per_second"] = tc.rps
			_, k, _ := openKeyring(t, key)
			t0 := time.Now()
			for i, s := range tc.steps {
				// Every request authenticates anew, as every HTTP request
				// will: the bucket belongs to the key, not to a principal.
				p, err := k.Authenticate("Bearer "+acmeSecret, t0)
				require.NoError(t, err)
				ok, retry := p.Allow(t0.Add(s.at))
				require.Equal(t, s.ok, ok, "step %d", i)
				require.Equal(t, s.retry, retry, "step %d", i)
			}
		})
	}

	t.Run("no limit", func(t *testing.T) {
		_, k, _ := openKeyring(t, baseKey("a", acmeSecret))
		p, err := k.Authenticate("Bearer "+acmeSecret, time.Now())
		require.NoError(t, err)
		now := time.Now()
		for range 1000 {
			ok, retry := p.Allow(now)
			require.True(t, ok)
			require.Zero(t, retry)
		}
	})
}

func TestOpenFails(t *testing.T) {
	dir := t.TempDir()
	invalid := filepath.Join(dir, "invalid.json")
	require.NoError(t, os.WriteFile(invalid, []byte(`{"keys": [{"id": "a"}]}`), 0o600))
	for _, tc := range []struct {
		name, path, wantErr string
	}{
		{"missing", filepath.Join(dir, "missing.json"), "missing.json"},
		{"invalid", invalid, `keys[0] (id "a")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := auth.Open(tc.path, nil)
			require.ErrorContains(t, err, tc.wantErr)
			require.Nil(t, k)
		})
	}
}

// The file is reloaded whether it is replaced (a rename, as editors and
// config maps do) or rewritten in place.
func TestReload(t *testing.T) {
	path, k, log := openKeyring(t, baseKey("acme", acmeSecret))
	require.True(t, authenticates(k, acmeSecret))
	require.False(t, authenticates(k, otherSecret))

	replaceFile(t, path, keysFile(t, baseKey("other", otherSecret)))
	require.Eventually(t, func() bool { return authenticates(k, otherSecret) }, 5*time.Second, 10*time.Millisecond)
	require.False(t, authenticates(k, acmeSecret), "a key taken out of the file is revoked")

	require.NoError(t, os.WriteFile(path, keysFile(t, baseKey("other", otherSecret), baseKey("acme", acmeSecret)), 0o600))
	require.Eventually(t, func() bool { return authenticates(k, acmeSecret) }, 5*time.Second, 10*time.Millisecond)
	require.True(t, authenticates(k, otherSecret))
	require.Contains(t, log.String(), "api keys reloaded")
}

// A broken file keeps the keys in use and is logged, once, without hashes.
func TestReloadKeepsKeysOfABrokenFile(t *testing.T) {
	path, k, log := openKeyring(t, baseKey("acme", acmeSecret))
	bad := baseKey("other", otherSecret)
	bad["tenant"] = "Other"
	for _, tc := range []struct {
		name    string
		change  func()
		wantLog string
	}{
		{"invalid key", func() { replaceFile(t, path, keysFile(t, baseKey("acme", acmeSecret), bad)) }, `api keys file invalid; keeping the previous keys`},
		{"half written", func() {
			data := keysFile(t, baseKey("acme", acmeSecret), baseKey("other", otherSecret))
			replaceFile(t, path, data[:len(data)/2])
		}, `api keys file invalid; keeping the previous keys`},
		{"empty", func() { replaceFile(t, path, nil) }, `api keys file invalid; keeping the previous keys`},
		{"deleted", func() { require.NoError(t, os.Remove(path)) }, `api keys file unreadable; keeping the previous keys`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := strings.Count(log.String(), tc.wantLog)
			tc.change()
			require.Eventually(t, func() bool { return strings.Count(log.String(), tc.wantLog) > before }, 5*time.Second, 10*time.Millisecond)
			require.True(t, authenticates(k, acmeSecret), "the previous keys stay in use")
			require.False(t, authenticates(k, otherSecret))
			time.Sleep(100 * time.Millisecond) // ten more polls
			require.Equal(t, before+1, strings.Count(log.String(), tc.wantLog), "logged once per broken version, not on every poll")
		})
	}
	for _, secret := range []string{acmeSecret, otherSecret} {
		require.NotContains(t, log.String(), secret)
		require.NotContains(t, log.String(), auth.HashSecret(secret), "logs never carry a hash")
	}

	replaceFile(t, path, keysFile(t, baseKey("other", otherSecret)))
	require.Eventually(t, func() bool { return authenticates(k, otherSecret) }, 5*time.Second, 10*time.Millisecond)
	require.False(t, authenticates(k, acmeSecret))
}

// A reload keeps a key's bucket while its rate stays the same, so that
// editing the file does not hand every client a fresh burst; a new rate
// gets a new bucket.
func TestReloadKeepsRateLimits(t *testing.T) {
	acme := baseKey("acme", acmeSecret)
	acme["requests_per_second"] = 1
	path, k, _ := openKeyring(t, acme)
	now := time.Now()
	allowed := func() bool {
		p, err := k.Authenticate("Bearer "+acmeSecret, now)
		require.NoError(t, err)
		ok, _ := p.Allow(now)
		return ok
	}
	require.True(t, allowed())
	require.False(t, allowed(), "the burst of 1 is spent")

	replaceFile(t, path, keysFile(t, acme, baseKey("other", otherSecret)))
	require.Eventually(t, func() bool { return authenticates(k, otherSecret) }, 5*time.Second, 10*time.Millisecond)
	require.False(t, allowed(), "the reload kept acme's spent bucket")

	acme["requests_per_second"] = 5
	replaceFile(t, path, keysFile(t, acme, baseKey("other", otherSecret)))
	require.Eventually(t, allowed, 5*time.Second, 10*time.Millisecond, "a new rate is a new bucket")
	for range 4 {
		require.True(t, allowed(), "the new burst is 5")
	}
	require.False(t, allowed())
}

func TestCloseStopsReloading(t *testing.T) {
	path, k, _ := openKeyring(t, baseKey("acme", acmeSecret))
	k.Close()
	k.Close() // and may be called again, as the test's cleanup does
	replaceFile(t, path, keysFile(t, baseKey("other", otherSecret)))
	time.Sleep(100 * time.Millisecond) // ten polls, had the poller run on
	require.False(t, authenticates(k, otherSecret))
	require.True(t, authenticates(k, acmeSecret), "the keys last loaded stay in use")
}
