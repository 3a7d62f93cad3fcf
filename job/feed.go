package job

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
)

// Feeds follows jobs for their event streams: one follower per job per
// process, shared by every stream of that job, started by the first
// subscriber and stopped when the last one leaves.
//
// A follower does not poll. It long-polls the job's workflow history
// (GetWorkflowExecutionHistory with WaitNewEvent), which Temporal answers
// as soon as the history grows: a worker's step signal (start and
// progress), a step's scheduling and end, a search-attribute upsert, the
// close. After each growth that is not only workflow-task bookkeeping it
// asks the workflow for its Tracked view (QueryEvents; Temporal holds a
// query behind a pending workflow task, so the answer already reflects the
// new events), and when the workflow closes it reads the job's final view
// as GET /jobs/{id} does.
type Feeds struct {
	Client *Client
	Log    *slog.Logger

	mu    sync.Mutex
	feeds map[string]*Feed
}

// NewFeeds returns the Feeds of c.
func NewFeeds(c *Client, log *slog.Logger) *Feeds {
	if log == nil {
		log = slog.Default()
	}
	return &Feeds{Client: c, Log: log, feeds: map[string]*Feed{}}
}

// Active is the number of jobs followed now.
func (fs *Feeds) Active() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return len(fs.feeds)
}

// Subscribe returns the follower of job id; the caller must have checked
// that the job is in its scope, and must call the returned release when
// its stream ends.
func (fs *Feeds) Subscribe(id string) (*Feed, func()) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := fs.feeds[id]
	if f == nil {
		ctx, cancel := context.WithCancel(context.Background())
		f = &Feed{id: id, changed: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
		fs.feeds[id] = f
		go fs.follow(ctx, f)
	}
	f.subs++
	var once sync.Once
	return f, func() { once.Do(func() { fs.release(f) }) }
}

func (fs *Feeds) release(f *Feed) {
	fs.mu.Lock()
	f.subs--
	last := f.subs == 0
	if last && fs.feeds[f.id] == f {
		delete(fs.feeds, f.id)
	}
	fs.mu.Unlock()
	if last {
		f.cancel()
	}
}

// Feed is what a follower knows of one job; streams read it with State.
type Feed struct {
	id     string
	cancel context.CancelFunc
	done   chan struct{}
	subs   int // guarded by Feeds.mu

	mu      sync.Mutex
	changed chan struct{}
	state   FeedState
}

// FeedState is a follower's knowledge of its job at one moment.
type FeedState struct {
	// Tracked is the workflow's latest answer; Known is false until one
	// arrived.
	Tracked Tracked
	Known   bool
	// End is the job's final view once its workflow has closed.
	End *View
	// Err is set when the job can no longer be followed (it is gone).
	Err error
	// Followed: the follower has read the job's history once, so a job
	// that had ended has End.
	Followed bool
}

// Closing is the status event of an end the workflow could not record
// itself (its run was closed by Temporal: timed out or terminated): the
// final view's status, one past the last revision. ok is false when the
// workflow's own last status is the final one.
func (s FeedState) Closing() (ev Event, ok bool) {
	if s.End == nil || (s.Known && s.Tracked.View.Status == s.End.Status) {
		return Event{}, false
	}
	return Event{ID: s.Tracked.Revs.Last + 1, Type: EventStatus, Data: StatusChange{ID: s.End.ID, Status: s.End.Status, Error: s.End.Error}}, true
}

// EndID is the id of the end event: one past the last revision, and past
// the Closing event if there is one.
func (s FeedState) EndID() int64 {
	if ev, ok := s.Closing(); ok {
		return ev.ID + 1
	}
	return s.Tracked.Revs.Last + 1
}

// State returns what the follower knows and a channel closed at its next
// change.
func (f *Feed) State() (FeedState, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state, f.changed
}

func (f *Feed) known() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state.Known
}

func (f *Feed) followed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state.Followed
}

// Done is closed when the follower has stopped.
func (f *Feed) Done() <-chan struct{} { return f.done }

func (f *Feed) update(change func(*FeedState)) {
	f.mu.Lock()
	change(&f.state)
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

// Timings of a follower.
const (
	// feedRetry is the pause after a failed call to Temporal.
	feedRetry = time.Second
	// feedPageSize is the page size of the history reads.
	feedPageSize = 1000
	// feedUnknownRetry is how often a follower asks a workflow that has
	// not answered its query yet.
	feedUnknownRetry = 3 * time.Second
)

func (fs *Feeds) follow(ctx context.Context, f *Feed) {
	defer close(f.done)
	c := fs.Client
	fs.refresh(ctx, f)
	var token []byte
	for ctx.Err() == nil {
		pollCtx, cancelPoll := ctx, context.CancelFunc(func() {})
		if !f.known() {
			// No worker has answered yet (none runs, or none of this
			// release): ask again every feedUnknownRetry rather than wait
			// for the history to grow, which a job waiting on its workers
			// may not do.
			pollCtx, cancelPoll = context.WithTimeout(ctx, feedUnknownRetry)
		}
		resp, err := c.Temporal.WorkflowService().GetWorkflowExecutionHistory(pollCtx, &workflowservice.GetWorkflowExecutionHistoryRequest{
			Namespace:              c.namespace(),
			Execution:              &commonpb.WorkflowExecution{WorkflowId: f.id},
			MaximumPageSize:        feedPageSize,
			NextPageToken:          token,
			WaitNewEvent:           true,
			HistoryEventFilterType: enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT,
		})
		timedOut := pollCtx.Err() != nil
		cancelPoll()
		if ctx.Err() != nil {
			return
		}
		if err != nil && timedOut {
			fs.refresh(ctx, f)
			continue
		}
		if err != nil {
			var notFound *serviceerror.NotFound
			if errors.As(err, &notFound) {
				f.update(func(s *FeedState) { s.Err = ErrNotFound })
				return
			}
			fs.Log.Warn("follow job history", "job", f.id, "error", err)
			sleep(ctx, feedRetry)
			continue
		}
		token = resp.GetNextPageToken()
		interesting, closed := scanEvents(resp.GetHistory().GetEvents())
		// A full page is one of several that catch up with a long
		// history: only the last is worth a query.
		caughtUp := len(resp.GetHistory().GetEvents()) < feedPageSize
		if closed == enumspb.EVENT_TYPE_UNSPECIFIED && caughtUp && !f.followed() {
			// A short page is the history's end so far, without a close:
			// the job was running when the follower caught up.
			f.update(func(s *FeedState) { s.Followed = true })
		}
		switch {
		case closed == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
			// The job goes on in a new run; follow it from its start.
			token = nil
			fs.refresh(ctx, f)
		case closed != enumspb.EVENT_TYPE_UNSPECIFIED:
			fs.finish(ctx, f)
			return
		case interesting && len(token) > 0 && caughtUp:
			fs.refresh(ctx, f)
		case len(token) == 0:
			// A history that ends without a close event we saw: the run
			// closed meanwhile (or was reset). Read where it stands.
			fs.refresh(ctx, f)
			if v, err := c.Get(ctx, f.id); err == nil && v.Status.Terminal() {
				fs.finish(ctx, f)
				return
			}
		}
	}
}

// scanEvents says whether events hold anything that can change the job's
// view (anything but workflow-task bookkeeping, which follows each change
// and changes nothing itself) and which close event, if any, they end with.
func scanEvents(events []*historypb.HistoryEvent) (interesting bool, closed enumspb.EventType) {
	for _, e := range events {
		switch t := e.GetEventType(); t {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED,
			enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
			enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
			enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
			closed = t
			interesting = true
		default:
			interesting = true
		}
	}
	return interesting, closed
}

// refresh asks the workflow for its Tracked view. A worker that does not
// answer (none is running, or one of an older release that lacks the
// query) leaves the follower with what it had: the workflow's state does
// not change without a worker either.
func (fs *Feeds) refresh(ctx context.Context, f *Feed) {
	c := fs.Client
	qctx, cancel := context.WithTimeout(ctx, max(c.QueryTimeout, time.Second))
	defer cancel()
	resp, err := c.Temporal.QueryWorkflow(qctx, f.id, "", QueryEvents)
	var t Tracked
	if err == nil {
		err = resp.Get(&t)
	}
	if err != nil {
		if ctx.Err() == nil {
			fs.Log.Debug("query job events", "job", f.id, "error", err)
		}
		return
	}
	f.update(func(s *FeedState) {
		// Never go back: a slower answer from before a change may land
		// after a newer one.
		if !s.Known || t.Revs.Last >= s.Tracked.Revs.Last {
			s.Tracked, s.Known = t, true
		}
	})
}

// finish reads a closed job's last revisions and final view.
func (fs *Feeds) finish(ctx context.Context, f *Feed) {
	fs.refresh(ctx, f)
	for ctx.Err() == nil {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		v, err := fs.Client.Get(cctx, f.id)
		cancel()
		if errors.Is(err, ErrNotFound) {
			f.update(func(s *FeedState) { s.Err = ErrNotFound })
			return
		}
		if err == nil {
			f.update(func(s *FeedState) { s.End, s.Followed = &v, true })
			return
		}
		fs.Log.Warn("read the final view of a job", "job", f.id, "error", err)
		sleep(ctx, feedRetry)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
