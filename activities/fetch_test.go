package activities_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/activities"
)

const fetchTimeout = 10 * time.Second

// countingServer is an httptest server on 127.0.0.1 that counts the
// requests it receives and answers them with handler (or "hello").
type countingServer struct {
	*httptest.Server
	hits atomic.Int64
}

func newCountingServer(t *testing.T, handler http.HandlerFunc) *countingServer {
	t.Helper()
	if handler == nil {
		handler = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "hello")
		}
	}
	s := &countingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		handler(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *countingServer) port(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(s.URL)
	require.NoError(t, err)
	return u.Port()
}

// get fetches rawURL with c, guarded by a timeout so that a dial that was
// not refused cannot hang the test.
func get(t *testing.T, c *http.Client, rawURL string) (*http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	if err == nil {
		t.Cleanup(func() { resp.Body.Close() })
	}
	return resp, err
}

func requireRefused(t *testing.T, c *http.Client, rawURL string) {
	t.Helper()
	// A redirect refused from its URL alone still returns the redirect's
	// response (body closed) with the error; the error is what counts.
	_, err := get(t, c, rawURL)
	require.Error(t, err, "fetch %s should be refused", rawURL)
	require.True(t, errors.Is(err, activities.ErrDestinationRefused), "fetch %s: want ErrDestinationRefused, got %v", rawURL, err)
}

func requireBody(t *testing.T, resp *http.Response, want string) {
	t.Helper()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, want, string(b))
}

func TestFetchClientRefusesLoopbackWithoutAllowList(t *testing.T) {
	srv := newCountingServer(t, nil)
	port := srv.port(t)
	for _, c := range []*http.Client{
		activities.NewFetchClient(nil, fetchTimeout),
		activities.NewFetchClient([]string{}, fetchTimeout),
		activities.NewFetchClient([]string{"", "  ", "example.com"}, fetchTimeout),
	} {
		for _, u := range []string{
			"http://127.0.0.1:" + port + "/",
			"http://localhost:" + port + "/",
			"http://LOCALHOST:" + port + "/",
			"http://127.1.2.3:" + port + "/",          // all of 127/8 is loopback
			"http://[::ffff:127.0.0.1]:" + port + "/", // IPv4-mapped loopback
			"http://[::ffff:7f00:1]:" + port + "/",    // the same, in hex
			"http://0.0.0.0:" + port + "/",            // reaches the local host on Linux
			"http://[::]:" + port + "/",               // likewise
			"https://127.0.0.1:" + port + "/",
		} {
			requireRefused(t, c, u)
		}
	}
	require.Zero(t, srv.hits.Load(), "a refused destination received a request")
}

// Private, documentation and other special-purpose addresses are tested
// in internal/egress, inside a network namespace of the test's own: no
// test here sends a packet to an address that is not loopback.

func TestFetchClientRefusesIPv6LoopbackListener(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	var hits atomic.Int64
	srv := &httptest.Server{
		Listener: ln,
		Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "six")
		})},
	}
	srv.Start()
	t.Cleanup(srv.Close)
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	requireRefused(t, activities.NewFetchClient(nil, fetchTimeout), "http://[::1]:"+port+"/")
	requireRefused(t, activities.NewFetchClient([]string{"127.0.0.1"}, fetchTimeout), "http://[::1]:"+port+"/")
	require.Zero(t, hits.Load())

	// The allow-list holds IPv6 literals without brackets, as
	// net.SplitHostPort returns them.
	resp, err := get(t, activities.NewFetchClient([]string{"::1"}, fetchTimeout), "http://[::1]:"+port+"/")
	require.NoError(t, err)
	requireBody(t, resp, "six")
	require.Equal(t, int64(1), hits.Load())
}

func TestFetchClientAllowList(t *testing.T) {
	srv := newCountingServer(t, nil)
	port := srv.port(t)

	resp, err := get(t, activities.NewFetchClient([]string{"127.0.0.1"}, fetchTimeout), "http://127.0.0.1:"+port+"/")
	require.NoError(t, err)
	requireBody(t, resp, "hello")
	require.Equal(t, int64(1), srv.hits.Load())

	// Entries are trimmed and compared case-insensitively with the host.
	c := activities.NewFetchClient([]string{"  LocalHost "}, fetchTimeout)
	resp, err = get(t, c, "http://localhost:"+port+"/")
	require.NoError(t, err)
	requireBody(t, resp, "hello")
	resp, err = get(t, c, "http://LOCALHOST:"+port+"/")
	require.NoError(t, err)
	requireBody(t, resp, "hello")
	require.Equal(t, int64(3), srv.hits.Load())

	// Allowing a name does not allow the address it resolves to, and the
	// other way round: the match is on the host as written in the URL.
	requireRefused(t, c, "http://127.0.0.1:"+port+"/")
	requireRefused(t, activities.NewFetchClient([]string{"127.0.0.1"}, fetchTimeout), "http://localhost:"+port+"/")
	// Another loopback address is not the allowed one.
	requireRefused(t, activities.NewFetchClient([]string{"127.0.0.1"}, fetchTimeout), "http://127.0.0.2:"+port+"/")
	require.Equal(t, int64(3), srv.hits.Load())
}

func TestFetchClientRefusesRedirectToNonAllowedHost(t *testing.T) {
	target := newCountingServer(t, nil)
	redirector := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	c := activities.NewFetchClient([]string{"127.0.0.1"}, fetchTimeout)
	via := func(to string) string {
		return redirector.URL + "/?to=" + url.QueryEscape(to)
	}
	for _, to := range []string{
		"http://localhost:" + target.port(t) + "/",
		"http://[::1]:" + target.port(t) + "/",
		"http://127.0.0.2:" + target.port(t) + "/",
		"http://[::ffff:127.0.0.1]:" + target.port(t) + "/",
		"http://2130706433:" + target.port(t) + "/",
	} {
		requireRefused(t, c, via(to))
	}
	require.Equal(t, int64(5), redirector.hits.Load())
	require.Zero(t, target.hits.Load(), "a redirect reached a refused destination")

	// A redirect to an allowed host is followed (the allow-list names
	// hosts, so any port of an allowed host is allowed).
	resp, err := get(t, c, via(target.URL+"/"))
	require.NoError(t, err)
	requireBody(t, resp, "hello")
	require.Equal(t, int64(1), target.hits.Load())
}

// Five redirects are followed; the sixth is not (six requests in all).
func TestFetchClientStopsRedirectLoops(t *testing.T) {
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		http.Redirect(w, r, fmt.Sprintf("/?n=%d", n+1), http.StatusFound)
	})
	_, err := get(t, activities.NewFetchClient([]string{"127.0.0.1"}, fetchTimeout), srv.URL+"/?n=0")
	require.Error(t, err)
	require.Contains(t, err.Error(), "more than 5 redirects")
	require.False(t, errors.Is(err, activities.ErrDestinationRefused))
	require.Equal(t, int64(6), srv.hits.Load())
}
