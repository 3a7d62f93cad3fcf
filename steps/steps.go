// Package steps declares every step of Docket's jobs once: its activity
// name, its input and output types, the task queue it runs on, its timeouts,
// heartbeat and retry policy. Workflows run a step through its descriptor,
// so the compiler ties the name to the types; workers register the Go
// function bound to each descriptor on the descriptor's queue. It imports no
// engine (no OCR, NER, LLM or blob-store code), so the deterministic
// workflows and the job contract stay small.
package steps

import (
	"context"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/docket-dev/docket/job"
)

// Queue is where a step's activity runs, relative to the job's task queue.
type Queue string

// The step queues. CPU-bound OCR and rate-limited LLM calls have their own,
// so each worker pool is sized apart from the workflows.
const (
	// QueueJobs is the job's own task queue: workflows and light steps.
	QueueJobs Queue = ""
	QueueOCR  Queue = "ocr"
	QueueLLM  Queue = "llm"
)

// Queues lists every step queue.
var Queues = []Queue{QueueJobs, QueueOCR, QueueLLM}

// On is the name of the task queue for jobs on base.
func (q Queue) On(base string) string {
	if q == QueueJobs {
		return base
	}
	return base + "-" + string(q)
}

// Def describes one step whose activity takes In and returns Out (with the
// attempt's report, as every Docket step does).
type Def[In, Out any] struct {
	// Name is the activity type name, recorded in every job's history: it
	// must never change.
	Name  string
	Queue Queue
	// StartToClose bounds one attempt; Heartbeat, when set, is how long a
	// silent worker is trusted before the attempt is given to another.
	StartToClose time.Duration
	Heartbeat    time.Duration
	Retry        *temporal.RetryPolicy
}

// Func is the Go signature of a step's activity.
type Func[In, Out any] = func(context.Context, In) (job.StepOutput[Out], error)

// Options are the activity options of the step for a job on base. The
// workflow waits for a canceled step to acknowledge, so that a canceled job
// has really stopped working when it reports CANCELED.
func (d Def[In, Out]) Options(base string) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           d.Queue.On(base),
		StartToCloseTimeout: d.StartToClose,
		HeartbeatTimeout:    d.Heartbeat,
		RetryPolicy:         d.Retry,
		WaitForCancellation: true,
	}
}

// Ref names the step and its queue for a job.Kind's list of steps.
func (d Def[In, Out]) Ref() job.StepRef {
	return job.StepRef{Name: d.Name, Queue: string(d.Queue)}
}

// Bind pairs the descriptor with the function that implements it; the
// compiler checks that the function takes In and returns Out.
func (d Def[In, Out]) Bind(fn Func[In, Out]) Binding {
	return Binding{Name: d.Name, Queue: d.Queue, Fn: fn}
}

// Binding is a step bound to its implementation, ready to register.
type Binding struct {
	Name  string
	Queue Queue
	Fn    any
}

// DefaultRetry is the retry policy of Docket's steps unless a step needs
// another: back off from one second to half a minute, five attempts, and
// never retry what cannot succeed.
var DefaultRetry = &temporal.RetryPolicy{
	InitialInterval:        time.Second,
	BackoffCoefficient:     2,
	MaximumInterval:        30 * time.Second,
	MaximumAttempts:        5,
	NonRetryableErrorTypes: job.NonRetryable(),
}
