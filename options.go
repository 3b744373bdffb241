package fastimagecache

import (
	"context"
	"crypto/x509"
	"log/slog"
	"net/netip"
	"net/url"
	"slices"
	"time"

	"gocloud.dev/blob"
)

// An Option configures a Cache at New. The configuration does not change after New.
type Option interface{ applyOption(*config) }

// A PutOption configures one call to Put.
type PutOption interface{ applyPut(*putConfig) }

type optionFunc func(*config)

func (f optionFunc) applyOption(c *config) { f(c) }

type putOptionFunc func(*putConfig)

func (f putOptionFunc) applyPut(p *putConfig) { f(p) }

// defaultMaxStoreBytes is the rendition quota when WithMaxStoreBytes is not given.
const defaultMaxStoreBytes = 1 << 30

// defaultMemoryBytes is the in-memory tier's size when WithMemoryCache is not given.
const defaultMemoryBytes = 64 << 20

// config is what the With* options fill in. Zero values mean the safe default.
type config struct {
	limits        Limits
	maxStoreBytes int64
	memoryBytes   int64
	logger        *slog.Logger
	fetch         *FetchPolicy
	storeFaults   func(op string) error // test seam: store.Options.Faults; nil in production
	isolation     *IsolationConfig      // WithIsolation; nil decodes in process
	eager         []Spec                // WithEagerRenditions
	runtimeLimit  bool                  // WithRuntimeMemoryLimit
	bucket        *blob.Bucket          // WithBucket; nil: local only
	bucketFaults  func(op string) error // test seam: blobstore.Options.Faults
	observer      Observer              // WithObserver; nil: none
}

func defaultConfig() config {
	return config{
		maxStoreBytes: defaultMaxStoreBytes,
		memoryBytes:   defaultMemoryBytes,
		logger:        slog.New(slog.DiscardHandler),
	}
}

// WithLimits sets the limits every decode runs under. Zero fields take the values of
// DefaultLimits; a negative field makes New fail.
func WithLimits(l Limits) Option {
	return optionFunc(func(c *config) { c.limits = l })
}

// WithMaxStoreBytes sets the quota, in bytes, for stored renditions; the least recently
// used are evicted to stay within it. Originals are never evicted. Zero keeps the default
// of 1 GiB; a negative value makes New fail.
func WithMaxStoreBytes(n int64) Option {
	return optionFunc(func(c *config) {
		if n != 0 {
			c.maxStoreBytes = n
		}
	})
}

// WithMemoryCache sets the bytes of recently used renditions (and originals' metadata)
// kept in memory in front of the disk, so that a hit costs microseconds. Renditions larger
// than an eighth of it are always read from disk. Zero keeps the default of 64 MiB; a
// negative value turns the tier off.
func WithMemoryCache(n int64) Option {
	return optionFunc(func(c *config) {
		if n != 0 {
			c.memoryBytes = n
		}
	})
}

// WithLogger sets the logger for rejected inputs (Info) and the Cache's own faults
// (Error). Logs never contain raw input bytes, file names or absolute paths. A nil logger
// discards, which is also the default; the global slog logger is never used.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		c.logger = l
	})
}

// withStoreFaults is a test seam: f is consulted before each step of a store write
// (see store.Options.Faults) and fails that step when it returns an error.
func withStoreFaults(f func(op string) error) Option {
	return optionFunc(func(c *config) { c.storeFaults = f })
}

// FetchPolicy says which URLs Fetch may load. Its zero value allows nothing.
type FetchPolicy struct {
	AllowedHosts    []string       // exact names or "*.suffix"; "*": any host that passes the IP rules; nil: none
	AllowedPorts    []int          // nil: 80 and 443
	AllowHTTP       bool           // plain http (https only by default)
	AllowedNetworks []netip.Prefix // explicit exceptions to the denied ranges (an intranet, a test server)
	MaxRedirects    int            // 0: 3; negative: none; each hop re-checked by every rule
	RootCAs         *x509.CertPool // nil: the system roots
	Proxy           *url.URL       // nil: direct; proxy environment variables are never read
	Timeout         time.Duration  // whole request; 0: 10 s
	// LookupIP resolves names (nil: the system resolver). The IP actually dialled is checked at
	// dial time, so a resolver that changes its answer (DNS rebinding) cannot reach a denied range.
	LookupIP func(ctx context.Context, host string) ([]netip.Addr, error)
}

// WithFetch enables Cache.Fetch under policy p. Without it, Fetch returns ErrForbiddenURL.
func WithFetch(p FetchPolicy) Option {
	return optionFunc(func(c *config) { c.fetch = &p })
}

// putConfig is what PutOptions fill in.
type putConfig struct {
	declared    string
	hasDeclared bool
}

// DeclaredType passes the client's Content-Type (a request's or a multipart part's
// header) to Put, which then requires it to agree with the format detected from the
// bytes, or fails with ErrTypeMismatch. Parameters such as "; charset=" are ignored. An
// empty value and "application/octet-stream" make no claim and are not checked.
func DeclaredType(contentType string) PutOption {
	return putOptionFunc(func(p *putConfig) {
		p.declared = contentType
		p.hasDeclared = true
	})
}

// WithEagerRenditions renders the renditions specs describe at every Put that stores new
// bytes, so that the first Get of each is already a hit (the demo server passes its
// presets). A rendition is rendered exactly as a Get would render it, byte for byte. Where
// its decode is the one Put makes anyway to prove the image sound (a JPEG that shrinks to
// 1/8 on load, and every other format), it is rendered from that same decode; any other is
// decoded once more, at its own scale. With WithIsolation, each is decoded in a worker on
// its own.
//
// An eager rendition never fails a Put: one that cannot be made for an image (a Spec the
// image cannot take, such as GIF output being refused for it, a full memory budget, a full
// disk, the Put's context ending) is skipped and logged, and a later Get renders it. A Spec
// outside the Limits makes New fail with ErrInvalidSpec.
func WithEagerRenditions(specs ...Spec) Option {
	specs = slices.Clone(specs)
	return optionFunc(func(c *config) { c.eager = specs })
}
