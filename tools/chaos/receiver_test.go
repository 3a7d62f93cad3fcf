package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/internal/webhook"
	"github.com/docket-dev/docket/job"
)

// TestCheckNotificationsCountsLossesAndDuplicates checks that the webhook
// tally notices what chaos is there to catch, from deliveries sent over
// HTTP to the real receiver: a job whose terminal event arrives once
// (notified), once but retried under the same webhook-id (notified and
// retried, not a duplicate), under two webhook-ids (duplicated), never
// (lost), only with a bad signature (lost, and a problem), and with an
// event its status does not match (a problem); and a job whose view does
// not record the delivery the receiver accepted (a problem).
func TestCheckNotificationsCountsLossesAndDuplicates(t *testing.T) {
	secret, err := webhook.NewSecret()
	require.NoError(t, err)
	other, err := webhook.NewSecret()
	require.NoError(t, err)
	rc, err := newReceiver(secret.Text(), 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Close() })

	statuses := map[string]job.Status{
		"once": job.StatusSucceeded, "retried": job.StatusSucceeded, "twice": job.StatusSucceeded,
		"never": job.StatusSucceeded, "forged": job.StatusSucceeded, "wrong": job.StatusSucceeded,
		"failed": job.StatusFailed,
	}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/jobs/")
		v := job.View{ID: id, Type: job.TypeSum, Status: statuses[id]}
		// Every job's view records its delivery, but retried's.
		if id != "retried" {
			v.Notifications = []job.Notification{{URL: rc.url, Event: job.EventOf(v.Status), Status: job.NotificationDelivered, Attempts: 1}}
		}
		_ = json.NewEncoder(w).Encode(v)
	}))
	t.Cleanup(api.Close)

	deliver := func(msgID, jobID, event string, signWith webhook.Secret, want int) {
		t.Helper()
		body, err := json.Marshal(map[string]any{"type": event, "timestamp": time.Now(), "data": map[string]any{"id": jobID, "status": statuses[jobID]}})
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPost, rc.url, bytes.NewReader(body))
		require.NoError(t, err)
		require.NoError(t, webhook.SetHeaders(req.Header, []webhook.Secret{signWith}, msgID, time.Now(), body))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, want, resp.StatusCode, "delivery %s", msgID)
	}
	deliver("msg_1", "once", job.EventSucceeded, secret, http.StatusNoContent)
	deliver("msg_2", "retried", job.EventSucceeded, secret, http.StatusNoContent)
	deliver("msg_2", "retried", job.EventSucceeded, secret, http.StatusNoContent)
	deliver("msg_3", "twice", job.EventSucceeded, secret, http.StatusNoContent)
	deliver("msg_4", "twice", job.EventSucceeded, secret, http.StatusNoContent)
	deliver("msg_5", "forged", job.EventSucceeded, other, http.StatusUnauthorized)
	deliver("msg_6", "wrong", job.EventFailed, secret, http.StatusNoContent)
	deliver("msg_7", "failed", job.EventFailed, secret, http.StatusNoContent)
	// A step's end is no terminal event: it neither notifies nor duplicates.
	deliver("msg_8", "failed", job.EventStepFinished, secret, http.StatusNoContent)

	r := &runner{
		cfg:   Config{Scale: Scale{NotifyWait: time.Second}},
		api:   newAPIClient([]string{api.URL}, ""),
		out:   io.Discard,
		hooks: rc,
	}
	ids := []string{"once", "retried", "twice", "never", "forged", "wrong", "failed"}
	res := r.checkNotifications(context.Background(), Result{}, ids, 0)

	require.Equal(t, 7, res.NotifyExpected)
	require.Equal(t, 5, res.Notified, "once, retried, twice, wrong, failed")
	require.Equal(t, 2, res.NotifyLost, "never and forged")
	require.Equal(t, 1, res.NotifyDuplicated, "twice's second webhook-id")
	require.Equal(t, 1, res.Redelivered, "retried's second arrival")
	require.False(t, res.OK(), "a run with lost and duplicated notifications passed")
	problems := strings.Join(res.Problems, "\n")
	for _, p := range []string{"never arrived", "different webhook-ids", "wrong ended SUCCEEDED but was delivered job.failed", "signature verification", "views do not show the terminal event the receiver accepted as delivered: retried"} {
		require.Contains(t, problems, p)
	}
	require.Contains(t, res.line(), "webhooks: notified=5 lost=2 duplicated=1 retried=1")

	// Only lost notifications fail a scenario whose jobs all ended well.
	require.False(t, Result{Submitted: 1, Accepted: 1, Succeeded: 1, NotifyExpected: 1, NotifyLost: 1}.OK())
	require.True(t, Result{Submitted: 1, Accepted: 1, Succeeded: 1, NotifyExpected: 1, Notified: 1, Redelivered: 3}.OK())
}

// The receiver refuses the first attempt of every n-th message with a 503
// and Retry-After, and accepts its retry under the same webhook-id.
func TestReceiverRefusesFirstAttempts(t *testing.T) {
	secret, err := webhook.NewSecret()
	require.NoError(t, err)
	rc, err := newReceiver(secret.Text(), 2)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Close() })
	post := func(msgID string) *http.Response {
		body := []byte(`{"type":"job.succeeded","data":{"id":"` + msgID + `","status":"SUCCEEDED"}}`)
		req, err := http.NewRequest(http.MethodPost, rc.url, bytes.NewReader(body))
		require.NoError(t, err)
		require.NoError(t, webhook.SetHeaders(req.Header, []webhook.Secret{secret}, msgID, time.Now(), body))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	require.Equal(t, http.StatusNoContent, post("a").StatusCode)
	refused := post("b")
	require.Equal(t, http.StatusServiceUnavailable, refused.StatusCode)
	require.Equal(t, "1", refused.Header.Get("Retry-After"))
	require.Equal(t, http.StatusNoContent, post("b").StatusCode)
	tally := rc.tally([]string{"a", "b"})
	require.Equal(t, []string{"b"}, tally.terminal["b"])
	require.Equal(t, hookMessage{JobID: "b", Event: job.EventSucceeded, Status: job.StatusSucceeded, Arrivals: 2, Refused: 1, Accepted: 1}, tally.msgs["b"])
}
