package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/steps"
)

// Kinds is Docket's one list of job types. The API's types and input
// decoding, workflow registration, the check that workers serve every step,
// the OpenAPI document's tests and the recorded histories' coverage all
// come from it: adding a job type is one line here, plus its own files
// (its input and result in job, its steps in steps, its workflow here and
// its activities in activities).
var Kinds = job.Kinds{
	job.Define(job.TypeSum, Sum, steps.Sum.Ref()),
	job.Define(job.TypeWordcount, Wordcount, steps.CountWords.Ref()),
	job.Define(job.TypeDocument, Document, steps.OCR.Ref(), steps.OCRPages.Ref(), steps.OCRAssemble.Ref(), steps.Entities.Ref(), steps.Summarize.Ref()),
	job.Define(job.TypeExtract, Extract, steps.OCR.Ref(), steps.OCRPages.Ref(), steps.OCRAssemble.Ref(), steps.Extract.Ref()),
}

// Register registers every kind's workflow on w (a worker, a test
// environment or a replayer) under the kind's name.
func Register(w worker.WorkflowRegistry) {
	for _, k := range Kinds {
		w.RegisterWorkflowWithOptions(k.Workflow, workflow.RegisterOptions{Name: k.Name})
	}
}
