package auth_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/internal/auth"
)

func TestSetup(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys.json")
	require.NoError(t, os.WriteFile(keys, keysFile(t, baseKey("acme", acmeSecret)), 0o600))
	missing := filepath.Join(dir, "missing.json")

	const (
		loopbackWarning = "the API serves WITHOUT authentication, on loopback only; set DOCKET_API_KEYS_FILE"
		offWarning      = "DOCKET_AUTH=off: the API serves WITHOUT authentication on a non-loopback address"
		refusal         = "the API refuses to serve without API keys on a non-loopback address"
	)
	for _, tc := range []struct {
		name, keysFile, authMode, addr string
		wantKeyring                    bool
		wantErr                        []string
		wantWarn                       string
	}{
		{name: "keys file", keysFile: keys, addr: ":8080", wantKeyring: true},
		{name: "keys file on loopback", keysFile: keys, addr: "127.0.0.1:8080", wantKeyring: true},
		{name: "keys file and auth off", keysFile: keys, authMode: "off", addr: ":8080", wantErr: []string{"DOCKET_AUTH=off", "DOCKET_API_KEYS_FILE"}},
		{name: "missing keys file", keysFile: missing, addr: "127.0.0.1:8080", wantErr: []string{"DOCKET_API_KEYS_FILE", "missing.json"}},
		{name: "unknown auth mode", authMode: "on", addr: "127.0.0.1:8080", wantErr: []string{`DOCKET_AUTH="on"`}},

		{name: "127.0.0.1", addr: "127.0.0.1:8080", wantWarn: loopbackWarning},
		{name: "127.3.4.5", addr: "127.3.4.5:8080", wantWarn: loopbackWarning},
		{name: "localhost", addr: "localhost:8080", wantWarn: loopbackWarning},
		{name: "LOCALHOST", addr: "LOCALHOST:8080", wantWarn: loopbackWarning},
		{name: "::1", addr: "[::1]:8080", wantWarn: loopbackWarning},
		{name: "IPv4-mapped loopback", addr: "[::ffff:127.0.0.1]:8080", wantWarn: loopbackWarning},
		{name: "loopback and auth off", authMode: "off", addr: "127.0.0.1:8080", wantWarn: loopbackWarning},

		{name: "every interface", addr: ":8080", wantErr: []string{refusal, "DOCKET_API_KEYS_FILE", "DOCKET_AUTH=off"}},
		{name: "0.0.0.0", addr: "0.0.0.0:8080", wantErr: []string{refusal}},
		{name: "[::]", addr: "[::]:8080", wantErr: []string{refusal}},
		{name: "documentation IPv4", addr: "192.0.2.10:8080", wantErr: []string{refusal}},
		{name: "documentation IPv6", addr: "[2001:db8::1]:8080", wantErr: []string{refusal}},
		{name: "a name", addr: "docket.example:8080", wantErr: []string{refusal}},
		{name: "localhost as a subdomain", addr: "localhost.example:8080", wantErr: []string{refusal}},

		{name: "auth off on every interface", authMode: "off", addr: ":8080", wantWarn: offWarning},
		{name: "auth off on an address", authMode: "off", addr: "192.0.2.10:8080", wantWarn: offWarning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, buf := testLogger()
			k, err := auth.Setup(tc.keysFile, tc.authMode, tc.addr, log)
			if k != nil {
				t.Cleanup(k.Close)
			}
			if tc.wantErr != nil {
				require.Error(t, err)
				for _, want := range tc.wantErr {
					require.ErrorContains(t, err, want)
				}
				require.Nil(t, k)
				return
			}
			require.NoError(t, err)
			if tc.wantKeyring {
				require.NotNil(t, k)
				require.True(t, authenticates(k, acmeSecret))
				require.NotContains(t, buf.String(), "WARN")
				return
			}
			require.Nil(t, k, "no keyring: no authentication")
			require.Contains(t, buf.String(), `"level":"WARN"`)
			require.Contains(t, buf.String(), tc.wantWarn)
		})
	}
}
