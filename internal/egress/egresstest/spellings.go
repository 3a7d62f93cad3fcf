package egresstest

// The table of destinations the egress guard must refuse, shared by the
// guard's own tests and by those of its users (wordcount, webhooks), so
// that every outbound path is tested against every form.
// The machine's own interface addresses are added at test time by the
// tests that need them.

// Spelling is one way of writing a destination that must be refused.
type Spelling struct {
	Name string
	// Host is the URL's host, IPv6 in brackets.
	Host string
	// Listen is the address a listener is started on for this row: where
	// the request would land if the guard let it through. "" means none
	// can be (a multicast group, an address that only exists in
	// translation), and the row only asserts the refusal.
	Listen string
	// Netns marks rows whose destination is neither loopback nor this
	// machine's own address: they run only inside a fresh network
	// namespace (TestRefusedInNamespace), never on the host.
	Netns bool
}

// Spellings covers every block of IANA's IPv4 and IPv6 special-purpose
// address registries, embeddings of loopback in IPv6 forms, and IPv4
// spellings that other software reads as loopback. The machine's own
// interface addresses are added at test time (ownSpellings).
var Spellings = []Spelling{
	// Loopback and "this host", reachable on the host itself.
	{"loopback", "127.0.0.1", "127.0.0.1", false},
	{"loopback 127/8", "127.1.2.3", "127.1.2.3", false},
	{"loopback top of 127/8", "127.255.255.254", "127.255.255.254", false},
	{"this host 0.0.0.0", "0.0.0.0", "127.0.0.1", false},
	{"ipv6 loopback", "[::1]", "::1", false},
	{"ipv6 loopback long form", "[0:0:0:0:0:0:0:1]", "::1", false},
	{"ipv6 loopback with zone", "[::1%25lo]", "::1", false},
	{"ipv6 unspecified", "[::]", "::1", false},
	{"ipv4-mapped loopback", "[::ffff:127.0.0.1]", "127.0.0.1", false},
	{"ipv4-mapped loopback hex", "[::ffff:7f00:1]", "127.0.0.1", false},
	{"ipv4-mapped loopback long form", "[0:0:0:0:0:ffff:127.0.0.1]", "127.0.0.1", false},
	{"ipv4-mapped this host", "[::ffff:0.0.0.0]", "127.0.0.1", false},
	{"localhost", "localhost", "127.0.0.1", false},
	{"localhost upper case", "LOCALHOST", "127.0.0.1", false},
	// IPv4 spellings that WHATWG URL parsers and inet_aton read as
	// 127.0.0.1; Go would look them up as names.
	{"decimal", "2130706433", "127.0.0.1", false},
	{"octal", "0177.0.0.1", "127.0.0.1", false},
	{"octal single number", "017700000001", "127.0.0.1", false},
	{"hex short", "0x7f.1", "127.0.0.1", false},
	{"hex dotted", "0x7F.0.0.1", "127.0.0.1", false},
	{"hex single number", "0x7f000001", "127.0.0.1", false},
	{"short form", "127.1", "127.0.0.1", false},
	{"three parts", "127.0.1", "127.0.0.1", false},
	{"zero padded", "127.000.000.001", "127.0.0.1", false},
	{"trailing dot", "127.0.0.1.", "127.0.0.1", false},

	// IPv4 special-purpose registry.
	{"this network 0/8", "0.1.2.3", "0.1.2.3", true},
	{"private 10/8", "10.0.0.1", "10.0.0.1", true},
	{"private 10/8 top", "10.255.255.254", "10.255.255.254", true},
	{"shared address space 100.64/10", "100.64.0.1", "100.64.0.1", true},
	{"shared address space top", "100.127.255.254", "100.127.255.254", true},
	{"link-local 169.254/16", "169.254.0.1", "169.254.0.1", true},
	{"cloud metadata", "169.254.169.254", "169.254.169.254", true},
	{"private 172.16/12", "172.16.0.1", "172.16.0.1", true},
	{"private 172.16/12 top", "172.31.255.254", "172.31.255.254", true},
	{"ietf protocol assignments 192.0.0/24", "192.0.0.100", "192.0.0.100", true},
	{"ipv4 service continuity 192.0.0.0/29", "192.0.0.6", "192.0.0.6", true},
	{"nat64/dns64 discovery 192.0.0.170/31", "192.0.0.170", "192.0.0.170", true},
	{"nat64/dns64 discovery second", "192.0.0.171", "192.0.0.171", true},
	{"documentation TEST-NET-1", "192.0.2.1", "192.0.2.1", true},
	{"as112-v4 192.31.196/24", "192.31.196.1", "192.31.196.1", true},
	{"amt 192.52.193/24", "192.52.193.1", "192.52.193.1", true},
	{"6to4 relay anycast 192.88.99/24", "192.88.99.1", "192.88.99.1", true},
	{"private 192.168/16", "192.168.0.1", "192.168.0.1", true},
	{"private 192.168/16 top", "192.168.255.254", "192.168.255.254", true},
	{"as112 direct delegation 192.175.48/24", "192.175.48.1", "192.175.48.1", true},
	{"benchmarking 198.18/15", "198.18.0.1", "198.18.0.1", true},
	{"benchmarking top", "198.19.255.254", "198.19.255.254", true},
	{"documentation TEST-NET-2", "198.51.100.1", "198.51.100.1", true},
	{"documentation TEST-NET-3", "203.0.113.1", "203.0.113.1", true},
	{"reserved 240/4", "240.0.0.1", "240.0.0.1", true},
	{"reserved 240/4 top", "255.255.255.254", "255.255.255.254", true},
	{"limited broadcast", "255.255.255.255", "", true},
	{"multicast 224/4", "224.0.0.1", "", true},
	{"multicast 224/4 top", "239.255.255.250", "", true},

	// IPv6 special-purpose registry, and embeddings of IPv4 addresses.
	{"ipv4-mapped private", "[::ffff:10.0.0.1]", "10.0.0.1", true},
	{"ipv4-mapped metadata", "[::ffff:169.254.169.254]", "169.254.169.254", true},
	{"ipv4-translated ::ffff:0:0:0/96", "[::ffff:0:a00:1]", "::ffff:0:a00:1", true},
	{"ipv4-translated loopback", "[::ffff:0:127.0.0.1]", "", true},
	{"ipv4-compatible private", "[::a00:1]", "::a00:1", true},
	{"ipv4-compatible loopback", "[::127.0.0.1]", "", true},
	{"nat64 64:ff9b::/96", "[64:ff9b::a00:1]", "64:ff9b::a00:1", true},
	{"nat64 of loopback", "[64:ff9b::127.0.0.1]", "", true},
	{"local-use nat64 64:ff9b:1::/48", "[64:ff9b:1::a00:1]", "64:ff9b:1::a00:1", true},
	{"discard-only 100::/64", "[100::1]", "100::1", true},
	{"ietf protocol assignments 2001::/23", "[2001:1::1]", "2001:1::1", true},
	{"teredo 2001::/32", "[2001::1]", "2001::1", true},
	{"teredo of loopback", "[2001:0:4136:e378:8000:63bf:80ff:fffe]", "2001:0:4136:e378:8000:63bf:80ff:fffe", true},
	{"benchmarking 2001:2::/48", "[2001:2::1]", "2001:2::1", true},
	{"orchid 2001:10::/28", "[2001:10::1]", "2001:10::1", true},
	{"orchidv2 2001:20::/28", "[2001:20::1]", "2001:20::1", true},
	{"documentation 2001:db8::/32", "[2001:db8::1]", "2001:db8::1", true},
	{"6to4 2002::/16", "[2002:a00:1::1]", "2002:a00:1::1", true},
	{"6to4 of loopback", "[2002:7f00:1::]", "2002:7f00:1::", true},
	{"as112 direct delegation 2620:4f:8000::/48", "[2620:4f:8000::1]", "2620:4f:8000::1", true},
	{"documentation 3fff::/20", "[3fff::1]", "3fff::1", true},
	{"srv6 sids 5f00::/16", "[5f00::1]", "5f00::1", true},
	{"unique local fc00::/7", "[fc00::1]", "fc00::1", true},
	{"unique local fd00::/8", "[fd12:3456::1]", "fd12:3456::1", true},
	{"link-local fe80::/10", "[fe80::1]", "", true},
	{"link-local with zone", "[fe80::1%25lo]", "fe80::1%lo", true},
	{"site-local fec0::/10", "[fec0::1]", "fec0::1", true},
	{"multicast ff00::/8", "[ff02::1]", "", true},
	{"multicast global scope", "[ff0e::1]", "", true},
}
