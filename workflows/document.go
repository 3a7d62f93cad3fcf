package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/docket-dev/docket/activities"
	"github.com/docket-dev/docket/job"
)

// Document is the workflow of the document job: OCR, then entities, then a
// summary, each optional but OCR. Page texts and entity lists stay in the
// blob store; history carries references, counts and small values.
func Document(ctx workflow.Context, in job.DocumentInput) (job.DocumentResult, error) {
	r, err := setup(ctx, job.TypeDocument, &in)
	if err != nil {
		return job.DocumentResult{}, err
	}
	info := workflow.GetInfo(ctx)
	res := job.DocumentResult{DocumentID: in.DocumentID, TimingsMS: map[string]int64{}}

	ocrOut, rep, err := runStep[job.OCRResult](ctx, r, workflow.ActivityOptions{
		// CPU-bound: its own task queue, so OCR workers scale apart.
		TaskQueue:           job.OCRQueue(info.TaskQueueName),
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         defaultRetry,
	}, activities.NameOCR, activities.OCRInput{JobID: info.WorkflowExecution.ID, DocumentID: in.DocumentID, Language: in.Language})
	if err != nil {
		return finish(ctx, r, res, err)
	}
	res.Pages, res.PageTexts = ocrOut.Pages, ocrOut.PageTexts
	res.TimingsMS[job.StepOCR] = rep.FinishedAt.Sub(rep.StartedAt).Milliseconds()
	text := activities.TextInput{JobID: info.WorkflowExecution.ID, Pages: ocrOut.Pages, MaxWords: in.Summarize.MaxWords}

	if in.Has(job.StepEntities) {
		out, rep, err := runStep[job.EntitiesResult](ctx, r, workflow.ActivityOptions{
			StartToCloseTimeout: 10 * time.Minute,
			HeartbeatTimeout:    time.Minute,
			RetryPolicy:         defaultRetry,
		}, activities.NameEntities, text)
		if err != nil {
			return finish(ctx, r, res, err)
		}
		res.Entities = &out
		res.TimingsMS[job.StepEntities] = rep.FinishedAt.Sub(rep.StartedAt).Milliseconds()
	}
	if in.Has(job.StepSummarize) {
		out, rep, err := runStep[job.SummaryResult](ctx, r, workflow.ActivityOptions{
			// I/O-bound and rate-limited by its task queue.
			TaskQueue:           job.LLMQueue(info.TaskQueueName),
			StartToCloseTimeout: 5 * time.Minute,
			RetryPolicy: &temporal.RetryPolicy{
				InitialInterval:    2 * time.Second,
				BackoffCoefficient: 2,
				MaximumInterval:    time.Minute,
				MaximumAttempts:    8,
			},
		}, activities.NameSummarize, text)
		if err != nil {
			return finish(ctx, r, res, err)
		}
		res.Summary = &out
		res.TimingsMS[job.StepSummarize] = rep.FinishedAt.Sub(rep.StartedAt).Milliseconds()
	}
	return finish(ctx, r, res, nil)
}
