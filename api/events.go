package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"github.com/docket-dev/docket/internal/auth"
	"github.com/docket-dev/docket/job"
)

// Defaults of the event streams (GET /jobs/{id}/events).
const (
	// DefaultKeepAlive is how often an idle stream sends a comment, so
	// that proxies and load balancers keep the connection open.
	DefaultKeepAlive = 15 * time.Second
	// DefaultMaxStream bounds one stream; the client reconnects with
	// Last-Event-ID and misses nothing.
	DefaultMaxStream = 30 * time.Minute
	// DefaultStreamTokenTTL is how long a stream token opens its stream.
	DefaultStreamTokenTTL = 5 * time.Minute
	// streamWriteTimeout bounds each write of a stream: a client that
	// stops reading is dropped.
	streamWriteTimeout = 30 * time.Second
	// streamRetryMS is the reconnection delay streams ask EventSource for.
	streamRetryMS = 2000
)

// Streams configures the event streams of a Server. The zero value serves
// them with the defaults once Feeds is set (api.New sets it).
type Streams struct {
	// Feeds follows jobs for the streams; nil: the streams answer 503.
	Feeds *job.Feeds
	// KeepAlive, MaxDuration and TokenTTL replace DefaultKeepAlive,
	// DefaultMaxStream and DefaultStreamTokenTTL when set.
	KeepAlive   time.Duration
	MaxDuration time.Duration
	TokenTTL    time.Duration

	closeOnce sync.Once
	closing   chan struct{}
	initOnce  sync.Once
}

func (st *Streams) closed() chan struct{} {
	st.initOnce.Do(func() { st.closing = make(chan struct{}) })
	return st.closing
}

// CloseStreams ends every event stream the server serves, now and from now
// on (they close without end; their clients reconnect, to another replica,
// with Last-Event-ID): register it with http.Server.RegisterOnShutdown, so
// that a graceful shutdown does not wait for streams that last minutes.
func (s *Server) CloseStreams() {
	ch := s.Streams.closed()
	s.Streams.closeOnce.Do(func() { close(ch) })
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// authenticate finds the key of a request: the Authorization header's, or,
// on an event stream only, the key that minted the stream token in the
// query string (a browser's EventSource cannot send headers). An API key
// in the query string is refused whatever the route.
func (s *Server) authenticate(r *http.Request, now time.Time) (*auth.Principal, error) {
	if tokens, ok := r.URL.Query()["token"]; ok && r.Header.Get("Authorization") == "" {
		id := mux.Vars(r)["id"]
		if len(tokens) == 1 && id != "" && r.URL.Path == "/jobs/"+id+"/events" {
			return s.Keys.VerifyStreamToken(tokens[0], id, now)
		}
	}
	return s.Keys.Authenticate(r.Header.Get("Authorization"), now)
}

// StreamToken is the body of POST /jobs/{id}/events/token.
type StreamToken struct {
	// Token opens the job's stream as ?token=; empty when the API serves
	// without keys (no token is needed then).
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	// URL is the stream's path with the token.
	URL string `json:"url"`
}

// mintStreamToken is POST /jobs/{id}/events/token.
func (s *Server) mintStreamToken(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	ctx, cancel := context.WithTimeout(r.Context(), s.CallTimeout)
	defer cancel()
	if _, err := s.Jobs.Owner(ctx, id); err != nil {
		s.fail(w, r, err)
		return
	}
	expires := time.Now().Add(orDefault(s.Streams.TokenTTL, DefaultStreamTokenTTL)).Truncate(time.Second).UTC()
	out := StreamToken{ExpiresAt: expires, URL: "/jobs/" + id + "/events"}
	if p := principalOf(r.Context()); p != nil && s.Keys != nil {
		tok, err := s.Keys.MintStreamToken(p, id, expires)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out.Token = tok
		out.URL += "?token=" + url.QueryEscape(tok)
	}
	writeJSON(w, http.StatusOK, out)
}

// lastEventID reads where a reconnecting client stopped: the Last-Event-ID
// header EventSource sends, or ?last_event_id= for a client that opens a
// new EventSource (with a new token) to resume. 0: from the start.
func (s *Server) lastEventID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	raw, field := r.Header.Get("Last-Event-ID"), "Last-Event-ID"
	if q := r.URL.Query().Get("last_event_id"); q != "" {
		raw, field = q, "last_event_id"
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 {
		writeProblem(w, r, http.StatusBadRequest, "invalid-parameter",
			field+" must be the id of an event of this stream (a whole number)", func(p *Problem) { p.Field = field })
		return 0, false
	}
	return n, true
}

// jobEvents is GET /jobs/{id}/events: the job's events as Server-Sent
// Events. Each event's id is the workflow's revision of the change it
// tells (job.Tracked), the same on every replica; a client resuming after
// id N gets every part of the job that changed after N, with its current
// value, then the live changes, and finally end with the job's final view.
func (s *Server) jobEvents(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	after, ok := s.lastEventID(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.CallTimeout)
	_, err := s.Jobs.Owner(ctx, id)
	cancel()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	feeds := s.Streams.Feeds
	if feeds == nil {
		s.unavailable(w, r, "this server does not serve event streams")
		return
	}
	feed, release := feeds.Subscribe(id)
	defer release()
	// Wait for what the follower first learns (usually milliseconds), so
	// that a job gone meanwhile is a 404 and a resume after the end a 204.
	st := s.firstState(r.Context(), feed)
	if errors.Is(st.Err, job.ErrNotFound) {
		s.fail(w, r, st.Err)
		return
	}
	if st.End != nil && after >= st.EndID() {
		// Nothing left to send: 204 also tells EventSource to stop
		// reconnecting.
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	// nginx and similar proxies buffer responses unless told not to.
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	s.stream(r.Context(), w, feed, after)
}

// firstState waits up to the call timeout for the follower's first
// knowledge of its job.
func (s *Server) firstState(ctx context.Context, f *job.Feed) job.FeedState {
	timeout := time.NewTimer(s.CallTimeout)
	defer timeout.Stop()
	for {
		st, changed := f.State()
		if (st.Known && st.Followed) || st.End != nil || st.Err != nil {
			return st
		}
		select {
		case <-changed:
		case <-timeout.C:
			return st
		case <-ctx.Done():
			return st
		}
	}
}

// stream writes the events after cursor until the job's end, the client
// leaving, or the stream's time limit.
func (s *Server) stream(ctx context.Context, w http.ResponseWriter, f *job.Feed, cursor int64) {
	rc := http.NewResponseController(w)
	limit := orDefault(s.Streams.MaxDuration, DefaultMaxStream)
	// The server's ReadTimeout would end the request (net/http's
	// background read of the idle connection fails at it) and its
	// WriteTimeout every write: a stream sets its own.
	_ = rc.SetReadDeadline(time.Now().Add(limit + streamWriteTimeout))
	write := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	send := func(id int64, typ string, data any) bool {
		b, err := json.Marshal(data)
		if err != nil {
			s.Log.Error("encode an event", "type", typ, "error", err)
			return false
		}
		return write(fmt.Appendf(nil, "id: %d\nevent: %s\ndata: %s\n\n", id, typ, b))
	}
	if !write(fmt.Appendf(nil, "retry: %d\n\n", streamRetryMS)) {
		return
	}
	keepAlive := time.NewTicker(orDefault(s.Streams.KeepAlive, DefaultKeepAlive))
	defer keepAlive.Stop()
	end := time.NewTimer(limit)
	defer end.Stop()
	closing := s.Streams.closed()
	for {
		st, changed := f.State()
		if st.Known {
			for _, ev := range job.EventsAfter(st.Tracked, cursor) {
				if !send(ev.ID, ev.Type, ev.Data) {
					return
				}
				cursor = ev.ID
			}
		}
		if st.End != nil {
			if ev, ok := st.Closing(); ok && ev.ID > cursor {
				if !send(ev.ID, ev.Type, ev.Data) {
					return
				}
				cursor = ev.ID
			}
			send(max(st.EndID(), cursor+1), job.EventEnd, st.End)
			return
		}
		if st.Err != nil {
			return
		}
		select {
		case <-changed:
		case <-keepAlive.C:
			if !write([]byte(": keep-alive\n\n")) {
				return
			}
		case <-end.C:
			return
		case <-closing:
			return
		case <-ctx.Done():
			return
		}
	}
}
