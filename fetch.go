package fastimagecache

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/fastimagecache/fastimagecache/internal/netguard"
)

// Fetch defaults and fixed bounds.
const (
	defaultFetchTimeout = 10 * time.Second // FetchPolicy.Timeout 0
	defaultMaxRedirects = 3                // FetchPolicy.MaxRedirects 0
	fetchConnectTimeout = 5 * time.Second  // per connection attempt and TLS handshake, at most Timeout
	maxFetchURLBytes    = 8 << 10          // longer URLs are refused
	maxFetchHeaderBytes = 64 << 10         // response header bytes
)

// Fetch downloads the image at rawURL and ingests it through exactly the Put pipeline:
// same MaxBytes cutoff, same magic-byte detection, same header checks, same budgeted
// proving decode, same store, same logging (the log names the host, never the URL).
//
// Fetch is off unless the Cache was opened [WithFetch]; otherwise it returns an error
// wrapping ErrForbiddenURL and makes no request. When on, it is bounded as follows (see
// [FetchPolicy] for the knobs):
//
//   - The URL must be at most 8 KiB, https (http only with AllowHTTP), without userinfo,
//     with a host in AllowedHosts and a port in AllowedPorts (an empty list is the
//     default, 80 and 443). Non-ASCII host names are refused; use their punycode form. A
//     host that is an IP literal must be a canonical dotted quad or a bracketed IPv6
//     address; other spellings that resolvers read as IPv4 ("2130706433", "0x7f.1",
//     "0177.0.0.1", "127.1") are refused. A literal in a refused range is refused before
//     any request.
//   - Every connection resolves its host once (with LookupIP) and is refused if any of the
//     addresses is in a refused range: loopback, private (RFC 1918, ULA fc00::/7),
//     carrier-grade NAT, link-local (incl. 169.254.169.254), unspecified, multicast,
//     broadcast and reserved, documentation and benchmarking ranges, 192.0.0.0/24, any IPv6
//     outside 2000::/3, Teredo, IPv4-compatible and IPv4-translated IPv6, and IPv4-mapped,
//     NAT64 and 6to4 forms of a refused IPv4 address. It then dials the checked IP literal
//     (no second lookup), and checks the socket's remote address again just before
//     connecting, so DNS rebinding cannot reach a refused address. AllowedNetworks are
//     exceptions. With a Proxy, the only address dialled is the proxy's, which is exempt;
//     the proxy resolves the targets, so use one that enforces its own egress rules.
//   - At most MaxRedirects redirects (3 by default), each checked by every URL rule; a
//     redirect from https to http is refused, and no Referer is sent.
//   - The exchange, from the first dial to the last body byte, takes at most Timeout (10 s
//     by default); each connection attempt and TLS handshake at most 5 s. The proving
//     decode then runs under DecodeTimeout and ctx, as for Put.
//   - The request asks for Accept-Encoding: identity and the transport never decompresses.
//     A response with a Content-Length over MaxBytes fails at once with ErrTooLarge; a
//     body is read up to MaxBytes+1 bytes, like Put's input.
//
// Errors never contain the URL's path, query or userinfo. They wrap:
//
//   - ErrForbiddenURL: fetching not enabled; a URL, redirect, resolved address or dialled
//     address refused; too many redirects; a status other than 2xx, 404 or 410; and a
//     failed DNS lookup, connection, TLS handshake or body read (the original error stays
//     reachable with errors.As, its text does not).
//   - ErrNotFound: status 404 or 410.
//   - ErrUnsupportedFormat: a Content-Encoding other than identity (such a body is never
//     decoded, so no compression bomb can pass the byte limit), and anything Put refuses
//     as not an image (SVG included).
//   - context.DeadlineExceeded: Timeout or a connect, handshake or header timeout expired;
//     the caller's ctx errors as they are.
//   - Every sentinel Put returns (ErrTooLarge, ErrTypeMismatch: the response's
//     Content-Type is passed as DeclaredType, ErrDimensions, ErrCorrupt, ErrBusy, ...).
//
// Fetch is safe for concurrent use. Each call has its own HTTP client and closes its
// connections before it returns; nothing is shared between calls.
func (c *Cache) Fetch(ctx context.Context, rawURL string) (Info, error) {
	if err := c.enter(); err != nil {
		return Info{}, err
	}
	defer c.leave()
	start := time.Now()
	info, host, h, n, err := c.fetch(ctx, rawURL)
	if err != nil {
		c.logReject(ctx, "fetch", err,
			slog.String("host", host),
			slog.String("format", string(h.format)),
			slog.Int("width", h.width),
			slog.Int("height", h.height),
			slog.Int("frames", h.frames),
			slog.Int("bytes", n),
			slog.Duration("dur", time.Since(start)))
		return Info{}, err
	}
	return info, nil
}

// fetch does the work of Fetch. host is the URL's normalised host, for the log ("" when
// the URL has no valid host).
func (c *Cache) fetch(ctx context.Context, rawURL string) (info Info, host string, h header, n int, err error) {
	p := c.cfg.fetch
	if p == nil {
		return Info{}, "", header{}, 0, fmt.Errorf("fetching is not enabled: %w", ErrForbiddenURL)
	}
	if len(rawURL) > maxFetchURLBytes {
		return Info{}, "", header{}, 0, fmt.Errorf("fetch: URL longer than %d bytes: %w", maxFetchURLBytes, ErrForbiddenURL)
	}
	u, err := url.Parse(rawURL)
	if err != nil { // url.Error quotes the URL: never pass it on
		return Info{}, "", header{}, 0, fmt.Errorf("fetch: malformed URL: %w", ErrForbiddenURL)
	}
	if name, _, err := netguard.NormalizeHost(u.Hostname()); err == nil {
		host = name
	}
	guard := guardPolicy(p)
	if _, err := guard.CheckURL(u); err != nil {
		return Info{}, host, header{}, 0, refused(err)
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = defaultFetchTimeout
	}
	client, err := newFetchClient(p, guard, timeout)
	if err != nil {
		return Info{}, host, header{}, 0, err
	}
	defer client.CloseIdleConnections()

	fctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(fctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Info{}, host, header{}, 0, fmt.Errorf("fetch: malformed URL: %w", ErrForbiddenURL)
	}
	req.URL, req.Host = u, u.Host // exactly the URL that was checked
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("Accept", acceptHeader(c.lim.Formats))
	req.Header.Set("User-Agent", "fastimagecache")
	resp, err := client.Do(req)
	if err != nil {
		return Info{}, host, header{}, 0, fetchFailure(fctx, err)
	}
	defer resp.Body.Close()
	if err := checkResponse(resp, c.lim.MaxBytes); err != nil {
		return Info{}, host, header{}, 0, err
	}
	body := &fetchBody{ctx: fctx, r: resp.Body}
	info, h, n, err = c.put(ctx, body, putConfig{declared: resp.Header.Get("Content-Type"), hasDeclared: true})
	return info, host, h, n, err
}

// guardPolicy is the netguard form of p's URL and address rules.
func guardPolicy(p *FetchPolicy) *netguard.Policy {
	return &netguard.Policy{
		AllowedHosts:    p.AllowedHosts,
		AllowedPorts:    p.AllowedPorts,
		AllowHTTP:       p.AllowHTTP,
		AllowedNetworks: p.AllowedNetworks,
	}
}

// newFetchClient builds the client of one Fetch call: a transport that dials through the
// netguard Dialer, never reads proxy variables from the environment, never decompresses
// and keeps no connection, and a CheckRedirect that re-checks every hop.
func newFetchClient(p *FetchPolicy, guard *netguard.Policy, timeout time.Duration) (*http.Client, error) {
	connect := min(fetchConnectTimeout, timeout)
	d := &netguard.Dialer{Policy: guard, LookupIP: p.LookupIP, Timeout: connect}
	tr := &http.Transport{
		Proxy:                  nil, // never http.ProxyFromEnvironment
		DialContext:            d.DialContext,
		TLSClientConfig:        &tls.Config{RootCAs: p.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    connect,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: maxFetchHeaderBytes,
		DisableCompression:     true,
		DisableKeepAlives:      true,
	}
	if p.Proxy != nil {
		pu := *p.Proxy
		addr, err := proxyAddr(&pu)
		if err != nil {
			return nil, err
		}
		tr.Proxy = http.ProxyURL(&pu)
		d.Proxy = addr
	}
	maxRedirects := p.MaxRedirects
	switch {
	case maxRedirects == 0:
		maxRedirects = defaultMaxRedirects
	case maxRedirects < 0:
		maxRedirects = 0
	}
	return &http.Client{Transport: tr, CheckRedirect: checkRedirect(guard, maxRedirects)}, nil
}

// proxyAddr is the host:port the transport dials for proxy u.
func proxyAddr(u *url.URL) (string, error) {
	var port string
	switch u.Scheme {
	case "http":
		port = "80"
	case "https":
		port = "443"
	case "socks5", "socks5h":
		port = "1080"
	default:
		return "", fmt.Errorf("fetch: proxy scheme is not http, https or socks5: %w", ErrForbiddenURL)
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("fetch: proxy URL has no host: %w", ErrForbiddenURL)
	}
	if p := u.Port(); p != "" {
		port = p
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

// checkRedirect allows at most max redirects, refuses https to http, applies every URL
// rule to each hop, and drops the Referer the client would send (it carries the previous
// URL's query). The dial-time address checks apply to every hop through the transport.
func checkRedirect(guard *netguard.Policy, max int) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		req.Header.Del("Referer")
		if len(via) > max {
			if max == 0 {
				return fmt.Errorf("fetch: redirects are not allowed: %w", ErrForbiddenURL)
			}
			return fmt.Errorf("fetch: more than %d redirects: %w", max, ErrForbiddenURL)
		}
		if req.URL.Scheme != "https" {
			for _, v := range via {
				if v.URL.Scheme == "https" {
					return fmt.Errorf("fetch: redirect from https to %.16s: %w", req.URL.Scheme, ErrForbiddenURL)
				}
			}
		}
		if _, err := guard.CheckURL(req.URL); err != nil {
			return fmt.Errorf("fetch: redirect: %w: %w", err, ErrForbiddenURL)
		}
		return nil
	}
}

// acceptHeader lists the media types of the accepted input formats.
func acceptHeader(formats []Format) string {
	types := make([]string, 0, len(formats))
	for _, f := range formats {
		types = append(types, f.ContentType())
	}
	return strings.Join(types, ", ")
}

// checkResponse refuses a response before its body is read: a status other than 2xx, a
// Content-Encoding other than identity, a Content-Length over maxBytes.
func checkResponse(resp *http.Response, maxBytes int64) error {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
			return fmt.Errorf("fetch: status %d: %w", resp.StatusCode, ErrNotFound)
		}
		return fmt.Errorf("fetch: status %d: %w", resp.StatusCode, ErrForbiddenURL)
	}
	for _, v := range resp.Header.Values("Content-Encoding") {
		for enc := range strings.SplitSeq(v, ",") {
			if e := strings.TrimSpace(enc); e != "" && !strings.EqualFold(e, "identity") {
				return fmt.Errorf("fetch: response has a content encoding: %w", ErrUnsupportedFormat)
			}
		}
	}
	if resp.ContentLength > maxBytes {
		return fmt.Errorf("fetch: content length: %w",
			&LimitError{What: "bytes", Value: resp.ContentLength, Limit: maxBytes, err: ErrTooLarge})
	}
	return nil
}

// refused wraps a netguard refusal, whose text names the rule and never the URL.
func refused(err error) error {
	return fmt.Errorf("fetch: %w: %w", err, ErrForbiddenURL)
}

// fetchFailure maps an error from http.Client.Do. The *url.Error around it quotes the URL,
// and some inner errors quote a Location header, so only our own refusal texts and fixed
// descriptions reach the message.
func fetchFailure(fctx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, ErrForbiddenURL) { // from checkRedirect: our own text
		return err
	}
	var r *netguard.Refusal
	if errors.As(err, &r) {
		return refused(r)
	}
	if cerr := fctx.Err(); cerr != nil {
		return fmt.Errorf("fetch: %w", cerr)
	}
	return upstreamError(err)
}

// upstreamError describes a failed lookup, connection, handshake or read by a fixed text,
// wrapping context.DeadlineExceeded for timeouts and ErrForbiddenURL otherwise.
func upstreamError(err error) error {
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return &fetchError{desc: "timeout", sentinel: context.DeadlineExceeded, err: err}
	}
	return &fetchError{desc: describeNetErr(err), sentinel: ErrForbiddenURL, err: err}
}

func describeNetErr(err error) string {
	var (
		dnsErr      *net.DNSError
		certErr     *tls.CertificateVerificationError
		unknownAuth x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalidErr  x509.CertificateInvalidError
		recordErr   tls.RecordHeaderError
		alertErr    tls.AlertError
	)
	switch {
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "no such host"
		}
		return "name lookup failed"
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr), errors.As(err, &invalidErr):
		return "TLS certificate not trusted"
	case errors.As(err, &recordErr), errors.As(err, &alertErr):
		return "TLS handshake failed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed early"
	}
	return "request failed"
}

// A fetchError keeps a transport error reachable with errors.Is and errors.As while its
// text, which may quote a URL or a header, is replaced by a fixed description.
type fetchError struct {
	desc     string
	sentinel error
	err      error
}

func (e *fetchError) Error() string   { return "fetch: " + e.desc + ": " + e.sentinel.Error() }
func (e *fetchError) Unwrap() []error { return []error{e.sentinel, e.err} }

// fetchBody reads a response body. Once the fetch's context is done every Read fails with
// the context's error, so a body cut off by Timeout reads as context.DeadlineExceeded; any
// other read failure becomes a fetchError.
type fetchBody struct {
	ctx context.Context
	r   io.Reader
}

func (b *fetchBody) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		if cerr := b.ctx.Err(); cerr != nil {
			return n, cerr
		}
		return n, upstreamError(err)
	}
	return n, err
}
