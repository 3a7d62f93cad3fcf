// Package egress is the single way Docket reaches URLs that users supply
// (wordcount pages today; webhooks and LLM endpoints later). It holds the
// policy of which destinations may be contacted and an HTTP client that
// enforces it on every connection, redirects included.
//
// Only globally reachable unicast addresses are contacted: everything in
// IANA's IPv4 and IPv6 special-purpose address registries (loopback,
// private, link-local, documentation, benchmarking, translation and
// embedding forms, multicast, reserved) is refused, and so is any address
// assigned to one of this machine's interfaces. The registry prefixes come
// from code.dny.dev/ssrf, whose check runs in net.Dialer.Control, i.e. on
// the address actually being connected to after DNS resolution, so neither
// a name that resolves inward (DNS rebinding) nor a redirect can get past
// it. Hosts named in Policy.AllowHosts are exempt.
//
// The package imports only the standard library and ssrf so that light
// packages (job's input validation) can use CheckURL.
package egress

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"code.dny.dev/ssrf"
)

// Errors that requests through this package fail with, wrapped with
// details. Callers tell them apart with errors.Is.
var (
	// ErrRefused: the destination is not a globally reachable unicast
	// address, is one of this machine's own addresses, or is spelled in a
	// way that other software would read as such an address.
	ErrRefused = errors.New("destination refused")
	// ErrInvalidURL: the URL cannot be fetched whatever it points to: its
	// scheme is not http or https, it has no host, or its port is not a
	// number from 1 to 65535.
	ErrInvalidURL = errors.New("invalid URL")
	// ErrRedirect: a redirect was not followed because it points to a
	// non-HTTP(S) URL or there were more than MaxRedirects of them.
	ErrRedirect = errors.New("redirect not followed")
)

// MaxRedirects is how many redirects a client from NewClient follows; the
// next one fails with ErrRedirect.
const MaxRedirects = 5

// guardian holds IANA's special-purpose registries (via ssrf). Any port is
// allowed: which ports are reachable is the URL's business, checked for
// range by CheckURL; the networks stay ssrf's default, tcp4 and tcp6.
var guardian = ssrf.New(ssrf.WithAnyPort())

// Policy says which destinations outside the public internet may still be
// reached. The zero Policy allows none.
type Policy struct {
	// AllowHosts are host names or IP literals, exactly as they appear in
	// a URL (IPv6 without brackets, compared case-insensitively), that are
	// fetched without any address check: the way tests and internal
	// deployments open one specific service. Allowing a name does not
	// allow the addresses it resolves to under another name, nor the
	// other way round.
	AllowHosts []string
}

// Allowed reports whether host (as in a URL, IPv6 without brackets) is
// named in p.AllowHosts.
func (p Policy) Allowed(host string) bool {
	host = strings.ToLower(host)
	if host == "" {
		return false
	}
	for _, h := range p.AllowHosts {
		if strings.ToLower(strings.TrimSpace(h)) == host {
			return true
		}
	}
	return false
}

// CheckURL checks what raw alone shows, independent of any policy: it is
// an absolute http or https URL with a host and, if it names a port, the
// port is a number from 1 to 65535. Errors wrap ErrInvalidURL. It is meant
// for submit-time validation, where the worker's allow-list is not known;
// address checks are left to Policy.CheckURL and the dialer.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the URL; the caller knows it already.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%w: %w", ErrInvalidURL, err)
	}
	return checkURL(u)
}

func checkURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w: scheme %q is not http or https", ErrInvalidURL, u.Scheme)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%w: no host", ErrInvalidURL)
	}
	if p := u.Port(); p != "" {
		// url.Parse only checks that the port is digits; "99999" would
		// otherwise fail at dial time as a (retryable) network error.
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%w: port %s is not between 1 and 65535", ErrInvalidURL, p)
		}
	}
	return nil
}

// CheckURL is the package's CheckURL plus the address checks that the URL
// alone allows: a host that is an IP literal must be an allowed
// destination, and a host that other software would read as an IPv4
// address in another spelling (2130706433, 0177.0.0.1, 0x7f.1, 127.1) is
// refused, unless p allows the host. Errors wrap ErrInvalidURL or
// ErrRefused. Names are only checked when they are dialed.
func (p Policy) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return CheckURL(raw)
	}
	return p.check(u)
}

func (p Policy) check(u *url.URL) error {
	if err := checkURL(u); err != nil {
		return err
	}
	return p.checkHost(u.Hostname())
}

// checkHost refuses a host that is a refused IP literal or an ambiguous
// IPv4 spelling, unless allowed. Other names pass: they are checked when
// dialed, on every address they resolve to.
func (p Policy) checkHost(host string) error {
	if p.Allowed(host) {
		return nil
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		return checkAddr(addr)
	}
	if ambiguousIPv4(host) {
		return fmt.Errorf("%w: host %q reads as an IPv4 address in a non-standard spelling", ErrRefused, host)
	}
	return nil
}

// checkAddr refuses addr unless it is globally reachable unicast and not
// one of this machine's own addresses.
func checkAddr(addr netip.Addr) error {
	if err := guardian.SafeAddr(addr); err != nil {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	own, err := ownAddrs.contains(addr)
	if err != nil {
		// Fail closed: without the list, any address could be our own.
		return fmt.Errorf("%w: list this machine's addresses: %w", ErrRefused, err)
	}
	if own {
		return fmt.Errorf("%w: %s is an address of this machine", ErrRefused, addr)
	}
	return nil
}

// ambiguousIPv4 reports whether host, not a standard IPv4 literal, is one
// that the WHATWG URL standard (browsers) or inet_aton (curl, libc) would
// read as an IPv4 address: its last label is a number in decimal, octal or
// 0x-hex. Go resolves such a host as a DNS name, but a resolver or proxy
// down the line might not, and no real host name ends in a number.
func ambiguousIPv4(host string) bool {
	host = strings.TrimSuffix(host, ".")
	last := host[strings.LastIndexByte(host, '.')+1:]
	if last == "" {
		return false
	}
	digits := last
	if len(last) >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') {
		digits = last[2:]
		for _, c := range digits {
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
		return true
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
