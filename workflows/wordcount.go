package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/steps"
)

// Wordcount is the workflow of the wordcount job.
func Wordcount(ctx workflow.Context, in job.WordcountInput) (job.WordcountResult, error) {
	r, err := setup(ctx, job.TypeWordcount, &in)
	if err != nil {
		return job.WordcountResult{}, err
	}
	out, _, err := runStep(ctx, r, steps.CountWords, in)
	return finish(ctx, r, out, err)
}
