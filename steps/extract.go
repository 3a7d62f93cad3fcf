package steps

import (
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/docket-dev/docket/job"
)

// The LLM step of the extract job, which runs OCR first.
var (
	// Extract has the LLM fill in an object conforming to the job's JSON
	// Schema from a document's stored page texts. An attempt may make up
	// to three requests (JSON mode after a refused json_schema, and one
	// follow-up with the validation errors), each bounded by the client's
	// timeout. An answer that still does not conform, a missing LLM and a
	// rejected request fail at once.
	Extract = Def[job.ExtractTextInput, job.ExtractResult]{
		Name:         job.StepExtract,
		Queue:        QueueLLM,
		StartToClose: 10 * time.Minute,
		Retry: &temporal.RetryPolicy{
			InitialInterval:        2 * time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			MaximumAttempts:        8,
			NonRetryableErrorTypes: job.NonRetryable(),
		},
	}
)
