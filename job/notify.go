package job

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/docket-dev/docket/internal/egress"
)

// Webhook events a job can be delivered.
const (
	EventSucceeded    = "job.succeeded"
	EventFailed       = "job.failed"
	EventCanceled     = "job.canceled"
	EventTimedOut     = "job.timed_out"
	EventStepFinished = "job.step_finished"
)

// TerminalEvents are the events of a job's end: what a notify request
// without events asks for.
var TerminalEvents = []string{EventSucceeded, EventFailed, EventCanceled, EventTimedOut}

// Events lists every event, in the order the docs present them.
var Events = []string{EventSucceeded, EventFailed, EventCanceled, EventTimedOut, EventStepFinished}

// EventOf is the terminal event of a job that ended in status s.
func EventOf(s Status) string {
	switch s {
	case StatusSucceeded:
		return EventSucceeded
	case StatusCanceled:
		return EventCanceled
	case StatusTimedOut:
		return EventTimedOut
	}
	return EventFailed
}

// NotifyWorkflow is the workflow type of one webhook delivery: a child of
// the job's workflow, abandoned when the job closes, so that the job's end
// never waits on a receiver.
const NotifyWorkflow = "docket.notify"

// NotifyTimeoutWorkflow is the workflow type that delivers job.timed_out:
// Temporal closes a job that runs out of time without running its code,
// so a watcher started with the job (only when a receiver asks for the
// event) waits for the job's deadline and, if the job did time out, starts
// the deliveries.
const NotifyTimeoutWorkflow = "docket.notify_timeout"

// SignalJobEnded tells a job's timeout watcher that the job ended by
// itself: nothing to deliver.
const SignalJobEnded = "docket.job_ended"

// TimeoutWatch is the input of a job's timeout watcher.
type TimeoutWatch struct {
	JobID  string `json:"job_id"`
	Tenant string `json:"tenant,omitempty"`
	// Deadline is when the job's time runs out.
	Deadline time.Time      `json:"deadline"`
	Targets  []NotifyTarget `json:"targets"`
	// Data is the deliveries' data: the job's view as it times out.
	Data     EventData     `json:"data"`
	RetryFor time.Duration `json:"retry_for"`
}

// TimeoutWatcherID is the workflow id of a job's timeout watcher.
func TimeoutWatcherID(jobID string) string { return jobID + "/notify/timeout" }

// TimeoutNotificationID is the workflow id of a timed-out job's n-th
// job.timed_out delivery.
func TimeoutNotificationID(jobID string, n int) string {
	return fmt.Sprintf("%s/notify/timeout/%d", jobID, n)
}

// Memo keys of notifications.
const (
	// memoNotify holds a job's NotifyPlan; a job without one has no key.
	memoNotify = "docket_notify"
	// MemoNotification holds a delivery workflow's NotificationMemo.
	MemoNotification = "docket_notification"
)

// MemoNotify is the memo key of a job's NotifyPlan, which its workflow reads.
const MemoNotify = memoNotify

// MaxNotifications bounds the deliveries of one job (targets times events),
// which the job's view lists.
const MaxNotifications = 100

// maxNotifyURLLen bounds a receiver's URL.
const maxNotifyURLLen = 2048

// NotifyRequest is the notify field of a start request: a receiver of the
// job's events besides the tenant's registered endpoints.
type NotifyRequest struct {
	URL string `json:"url"`
	// Events are what to deliver; empty means TerminalEvents.
	Events []string `json:"events,omitempty"`
}

// NotifyTarget is one receiver of a job's events as its workflow knows it:
// a URL, and the id of the tenant's endpoint when it is one. No secret: the
// delivery reads it from the store or the configuration.
type NotifyTarget struct {
	EndpointID string   `json:"endpoint_id,omitempty"`
	URL        string   `json:"url"`
	Events     []string `json:"events"`
}

// Wants reports whether the target asked for event.
func (t NotifyTarget) Wants(event string) bool { return slices.Contains(t.Events, event) }

// NotifyPlan is who hears of a job's events, resolved when it starts and
// kept in its memo.
type NotifyPlan struct {
	Targets []NotifyTarget `json:"targets"`
	// RetryFor bounds the retries of each delivery.
	RetryFor time.Duration `json:"retry_for"`
}

// NotificationStatus is where one delivery stands.
type NotificationStatus string

// The notification statuses.
const (
	NotificationPending   NotificationStatus = "pending"
	NotificationDelivered NotificationStatus = "delivered"
	NotificationFailed    NotificationStatus = "failed"
	NotificationGone      NotificationStatus = "gone"
)

// Notification is one delivery of a job's event, in the job's view.
type Notification struct {
	URL            string             `json:"url"`
	Event          string             `json:"event"`
	Status         NotificationStatus `json:"status"`
	Attempts       int32              `json:"attempts"`
	LastStatusCode int                `json:"last_status_code,omitempty"`
	LastError      string             `json:"last_error,omitempty"`
	DeliveredAt    *time.Time         `json:"delivered_at,omitempty"`
}

// NotificationMemo is the memo of a delivery workflow: what the job's view
// shows of it while it runs.
type NotificationMemo struct {
	URL   string `json:"url"`
	Event string `json:"event"`
}

// Delivery is the input of a delivery workflow and of its deliver step.
type Delivery struct {
	JobID  string `json:"job_id"`
	Tenant string `json:"tenant,omitempty"`
	// MessageID is the webhook-id header: the same on every attempt.
	MessageID string       `json:"message_id"`
	Target    NotifyTarget `json:"target"`
	Event     string       `json:"event"`
	// Timestamp is when the event happened (the body's timestamp).
	Timestamp time.Time `json:"timestamp"`
	// Data is the body's data.
	Data     EventData     `json:"data"`
	RetryFor time.Duration `json:"retry_for"`
}

// EventData is the data of a delivery's body: the job's view, its result
// (the deliver step links it instead when it is over MaxInlineResult) or
// the step that finished.
type EventData struct {
	View
	Result    any    `json:"result,omitempty"`
	ResultURL string `json:"result_url,omitempty"`
	Step      *Step  `json:"step,omitempty"`
}

// MaxInlineResult is the largest result (in JSON) a delivery's body
// carries inline.
const MaxInlineResult = 64 << 10

// DeliveryOutcome is what a delivery workflow returns.
type DeliveryOutcome struct {
	Status         NotificationStatus `json:"status"`
	Attempts       int32              `json:"attempts"`
	LastStatusCode int                `json:"last_status_code,omitempty"`
	LastError      string             `json:"last_error,omitempty"`
	DeliveredAt    *time.Time         `json:"delivered_at,omitempty"`
}

// DeliveryDetail is the detail of the deliver step's errors: the receiver's
// status code (0 when it gave none) and the attempt.
type DeliveryDetail struct {
	StatusCode int   `json:"status_code,omitempty"`
	Attempt    int32 `json:"attempt"`
}

// NotificationID is the workflow id of a job's n-th delivery. The '/'
// keeps it from ever being taken for a job id (ValidID).
func NotificationID(jobID string, n int) string { return fmt.Sprintf("%s/notify/%d", jobID, n) }

// DefaultRetryFor is how long a delivery is retried unless configured.
const DefaultRetryFor = 24 * time.Hour

// CheckNotifyURL checks what a receiver's URL alone shows, for submit-time
// 422s: an absolute http(s) URL without user information, of a bounded
// length, whose host is no refused address literal unless p allows it.
// Names are checked when dialed, on every connection.
func CheckNotifyURL(p egress.Policy, field, raw string) error {
	if raw == "" {
		return &InputError{field, "is required"}
	}
	if len(raw) > maxNotifyURLLen {
		return &InputError{field, fmt.Sprintf("must be at most %d bytes", maxNotifyURLLen)}
	}
	u, err := url.Parse(raw)
	if err == nil && u.User != nil {
		return &InputError{field, "must not carry user information (user:password@)"}
	}
	if err == nil && u.Fragment != "" {
		return &InputError{field, "must not have a fragment"}
	}
	if err := p.CheckURL(raw); err != nil {
		return &InputError{field, err.Error()}
	}
	return nil
}

// CheckEvents validates a list of events and returns it without
// duplicates; empty means TerminalEvents.
func CheckEvents(field string, events []string) ([]string, error) {
	if len(events) == 0 {
		return slices.Clone(TerminalEvents), nil
	}
	var out []string
	for _, e := range events {
		if !slices.Contains(Events, e) {
			return nil, &InputError{field, fmt.Sprintf("%q is not an event; one of %s", e, strings.Join(Events, ", "))}
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// normalizeNotify validates a start request's notify field.
func (c *Client) normalizeNotify(n *NotifyRequest) (*NotifyRequest, error) {
	if n == nil {
		return nil, nil
	}
	if err := CheckNotifyURL(c.NotifyPolicy, "notify.url", n.URL); err != nil {
		return nil, err
	}
	events, err := CheckEvents("notify.events", n.Events)
	if err != nil {
		return nil, err
	}
	return &NotifyRequest{URL: n.URL, Events: events}, nil
}

// notifyPlan resolves who hears of a job's events: the request's own
// receiver and the tenant's endpoints. Nil when nobody does, so that the
// job starts exactly as one without notifications.
func (c *Client) notifyPlan(ctx context.Context, n *NotifyRequest, tenant string) (*NotifyPlan, error) {
	var targets []NotifyTarget
	if n != nil {
		targets = append(targets, NotifyTarget{URL: n.URL, Events: n.Events})
	}
	if c.Endpoints != nil {
		eps, err := c.Endpoints(ctx, tenant)
		if err != nil {
			return nil, fmt.Errorf("read the tenant's webhook endpoints: %w", err)
		}
		targets = append(targets, eps...)
	}
	if len(targets) == 0 {
		return nil, nil
	}
	retryFor := c.NotifyRetryFor
	if retryFor <= 0 {
		retryFor = DefaultRetryFor
	}
	return &NotifyPlan{Targets: targets, RetryFor: retryFor}, nil
}

// notifications lists a job's deliveries from their workflows, which
// outlive the job's: nil for a job without a notify plan (no call at all).
func (c *Client) notifications(ctx context.Context, info *workflowpb.WorkflowExecutionInfo) ([]Notification, error) {
	var plan NotifyPlan
	found, err := c.decodeMemo(info, memoNotify, &plan)
	if err != nil || !found {
		return nil, err
	}
	jobID := info.GetExecution().GetWorkflowId()
	out, err := c.notificationsNamed(ctx, func(n int) string { return NotificationID(jobID, n) }, nil)
	if err != nil || info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT {
		return out, err
	}
	return c.notificationsNamed(ctx, func(n int) string { return TimeoutNotificationID(jobID, n) }, out)
}

// notificationsNamed appends to out the deliveries whose workflow ids
// name(0), name(1), … give, up to the first that does not exist.
func (c *Client) notificationsNamed(ctx context.Context, name func(int) string, out []Notification) ([]Notification, error) {
	if out == nil {
		out = []Notification{}
	}
	for n := range MaxNotifications {
		id := name(n)
		desc, err := c.Temporal.DescribeWorkflowExecution(ctx, id, "")
		var notFound *serviceerror.NotFound
		if errors.As(err, &notFound) {
			break // they are numbered in order: the rest have not started
		}
		if err != nil {
			return nil, fmt.Errorf("describe delivery %s: %w", id, classify(err))
		}
		out = append(out, c.notificationOf(ctx, desc.GetWorkflowExecutionInfo(), desc.GetPendingActivities()))
	}
	return out, nil
}

// notificationOf is one delivery as its workflow's description says.
func (c *Client) notificationOf(ctx context.Context, info *workflowpb.WorkflowExecutionInfo, pending []*workflowpb.PendingActivityInfo) Notification {
	var memo NotificationMemo
	_, _ = c.decodeMemo(info, MemoNotification, &memo)
	n := Notification{URL: memo.URL, Event: memo.Event, Status: NotificationPending}
	switch info.GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		for _, pa := range pending {
			n.Attempts = pa.GetAttempt()
			if !pendingStarted(pa) || pa.GetState() == enumspb.PENDING_ACTIVITY_STATE_SCHEDULED {
				n.Attempts--
			}
			if f := pa.GetLastFailure(); f != nil {
				err := c.failureConverter().FailureToError(f)
				n.LastError = ErrorOf(err).Message
				var appErr *temporal.ApplicationError
				var d DeliveryDetail
				if errors.As(err, &appErr) && appErr.HasDetails() && appErr.Details(&d) == nil {
					n.LastStatusCode = d.StatusCode
				}
			}
		}
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		var o DeliveryOutcome
		run := c.Temporal.GetWorkflow(ctx, info.GetExecution().GetWorkflowId(), info.GetExecution().GetRunId())
		if err := run.Get(ctx, &o); err != nil {
			n.LastError = "read the delivery's outcome: " + classify(err).Error()
			return n
		}
		n.Status, n.Attempts, n.LastStatusCode, n.LastError, n.DeliveredAt = o.Status, o.Attempts, o.LastStatusCode, o.LastError, o.DeliveredAt
	default:
		n.Status = NotificationFailed
		n.LastError = "the delivery's workflow ended " + strings.ToLower(strings.TrimPrefix(info.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_"))
	}
	return n
}
