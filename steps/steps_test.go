package steps_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/steps"
)

// The contract packages (the deterministic workflows, the job model, the
// step descriptors) and the starter link no engine: no S3 SDK, no LLM
// client, no NER model, no phone-number tables, no blob store. They are
// what a client, a replayer or a workflow worker needs; engines belong to
// activity workers. (The starter does link gocloud.dev/secrets: it
// encrypts the payloads it sends with the key ring, whose keys a KMS may
// wrap.)
func TestContractsImportNoEngine(t *testing.T) {
	engines := []string{"github.com/aws/aws-sdk-go", "github.com/openai/openai-go", "github.com/jdkato/prose", "github.com/nyaruka/phonenumbers", "gocloud.dev/blob"}
	for _, pkg := range []string{"./workflows", "./job", "./steps", "./starter"} {
		out, err := exec.Command("go", "list", "-deps", "../"+strings.TrimPrefix(pkg, "./")).CombinedOutput()
		require.NoError(t, err, "%s", out)
		for _, dep := range strings.Fields(string(out)) {
			for _, e := range engines {
				require.False(t, strings.HasPrefix(dep, e), "%s imports %s", pkg, dep)
			}
		}
	}
}

func TestQueueNames(t *testing.T) {
	require.Equal(t, "docket", steps.QueueJobs.On("docket"))
	require.Equal(t, "docket-ocr", steps.QueueOCR.On("docket"))
	require.Equal(t, "docket-llm", steps.QueueLLM.On("docket"))
}

// No step retries a failure that retrying cannot cure, however the
// activity flagged it, and every step has a retry policy.
func TestStepsNeverRetryPermanentFailures(t *testing.T) {
	for name, p := range map[string]*temporal.RetryPolicy{
		steps.Sum.Name: steps.Sum.Retry, steps.CountWords.Name: steps.CountWords.Retry, steps.OCR.Name: steps.OCR.Retry,
		steps.Entities.Name: steps.Entities.Retry, steps.Summarize.Name: steps.Summarize.Retry, steps.Extract.Name: steps.Extract.Retry,
	} {
		require.NotNil(t, p, name)
		for _, f := range job.Failures {
			require.Equal(t, f.Permanent(), slices.Contains(p.NonRetryableErrorTypes, string(f)), "%s: %s", name, f)
		}
	}
	require.True(t, job.FailInvalidLLMOutput.Permanent())
	require.False(t, job.FailLLMUnavailable.Permanent())
	require.False(t, job.FailTimeout.Permanent())
}
