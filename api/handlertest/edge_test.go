package handlertest_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/api"
	"github.com/docket-dev/docket/tools/testdocs"
)

// rawExchange sends raw bytes to ts over TCP (then, if trickle is set,
// keeps writing slowly; if halfClose, closes its side) and reads one
// response: the only way to send what net/http's client will not.
func rawExchange(t *testing.T, ts *httptest.Server, req string, trickle func(net.Conn), halfClose bool) (*http.Response, []byte, time.Duration) {
	t.Helper()
	c, err := net.Dial("tcp", ts.Listener.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	start := time.Now()
	_, err = io.WriteString(c, req)
	require.NoError(t, err)
	if trickle != nil {
		go trickle(c)
	}
	if halfClose {
		require.NoError(t, c.(*net.TCPConn).CloseWrite())
	}
	require.NoError(t, c.SetReadDeadline(time.Now().Add(15*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err, "no response")
	body, _ := io.ReadAll(resp.Body)
	return resp, body, time.Since(start)
}

func requireProblem(t *testing.T, resp *http.Response, body []byte, status int) api.Problem {
	t.Helper()
	require.Equal(t, status, resp.StatusCode, "body: %s", body)
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), "body: %s", body)
	var p api.Problem
	require.NoError(t, json.Unmarshal(body, &p), "body: %s", body)
	require.Equal(t, status, p.Status)
	require.NotEmpty(t, p.Detail)
	return p
}

func dripper(every time.Duration) func(net.Conn) {
	return func(c net.Conn) {
		for range 100 {
			time.Sleep(every)
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
		}
	}
}

// Bodies that trickle, stop short or never end are answered within their
// deadline (here 0.5 s + 1 MiB at 1 MiB/s), not held for minutes.
func TestBodyDeadlines(t *testing.T) {
	// A form whose file part ends without its closing boundary.
	const truncatedForm = "--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n%PDF-1.4 truncated"
	t.Parallel()
	const deadline = 1500 * time.Millisecond
	head := func(path, extra string) string {
		return "POST " + path + " HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n" + extra + "\r\n"
	}
	tests := []struct {
		name      string
		req       string
		trickle   func(net.Conn)
		halfClose bool
		status    int
		kind      string
	}{
		{"trickle", head("/jobs", "Content-Length: 1000\r\n") + "{", dripper(300 * time.Millisecond), false, 408, "request-timeout"},
		{"trickled upload", head("/documents", "Content-Length: 1000\r\n") + "%PDF", dripper(300 * time.Millisecond), false, 408, "request-timeout"},
		{"stops short", head("/jobs", "Content-Length: 1000\r\n") + `{"type":"sum"`, nil, false, 408, "request-timeout"},
		{"unterminated chunks", head("/jobs", "Transfer-Encoding: chunked\r\n") + "5\r\n{\"typ\r\n", nil, false, 408, "request-timeout"},
		{"short body, then EOF", head("/jobs", "Content-Length: 1000\r\n") + `{"type":"sum"`, nil, true, 400, "malformed-body"},
		{"malformed chunks", head("/jobs", "Transfer-Encoding: chunked\r\n") + "zz\r\n{}\r\n0\r\n\r\n", nil, false, 400, "malformed-body"},
		{"truncated multipart", "POST /documents HTTP/1.1\r\nHost: test\r\nContent-Type: multipart/form-data; boundary=x\r\n" +
			fmt.Sprintf("Content-Length: %d\r\n\r\n", len(truncatedForm)) + truncatedForm, nil, false, 400, "malformed-body"},
		{"declared too large, with Expect", head("/jobs", "Content-Length: 2000000\r\nExpect: 100-continue\r\n"), nil, false, 413, "too-large"},
		{"upload declared too large, with Expect", "POST /documents HTTP/1.1\r\nHost: test\r\nContent-Type: application/pdf\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n", nil, false, 413, "too-large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(s *api.Server) {
				s.MinBodyRate, s.BodySlack, s.MaxDocumentBytes = 1<<20, 500*time.Millisecond, 1<<20
			})
			resp, body, took := rawExchange(t, h.ts, tt.req, tt.trickle, tt.halfClose)
			p := requireProblem(t, resp, body, tt.status)
			require.Equal(t, "https://docket.dev/problems/"+tt.kind, p.Type)
			require.Less(t, took, deadline+2*time.Second)
			h.requireNoJobCalls(t)
		})
	}
}

// A body sent steadily at the minimum rate succeeds although it takes
// longer than the slack alone.
func TestSlowHonestUpload(t *testing.T) {
	t.Parallel()
	doc, err := testdocs.PNG([]string{"slow upload " + fmt.Sprint(time.Now().UnixNano())}, 32)
	require.NoError(t, err)
	const rate = 64 << 10
	h := newHarness(t, func(s *api.Server) {
		s.MinBodyRate, s.BodySlack, s.MaxDocumentBytes = rate, 200*time.Millisecond, int64(len(doc))
	})
	send := func(c net.Conn) {
		const chunk = 2 << 10
		for i := 0; i < len(doc); i += chunk {
			time.Sleep(time.Second * chunk / (rate * 5 / 4))
			if _, err := c.Write(doc[i:min(i+chunk, len(doc))]); err != nil {
				return
			}
		}
	}
	req := fmt.Sprintf("POST /documents HTTP/1.1\r\nHost: test\r\nContent-Type: image/png\r\nContent-Length: %d\r\n\r\n", len(doc))
	resp, body, _ := rawExchange(t, h.ts, req, send, false)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "body: %s", body)
	h.requireNoJobCalls(t)
}

// Ids that no job can have are 404s without a call to the job client.
func TestInvalidJobIDs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var ids []string
	for b := 0; b < 256; b++ {
		if b >= 0x20 && b <= 0x7e && b != '/' && b != '.' {
			continue // ids Temporal could hold ('.' is an unclean path)
		}
		ids = append(ids, fmt.Sprintf("%%%02X", b))
	}
	ids = append(ids, "%E2%80%AE", "%C3%A9", "%F0%9F%98%80", "a%09b", "%2E%2E", strings.Repeat("a", 1001))
	for _, id := range ids {
		for _, rt := range []struct{ method, path string }{
			{"GET", "/jobs/" + id}, {"DELETE", "/jobs/" + id}, {"GET", "/jobs/" + id + "/results"}, {"GET", "/jobs/" + id + "/pages/1"},
		} {
			req, err := http.NewRequest(rt.method, h.url+rt.path, nil)
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusNotFound, resp.StatusCode, "%s %s: %s", rt.method, rt.path, body)
			require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), "%s %s", rt.method, rt.path)
		}
	}
	h.requireNoJobCalls(t)
}

// What net/http answers before any handler is problem+json too.
func TestServerErrorsAreProblems(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tests := []struct {
		name   string
		req    string
		status int
	}{
		{"malformed request line", "GARBAGE\r\n\r\n", 400},
		{"bad header byte", "GET /healthz HTTP/1.1\r\nHost: test\r\nBad\x01Name: v\r\n\r\n", 400},
		{"headers too large", "GET /healthz HTTP/1.1\r\nHost: test\r\nX-Big: " + strings.Repeat("b", 80<<10) + "\r\n\r\n", 431},
		{"unknown transfer encoding", "POST /jobs HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"bad HTTP version", "GET /healthz HTTP/2.5\r\nHost: test\r\n\r\n", 505},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, body, _ := rawExchange(t, h.ts, tt.req, nil, false)
			requireProblem(t, resp, body, tt.status)
		})
	}
}

// Unclean paths name nothing: 404 problem+json, never a redirect.
func TestUncleanPaths(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, path := range []string{
		"/documents/..%2F..%2Fetc%2Fpasswd", "/docs/../jobs", "/jobs/./results", "//jobs", "/jobs/x/../y", "/docs/./index.html", "/jobs/..",
	} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			resp, err := noRedirect.Get(h.url + path)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			requireProblem(t, resp, body, http.StatusNotFound)
			require.Empty(t, resp.Header.Get("Location"))
		})
	}
}

// Every route answers its methods, HEAD like GET without a body, and
// anything else 405 with an Allow header listing what it takes.
func TestRouteMethods(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	routes := []struct {
		path  string
		allow string
	}{
		{"/jobs", "GET, HEAD, POST"},
		{"/jobs/00000000-0000-0000-0000-000000000000", "GET, HEAD, DELETE"},
		{"/jobs/00000000-0000-0000-0000-000000000000/results", "GET, HEAD"},
		{"/jobs/00000000-0000-0000-0000-000000000000/pages/1", "GET, HEAD"},
		{"/documents", "GET, HEAD, POST"},
		{"/documents/" + strings.Repeat("a", 64), "GET, HEAD, DELETE"},
		{"/documents/" + strings.Repeat("a", 64) + "/content", "GET, HEAD"},
		{"/healthz", "GET, HEAD"},
		{"/readyz", "GET, HEAD"},
		{"/openapi.json", "GET, HEAD"},
		{"/docs/", "GET, HEAD"},
	}
	for _, rt := range routes {
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"} {
			t.Run(m+" "+rt.path, func(t *testing.T) {
				t.Parallel()
				allowed := strings.Contains(", "+rt.allow+", ", ", "+m+", ")
				if allowed && (m == "POST" || m == "DELETE") {
					t.Skip("covered by the tests of the route")
				}
				req, err := http.NewRequest(m, h.url+rt.path, nil)
				require.NoError(t, err)
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if !allowed {
					requireProblem(t, resp, body, http.StatusMethodNotAllowed)
					require.Equal(t, rt.allow, resp.Header.Get("Allow"))
					return
				}
				require.NotEqual(t, http.StatusMethodNotAllowed, resp.StatusCode)
				if m == "HEAD" {
					get, err := http.Get(h.url + rt.path)
					require.NoError(t, err)
					get.Body.Close()
					require.Equal(t, get.StatusCode, resp.StatusCode)
					require.Equal(t, get.Header.Get("Content-Type"), resp.Header.Get("Content-Type"))
					require.Empty(t, body)
				}
			})
		}
	}
	resp, err := http.Get(h.url + "/docs/no-such-asset.js")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	requireProblem(t, resp, body, http.StatusNotFound)
}
