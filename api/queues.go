package api

import (
	"context"
	"net/http"

	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/steps"
)

// QueueList is the body of GET /queues.
type QueueList struct {
	Queues []job.Queue `json:"queues"`
}

// listQueues is GET /queues: each of Docket's task queues (the jobs', OCR's
// and LLM's) as Temporal sees them — backlog, age of the oldest task,
// rates, pollers. An admin's view: the queues are shared by every tenant.
func (s *Server) listQueues(w http.ResponseWriter, r *http.Request) {
	base := s.TaskQueue
	if base == "" {
		base = job.TaskQueue
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.CallTimeout)
	defer cancel()
	list := QueueList{Queues: []job.Queue{}}
	for _, q := range steps.Queues {
		d, err := s.Jobs.DescribeQueue(ctx, q.On(base))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		list.Queues = append(list.Queues, d)
	}
	writeJSON(w, http.StatusOK, list)
}
