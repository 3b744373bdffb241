package fastimagecache

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// secretQuery is on every URL the tests fetch; no error may ever contain it.
const secretQuery = "?token=secret"

// counted wraps h so that every request that reaches the server is counted.
func counted(h http.Handler) (http.Handler, *atomic.Int64) {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h.ServeHTTP(w, r)
	}), &n
}

// startServer starts a plain HTTP server on addr ("" means httptest's 127.0.0.1:0) that
// counts its requests. It returns nil if addr cannot be bound.
func startServer(t *testing.T, addr string, h http.Handler) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	h, n := counted(h)
	srv := httptest.NewUnstartedServer(h)
	if addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			srv.Close()
			return nil, nil
		}
		_ = srv.Listener.Close()
		srv.Listener = ln
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, n
}

func portOf(srv *httptest.Server) int { return srv.Listener.Addr().(*net.TCPAddr).Port }

// serve answers every request with body and, if not empty, Content-Type ct.
func serve(body []byte, ct string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		_, _ = w.Write(body)
	})
}

// internalServer stands for a service that must never be reached: it answers with a valid
// image, so a request that got through would make the fetch succeed.
func internalServer(t *testing.T, addr string) (*httptest.Server, *atomic.Int64) {
	return startServer(t, addr, serve(fixture.PNG(8, 8), "image/png"))
}

// resolver is a LookupIP hook that maps names to addresses and counts its calls.
type resolver struct {
	calls   atomic.Int64
	answers map[string][]netip.Addr
	// next, when set, answers instead, given the call number (1, 2, ...).
	next func(call int64) []netip.Addr
}

func resolveTo(pairs ...string) *resolver {
	r := &resolver{answers: map[string][]netip.Addr{}}
	for i := 0; i+1 < len(pairs); i += 2 {
		r.answers[pairs[i]] = append(r.answers[pairs[i]], netip.MustParseAddr(pairs[i+1]))
	}
	return r
}

func (r *resolver) LookupIP(_ context.Context, host string) ([]netip.Addr, error) {
	n := r.calls.Add(1)
	if r.next != nil {
		return r.next(n), nil
	}
	if a, ok := r.answers[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

var loopback1 = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

// loopbackPolicy allows http://images.example:port, resolved to 127.0.0.1 by r, with
// 127.0.0.1 as an explicit exception.
func loopbackPolicy(r *resolver, ports ...int) FetchPolicy {
	return FetchPolicy{
		AllowedHosts:    []string{"images.example"},
		AllowedPorts:    ports,
		AllowHTTP:       true,
		AllowedNetworks: loopback1,
		LookupIP:        r.LookupIP,
	}
}

func imagesURL(port int, path string) string {
	return fmt.Sprintf("http://images.example:%d%s%s", port, path, secretQuery)
}

// fetchErr fetches u, requires an error wrapping want, and checks that the error text
// carries neither the query nor any userinfo.
func fetchErr(t *testing.T, c *Cache, u string, want error) error {
	t.Helper()
	_, err := c.Fetch(t.Context(), u)
	require.ErrorIs(t, err, want, "%s", u)
	assertNoSecrets(t, err.Error())
	return err
}

func assertNoSecrets(t *testing.T, s string) {
	t.Helper()
	for _, bad := range []string{"secret", "token", "pass@", "user:"} {
		assert.NotContains(t, s, bad)
	}
}

func TestFetchHappyPathIsThePutPipeline(t *testing.T) {
	img := fixture.PNG(40, 30)
	var mu sync.Mutex
	var gotAE, gotUA, gotAccept string
	srv, hits := startServer(t, "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gotAE, gotUA, gotAccept = r.Header.Get("Accept-Encoding"), r.UserAgent(), r.Header.Get("Accept")
		mu.Unlock()
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(img)
	}))
	r := resolveTo("images.example", "127.0.0.1")
	c := newTestCache(t, WithFetch(loopbackPolicy(r, portOf(srv))))

	info, err := c.Fetch(t.Context(), imagesURL(portOf(srv), "/a.png"))
	require.NoError(t, err)
	want := put(t, newTestCache(t), img, DeclaredType("image/png"))
	assert.Equal(t, want, info, "Fetch returns what a Put of the same bytes returns")
	stat, err := c.Stat(t.Context(), info.ID)
	require.NoError(t, err)
	assert.Equal(t, want, stat)

	assert.EqualValues(t, 1, hits.Load())
	assert.EqualValues(t, 1, r.calls.Load())
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, "identity", gotAE)
	assert.Equal(t, "fastimagecache", gotUA)
	assert.Equal(t, "image/jpeg, image/png, image/gif, image/webp, image/avif", gotAccept)
}

func TestFetchConcurrent(t *testing.T) {
	img := fixture.PNG(16, 16)
	srv, hits := startServer(t, "", serve(img, "image/png"))
	c := newTestCache(t, WithFetch(loopbackPolicy(resolveTo("images.example", "127.0.0.1"), portOf(srv))))
	const n = 8
	infos := make([]Info, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { infos[i], errs[i] = c.Fetch(t.Context(), imagesURL(portOf(srv), "/a.png")) })
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		assert.Equal(t, idOf(img), infos[i].ID)
	}
	assert.EqualValues(t, n, hits.Load())
}

func TestFetchIsOffWithoutWithFetch(t *testing.T) {
	srv, hits := internalServer(t, "")
	c := newTestCache(t)
	for _, u := range []string{
		srv.URL + "/a.png" + secretQuery,
		"http://169.254.169.254/latest/meta-data/" + secretQuery,
		"https://images.example/a.png" + secretQuery,
	} {
		// Refused for being off, before any URL rule, lookup or request: not by a rule
		// that a default policy would also apply.
		err := fetchErr(t, c, u, ErrForbiddenURL)
		assert.Contains(t, err.Error(), "fetching is not enabled")
	}
	assert.Zero(t, hits.Load())
}

func TestFetchClosed(t *testing.T) {
	c := newTestCache(t, WithFetch(FetchPolicy{AllowedHosts: []string{"*"}}))
	require.NoError(t, c.Close())
	_, err := c.Fetch(t.Context(), "https://images.example/a.png")
	require.ErrorIs(t, err, ErrClosed)
}

func TestFetchLoopbackRefusedAtDialTime(t *testing.T) {
	// The name is allowed and resolves to 127.0.0.1; without an exception the dial is refused.
	srv, hits := internalServer(t, "")
	r := resolveTo("images.example", "127.0.0.1")
	p := loopbackPolicy(r, portOf(srv))
	p.AllowedNetworks = nil
	c := newTestCache(t, WithFetch(p))
	err := fetchErr(t, c, imagesURL(portOf(srv), "/a.png"), ErrForbiddenURL)
	assert.Contains(t, err.Error(), "127.0.0.1")
	assert.Zero(t, hits.Load(), "no request reached the server")
	assert.EqualValues(t, 1, r.calls.Load(), "refused after the lookup, at dial time")
}

func TestFetchRefusesNamesResolvingToDeniedRanges(t *testing.T) {
	srv, hits := internalServer(t, "")
	port := portOf(srv)
	r := resolveTo(
		"loopback.example", "127.0.0.1",
		"loopback2.example", "127.0.0.2",
		"metadata.example", "169.254.169.254",
		"private.example", "10.0.0.1",
		"cgnat.example", "100.64.0.1",
		"v6loopback.example", "::1",
		"mapped.example", "::ffff:127.0.0.1",
		"ula.example", "fd00::1",
		"nat64.example", "64:ff9b::7f00:1",
		"sixtofour.example", "2002:7f00:1::1",
		"unspecified.example", "0.0.0.0",
		"unspecified6.example", "::",
		// One public and one loopback answer: every candidate is checked, none is dialled.
		"mixed.example", "93.184.215.14",
		"mixed.example", "127.0.0.1",
	)
	policy := FetchPolicy{
		AllowedHosts: []string{"*.example", "localhost"},
		AllowedPorts: []int{port},
		AllowHTTP:    true,
		LookupIP:     r.LookupIP,
	}
	c := newTestCache(t, WithFetch(policy))
	for name := range r.answers {
		t.Run(name, func(t *testing.T) {
			err := fetchErr(t, c, fmt.Sprintf("http://%s:%d/a.png%s", name, port, secretQuery), ErrForbiddenURL)
			assert.Contains(t, err.Error(), "refused range", "refused by the address rule")
		})
	}
	assert.EqualValues(t, len(r.answers), r.calls.Load())

	// The system resolver (LookupIP nil): localhost is refused at dial time too.
	policy.LookupIP = nil
	fetchErr(t, newTestCache(t, WithFetch(policy)), fmt.Sprintf("http://localhost:%d/a.png%s", port, secretQuery), ErrForbiddenURL)
	assert.Zero(t, hits.Load())
}

func TestFetchRefusesDeniedLiteralsBeforeAnyRequest(t *testing.T) {
	srv, hits := internalServer(t, "127.0.0.1:0")
	port := portOf(srv)
	// Where the host has IPv6 loopback, an internal server on [::1] of the same port too.
	_, hits6 := internalServer(t, net.JoinHostPort("::1", strconv.Itoa(port)))
	r := resolveTo()
	c := newTestCache(t, WithFetch(FetchPolicy{
		AllowedHosts: []string{"*"},
		AllowedPorts: []int{port},
		AllowHTTP:    true,
		LookupIP:     r.LookupIP,
	}))
	for _, host := range []string{
		"127.0.0.1",
		"127.0.0.2",
		"169.254.169.254",
		"[::1]",
		"[::ffff:127.0.0.1]",
		"[::ffff:7f00:1]",
		"2130706433",
		"0x7f.1",
		"0x7f000001",
		"0177.0.0.1",
		"127.1",
		"127.0.0.1.",
		"0.0.0.0",
		"[::]",
		"0",
		"10.0.0.1",
		"172.16.0.1",
		"192.168.0.1",
		"100.64.0.1",
		"192.0.0.1",
		"192.0.2.1",
		"198.18.0.1",
		"198.51.100.1",
		"203.0.113.1",
		"224.0.0.1",
		"240.0.0.1",
		"255.255.255.255",
		"[fd00::1]",
		"[fe80::1]",
		"[fe80::1%25lo]",
		"[ff02::1]",
		"[64:ff9b::7f00:1]",
		"[64:ff9b::a9fe:a9fe]",
		"[2002:7f00:1::1]",
		"[::7f00:1]",
		"[2001:db8::1]",
	} {
		t.Run(host, func(t *testing.T) {
			err := fetchErr(t, c, fmt.Sprintf("http://%s:%d/latest/meta-data/%s", host, port, secretQuery), ErrForbiddenURL)
			assert.Regexp(t, "refused range|non-canonical IPv4 literal|with a zone", err.Error(), "refused by an address rule")
		})
	}
	assert.Zero(t, hits.Load())
	if hits6 != nil {
		assert.Zero(t, hits6.Load())
	}
	assert.Zero(t, r.calls.Load(), "IP literals are never resolved")
}

func TestFetchURLRules(t *testing.T) {
	img := fixture.PNG(8, 8)
	srv, hits := startServer(t, "", serve(img, "image/png"))
	port := portOf(srv)
	r := resolveTo("a.example", "127.0.0.1", "a.b.example", "127.0.0.1", "example", "127.0.0.1",
		"evilexample", "127.0.0.1", "images.other", "127.0.0.1")
	policy := FetchPolicy{
		AllowedHosts:    []string{"*.example"},
		AllowedPorts:    []int{port},
		AllowHTTP:       true,
		AllowedNetworks: loopback1,
		LookupIP:        r.LookupIP,
	}
	c := newTestCache(t, WithFetch(policy))
	httpsOnly := policy
	httpsOnly.AllowHTTP = false
	cHTTPS := newTestCache(t, WithFetch(httpsOnly))

	// Allowed: "*.example" matches subdomains at any depth.
	for _, host := range []string{"a.example", "A.Example.", "a.b.example"} {
		_, err := c.Fetch(t.Context(), fmt.Sprintf("http://%s:%d/a.png%s", host, port, secretQuery))
		require.NoError(t, err, host)
	}
	require.EqualValues(t, 3, hits.Load())
	hits.Store(0)

	for _, tc := range []struct {
		name string
		c    *Cache
		url  string
	}{
		{"wildcard does not match its base", c, fmt.Sprintf("http://example:%d/a.png", port)},
		{"wildcard does not match a lookalike", c, fmt.Sprintf("http://evilexample:%d/a.png", port)},
		{"host not allowed", c, fmt.Sprintf("http://images.other:%d/a.png", port)},
		{"port not allowed", c, fmt.Sprintf("http://a.example:%d/a.png", port+1)},
		{"default port not allowed", c, "http://a.example/a.png"},
		{"http without AllowHTTP", cHTTPS, fmt.Sprintf("http://a.example:%d/a.png", port)},
		{"ftp", c, fmt.Sprintf("ftp://a.example:%d/a.png", port)},
		{"file", c, "file:///etc/passwd"},
		{"file with host", c, "file://a.example/etc/passwd"},
		{"gopher", c, fmt.Sprintf("gopher://a.example:%d/_GET", port)},
		{"javascript", c, "javascript:alert(document.cookie)//"},
		{"data", c, "data:image/png;base64,iVBORw0KGgo="},
		{"opaque http", c, "http:a.example/a.png"},
		{"relative", c, "/a.png"},
		{"empty", c, ""},
		{"userinfo", c, fmt.Sprintf("http://user:pass@a.example:%d/a.png", port)},
		{"user only", c, fmt.Sprintf("http://user@a.example:%d/a.png", port)},
		{"userinfo hiding the real host", c, fmt.Sprintf("http://a.example:%d@images.other:%d/a.png", port, port)},
		{"backslash trick", c, fmt.Sprintf("http://images.other\\@a.example:%d/a.png", port)},
		{"malformed", c, "http://a.example:%zz/a.png"},
		{"control character", c, "http://a.example/\x00a.png"},
		{"too long", c, "http://a.example/" + strings.Repeat("a", 9000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fetchErr(t, tc.c, tc.url+secretQuery, ErrForbiddenURL)
		})
	}
	assert.Zero(t, hits.Load())
	assert.EqualValues(t, 3, r.calls.Load(), "refused URLs are never resolved")
}

// listenSecondLoopback starts an internal server on 127.0.0.2, on port if it is not 0. It
// skips the test where 127.0.0.2 cannot be bound.
func listenSecondLoopback(t *testing.T, port int) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	srv, n := internalServer(t, net.JoinHostPort("127.0.0.2", strconv.Itoa(port)))
	if srv == nil {
		t.Skip("cannot bind 127.0.0.2 here")
	}
	return srv, n
}

func TestFetchRebindingBetweenConnections(t *testing.T) {
	// The name answers 127.0.0.1 (the allowed "public" server A) first, then 127.0.0.2 (an
	// internal server on the same port). A redirects to the same name; the second
	// connection resolves again, and its answer is checked at dial time.
	listenSecondLoopback(t, 0) // skips where 127.0.0.2 cannot be bound
	var srvA *httptest.Server
	var hitsA, internal *atomic.Int64
	for range 20 { // find a port free on both addresses
		srvA, hitsA = startServer(t, "127.0.0.1:0", http.RedirectHandler("/next", http.StatusFound))
		if _, internal = internalServer(t, net.JoinHostPort("127.0.0.2", strconv.Itoa(portOf(srvA)))); internal != nil {
			break
		}
	}
	require.NotNil(t, internal, "no port free on both 127.0.0.1 and 127.0.0.2")
	r := &resolver{next: func(call int64) []netip.Addr {
		if call == 1 {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}
		}
		return []netip.Addr{netip.MustParseAddr("127.0.0.2")}
	}}
	c := newTestCache(t, WithFetch(loopbackPolicy(r, portOf(srvA))))
	err := fetchErr(t, c, imagesURL(portOf(srvA), "/a.png"), ErrForbiddenURL)
	assert.Contains(t, err.Error(), "127.0.0.2")
	assert.EqualValues(t, 1, hitsA.Load())
	assert.Zero(t, internal.Load())
	assert.EqualValues(t, 2, r.calls.Load(), "one lookup per connection")
}

func TestFetchRedirectIntoDeniedRange(t *testing.T) {
	internal, hitsInternal := listenSecondLoopback(t, 0)
	ip := portOf(internal)
	targets := map[string]string{
		"/literal":  fmt.Sprintf("http://127.0.0.2:%d/", ip),
		"/name":     fmt.Sprintf("http://internal.example:%d/", ip),
		"/decimal":  fmt.Sprintf("http://2130706434:%d/", ip),
		"/metadata": fmt.Sprintf("http://169.254.169.254:%d/latest/meta-data/", ip),
		"/mapped":   fmt.Sprintf("http://[::ffff:127.0.0.2]:%d/", ip),
		"/userinfo": "", // set below: server A itself, so only the URL rule refuses it
		"/scheme":   "ftp://images.example/",
		"/file":     "file:///etc/passwd",
		"/host":     fmt.Sprintf("http://images.other:%d/", ip),
		"/port":     "http://images.example:22/",
	}
	img := fixture.PNG(8, 8)
	srvA, hitsA := startServer(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/image" { // reached only by a followed /userinfo redirect
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(img)
			return
		}
		http.Redirect(w, r, targets[r.URL.Path]+secretQuery, http.StatusFound)
	}))
	// Every other rule is also enforced when the connection is dialled; userinfo is
	// refused only by the redirect's own URL check (the client would send it as
	// an Authorization header to a reachable, allowed host).
	targets["/userinfo"] = fmt.Sprintf("http://user:pass@images.example:%d/image", portOf(srvA))
	r := resolveTo("images.example", "127.0.0.1", "internal.example", "127.0.0.2", "images.other", "127.0.0.2")
	c := newTestCache(t, WithFetch(FetchPolicy{
		AllowedHosts:    []string{"images.example", "internal.example", "*"},
		AllowedPorts:    []int{portOf(srvA), ip},
		AllowHTTP:       true,
		AllowedNetworks: loopback1, // server A only
		LookupIP:        r.LookupIP,
	}))
	c2 := newTestCache(t, WithFetch(FetchPolicy{
		AllowedHosts:    []string{"images.example"}, // images.other not allowed
		AllowedPorts:    []int{portOf(srvA), ip},
		AllowHTTP:       true,
		AllowedNetworks: loopback1,
		LookupIP:        r.LookupIP,
	}))
	for path := range targets {
		t.Run(path, func(t *testing.T) {
			cc := c
			if path == "/host" {
				cc = c2
			}
			fetchErr(t, cc, imagesURL(portOf(srvA), path), ErrForbiddenURL)
		})
	}
	assert.EqualValues(t, len(targets), hitsA.Load())
	assert.Zero(t, hitsInternal.Load())
}

func TestFetchRedirectLimit(t *testing.T) {
	img := fixture.PNG(8, 8)
	var mu sync.Mutex
	var referers []string
	// /r/N redirects to /r/N-1; /r/0 is the image.
	srv, hits := startServer(t, "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		referers = append(referers, r.Referer())
		mu.Unlock()
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
		if err != nil || n == 0 {
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(img)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/r/%d%s", n-1, secretQuery), http.StatusMovedPermanently)
	}))
	port := portOf(srv)
	for _, tc := range []struct {
		max       int
		redirects int
		ok        bool
	}{
		{0, 3, true}, // the default is 3
		{0, 4, false},
		{1, 1, true},
		{1, 2, false},
		{-1, 0, true}, // negative: none
		{-1, 1, false},
		{5, 5, true},
		{5, 6, false},
	} {
		t.Run(fmt.Sprintf("max %d, %d redirects", tc.max, tc.redirects), func(t *testing.T) {
			p := loopbackPolicy(resolveTo("images.example", "127.0.0.1"), port)
			p.MaxRedirects = tc.max
			c := newTestCache(t, WithFetch(p))
			hits.Store(0)
			u := imagesURL(port, fmt.Sprintf("/r/%d", tc.redirects))
			if tc.ok {
				_, err := c.Fetch(t.Context(), u)
				require.NoError(t, err)
				assert.EqualValues(t, tc.redirects+1, hits.Load())
				return
			}
			fetchErr(t, c, u, ErrForbiddenURL)
			limit := max(tc.max, 0)
			if tc.max == 0 {
				limit = 3
			}
			assert.EqualValues(t, limit+1, hits.Load(), "the refused hop is never requested")
		})
	}
	mu.Lock()
	defer mu.Unlock()
	for _, ref := range referers {
		assert.Empty(t, ref, "no Referer: it would carry the previous URL's query")
	}
}

// tlsPolicy trusts srv's certificate (valid for *.example.com) and maps images.example.com
// to 127.0.0.1.
func tlsPolicy(srv *httptest.Server, ports ...int) FetchPolicy {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return FetchPolicy{
		AllowedHosts:    []string{"images.example.com"},
		AllowedPorts:    ports,
		AllowHTTP:       true,
		AllowedNetworks: loopback1,
		RootCAs:         pool,
		LookupIP:        resolveTo("images.example.com", "127.0.0.1").LookupIP,
	}
}

func TestFetchHTTPS(t *testing.T) {
	img := fixture.PNG(12, 12)
	plain, plainHits := startServer(t, "", serve(img, "image/png"))
	h, tlsHits := counted(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/img":
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(img)
		case "/same-scheme":
			http.Redirect(w, r, "/img"+secretQuery, http.StatusFound)
		case "/downgrade":
			http.Redirect(w, r, fmt.Sprintf("http://images.example.com:%d/img%s", portOf(plain), secretQuery), http.StatusFound)
		}
	}))
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	tp := portOf(srv)
	c := newTestCache(t, WithFetch(tlsPolicy(srv, tp, portOf(plain))))
	url := func(path string) string {
		return fmt.Sprintf("https://images.example.com:%d%s%s", tp, path, secretQuery)
	}

	info, err := c.Fetch(t.Context(), url("/img"))
	require.NoError(t, err)
	assert.Equal(t, idOf(img), info.ID)
	_, err = c.Fetch(t.Context(), url("/same-scheme"))
	require.NoError(t, err)

	fetchErr(t, c, url("/downgrade"), ErrForbiddenURL)
	assert.Zero(t, plainHits.Load(), "https to http is refused before the request")
	assert.EqualValues(t, 4, tlsHits.Load())

	// Without RootCAs, the test certificate is not trusted.
	p := tlsPolicy(srv, tp)
	p.RootCAs = x509.NewCertPool()
	fetchErr(t, newTestCache(t, WithFetch(p)), url("/img"), ErrForbiddenURL)
}

func TestFetchOversize(t *testing.T) {
	img := fixture.PNG(64, 64)
	const hugeLength = 1 << 30
	srv, _ := startServer(t, "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		switch r.URL.Path {
		case "/length":
			w.Header().Set("Content-Length", strconv.Itoa(len(img)))
			_, _ = w.Write(img)
		case "/chunked": // no Content-Length: flush early
			_, _ = w.Write(img[:10])
			w.(http.Flusher).Flush()
			_, _ = w.Write(img[10:])
		case "/endless":
			w.(http.Flusher).Flush()
			writeForever(w, fixture.Endless(img))
		case "/declared-huge": // a Content-Length over MaxBytes, then a short body
			w.Header().Set("Content-Length", strconv.Itoa(hugeLength))
			_, _ = w.Write(img)
		}
	}))
	port := portOf(srv)
	for _, tc := range []struct {
		path     string
		maxBytes int64
		want     error
	}{
		{"/length", int64(len(img)), nil},
		{"/length", int64(len(img)) - 1, ErrTooLarge},
		{"/chunked", int64(len(img)), nil},
		{"/chunked", int64(len(img)) - 1, ErrTooLarge},
		{"/endless", 1 << 20, ErrTooLarge},
		// Refused from the header alone: the body is never read, so its shortness
		// never shows, and the error carries the declared length.
		{"/declared-huge", 1 << 20, ErrTooLarge},
	} {
		t.Run(fmt.Sprintf("%s max %d", tc.path, tc.maxBytes), func(t *testing.T) {
			c := newTestCache(t, WithLimits(Limits{MaxBytes: tc.maxBytes}),
				WithFetch(loopbackPolicy(resolveTo("images.example", "127.0.0.1"), port)))
			if tc.want == nil {
				info, err := c.Fetch(t.Context(), imagesURL(port, tc.path))
				require.NoError(t, err)
				assert.Equal(t, int64(len(img)), info.Size)
				return
			}
			err := fetchErr(t, c, imagesURL(port, tc.path), tc.want)
			var le *LimitError
			require.ErrorAs(t, err, &le)
			assert.Equal(t, tc.maxBytes, le.Limit)
			if tc.path == "/declared-huge" {
				assert.EqualValues(t, hugeLength, le.Value, "refused from the body, not from Content-Length")
			}
		})
	}
}

// writeForever copies r to w until the client goes away.
func writeForever(w io.Writer, r io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, _ := r.Read(buf)
		if _, err := w.Write(buf[:n]); err != nil {
			return
		}
	}
}

func TestFetchTimeout(t *testing.T) {
	release := make(chan struct{})
	srv, _ := startServer(t, "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/dribble" {
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(fixture.PNG(8, 8)[:1])
			w.(http.Flusher).Flush()
		}
		select { // no headers at all for /silent
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release) }) // runs before srv.Close, which waits for handlers
	port := portOf(srv)
	p := loopbackPolicy(resolveTo("images.example", "127.0.0.1"), port)
	p.Timeout = 300 * time.Millisecond
	c := newTestCache(t, WithFetch(p))
	for _, path := range []string{"/dribble", "/silent"} {
		t.Run(path, func(t *testing.T) {
			start := time.Now()
			err := fetchErr(t, c, imagesURL(port, path), context.DeadlineExceeded)
			assert.NotErrorIs(t, err, ErrCorrupt)
			assert.Less(t, time.Since(start), 5*time.Second)
		})
	}

	// The caller's own cancellation is reported as such.
	ctx, cancel := context.WithCancel(t.Context())
	srv2, _ := startServer(t, "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cancel()
		<-r.Context().Done()
	}))
	p2 := loopbackPolicy(resolveTo("images.example", "127.0.0.1"), portOf(srv2))
	_, err := newTestCache(t, WithFetch(p2)).Fetch(ctx, imagesURL(portOf(srv2), "/a.png"))
	require.ErrorIs(t, err, context.Canceled)
}

func TestFetchResponseChecks(t *testing.T) {
	png := fixture.PNG(8, 8)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(png)
	require.NoError(t, zw.Close())
	internal, hitsInternal := internalServer(t, "")
	svgToMetadata := fixture.SVG("http://169.254.169.254/latest/meta-data/")
	svgToInternal := fixture.SVG(internal.URL + "/latest/meta-data/")

	routes := map[string]struct {
		status  int
		headers map[string]string
		body    []byte
		want    error
	}{
		"/html-declared":  {200, map[string]string{"Content-Type": "text/html"}, png, ErrTypeMismatch},
		"/gif-declared":   {200, map[string]string{"Content-Type": "image/gif"}, png, ErrTypeMismatch},
		"/gzip":           {200, map[string]string{"Content-Type": "image/png", "Content-Encoding": "gzip"}, gz.Bytes(), ErrUnsupportedFormat},
		"/gzip-in-list":   {200, map[string]string{"Content-Type": "image/png", "Content-Encoding": "identity, br"}, png, ErrUnsupportedFormat},
		"/svg-metadata":   {200, map[string]string{"Content-Type": "image/svg+xml"}, svgToMetadata, ErrUnsupportedFormat},
		"/svg-internal":   {200, map[string]string{"Content-Type": "image/svg+xml"}, svgToInternal, ErrUnsupportedFormat},
		"/svg-undeclared": {200, nil, svgToMetadata, ErrUnsupportedFormat},
		"/html":           {200, map[string]string{"Content-Type": "text/html"}, fixture.HTML(), ErrUnsupportedFormat},
		"/404":            {404, nil, []byte("not here " + secretQuery), ErrNotFound},
		"/410":            {410, nil, nil, ErrNotFound},
		"/500":            {500, nil, []byte("boom " + secretQuery), ErrForbiddenURL},
		"/403":            {403, nil, nil, ErrForbiddenURL},
		"/304":            {304, nil, nil, ErrForbiddenURL},
		"/identity":       {200, map[string]string{"Content-Type": "image/png", "Content-Encoding": "identity"}, png, nil},
		"/no-type":        {200, nil, png, nil},
		"/octet":          {200, map[string]string{"Content-Type": "application/octet-stream"}, png, nil},
		"/png-charset":    {200, map[string]string{"Content-Type": "image/png; charset=binary"}, png, nil},
	}
	srv, _ := startServer(t, "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt := routes[r.URL.Path]
		for k, v := range rt.headers {
			w.Header().Set(k, v)
		}
		if rt.headers["Content-Type"] == "" {
			w.Header()["Content-Type"] = nil // no sniffing by the server either
		}
		w.WriteHeader(rt.status)
		_, _ = w.Write(rt.body)
	}))
	port := portOf(srv)
	c := newTestCache(t, WithFetch(loopbackPolicy(resolveTo("images.example", "127.0.0.1"), port)))
	for path, rt := range routes {
		t.Run(path, func(t *testing.T) {
			if rt.want == nil {
				info, err := c.Fetch(t.Context(), imagesURL(port, path))
				require.NoError(t, err)
				assert.Equal(t, idOf(png), info.ID)
				return
			}
			err := fetchErr(t, c, imagesURL(port, path), rt.want)
			assert.NotContains(t, err.Error(), "boom")
			assert.NotContains(t, err.Error(), "not here")
		})
	}
	assert.Zero(t, hitsInternal.Load(), "an SVG's href is never followed")
}

func TestFetchUpstreamFailures(t *testing.T) {
	// A closed port: connection refused. An unknown name: no such host. A server that
	// hangs up before answering.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedPort := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	hangup, _ := startServer(t, "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}))
	r := resolveTo("images.example", "127.0.0.1")
	c := newTestCache(t, WithFetch(loopbackPolicy(r, closedPort, portOf(hangup))))
	for _, u := range []string{
		imagesURL(closedPort, "/a.png"),
		fmt.Sprintf("http://images.example.:%d/a.png%s", closedPort, secretQuery),
		imagesURL(portOf(hangup), "/a.png"),
	} {
		fetchErr(t, c, u, ErrForbiddenURL)
	}
	p := loopbackPolicy(resolveTo(), closedPort)
	err = fetchErr(t, newTestCache(t, WithFetch(p)), imagesURL(closedPort, "/a.png"), ErrForbiddenURL)
	var dnsErr *net.DNSError
	assert.ErrorAs(t, err, &dnsErr, "the cause stays reachable")
	assert.Contains(t, err.Error(), "no such host")
}

func TestFetchThroughProxy(t *testing.T) {
	img := fixture.PNG(10, 10)
	var mu sync.Mutex
	var seen []string
	proxy, proxyHits := startServer(t, "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Host)
		mu.Unlock()
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(img)
	}))
	pu, err := url.Parse(proxy.URL)
	require.NoError(t, err)
	r := resolveTo()
	c := newTestCache(t, WithFetch(FetchPolicy{
		AllowedHosts: []string{"images.example", "*"},
		AllowHTTP:    true,
		Proxy:        pu, // on 127.0.0.1, not in AllowedNetworks: the configured proxy is exempt
		LookupIP:     r.LookupIP,
	}))
	info, err := c.Fetch(t.Context(), "http://images.example/a.png"+secretQuery)
	require.NoError(t, err)
	assert.Equal(t, idOf(img), info.ID)
	// URL rules still apply before anything is sent to the proxy.
	fetchErr(t, c, "http://169.254.169.254/latest/meta-data/"+secretQuery, ErrForbiddenURL)
	fetchErr(t, c, "http://2130706433/"+secretQuery, ErrForbiddenURL)
	fetchErr(t, c, "http://images.example:8080/"+secretQuery, ErrForbiddenURL)

	assert.EqualValues(t, 1, proxyHits.Load())
	assert.Zero(t, r.calls.Load(), "the proxy resolves targets")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"images.example"}, seen)

	bad := newTestCache(t, WithFetch(FetchPolicy{AllowedHosts: []string{"*"}, Proxy: &url.URL{Scheme: "ftp", Host: "p:1"}}))
	fetchErr(t, bad, "https://images.example/a.png"+secretQuery, ErrForbiddenURL)
}

func TestFetchTransportConfig(t *testing.T) {
	p := &FetchPolicy{AllowedHosts: []string{"*"}, RootCAs: x509.NewCertPool()}
	client, err := newFetchClient(p, guardPolicy(p), time.Second)
	require.NoError(t, err)
	tr := client.Transport.(*http.Transport)
	assert.Nil(t, tr.Proxy, "proxy environment variables are never read")
	assert.True(t, tr.DisableCompression)
	assert.True(t, tr.DisableKeepAlives)
	assert.Equal(t, uint16(tls.VersionTLS12), tr.TLSClientConfig.MinVersion)
	assert.Same(t, p.RootCAs, tr.TLSClientConfig.RootCAs)
	assert.Equal(t, time.Second, tr.TLSHandshakeTimeout, "connect timeouts never exceed Timeout")
	assert.NotNil(t, client.CheckRedirect)
	assert.Nil(t, client.Jar)

	p.Proxy = &url.URL{Scheme: "http", Host: "proxy.internal:3128"}
	client, err = newFetchClient(p, guardPolicy(p), time.Second)
	require.NoError(t, err)
	got, err := client.Transport.(*http.Transport).Proxy(&http.Request{URL: &url.URL{Scheme: "https", Host: "images.example"}})
	require.NoError(t, err)
	assert.Equal(t, "proxy.internal:3128", got.Host)
}

func TestFetchLogsHostOnly(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
	srv, _ := startServer(t, "", serve(fixture.PNG(8, 8), "text/html"))
	c := newTestCache(t, WithLogger(logger),
		WithFetch(loopbackPolicy(resolveTo("images.example", "127.0.0.1"), portOf(srv))))
	fetchErr(t, c, imagesURL(portOf(srv), "/private/path.png"), ErrTypeMismatch)
	fetchErr(t, c, "http://user:pass@images.example/private/path.png"+secretQuery, ErrForbiddenURL)
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	assert.Contains(t, out, `"op":"fetch"`)
	assert.Contains(t, out, `"host":"images.example"`)
	assert.Contains(t, out, `"reason":"type_mismatch"`)
	assert.Contains(t, out, `"reason":"forbidden_url"`)
	assertNoSecrets(t, out)
	assert.NotContains(t, out, "private")
}
