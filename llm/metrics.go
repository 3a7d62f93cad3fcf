package llm

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/docket-dev/docket/internal/metrics"
)

// observe records one request of complete, which started at start and
// returned *out and *err, in docket_llm_* (by the configured model).
func (c *Client) observe(start time.Time, out *completion, err *error) {
	var prompt, completion int64
	if *err == nil && out.usage != nil {
		prompt, completion = out.usage.PromptTokens, out.usage.CompletionTokens
	}
	metrics.LLMRequest(c.cfg.Model, outcome(*err), time.Since(start), prompt, completion)
}

// outcome classifies a request's error for the requests counter.
func outcome(err error) string {
	var apiErr *APIError
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded) && !errors.As(err, &apiErr):
		// The activity ended first: not the endpoint's doing.
		return "canceled"
	case !errors.As(err, &apiErr):
		return "network_error"
	case apiErr.Timeout:
		return "timeout"
	case apiErr.Status == http.StatusTooManyRequests:
		return "rate_limited"
	case apiErr.Status >= 500 || apiErr.Status == http.StatusRequestTimeout:
		return "server_error"
	case apiErr.Status >= 400:
		return "client_error"
	case apiErr.Status == 0:
		return "network_error"
	}
	// A 2xx that was no usable completion: no choices, empty, refused.
	return "bad_answer"
}
