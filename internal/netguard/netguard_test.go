package netguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNetguardDenied(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		denied bool
	}{
		// IPv4 refused ranges, at their edges.
		{"0.0.0.0", true},
		{"0.255.255.255", true},
		{"10.0.0.1", true},
		{"10.255.255.255", true},
		{"100.64.0.1", true},
		{"100.127.255.255", true},
		{"127.0.0.1", true},
		{"127.255.255.254", true},
		{"169.254.169.254", true},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"192.0.0.8", true},
		{"192.0.2.1", true},
		{"192.88.99.1", true},
		{"192.168.1.1", true},
		{"198.18.0.1", true},
		{"198.19.255.255", true},
		{"198.51.100.7", true},
		{"203.0.113.9", true},
		{"224.0.0.1", true},
		{"239.255.255.250", true},
		{"240.0.0.1", true},
		{"255.255.255.255", true},
		// IPv4 just outside them.
		{"1.0.0.1", false},
		{"8.8.8.8", false},
		{"11.0.0.0", false},
		{"100.63.255.255", false},
		{"100.128.0.0", false},
		{"126.255.255.255", false},
		{"128.0.0.0", false},
		{"169.253.255.255", false},
		{"172.15.255.255", false},
		{"172.32.0.0", false},
		{"192.0.1.255", false},
		{"192.167.255.255", false},
		{"198.17.255.255", false},
		{"198.20.0.0", false},
		{"223.255.255.255", false},
		// IPv6.
		{"::", true},
		{"::1", true},
		{"::7f00:1", true},         // IPv4-compatible
		{"::808:808", true},        // IPv4-compatible, even of a public address
		{"::ffff:127.0.0.1", true}, // IPv4-mapped
		{"::ffff:7f00:1", true},
		{"::ffff:169.254.169.254", true},
		{"::ffff:8.8.8.8", false},
		{"::ffff:0:7f00:1", true},       // IPv4-translated
		{"64:ff9b::7f00:1", true},       // NAT64 of 127.0.0.1
		{"64:ff9b::a9fe:a9fe", true},    // NAT64 of 169.254.169.254
		{"64:ff9b::808:808", false},     // NAT64 of 8.8.8.8
		{"64:ff9b:1::1", true},          // local-use NAT64
		{"2002:7f00:1::1", true},        // 6to4 of 127.0.0.1
		{"2002:a00:1::", true},          // 6to4 of 10.0.0.1
		{"2002:808:808::1", false},      // 6to4 of 8.8.8.8
		{"2001::1", true},               // Teredo
		{"2001:db8::1", true},           // documentation
		{"3fff::1", true},               // documentation
		{"fc00::1", true},               // ULA
		{"fd00::1", true},               // ULA
		{"fe80::1", true},               // link-local
		{"febf::1", true},               // link-local
		{"fec0::1", true},               // site-local
		{"ff02::1", true},               // multicast
		{"100::1", true},                // discard-only
		{"4000::1", true},               // outside 2000::/3
		{"2606:4700:4700::1111", false}, // global unicast
		{"2a00:1450:4001:80b::200e", false},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			r, denied := Denied(netip.MustParseAddr(tc.addr))
			assert.Equal(t, tc.denied, denied, "range %s", r)
		})
	}
}

func TestNetguardCheckAddrExceptions(t *testing.T) {
	p := &Policy{AllowedNetworks: []netip.Prefix{
		netip.MustParsePrefix("127.0.0.1/32"),
		netip.MustParsePrefix("fd00::/64"),
	}}
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1", true},
		{"::ffff:127.0.0.1", true}, // exceptions are checked after unmapping
		{"127.0.0.2", false},
		{"64:ff9b::7f00:1", false}, // a NAT64 address is not the address it embeds
		{"fd00::1", true},
		{"fd00:0:0:1::1", false},
		{"8.8.8.8", true},
		{"fe80::1%eth0", false}, // zoned
	} {
		t.Run(tc.addr, func(t *testing.T) {
			err := p.CheckAddr(netip.MustParseAddr(tc.addr))
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.True(t, IsRefusal(err))
		})
	}
	require.Error(t, p.CheckAddr(netip.Addr{}))
}

func TestNetguardParseIPv4(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" means not an inet_aton address
	}{
		{"2130706433", "127.0.0.1"},
		{"0x7f.1", "127.0.0.1"},
		{"0X7F.1", "127.0.0.1"},
		{"0177.0.0.1", "127.0.0.1"},
		{"0177.0.0.01", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"127.0.1", "127.0.0.1"},
		{"0x7f000001", "127.0.0.1"},
		{"017700000001", "127.0.0.1"},
		{"0xa9.0xfe.0xa9.0xfe", "169.254.169.254"},
		{"169.16689662", "169.254.169.254"},
		{"0", "0.0.0.0"},
		{"0x", "0.0.0.0"},
		{"1.2.3.4", "1.2.3.4"},
		{"255.255.255.255", "255.255.255.255"},
		{"4294967295", "255.255.255.255"},
		{"1.16777215", "1.255.255.255"},
		{"1.2.65535", "1.2.255.255"},
		{"", ""},
		{"08", ""},         // 8 is not an octal digit
		{"0x1g", ""},       // g is not a hex digit
		{"256.1.1.1", ""},  // a leading part above 255
		{"1.2.3.256", ""},  // last part above its room
		{"1.16777216", ""}, // last part above 24 bits
		{"1.2.65536", ""},  // last part above 16 bits
		{"4294967296", ""}, // above 32 bits
		{"99999999999999999999999", ""},
		{"1.2.3.4.5", ""},
		{"1..2", ""},
		{"1.2.3.", ""},
		{"a.b.c.d", ""},
		{"-1", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			a, ok := ParseIPv4(tc.in)
			if tc.want == "" {
				assert.False(t, ok, "parsed as %s", a)
				return
			}
			require.True(t, ok)
			assert.Equal(t, tc.want, a.String())
		})
	}
}

func TestNetguardMatchHost(t *testing.T) {
	for _, tc := range []struct {
		patterns []string
		host     string
		want     bool
	}{
		{[]string{"*.example"}, "a.example", true},
		{[]string{"*.example"}, "a.b.example", true},
		{[]string{"*.example"}, "example", false},
		{[]string{"*.example"}, "evilexample", false},
		{[]string{"*.example"}, "a.example.evil", false},
		{[]string{"*.EXAMPLE."}, "a.example", true},
		{[]string{"images.example"}, "images.example", true},
		{[]string{"Images.Example."}, "images.example", true},
		{[]string{"images.example"}, "a.images.example", false},
		{[]string{"images.example"}, "images.example.evil", false},
		{[]string{"*"}, "anything.example", true},
		{[]string{"*"}, "8.8.8.8", true},
		{[]string{"8.8.8.8"}, "8.8.8.8", true},
		{[]string{"[2606:4700::1111]"}, "2606:4700::1111", true},
		{[]string{"2606:4700:0::1111"}, "2606:4700::1111", true},
		{[]string{"*.8.8"}, "8.8.8.8", false}, // wildcards never match IP literals
		{nil, "images.example", false},
		{[]string{}, "images.example", false},
		{[]string{""}, "images.example", false},
		{[]string{"*example"}, "evilexample", false}, // malformed wildcard
		{[]string{"a.*.example"}, "a.b.example", false},
		{[]string{"*."}, "a.example", false},
		{[]string{"**.example"}, "a.example", false},
		{[]string{"*"}, "", false},
	} {
		t.Run(tc.host+" by "+joinPatterns(tc.patterns), func(t *testing.T) {
			assert.Equal(t, tc.want, MatchHost(tc.patterns, tc.host))
		})
	}
}

func joinPatterns(p []string) string {
	s := "["
	for i, x := range p {
		if i > 0 {
			s += ","
		}
		s += x
	}
	return s + "]"
}

func TestNetguardCheckURL(t *testing.T) {
	p := &Policy{
		AllowedHosts: []string{"images.example", "*.cdn.example", "8.8.8.8", "*"},
		AllowHTTP:    true,
	}
	strict := &Policy{AllowedHosts: []string{"images.example", "*.cdn.example"}}
	for _, tc := range []struct {
		name   string
		policy *Policy
		url    string
		want   Target // zero means refused
	}{
		{"https name", strict, "https://images.example/a.png", Target{Host: "images.example", Port: 443}},
		{"http name", p, "http://images.example/a.png", Target{Host: "images.example", Port: 80}},
		{"upper case and trailing dot", strict, "https://IMAGES.Example./a.png", Target{Host: "images.example", Port: 443}},
		{"explicit allowed port", strict, "https://images.example:80/a.png", Target{Host: "images.example", Port: 80}},
		{"wildcard subdomain", strict, "https://a.cdn.example/a.png", Target{Host: "a.cdn.example", Port: 443}},
		{"public ipv4 literal", p, "http://8.8.8.8/a.png", Target{Host: "8.8.8.8", Port: 80, Addr: netip.MustParseAddr("8.8.8.8")}},
		{"public ipv6 literal", p, "https://[2606:4700::1111]/", Target{Host: "2606:4700::1111", Port: 443, Addr: netip.MustParseAddr("2606:4700::1111")}},
		{"query and fragment are ignored", strict, "https://images.example/a.png?token=secret#x", Target{Host: "images.example", Port: 443}},

		{"http without AllowHTTP", strict, "http://images.example/a.png", Target{}},
		{"ftp", p, "ftp://images.example/a.png", Target{}},
		{"file", p, "file:///etc/passwd", Target{}},
		{"gopher", p, "gopher://images.example:70/", Target{}},
		{"javascript", p, "javascript:alert(1)", Target{}},
		{"data", p, "data:image/png;base64,AAAA", Target{}},
		{"no scheme", p, "//images.example/a.png", Target{}},
		{"opaque", p, "http:images.example/a.png", Target{}},
		{"userinfo", p, "https://user:pass@images.example/a.png", Target{}},
		{"user only", p, "https://user@images.example/a.png", Target{}},
		{"empty userinfo", p, "https://@images.example/a.png", Target{}},
		{"no host", p, "https:///a.png", Target{}},
		{"host not allowed", strict, "https://evil.example/a.png", Target{}},
		{"wildcard base", strict, "https://cdn.example/a.png", Target{}},
		{"wildcard lookalike", strict, "https://evilcdn.example/a.png", Target{}},
		{"port not allowed", strict, "https://images.example:8443/a.png", Target{}},
		{"port zero", p, "https://images.example:0/a.png", Target{}},
		{"port too big", p, "https://images.example:65536/a.png", Target{}},
		{"loopback", p, "http://127.0.0.1/", Target{}},
		{"metadata", p, "http://169.254.169.254/latest/meta-data/", Target{}},
		{"private 10", p, "http://10.1.2.3/", Target{}},
		{"cgnat", p, "http://100.64.0.1/", Target{}},
		{"unspecified", p, "http://0.0.0.0/", Target{}},
		{"broadcast", p, "http://255.255.255.255/", Target{}},
		{"ipv6 loopback", p, "http://[::1]/", Target{}},
		{"ipv4-mapped loopback", p, "http://[::ffff:127.0.0.1]/", Target{}},
		{"ipv4-mapped loopback hex", p, "http://[::ffff:7f00:1]/", Target{}},
		{"ula", p, "http://[fd00::1]/", Target{}},
		{"nat64 loopback", p, "http://[64:ff9b::7f00:1]/", Target{}},
		{"zoned link-local", p, "http://[fe80::1%25eth0]/", Target{}},
		{"decimal", p, "http://2130706433/", Target{}},
		{"hex", p, "http://0x7f.1/", Target{}},
		{"hex whole", p, "http://0x7f000001/", Target{}},
		{"octal", p, "http://0177.0.0.1/", Target{}},
		{"short", p, "http://127.1/", Target{}},
		{"leading zeros of a public address", p, "http://008.008.008.008/", Target{}},
		{"decimal of a public address", p, "http://134744072/", Target{}},
		{"five parts", p, "http://1.2.3.4.5/", Target{}},
		{"name ending in a number", p, "http://images.123/", Target{}},
		{"name ending in hex", p, "http://images.0x1f/", Target{}},
		{"non-ascii", p, "http://ex\u00e4mple.example/", Target{}},
		{"underscore ok but space not", p, "http://a%20b.example/", Target{}},
		{"empty label", p, "http://a..example/", Target{}},
		{"label too long", p, "http://" + string(make63('a')) + "a.example/", Target{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := url.Parse(tc.url)
			if err != nil {
				require.Equal(t, Target{}, tc.want, "url.Parse refused an URL the test expects accepted")
				return
			}
			got, err := tc.policy.CheckURL(u)
			if tc.want == (Target{}) {
				require.Error(t, err)
				assert.True(t, IsRefusal(err))
				assert.NotContains(t, err.Error(), "secret")
				assert.NotContains(t, err.Error(), "pass")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func make63(c byte) []byte {
	b := make([]byte, 63)
	for i := range b {
		b[i] = c
	}
	return b
}

func TestNetguardRefusalNamesTheDenotedAddress(t *testing.T) {
	p := &Policy{AllowedHosts: []string{"*"}, AllowHTTP: true}
	for _, raw := range []string{"http://2130706433/", "http://0x7f.1/", "http://0177.0.0.1/", "http://127.1/"} {
		u, err := url.Parse(raw)
		require.NoError(t, err)
		_, err = p.CheckURL(u)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "127.0.0.1", raw)
	}
}

// fakeConn is what the test dial seam returns.
type fakeConn struct{ net.Conn }

// recorder is a dial seam that records the addresses dialled and runs the Control check.
type recorder struct {
	mu     sync.Mutex
	dialed []string
}

func (r *recorder) dial(_ context.Context, _, address string, control func(string, string, syscall.RawConn) error) (net.Conn, error) {
	r.mu.Lock()
	r.dialed = append(r.dialed, address)
	r.mu.Unlock()
	if control != nil {
		if err := control("tcp", address, nil); err != nil {
			return nil, err
		}
	}
	return fakeConn{}, nil
}

// sequence is a resolver that answers each call with the next answer, then the last one.
func sequence(answers ...[]netip.Addr) (lookup func(context.Context, string) ([]netip.Addr, error), calls *int) {
	var mu sync.Mutex
	n := 0
	return func(context.Context, string) ([]netip.Addr, error) {
		mu.Lock()
		defer mu.Unlock()
		i := min(n, len(answers)-1)
		n++
		return answers[i], nil
	}, &n
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, x := range s {
		out = append(out, netip.MustParseAddr(x))
	}
	return out
}

func TestNetguardDialerRebinding(t *testing.T) {
	// The resolver answers a public address first, then loopback: each connection is
	// checked against the answer it actually dials, and the name is resolved once per dial.
	lookup, calls := sequence(addrs("93.184.215.14"), addrs("127.0.0.1"))
	rec := &recorder{}
	d := &Dialer{Policy: &Policy{AllowedHosts: []string{"images.example"}}, LookupIP: lookup, dial: rec.dial}

	conn, err := d.DialContext(t.Context(), "tcp", "images.example:443")
	require.NoError(t, err)
	assert.NotNil(t, conn)
	_, err = d.DialContext(t.Context(), "tcp", "images.example:443")
	require.Error(t, err)
	assert.True(t, IsRefusal(err))
	assert.Contains(t, err.Error(), "127.0.0.1")

	assert.Equal(t, []string{"93.184.215.14:443"}, rec.dialed, "only the checked literal is dialled")
	assert.Equal(t, 2, *calls, "one lookup per connection")
}

func TestNetguardDialerChecksEveryCandidate(t *testing.T) {
	for _, answer := range [][]netip.Addr{
		addrs("93.184.215.14", "127.0.0.1"),
		addrs("127.0.0.1", "93.184.215.14"),
		addrs("2606:4700::1111", "::ffff:10.0.0.1"),
		addrs("93.184.215.14", "fe80::1%eth0"),
	} {
		lookup, _ := sequence(answer)
		rec := &recorder{}
		d := &Dialer{Policy: &Policy{AllowedHosts: []string{"*"}}, LookupIP: lookup, dial: rec.dial}
		_, err := d.DialContext(t.Context(), "tcp", "images.example:443")
		require.Error(t, err, "%v", answer)
		assert.True(t, IsRefusal(err))
		assert.Empty(t, rec.dialed, "nothing is dialled when any candidate is refused")
	}
}

func TestNetguardDialerRechecksHostAndPort(t *testing.T) {
	lookup, calls := sequence(addrs("93.184.215.14"))
	rec := &recorder{}
	d := &Dialer{Policy: &Policy{AllowedHosts: []string{"images.example"}, AllowedPorts: []int{443}}, LookupIP: lookup, dial: rec.dial}
	for _, addr := range []string{
		"evil.example:443",
		"images.example:80",
		"127.0.0.1:443",
		"2130706433:443",
		"[::1]:443",
		"images.example",
		"images.example:http",
	} {
		_, err := d.DialContext(t.Context(), "tcp", addr)
		require.Error(t, err, addr)
		assert.True(t, IsRefusal(err), addr)
	}
	_, err := d.DialContext(t.Context(), "udp", "images.example:443")
	require.Error(t, err)
	assert.Empty(t, rec.dialed)
	assert.Zero(t, *calls, "refused before any lookup")
}

func TestNetguardDialerLiteralIsNotResolved(t *testing.T) {
	lookup, calls := sequence(addrs("127.0.0.1"))
	rec := &recorder{}
	d := &Dialer{Policy: &Policy{AllowedHosts: []string{"*"}}, LookupIP: lookup, dial: rec.dial}
	_, err := d.DialContext(t.Context(), "tcp", "8.8.8.8:443")
	require.NoError(t, err)
	_, err = d.DialContext(t.Context(), "tcp", "[::ffff:8.8.8.8]:443")
	require.NoError(t, err)
	assert.Equal(t, []string{"8.8.8.8:443", "8.8.8.8:443"}, rec.dialed, "mapped addresses are dialled unmapped")
	assert.Zero(t, *calls)
}

func TestNetguardDialerLookupFailures(t *testing.T) {
	boom := errors.New("no such host")
	d := &Dialer{
		Policy:   &Policy{AllowedHosts: []string{"*"}},
		LookupIP: func(context.Context, string) ([]netip.Addr, error) { return nil, boom },
		dial:     (&recorder{}).dial,
	}
	_, err := d.DialContext(t.Context(), "tcp", "images.example:443")
	require.ErrorIs(t, err, boom)

	lookup, _ := sequence(nil)
	d.LookupIP = lookup
	_, err = d.DialContext(t.Context(), "tcp", "images.example:443")
	require.Error(t, err)
	assert.True(t, IsRefusal(err))
}

func TestNetguardControlRefusesDeniedRemote(t *testing.T) {
	d := &Dialer{Policy: &Policy{AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}}
	require.NoError(t, d.control("tcp4", "127.0.0.1:80", nil))
	require.NoError(t, d.control("tcp4", "8.8.8.8:443", nil))
	for _, addr := range []string{"127.0.0.2:80", "169.254.169.254:80", "[::1]:80", "[fd00::1]:443", "[::ffff:10.0.0.1]:80", "garbage"} {
		err := d.control("tcp", addr, nil)
		require.Error(t, err, addr)
		assert.True(t, IsRefusal(err), addr)
	}
}

func TestNetguardControlRunsOnRealDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	allow := &Policy{AllowedHosts: []string{"*"}, AllowedPorts: []int{port},
		AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	d := &Dialer{Policy: allow}
	conn, err := d.DialContext(t.Context(), "tcp", ln.Addr().String())
	require.NoError(t, err)
	require.NoError(t, conn.Close())

	// The real net.Dialer runs Control: a policy that passes the literal but refuses it at
	// Control time cannot happen through DialContext, so call the dial path directly.
	_, err = d.dialAddrs(t.Context(), "tcp", addrs("127.0.0.1"), port, func(string, string, syscall.RawConn) error {
		return refuse("refused by control")
	})
	require.Error(t, err)
	assert.True(t, IsRefusal(err))
}

func TestNetguardDialerProxyOnly(t *testing.T) {
	lookup, calls := sequence(addrs("10.0.0.5"))
	rec := &recorder{}
	d := &Dialer{Policy: &Policy{}, LookupIP: lookup, dial: rec.dial, Proxy: "Proxy.Internal:3128"}
	_, err := d.DialContext(t.Context(), "tcp", "proxy.internal:3128")
	require.NoError(t, err, "the configured proxy is exempt from the address rules")
	for _, addr := range []string{"proxy.internal:3129", "images.example:443", "10.0.0.5:3128"} {
		_, err := d.DialContext(t.Context(), "tcp", addr)
		require.Error(t, err, addr)
		assert.True(t, IsRefusal(err))
	}
	assert.Equal(t, []string{"10.0.0.5:3128"}, rec.dialed)
	assert.Equal(t, 1, *calls)
}
