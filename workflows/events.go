package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/docket-dev/docket/job"
)

// jobEvents numbers the changes of a job's view for GET /jobs/{id}/events
// (job.Tracked): a coroutine waits for the view to differ from the last
// snapshot it took and gives each changed part the next revision. It is
// in-memory state and a query, not commands: histories replay unchanged,
// and a replay rebuilds the same numbers on any worker, because the
// coroutine sees the view at the same points of the history (Await's
// condition is checked each time the workflow's coroutines have run).
type jobEvents struct {
	last job.View
	revs job.Revisions
}

// trackEvents registers the events query and starts numbering the
// changes of r's view. ctx must outlive a cancellation (the view still
// changes while a canceled job winds down).
func (r *jobRun) trackEvents(ctx workflow.Context) error {
	ev := &jobEvents{}
	ev.revs.Steps = []job.StepRevisions{}
	ev.observe(r.view)
	if err := workflow.SetQueryHandler(ctx, job.QueryEvents, func() (job.Tracked, error) {
		return job.Tracked{View: ev.last, Revs: ev.revs}, nil
	}); err != nil {
		return err
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			if err := workflow.Await(ctx, func() bool { return job.Changed(ev.last, r.view) }); err != nil {
				return
			}
			ev.observe(r.view)
		}
	})
	return nil
}

// observe records the changes from the last snapshot to v.
func (e *jobEvents) observe(v job.View) {
	e.revs.Observe(e.last, v)
	e.last = job.Snapshot(v)
}
