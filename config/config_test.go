package config_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/config"
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
		{config.CompressionAuto, "10.0.0.5:7233", true},
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

func TestLoadDefaults(t *testing.T) {
	c, err := config.Load()
	require.NoError(t, err)
	require.Equal(t, config.CompressionAuto, c.GRPCCompression)
	require.Equal(t, "docket", c.TaskQueue)
}
