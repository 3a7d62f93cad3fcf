package workflows_test

import (
	"fmt"
	"os"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// replayFile replays a history file as its job ran: under the job's own
// workflow id, which the file's start event names (the replayer otherwise
// says "ReplayId"). Jobs with webhooks derive their children's ids from
// it (<job id>/notify/<n>), and a replay under another id would produce
// other commands. Older files whose start event lacks the id replay under
// the replayer's default, as before.
func replayFile(r worker.WorkflowReplayer, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	hist, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	if err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	var opts worker.ReplayWorkflowHistoryOptions
	if evs := hist.GetEvents(); len(evs) > 0 {
		if id := evs[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowId(); id != "" {
			opts.OriginalExecution = workflow.Execution{ID: id, RunID: evs[0].GetWorkflowExecutionStartedEventAttributes().GetOriginalExecutionRunId()}
		}
	}
	return r.ReplayWorkflowHistoryWithOptions(quietLogger(), hist, opts)
}
