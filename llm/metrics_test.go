package llm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every error complete can return maps to one outcome label.
func TestOutcome(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{fmt.Errorf("llm: %w", context.Canceled), "canceled"},
		{fmt.Errorf("llm: %w", context.DeadlineExceeded), "canceled"},
		{&APIError{Timeout: true, Retryable: true, cause: context.DeadlineExceeded}, "timeout"},
		{&APIError{Status: http.StatusTooManyRequests, Retryable: true}, "rate_limited"},
		{&APIError{Status: http.StatusBadGateway, Retryable: true}, "server_error"},
		{&APIError{Status: http.StatusUnauthorized}, "client_error"},
		{&APIError{Retryable: true, Msg: "request failed"}, "network_error"},
		{&APIError{Status: http.StatusOK, Retryable: true, Msg: "the answer has no choices"}, "bad_answer"},
		{errors.New("something else"), "network_error"},
	} {
		require.Equal(t, tc.want, outcome(tc.err), "%v", tc.err)
	}
}
