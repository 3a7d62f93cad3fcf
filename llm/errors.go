package llm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
)

// MaxRetryAfter caps the wait a server may ask for in Retry-After, so that a
// misconfigured proxy cannot park a job for a day.
const MaxRetryAfter = 5 * time.Minute

// APIError classifies a failed call for the caller's retry decision.
//
//   - 429 and 5xx (and 408): Retryable, with RetryAfter from the
//     Retry-After header (seconds or an HTTP date, at most MaxRetryAfter;
//     0 if absent), which the caller should wait at least.
//   - Other 4xx (400, 401, 403, 404, 422, …): not Retryable; the request,
//     key or model name must change first.
//   - Timeouts and network errors: Status 0, Retryable.
//   - A 2xx answer that is not a usable completion (a body that is not
//     JSON, no choices, entities that are not JSON): Retryable. Such an
//     answer comes from a gateway hiccup or a sampling accident more often
//     than from a request that can never work, and the caller's retry
//     policy bounds the attempts. An empty answer cut off by the token
//     limit, or a refusal, is not Retryable: the same request would end
//     the same way.
//
// When the caller's context ends first (a cancelled or timed-out activity),
// calls return the context's error, wrapped, instead of an APIError.
type APIError struct {
	// Status is the HTTP status, or 0 when no answer arrived.
	Status int
	// RetryAfter is how long the server asked the caller to wait.
	RetryAfter time.Duration
	// Retryable says whether the same call may succeed later.
	Retryable bool
	// Msg says what went wrong, with the server's message if it sent one.
	Msg string
	// Timeout is set when the request ran out of Config.Timeout.
	Timeout bool
	cause   error
}

// Error describes the failure without the request, which may carry a key.
func (e *APIError) Error() string {
	switch {
	case e.Status != 0:
		return fmt.Sprintf("llm: HTTP %d: %s", e.Status, e.Msg)
	default:
		return "llm: " + e.Msg
	}
}

// Unwrap returns the underlying error, e.g. context.DeadlineExceeded for a
// timeout.
func (e *APIError) Unwrap() error { return e.cause }

// classify turns an error of the openai client into an *APIError, or
// returns ctx's error when the caller's context ended (a cancelled activity
// is not an endpoint failure). raw is the HTTP response, if one arrived.
func classify(ctx context.Context, err error, raw *http.Response, timeout time.Duration) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("llm: %w", ctxErr)
	}
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		return statusError(apiErr.StatusCode, apiErr.Response, apiErr.Message, err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &APIError{Retryable: true, Timeout: true, Msg: fmt.Sprintf("no answer within %s", timeout), cause: err}
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return &APIError{Retryable: true, Timeout: true, Msg: fmt.Sprintf("no answer within %s", timeout), cause: err}
	}
	if raw != nil {
		// The server answered, but the client could not read the answer:
		// an error status whose body is not OpenAI's error JSON (a proxy's
		// HTML page), or a 2xx body that is not a completion.
		if raw.StatusCode >= 400 {
			return statusError(raw.StatusCode, raw, "", err)
		}
		return &APIError{Status: raw.StatusCode, Retryable: true, Msg: "malformed response body: " + err.Error(), cause: err}
	}
	// No answer at all: connection refused or reset, DNS, TLS. These pass
	// when the server comes back.
	return &APIError{Retryable: true, Msg: "request failed: " + err.Error(), cause: err}
}

func statusError(status int, resp *http.Response, msg string, cause error) *APIError {
	e := &APIError{Status: status, Msg: strings.TrimSpace(msg), cause: cause}
	if e.Msg == "" {
		e.Msg = http.StatusText(status)
	}
	switch {
	case status == http.StatusTooManyRequests, status == http.StatusRequestTimeout, status >= 500:
		e.Retryable = true
		if resp != nil {
			e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
	}
	return e
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs >= int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), MaxRetryAfter)
}
