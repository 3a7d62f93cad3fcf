package config_test

import (
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
