package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/steps"
)

// Sum is the workflow of the sum job.
func Sum(ctx workflow.Context, in job.SumInput) (job.SumResult, error) {
	r, err := setup(ctx, job.TypeSum, &in)
	if err != nil {
		return job.SumResult{}, err
	}
	out, _, err := runStep(ctx, r, steps.Sum, in)
	return finish(ctx, r, out, err)
}
