package activities

import (
	"context"
	"errors"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/llm"
)

// Extract has the configured LLM fill in an object that conforms to the
// job's JSON Schema from the document's stored page texts, validating the
// answer with the same validator the API checked the schema with. It needs
// an LLM: without one it fails at once.
func (a *DocumentActivities) Extract(ctx context.Context, in job.ExtractTextInput) (job.StepOutput[job.ExtractResult], error) {
	var out job.StepOutput[job.ExtractResult]
	if a.LLM == nil || !a.LLM.Configured() {
		return out, temporal.NewNonRetryableApplicationError(
			"the extract step needs an LLM and none is configured: set DOCKET_LLM_BASE_URL (and DOCKET_LLM_MODEL) on the LLM workers",
			string(job.FailLLMNotConfigured), nil)
	}
	schema, err := job.CompileSchema(in.Schema)
	if err != nil {
		// Normalize checked it before the job started; only a hand-made
		// step input gets here.
		return out, temporal.NewNonRetryableApplicationError(err.Error(), string(job.FailInvalidInput), nil)
	}
	a, err = a.forTenant(in.Tenant)
	if err != nil {
		return out, err
	}
	texts, err := a.pageTexts(ctx, in.TextInput)
	if err != nil {
		return out, err
	}
	x, err := a.LLM.Extract(ctx, strings.Join(texts, "\n\n"), in.Schema, in.Instructions, schema.Validate)
	var invalid *llm.InvalidOutputError
	switch {
	case errors.As(err, &invalid):
		return out, temporal.NewNonRetryableApplicationError(invalid.Error(), string(job.FailInvalidLLMOutput), nil)
	case errors.Is(err, llm.ErrNotConfigured):
		return out, temporal.NewNonRetryableApplicationError(err.Error(), string(job.FailLLMNotConfigured), nil)
	case err != nil:
		return out, llmError(err)
	}
	res := job.ExtractResult{DocumentID: in.DocumentID, Data: x.Data, Model: x.Model, Pages: in.Pages, Truncated: x.Truncated}
	if x.Usage != nil {
		res.Usage = &job.Usage{PromptTokens: x.Usage.PromptTokens, CompletionTokens: x.Usage.CompletionTokens, TotalTokens: x.Usage.TotalTokens}
	}
	out.Result = res
	out.Report = report(ctx, a.Worker)
	return out, nil
}
