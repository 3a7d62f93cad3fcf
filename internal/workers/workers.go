// Package workers starts the Temporal workers of a Docket worker process,
// one per role: workflows with the light activities on the base task
// queue, OCR on its own queue (CPU-bound), LLM calls on theirs (I/O-bound,
// rate-limited). One process serves every role by default; operators split
// them to scale each pool on its own.
package workers

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"

	"github.com/docket-dev/docket/activities"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/workflows"
)

// Roles a worker process can take.
const (
	RoleWorkflows = "workflows"
	RoleOCR       = "ocr"
	RoleLLM       = "llm"
	RoleAll       = "all"
)

// Options configures the workers of one process.
type Options struct {
	TaskQueue string
	Roles     []string
	Identity  string
	// StopTimeout lets running activities finish when the process stops.
	StopTimeout time.Duration
	// HeartbeatInterval caps how long heartbeats are held back.
	HeartbeatInterval time.Duration
	// OCRConcurrency bounds the OCR activities running at once.
	OCRConcurrency int
	// LLMRate bounds LLM activities per second on the LLM queue.
	LLMRate  float64
	General  *activities.Activities
	Document *activities.DocumentActivities
}

// Set is the running workers.
type Set struct{ workers []worker.Worker }

// Start starts a worker per role.
func Start(c client.Client, o Options) (*Set, error) {
	roles := o.Roles
	if len(roles) == 0 || slices.Contains(roles, RoleAll) {
		roles = []string{RoleWorkflows, RoleOCR, RoleLLM}
	}
	base := worker.Options{
		Identity:                     o.Identity,
		WorkerStopTimeout:            o.StopTimeout,
		MaxHeartbeatThrottleInterval: o.HeartbeatInterval,
		Interceptors:                 []interceptor.WorkerInterceptor{newStepEvents(c, o.Identity, o.HeartbeatInterval)},
	}
	s := &Set{}
	for _, role := range roles {
		opts := base
		var w worker.Worker
		switch role {
		case RoleWorkflows:
			w = worker.New(c, o.TaskQueue, opts)
			workflows.Register(w)
			activities.Register(w, o.General)
			if o.Document != nil {
				activities.RegisterEntities(w, o.Document)
			}
		case RoleOCR:
			if o.Document == nil {
				continue
			}
			opts.MaxConcurrentActivityExecutionSize = max(1, o.OCRConcurrency)
			opts.DisableWorkflowWorker = true
			w = worker.New(c, job.OCRQueue(o.TaskQueue), opts)
			activities.RegisterOCR(w, o.Document)
		case RoleLLM:
			if o.Document == nil {
				continue
			}
			opts.TaskQueueActivitiesPerSecond = o.LLMRate
			opts.DisableWorkflowWorker = true
			w = worker.New(c, job.LLMQueue(o.TaskQueue), opts)
			activities.RegisterLLM(w, o.Document)
		default:
			s.Stop()
			return nil, fmt.Errorf("unknown worker role %q: want %s, %s, %s or %s", role, RoleWorkflows, RoleOCR, RoleLLM, RoleAll)
		}
		if err := w.Start(); err != nil {
			s.Stop()
			return nil, fmt.Errorf("start %s worker: %w", role, err)
		}
		s.workers = append(s.workers, w)
	}
	return s, nil
}

// Stop stops every worker, letting running activities finish within the
// stop timeout.
func (s *Set) Stop() {
	var wg sync.WaitGroup
	for _, w := range s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.Stop()
		}()
	}
	wg.Wait()
}
