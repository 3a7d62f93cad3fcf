package workflows_test

import (
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/docket-dev/docket/internal/crypt"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/steps"
	"github.com/docket-dev/docket/workflows"
)

// historyFiles returns every recorded history, of every generation of the
// workflow code (workflows/testdata/histories/<generation>/<case>.json).
func historyFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no recorded histories: run `make histories`")
	return files
}

func quietLogger() tlog.Logger {
	return tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError + 4})))
}

// Every history recorded from real jobs must replay against the current
// workflow code: a change that would break a running job fails here, with
// the file and the SDK's non-determinism error.
//
// Histories are replayed through the encryption codec with the committed
// test ring (tools/teststack), as the recorder wrote the newest ones; the
// older, plain ones pass through the codec unchanged.
func TestReplayRecordedHistories(t *testing.T) {
	ring, err := crypt.LoadRing(t.Context(), filepath.Join("..", "tools", "teststack", "testdata", "encryption-keys.json"), "")
	require.NoError(t, err)
	dc := crypt.DataConverter(ring)
	opts := worker.WorkflowReplayerOptions{DataConverter: dc, FailureConverter: crypt.FailureConverter(dc)}
	for _, file := range historyFiles(t) {
		t.Run(file, func(t *testing.T) {
			r, err := worker.NewWorkflowReplayerWithOptions(opts)
			require.NoError(t, err)
			workflows.Register(r)
			err = replayFile(r, file)
			require.NoError(t, err, "%s no longer replays against the current workflow code.\n"+
				"A workflow change that alters the commands of running jobs must be guarded with workflow.GetVersion; see the README's \"Changing a workflow\".", file)
		})
	}
}

// The newest generation covers every workflow type, and the generations
// on both sides of the final-status change are kept (v1 before, v2 after).
func TestHistoriesCoverEveryWorkflowType(t *testing.T) {
	gens, err := filepath.Glob(filepath.Join("testdata", "histories", "v*"))
	require.NoError(t, err)
	sort.Strings(gens)
	require.NotEmpty(t, gens)
	newest := gens[len(gens)-1]
	for _, typ := range workflows.Kinds.Names() {
		files, err := filepath.Glob(filepath.Join(newest, typ+"-*.json"))
		require.NoError(t, err)
		require.NotEmpty(t, files, "%s has no histories of %s: run `make histories GEN=...`", newest, typ)
	}
	// The newest generation was recorded encrypted (make run's default).
	newestFiles, err := filepath.Glob(filepath.Join(newest, "*.json"))
	require.NoError(t, err)
	for _, f := range newestFiles {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.Contains(t, string(b), base64.StdEncoding.EncodeToString([]byte(crypt.EncodingEncrypted)), "%s holds no encrypted payload", f)
	}
	// A tenant's job: DocketTenant and the fairness key set at start.
	tenant, err := filepath.Glob(filepath.Join(newest, "*-tenant*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, tenant, "%s has no history of a tenant's job", newest)
	for _, f := range tenant {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.Contains(t, string(b), `"`+job.TenantSearchAttribute+`"`, f)
		require.Contains(t, string(b), `"fairnessKey"`, f)
	}
	for _, gen := range []string{"v1", "v2"} {
		files, err := filepath.Glob(filepath.Join("testdata", "histories", gen, "sum-*.json"))
		require.NoError(t, err)
		require.NotEmpty(t, files, "generation %s must be kept while its jobs may run", gen)
	}
}

// alteredSum stands in for a careless edit of Sum: it waits before its step,
// which adds a timer command that recorded histories do not have.
func alteredSum(ctx workflow.Context, in job.SumInput) (job.SumResult, error) {
	if err := workflow.Sleep(ctx, time.Second); err != nil {
		return job.SumResult{}, err
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	var out job.StepOutput[job.SumResult]
	err := workflow.ExecuteActivity(ctx, steps.Sum.Name, in).Get(ctx, &out)
	return out.Result, err
}

// The replay test is only worth having if it catches breakage: replaying a
// recorded history against an altered workflow under the same type name
// must fail with a non-determinism error.
func TestReplayCatchesNonDeterministicChange(t *testing.T) {
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(alteredSum, workflow.RegisterOptions{Name: job.TypeSum})
	err := r.ReplayWorkflowHistoryFromJSONFile(quietLogger(), filepath.Join("testdata", "histories", "v1", "sum-succeeded.json"))
	require.Error(t, err)
	require.Contains(t, err.Error(), "TMPRL1100", "the SDK marks non-determinism errors with TMPRL1100")
}

// maxPayloadBytes is the most any one payload of a job's history may hold:
// large data belongs in the blob store, with only references in history.
const maxPayloadBytes = 256 << 10

func TestRecordedPayloadsAreSmall(t *testing.T) {
	for _, file := range historyFiles(t) {
		raw, err := os.ReadFile(file)
		require.NoError(t, err)
		var doc any
		require.NoError(t, json.Unmarshal(raw, &doc))
		n := 0
		walkPayloads(doc, func(data string) {
			n++
			b, err := base64.StdEncoding.DecodeString(data)
			require.NoError(t, err, file)
			require.LessOrEqual(t, len(b), maxPayloadBytes, "%s holds a payload of %d bytes", file, len(b))
		})
		require.Positive(t, n, "%s has no payloads: is it a history?", file)
	}
}

// walkPayloads calls f with the data of every payload in a history JSON
// document: objects with "metadata" and "data" keys.
func walkPayloads(v any, f func(string)) {
	switch x := v.(type) {
	case map[string]any:
		if data, ok := x["data"].(string); ok {
			if _, ok := x["metadata"]; ok {
				f(data)
			}
		}
		for _, child := range x {
			walkPayloads(child, f)
		}
	case []any:
		for _, child := range x {
			walkPayloads(child, f)
		}
	}
}
