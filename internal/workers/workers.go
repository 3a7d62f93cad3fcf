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
	"github.com/docket-dev/docket/steps"
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
	// TaskQueue is the base task queue; each role's queue derives from it.
	TaskQueue string
	// Roles are the roles to serve; empty or RoleAll means every role.
	Roles []string
	// Identity names the process to Temporal and in job step reports.
	Identity string
	// StopTimeout lets running activities finish when the process stops.
	StopTimeout time.Duration
	// HeartbeatInterval caps how long heartbeats are held back.
	HeartbeatInterval time.Duration
	// OCRConcurrency bounds the OCR activities running at once.
	OCRConcurrency int
	// LLMRate bounds LLM activities per second on the LLM queue.
	LLMRate float64
	// General are the activities of the steps that need no blob store.
	General *activities.Activities
	// Document are the activities of the document steps; nil leaves them
	// out, and with them the OCR and LLM queues.
	Document *activities.DocumentActivities
	// Notify delivers webhooks (the delivery workflows' step); nil leaves
	// it out.
	Notify *activities.NotifyActivities
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
	bindings := o.General.Steps()
	if o.Notify != nil {
		if o.Notify.Temporal == nil {
			o.Notify.Temporal = c
		}
		bindings = append(bindings, o.Notify.Steps()...)
	}
	if o.Document != nil {
		bindings = append(bindings, o.Document.Steps()...)
		// With the document steps every kind can run: a step a kind
		// names that nothing implements would leave its jobs waiting
		// forever, so it stops the process here instead.
		if missing := Unbound(bindings); len(missing) > 0 {
			return nil, fmt.Errorf("no activity implements the steps %v of workflows.Kinds", missing)
		}
	}
	s := &Set{}
	for _, role := range roles {
		opts := base
		var queue steps.Queue
		switch role {
		case RoleWorkflows:
			queue = steps.QueueJobs
		case RoleOCR:
			queue = steps.QueueOCR
			opts.MaxConcurrentActivityExecutionSize = max(1, o.OCRConcurrency)
			opts.DisableWorkflowWorker = true
		case RoleLLM:
			queue = steps.QueueLLM
			opts.TaskQueueActivitiesPerSecond = o.LLMRate
			opts.DisableWorkflowWorker = true
		default:
			s.Stop()
			return nil, fmt.Errorf("unknown worker role %q: want %s, %s, %s or %s", role, RoleWorkflows, RoleOCR, RoleLLM, RoleAll)
		}
		if role != RoleWorkflows && !hasQueue(bindings, queue) {
			// No step of this process runs there (no blob store: no
			// document steps); polling it would take tasks it cannot run.
			continue
		}
		w := worker.New(c, queue.On(o.TaskQueue), opts)
		if role == RoleWorkflows {
			workflows.Register(w)
		}
		activities.Register(w, bindings, queue)
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

// Unbound lists the steps of workflows.Kinds that no binding implements on
// the step's queue.
func Unbound(bindings []steps.Binding) []job.StepRef {
	var missing []job.StepRef
	for _, k := range workflows.Kinds {
		for _, ref := range k.Steps {
			found := slices.ContainsFunc(bindings, func(b steps.Binding) bool {
				return b.Name == ref.Name && string(b.Queue) == ref.Queue
			})
			if !found && !slices.Contains(missing, ref) {
				missing = append(missing, ref)
			}
		}
	}
	return missing
}

func hasQueue(bindings []steps.Binding, q steps.Queue) bool {
	for _, b := range bindings {
		if b.Queue == q {
			return true
		}
	}
	return false
}
