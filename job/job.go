// Package job holds Docket's job model: the job types, their inputs and
// results, the status view that the workflow, the API, the starter and the
// temporal CLI all agree on, and the names shared between them.
package job

import (
	"time"
)

// TaskQueue is the default task queue that workers poll and jobs start on.
const TaskQueue = "docket"

// QueryStatus is the name of the workflow query that returns a job's View.
// `temporal workflow query --type status` uses the same name.
const QueryStatus = "status"

// Each job type (TypeSum, TypeDocument, …, one file per kind) is also the
// name of the workflow type registered for it, so that `temporal workflow
// start --type sum` starts the same job the API does; workflows.Kinds
// lists them.

// Status is a job's life-cycle state.
type Status string

// The job statuses. QUEUED means accepted with no step started yet.
const (
	StatusQueued    Status = "QUEUED"
	StatusRunning   Status = "RUNNING"
	StatusSucceeded Status = "SUCCEEDED"
	StatusFailed    Status = "FAILED"
	StatusCanceled  Status = "CANCELED"
	StatusTimedOut  Status = "TIMED_OUT"
)

// Statuses lists every status, for validation and documentation.
var Statuses = []Status{StatusQueued, StatusRunning, StatusSucceeded, StatusFailed, StatusCanceled, StatusTimedOut}

// Terminal reports whether a job in this status will never change again.
func (s Status) Terminal() bool {
	switch s {
	case StatusSucceeded, StatusFailed, StatusCanceled, StatusTimedOut:
		return true
	}
	return false
}

// Valid reports whether s is one of the defined statuses.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// View is what Docket tells about one job. The workflow answers the status
// query with it, and the API adds what only the server knows (whether a
// pending step has been picked up by a worker, close time, terminal status).
type View struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Status Status `json:"status"`
	Input  any    `json:"input,omitempty"`
	// Tenant is the tenant the job belongs to; absent for jobs started
	// without one (the temporal CLI, the starter, an API without keys).
	Tenant string `json:"tenant,omitempty"`
	// Priority is the job's priority key when it asked for one.
	Priority   int        `json:"priority,omitempty"`
	CreatedAt  *time.Time `json:"created_at,omitempty"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Steps      []Step     `json:"steps,omitempty"`
	Error      *Error     `json:"error,omitempty"`
	// CancelRequested is set while a cancellation is on its way to the job.
	CancelRequested bool `json:"cancel_requested,omitempty"`
}

// Step is the state of one step (one activity) of a job.
type Step struct {
	Name       string     `json:"name"`
	Status     Status     `json:"status"`
	Attempt    int32      `json:"attempt,omitempty"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Worker     string     `json:"worker,omitempty"`
	// Workers names every worker that took part in a step whose work was
	// shared out (the pages of a long document), in the order they joined.
	Workers   []string  `json:"workers,omitempty"`
	Progress  *Progress `json:"progress,omitempty"`
	LastError string    `json:"last_error,omitempty"`
}

// Progress counts a step's units of work; activities heartbeat it.
type Progress struct {
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
}

// Error says why a job failed.
type Error struct {
	Type      Failure `json:"type"`
	Message   string  `json:"message"`
	Retryable bool    `json:"retryable"`
}

// StepReport is what every activity returns besides its result, so that the
// workflow can record which worker ran the step and when.
type StepReport struct {
	Worker     string    `json:"worker"`
	Attempt    int32     `json:"attempt"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	// Progress is the step's final count of its units of work, which the
	// finished step keeps showing (its heartbeats end with it).
	Progress *Progress `json:"progress,omitempty"`
}

// StatusSearchAttribute is the name of the Keyword search attribute that
// carries a running job's coarse status (QUEUED or RUNNING) in Temporal
// visibility, so that lists can tell waiting jobs from working ones. The dev
// server and the cluster register it at start.
const StatusSearchAttribute = "DocketStatus"

// TenantSearchAttribute is the name of the Keyword search attribute that
// carries the tenant a job belongs to (set when the job starts; absent for
// jobs started without a tenant, which only admin keys see). It is also the
// job's fairness key. The dev server, the tests, the cluster and compose
// register it with DocketStatus.
const TenantSearchAttribute = "DocketTenant"

// StepOutput is what an activity returns: its result and a report of the
// attempt that produced it. Only small values belong in Result, since it is
// stored in the workflow's history.
type StepOutput[T any] struct {
	Report StepReport `json:"report"`
	Result T          `json:"result"`
}
