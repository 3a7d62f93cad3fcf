package auth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/internal/auth"
)

// TestStreamTokens: a token opens its own job's stream as its key, until
// it expires, while its key is in the file and unexpired; anything else is
// refused, an API key most plainly.
func TestStreamTokens(t *testing.T) {
	acme := baseKey("acme-backend", acmeSecret)
	acme["expires_at"] = "2027-06-01T00:00:00Z"
	other := baseKey("other", otherSecret)
	other["tenant"] = "other"
	path, k, _ := openKeyring(t, acme, other)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p, err := k.Authenticate("Bearer "+acmeSecret, now)
	require.NoError(t, err)
	op, err := k.Authenticate("Bearer "+otherSecret, now)
	require.NoError(t, err)
	const jobA, jobB = "job-a", "job-b"
	tok, err := k.MintStreamToken(p, jobA, now.Add(time.Minute))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(tok, auth.StreamTokenPrefix))
	otherTok, err := k.MintStreamToken(op, jobA, now.Add(time.Minute))
	require.NoError(t, err)
	late, err := k.MintStreamToken(p, jobA, time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	body, _, _ := strings.Cut(strings.TrimPrefix(tok, auth.StreamTokenPrefix), ".")
	_, otherSig, _ := strings.Cut(strings.TrimPrefix(otherTok, auth.StreamTokenPrefix), ".")

	for _, tc := range []struct {
		name        string
		token, job  string
		now         time.Time
		wantKey     string
		wantMessage string
	}{
		{name: "valid", token: tok, job: jobA, now: now, wantKey: "acme-backend"},
		{name: "another key's valid token", token: otherTok, job: jobA, now: now, wantKey: "other"},
		{name: "a moment before expiry", token: tok, job: jobA, now: now.Add(time.Minute - time.Nanosecond), wantKey: "acme-backend"},
		{name: "another job", token: tok, job: jobB, now: now, wantMessage: "for another job"},
		{name: "expired", token: tok, job: jobA, now: now.Add(time.Minute), wantMessage: "has expired"},
		{name: "its key expired", token: late, job: jobA, now: time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC), wantMessage: "key that minted the stream token has expired"},
		{name: "an API key", token: acmeSecret, job: jobA, now: now, wantMessage: "never accepted in the query string"},
		{name: "empty", token: "", job: jobA, now: now, wantMessage: "not valid"},
		{name: "garbage", token: auth.StreamTokenPrefix + "%%%.***", job: jobA, now: now, wantMessage: "not valid"},
		{name: "no signature", token: auth.StreamTokenPrefix + body, job: jobA, now: now, wantMessage: "not valid"},
		{name: "another key's signature", token: auth.StreamTokenPrefix + body + "." + otherSig, job: jobA, now: now, wantMessage: "not valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := k.VerifyStreamToken(tc.token, tc.job, tc.now)
			if tc.wantKey != "" {
				require.NoError(t, err)
				require.Equal(t, tc.wantKey, got.KeyID)
				return
			}
			require.Nil(t, got)
			var authErr *auth.Error
			require.ErrorAs(t, err, &authErr)
			require.Contains(t, authErr.Message, tc.wantMessage)
		})
	}

	// Taking the key out of the file revokes its tokens.
	replaceFile(t, path, keysFile(t, other))
	require.Eventually(t, func() bool {
		_, err := k.VerifyStreamToken(tok, jobA, now)
		return err != nil
	}, 5*time.Second, 10*time.Millisecond)
	_, err = k.VerifyStreamToken(otherTok, jobA, now)
	require.NoError(t, err, "the other key's tokens still work")
}
