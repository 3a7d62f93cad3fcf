package main_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/tools/teststack"
)

// The starter starts a job straight through Temporal and waits for its
// result, as the README shows.
func TestStarterRunsAJob(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := teststack.StartServer(ctx)
	require.NoError(t, err)
	defer func() { _ = srv.Stop() }()
	const queue = "docket-starter-test"
	w, err := teststack.StartWorker(srv.Client(), teststack.WorkerOptions{TaskQueue: queue, Identity: "starter-test-worker"})
	require.NoError(t, err)
	defer w.Stop()

	bin, err := teststack.Build(ctx, ".", t.TempDir())
	require.NoError(t, err)

	run := func(args ...string) (string, string, error) {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), "TEMPORAL_ADDRESS="+srv.Address(), "DOCKET_TASK_QUEUE="+queue,
			"DOCKET_ENCRYPTION_KEYS_FILE="+teststack.RingFile())
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}

	stdout, stderr, err := run("-type", "sum", "-input", `{"start":1,"end":10}`, "-wait")
	require.NoError(t, err, stderr)
	require.JSONEq(t, `{"sum":55,"count":10}`, stdout)

	// Bad input is refused before anything starts.
	_, stderr, err = run("-type", "sum", "-input", `{"start":10,"end":1}`)
	require.Error(t, err)
	require.Contains(t, stderr, "input.end")
}
