package bench

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The PostgreSQL row states the cluster's settings from cluster/config: the
// parsers must read the real files.
func TestClusterSettingsFromConfig(t *testing.T) {
	yaml, err := os.ReadFile("../../" + clusterTemporalYA)
	require.NoError(t, err)
	require.Regexp(t, `^\d+$`, numHistoryShards(yaml))
	ports := fixedPorts(yaml)
	require.NotEmpty(t, ports)
	for _, p := range ports {
		require.Greater(t, p, 1024)
	}

	dc, err := os.ReadFile("../../" + clusterDynamicYA)
	require.NoError(t, err)
	vals := dynamicConfig(dc)
	require.NotEmpty(t, vals)
	for _, v := range vals {
		k, val, ok := strings.Cut(v, "=")
		require.True(t, ok, v)
		require.NotEmpty(t, k)
		require.NotEmpty(t, val, v)
	}
	require.Contains(t, clusterSettings("../.."), "numHistoryShards")
}

func TestFixedPortsLeavesTemplatedOnesOut(t *testing.T) {
	yaml := []byte(`
services:
  frontend:
    rpc:
      grpcPort: {{ env "X" | default "17233" }}
      membershipPort: 16933
      httpPort: 17243 # comment
  history:
    rpc:
      grpcPort: 17234
      membershipPort: 16933
`)
	require.Equal(t, []int{16933, 17243, 17234}, fixedPorts(yaml))
}

func TestDynamicConfig(t *testing.T) {
	yaml := []byte(`# a comment
limit.maxIDLength:
  - value: 255
# another
system.flag:
  - value: true
matching.x:
  - value: "a"
    constraints: {namespace: "default"}
  - value: b # why
`)
	require.Equal(t, []string{
		"limit.maxIDLength=255",
		"system.flag=true",
		"matching.x=a | b (with constraints)",
	}, dynamicConfig(yaml))
	require.Equal(t, []string{"history.transferProcessorMaxPollRPS", "c"},
		untunedKeys(Tuning{Values: []string{"history.transferProcessorMaxPollRPS=1000", "limit.maxIDLength=1", "c=2"}},
			[]string{"limit.maxIDLength=255"}))
}

func TestParseEnv(t *testing.T) {
	env := parseEnv("TEMPORAL_ADDRESS=127.0.0.1:1\nDOCKET_CLUSTER_API_URLS=http://a http://b\n\nnoise\n")
	require.Equal(t, "127.0.0.1:1", env["TEMPORAL_ADDRESS"])
	require.Equal(t, []string{"http://a", "http://b"}, strings.Fields(env["DOCKET_CLUSTER_API_URLS"]))
	require.Len(t, env, 2)
}

func TestPGRisk(t *testing.T) {
	def := map[string]string{"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on", "wal_sync_method": "fdatasync"}
	require.True(t, strings.HasPrefix(pgRisk(def), "nothing short of disk loss"), pgRisk(def))
	require.Contains(t, pgRisk(def), "`synchronous_commit=on`")

	async := map[string]string{"fsync": "on", "synchronous_commit": "off", "full_page_writes": "on"}
	require.Contains(t, pgRisk(async), "can lose the last commits")

	nofsync := map[string]string{"fsync": "off", "synchronous_commit": "on", "full_page_writes": "off"}
	require.Contains(t, pgRisk(nofsync), "corrupt")
	require.Contains(t, pgRisk(nofsync), "torn pages")

	require.Contains(t, pgRisk(nil), "could not read")
}

// procsMentioning finds a process by a marker in its environment, which is
// how the cluster's leftovers are found after a stop.
func TestProcsMentioning(t *testing.T) {
	marker := "DOCKET_BENCH_TEST_MARKER=" + t.Name()
	cmd := exec.Command("sleep", "30")
	cmd.Env = append(os.Environ(), marker)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	require.Equal(t, []int{cmd.Process.Pid}, procsMentioning(marker))
	require.Empty(t, procsMentioning(marker, cmd.Process.Pid))
}

func TestClusterSkipWithoutTools(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(dir+"/cluster", 0o755))
	require.NoError(t, os.WriteFile(dir+"/"+clusterScript, nil, 0o755))
	require.Contains(t, clusterSkip(dir), "run `make cluster-tools` first")
	require.Contains(t, clusterSkip(t.TempDir()), "not found")
}

// A port the cluster's config fixes and something else holds (a user's
// `make cluster`) makes the harness refuse to start a second cluster.
func TestClusterSkipRefusesBusyFixedPort(t *testing.T) {
	if pgBin("initdb") == "" && os.Geteuid() != 0 {
		t.Skip("PostgreSQL is not installed and this is not root: clusterSkip stops at that check")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	root := t.TempDir()
	for _, f := range []string{clusterScript, clusterServerDir + "/bin/server", clusterServerDir + "/bin/temporal-sql-tool",
		clusterUIServer, clusterCLI, "bin/worker", "bin/docket-api"} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, f), nil, 0o755))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(root, "cluster/config"), 0o755))
	yaml := fmt.Sprintf("services:\n  history:\n    rpc:\n      grpcPort: %d\n", port)
	require.NoError(t, os.WriteFile(filepath.Join(root, clusterTemporalYA), []byte(yaml), 0o644))
	skip := clusterSkip(root)
	require.Contains(t, skip, "refused")
	require.Contains(t, skip, fmt.Sprint(port))

	l.Close()
	require.Empty(t, clusterSkip(root))
}
