// Package activities holds the steps of Docket's jobs. Each activity is a
// method of Activities so that its dependencies (HTTP client, identity) are
// set once per worker process.
package activities

import (
	"context"
	"net/http"
	"slices"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/steps"
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

// Steps binds the general steps to their implementations. Each name comes
// from its descriptor in package steps, so renaming a Go method cannot
// change the name recorded in running workflows' histories.
func (a *Activities) Steps() []steps.Binding {
	return []steps.Binding{steps.Sum.Bind(a.Sum), steps.CountWords.Bind(a.CountWords)}
}

// Steps binds the document steps to their implementations.
func (a *DocumentActivities) Steps() []steps.Binding {
	return []steps.Binding{steps.OCR.Bind(a.OCR), steps.OCRPages.Bind(a.OCRPages), steps.OCRAssemble.Bind(a.OCRAssemble), steps.Entities.Bind(a.Entities), steps.Summarize.Bind(a.Summarize), steps.Extract.Bind(a.Extract)}
}

// Register registers the bindings on w under their names: every one, or
// only those of the given queues.
func Register(w worker.ActivityRegistry, bindings []steps.Binding, queues ...steps.Queue) {
	for _, b := range bindings {
		if len(queues) == 0 || slices.Contains(queues, b.Queue) {
			w.RegisterActivityWithOptions(b.Fn, activity.RegisterOptions{Name: b.Name})
		}
	}
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
