// Package egresstest helps tests of code that fetches through egress: a
// DNS server on loopback, so that tests resolve names without sending a
// query to the machine's real resolver, and a counting HTTP listener.
package egresstest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// DNS is a DNS server on 127.0.0.1 that answers from a fixed table.
type DNS struct {
	conn net.PacketConn
	// A maps fully qualified, lower-case names ("rebind.test.") to the
	// address their A or AAAA query returns.
	a map[string]netip.Addr
	// ServFail lists names answered with SERVFAIL (a temporary failure).
	servFail map[string]bool

	mu      sync.Mutex
	servers []string // addresses the resolver meant to ask
	queries atomic.Int64
}

// StartDNS starts a DNS server on 127.0.0.1 that answers names in a with
// their address, names in servFail with SERVFAIL and everything else with
// NXDOMAIN. It stops when the test ends.
func StartDNS(t testing.TB, a map[string]netip.Addr, servFail ...string) *DNS {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for DNS: %v", err)
	}
	d := &DNS{conn: conn, a: map[string]netip.Addr{}, servFail: map[string]bool{}}
	for name, addr := range a {
		d.a[strings.ToLower(name)] = addr
	}
	for _, name := range servFail {
		d.servFail[strings.ToLower(name)] = true
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.serve()
	}()
	t.Cleanup(func() {
		_ = conn.Close()
		<-done
	})
	return d
}

// Resolver returns a resolver that sends every query to d, whatever
// server /etc/resolv.conf names.
func (d *DNS) Resolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			d.mu.Lock()
			d.servers = append(d.servers, address)
			d.mu.Unlock()
			var dialer net.Dialer
			return dialer.DialContext(ctx, "udp", d.conn.LocalAddr().String())
		},
	}
}

// Queries is how many DNS queries d received.
func (d *DNS) Queries() int64 { return d.queries.Load() }

// Servers are the DNS server addresses the resolver meant to query
// (those of /etc/resolv.conf): what an error message must not reveal.
func (d *DNS) Servers() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.servers...)
}

func (d *DNS) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := d.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		d.queries.Add(1)
		if resp, err := d.answer(h, q); err == nil {
			_, _ = d.conn.WriteTo(resp, from)
		}
	}
}

func (d *DNS) answer(h dnsmessage.Header, q dnsmessage.Question) ([]byte, error) {
	name := strings.ToLower(q.Name.String())
	rh := dnsmessage.Header{ID: h.ID, Response: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	addr, known := d.a[name]
	switch {
	case d.servFail[name]:
		rh.RCode = dnsmessage.RCodeServerFailure
	case !known:
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	if known && rh.RCode == dnsmessage.RCodeSuccess {
		res := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 1}
		switch {
		case q.Type == dnsmessage.TypeA && addr.Is4():
			if err := b.AResource(res, dnsmessage.AResource{A: addr.As4()}); err != nil {
				return nil, err
			}
		case q.Type == dnsmessage.TypeAAAA && addr.Is6():
			if err := b.AAAAResource(res, dnsmessage.AAAAResource{AAAA: addr.As16()}); err != nil {
				return nil, err
			}
		}
	}
	return b.Finish()
}

// Server is an HTTP server on one listener that counts the requests it
// receives.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	hits atomic.Int64
	// URL is http://host:port with the listener's address (IPv6 in
	// brackets, a zone escaped as %25).
	URL string
	// Port is the listener's port.
	Port string
}

// Listen starts a counting server on addr ("127.0.0.1", "::1",
// "fe80::1%lo"), answering with handler or, if nil, "hello" as text. It
// stops when the test ends.
func Listen(t testing.TB, addr string, handler http.HandlerFunc) (*Server, error) {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		return nil, err
	}
	if handler == nil {
		handler = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "hello")
		}
	}
	s := &Server{ln: ln}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		handler(w, r)
	})}
	_, s.Port, _ = net.SplitHostPort(ln.Addr().String())
	s.URL = "http://" + strings.Replace(net.JoinHostPort(addr, s.Port), "%", "%25", 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve on %s: %v", addr, err)
		}
	}()
	t.Cleanup(func() {
		_ = s.srv.Close()
		<-done
	})
	return s, nil
}

// Hits is how many requests s received.
func (s *Server) Hits() int64 { return s.hits.Load() }

// Redirector answers /?to=URL with a redirect to URL and /?n=k with a
// redirect to /?n=k-1 until 0, which final answers: the redirect chains the
// guard's and the fetch's tests follow.
func Redirector(final http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if to := r.URL.Query().Get("to"); to != "" {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		if n, _ := strconv.Atoi(r.URL.Query().Get("n")); n > 0 {
			http.Redirect(w, r, fmt.Sprintf("/?n=%d", n-1), http.StatusFound)
			return
		}
		final(w, r)
	}
}
