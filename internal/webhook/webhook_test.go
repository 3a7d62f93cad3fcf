package webhook_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob"

	"github.com/docket-dev/docket/internal/crypt"
	"github.com/docket-dev/docket/internal/webhook"
	"github.com/docket-dev/docket/internal/webhook/endpoints"
)

// verifier is the Standard Webhooks reference library's verifier of
// secret, not Docket's own code.
func verifier(t *testing.T, s webhook.Secret) *standardwebhooks.Webhook {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(s.Text())
	require.NoError(t, err)
	return wh
}

func signed(t *testing.T, secrets []webhook.Secret, id string, ts time.Time, body []byte) http.Header {
	t.Helper()
	h := http.Header{}
	require.NoError(t, webhook.SetHeaders(h, secrets, id, ts, body))
	return h
}

// Docket's signatures verify with the reference library, under each
// secret that signed; a changed body, id or timestamp, or another secret,
// does not.
func TestSignaturesVerifyWithTheReferenceLibrary(t *testing.T) {
	a, err := webhook.NewSecret()
	require.NoError(t, err)
	b, err := webhook.NewSecret()
	require.NoError(t, err)
	other, err := webhook.NewSecret()
	require.NoError(t, err)
	body := []byte(`{"type":"job.succeeded","timestamp":"2025-06-01T12:00:00Z","data":{"id":"j1"}}`)
	now := time.Now()

	one := signed(t, []webhook.Secret{a}, "j1/notify/0", now, body)
	require.NoError(t, verifier(t, a).Verify(body, one))
	require.Error(t, verifier(t, other).Verify(body, one))

	both := signed(t, []webhook.Secret{b, a}, "j1/notify/0", now, body)
	require.Len(t, strings.Fields(both.Get(webhook.HeaderSignature)), 2)
	require.NoError(t, verifier(t, a).Verify(body, both))
	require.NoError(t, verifier(t, b).Verify(body, both))
	require.Error(t, verifier(t, other).Verify(body, both))

	tests := []struct {
		name string
		edit func(h http.Header, body []byte) []byte
	}{
		{"body changed", func(_ http.Header, body []byte) []byte { return append([]byte(" "), body...) }},
		{"id changed", func(h http.Header, body []byte) []byte { h.Set(webhook.HeaderID, "j1/notify/1"); return body }},
		{"timestamp changed", func(h http.Header, body []byte) []byte {
			h.Set(webhook.HeaderTimestamp, "1")
			return body
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := signed(t, []webhook.Secret{a}, "j1/notify/0", now, body)
			require.Error(t, verifier(t, a).Verify(tt.edit(h, body), h))
		})
	}
}

func TestParseSecret(t *testing.T) {
	s, err := webhook.NewSecret()
	require.NoError(t, err)
	back, err := webhook.ParseSecret(s.Text())
	require.NoError(t, err)
	require.Equal(t, s.Text(), back.Text())
	require.NotContains(t, s.String(), s.Text()[6:], "String must not show the secret")
	for _, bad := range []string{"", "whsec_", "sk_abc", "whsec_!!!", "whsec_c2hvcnQ="} {
		_, err := webhook.ParseSecret(bad)
		require.ErrorIs(t, err, webhook.ErrBadSecret, bad)
	}
}

func openStore(t *testing.T) *endpoints.Store {
	t.Helper()
	b, err := blob.OpenBucket(context.Background(), "file://"+filepath.ToSlash(t.TempDir())+"?create_dir=1&no_tmp_dir=1")
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	ring, err := crypt.RandomRing("k1")
	require.NoError(t, err)
	return endpoints.NewStore(b, ring)
}

// Endpoints are kept per tenant, sealed (their secrets never in the
// clear), rotated with an overlap, marked gone and deleted.
func TestStore(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	now := time.Now()
	e, secret, err := s.Create(ctx, "acme", "https://hooks.example.com/a", []string{"job.succeeded"}, now)
	require.NoError(t, err)
	require.Equal(t, []webhook.Secret{secret}, e.Signing(now))

	raw, err := s.Bucket.ReadAll(ctx, "tenants/acme/webhooks/endpoints/"+e.ID+".json")
	require.NoError(t, err)
	require.True(t, crypt.IsSealed(raw))
	require.NotContains(t, string(raw), secret.Text())

	_, err = s.Get(ctx, "other", e.ID)
	require.ErrorIs(t, err, endpoints.ErrNotFound, "another tenant's endpoint is not found")
	list, err := s.List(ctx, "other")
	require.NoError(t, err)
	require.Empty(t, list)

	rotated, next, err := s.Rotate(ctx, "acme", e.ID, now)
	require.NoError(t, err)
	require.Equal(t, []string{next.Text(), secret.Text()}, texts(rotated.Signing(now)))
	require.Equal(t, []string{next.Text()}, texts(rotated.Signing(now.Add(endpoints.RotationOverlap+time.Second))))

	require.NoError(t, s.MarkGone(ctx, "acme", e.ID, now))
	got, err := s.Get(ctx, "acme", e.ID)
	require.NoError(t, err)
	require.NotNil(t, got.GoneAt)

	require.NoError(t, s.Delete(ctx, "acme", e.ID))
	require.ErrorIs(t, s.Delete(ctx, "acme", e.ID), endpoints.ErrNotFound)
	require.ErrorIs(t, s.Delete(ctx, "acme", "not-a-uuid"), endpoints.ErrNotFound)
}

func texts(ss []webhook.Secret) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Text()
	}
	return out
}

// webhook-secret new writes a secret file (0600) that parses, and never
// replaces one.
func TestSecretCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "webhook-secret")
	var out, errOut strings.Builder
	require.Equal(t, 0, webhook.SecretCommand([]string{"new", path}, &out, &errOut), errOut.String())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	_, err = webhook.ParseSecret(string(b))
	require.NoError(t, err)
	require.NotContains(t, out.String(), strings.TrimSpace(string(b)))
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	require.Equal(t, 1, webhook.SecretCommand([]string{"new", path}, &out, &errOut))
	again, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, b, again)
	require.Equal(t, 2, webhook.SecretCommand(nil, &out, &errOut))
}
