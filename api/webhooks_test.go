package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/docket-dev/docket/api"
	"github.com/docket-dev/docket/internal/egress"
	"github.com/docket-dev/docket/internal/egress/egresstest"
	"github.com/docket-dev/docket/internal/webhook"
	"github.com/docket-dev/docket/internal/webhook/endpoints"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/tools/teststack"
)

// allowLoopbackHooks lets srv accept webhook receivers on 127.0.0.1, the
// tests' own (as DOCKET_FETCH_ALLOW_HOSTS=127.0.0.1 would).
func allowLoopbackHooks(srv *api.Server) {
	policy := egress.Policy{AllowHosts: []string{"127.0.0.1"}}
	srv.Jobs.(*job.Client).NotifyPolicy = policy
	if srv.Webhooks != nil {
		srv.Webhooks.Policy = policy
	}
}

// hookDelivery is one request a receiver got, and what it answered.
type hookDelivery struct {
	header http.Header
	body   []byte
	status int
}

// hookPayload is a delivery's body.
type hookPayload struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      struct {
		ID        string          `json:"id"`
		Status    job.Status      `json:"status"`
		Result    json.RawMessage `json:"result"`
		ResultURL string          `json:"result_url"`
		Step      *job.Step       `json:"step"`
	} `json:"data"`
}

// receiver is a real HTTP receiver of webhooks on loopback. answer writes
// the answer to the n-th request (from 0) and returns its status.
type receiver struct {
	srv    *httptest.Server
	answer func(n int, w http.ResponseWriter, r *http.Request) int
	mu     sync.Mutex
	got    []hookDelivery
}

func startReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request) int) *receiver {
	t.Helper()
	rc := &receiver{answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	rc.mu.Lock()
	n := len(rc.got)
	rc.got = append(rc.got, hookDelivery{header: r.Header.Clone(), body: body})
	rc.mu.Unlock()
	status := http.StatusOK
	if rc.answer != nil {
		status = rc.answer(n, w, r)
	} else {
		w.WriteHeader(status)
	}
	rc.mu.Lock()
	rc.got[n].status = status
	rc.mu.Unlock()
}

func (rc *receiver) url() string { return rc.srv.URL + "/hook" }

func (rc *receiver) deliveries() []hookDelivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hookDelivery(nil), rc.got...)
}

// always answers every request with status.
func always(status int) func(int, http.ResponseWriter, *http.Request) int {
	return func(_ int, w http.ResponseWriter, _ *http.Request) int {
		w.WriteHeader(status)
		return status
	}
}

// requireSigned verifies a delivery's signature with the Standard Webhooks
// reference library (not Docket's code) under secret, and decodes it.
func requireSigned(t *testing.T, secret webhook.Secret, d hookDelivery) hookPayload {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret.Text())
	require.NoError(t, err)
	require.NoError(t, wh.Verify(d.body, d.header), "signature of %s", d.header.Get("webhook-id"))
	var p hookPayload
	require.NoError(t, json.Unmarshal(d.body, &p))
	return p
}

// submitWith starts a job through base (with header) and requires a 202.
func submitWith(t *testing.T, base string, header http.Header, body map[string]any) job.View {
	t.Helper()
	r := call(t, base, http.MethodPost, "/jobs", jsonBody(t, body), header)
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
	return r.view(t)
}

// waitNotified polls a job's view until it has n notifications and every
// one satisfies done, and returns them.
func waitNotified(t *testing.T, base string, header http.Header, id string, n int, done func(job.Notification) bool) []job.Notification {
	t.Helper()
	var last []job.Notification
	require.Eventually(t, func() bool {
		r := call(t, base, http.MethodGet, "/jobs/"+id, nil, header)
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		last = r.view(t).Notifications
		if len(last) != n {
			return false
		}
		for _, nt := range last {
			if !done(nt) {
				return false
			}
		}
		return true
	}, 90*time.Second, 200*time.Millisecond, "last notifications: %+v", &last)
	return last
}

func settled(n job.Notification) bool { return n.Status != job.NotificationPending }

// Each event a job's notify asks for is delivered once (job.timed_out too,
// although the job's own code never runs again), signed (the
// server's secret: the no-key API's tenant has no endpoint at that URL)
// so that the reference library verifies it, with the job's view and, on
// success, its result; the job's view shows every delivery.
func TestWebhookEvents(t *testing.T) {
	page := startReceiver(t, always(http.StatusNotFound))
	tests := []struct {
		name   string
		job    map[string]any
		cancel bool
		want   []string
		status job.Status
	}{
		{"succeeded", map[string]any{"type": "sum", "input": map[string]any{"start": 1, "end": 10}}, false,
			[]string{job.EventStepFinished, job.EventSucceeded}, job.StatusSucceeded},
		{"failed", map[string]any{"type": "wordcount", "input": map[string]any{"url": page.srv.URL + "/missing"}}, false,
			[]string{job.EventStepFinished, job.EventFailed}, job.StatusFailed},
		{"canceled", map[string]any{"type": "sum", "input": map[string]any{"start": 1, "end": 10, "work_ms": 60000}}, true,
			[]string{job.EventStepFinished, job.EventCanceled}, job.StatusCanceled},
		// Temporal closes the job without running its code: its watcher
		// delivers, and no step finished.
		{"timed out", map[string]any{"type": "sum", "input": map[string]any{"start": 1, "end": 10, "work_ms": 60000}, "timeout": "2s"}, false,
			[]string{job.EventTimedOut}, job.StatusTimedOut},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := startReceiver(t, nil)
			tt.job["notify"] = map[string]any{"url": rc.url(), "events": job.Events}
			v := submitWith(t, stack.api.URL, nil, tt.job)
			if tt.cancel {
				waitFor(t, stack.api.URL, v.ID, func(v job.View) bool { return v.Status == job.StatusRunning })
				r := call(t, stack.api.URL, http.MethodDelete, "/jobs/"+v.ID, nil, nil)
				require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
			}
			notes := waitNotified(t, stack.api.URL, nil, v.ID, len(tt.want), settled)
			var events []string
			for _, n := range notes {
				require.Equal(t, job.NotificationDelivered, n.Status, "%+v", n)
				require.Equal(t, rc.url(), n.URL)
				require.Equal(t, int32(1), n.Attempts)
				require.Equal(t, http.StatusOK, n.LastStatusCode)
				require.NotNil(t, n.DeliveredAt)
				events = append(events, n.Event)
			}
			require.ElementsMatch(t, tt.want, events)

			got := rc.deliveries()
			require.Len(t, got, len(tt.want), "one delivery per event")
			var types []string
			for _, d := range got {
				p := requireSigned(t, stack.webhookSecret, d)
				types = append(types, p.Type)
				require.Equal(t, v.ID, p.Data.ID)
				require.False(t, p.Timestamp.IsZero())
				if p.Type == job.EventStepFinished {
					require.NotNil(t, p.Data.Step)
					continue
				}
				require.Equal(t, tt.status, p.Data.Status)
				if tt.status == job.StatusSucceeded {
					require.JSONEq(t, `{"sum":55,"count":10}`, string(p.Data.Result))
				} else {
					require.Empty(t, p.Data.Result)
				}
			}
			require.ElementsMatch(t, tt.want, types)
		})
	}
}

// versionMarkers lists the GetVersion change ids in a job's history, and
// counts the child workflows it started.
func versionMarkers(t *testing.T, id string) (changes []string, children int) {
	t.Helper()
	it := stack.server.Client().GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		if ev.GetEventType() == enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED {
			children++
		}
		if m := ev.GetMarkerRecordedEventAttributes(); m != nil && m.GetMarkerName() == "Version" {
			var change string
			p := m.GetDetails()["change-id"]
			require.NotNil(t, p)
			require.NoError(t, stack.jobs.DataConverter.FromPayloads(p, &change))
			changes = append(changes, change)
		}
	}
	return changes, children
}

// A job nobody is notified of emits no new command: no notify version
// marker, no child workflow, no notifications in its view; a job with a
// receiver has them (so the check can fail).
func TestWebhookPlainJobUnchanged(t *testing.T) {
	plain := submit(t, "sum", map[string]any{"start": 1, "end": 10})
	rc := startReceiver(t, nil)
	notified := submit(t, "sum", map[string]any{"start": 1, "end": 10}, func(b map[string]any) {
		b["notify"] = map[string]any{"url": rc.url()}
	})
	require.Equal(t, http.StatusOK, waitResult(t, plain.ID).Status)
	waitNotified(t, stack.api.URL, nil, notified.ID, 1, settled)

	changes, children := versionMarkers(t, plain.ID)
	require.NotContains(t, changes, "notify-webhooks")
	require.Zero(t, children)
	r := call(t, stack.api.URL, http.MethodGet, "/jobs/"+plain.ID, nil, nil)
	require.NotContains(t, string(r.Body), "notifications")

	changes, children = versionMarkers(t, notified.ID)
	require.Contains(t, changes, "notify-webhooks")
	require.Equal(t, 2, children, "the job.timed_out watcher (every terminal event is asked for) and the job.succeeded delivery")
}

// A receiver answering 503 three times (once with Retry-After) and then
// 200 gets the delivery on the fourth attempt, with the same webhook-id
// and body every time; GET /jobs/{id}/results never waited for it.
func TestWebhookRetriedUntilDelivered(t *testing.T) {
	rc := startReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) int {
		if n < 3 {
			if n == 1 {
				w.Header().Set("Retry-After", "1")
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			return http.StatusServiceUnavailable
		}
		w.WriteHeader(http.StatusNoContent)
		return http.StatusNoContent
	})
	v := submit(t, "sum", map[string]any{"start": 1, "end": 10}, func(b map[string]any) {
		b["notify"] = map[string]any{"url": rc.url(), "events": []string{job.EventSucceeded}}
	})
	require.Equal(t, http.StatusOK, waitResult(t, v.ID).Status)
	notes := waitNotified(t, stack.api.URL, nil, v.ID, 1, settled)
	require.Equal(t, job.NotificationDelivered, notes[0].Status)
	require.Equal(t, int32(4), notes[0].Attempts)
	require.Equal(t, http.StatusNoContent, notes[0].LastStatusCode)

	got := rc.deliveries()
	require.Len(t, got, 4)
	for _, d := range got {
		requireSigned(t, stack.webhookSecret, d)
		require.Equal(t, got[0].header.Get("webhook-id"), d.header.Get("webhook-id"))
		require.Equal(t, string(got[0].body), string(d.body))
	}
	require.Equal(t, job.NotificationID(v.ID, 0), got[0].header.Get("webhook-id"))
}

// A receiver that is down (nothing listens on its port) gets the delivery
// once it comes back; meanwhile the job's view shows it pending with the
// last error.
func TestWebhookReceiverDownThenBack(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	v := submit(t, "sum", map[string]any{"start": 1, "end": 10}, func(b map[string]any) {
		b["notify"] = map[string]any{"url": "http://" + addr + "/hook", "events": []string{job.EventSucceeded}}
	})
	down := waitNotified(t, stack.api.URL, nil, v.ID, 1, func(n job.Notification) bool {
		return n.Status == job.NotificationPending && n.Attempts >= 2 && n.LastError != ""
	})
	require.Contains(t, down[0].LastError, "could not be reached")

	rc := &receiver{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(rc.serve))
	require.Eventually(t, func() bool {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return false
		}
		srv.Listener = l
		return true
	}, 10*time.Second, 50*time.Millisecond)
	srv.Start()
	t.Cleanup(srv.Close)

	notes := waitNotified(t, stack.api.URL, nil, v.ID, 1, settled)
	require.Equal(t, job.NotificationDelivered, notes[0].Status)
	require.Len(t, rc.deliveries(), 1)
	requireSigned(t, stack.webhookSecret, rc.deliveries()[0])
}

// A worker stopped while a delivery waits on the receiver loses nothing:
// a new worker delivers it, once acknowledged, with the same webhook-id.
func TestWebhookWorkerStoppedMidDelivery(t *testing.T) {
	const queue = "docket-api-test-hooks-stop"
	c := stack.server.Client()
	start := func() interface{ Stop() } {
		w, err := teststack.StartWorker(c, teststack.WorkerOptions{
			TaskQueue: queue, Identity: "hooks-stop-worker", AllowHosts: []string{"127.0.0.1"}, WebhookSecret: stack.webhookSecret,
		})
		require.NoError(t, err)
		return w
	}
	first := start()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			first.Stop()
		}
	})
	held := make(chan struct{})
	rc := startReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) int {
		if n == 0 {
			close(held)
			<-r.Context().Done() // the stopping worker gives up on it
			return 0
		}
		w.WriteHeader(http.StatusOK)
		return http.StatusOK
	})
	srv := teststack.API(c, queue, stack.docs)
	allowLoopbackHooks(srv)
	hs := teststack.Serve(srv.Handler())
	t.Cleanup(hs.Close)

	v := submitWith(t, hs.URL, nil, map[string]any{"type": "sum", "input": map[string]any{"start": 1, "end": 10},
		"notify": map[string]any{"url": rc.url(), "events": []string{job.EventSucceeded}}})
	select {
	case <-held:
	case <-time.After(time.Minute):
		t.Fatal("the delivery never reached the receiver")
	}
	first.Stop()
	stopped = true
	second := start()
	t.Cleanup(second.Stop)

	notes := waitNotified(t, hs.URL, nil, v.ID, 1, settled)
	require.Equal(t, job.NotificationDelivered, notes[0].Status)
	require.GreaterOrEqual(t, notes[0].Attempts, int32(2))
	got := rc.deliveries()
	require.Len(t, got, 2)
	acked := 0
	for _, d := range got {
		requireSigned(t, stack.webhookSecret, d)
		require.Equal(t, got[0].header.Get("webhook-id"), d.header.Get("webhook-id"))
		if d.status == http.StatusOK {
			acked++
		}
	}
	require.Equal(t, 1, acked, "delivered once")
}

// Every destination of the egress guard's table is refused: at submit
// with 422 where the URL alone shows it (for notify and for POST
// /webhooks), otherwise at delivery, non-retryably, without the listener
// ever being reached. The suite's API and worker allow no host but
// 127.0.0.1 (DOCKET_FETCH_ALLOW_HOSTS), which the table's 127.0.0.1 row
// therefore skips. A tenant of its own keeps the endpoints it registers
// (and deletes at once) away from the other tests' jobs.
func TestWebhookRefusesEgressTable(t *testing.T) {
	ta := startTenantAPI(t, []tenantKey{{id: "ssrf", tenant: "hooks-ssrf", scopes: allScopes}})
	key := http.Header{"Authorization": {"Bearer " + ta.secrets["ssrf"]}}
	type pending struct {
		row egresstest.Spelling
		id  string
		srv *egresstest.Server
	}
	var accepted []pending
	for _, row := range egresstest.Spellings {
		if row.Host == "127.0.0.1" {
			continue // the suite's worker allows it, as DOCKET_FETCH_ALLOW_HOSTS would
		}
		var lsrv *egresstest.Server
		port := "9"
		if row.Listen != "" && !row.Netns {
			s, err := egresstest.Listen(t, row.Listen, nil)
			require.NoError(t, err, "listen on %s", row.Listen)
			lsrv = s
			port = s.Port
		}
		target := "http://" + row.Host + ":" + port + "/hook"
		reg := ta.as(t, "ssrf", http.MethodPost, "/webhooks", jsonBody(t, map[string]any{"url": target}), nil)
		if reg.Status == http.StatusCreated {
			var e api.WebhookEndpoint
			reg.decode(t, &e)
			require.Equal(t, http.StatusNoContent, ta.as(t, "ssrf", http.MethodDelete, "/webhooks/"+e.ID, nil, nil).Status)
		}
		r := ta.as(t, "ssrf", http.MethodPost, "/jobs", jsonBody(t, map[string]any{"type": "sum", "input": map[string]any{"start": 1, "end": 2},
			"notify": map[string]any{"url": target}}), nil)
		switch r.Status {
		case http.StatusUnprocessableEntity:
			require.Equal(t, "notify.url", r.problem(t).Field, row.Name)
			require.Equal(t, http.StatusUnprocessableEntity, reg.Status, "%s: POST /webhooks: %s", row.Name, reg.Body)
		case http.StatusAccepted:
			require.Equal(t, http.StatusCreated, reg.Status, "%s: POST /webhooks: %s", row.Name, reg.Body)
			accepted = append(accepted, pending{row, r.view(t).ID, lsrv})
		default:
			t.Fatalf("%s: POST /jobs answered %d: %s", row.Name, r.Status, r.Body)
		}
	}
	require.NotEmpty(t, accepted, "names (localhost) pass submit and are refused when dialed")
	for _, p := range accepted {
		notes := waitNotified(t, ta.url, key, p.id, 1, settled)
		require.Equal(t, job.NotificationFailed, notes[0].Status, p.row.Name)
		require.Equal(t, int32(1), notes[0].Attempts, "%s: refused at once, not retried", p.row.Name)
		require.Contains(t, notes[0].LastError, "refused", p.row.Name)
		if p.srv != nil {
			require.Zero(t, p.srv.Hits(), "%s: the listener was reached", p.row.Name)
		}
	}
}

// A registered endpoint whose receiver answers 410 is marked gone, and
// jobs started later no longer deliver there.
func TestWebhookGone(t *testing.T) {
	ta := startTenantAPI(t, []tenantKey{{id: "gone", tenant: "hooks-gone", scopes: allScopes}})
	rc := startReceiver(t, always(http.StatusGone))
	reg := ta.as(t, "gone", http.MethodPost, "/webhooks", jsonBody(t, map[string]any{"url": rc.url()}), nil)
	require.Equal(t, http.StatusCreated, reg.Status, "body: %s", reg.Body)

	r := ta.as(t, "gone", http.MethodPost, "/jobs", sumBody(0), nil)
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
	key := http.Header{"Authorization": {"Bearer " + ta.secrets["gone"]}}
	notes := waitNotified(t, ta.url, key, r.view(t).ID, 1, settled)
	require.Equal(t, job.NotificationGone, notes[0].Status)
	require.Equal(t, http.StatusGone, notes[0].LastStatusCode)

	var list api.WebhookList
	ta.as(t, "gone", http.MethodGet, "/webhooks", nil, nil).decode(t, &list)
	require.Len(t, list.Webhooks, 1)
	require.Equal(t, "gone", list.Webhooks[0].Status)
	require.NotNil(t, list.Webhooks[0].GoneAt)

	later := ta.as(t, "gone", http.MethodPost, "/jobs", sumBody(0), nil)
	require.Equal(t, http.StatusAccepted, later.Status)
	// Within the API's short cache of the tenant's endpoints the job may
	// still name it; its delivery then ends gone without a request.
	require.Eventually(t, func() bool {
		v := ta.as(t, "gone", http.MethodGet, "/jobs/"+later.view(t).ID, nil, nil).view(t)
		for _, n := range v.Notifications {
			if !settled(n) {
				return false
			}
		}
		return v.Status.Terminal()
	}, time.Minute, 100*time.Millisecond)
	require.Len(t, rc.deliveries(), 1, "a gone endpoint receives nothing more")
}

// Endpoints: registered (secret answered once), listed without secrets,
// rotated (both secrets sign during the overlap, each verifies with the
// reference library), deleted; another tenant's endpoint is 404 on every
// route and absent from its list; bad requests are 4xx.
func TestWebhookEndpoints(t *testing.T) {
	ta := startTenantAPI(t, []tenantKey{
		{id: "acme", tenant: "hooks-acme", scopes: allScopes},
		{id: "globex", tenant: "hooks-globex", scopes: allScopes},
	})
	rc := startReceiver(t, nil)

	for _, tc := range []struct {
		name   string
		body   string
		ctype  string
		status int
		field  string
	}{
		{"not json", `{"url":"x"}`, "text/plain", http.StatusUnsupportedMediaType, ""},
		{"unknown field", `{"uri":"https://hooks.example.com/"}`, "", http.StatusBadRequest, ""},
		{"no url", `{}`, "", http.StatusUnprocessableEntity, "url"},
		{"ftp", `{"url":"ftp://hooks.example.com/"}`, "", http.StatusUnprocessableEntity, "url"},
		{"userinfo", `{"url":"https://user:pw@hooks.example.com/"}`, "", http.StatusUnprocessableEntity, "url"},
		{"loopback literal", `{"url":"http://[::1]:8080/"}`, "", http.StatusUnprocessableEntity, "url"},
		{"unknown event", `{"url":"https://hooks.example.com/","events":["job.exploded"]}`, "", http.StatusUnprocessableEntity, "events"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.ctype != "" {
				h.Set("Content-Type", tc.ctype)
			}
			r := ta.as(t, "acme", http.MethodPost, "/webhooks", []byte(tc.body), h)
			require.Equal(t, tc.status, r.Status, "body: %s", r.Body)
			require.Equal(t, tc.field, r.problem(t).Field)
		})
	}

	reg := ta.as(t, "acme", http.MethodPost, "/webhooks", jsonBody(t, map[string]any{"url": rc.url(), "events": []string{job.EventSucceeded}}), nil)
	require.Equal(t, http.StatusCreated, reg.Status, "body: %s", reg.Body)
	var e api.WebhookEndpoint
	reg.decode(t, &e)
	require.Equal(t, "/webhooks/"+e.ID, reg.Header.Get("Location"))
	first, err := webhook.ParseSecret(e.Secret)
	require.NoError(t, err)

	var list api.WebhookList
	ta.as(t, "acme", http.MethodGet, "/webhooks", nil, nil).decode(t, &list)
	require.Len(t, list.Webhooks, 1)
	require.Empty(t, list.Webhooks[0].Secret, "the secret is answered once")
	require.NotContains(t, string(ta.as(t, "acme", http.MethodGet, "/webhooks", nil, nil).Body), e.Secret)

	// Another tenant sees nothing and reaches nothing.
	ta.as(t, "globex", http.MethodGet, "/webhooks", nil, nil).decode(t, &list)
	require.Empty(t, list.Webhooks)
	require.Equal(t, http.StatusNotFound, ta.as(t, "globex", http.MethodPost, "/webhooks/"+e.ID+"/rotate", nil, nil).Status)
	require.Equal(t, http.StatusNotFound, ta.as(t, "globex", http.MethodDelete, "/webhooks/"+e.ID, nil, nil).Status)
	require.Equal(t, http.StatusNotFound, ta.as(t, "acme", http.MethodDelete, "/webhooks/not-an-id", nil, nil).Status)
	// globex's jobs do not deliver to acme's endpoint.
	gj := ta.as(t, "globex", http.MethodPost, "/jobs", sumBody(0), nil)
	require.Equal(t, http.StatusAccepted, gj.Status)

	rot := ta.as(t, "acme", http.MethodPost, "/webhooks/"+e.ID+"/rotate", nil, nil)
	require.Equal(t, http.StatusOK, rot.Status, "body: %s", rot.Body)
	var rotated api.WebhookEndpoint
	rot.decode(t, &rotated)
	second, err := webhook.ParseSecret(rotated.Secret)
	require.NoError(t, err)
	require.NotEqual(t, first.Text(), second.Text())
	require.NotNil(t, rotated.PreviousSecretExpiresAt)
	require.WithinDuration(t, time.Now().Add(endpoints.RotationOverlap), *rotated.PreviousSecretExpiresAt, time.Minute)

	r := ta.as(t, "acme", http.MethodPost, "/jobs", sumBody(0), nil)
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
	key := http.Header{"Authorization": {"Bearer " + ta.secrets["acme"]}}
	notes := waitNotified(t, ta.url, key, r.view(t).ID, 1, settled)
	require.Equal(t, job.NotificationDelivered, notes[0].Status)
	got := rc.deliveries()
	require.Len(t, got, 1, "only acme's job delivered there")
	require.Len(t, strings.Fields(got[0].header.Get("webhook-signature")), 2, "two secrets sign during the overlap")
	requireSigned(t, first, got[0])
	requireSigned(t, second, got[0])

	require.Equal(t, http.StatusNoContent, ta.as(t, "acme", http.MethodDelete, "/webhooks/"+e.ID, nil, nil).Status)
	require.Equal(t, http.StatusNotFound, ta.as(t, "acme", http.MethodDelete, "/webhooks/"+e.ID, nil, nil).Status)
	ta.as(t, "acme", http.MethodGet, "/webhooks", nil, nil).decode(t, &list)
	require.Empty(t, list.Webhooks)
}
