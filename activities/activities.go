// Package activities holds the steps of Docket's jobs. Each activity is a
// method of Activities so that its dependencies (HTTP client, identity) are
// set once per worker process.
package activities

import (
	"context"
	"net/http"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/docket-dev/docket/job"
)

// Activity names, registered explicitly so that renaming a Go method cannot
// silently change the name recorded in running workflows' histories.
const (
	NameSum        = "sum"
	NameCountWords = "count_words"
)

// Activities holds what Docket's activities need from their worker process.
type Activities struct {
	// Worker identifies this worker process in step reports.
	Worker string
	// HTTP fetches pages for wordcount; build it with NewFetchClient so
	// that private destinations are refused.
	HTTP *http.Client
	// MaxFetchBytes caps the size of a fetched page.
	MaxFetchBytes int64
}

// Register registers the general activities on w under their constant names.
func Register(w worker.ActivityRegistry, a *Activities) {
	w.RegisterActivityWithOptions(a.Sum, activity.RegisterOptions{Name: NameSum})
	w.RegisterActivityWithOptions(a.CountWords, activity.RegisterOptions{Name: NameCountWords})
}

// RegisterEntities registers the entities step, which runs with the
// general activities.
func RegisterEntities(w worker.ActivityRegistry, a *DocumentActivities) {
	w.RegisterActivityWithOptions(a.Entities, activity.RegisterOptions{Name: NameEntities})
}

// RegisterOCR registers the OCR step, for workers of the OCR task queue.
func RegisterOCR(w worker.ActivityRegistry, a *DocumentActivities) {
	w.RegisterActivityWithOptions(a.OCR, activity.RegisterOptions{Name: NameOCR})
}

// RegisterLLM registers the summarize step, for workers of the LLM task queue.
func RegisterLLM(w worker.ActivityRegistry, a *DocumentActivities) {
	w.RegisterActivityWithOptions(a.Summarize, activity.RegisterOptions{Name: NameSummarize})
}

// report describes the current attempt, for the workflow's job view.
func (a *Activities) report(ctx context.Context) job.StepReport { return report(ctx, a.Worker) }

func report(ctx context.Context, worker string) job.StepReport {
	info := activity.GetInfo(ctx)
	return job.StepReport{
		Worker:     worker,
		Attempt:    info.Attempt,
		StartedAt:  info.StartedTime.UTC(),
		FinishedAt: time.Now().UTC(),
	}
}
