package steps

import (
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/docket-dev/docket/job"
)

// The steps of the document job; extract shares OCR.
var (
	// OCR reads every page of a document, storing each page's text.
	OCR = Def[job.OCRInput, job.OCRResult]{
		Name:         job.StepOCR,
		Queue:        QueueOCR,
		StartToClose: 30 * time.Minute,
		Heartbeat:    30 * time.Second,
		Retry:        DefaultRetry,
	}
	// OCRPages reads one batch of a long document's pages (see
	// job.OCRPlan); a batch is a few seconds of one worker's cores, so its
	// attempt is bounded far below OCR's and a dead worker's batch moves on
	// after one heartbeat timeout, resuming page-exactly.
	OCRPages = Def[job.OCRPagesInput, job.OCRPagesResult]{
		Name:         job.StepOCRPages,
		Queue:        QueueOCR,
		StartToClose: 10 * time.Minute,
		Heartbeat:    30 * time.Second,
		Retry:        DefaultRetry,
	}
	// OCRAssemble builds a long document's ocr result from its stored
	// pages: light, on the job's own queue.
	OCRAssemble = Def[job.OCRAssembleInput, job.OCRResult]{
		Name:         job.StepOCRAssemble,
		StartToClose: 2 * time.Minute,
		Retry:        DefaultRetry,
	}
	// Entities finds the entities of a document's stored page texts.
	Entities = Def[job.TextInput, job.EntitiesResult]{
		Name:         job.StepEntities,
		StartToClose: 10 * time.Minute,
		Heartbeat:    time.Minute,
		Retry:        DefaultRetry,
	}
	// Summarize summarises a document's stored page texts; I/O-bound and
	// rate-limited by its queue, it backs off longer than the others.
	Summarize = Def[job.TextInput, job.SummaryResult]{
		Name:         job.StepSummarize,
		Queue:        QueueLLM,
		StartToClose: 5 * time.Minute,
		Retry: &temporal.RetryPolicy{
			InitialInterval:        2 * time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			MaximumAttempts:        8,
			NonRetryableErrorTypes: job.NonRetryable(),
		},
	}
)
