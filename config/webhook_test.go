package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/config"
)

// DOCKET_WEBHOOK_SECRET is read as a whsec_ secret; anything else stops
// the process at start, with an error that does not repeat the value.
func TestLoadWebhookSecret(t *testing.T) {
	for _, tc := range []struct {
		value   string
		wantErr bool
	}{
		{"", false},
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo=", false},
		{"whsec_not-base64!", true},
		{"sk_live_abcdefabcdefabcdefabcdef", true},
	} {
		t.Run(tc.value, func(t *testing.T) {
			t.Setenv("DOCKET_WEBHOOK_SECRET", tc.value)
			c, err := config.Load()
			if tc.wantErr {
				require.Error(t, err)
				require.NotContains(t, err.Error(), tc.value)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.value, strings.TrimSpace(c.WebhookSecret.Text()), "the secret as set")
		})
	}
}

// DOCKET_WEBHOOK_SECRET_FILE reads the secret from a file (compose's and
// the cluster's form, which keeps it out of the environment); a missing or
// malformed file, or both variables at once, stop the process at start
// without repeating the file's content.
func TestLoadWebhookSecretFile(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo="
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	good := write("good", secret+"\n")
	bad := write("bad", "sk_live_abcdefabcdefabcdefabcdef\n")
	for _, tc := range []struct {
		name, file, value string
		wantErr           string
	}{
		{name: "file", file: good},
		{name: "malformed", file: bad, wantErr: "DOCKET_WEBHOOK_SECRET_FILE"},
		{name: "missing", file: filepath.Join(dir, "none"), wantErr: "DOCKET_WEBHOOK_SECRET_FILE"},
		{name: "both", file: good, value: secret, wantErr: "both set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("DOCKET_WEBHOOK_SECRET_FILE", tc.file)
			t.Setenv("DOCKET_WEBHOOK_SECRET", tc.value)
			c, err := config.Load()
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.NotContains(t, err.Error(), "sk_live")
				require.NotContains(t, err.Error(), secret)
				return
			}
			require.NoError(t, err)
			require.Equal(t, secret, c.WebhookSecret.Text())
		})
	}
}
