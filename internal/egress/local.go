package egress

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// ownAddrsTTL is how long the list of this machine's interface addresses
// is reused. Listing them is a netlink round trip; doing it on every
// connection would cost more than the window in which a newly added
// address is not yet refused, and addresses rarely change on a worker.
const ownAddrsTTL = 5 * time.Second

// ownAddrs caches the addresses of this machine's interfaces for every
// client in the process.
var ownAddrs = &addrCache{ttl: ownAddrsTTL, list: net.InterfaceAddrs}

// addrCache is a set of interface addresses, listed again once it is older
// than ttl.
type addrCache struct {
	ttl  time.Duration
	list func() ([]net.Addr, error)

	mu      sync.Mutex
	fetched time.Time
	set     map[netip.Addr]struct{}
}

// contains reports whether addr (unmapped, zone ignored) is assigned to
// one of this machine's interfaces.
func (c *addrCache) contains(addr netip.Addr) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.set == nil || time.Since(c.fetched) > c.ttl {
		addrs, err := c.list()
		if err != nil {
			return false, fmt.Errorf("interface addresses: %w", err)
		}
		set := make(map[netip.Addr]struct{}, len(addrs))
		for _, a := range addrs {
			var ip net.IP
			switch a := a.(type) {
			case *net.IPNet:
				ip = a.IP
			case *net.IPAddr:
				ip = a.IP
			}
			if na, ok := netip.AddrFromSlice(ip); ok {
				set[na.Unmap()] = struct{}{}
			}
		}
		c.set, c.fetched = set, time.Now()
	}
	_, ok := c.set[addr.Unmap().WithZone("")]
	return ok, nil
}
