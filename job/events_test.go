package job_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/job"
)

// track replays a job's successive views through Revisions, as the
// workflow does, and returns the Tracked after each.
func track(views ...job.View) []job.Tracked {
	var revs job.Revisions
	var last job.View
	var out []job.Tracked
	for _, v := range views {
		if job.Changed(last, v) {
			revs.Observe(last, v)
		}
		last = job.Snapshot(v)
		r := revs
		r.Steps = append([]job.StepRevisions(nil), revs.Steps...)
		out = append(out, job.Tracked{View: last, Revs: r})
	}
	return out
}

func kinds(events []job.Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Type)
	}
	return out
}

// TestEventsAfter: each change takes the next revision; a stream from 0
// tells the whole story, and one that resumes after any id gets exactly
// the parts that changed after it, with their latest values.
func TestEventsAfter(t *testing.T) {
	queued := job.View{ID: "j", Status: job.StatusQueued}
	scheduled := queued
	scheduled.Steps = []job.Step{{Name: "sum", Status: job.StatusQueued}}
	running := scheduled
	running.Status = job.StatusRunning
	running.Steps = []job.Step{{Name: "sum", Status: job.StatusRunning, Attempt: 1, Worker: "w"}}
	p1, p2 := running, running
	p1.Steps = []job.Step{{Name: "sum", Status: job.StatusRunning, Attempt: 1, Worker: "w", Progress: &job.Progress{Done: 1, Total: 4}}}
	p2.Steps = []job.Step{{Name: "sum", Status: job.StatusRunning, Attempt: 1, Worker: "w", Progress: &job.Progress{Done: 3, Total: 4}}}
	done := p2
	done.Status = job.StatusSucceeded
	done.Steps = []job.Step{{Name: "sum", Status: job.StatusSucceeded, Attempt: 1, Worker: "w", Progress: &job.Progress{Done: 4, Total: 4}}}

	ts := track(queued, scheduled, scheduled, running, p1, p2, done)
	final := ts[len(ts)-1]
	require.Equal(t, int64(9), final.Revs.Last, "an unchanged view takes no revision")

	for _, tc := range []struct {
		after int64
		want  []string
		ids   []int64
	}{
		// 1 status, 2 step queued, 3 step running, 4 status running,
		// 5 and 6 progress, then one observation: 7 progress, 8 step
		// end, 9 status.
		{0, []string{"progress", "step", "status"}, []int64{7, 8, 9}},
		{5, []string{"progress", "step", "status"}, []int64{7, 8, 9}},
		{8, []string{"status"}, []int64{9}},
		{9, nil, nil},
	} {
		events := job.EventsAfter(final, tc.after)
		var ids []int64
		for _, e := range events {
			ids = append(ids, e.ID)
		}
		require.Equal(t, tc.want, kinds(events), "after %d", tc.after)
		require.Equal(t, tc.ids, ids, "after %d", tc.after)
	}

	// Followed live, one view after another, a stream tells each change
	// once, in order.
	var cursor int64
	var live []string
	for _, tr := range ts {
		for _, e := range job.EventsAfter(tr, cursor) {
			require.Greater(t, e.ID, cursor)
			cursor = e.ID
			live = append(live, e.Type)
		}
	}
	require.Equal(t, []string{"status", "step", "step", "status", "progress", "progress", "progress", "step", "status"}, live)
	require.Equal(t, final.Revs.Last, cursor)
}
