package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/docket-dev/docket/job"
)

// receiver is the run's webhook receiver: a real HTTP server on loopback
// that the scenarios' jobs name as their notify URL. It verifies every
// delivery's signature with the Standard Webhooks reference library (not
// Docket's code) and records what arrived under which webhook-id. The
// topology's processes must be allowed to reach it
// (DOCKET_FETCH_ALLOW_HOSTS=127.0.0.1) and sign with the secret it has.
type receiver struct {
	wh  *standardwebhooks.Webhook
	srv *http.Server
	url string
	// refuseEvery makes the first attempt of every refuseEvery-th message
	// answer 503 with Retry-After: 1, so that each run also proves a retry
	// keeps its webhook-id (0: never).
	refuseEvery int

	mu   sync.Mutex
	msgs map[string]*hookMessage // by webhook-id
	// order is the webhook-ids in order of first arrival.
	order []string
	// unverified are deliveries whose signature did not verify (answered
	// 401, which fails the delivery at once).
	unverified []string
}

// hookMessage is everything that arrived under one webhook-id.
type hookMessage struct {
	JobID string
	Event string
	// Status is the job's status the payload carries.
	Status job.Status
	// Arrivals counts the requests, Refused those answered 503 on purpose,
	// Accepted those answered 204.
	Arrivals, Refused, Accepted int
}

// newReceiver starts a receiver on 127.0.0.1 that verifies with secret
// (whsec_…). Close stops it.
func newReceiver(secret string, refuseEvery int) (*receiver, error) {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: %w", err)
	}
	rc := &receiver{wh: wh, url: "http://" + ln.Addr().String() + "/hooks", refuseEvery: refuseEvery, msgs: map[string]*hookMessage{}}
	rc.srv = &http.Server{Handler: http.HandlerFunc(rc.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = rc.srv.Serve(ln) }()
	return rc, nil
}

// Close stops the receiver.
func (rc *receiver) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return rc.srv.Shutdown(ctx)
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || r.Method != http.MethodPost {
		http.Error(w, "a POST with a body", http.StatusBadRequest)
		return
	}
	id := r.Header.Get("webhook-id")
	if err := rc.wh.Verify(body, r.Header); err != nil {
		rc.mu.Lock()
		rc.unverified = append(rc.unverified, fmt.Sprintf("%q: %v", id, err))
		rc.mu.Unlock()
		http.Error(w, "signature: "+err.Error(), http.StatusUnauthorized)
		return
	}
	var p struct {
		Type string `json:"type"`
		Data struct {
			ID     string     `json:"id"`
			Status job.Status `json:"status"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &p); err != nil || p.Data.ID == "" {
		http.Error(w, "not a Docket event", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	m := rc.msgs[id]
	if m == nil {
		m = &hookMessage{JobID: p.Data.ID, Event: p.Type, Status: p.Data.Status}
		rc.msgs[id] = m
		rc.order = append(rc.order, id)
	}
	m.Arrivals++
	refuse := rc.refuseEvery > 0 && m.Arrivals == 1 && len(rc.order)%rc.refuseEvery == 0
	if refuse {
		m.Refused++
	} else {
		m.Accepted++
	}
	rc.mu.Unlock()
	if refuse {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// hookTally is what the receiver accepted for a set of jobs: per job, the
// webhook-ids of the terminal events it accepted (a delivery the receiver
// only refused is not there yet).
type hookTally struct {
	terminal map[string][]string // job id -> webhook-ids
	msgs     map[string]hookMessage
}

func (rc *receiver) tally(ids []string) hookTally {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	t := hookTally{terminal: map[string][]string{}, msgs: map[string]hookMessage{}}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, mid := range rc.order {
		m := rc.msgs[mid]
		if !want[m.JobID] || m.Accepted == 0 || !slices.Contains(job.TerminalEvents, m.Event) {
			continue
		}
		t.terminal[m.JobID] = append(t.terminal[m.JobID], mid)
		t.msgs[mid] = *m
	}
	return t
}

func (rc *receiver) unverifiedSince(n int) []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.unverified[min(n, len(rc.unverified)):])
}

// hookMark is where the receiver's list of unverified deliveries stands,
// for checkNotifications to report only a scenario's own (0 without one).
func (r *runner) hookMark() int {
	if r.hooks == nil {
		return 0
	}
	r.hooks.mu.Lock()
	defer r.hooks.mu.Unlock()
	return len(r.hooks.unverified)
}

// notifyBody adds the receiver as the notify URL of a start request's body
// (a JSON object), for the job's terminal events.
func (rc *receiver) notifyBody(body []byte) []byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		// The scenarios' bodies are constants of this package.
		panic(fmt.Sprintf("chaos: a start body is not a JSON object: %v", err))
	}
	n, err := json.Marshal(job.NotifyRequest{URL: rc.url, Events: job.TerminalEvents})
	if err != nil {
		panic(err)
	}
	m["notify"] = n
	out, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return out
}

// withNotify is body with the run's receiver as its notify URL, or body
// itself when the run has no receiver.
func (r *runner) withNotify(body []byte) []byte {
	if r.hooks == nil {
		return body
	}
	return r.hooks.notifyBody(body)
}

// checkNotifications waits until the receiver has accepted a terminal event
// for each of the scenario's accepted jobs (ids, ended or not: an accepted
// job owes its receiver one), or until Scale.NotifyWait passes, and counts
// per job: notified (its terminal event arrived), lost (it never did) and
// duplicated (the job's terminal event arrived under more than one
// webhook-id, every id beyond the first). The same webhook-id arriving
// again is a legitimate retry, counted in Redelivered. An event that does
// not match the job's final status, and a delivery whose signature does
// not verify, are problems. unverifiedBefore is the receiver's count of
// unverified deliveries when the scenario began.
func (r *runner) checkNotifications(ctx context.Context, res Result, ids []string, unverifiedBefore int) Result {
	if r.hooks == nil || len(ids) == 0 {
		return res
	}
	waitStart := time.Now()
	end := waitStart.Add(r.cfg.Scale.NotifyWait)
	var t hookTally
	for {
		t = r.hooks.tally(ids)
		if len(t.terminal) == len(ids) || time.Now().After(end) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	allIn := time.Since(waitStart)
	// A duplicate delivery would come about when the first did: give it a
	// moment more to arrive before counting.
	if len(t.terminal) == len(ids) {
		sleepUntil(ctx, time.Now().Add(time.Second))
		t = r.hooks.tally(ids)
	}
	// The jobs' views must record what the receiver saw: each notified
	// job's delivery of its terminal event to the receiver as delivered.
	// The delivery workflow closes just after the receiver's answer, so
	// read the views again until they do, within what is left of the wait.
	var views map[string]job.View
	recorded := map[string]job.Notification{}
	for {
		views = r.snapshot(ctx, ids)
		for id, v := range views {
			for _, n := range v.Notifications {
				if n.URL == r.hooks.url && n.Event == job.EventOf(v.Status) && n.Status == job.NotificationDelivered {
					recorded[id] = n
				}
			}
		}
		if len(recorded) >= len(t.terminal) || time.Now().After(end) || ctx.Err() != nil {
			break
		}
		sleepUntil(ctx, time.Now().Add(300*time.Millisecond))
	}
	final := map[string]job.Status{}
	for id, v := range views {
		final[id] = v.Status
	}
	var unrecorded []string
	retriedInView := 0
	for id := range t.terminal {
		n, ok := recorded[id]
		if !ok {
			unrecorded = append(unrecorded, shortID(id))
		} else if n.Attempts > 1 {
			retriedInView++
		}
	}
	sort.Strings(unrecorded)
	if len(unrecorded) > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("%d jobs' views do not show the terminal event the receiver accepted as delivered: %s", len(unrecorded), joinLimited(unrecorded, 5)))
	}
	res.NotifyExpected += len(ids)
	var lost, dups, wrong []string
	notified, retried, refusedRetried, redelivered := 0, 0, 0, 0
	for _, id := range ids {
		mids := t.terminal[id]
		switch {
		case len(mids) == 0:
			lost = append(lost, shortID(id))
			continue
		case len(mids) > 1:
			res.NotifyDuplicated += len(mids) - 1
			dups = append(dups, fmt.Sprintf("%s under %d webhook-ids", shortID(id), len(mids)))
		}
		notified++
		for _, mid := range mids {
			m := t.msgs[mid]
			if st := final[id]; st.Terminal() && m.Event != job.EventOf(st) {
				wrong = append(wrong, fmt.Sprintf("%s ended %s but was delivered %s", shortID(id), st, m.Event))
			}
			if m.Arrivals > 1 {
				retried++
				res.Redelivered += m.Arrivals - 1
				if m.Refused > 0 {
					refusedRetried++
				}
				if m.Accepted > 1 {
					redelivered++
				}
			}
		}
	}
	res.Notified += notified
	res.NotifyLost += len(lost)
	sort.Strings(dups)
	if len(lost) > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("%d accepted jobs' terminal events never arrived within %s: %s", len(lost), r.cfg.Scale.NotifyWait, joinLimited(lost, 5)))
	}
	if len(dups) > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("%d jobs' terminal events were delivered more than once under different webhook-ids: %s", len(dups), joinLimited(dups, 5)))
	}
	if len(wrong) > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("%d terminal events do not match the job's status: %s", len(wrong), joinLimited(wrong, 5)))
	}
	if bad := r.hooks.unverifiedSince(unverifiedBefore); len(bad) > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("%d deliveries failed signature verification: %s", len(bad), joinLimited(bad, 3)))
	}
	res.Notes = append(res.Notes, fmt.Sprintf("webhooks: %d of %d accepted jobs' terminal events arrived, signed (verified with the Standard Webhooks library), %s after the jobs ended; %d arrived more than once under the same webhook-id (%d after a 503 the receiver gave on purpose, %d redelivered after a 2xx)",
		notified, len(ids), allIn.Round(100*time.Millisecond), retried, refusedRetried, redelivered),
		fmt.Sprintf("webhooks: the job views show %d of them delivered, %d after more than one attempt", len(recorded), retriedInView))
	return res
}
