package activities_test

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/activities"
	"github.com/docket-dev/docket/internal/egress"
	"github.com/docket-dev/docket/internal/egress/egresstest"
	"github.com/docket-dev/docket/job"
)

// ownAddress is a non-loopback address of one of this machine's
// interfaces, found at test time.
func ownAddress(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	for _, a := range addrs {
		if ipnet, ok := a.(*net.IPNet); ok {
			if addr, ok := netip.AddrFromSlice(ipnet.IP); ok && !addr.Unmap().IsLoopback() && !addr.IsLinkLocalUnicast() {
				return addr.Unmap().String()
			}
		}
	}
	t.Skip("this machine has no non-loopback address")
	return ""
}

// A wordcount of the worker's own address is refused before any request.
func TestCountWordsRefusesOwnAddress(t *testing.T) {
	srv, err := egresstest.Listen(t, ownAddress(t), serve("text/plain", "internal page"))
	require.NoError(t, err)
	_, err = runCountWords(t, allowedActivities(0), job.WordcountInput{URL: srv.URL + "/"})
	requireAppError(t, err, string(job.FailFetchRefused), true)
	require.Zero(t, srv.Hits(), "the listener on this machine's own address was reached")
}

// Failures that retrying cannot fix are non-retryable fetch_failed (or
// invalid_input when the input alone shows it), each after exactly the
// requests the URL takes: not five attempts.
func TestCountWordsPermanentFetchFailures(t *testing.T) {
	dns := egresstest.StartDNS(t, nil, "servfail.test.")
	srv, err := egresstest.Listen(t, "127.0.0.1", egresstest.Redirector(func(w http.ResponseWriter, r *http.Request) {
		serve("text/plain", "arrived")(w, r)
	}))
	require.NoError(t, err)
	a := &activities.Activities{
		Worker: testWorker,
		HTTP:   egress.NewClientWithResolver(egress.Policy{AllowHosts: []string{"127.0.0.1"}}, dns.Resolver(), fetchTimeout),
	}
	to := func(u string) string { return srv.URL + "/?to=" + url.QueryEscape(u) }
	tests := []struct {
		name         string
		url          string
		errType      string
		nonRetryable bool
		hits         int64
	}{
		{"redirect to file:", to("file:///etc/passwd"), string(job.FailFetchFailed), true, 1},
		{"redirect to gopher:", to("gopher://127.0.0.1:70/"), string(job.FailFetchFailed), true, 1},
		{"six redirects", srv.URL + "/?n=6", string(job.FailFetchFailed), true, 6},
		{"redirect to port 99999", to("http://127.0.0.1:99999/"), string(job.FailFetchFailed), true, 1},
		{"port 99999", "http://127.0.0.1:99999/", string(job.FailInvalidInput), true, 0},
		{"unresolvable name", "http://no-such-host.invalid/", string(job.FailFetchFailed), true, 0},
		{"redirect to unresolvable name", to("http://no-such-host.invalid/"), string(job.FailFetchFailed), true, 1},
		{"temporary DNS failure", "http://servfail.test/", "", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := srv.Hits()
			_, err := runCountWords(t, a, job.WordcountInput{URL: tt.url})
			appErr := requireAppError(t, err, tt.errType, tt.nonRetryable)
			require.Equal(t, tt.hits, srv.Hits()-before)
			require.NotContains(t, appErr.Error(), ":53")
			for _, s := range dns.Servers() {
				host, _, _ := net.SplitHostPort(s)
				require.NotContains(t, appErr.Error(), host, "the message names the DNS server")
			}
		})
	}
	require.NotEmpty(t, dns.Servers())
}
