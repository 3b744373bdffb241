package netguard

import "net/netip"

// deniedV4 are the IPv4 ranges refused by default: everything that is not globally
// reachable unicast (IANA special-purpose registry), most specific first.
var deniedV4 = [...]netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),          // "this network", incl. 0.0.0.0
	netip.MustParsePrefix("10.0.0.0/8"),         // RFC 1918 private
	netip.MustParsePrefix("100.64.0.0/10"),      // RFC 6598 carrier-grade NAT
	netip.MustParsePrefix("127.0.0.0/8"),        // loopback
	netip.MustParsePrefix("169.254.0.0/16"),     // link-local, incl. the 169.254.169.254 metadata service
	netip.MustParsePrefix("172.16.0.0/12"),      // RFC 1918 private
	netip.MustParsePrefix("192.0.0.0/24"),       // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),       // TEST-NET-1 documentation
	netip.MustParsePrefix("192.88.99.0/24"),     // deprecated 6to4 relay anycast
	netip.MustParsePrefix("192.168.0.0/16"),     // RFC 1918 private
	netip.MustParsePrefix("198.18.0.0/15"),      // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"),    // TEST-NET-2 documentation
	netip.MustParsePrefix("203.0.113.0/24"),     // TEST-NET-3 documentation
	netip.MustParsePrefix("224.0.0.0/4"),        // multicast
	netip.MustParsePrefix("255.255.255.255/32"), // limited broadcast
	netip.MustParsePrefix("240.0.0.0/4"),        // reserved
}

// deniedV6 are the IPv6 ranges refused outright, most specific first. Every address
// outside 2000::/3 (the only block assigned for global unicast) is refused as well, except
// NAT64 addresses whose embedded IPv4 address is allowed.
var deniedV6 = [...]netip.Prefix{
	netip.MustParsePrefix("::/128"),          // unspecified
	netip.MustParsePrefix("::1/128"),         // loopback
	netip.MustParsePrefix("::/96"),           // deprecated IPv4-compatible addresses
	netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated (SIIT)
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001::/32"),       // Teredo (embeds obfuscated IPv4 addresses)
	netip.MustParsePrefix("2001:2::/48"),     // benchmarking
	netip.MustParsePrefix("2001:10::/28"),    // deprecated ORCHID
	netip.MustParsePrefix("2001:20::/28"),    // ORCHIDv2, not routable
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("3fff::/20"),       // documentation (RFC 9637)
	netip.MustParsePrefix("fc00::/7"),        // unique local addresses
	netip.MustParsePrefix("fe80::/10"),       // link-local
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	netip.MustParsePrefix("ff00::/8"),        // multicast
}

var (
	globalUnicast6 = netip.MustParsePrefix("2000::/3")
	nat64          = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052: IPv4 in the last 32 bits
	sixToFour      = netip.MustParsePrefix("2002::/16")    // RFC 3056: IPv4 in bits 16 to 47
)

// Denied reports whether a is in a range refused by default, and which. An IPv4-mapped
// address (::ffff:a.b.c.d) is judged as the IPv4 address it maps; a NAT64 (64:ff9b::/96)
// or 6to4 (2002::/16) address is refused when the IPv4 address it embeds is. Denied knows
// nothing of a Policy's exceptions; use Policy.CheckAddr for the full rule.
func Denied(a netip.Addr) (netip.Prefix, bool) {
	a = a.WithZone("").Unmap()
	if a.Is4() {
		for _, r := range deniedV4 {
			if r.Contains(a) {
				return r, true
			}
		}
		return netip.Prefix{}, false
	}
	if !a.Is6() {
		return netip.Prefix{}, true // the zero Addr
	}
	b := a.As16()
	if nat64.Contains(a) {
		if _, bad := Denied(netip.AddrFrom4([4]byte(b[12:16]))); bad {
			return nat64, true
		}
		return netip.Prefix{}, false
	}
	if sixToFour.Contains(a) {
		if _, bad := Denied(netip.AddrFrom4([4]byte(b[2:6]))); bad {
			return sixToFour, true
		}
		return netip.Prefix{}, false
	}
	for _, r := range deniedV6 {
		if r.Contains(a) {
			return r, true
		}
	}
	if !globalUnicast6.Contains(a) {
		return netip.PrefixFrom(a, 3).Masked(), true
	}
	return netip.Prefix{}, false
}
