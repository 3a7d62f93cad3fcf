package main_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/tools/teststack"
)

// SIGTERM stops the worker gracefully: it stops polling, lets the running
// step finish within the stop timeout (not retried elsewhere) and exits 0.
func TestWorkerStopsGracefully(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	srv, err := teststack.StartServer(ctx)
	require.NoError(t, err)
	defer func() { _ = srv.Stop() }()

	bin, err := teststack.Build(ctx, ".", t.TempDir())
	require.NoError(t, err)

	const queue = "docket-worker-test"
	start := func() *exec.Cmd {
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "TEMPORAL_ADDRESS="+srv.Address(), "DOCKET_TASK_QUEUE="+queue,
			"DOCKET_ENCRYPTION_KEYS_FILE="+teststack.RingFile(),
			"DOCKET_WORKER_STOP_TIMEOUT=30s", "DOCKET_DATA_DIR="+t.TempDir(), "DOCKET_LOG_LEVEL=error")
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
		return cmd
	}
	first := start()

	jobs := teststack.Jobs(srv.Client(), queue)
	v, _, err := jobs.Start(ctx, job.StartRequest{Type: job.TypeSum, Input: json.RawMessage(`{"start":1,"end":100,"work_ms":4000}`)})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got, err := jobs.Get(ctx, v.ID)
		return err == nil && got.Status == job.StatusRunning && len(got.Steps) == 1 && got.Steps[0].Progress != nil
	}, time.Minute, 50*time.Millisecond)

	require.NoError(t, first.Process.Signal(syscall.SIGTERM))
	state, err := first.Process.Wait()
	require.NoError(t, err)
	require.True(t, state.Success(), "the worker exits 0 after a graceful stop: %v", state)

	// The step finished on the stopping worker; a new worker only has to
	// complete the workflow.
	start()
	_, res, err := jobs.Result(ctx, v.ID, time.Minute)
	require.NoError(t, err)
	require.JSONEq(t, `{"sum":5050,"count":100}`, string(res))
	got, err := jobs.Get(ctx, v.ID)
	require.NoError(t, err)
	require.EqualValues(t, 1, got.Steps[0].Attempt, "the step was not retried")
}
