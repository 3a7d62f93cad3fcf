package steps

import (
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/docket-dev/docket/job"
)

// Error types of the deliver step that end a delivery at once.
const (
	// FailWebhookRejected: the receiver answered a 4xx other than 408, 410
	// and 429, or a redirect (not followed).
	FailWebhookRejected = "webhook_rejected"
	// FailWebhookRefused: the receiver's address is refused by the egress
	// guard, or its URL cannot be delivered to.
	FailWebhookRefused = "webhook_refused"
	// FailWebhookNoSecret: nothing to sign with (no tenant endpoint at that
	// URL, no DOCKET_WEBHOOK_SECRET), or the endpoint was deleted.
	FailWebhookNoSecret = "webhook_no_secret"
)

// The step of a webhook delivery, run by the delivery workflow (not a job's
// step: no job.Kind names it).
var (
	// Deliver posts one event to one receiver. Retries back off from one
	// second to an hour, without a cap on attempts: the delivery workflow
	// bounds them in time with a schedule-to-close timeout (the plan's
	// RetryFor). 429 and 5xx answers set the next delay from Retry-After.
	Deliver = Def[job.Delivery, job.DeliveryOutcome]{
		Name:         "deliver_webhook",
		StartToClose: time.Minute,
		Heartbeat:    10 * time.Second,
		Retry: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Hour,
			NonRetryableErrorTypes: []string{FailWebhookRejected, FailWebhookRefused, FailWebhookNoSecret},
		},
	}
	// JobTimedOut says whether a job's workflow (by id) timed out; it
	// retries while the job is still open, which it is only for a moment
	// past its deadline.
	JobTimedOut = Def[string, bool]{
		Name:         "job_timed_out",
		StartToClose: 30 * time.Second,
		Retry: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
		},
	}
)
