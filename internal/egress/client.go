package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// dialTimeout bounds one TCP connect, whatever the client's timeout.
const dialTimeout = 10 * time.Second

// Dialer connects only to destinations that a Policy allows. Use its
// DialContext as an http.Transport's.
type Dialer struct {
	policy Policy
	// guarded resolves names itself and checks each address it is about
	// to connect to in Control, after the socket exists and before any
	// packet is sent.
	guarded *net.Dialer
	// plain dials allowed hosts without checks.
	plain *net.Dialer
}

// NewDialer returns a Dialer for p. resolver resolves host names; nil
// means net.DefaultResolver (tests pass one that talks to a DNS server on
// loopback).
func NewDialer(p Policy, resolver *net.Resolver) *Dialer {
	return &Dialer{
		policy: p,
		guarded: &net.Dialer{
			Timeout:   dialTimeout,
			KeepAlive: 30 * time.Second,
			Resolver:  resolver,
			Control:   control,
		},
		plain: &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second, Resolver: resolver},
	}
}

// control is net.Dialer.Control: it sees the address being connected to,
// as a literal, for every connection attempt.
func control(network, address string, _ syscall.RawConn) error {
	if err := guardian.Safe(network, address, nil); err != nil {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: parse %s: %w", ErrRefused, address, err)
	}
	return checkAddr(ap.Addr())
}

// DialContext connects to address (host:port, the host as in the URL).
// A host named in the policy's AllowHosts is dialed as is; any other is
// refused if it is an ambiguous IPv4 spelling, and otherwise resolved and
// dialed only at addresses that pass the check. Errors wrap ErrRefused
// for refused destinations; DNS errors do not name the resolver.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidURL, err)
	}
	if d.policy.Allowed(host) {
		conn, err := d.plain.DialContext(ctx, network, address)
		return conn, scrubDNS(err)
	}
	if _, err := netip.ParseAddr(host); err != nil && ambiguousIPv4(host) {
		return nil, fmt.Errorf("%w: host %q reads as an IPv4 address in a non-standard spelling", ErrRefused, host)
	}
	conn, err := d.guarded.DialContext(ctx, network, address)
	return conn, scrubDNS(err)
}

// scrubDNS drops the resolver's address from a DNS error: "lookup x on
// 10.1.2.3:53: no such host" would tell a user where the worker's DNS
// server is. The error keeps its type, so errors.As still finds the
// *net.DNSError and its IsNotFound.
func scrubDNS(err error) error {
	var dnsErr *net.DNSError
	if err == nil || !errors.As(err, &dnsErr) || dnsErr.Server == "" {
		return err
	}
	clean := *dnsErr
	clean.Server = ""
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		op := *opErr
		op.Err = &clean
		return &op
	}
	return &clean
}

// NewClient returns an HTTP client for user-supplied URLs under p. It
// ignores proxies from the environment (a proxy would make the address
// check meaningless), dials through a Dialer, checks every request URL
// (the first and each redirect) with p.CheckURL, and follows at most
// MaxRedirects redirects, to http or https URLs only. timeout bounds a
// whole request, body included.
func NewClient(p Policy, timeout time.Duration) *http.Client {
	return newClient(p, nil, timeout)
}

// NewClientWithResolver is NewClient with host names resolved by
// resolver instead of net.DefaultResolver.
func NewClientWithResolver(p Policy, resolver *net.Resolver, timeout time.Duration) *http.Client {
	return newClient(p, resolver, timeout)
}

func newClient(p Policy, resolver *net.Resolver, timeout time.Duration) *http.Client {
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           NewDialer(p, resolver).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport: &checkingTransport{policy: p, next: transport},
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			// via holds the requests made so far: the first and each
			// redirect followed, so len(via) > MaxRedirects means this
			// would be redirect number MaxRedirects+1.
			if len(via) > MaxRedirects {
				return fmt.Errorf("%w: more than %d redirects", ErrRedirect, MaxRedirects)
			}
			if s := req.URL.Scheme; s != "http" && s != "https" {
				return fmt.Errorf("%w: redirect to a %s: URL", ErrRedirect, s)
			}
			if err := p.check(req.URL); err != nil {
				if errors.Is(err, ErrInvalidURL) {
					return fmt.Errorf("%w: to an invalid URL: %w", ErrRedirect, err)
				}
				return err
			}
			return nil
		},
	}
}

// checkingTransport checks each request's URL before sending it, so that
// a client used without CheckRedirect (or a caller that skips
// validation) still cannot reach a refused literal or an invalid port.
type checkingTransport struct {
	policy Policy
	next   http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *checkingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.policy.check(req.URL); err != nil {
		if req.Body != nil {
			_ = req.Body.Close() // RoundTrip must close it, even on error
		}
		return nil, err
	}
	return t.next.RoundTrip(req)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// underlying transport.
func (t *checkingTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
