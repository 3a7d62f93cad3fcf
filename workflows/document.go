package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/steps"
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

	ocrOut, rep, err := runOCR(ctx, r, job.OCRInput{JobID: info.WorkflowExecution.ID, Tenant: r.view.Tenant, DocumentID: in.DocumentID, Language: in.Language, Strict: in.Strict})
	if err != nil {
		return finish(ctx, r, res, err)
	}
	res.Pages, res.PageTexts = ocrOut.Pages, ocrOut.PageTexts
	res.CachedPages, res.FailedPages = ocrOut.CachedPages, ocrOut.FailedPages
	res.TimingsMS[job.StepOCR] = rep.FinishedAt.Sub(rep.StartedAt).Milliseconds()
	text := job.TextInput{JobID: info.WorkflowExecution.ID, Tenant: r.view.Tenant, Pages: ocrOut.Pages, MaxWords: in.Summarize.MaxWords}

	if in.Has(job.StepEntities) {
		out, rep, err := runStep(ctx, r, steps.Entities, text)
		if err != nil {
			return finish(ctx, r, res, err)
		}
		res.Entities = &out
		res.TimingsMS[job.StepEntities] = rep.FinishedAt.Sub(rep.StartedAt).Milliseconds()
	}
	if in.Has(job.StepSummarize) {
		out, rep, err := runStep(ctx, r, steps.Summarize, text)
		if err != nil {
			return finish(ctx, r, res, err)
		}
		res.Summary = &out
		res.TimingsMS[job.StepSummarize] = rep.FinishedAt.Sub(rep.StartedAt).Milliseconds()
	}
	return finish(ctx, r, res, nil)
}
