package egress

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAddrCache(t *testing.T) {
	calls := 0
	list := []net.Addr{&net.IPNet{IP: net.ParseIP("192.0.2.7"), Mask: net.CIDRMask(24, 32)}}
	var listErr error
	c := &addrCache{ttl: time.Hour, list: func() ([]net.Addr, error) {
		calls++
		return list, listErr
	}}
	tests := []struct {
		addr string
		want bool
	}{
		{"192.0.2.7", true},
		{"::ffff:192.0.2.7", true}, // mapped form of an own address
		{"192.0.2.8", false},
	}
	for _, tt := range tests {
		got, err := c.contains(netip.MustParseAddr(tt.addr))
		require.NoError(t, err)
		require.Equal(t, tt.want, got, tt.addr)
	}
	require.Equal(t, 1, calls, "the list is cached")

	// Once older than ttl it is listed again; an error fails closed in
	// checkAddr's caller and is not cached.
	c.ttl = 0
	listErr = errors.New("netlink down")
	_, err := c.contains(netip.MustParseAddr("192.0.2.7"))
	require.ErrorContains(t, err, "netlink down")
	require.Equal(t, 2, calls)
}
