package api

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// HTTPServer is the API's http.Server with the production timeouts, whose
// connections answer net/http's own error responses in problem+json.
// Serve and ListenAndServe must be called on it (not on the embedded
// http.Server) for the latter.
type HTTPServer struct {
	*http.Server
}

// NewHTTPServer returns the server that serves h on addr. Tests build their
// servers with it too, so that they run under the production timeouts.
func NewHTTPServer(addr string, h http.Handler) *HTTPServer {
	return &HTTPServer{&http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// ReadTimeout bounds requests whose handler sets no deadline of its
		// own; the routes that read a body replace it with one sized for
		// their limit (Server.openBody). It must outlast the longest
		// results long poll: net/http's background read of an idle
		// connection hits it and cancels the request.
		ReadTimeout: MaxWait + 30*time.Second,
		// Long enough for the longest results long poll; uploads extend it.
		WriteTimeout:   MaxWait + 30*time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
	}}
}

// ListenAndServe listens on s.Addr and serves.
func (s *HTTPServer) ListenAndServe() error {
	addr := s.Addr
	if addr == "" {
		addr = ":http"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve serves the connections of l.
func (s *HTTPServer) Serve(l net.Listener) error {
	return s.Server.Serve(s.WrapListener(l))
}

// WrapListener returns l with the connection wrapper that Serve uses, for
// callers that must run the embedded http.Server themselves (httptest).
func (s *HTTPServer) WrapListener(l net.Listener) net.Listener {
	return problemListener{l}
}

// problemListener's connections turn the plain-text answers that net/http
// writes itself, before any handler runs, into problem+json.
//
// net/http's conn.serve answers a request it cannot parse (a malformed
// request line or header, headers over MaxHeaderBytes, an unsupported
// Transfer-Encoding, an HTTP version it does not speak) by writing a fixed
// response straight to the connection, with one Write: no hook of
// http.Server reaches it. Parsing requests again before net/http would
// duplicate its parser and its limits; rewriting that one Write is exact,
// because the canned form cannot come from a handler: net/http writes a
// handler's headers in sorted order with Date (Connection before
// Content-Type), and the canned body is its status line again.
type problemListener struct{ net.Listener }

func (l problemListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return problemConn{c}, nil
}

type problemConn struct{ net.Conn }

// cannedError is net/http's own error response (see server.go, "const
// errorHeaders"): status line, two fixed headers, a one-line body.
var cannedError = regexp.MustCompile(`\AHTTP/1\.1 ([45][0-9][0-9]) ([^\r\n]*)\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n([^\r\n]*)\z`)

// cannedKinds are the problem types of net/http's own errors.
var cannedKinds = map[int]string{
	http.StatusBadRequest:                  "bad-request",
	http.StatusRequestHeaderFieldsTooLarge: "header-too-large",
	http.StatusNotImplemented:              "not-implemented",
	http.StatusHTTPVersionNotSupported:     "http-version-not-supported",
}

func (c problemConn) Write(b []byte) (int, error) {
	if out, ok := rewriteCanned(b); ok {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return c.Conn.Write(b)
}

func rewriteCanned(b []byte) ([]byte, bool) {
	if !bytes.HasPrefix(b, []byte("HTTP/1.1 ")) {
		return nil, false
	}
	m := cannedError.FindSubmatch(b)
	if m == nil {
		return nil, false
	}
	code, _ := strconv.Atoi(string(m[1]))
	status, body := string(m[2]), string(m[3])
	text := http.StatusText(code)
	// The body repeats the status line ("400 Bad Request: invalid header
	// name"), except for 501, whose body is its own fixed sentence.
	var detail string
	switch {
	case body == string(m[1])+" "+status:
		detail = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(status, text), ":"))
		if detail == "" && code == http.StatusRequestHeaderFieldsTooLarge {
			detail = "the request's header fields are too large"
		} else if detail == "" {
			detail = "the request could not be parsed"
		}
	case code == http.StatusNotImplemented && body == "Unsupported transfer encoding":
		detail = "the request's Transfer-Encoding is not supported; send a Content-Length or a chunked body"
	default:
		return nil, false
	}
	kind, ok := cannedKinds[code]
	if !ok {
		kind = "bad-request"
	}
	p, err := json.Marshal(Problem{Type: problemTypeBase + kind, Title: text, Status: code, Detail: detail})
	if err != nil {
		return nil, false
	}
	p = append(p, '\n')
	var out bytes.Buffer
	out.WriteString("HTTP/1.1 " + strconv.Itoa(code) + " " + text + "\r\n")
	out.WriteString("Content-Type: application/problem+json\r\nCache-Control: no-store\r\nConnection: close\r\n")
	out.WriteString("Content-Length: " + strconv.Itoa(len(p)) + "\r\n\r\n")
	out.Write(p)
	return out.Bytes(), true
}
