package job

import (
	"context"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
)

// Queue is what Temporal knows of one of Docket's task queues: for its
// workflow tasks and its activity tasks, the approximate backlog, the age
// of its oldest task, the rates tasks are added and dispatched at, and the
// workers polling it, so that a person sees a surge being absorbed and
// notices a queue nobody polls.
type Queue struct {
	Name     string      `json:"name"`
	Workflow *QueueStats `json:"workflow"`
	Activity *QueueStats `json:"activity"`
}

// QueueStats describes one kind of task of a task queue. Temporal computes
// the figures approximately and refreshes them every few seconds.
type QueueStats struct {
	Backlog      int64    `json:"backlog"`
	OldestAgeMS  int64    `json:"oldest_age_ms"`
	AddRate      float32  `json:"add_rate"`
	DispatchRate float32  `json:"dispatch_rate"`
	Pollers      []Poller `json:"pollers"`
}

// Poller is a worker that polled a task queue recently.
type Poller struct {
	Identity string     `json:"identity"`
	LastSeen *time.Time `json:"last_seen,omitempty"`
}

func (c *Client) namespace() string {
	if c.Namespace != "" {
		return c.Namespace
	}
	return "default"
}

// DescribeQueue reads what Temporal knows of the task queue name.
func (c *Client) DescribeQueue(ctx context.Context, name string) (Queue, error) {
	q := Queue{Name: name}
	for _, typ := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
		resp, err := c.Temporal.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
			Namespace:     c.namespace(),
			TaskQueue:     &taskqueuepb.TaskQueue{Name: name, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
			TaskQueueType: typ,
			ReportStats:   true,
			//lint:ignore SA1019 server 1.29.1 answers no pollers in the classic mode without it.
			ReportPollers: true,
		})
		if err != nil {
			return Queue{}, fmt.Errorf("describe task queue %s: %w", name, classify(err))
		}
		st := &QueueStats{Pollers: []Poller{}}
		if s := resp.GetStats(); s != nil {
			st.Backlog = s.GetApproximateBacklogCount()
			st.OldestAgeMS = s.GetApproximateBacklogAge().AsDuration().Milliseconds()
			st.AddRate, st.DispatchRate = s.GetTasksAddRate(), s.GetTasksDispatchRate()
		}
		for _, p := range resp.GetPollers() {
			poller := Poller{Identity: p.GetIdentity()}
			if t := p.GetLastAccessTime(); t != nil {
				ts := t.AsTime().UTC().Truncate(TimePrecision)
				poller.LastSeen = &ts
			}
			st.Pollers = append(st.Pollers, poller)
		}
		if typ == enumspb.TASK_QUEUE_TYPE_WORKFLOW {
			q.Workflow = st
		} else {
			q.Activity = st
		}
	}
	return q, nil
}
