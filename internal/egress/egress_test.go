package egress_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-dev/docket/internal/egress"
	"github.com/docket-dev/docket/internal/egress/egresstest"
)

const clientTimeout = 5 * time.Second

// spelling is one way of writing a destination that must be refused: a
// row of egresstest.Spellings, the table the guard's users test with too.
type spelling = egresstest.Spelling

var spellings = egresstest.Spellings

// ownSpellings are the addresses of this machine's interfaces, except
// loopback (covered above), found now rather than written down: IPv6
// link-local ones with their zone, IPv4 ones also in IPv4-mapped form.
func ownSpellings(t *testing.T) []spelling {
	t.Helper()
	ifaces, err := net.Interfaces()
	require.NoError(t, err)
	var out []spelling
	for _, ifc := range ifaces {
		addrs, err := ifc.Addrs()
		require.NoError(t, err)
		for _, a := range addrs {
			ipnet, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			addr, ok := netip.AddrFromSlice(ipnet.IP)
			if !ok || addr.Unmap().IsLoopback() {
				continue
			}
			addr = addr.Unmap()
			listen := addr.String()
			if addr.Is6() && addr.IsLinkLocalUnicast() {
				listen = addr.WithZone(ifc.Name).String()
			}
			host := "[" + strings.Replace(listen, "%", "%25", 1) + "]"
			if addr.Is4() {
				host = listen
				out = append(out, spelling{Name: "own ipv4-mapped " + listen, Host: "[::ffff:" + listen + "]", Listen: listen})
			}
			out = append(out, spelling{Name: "own " + ifc.Name + " " + listen, Host: host, Listen: listen})
		}
	}
	return out
}

func TestSpellingTableSize(t *testing.T) {
	require.GreaterOrEqual(t, len(spellings), 60)
}

// get fetches rawURL with c under a deadline, so that a dial that was not
// refused cannot hang the test.
func get(t *testing.T, c *http.Client, rawURL string) (*http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err == nil {
		t.Cleanup(func() { _ = resp.Body.Close() })
	}
	return resp, err
}

// requireRefused fetches rawURL and requires the guard's refusal, or a
// URL that does not even parse: never a response.
func requireRefused(t *testing.T, c *http.Client, rawURL string) {
	t.Helper()
	if _, err := url.Parse(rawURL); err != nil {
		return // never dialed
	}
	_, err := get(t, c, rawURL)
	// A failed redirect still returns the redirect's response (its body
	// closed); the error is what matters.
	require.Error(t, err, "fetch %s should be refused", rawURL)
	require.ErrorIs(t, err, egress.ErrRefused, "fetch %s", rawURL)
}

func requireBody(t *testing.T, resp *http.Response, want string) {
	t.Helper()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, want, string(b))
}

// listenFor starts a counting listener where row's request would land.
func listenFor(t *testing.T, row spelling) *egresstest.Server {
	t.Helper()
	if row.Listen == "" {
		return nil
	}
	srv, err := egresstest.Listen(t, row.Listen, nil)
	require.NoError(t, err, "listen on %s", row.Listen)
	return srv
}

// checkRows fetches each row directly and through an allowed redirector,
// requiring refusal and no request at the row's listener. The client's
// resolver is dns, so a name that slipped through to DNS would be asked
// of the loopback test server, never of the machine's resolver.
func checkRows(t *testing.T, rows []spelling, redirectorAddr string) {
	dns := egresstest.StartDNS(t, nil)
	redirector, err := egresstest.Listen(t, redirectorAddr, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	require.NoError(t, err)
	policy := egress.Policy{AllowHosts: []string{redirectorAddr}}
	c := egress.NewClientWithResolver(policy, dns.Resolver(), clientTimeout)
	for _, row := range rows {
		t.Run(row.Name, func(t *testing.T) {
			srv := listenFor(t, row)
			port := "80"
			if srv != nil {
				port = srv.Port
			}
			target := "http://" + row.Host + ":" + port + "/"
			if !strings.HasPrefix(strings.ToLower(row.Host), "localhost") {
				// Literals are refused from the URL alone; names only when dialed.
				require.Error(t, egress.Policy{}.CheckURL(target), "CheckURL(%s)", target)
			}

			requireRefused(t, c, target)
			before := redirector.Hits()
			requireRefused(t, c, redirector.URL+"/?to="+url.QueryEscape(target))
			require.Equal(t, before+1, redirector.Hits(), "the redirector was not asked")
			if srv != nil {
				require.Zero(t, srv.Hits(), "%s reached its listener", target)
			}
		})
	}
	require.Zero(t, dns.Queries(), "a refused host was looked up in DNS")
}

// TestRefusedOnHost checks the rows that are this machine's own
// addresses (loopback and its interfaces) against real listeners on them.
func TestRefusedOnHost(t *testing.T) {
	var rows []spelling
	for _, row := range spellings {
		if !row.Netns {
			rows = append(rows, row)
		}
	}
	own := ownSpellings(t)
	t.Logf("own interface addresses: %d spellings", len(own))
	rows = append(rows, own...)
	// The redirector's host is allowed; it is none of the rows' hosts.
	checkRows(t, rows, "127.0.0.2")
}

const netnsEnv = "DOCKET_EGRESS_TEST_IN_NETNS"

// TestRefusedInNamespace checks the rows that are neither loopback nor
// this machine's own addresses. Listening on them takes adding them to an
// interface, which is only done inside a fresh network namespace: the test
// re-executes itself under `unshare -n`, and there, with nothing but lo,
// no packet can leave whatever the guard does.
func TestRefusedInNamespace(t *testing.T) {
	if os.Getenv(netnsEnv) == "" {
		runInNamespace(t, "TestRefusedInNamespace")
		return
	}
	setUpNamespace(t)
	var rows []spelling
	for _, row := range spellings {
		if row.Netns {
			rows = append(rows, row)
		}
	}
	checkRows(t, rows, "127.0.0.1")
}

// TestOwnAddressRefusedInNamespace shows that the own-interface check
// stands on its own: a globally routable address, which the IANA
// registries allow, is refused once it is assigned to an interface here,
// and reached when allowed. The address exists only inside the namespace.
func TestOwnAddressRefusedInNamespace(t *testing.T) {
	if os.Getenv(netnsEnv) == "" {
		runInNamespace(t, "TestOwnAddressRefusedInNamespace")
		return
	}
	setUpNamespace(t)
	for _, addr := range []string{"9.9.9.9", "2a00:1450::9"} {
		t.Run(addr, func(t *testing.T) {
			srv, err := egresstest.Listen(t, addr, nil)
			require.NoError(t, err)
			_, err = get(t, egress.NewClient(egress.Policy{}, clientTimeout), srv.URL+"/")
			require.ErrorIs(t, err, egress.ErrRefused)
			require.Contains(t, err.Error(), "address of this machine")
			require.Zero(t, srv.Hits())

			host := addr
			resp, err := get(t, egress.NewClient(egress.Policy{AllowHosts: []string{host}}, clientTimeout), srv.URL+"/")
			require.NoError(t, err)
			requireBody(t, resp, "hello")
			require.Equal(t, int64(1), srv.Hits())
		})
	}
}

// namespaceAddrs are added to the namespace's lo: every listen address of
// the namespace rows, and the global ones of TestOwnAddressRefusedInNamespace.
func namespaceAddrs() []string {
	addrs := []string{"9.9.9.9", "2a00:1450::9"}
	for _, row := range spellings {
		if row.Netns && row.Listen != "" && !slices.Contains(addrs, row.Listen) {
			addrs = append(addrs, row.Listen)
		}
	}
	return addrs
}

// runInNamespace re-executes this test binary, running only test, in a new
// network namespace, and fails if the child fails.
func runInNamespace(t *testing.T, test string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace with unshare -n")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare (util-linux) not found: cannot create a network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip (iproute2) not found: cannot set up a network namespace")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, unshare, "-n", "--", os.Args[0],
		"-test.run=^"+test+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), netnsEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("in a new network namespace:\n%s", out)
	require.NoError(t, err, "the test failed inside the network namespace")
	require.Contains(t, string(out), "--- PASS: "+test, "the child did not run the test")
}

// setUpNamespace brings lo up and adds the namespace addresses to it,
// after making sure that this process is in a namespace of its own: one
// whose only interface is lo.
func setUpNamespace(t *testing.T) {
	t.Helper()
	ifaces, err := net.Interfaces()
	require.NoError(t, err)
	for _, ifc := range ifaces {
		require.Equal(t, "lo", ifc.Name, "%s is set but this is not a fresh network namespace", netnsEnv)
	}
	ip := func(args ...string) error {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	require.NoError(t, ip("link", "set", "lo", "up"))
	for _, a := range namespaceAddrs() {
		addr := netip.MustParseAddr(a)
		family, bits := "-4", 32
		if addr.Is6() {
			family, bits = "-6", 128
		}
		args := []string{family, "addr", "add", addr.WithZone("").String() + "/" + strconv.Itoa(bits), "dev", "lo"}
		if addr.Is6() {
			// Without nodad an IPv6 address stays "tentative" for a moment
			// and a listener cannot bind it yet.
			args = append(args, "nodad")
		}
		require.NoError(t, ip(args...))
	}
}

func TestAllowHosts(t *testing.T) {
	srv, err := egresstest.Listen(t, "127.0.0.1", nil)
	require.NoError(t, err)
	dns := egresstest.StartDNS(t, nil)
	client := func(allow ...string) *http.Client {
		return egress.NewClientWithResolver(egress.Policy{AllowHosts: allow}, dns.Resolver(), clientTimeout)
	}
	tests := []struct {
		name    string
		allow   []string
		url     string
		reached bool
	}{
		{"allowed literal", []string{"127.0.0.1"}, "http://127.0.0.1:" + srv.Port + "/", true},
		{"allowed name, trimmed and case-insensitive", []string{"  LocalHost "}, "http://localhost:" + srv.Port + "/", true},
		{"allowed name in upper case", []string{"localhost"}, "http://LOCALHOST:" + srv.Port + "/", true},
		{"nothing allowed", nil, "http://127.0.0.1:" + srv.Port + "/", false},
		{"empty entries allow nothing", []string{"", "  "}, "http://127.0.0.1:" + srv.Port + "/", false},
		{"name allowed, not its address", []string{"localhost"}, "http://127.0.0.1:" + srv.Port + "/", false},
		{"address allowed, not a name for it", []string{"127.0.0.1"}, "http://localhost:" + srv.Port + "/", false},
		{"another loopback address", []string{"127.0.0.1"}, "http://127.0.0.2:" + srv.Port + "/", false},
		{"mapped form of the allowed address", []string{"127.0.0.1"}, "http://[::ffff:127.0.0.1]:" + srv.Port + "/", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := srv.Hits()
			resp, err := get(t, client(tt.allow...), tt.url)
			if !tt.reached {
				require.ErrorIs(t, err, egress.ErrRefused)
				require.Equal(t, before, srv.Hits())
				return
			}
			require.NoError(t, err)
			requireBody(t, resp, "hello")
			require.Equal(t, before+1, srv.Hits())
		})
	}
}

func TestAllowHostsIPv6(t *testing.T) {
	srv, err := egresstest.Listen(t, "::1", nil)
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	// The allow-list holds IPv6 literals without brackets.
	resp, err := get(t, egress.NewClient(egress.Policy{AllowHosts: []string{"::1"}}, clientTimeout), srv.URL+"/")
	require.NoError(t, err)
	requireBody(t, resp, "hello")
	_, err = get(t, egress.NewClient(egress.Policy{AllowHosts: []string{"127.0.0.1"}}, clientTimeout), srv.URL+"/")
	require.ErrorIs(t, err, egress.ErrRefused)
	require.Equal(t, int64(1), srv.Hits())
}

// A name that resolves inward is refused at connect time, on the address
// it resolved to: the check is in net.Dialer.Control, after DNS.
func TestNameResolvingInwardIsRefused(t *testing.T) {
	srv, err := egresstest.Listen(t, "127.0.0.1", nil)
	require.NoError(t, err)
	dns := egresstest.StartDNS(t, map[string]netip.Addr{"inward.test.": netip.MustParseAddr("127.0.0.1")})
	c := egress.NewClientWithResolver(egress.Policy{}, dns.Resolver(), clientTimeout)
	_, err = get(t, c, "http://inward.test:"+srv.Port+"/")
	require.ErrorIs(t, err, egress.ErrRefused)
	require.Contains(t, err.Error(), "127.0.0.1")
	require.Positive(t, dns.Queries(), "the name was not resolved")
	require.Zero(t, srv.Hits())
}

func TestRedirects(t *testing.T) {
	dns := egresstest.StartDNS(t, nil)
	// /?n=k redirects to /?n=k-1 until 0, which answers.
	srv, err := egresstest.Listen(t, "127.0.0.1", egresstest.Redirector(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "arrived")
	}))
	require.NoError(t, err)
	c := egress.NewClientWithResolver(egress.Policy{AllowHosts: []string{"127.0.0.1"}}, dns.Resolver(), clientTimeout)
	tests := []struct {
		name     string
		path     string
		wantErr  error
		wantHits int64
	}{
		{"no redirect", "/?n=0", nil, 1},
		{"five redirects are followed", "/?n=5", nil, 6},
		{"six redirects are not", "/?n=6", egress.ErrRedirect, 6},
		{"redirect to file:", "/?to=" + url.QueryEscape("file:///etc/passwd"), egress.ErrRedirect, 1},
		{"redirect to gopher:", "/?to=" + url.QueryEscape("gopher://127.0.0.1:70/"), egress.ErrRedirect, 1},
		{"redirect to ftp:", "/?to=" + url.QueryEscape("ftp://127.0.0.1/"), egress.ErrRedirect, 1},
		{"redirect to an invalid port", "/?to=" + url.QueryEscape("http://127.0.0.1:99999/"), egress.ErrRedirect, 1},
		{"redirect to port 0", "/?to=" + url.QueryEscape("http://127.0.0.1:0/"), egress.ErrRedirect, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := srv.Hits()
			resp, err := get(t, c, srv.URL+tt.path)
			require.Equal(t, tt.wantHits, srv.Hits()-before)
			if tt.wantErr == nil {
				require.NoError(t, err)
				requireBody(t, resp, "arrived")
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			require.NotErrorIs(t, err, egress.ErrRefused)
		})
	}
	require.Zero(t, dns.Queries())
}

func TestDNSErrorsDoNotNameTheResolver(t *testing.T) {
	dns := egresstest.StartDNS(t, nil, "servfail.test.")
	c := egress.NewClientWithResolver(egress.Policy{}, dns.Resolver(), clientTimeout)
	tests := []struct {
		url      string
		notFound bool
	}{
		{"http://no-such-host.invalid/", true},
		{"https://deeper.name.invalid:8443/page", true},
		{"http://servfail.test/", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := get(t, c, tt.url)
			require.Error(t, err)
			require.NotErrorIs(t, err, egress.ErrRefused)
			var dnsErr *net.DNSError
			require.ErrorAs(t, err, &dnsErr)
			require.Equal(t, tt.notFound, dnsErr.IsNotFound, "%v", err)
			require.Empty(t, dnsErr.Server)
			require.NotContains(t, err.Error(), ":53")
			for _, s := range dns.Servers() {
				host, _, _ := net.SplitHostPort(s)
				require.NotContains(t, err.Error(), host)
			}
		})
	}
	require.NotEmpty(t, dns.Servers(), "the resolver was not asked")
}

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url     string
		invalid bool // fails the package-level CheckURL (ErrInvalidURL)
		refused bool // fails Policy{}.CheckURL with ErrRefused
	}{
		{"http://example.com/", false, false},
		{"https://example.com:443/a?b#c", false, false},
		{"HTTP://EXAMPLE.COM/", false, false},
		{"http://example.com:1/", false, false},
		{"http://example.com:65535/", false, false},
		{"http://example.com:/", false, false},
		{"http://[2606:4700::1111]:8080/", false, false},
		{"http://example.com:0/", true, false},
		{"http://example.com:65536/", true, false},
		{"http://example.com:99999/", true, false},
		{"http://example.com:99999999999999999999999/", true, false},
		{"http://example.com:http/", true, false},
		{"http://example.com:-1/", true, false},
		{"ftp://example.com/", true, false},
		{"file:///etc/passwd", true, false},
		{"gopher://example.com/", true, false},
		{"example.com/page", true, false},
		{"/relative", true, false},
		{"http://", true, false},
		{"http:///path", true, false},
		{"http://exa mple.com/", true, false},
		// The address checks, which only a Policy makes.
		{"http://127.0.0.1/", false, true},
		{"http://[::ffff:127.0.0.1]/", false, true},
		{"http://2130706433/", false, true},
		{"http://0x7f.1/", false, true},
		{"http://127.1/", false, true},
		{"http://host.1/", false, true},
		{"http://1.example/", false, false},
		{"http://0xcafe.example/", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := egress.CheckURL(tt.url)
			if tt.invalid {
				require.ErrorIs(t, err, egress.ErrInvalidURL)
				require.ErrorIs(t, egress.Policy{}.CheckURL(tt.url), egress.ErrInvalidURL)
				return
			}
			require.NoError(t, err)
			err = egress.Policy{}.CheckURL(tt.url)
			if tt.refused {
				require.ErrorIs(t, err, egress.ErrRefused)
				u, perr := url.Parse(tt.url)
				require.NoError(t, perr)
				require.NoError(t, egress.Policy{AllowHosts: []string{u.Hostname()}}.CheckURL(tt.url), "allowed")
				return
			}
			require.NoError(t, err)
		})
	}
}

func TestErrorsAreDistinct(t *testing.T) {
	for _, a := range []error{egress.ErrRefused, egress.ErrInvalidURL, egress.ErrRedirect} {
		for _, b := range []error{egress.ErrRefused, egress.ErrInvalidURL, egress.ErrRedirect} {
			require.Equal(t, a == b, errors.Is(a, b))
		}
	}
}
