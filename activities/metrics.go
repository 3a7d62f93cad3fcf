package activities

import (
	"context"
	"errors"
	"net"

	"go.temporal.io/sdk/temporal"
)

// fetchOutcome classifies a fetch's error for docket_fetch_requests_total:
// "ok", the failure type the step fails with (job.Failures: a bounded
// set), or, for the retryable errors without one, "timeout" or
// "network_error". Never the URL or the host.
func fetchOutcome(err error) string {
	if err == nil {
		return "ok"
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() != "" {
		return appErr.Type()
	}
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()) {
		return "timeout"
	}
	return "network_error"
}
