// Package netguard decides which URLs, hosts, ports and IP addresses an outgoing fetch may
// reach, and dials only addresses it has checked.
//
// The rules come in three layers, each usable alone:
//
//   - [Policy.CheckURL]: scheme, userinfo, host allow-list, port allow-list, and IP literals
//     (a literal in a non-canonical spelling such as "2130706433", "0x7f.1", "0177.0.0.1"
//     or "127.1" is refused outright; a canonical one is checked by the address rules).
//   - [Policy.CheckAddr]: the address rules. [Denied] lists the built-in refused ranges;
//     Policy.AllowedNetworks are explicit exceptions.
//   - [Dialer]: resolves a name once, checks every address it got, dials the checked IP
//     literal (never the name), and checks the connection's remote address again from
//     net.Dialer.Control. A resolver that changes its answer between a check and a dial
//     (DNS rebinding) therefore cannot reach a refused address.
//
// Every refusal is a [*Refusal]. Its text names the rule, and the address for address
// rules; it never contains a URL's path, query or userinfo.
//
// The package imports nothing from the module root.
package netguard

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// A Refusal is the error returned when a rule refuses a URL, host, port or address.
type Refusal struct {
	msg string
}

func (r *Refusal) Error() string { return r.msg }

func refuse(format string, args ...any) error {
	return &Refusal{msg: fmt.Sprintf(format, args...)}
}

// Policy holds the rules. Its zero value allows nothing: no host is allowed, and only
// https is. A Policy is read-only once in use and safe for concurrent use.
type Policy struct {
	// AllowedHosts are exact host names (case-insensitive, a trailing dot ignored), canonical
	// IP literals, "*.suffix" (which matches names below suffix, never suffix itself) or "*"
	// (any host, still subject to the address rules). Nil or empty allows no host. A pattern
	// in any other form (such as "*example" or "a.*.b") matches nothing.
	AllowedHosts []string
	// AllowedPorts lists the ports allowed; nil or empty means 80 and 443. A URL without a
	// port uses its scheme's default port.
	AllowedPorts []int
	// AllowHTTP allows plain http; otherwise only https is allowed.
	AllowHTTP bool
	// AllowedNetworks are exceptions to the refused ranges. A prefix matches an address, or
	// the IPv4 address an IPv4-mapped IPv6 address (::ffff:a.b.c.d) stands for.
	AllowedNetworks []netip.Prefix
}

// A Target is a URL's destination after the URL rules accepted it.
type Target struct {
	Host string     // lowercase, without a trailing dot; an IPv6 literal without brackets
	Port int        // the URL's port, or its scheme's default
	Addr netip.Addr // the address when Host is an IP literal; the zero Addr otherwise
}

// CheckURL applies every URL rule to u, in this order: the scheme is https (or http if
// AllowHTTP), the URL is not opaque and has no userinfo, the host is a valid DNS name or a
// canonical IP literal, the host is in AllowedHosts, the port is in AllowedPorts, and an
// IP literal passes CheckAddr. It makes no network request.
func (p *Policy) CheckURL(u *url.URL) (Target, error) {
	if u == nil {
		return Target{}, refuse("no URL")
	}
	var defPort int
	switch u.Scheme {
	case "https":
		defPort = 443
	case "http":
		if !p.AllowHTTP {
			return Target{}, refuse("plain http is not allowed")
		}
		defPort = 80
	case "":
		return Target{}, refuse("URL has no scheme")
	default:
		// url.Parse only accepts [a-zA-Z][a-zA-Z0-9+.-]* as a scheme, so it is safe to print.
		return Target{}, refuse("scheme %.16q is not allowed", u.Scheme)
	}
	if u.Opaque != "" {
		return Target{}, refuse("URL has no authority")
	}
	if u.User != nil {
		return Target{}, refuse("URL has userinfo")
	}
	if u.Host == "" {
		return Target{}, refuse("URL has no host")
	}
	host := u.Hostname()
	if strings.Contains(host, ":") && !strings.HasPrefix(u.Host, "[") {
		return Target{}, refuse("malformed host")
	}
	port := defPort
	if ps := u.Port(); ps != "" {
		n, err := strconv.Atoi(ps)
		if err != nil || n < 1 || n > 65535 {
			return Target{}, refuse("malformed port")
		}
		port = n
	}
	return p.CheckHostPort(host, port)
}

// CheckHostPort applies the host, port and IP-literal rules of CheckURL to a host (an IPv6
// literal without brackets) and a port. The Dialer calls it for every connection.
func (p *Policy) CheckHostPort(host string, port int) (Target, error) {
	name, addr, err := NormalizeHost(host)
	if err != nil {
		return Target{}, err
	}
	if !MatchHost(p.AllowedHosts, name) {
		return Target{}, refuse("host is not allowed")
	}
	if !p.portAllowed(port) {
		return Target{}, refuse("port %d is not allowed", port)
	}
	if addr.IsValid() {
		if err := p.CheckAddr(addr); err != nil {
			return Target{}, err
		}
	}
	return Target{Host: name, Port: port, Addr: addr}, nil
}

func (p *Policy) portAllowed(port int) bool {
	if len(p.AllowedPorts) == 0 {
		return port == 80 || port == 443
	}
	for _, ap := range p.AllowedPorts {
		if ap == port {
			return true
		}
	}
	return false
}

// CheckAddr applies the address rules to a: an address with a zone is refused; an address
// in AllowedNetworks is allowed; an address [Denied] reports is refused; anything else is
// allowed.
func (p *Policy) CheckAddr(a netip.Addr) error {
	if !a.IsValid() {
		return refuse("invalid address")
	}
	if a.Zone() != "" {
		return refuse("address %s has a zone", a.WithZone(""))
	}
	u := a.Unmap()
	for _, n := range p.AllowedNetworks {
		if n.IsValid() && (n.Contains(u) || n.Contains(a)) {
			return nil
		}
	}
	if r, ok := Denied(a); ok {
		return refuse("address %s is in refused range %s", a, r)
	}
	return nil
}

// NormalizeHost returns host lowercase and without a trailing dot, with addr set when host
// is an IP literal. It refuses hosts that are neither a canonical IP literal nor a valid
// DNS name: an IPv6 literal with a zone, and any host whose last label is a number (such
// as "2130706433", "0x7f.1", "0177.0.0.1", "127.1" or "1.2.3.4.5") unless it is a
// canonical dotted-quad IPv4 address. Resolvers and URL parsers read those spellings as
// IPv4 addresses (inet_aton), so they are refused rather than guessed at; the refusal
// names the address a spelling denotes. Non-ASCII names are refused (use their punycode
// form), as are names longer than 253 bytes or with a label longer than 63.
func NormalizeHost(host string) (name string, addr netip.Addr, err error) {
	if host == "" {
		return "", netip.Addr{}, refuse("empty host")
	}
	if len(host) > 256 {
		return "", netip.Addr{}, refuse("host too long")
	}
	if strings.Contains(host, ":") {
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return "", netip.Addr{}, refuse("malformed IPv6 literal")
		}
		if a.Zone() != "" {
			return "", netip.Addr{}, refuse("IPv6 literal with a zone")
		}
		return a.String(), a, nil
	}
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if endsInNumber(h) {
		if a, err := netip.ParseAddr(h); err == nil && a.Is4() && a.String() == h {
			return h, a, nil
		}
		if a, ok := ParseIPv4(h); ok {
			return "", netip.Addr{}, refuse("non-canonical IPv4 literal (it denotes %s)", a)
		}
		return "", netip.Addr{}, refuse("malformed IPv4 literal")
	}
	if err := checkDNSName(h); err != nil {
		return "", netip.Addr{}, err
	}
	return h, netip.Addr{}, nil
}

// endsInNumber reports whether the last label of h is a decimal number or "0x" followed by
// hex digits: the test the WHATWG URL standard uses to decide that a host is IPv4.
func endsInNumber(h string) bool {
	last := h[strings.LastIndexByte(h, '.')+1:]
	if last == "" {
		return false
	}
	if strings.HasPrefix(last, "0x") {
		return strings.Trim(last[2:], "0123456789abcdef") == ""
	}
	return strings.Trim(last, "0123456789") == ""
}

// checkDNSName requires a lowercase ASCII name of labels of 1 to 63 letters, digits,
// hyphens and underscores, at most 253 bytes in all.
func checkDNSName(h string) error {
	if h == "" || len(h) > 253 {
		return refuse("malformed host name")
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 {
			return refuse("malformed host name")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
				return refuse("malformed host name")
			}
		}
	}
	return nil
}

// ParseIPv4 parses s with the semantics of BSD inet_aton, which resolvers and many URL
// parsers share: one to four parts separated by dots, each decimal, octal (a leading 0)
// or hex (a leading 0x or 0X); the last part fills all the bytes that remain. So
// "2130706433", "0x7f.1", "0177.0.0.1" and "127.1" all denote 127.0.0.1.
func ParseIPv4(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var vals [4]uint64
	for i, p := range parts {
		v, ok := parseInetPart(p)
		if !ok {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	n := len(parts)
	var ip uint64
	for i := 0; i < n-1; i++ {
		if vals[i] > 0xff {
			return netip.Addr{}, false
		}
		ip |= vals[i] << (24 - 8*i)
	}
	if vals[n-1] >= 1<<(8*(5-n)) {
		return netip.Addr{}, false
	}
	ip |= vals[n-1]
	return netip.AddrFrom4([4]byte{byte(ip >> 24 & 0xff), byte(ip >> 16 & 0xff), byte(ip >> 8 & 0xff), byte(ip & 0xff)}), true
}

// parseInetPart parses one part of an inet_aton address; values above 2^32 fail.
func parseInetPart(p string) (uint64, bool) {
	if p == "" {
		return 0, false
	}
	base := uint64(10)
	switch {
	case len(p) >= 2 && (p[:2] == "0x" || p[:2] == "0X"):
		base, p = 16, p[2:] // "0x" alone is 0, as in inet_aton
	case len(p) >= 2 && p[0] == '0':
		base, p = 8, p[1:]
	}
	var v uint64
	for i := 0; i < len(p); i++ {
		var d uint64
		switch c := p[i]; {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			return 0, false
		}
		if d >= base {
			return 0, false
		}
		v = v*base + d
		if v > 1<<32 {
			return 0, false
		}
	}
	return v, true
}

// MatchHost reports whether host (as returned by NormalizeHost) matches one of patterns.
// Patterns are compared case-insensitively with a trailing dot ignored; see
// Policy.AllowedHosts for their forms. "*.suffix" never matches an IP literal.
func MatchHost(patterns []string, host string) bool {
	if host == "" {
		return false
	}
	_, err := netip.ParseAddr(host)
	isIP := err == nil
	for _, pat := range patterns {
		if pat == "*." {
			continue // malformed: "*" is written without a dot
		}
		pat = strings.TrimSuffix(strings.ToLower(pat), ".")
		switch {
		case pat == "*":
			return true
		case strings.HasPrefix(pat, "*."):
			suffix := pat[2:]
			if !isIP && suffix != "" && !strings.Contains(suffix, "*") &&
				strings.HasSuffix(host, "."+suffix) && len(host) > len(suffix)+1 {
				return true
			}
		case strings.Contains(pat, "*"):
			// Malformed wildcard: matches nothing.
		default:
			pat = strings.TrimSuffix(strings.TrimPrefix(pat, "["), "]")
			if a, err := netip.ParseAddr(pat); err == nil {
				pat = a.String()
			}
			if pat == host {
				return true
			}
		}
	}
	return false
}
