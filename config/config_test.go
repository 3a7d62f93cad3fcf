package config_test

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/config"
	"github.com/docket-dev/docket/job"
)

func TestCompresses(t *testing.T) {
	for _, tc := range []struct {
		setting, hostPort string
		want              bool
	}{
		{config.CompressionAuto, "127.0.0.1:7233", false},
		{config.CompressionAuto, "localhost:7233", false},
		{config.CompressionAuto, "[::1]:7233", false},
		{config.CompressionAuto, "127.0.0.2:7233", false},
		{config.CompressionAuto, "temporal:7233", true},
		{config.CompressionAuto, "203.0.113.5:7233", true}, // a documentation address: the check reads it, nothing dials it
		{config.CompressionAuto, "docket.tmprl.cloud:7233", true},
		{config.CompressionGzip, "127.0.0.1:7233", true},
		{config.CompressionNone, "docket.tmprl.cloud:7233", false},
	} {
		t.Run(tc.setting+" "+tc.hostPort, func(t *testing.T) {
			require.Equal(t, tc.want, config.Config{GRPCCompression: tc.setting}.Compresses(tc.hostPort))
		})
	}
}

func TestLoadRejectsUnknownCompression(t *testing.T) {
	t.Setenv("DOCKET_GRPC_COMPRESSION", "zstd")
	_, err := config.Load()
	require.ErrorContains(t, err, "DOCKET_GRPC_COMPRESSION")

	t.Setenv("DOCKET_GRPC_COMPRESSION", "none")
	c, err := config.Load()
	require.NoError(t, err)
	require.Equal(t, config.CompressionNone, c.GRPCCompression)
}

func TestLoadAuth(t *testing.T) {
	for _, tc := range []struct {
		auth, keysFile string
		wantErr        string
	}{
		{auth: "", keysFile: ""},
		{auth: "off", keysFile: ""},
		{auth: "", keysFile: "/etc/docket/keys.json"},
		{auth: "OFF", wantErr: "DOCKET_AUTH"},
		{auth: "on", wantErr: "DOCKET_AUTH"},
		{auth: "none", wantErr: "DOCKET_AUTH"},
	} {
		t.Run(tc.auth+" "+tc.keysFile, func(t *testing.T) {
			t.Setenv("DOCKET_AUTH", tc.auth)
			t.Setenv("DOCKET_API_KEYS_FILE", tc.keysFile)
			c, err := config.Load()
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.auth, c.Auth)
			require.Equal(t, tc.keysFile, c.APIKeysFile)
		})
	}
}

func TestLoadDefaults(t *testing.T) {
	c, err := config.Load()
	require.NoError(t, err)
	require.Equal(t, config.CompressionAuto, c.GRPCCompression)
	require.Equal(t, "docket", c.TaskQueue)
	require.Empty(t, c.APIKeysFile, "no keys file unless one is configured")
	require.Empty(t, c.Auth, "authentication is not turned off by default")
}

// Defaults ignores the environment: tests built on it must not pick up a
// developer's DOCKET_* settings.
func TestDefaultsIgnoreTheEnvironment(t *testing.T) {
	t.Setenv("DOCKET_TASK_QUEUE", "from-env")
	t.Setenv("DOCKET_LLM_RATE", "7")
	d := config.Defaults()
	require.Equal(t, job.TaskQueue, d.TaskQueue)
	require.InDelta(t, 2.0, d.LLMRate, 0)
	require.Equal(t, 30*time.Second, d.WorkerStopTimeout)

	require.NoError(t, os.Unsetenv("DOCKET_TASK_QUEUE"))
	require.NoError(t, os.Unsetenv("DOCKET_LLM_RATE"))
	loaded, err := config.Load()
	require.NoError(t, err)
	require.Equal(t, d, loaded, "Load in an empty environment gives the defaults")
}

func TestLoadCORSOrigins(t *testing.T) {
	for _, tc := range []struct {
		env     string
		want    []string
		wantErr bool
	}{
		{"", nil, false},
		{"https://app.example.com", []string{"https://app.example.com"}, false},
		{"https://app.example.com,http://localhost:5173", []string{"https://app.example.com", "http://localhost:5173"}, false},
		{"*", []string{"*"}, false},
		{"app.example.com", nil, true},
		{"https://app.example.com/", nil, true},
		{"ftp://app.example.com", nil, true},
	} {
		t.Run(tc.env, func(t *testing.T) {
			t.Setenv("DOCKET_CORS_ORIGINS", tc.env)
			c, err := config.Load()
			if tc.wantErr {
				require.ErrorContains(t, err, "DOCKET_CORS_ORIGINS")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, c.CORSOrigins)
		})
	}
}

// The codec listener decrypts without keys: loopback only, unless allowed
// explicitly.
func TestLoadCodecAddr(t *testing.T) {
	for _, tc := range []struct {
		addr, remote string
		ok           bool
	}{
		{"", "", true},
		{"127.0.0.1:8081", "", true},
		{"localhost:8081", "", true},
		{"[::1]:8081", "", true},
		{":8081", "", false},
		{"0.0.0.0:8081", "", false},
		{"192.0.2.10:8081", "", false},
		{":8081", "true", true},
	} {
		t.Run(tc.addr+" "+tc.remote, func(t *testing.T) {
			t.Setenv("DOCKET_CODEC_ADDR", tc.addr)
			t.Setenv("DOCKET_CODEC_ALLOW_REMOTE", tc.remote)
			_, err := config.Load()
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, "DOCKET_CODEC_ADDR")
		})
	}
}
