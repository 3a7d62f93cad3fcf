package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/docket-dev/docket/internal/egress"
	"github.com/docket-dev/docket/internal/webhook"
	"github.com/docket-dev/docket/internal/webhook/endpoints"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/steps"
)

// Bounds of one delivery attempt.
const (
	// maxReceiverBody is how much of a receiver's answer is read (and
	// dropped): enough to reuse the connection, never a memory risk.
	maxReceiverBody = 64 << 10
	// maxRetryAfter caps the delay a receiver may ask for.
	maxRetryAfter = time.Hour
	// deliveryHeartbeat is how often a waiting attempt heartbeats, well
	// within steps.Deliver's heartbeat timeout, so that an attempt whose
	// worker died is retried elsewhere in seconds.
	deliveryHeartbeat = 2 * time.Second
)

// NotifyActivities delivers webhooks: the deliver step of the delivery
// workflows, on the workflows' queue.
type NotifyActivities struct {
	// Worker identifies this worker process in step reports.
	Worker string
	// Endpoints are the tenants' registered endpoints and their secrets;
	// nil (no blob store) delivers only per-job receivers, signed with
	// ServerSecret.
	Endpoints *endpoints.Store
	// HTTP posts deliveries: NewWebhookClient, through the egress guard.
	HTTP *http.Client
	// ServerSecret (DOCKET_WEBHOOK_SECRET) signs a per-job receiver's
	// deliveries when its tenant has no endpoint at that URL.
	ServerSecret webhook.Secret
	// Temporal answers whether a job timed out (workers.Start sets it to
	// the worker's client).
	Temporal client.Client
}

// Steps binds the deliver step to its implementation.
func (a *NotifyActivities) Steps() []steps.Binding {
	return []steps.Binding{steps.Deliver.Bind(a.Deliver), steps.JobTimedOut.Bind(a.JobTimedOut)}
}

// JobTimedOut says whether the job's workflow timed out; while it is still
// open (a moment past its deadline) it fails, to be retried.
func (a *NotifyActivities) JobTimedOut(ctx context.Context, jobID string) (job.StepOutput[bool], error) {
	if a.Temporal == nil {
		return job.StepOutput[bool]{}, temporal.NewNonRetryableApplicationError("this worker has no Temporal client", "no_temporal_client", nil)
	}
	desc, err := a.Temporal.DescribeWorkflowExecution(ctx, jobID, "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return job.StepOutput[bool]{Report: report(ctx, a.Worker)}, nil
	}
	if err != nil {
		return job.StepOutput[bool]{}, fmt.Errorf("describe job %s: %w", jobID, err)
	}
	st := desc.GetWorkflowExecutionInfo().GetStatus()
	if st == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return job.StepOutput[bool]{}, fmt.Errorf("job %s is still open", jobID)
	}
	return job.StepOutput[bool]{Report: report(ctx, a.Worker), Result: st == enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT}, nil
}

// NewWebhookClient is the client of deliveries: the egress guard's (every
// connection checked after DNS, allowHosts exempt), timeout bounding a
// whole attempt, and redirects never followed: a receiver answers itself.
func NewWebhookClient(allowHosts []string, timeout time.Duration) *http.Client {
	c := egress.NewClient(egress.Policy{AllowHosts: allowHosts}, timeout)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// body is a delivery's body.
type body struct {
	Type      string        `json:"type"`
	Timestamp time.Time     `json:"timestamp"`
	Data      job.EventData `json:"data"`
}

// deliveryBody is the body of d: the same bytes on every attempt (the
// input is fixed, and JSON of it is ordered), with a result over
// job.MaxInlineResult replaced by its link.
func deliveryBody(d job.Delivery) ([]byte, error) {
	if d.Data.Result != nil {
		res, err := json.Marshal(d.Data.Result)
		if err != nil {
			return nil, err
		}
		if len(res) > job.MaxInlineResult {
			d.Data.Result = nil
			d.Data.ResultURL = "/jobs/" + url.PathEscape(d.JobID) + "/results"
		}
	}
	return json.Marshal(body{Type: d.Event, Timestamp: d.Timestamp.UTC(), Data: d.Data})
}

// Deliver posts one event to one receiver, signed. 2xx is delivered; 410
// marks the receiver gone (and a registered endpoint with it); 408, 429
// and 5xx are retried, after Retry-After when the receiver sends one; any
// other answer, a refused address and a missing secret end the delivery
// at once. The body and webhook-id are the same on every attempt; the
// timestamp and signature are the attempt's.
func (a *NotifyActivities) Deliver(ctx context.Context, d job.Delivery) (job.StepOutput[job.DeliveryOutcome], error) {
	attempt := activity.GetInfo(ctx).Attempt
	done := func(o job.DeliveryOutcome) (job.StepOutput[job.DeliveryOutcome], error) {
		return job.StepOutput[job.DeliveryOutcome]{Report: report(ctx, a.Worker), Result: o}, nil
	}
	fail := func(typ, msg string, code int, next time.Duration) (job.StepOutput[job.DeliveryOutcome], error) {
		nonRetryable := typ != "webhook_retry"
		return job.StepOutput[job.DeliveryOutcome]{}, temporal.NewApplicationErrorWithOptions(msg, typ, temporal.ApplicationErrorOptions{
			NonRetryable: nonRetryable, NextRetryDelay: next,
			Details: []any{job.DeliveryDetail{StatusCode: code, Attempt: attempt}},
		})
	}

	secrets, gone, err := a.secrets(ctx, d)
	if err != nil {
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) {
			return fail(appErr.Type(), appErr.Message(), 0, 0)
		}
		return job.StepOutput[job.DeliveryOutcome]{}, err // the store: retried
	}
	if gone {
		return done(job.DeliveryOutcome{Status: job.NotificationGone, Attempts: attempt - 1, LastError: "the endpoint is gone (it answered 410 before)"})
	}
	payload, err := deliveryBody(d)
	if err != nil {
		return fail(steps.FailWebhookRefused, "encode the body: "+err.Error(), 0, 0)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.Target.URL, bytes.NewReader(payload))
	if err != nil {
		return fail(steps.FailWebhookRefused, "the receiver's URL cannot be delivered to", 0, 0)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Docket-Webhooks/1")
	if err := webhook.SetHeaders(req.Header, secrets, d.MessageID, time.Now(), payload); err != nil {
		return fail(steps.FailWebhookNoSecret, err.Error(), 0, 0)
	}

	stop := heartbeat(ctx)
	resp, err := a.HTTP.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxReceiverBody))
		_ = resp.Body.Close()
	}
	stop()
	if err != nil {
		// url.Error repeats the URL, whose query may carry a token.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, egress.ErrRefused) || errors.Is(err, egress.ErrInvalidURL) {
			return fail(steps.FailWebhookRefused, "the receiver is refused: "+err.Error(), 0, 0)
		}
		if ctx.Err() != nil {
			return job.StepOutput[job.DeliveryOutcome]{}, ctx.Err()
		}
		return fail("webhook_retry", "the receiver could not be reached: "+err.Error(), 0, 0)
	}
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		now := time.Now().UTC().Truncate(job.TimePrecision)
		return done(job.DeliveryOutcome{Status: job.NotificationDelivered, Attempts: attempt, LastStatusCode: code, DeliveredAt: &now})
	case code == http.StatusGone:
		if d.Target.EndpointID != "" && a.Endpoints != nil {
			if err := a.Endpoints.MarkGone(ctx, d.Tenant, d.Target.EndpointID, time.Now()); err != nil && !errors.Is(err, endpoints.ErrNotFound) {
				return job.StepOutput[job.DeliveryOutcome]{}, fmt.Errorf("mark endpoint %s gone: %w", d.Target.EndpointID, err)
			}
		}
		return done(job.DeliveryOutcome{Status: job.NotificationGone, Attempts: attempt, LastStatusCode: code, LastError: "the receiver answered 410 Gone"})
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500:
		return fail("webhook_retry", fmt.Sprintf("the receiver answered %d", code), code, retryAfter(resp.Header.Get("Retry-After"), time.Now()))
	}
	return fail(steps.FailWebhookRejected, fmt.Sprintf("the receiver answered %d", code), code, 0)
}

// secrets are what sign a delivery: a registered endpoint's own (gone is
// true when it answered 410 before); for a per-job receiver, those of the
// tenant's endpoint at the same URL, else the server's. Permanent problems
// are non-retryable ApplicationErrors.
func (a *NotifyActivities) secrets(ctx context.Context, d job.Delivery) (secrets []webhook.Secret, gone bool, err error) {
	now := time.Now()
	noSecret := func(msg string) error {
		return temporal.NewNonRetryableApplicationError(msg, steps.FailWebhookNoSecret, nil)
	}
	if d.Target.EndpointID != "" {
		if a.Endpoints == nil {
			return nil, false, noSecret("this worker has no blob store to read the endpoint from")
		}
		e, err := a.Endpoints.Get(ctx, d.Tenant, d.Target.EndpointID)
		if errors.Is(err, endpoints.ErrNotFound) {
			return nil, false, noSecret("the endpoint was deleted")
		}
		if err != nil {
			return nil, false, err
		}
		if e.GoneAt != nil {
			return nil, true, nil
		}
		return e.Signing(now), false, nil
	}
	if a.Endpoints != nil {
		eps, err := a.Endpoints.List(ctx, d.Tenant)
		if err != nil {
			return nil, false, err
		}
		for _, e := range eps {
			if e.URL == d.Target.URL && e.GoneAt == nil {
				return e.Signing(now), false, nil
			}
		}
	}
	if a.ServerSecret.Zero() {
		return nil, false, noSecret("no secret signs this receiver's deliveries: register it with POST /webhooks or set DOCKET_WEBHOOK_SECRET")
	}
	return []webhook.Secret{a.ServerSecret}, false, nil
}

// heartbeat heartbeats while an attempt waits on the receiver, until the
// returned function is called.
func heartbeat(ctx context.Context) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(deliveryHeartbeat)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() { close(done) }
}

// retryAfter reads a Retry-After header (delay-seconds or an HTTP date),
// capped at maxRetryAfter; 0 (the retry policy's backoff) when absent or
// unreadable.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(h); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}
