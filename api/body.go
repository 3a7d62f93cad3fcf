package api

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// Defaults of the request body deadline (see Server.MinBodyRate).
const (
	// DefaultMinBodyRate is the slowest upload the API waits for: 64 KiB/s
	// sends a 50 MiB document in about 13 minutes.
	DefaultMinBodyRate = 64 << 10
	// DefaultBodySlack is added to every body's deadline for the time to
	// first byte and a slow start.
	DefaultBodySlack = 10 * time.Second
	// answerSlack is how long the answer may take once the body is in:
	// the calls to Temporal or the blob store that it needs, and page
	// counting for an upload.
	answerSlack = 2 * time.Minute
)

// bodyError is an error reading the request body. It is always the
// client's (or its network's) doing, never a dependency's: fail answers it
// with 408 when the body did not arrive in time and 400 otherwise (a body
// shorter than its Content-Length, malformed chunks, a truncated multipart
// form).
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "the request body could not be read: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// timeout reports whether the body's read deadline expired.
func (e *bodyError) timeout() bool {
	var ne net.Error
	return errors.Is(e.err, os.ErrDeadlineExceeded) || (errors.As(e.err, &ne) && ne.Timeout())
}

// clientReader marks the errors of reading r as the client's. It wraps the
// request body and also readers built on it (a multipart part), whose own
// errors, such as io.ErrUnexpectedEOF for a truncated form, are the
// client's too.
type clientReader struct {
	r     io.Reader
	atEOF func()
}

func (c *clientReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	switch {
	case err == io.EOF:
		if c.atEOF != nil {
			c.atEOF()
			c.atEOF = nil
		}
	case err != nil:
		var be *bodyError
		if !errors.As(err, &be) {
			err = &bodyError{err}
		}
	}
	return n, err
}

// bodyDeadline is how long a body of up to limit bytes may take to arrive.
func (s *Server) bodyDeadline(limit int64) time.Duration {
	rate, slack := s.MinBodyRate, s.BodySlack
	if rate <= 0 {
		rate = DefaultMinBodyRate
	}
	if slack <= 0 {
		slack = DefaultBodySlack
	}
	return slack + time.Duration(float64(limit)/float64(rate)*float64(time.Second))
}

// openBody is the one way handlers read a request body. It refuses a body
// whose declared length is over limit before reading a byte (so that an
// "Expect: 100-continue" client is told 413 instead of "100 Continue"),
// caps what it reads at limit, and bounds the whole read with a deadline
// sized for limit at the slowest honest rate: a body that trickles, stops
// short of its Content-Length or never ends its chunks fails with a
// timeout instead of holding a connection and a handler.
func (s *Server) openBody(w http.ResponseWriter, r *http.Request, limit int64) (io.Reader, error) {
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	rc := http.NewResponseController(w)
	d := s.bodyDeadline(limit)
	// The server's ReadTimeout (which also bounds the headers) is replaced
	// for this request; errors mean a test's recorder, with nothing to bound.
	_ = rc.SetReadDeadline(time.Now().Add(d))
	_ = rc.SetWriteDeadline(time.Now().Add(d + answerSlack))
	return &clientReader{
		r: http.MaxBytesReader(w, r.Body, limit),
		// Once the body is in, net/http reads on in the background to see
		// the client go away; with the body's deadline left in place that
		// read would time out and cancel the request while its answer is
		// still being worked out.
		atEOF: func() { _ = rc.SetReadDeadline(time.Time{}) },
	}, nil
}

// readBody reads a whole JSON request body (MaxBodyBytes at most).
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := s.openBody(w, r, MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, fmt.Errorf("read request: %w", err)
	}
	return b, nil
}
