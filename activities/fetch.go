package activities

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// ErrDestinationRefused is returned (wrapped) when a fetch would reach a
// loopback, private, link-local or otherwise non-public address.
var ErrDestinationRefused = errors.New("destination address is not public")

// nonPublic lists ranges that netip does not call private or link-local but
// that are not public destinations either, or that translate to an IPv4
// address the check would then never see (NAT64, 6to4, IPv4-compatible).
var nonPublic = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",      // "this network"
		"100.64.0.0/10",  // carrier-grade NAT (RFC 6598)
		"192.0.0.0/24",   // IETF protocol assignments
		"198.18.0.0/15",  // benchmarking
		"240.0.0.0/4",    // reserved
		"::/96",          // IPv4-compatible (deprecated)
		"64:ff9b::/96",   // NAT64
		"64:ff9b:1::/48", // local NAT64
		"2002::/16",      // 6to4
		"fec0::/10",      // site-local (deprecated)
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

// publicAddr reports whether addr is a public unicast address.
func publicAddr(addr netip.Addr) bool {
	addr = addr.Unmap()
	if !addr.IsGlobalUnicast() || addr.IsPrivate() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}

// NewFetchClient returns an HTTP client for fetching user-supplied URLs. It
// resolves every host itself and dials only public addresses, so neither a
// DNS name pointing inward nor a redirect can reach the worker's own
// network; hosts named in allowHosts (exact names or IP literals, as in the
// URL) are exempt, which is how tests and internal deployments open a
// specific service. Proxies from the environment are ignored because a
// proxy would make the address check meaningless.
func NewFetchClient(allowHosts []string, timeout time.Duration) *http.Client {
	allowed := make([]string, 0, len(allowHosts))
	for _, h := range allowHosts {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			allowed = append(allowed, h)
		}
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	resolver := net.DefaultResolver
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(address)
		if err != nil {
			return nil, err
		}
		if slices.Contains(allowed, strings.ToLower(host)) {
			return dialer.DialContext(ctx, network, address)
		}
		addrs, err := resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
		var lastErr error
		for _, a := range addrs {
			if !publicAddr(a) {
				lastErr = fmt.Errorf("%s resolves to %s: %w", host, a, ErrDestinationRefused)
				continue
			}
			conn, err := dialer.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
			if err == nil {
				return conn, nil
			}
			lastErr = err
		}
		if lastErr == nil {
			lastErr = fmt.Errorf("resolve %s: no addresses", host)
		}
		return nil, lastErr
	}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dial,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("stopped after 5 redirects")
			}
			return nil
		},
	}
}
