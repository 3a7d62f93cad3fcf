package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/steps"
)

// Extract is the workflow of the extract job: the document job's OCR, then
// the LLM's structured extraction. Page texts stay in the blob store;
// history carries references, the schema and the extracted object.
func Extract(ctx workflow.Context, in job.ExtractInput) (job.ExtractResult, error) {
	r, err := setup(ctx, job.TypeExtract, &in)
	if err != nil {
		return job.ExtractResult{}, err
	}
	info := workflow.GetInfo(ctx)
	res := job.ExtractResult{DocumentID: in.DocumentID}
	ocrOut, _, err := runOCR(ctx, r, job.OCRInput{JobID: info.WorkflowExecution.ID, Tenant: r.view.Tenant, DocumentID: in.DocumentID, Language: in.Language, Strict: true})
	if err != nil {
		return finish(ctx, r, res, err)
	}
	res.Pages = ocrOut.Pages
	out, _, err := runStep(ctx, r, steps.Extract, job.ExtractTextInput{
		TextInput:  job.TextInput{JobID: info.WorkflowExecution.ID, Tenant: r.view.Tenant, Pages: ocrOut.Pages},
		DocumentID: in.DocumentID, Schema: in.Schema, Instructions: in.Instructions,
	})
	if err != nil {
		return finish(ctx, r, res, err)
	}
	out.DocumentID, out.Pages = in.DocumentID, ocrOut.Pages
	return finish(ctx, r, out, nil)
}
