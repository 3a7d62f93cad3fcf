package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/api"
	"github.com/docket-dev/docket/internal/auth"
	"github.com/docket-dev/docket/job"
	"github.com/docket-dev/docket/tools/teststack"
)

// sseEvent is one event read off a stream.
type sseEvent struct {
	id    int64
	event string
	data  string
}

// sseStream is an open event stream.
type sseStream struct {
	resp   *http.Response
	events chan sseEvent
	// comments counts the comment lines (keep-alives) read.
	comments chan string
	cancel   context.CancelFunc
}

// openStream opens path on base with header; the test ends it.
func openStream(t *testing.T, base, path string, header http.Header) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	s := &sseStream{resp: resp, events: make(chan sseEvent, 1000), comments: make(chan string, 1000), cancel: cancel}
	t.Cleanup(s.close)
	if resp.StatusCode != http.StatusOK {
		close(s.events)
		return s
	}
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	go s.read()
	return s
}

func (s *sseStream) close() {
	s.cancel()
	_ = s.resp.Body.Close()
}

// read parses the stream (the WHATWG event-stream format, as far as Docket
// writes it) into events; the channel closes with the stream.
func (s *sseStream) read() {
	defer close(s.events)
	sc := bufio.NewScanner(s.resp.Body)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.event != "" || ev.data != "" {
				s.events <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
			s.comments <- line
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				ev.id, _ = strconv.ParseInt(value, 10, 64)
			case "event":
				ev.event = value
			case "data":
				ev.data += value
			}
		}
	}
}

// next returns the stream's next event; ok is false when it closed.
func (s *sseStream) next(t *testing.T) (sseEvent, bool) {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		return ev, ok
	case <-time.After(2 * time.Minute):
		t.Fatal("no event in 2 minutes")
		return sseEvent{}, false
	}
}

// all reads events until the stream closes.
func (s *sseStream) all(t *testing.T) []sseEvent {
	t.Helper()
	var out []sseEvent
	for {
		ev, ok := s.next(t)
		if !ok {
			return out
		}
		out = append(out, ev)
	}
}

// requireWellFormed checks a whole stream: increasing ids, one end, last.
func requireWellFormed(t *testing.T, events []sseEvent) job.View {
	t.Helper()
	require.NotEmpty(t, events)
	for i := 1; i < len(events); i++ {
		require.Greater(t, events[i].id, events[i-1].id, "ids increase: %v", events)
	}
	last := events[len(events)-1]
	require.Equal(t, job.EventEnd, last.event, "the stream ends with end: %v", events)
	for _, ev := range events[:len(events)-1] {
		require.NotEqual(t, job.EventEnd, ev.event)
	}
	var v job.View
	require.NoError(t, json.Unmarshal([]byte(last.data), &v))
	return v
}

func sumInput(workMS int) map[string]any {
	return map[string]any{"start": 1, "end": 1000, "work_ms": workMS}
}

// TestEventsOfASlowSum: a real job's stream tells its status changes, its
// step starting and ending and its progress, in order, then end with the
// final view, and closes.
func TestEventsOfASlowSum(t *testing.T) {
	v := submit(t, "sum", sumInput(4000))
	s := openStream(t, stack.api.URL, "/jobs/"+v.ID+"/events", nil)
	events := s.all(t)
	final := requireWellFormed(t, events)
	require.Equal(t, job.StatusSucceeded, final.Status)
	require.Equal(t, v.ID, final.ID)

	var statuses []job.Status
	var stepStates []job.Status
	var done []int64
	for _, ev := range events {
		switch ev.event {
		case job.EventStatus:
			var c job.StatusChange
			require.NoError(t, json.Unmarshal([]byte(ev.data), &c))
			require.Equal(t, v.ID, c.ID)
			statuses = append(statuses, c.Status)
		case job.EventStep:
			var c job.StepChange
			require.NoError(t, json.Unmarshal([]byte(ev.data), &c))
			require.Equal(t, "sum", c.Step.Name)
			stepStates = append(stepStates, c.Step.Status)
		case job.EventProgress:
			var c job.ProgressChange
			require.NoError(t, json.Unmarshal([]byte(ev.data), &c))
			require.Equal(t, "sum", c.Step)
			done = append(done, c.Done)
		}
	}
	require.Equal(t, []job.Status{job.StatusQueued, job.StatusRunning, job.StatusSucceeded}, statuses)
	require.Equal(t, job.StatusQueued, stepStates[0], "the step is first scheduled")
	require.Contains(t, stepStates, job.StatusRunning)
	require.Equal(t, job.StatusSucceeded, stepStates[len(stepStates)-1])
	require.GreaterOrEqual(t, len(done), 2, "a 4 s sum moves its progress more than once: %v", events)
	for i := 1; i < len(done); i++ {
		require.Greater(t, done[i], done[i-1])
	}
}

// TestEventsResume: a client that drops its connection and reconnects
// with Last-Event-ID gets exactly what it had not seen: no event twice and
// every part's latest value, and together the two streams tell what one
// uninterrupted stream does.
func TestEventsResume(t *testing.T) {
	v := submit(t, "sum", sumInput(4000))
	first := openStream(t, stack.api.URL, "/jobs/"+v.ID+"/events", nil)
	var seen []sseEvent
	for {
		ev, ok := first.next(t)
		require.True(t, ok)
		seen = append(seen, ev)
		if ev.event == job.EventProgress {
			break
		}
	}
	first.close()
	last := seen[len(seen)-1].id
	rest := openStream(t, stack.api.URL, "/jobs/"+v.ID+"/events", http.Header{"Last-Event-ID": {strconv.FormatInt(last, 10)}}).all(t)
	all := append(seen, rest...)
	final := requireWellFormed(t, all)
	require.Equal(t, job.StatusSucceeded, final.Status)
	require.Greater(t, rest[0].id, last, "nothing repeated")

	// A stream from the start, read after the job ended, carries each
	// part's final value; the resumed pair must agree with it.
	whole := openStream(t, stack.api.URL, "/jobs/"+v.ID+"/events", nil).all(t)
	require.Equal(t, latest(whole), latest(all), "the resumed streams end where a fresh one does")
	// The ids too: those of the ended job are rebuilt by replaying its
	// history, and they are the ones given live.
	require.Equal(t, latestIDs(whole), latestIDs(all))
}

// latestIDs is the id of each part's last event (see latest).
func latestIDs(events []sseEvent) map[string]int64 {
	m := map[string]int64{}
	for k, data := range latest(events) {
		for _, ev := range events {
			if ev.data == data {
				m[k] = ev.id
			}
		}
	}
	return m
}

// latest is the last data of each part of a job's stream, by event type
// and step index.
func latest(events []sseEvent) map[string]string {
	out := map[string]string{}
	for _, ev := range events {
		key := ev.event
		if ev.event == job.EventStep || ev.event == job.EventProgress {
			var c struct {
				Index int `json:"index"`
			}
			_ = json.Unmarshal([]byte(ev.data), &c)
			key += strconv.Itoa(c.Index)
		}
		if ev.event == job.EventEnd {
			continue // the view also carries times read at the end
		}
		out[key] = ev.data
	}
	return out
}

// TestEventsOnAnotherReplica: a replica that did not start the job serves
// its stream, with the same event ids as the replica that did.
func TestEventsOnAnotherReplica(t *testing.T) {
	other := teststack.StartAPI(stack.server.Client(), taskQueue, stack.docs)
	t.Cleanup(other.Close)
	v := submit(t, "sum", sumInput(2000))
	here := openStream(t, stack.api.URL, "/jobs/"+v.ID+"/events", nil)
	there := openStream(t, other.URL, "/jobs/"+v.ID+"/events", nil)
	a, b := here.all(t), there.all(t)
	require.Equal(t, job.StatusSucceeded, requireWellFormed(t, b).Status)
	requireWellFormed(t, a)
	// Both saw the job from its start: the same final parts under the
	// same ids.
	require.Equal(t, latestIDs(a), latestIDs(b))
}

// TestEventsOfACanceledJob: canceling a running job ends its stream with
// end, whose view is CANCELED.
func TestEventsOfACanceledJob(t *testing.T) {
	v := submit(t, "sum", sumInput(60000))
	s := openStream(t, stack.api.URL, "/jobs/"+v.ID+"/events", nil)
	for {
		ev, ok := s.next(t)
		require.True(t, ok)
		if ev.event == job.EventProgress {
			break
		}
	}
	r := call(t, stack.api.URL, http.MethodDelete, "/jobs/"+v.ID, nil, nil)
	require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
	events := s.all(t)
	final := requireWellFormed(t, events)
	require.Equal(t, job.StatusCanceled, final.Status)
	var c job.StatusChange
	for _, ev := range events {
		if ev.event == job.EventStatus {
			require.NoError(t, json.Unmarshal([]byte(ev.data), &c))
		}
	}
	require.Equal(t, job.StatusCanceled, c.Status, "the status event says CANCELED before end")
}

// TestEventsOfATimedOutJob: a job that runs out of time (its workflow is
// closed by Temporal, so its own code never records the end) still gets
// its status event, TIMED_OUT, before end.
func TestEventsOfATimedOutJob(t *testing.T) {
	v := submit(t, "sum", sumInput(60000), func(b map[string]any) { b["timeout"] = "2s" })
	events := openStream(t, stack.api.URL, "/jobs/"+v.ID+"/events", nil).all(t)
	final := requireWellFormed(t, events)
	require.Equal(t, job.StatusTimedOut, final.Status)
	before := events[len(events)-2]
	require.Equal(t, job.EventStatus, before.event)
	var c job.StatusChange
	require.NoError(t, json.Unmarshal([]byte(before.data), &c))
	require.Equal(t, job.StatusTimedOut, c.Status)
	require.NotNil(t, c.Error)

	// The same ids when read again after the end.
	again := openStream(t, stack.api.URL, "/jobs/"+v.ID+"/events", nil).all(t)
	require.Equal(t, events[len(events)-1].id, again[len(again)-1].id)
}

// TestEventsOfAFinishedJob: a job that has ended answers its whole story
// and end at once, and a client that has seen the end is told 204 (which
// stops EventSource reconnecting).
func TestEventsOfAFinishedJob(t *testing.T) {
	v := submit(t, "sum", sumInput(0))
	require.Equal(t, http.StatusOK, waitResult(t, v.ID).Status)
	events := openStream(t, stack.api.URL, "/jobs/"+v.ID+"/events", nil).all(t)
	final := requireWellFormed(t, events)
	require.Equal(t, job.StatusSucceeded, final.Status)
	endID := events[len(events)-1].id

	s := openStream(t, stack.api.URL, "/jobs/"+v.ID+"/events", http.Header{"Last-Event-ID": {strconv.FormatInt(endID, 10)}})
	require.Equal(t, http.StatusNoContent, s.resp.StatusCode)

	// From just before the end: only end.
	rest := openStream(t, stack.api.URL, "/jobs/"+v.ID+"/events?last_event_id="+strconv.FormatInt(endID-1, 10), nil).all(t)
	require.Len(t, rest, 1)
	require.Equal(t, job.EventEnd, rest[0].event)
	require.Equal(t, endID, rest[0].id)
}

// TestEventsErrors: an unknown job is 404 and a malformed Last-Event-ID
// 400, as problem+json that the document describes.
func TestEventsErrors(t *testing.T) {
	r := call(t, stack.api.URL, http.MethodGet, "/jobs/00000000-0000-4000-8000-000000000000/events", nil, nil)
	require.Equal(t, http.StatusNotFound, r.Status)
	v := submit(t, "sum", sumInput(0))
	r = call(t, stack.api.URL, http.MethodGet, "/jobs/"+v.ID+"/events", nil, http.Header{"Last-Event-ID": {"x"}})
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Equal(t, "Last-Event-ID", r.problem(t).Field)
	r = call(t, stack.api.URL, http.MethodGet, "/jobs/"+v.ID+"/events?last_event_id=-1", nil, nil)
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Equal(t, "last_event_id", r.problem(t).Field)
	r = call(t, stack.api.URL, http.MethodGet, "/jobs/"+v.ID+"/events?after=1", nil, nil)
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Equal(t, "after", r.problem(t).Field)
	// HEAD answers the stream's headers and no body.
	resp, err := http.Head(stack.api.URL + "/jobs/" + v.ID + "/events")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
}

// TestEventsKeepAliveAndLimits: an idle stream sends keep-alive comments;
// a stream ends at its time limit even while the job runs (the client
// resumes); and a client that leaves releases the job's follower, so
// nothing keeps running for it.
func TestEventsKeepAliveAndLimits(t *testing.T) {
	srv := teststack.API(stack.server.Client(), taskQueue, stack.docs)
	srv.Streams.KeepAlive = 100 * time.Millisecond
	srv.Streams.MaxDuration = 3 * time.Second
	// The production server, with its read and write timeouts cut to a
	// second: a stream outlives them (it sets its own deadlines).
	h := srv.Handler()
	hs := httptest.NewUnstartedServer(h)
	prod := api.NewHTTPServer("", h)
	prod.ReadTimeout, prod.WriteTimeout = time.Second, time.Second
	hs.Config = prod.Server
	hs.Listener = prod.WrapListener(hs.Listener)
	hs.Start()
	t.Cleanup(hs.Close)
	v := submit(t, "sum", sumInput(60000))
	t.Cleanup(func() { call(t, stack.api.URL, http.MethodDelete, "/jobs/"+v.ID, nil, nil) })

	s := openStream(t, hs.URL, "/jobs/"+v.ID+"/events", nil)
	select {
	case c := <-s.comments:
		require.Equal(t, ": keep-alive", c)
	case <-time.After(time.Minute):
		t.Fatal("no keep-alive")
	}
	// The limit closes the stream without end.
	events := s.all(t)
	for _, ev := range events {
		require.NotEqual(t, job.EventEnd, ev.event)
	}
	// A keep-alive every 100 ms for the 3 s the stream lasts: over 20 of
	// them means it outlived the server's 1 s timeouts.
	require.Greater(t, len(s.comments)+1, 20, "the stream lived past the server's read and write timeouts")
	require.True(t, events[len(events)-1].id > 0)
	require.Eventually(t, func() bool { return srv.Streams.Feeds.Active() == 0 }, time.Minute, 20*time.Millisecond,
		"the follower stops when its last stream ends")

	// A client that goes away releases its stream and the follower.
	s = openStream(t, hs.URL, "/jobs/"+v.ID+"/events", nil)
	_, ok := s.next(t)
	require.True(t, ok)
	require.Equal(t, 1, srv.Streams.Feeds.Active())
	s.close()
	require.Eventually(t, func() bool { return srv.Streams.Feeds.Active() == 0 }, time.Minute, 20*time.Millisecond,
		"the follower stops when its client leaves")
}

// TestEventsTokens: with keys, a stream opens with the Authorization
// header or with a stream token minted for that job; a token does not open
// another job's stream, nor after it expires; a key in the query string is
// refused; and another tenant's job is 404 on both routes.
func TestEventsTokens(t *testing.T) {
	ta := startTenantAPI(t, []tenantKey{
		{id: "acme-key", tenant: "acme", scopes: allScopes},
		{id: "globex-key", tenant: "globex", scopes: allScopes},
	})
	start := func(key string) string {
		r := ta.as(t, key, http.MethodPost, "/jobs", sumBody(0), http.Header{"Content-Type": {"application/json"}})
		require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
		return r.view(t).ID
	}
	a, b := start("acme-key"), start("acme-key")
	g := start("globex-key")

	bearer := http.Header{"Authorization": {"Bearer " + ta.secrets["acme-key"]}}
	require.Equal(t, job.EventEnd, lastEvent(t, openStream(t, ta.url, "/jobs/"+a+"/events", bearer).all(t)))

	mint := func(key, id string) api.StreamToken {
		r := ta.as(t, key, http.MethodPost, "/jobs/"+id+"/events/token", nil, nil)
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		var tok api.StreamToken
		r.decode(t, &tok)
		require.True(t, strings.HasPrefix(tok.Token, auth.StreamTokenPrefix))
		return tok
	}
	tok := mint("acme-key", a)
	require.Equal(t, "/jobs/"+a+"/events?token="+tok.Token, tok.URL)
	require.Equal(t, job.EventEnd, lastEvent(t, openStream(t, ta.url, tok.URL, nil).all(t)))

	// Job A's token does not open job B.
	r := call(t, ta.url, http.MethodGet, "/jobs/"+b+"/events?token="+tok.Token, nil, nil)
	require.Equal(t, http.StatusUnauthorized, r.Status)
	// A token only opens streams.
	r = call(t, ta.url, http.MethodGet, "/jobs/"+a+"?token="+tok.Token, nil, nil)
	require.Equal(t, http.StatusUnauthorized, r.Status)
	// The key itself is never taken from the query string.
	r = call(t, ta.url, http.MethodGet, "/jobs/"+a+"/events?token="+ta.secrets["acme-key"], nil, nil)
	require.Equal(t, http.StatusUnauthorized, r.Status)
	require.Contains(t, r.problem(t).Detail, "never accepted in the query string")
	// A forged token: another key's hash.
	r = call(t, ta.url, http.MethodGet, "/jobs/"+a+"/events?token="+tok.Token[:len(tok.Token)-2]+"xx", nil, nil)
	require.Equal(t, http.StatusUnauthorized, r.Status)
	// Another tenant's job is not found, to mint for or to stream.
	require.Equal(t, http.StatusNotFound, ta.as(t, "acme-key", http.MethodPost, "/jobs/"+g+"/events/token", nil, nil).Status)
	require.Equal(t, http.StatusNotFound, ta.as(t, "acme-key", http.MethodGet, "/jobs/"+g+"/events", nil, nil).Status)

	// An expired token is refused.
	srv := teststack.API(stack.server.Client(), taskQueue, stack.docs)
	ring, err := auth.Open(ta.file, teststack.Logger())
	require.NoError(t, err)
	t.Cleanup(ring.Close)
	srv.Keys = ring
	srv.Streams.TokenTTL = time.Second
	srv.CORSOrigins = []string{"https://app.example.com"}
	short := teststack.Serve(srv.Handler())
	t.Cleanup(short.Close)
	r = call(t, short.URL, http.MethodPost, "/jobs/"+a+"/events/token", nil, bearer)
	require.Equal(t, http.StatusOK, r.Status)
	var brief api.StreamToken
	r.decode(t, &brief)
	time.Sleep(time.Until(brief.ExpiresAt) + 100*time.Millisecond)
	r = call(t, short.URL, http.MethodGet, brief.URL, nil, nil)
	require.Equal(t, http.StatusUnauthorized, r.Status)
	require.Contains(t, r.problem(t).Detail, "expired")
	// Every replica with the keys file verifies a token another minted,
	// and a page on an allowed origin may read the stream (EventSource
	// sends Origin, and no credentials).
	cross := openStream(t, short.URL, tok.URL, http.Header{"Origin": {"https://app.example.com"}})
	require.Equal(t, "https://app.example.com", cross.resp.Header.Get("Access-Control-Allow-Origin"))
	require.Equal(t, job.EventEnd, lastEvent(t, cross.all(t)))
}

func lastEvent(t *testing.T, events []sseEvent) string {
	t.Helper()
	require.NotEmpty(t, events)
	return events[len(events)-1].event
}

// TestEventsEndOnShutdown: a graceful shutdown of the server closes its
// streams (without end: the client resumes elsewhere) instead of waiting
// for them, as docket-api registers CloseStreams for.
func TestEventsEndOnShutdown(t *testing.T) {
	srv := teststack.API(stack.server.Client(), taskQueue, stack.docs)
	hs := teststack.Serve(srv.Handler())
	t.Cleanup(hs.Close)
	hs.Config.RegisterOnShutdown(srv.CloseStreams)
	v := submit(t, "sum", sumInput(60000))
	t.Cleanup(func() { call(t, stack.api.URL, http.MethodDelete, "/jobs/"+v.ID, nil, nil) })
	s := openStream(t, hs.URL, "/jobs/"+v.ID+"/events", nil)
	_, ok := s.next(t)
	require.True(t, ok)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, hs.Config.Shutdown(ctx), "the shutdown does not wait for the stream")
	for _, ev := range s.all(t) {
		require.NotEqual(t, job.EventEnd, ev.event)
	}
	require.Eventually(t, func() bool { return srv.Streams.Feeds.Active() == 0 }, time.Minute, 20*time.Millisecond)
}

// TestEventsOfADocumentJob: a three-step job's stream tells each step
// being scheduled, picked up and ending, one step after another, and the
// status changes around them.
func TestEventsOfADocumentJob(t *testing.T) {
	d := uploadDoc(t, pngDoc(t, invoiceLines))
	v := submit(t, "document", map[string]any{"document_id": d.ID})
	events := openStream(t, stack.api.URL, "/jobs/"+v.ID+"/events", nil).all(t)
	final := requireWellFormed(t, events)
	require.Equal(t, job.StatusSucceeded, final.Status)

	// Each step's states in order, and the order the steps ended in.
	states := map[int][]job.Status{}
	var ended []int
	for _, ev := range events {
		if ev.event != job.EventStep {
			continue
		}
		var c job.StepChange
		require.NoError(t, json.Unmarshal([]byte(ev.data), &c))
		require.Equal(t, job.DocumentSteps[c.Index], c.Step.Name)
		states[c.Index] = append(states[c.Index], c.Step.Status)
		if c.Step.Status.Terminal() {
			ended = append(ended, c.Index)
		}
	}
	require.Equal(t, []int{0, 1, 2}, ended)
	for i := range job.DocumentSteps {
		s := states[i]
		require.Equal(t, job.StatusQueued, s[0], "step %d is first scheduled: %v", i, s)
		require.Equal(t, job.StatusSucceeded, s[len(s)-1], "step %d: %v", i, s)
	}
}
