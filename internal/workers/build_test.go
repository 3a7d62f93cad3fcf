package workers_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/config"
	"github.com/docket-dev/docket/internal/workers"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/steps"
)

// Configure carries every worker setting of the configuration, so that a
// setting added to config.Config and read here reaches main and tests alike.
func TestConfigureFollowsConfig(t *testing.T) {
	cfg := config.Defaults()
	cfg.TaskQueue = "q"
	cfg.WorkerRoles = []string{workers.RoleOCR}
	cfg.WorkerStopTimeout = 7 * time.Second
	cfg.HeartbeatInterval = 3 * time.Second
	cfg.OCRConcurrency = 4
	cfg.LLMRate = 9
	cfg.FetchMaxBytes = 1234
	o := workers.Configure(cfg, "me")
	require.Equal(t, "q", o.TaskQueue)
	require.Equal(t, []string{workers.RoleOCR}, o.Roles)
	require.Equal(t, "me", o.Identity)
	require.Equal(t, 7*time.Second, o.StopTimeout)
	require.Equal(t, 3*time.Second, o.HeartbeatInterval)
	require.Equal(t, 4, o.OCRConcurrency)
	require.InDelta(t, 9.0, o.LLMRate, 0)
	require.Equal(t, "me", o.General.Worker)
	require.EqualValues(t, 1234, o.General.MaxFetchBytes)
	require.NotNil(t, o.General.HTTP)
	require.Nil(t, o.Document, "the document steps need a blob store")
}

// Build opens the configured blob store for the document steps and hands
// back its release.
func TestBuildOpensTheBlobStore(t *testing.T) {
	cfg := config.Defaults()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.OCRParallelism = 3
	o, release, err := workers.Build(cfg, "me")
	require.NoError(t, err)
	require.NotNil(t, o.Document)
	require.NotNil(t, o.Document.Docs)
	require.NotNil(t, o.Document.NER)
	require.False(t, o.Document.LLM.Configured(), "no LLM endpoint is configured")
	require.Equal(t, "me", o.Document.Worker)
	require.Equal(t, 3, o.Document.Parallelism)
	require.Empty(t, workers.Unbound(append(o.General.Steps(), o.Document.Steps()...)),
		"every step of every kind is implemented on its queue")
	require.NoError(t, release())
}

// Unbound names what a process without the document steps cannot run, and
// a step bound on the wrong queue counts as missing.
func TestUnbound(t *testing.T) {
	o := workers.Configure(config.Defaults(), "me")
	require.ElementsMatch(t, []job.StepRef{
		steps.OCR.Ref(), steps.OCRPages.Ref(), steps.OCRAssemble.Ref(), steps.Entities.Ref(), steps.Summarize.Ref(), steps.Extract.Ref(),
	}, workers.Unbound(o.General.Steps()))
	require.Empty(t, workers.Unbound(append(o.General.Steps(),
		steps.Binding{Name: steps.OCR.Name, Queue: steps.QueueOCR},
		steps.Binding{Name: steps.OCRPages.Name, Queue: steps.QueueOCR},
		steps.Binding{Name: steps.OCRAssemble.Name, Queue: steps.QueueJobs},
		steps.Binding{Name: steps.Entities.Name, Queue: steps.QueueJobs},
		steps.Binding{Name: steps.Summarize.Name, Queue: steps.QueueLLM},
		steps.Binding{Name: steps.Extract.Name, Queue: steps.QueueLLM})))
	require.Equal(t, []job.StepRef{steps.OCR.Ref()}, workers.Unbound(append(o.General.Steps(),
		steps.Binding{Name: steps.OCR.Name, Queue: steps.QueueJobs},
		steps.Binding{Name: steps.OCRPages.Name, Queue: steps.QueueOCR},
		steps.Binding{Name: steps.OCRAssemble.Name, Queue: steps.QueueJobs},
		steps.Binding{Name: steps.Entities.Name, Queue: steps.QueueJobs},
		steps.Binding{Name: steps.Summarize.Name, Queue: steps.QueueLLM},
		steps.Binding{Name: steps.Extract.Name, Queue: steps.QueueLLM})))
}

// Documents refuses to build the document steps without a blob store
// rather than failing on the first document.
func TestDocumentsNeedAStore(t *testing.T) {
	_, err := workers.Documents(config.Defaults(), "me", workers.Resources{})
	require.ErrorContains(t, err, "no blob store")
}
