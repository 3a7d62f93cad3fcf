package job

import (
	"cmp"
	"slices"
	"time"
)

// QueryEvents is the name of the workflow query that returns a job's
// Tracked view: the status view together with the revision at which each
// part of it last changed. GET /jobs/{id}/events turns it into events.
const QueryEvents = "events"

// The types of the events of GET /jobs/{id}/events.
const (
	EventStatus   = "status"
	EventStep     = "step"
	EventProgress = "progress"
	EventEnd      = "end"
)

// Tracked is a job's view with its revisions. The workflow keeps it: every
// change of the job's status, of a step's state and of a step's progress
// takes the next number of one sequence, so that the numbers are the same
// whichever worker answers and whichever API replica asks (the workflow's
// state is rebuilt by replaying its history), and they only grow.
type Tracked struct {
	View View      `json:"view"`
	Revs Revisions `json:"revisions"`
}

// Revisions are the revision numbers of the parts of a job's view.
type Revisions struct {
	// Last is the highest revision given so far (0: none).
	Last int64 `json:"last"`
	// Status is the revision of the job's status.
	Status int64 `json:"status"`
	// Steps holds one entry per step of the view, in its order.
	Steps []StepRevisions `json:"steps"`
}

// StepRevisions are the revisions of one step: its state (status,
// attempt, worker, times, last error) and its progress.
type StepRevisions struct {
	State    int64 `json:"state"`
	Progress int64 `json:"progress"`
}

// Observe records the changes from prev to cur: each part that differs
// takes the next revision, the steps in order (a step's progress before its
// state, so that a step's last progress precedes its end) and then the
// job's status (which follows from its steps'). It is pure and deterministic, so workflow code
// calls it.
func (r *Revisions) Observe(prev, cur View) {
	next := func() int64 { r.Last++; return r.Last }
	for i, s := range cur.Steps {
		if i >= len(r.Steps) {
			r.Steps = append(r.Steps, StepRevisions{})
		}
		var old Step
		known := i < len(prev.Steps)
		if known {
			old = prev.Steps[i]
		}
		if s.Progress != nil && (!known || !sameProgress(old.Progress, s.Progress)) {
			r.Steps[i].Progress = next()
		}
		if !known || !sameState(old, s) {
			r.Steps[i].State = next()
		}
	}
	if cur.Status != prev.Status || !sameError(cur.Error, prev.Error) {
		r.Status = next()
	}
}

// Changed reports whether Observe would record anything.
func Changed(prev, cur View) bool {
	if cur.Status != prev.Status || !sameError(cur.Error, prev.Error) || len(cur.Steps) != len(prev.Steps) {
		return true
	}
	for i := range cur.Steps {
		if !sameState(prev.Steps[i], cur.Steps[i]) || !sameProgress(prev.Steps[i].Progress, cur.Steps[i].Progress) {
			return true
		}
	}
	return false
}

// Snapshot is a copy of v that shares nothing changeable with it, so that
// later changes to v can be told from it.
func Snapshot(v View) View {
	v.Steps = slices.Clone(v.Steps)
	for i := range v.Steps {
		if p := v.Steps[i].Progress; p != nil {
			cp := *p
			v.Steps[i].Progress = &cp
		}
	}
	if v.Error != nil {
		e := *v.Error
		v.Error = &e
	}
	return v
}

func sameError(a, b *Error) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func sameState(a, b Step) bool {
	return a.Name == b.Name && a.Status == b.Status && a.Attempt == b.Attempt && a.Worker == b.Worker &&
		sameTime(a.StartedAt, b.StartedAt) && sameTime(a.FinishedAt, b.FinishedAt) && a.LastError == b.LastError
}

func sameProgress(a, b *Progress) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func sameTime(a, b *time.Time) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Equal(*b))
}

// Event is one event of a job's stream: its id (the revision of the change
// it tells, or for the end one past the last revision), its type
// (EventStatus, …) and its data, which is JSON-encoded on the wire.
type Event struct {
	ID   int64
	Type string
	Data any
}

// StatusChange is the data of a status event.
type StatusChange struct {
	ID     string `json:"id"`
	Status Status `json:"status"`
	Error  *Error `json:"error,omitempty"`
}

// StepChange is the data of a step event: a step was scheduled, picked up
// (again, for a retry) or ended.
type StepChange struct {
	ID    string `json:"id"`
	Index int    `json:"index"`
	Step  Step   `json:"step"`
}

// ProgressChange is the data of a progress event.
type ProgressChange struct {
	ID    string `json:"id"`
	Index int    `json:"index"`
	Step  string `json:"step"`
	Done  int64  `json:"done"`
	Total int64  `json:"total"`
}

// EventsAfter is what a client that has seen every event up to id after
// has not seen: each part of t whose revision is above after, with its
// current value, in the order of the revisions. Intermediate values of a
// part that changed more than once meanwhile are not repeated: a stream
// always carries each part's latest value.
func EventsAfter(t Tracked, after int64) []Event {
	var out []Event
	v := t.View
	if t.Revs.Status > after {
		out = append(out, Event{ID: t.Revs.Status, Type: EventStatus, Data: StatusChange{ID: v.ID, Status: v.Status, Error: v.Error}})
	}
	for i, s := range v.Steps {
		if i >= len(t.Revs.Steps) {
			break
		}
		rev := t.Revs.Steps[i]
		if rev.State > after {
			st := s
			st.Progress = nil
			out = append(out, Event{ID: rev.State, Type: EventStep, Data: StepChange{ID: v.ID, Index: i, Step: st}})
		}
		if rev.Progress > after && s.Progress != nil {
			out = append(out, Event{ID: rev.Progress, Type: EventProgress, Data: ProgressChange{ID: v.ID, Index: i, Step: s.Name, Done: s.Progress.Done, Total: s.Progress.Total}})
		}
	}
	slices.SortFunc(out, func(a, b Event) int { return cmp.Compare(a.ID, b.ID) })
	return out
}
