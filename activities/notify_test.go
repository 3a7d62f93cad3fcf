package activities_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/docket-dev/docket/activities"
	"github.com/docket-dev/docket/internal/webhook"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/steps"
)

func notifyActivities(t *testing.T, allow ...string) (*activities.NotifyActivities, webhook.Secret) {
	t.Helper()
	secret, err := webhook.NewSecret()
	require.NoError(t, err)
	return &activities.NotifyActivities{Worker: testWorker, HTTP: activities.NewWebhookClient(allow, fetchTimeout), ServerSecret: secret}, secret
}

func runDeliver(t *testing.T, a *activities.NotifyActivities, d job.Delivery) (job.DeliveryOutcome, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(a.Deliver, activity.RegisterOptions{Name: steps.Deliver.Name})
	val, err := env.ExecuteActivity(steps.Deliver.Name, d)
	if err != nil {
		return job.DeliveryOutcome{}, err
	}
	var out job.StepOutput[job.DeliveryOutcome]
	require.NoError(t, val.Get(&out))
	requireReport(t, out.Report)
	return out.Result, nil
}

func delivery(url string) job.Delivery {
	return job.Delivery{
		JobID: "j1", MessageID: "j1/notify/0", Target: job.NotifyTarget{URL: url, Events: []string{job.EventSucceeded}},
		Event: job.EventSucceeded, Timestamp: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
		Data: job.EventData{View: job.View{ID: "j1", Type: job.TypeSum, Status: job.StatusSucceeded}, Result: map[string]any{"sum": 55}},
	}
}

// hits records what a test receiver got.
type hits struct {
	mu     sync.Mutex
	bodies [][]byte
	header []http.Header
}

func (h *hits) add(r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.bodies = append(h.bodies, b)
	h.header = append(h.header, r.Header.Clone())
}

// The receiver's answer decides: 2xx delivered, 410 gone, 408/429/5xx
// retried (after Retry-After when sent), any other answer (redirects
// included, never followed) failed at once. What arrives verifies with the
// Standard Webhooks reference library.
func TestDeliverAnswers(t *testing.T) {
	date := time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name       string
		status     int
		header     []string
		outcome    job.NotificationStatus
		errType    string
		retryable  bool
		retryAfter func(time.Duration) bool
	}{
		{"200", 200, nil, job.NotificationDelivered, "", false, nil},
		{"204", 204, nil, job.NotificationDelivered, "", false, nil},
		{"410", 410, nil, job.NotificationGone, "", false, nil},
		{"408", 408, nil, "", "webhook_retry", true, func(d time.Duration) bool { return d == 0 }},
		{"429 seconds", 429, []string{"Retry-After", "7"}, "", "webhook_retry", true, func(d time.Duration) bool { return d == 7*time.Second }},
		{"503 date", 503, []string{"Retry-After", date}, "", "webhook_retry", true, func(d time.Duration) bool { return d > 20*time.Second && d <= 30*time.Second }},
		{"503 capped", 503, []string{"Retry-After", "864000"}, "", "webhook_retry", true, func(d time.Duration) bool { return d == time.Hour }},
		{"500", 500, nil, "", "webhook_retry", true, func(d time.Duration) bool { return d == 0 }},
		{"400", 400, nil, "", steps.FailWebhookRejected, false, nil},
		{"401", 401, nil, "", steps.FailWebhookRejected, false, nil},
		{"404", 404, nil, "", steps.FailWebhookRejected, false, nil},
		{"302", 302, []string{"Location", "/elsewhere"}, "", steps.FailWebhookRejected, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := &hits{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got.add(r)
				for i := 0; i+1 < len(tt.header); i += 2 {
					w.Header().Set(tt.header[i], tt.header[i+1])
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, strings.Repeat("x", 1<<20)) // read only up to its cap
			}))
			defer srv.Close()
			a, secret := notifyActivities(t, "127.0.0.1")
			out, err := runDeliver(t, a, delivery(srv.URL+"/hook"))
			require.Len(t, got.bodies, 1, "one request; a redirect is not followed")
			wh, werr := standardwebhooks.NewWebhook(secret.Text())
			require.NoError(t, werr)
			require.NoError(t, wh.Verify(got.bodies[0], got.header[0]))
			require.Equal(t, "j1/notify/0", got.header[0].Get("webhook-id"))
			if tt.outcome != "" {
				require.NoError(t, err)
				require.Equal(t, tt.outcome, out.Status)
				require.Equal(t, tt.status, out.LastStatusCode)
				return
			}
			appErr := requireAppError(t, err, tt.errType, !tt.retryable)
			var detail job.DeliveryDetail
			require.NoError(t, appErr.Details(&detail))
			require.Equal(t, tt.status, detail.StatusCode)
			if tt.retryAfter != nil {
				require.True(t, tt.retryAfter(appErr.NextRetryDelay()), "NextRetryDelay %s", appErr.NextRetryDelay())
			}
		})
	}
}

// A result over 64 KiB is linked, not inlined; the body is the same bytes
// on every attempt.
func TestDeliverLinksLargeResults(t *testing.T) {
	got := &hits{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.add(r) }))
	defer srv.Close()
	a, _ := notifyActivities(t, "127.0.0.1")
	d := delivery(srv.URL + "/hook")
	d.Data.Result = map[string]any{"text": strings.Repeat("a", job.MaxInlineResult)}
	for range 2 {
		_, err := runDeliver(t, a, d)
		require.NoError(t, err)
	}
	require.Len(t, got.bodies, 2)
	require.Equal(t, got.bodies[0], got.bodies[1])
	var body struct {
		Data struct {
			Result    json.RawMessage `json:"result"`
			ResultURL string          `json:"result_url"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(got.bodies[0], &body))
	require.Empty(t, body.Data.Result)
	require.Equal(t, "/jobs/j1/results", body.Data.ResultURL)
	require.Less(t, len(got.bodies[0]), 4096)
}

// What cannot succeed fails at once, without a request: a refused
// destination (a name resolving to loopback, not allowed), and a receiver
// nothing signs for.
func TestDeliverPermanentFailures(t *testing.T) {
	got := &hits{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.add(r) }))
	defer srv.Close()

	a, _ := notifyActivities(t)
	_, err := runDeliver(t, a, delivery(strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)+"/hook"))
	appErr := requireAppError(t, err, steps.FailWebhookRefused, true)
	require.NotContains(t, appErr.Error(), "/hook", "the URL (whose query may hold a token) is not repeated")

	noSecret, _ := notifyActivities(t, "127.0.0.1")
	noSecret.ServerSecret = webhook.Secret{}
	_, err = runDeliver(t, noSecret, delivery(srv.URL+"/hook"))
	requireAppError(t, err, steps.FailWebhookNoSecret, true)
	require.Empty(t, got.bodies)
}
