package netguard

import (
	"context"
	"errors"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A Dialer opens TCP connections to checked addresses only; its DialContext is meant for
// http.Transport.DialContext. For every connection it applies Policy.CheckHostPort to the
// host and port it is asked for, resolves a name once, refuses the connection if any
// address the name resolved to fails Policy.CheckAddr, dials the checked IP literals (so
// nothing resolves the name a second time), and checks the socket's remote address again
// from net.Dialer.Control just before connecting.
//
// A Dialer is safe for concurrent use; its fields must not change once it is in use.
type Dialer struct {
	// Policy holds the rules. It must not be nil.
	Policy *Policy
	// LookupIP resolves a host name (lowercase, without a trailing dot). Nil means
	// net.DefaultResolver.LookupNetIP on the absolute name (with a trailing dot), so
	// resolver search domains never turn an allowed name into another one.
	LookupIP func(ctx context.Context, host string) ([]netip.Addr, error)
	// Timeout bounds each connection attempt; zero means only ctx bounds it.
	Timeout time.Duration
	// Proxy, when not empty, is the proxy's host:port. The Dialer then connects to that
	// address only, and exempts it from the host, port and address rules: the operator
	// chose it, and the proxy, not this Dialer, resolves and reaches the targets.
	Proxy string

	// dial replaces the real connect in tests; control is the Control check it must run.
	dial func(ctx context.Context, network, address string, control func(network, address string, c syscall.RawConn) error) (net.Conn, error)
}

// DialContext connects to address ("host:port") over network ("tcp", "tcp4" or "tcp6"),
// after the checks described on Dialer. A refusal is a *Refusal; a failed lookup or
// connect returns the resolver's or dialer's error.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, refuse("network %.8q is not allowed", network)
	}
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, refuse("malformed address")
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return nil, refuse("malformed port")
	}
	if d.Proxy != "" {
		return d.dialProxy(ctx, network, host, port)
	}
	t, err := d.Policy.CheckHostPort(host, port)
	if err != nil {
		return nil, err
	}
	addrs := []netip.Addr{t.Addr}
	if !t.Addr.IsValid() {
		if addrs, err = d.lookup(ctx, t.Host); err != nil {
			return nil, err
		}
		for _, a := range addrs {
			if err := d.Policy.CheckAddr(a); err != nil {
				return nil, err
			}
		}
	}
	return d.dialAddrs(ctx, network, addrs, port, d.control)
}

// control is the net.Dialer.Control check: the address the socket is about to connect to
// must pass CheckAddr.
func (d *Dialer) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return refuse("malformed remote address")
	}
	return d.Policy.CheckAddr(ap.Addr())
}

func (d *Dialer) dialProxy(ctx context.Context, network, host string, port int) (net.Conn, error) {
	phost, pportStr, err := net.SplitHostPort(d.Proxy)
	if err != nil {
		return nil, refuse("malformed proxy address")
	}
	pport, err := strconv.Atoi(pportStr)
	norm := func(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }
	if err != nil || pport != port || norm(phost) != norm(host) {
		return nil, refuse("only the proxy may be dialled")
	}
	addr, err := netip.ParseAddr(host)
	addrs := []netip.Addr{addr}
	if err != nil {
		if addrs, err = d.lookup(ctx, norm(host)); err != nil {
			return nil, err
		}
	}
	return d.dialAddrs(ctx, network, addrs, port, nil)
}

func (d *Dialer) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	var err error
	if d.LookupIP != nil {
		addrs, err = d.LookupIP(ctx, host)
	} else {
		addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host+".")
	}
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, refuse("host resolved to no address")
	}
	return addrs, nil
}

// dialAddrs tries each address in turn, as an IP literal, and returns the first connection.
func (d *Dialer) dialAddrs(ctx context.Context, network string, addrs []netip.Addr, port int,
	control func(string, string, syscall.RawConn) error) (net.Conn, error) {
	if port < 1 || port > math.MaxUint16 { // checked by the callers too
		return nil, refuse("malformed port")
	}
	var first error
	for _, a := range addrs {
		a = a.Unmap()
		if (network == "tcp4" && !a.Is4()) || (network == "tcp6" && !a.Is6()) {
			continue
		}
		target := netip.AddrPortFrom(a, uint16(port)).String()
		var conn net.Conn
		var err error
		if d.dial != nil {
			conn, err = d.dial(ctx, network, target, control)
		} else {
			nd := &net.Dialer{Timeout: d.Timeout, Control: control}
			conn, err = nd.DialContext(ctx, network, target)
		}
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if first == nil {
		first = refuse("no address for network %s", network)
	}
	return nil, first
}

// IsRefusal reports whether err is or wraps a *Refusal.
func IsRefusal(err error) bool {
	var r *Refusal
	return errors.As(err, &r)
}
