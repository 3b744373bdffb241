// Package fastimagecache ingests images from people nobody trusts, proves they are what
// they claim, decodes them under hard budgets, resizes them, and serves the renditions
// from a content-addressed cache.
//
// # Use
//
// Open a [Cache] on a directory with [New], ingest untrusted bytes with [Cache.Put] (the
// returned [ID] is the SHA-256 of the bytes), and read resized renditions with [Cache.Get].
// Every byte that Get returns was produced by this package's own encoder: originals,
// metadata and anything appended to a file are never served.
//
// # Defaults
//
// Every zero field of [Limits] takes its value from [DefaultLimits]: 32 MiB of input,
// 16384×16384 and 50,000,000 pixels per frame, 100 frames and 200,000,000 pixels per
// animation, a 10 s decode timeout, a 1 GiB memory budget for decodes in flight, 64 decodes
// queued for that budget, and the input formats JPEG, PNG, GIF, WebP and AVIF (BMP, TIFF and,
// in builds with the heic tag, HEIC must be asked for). Renditions are kept within 1 GiB of
// disk by default ([WithMaxStoreBytes]).
//
// # What it defends against
//
//   - Disguised files: the format comes from magic bytes only, and a declared Content-Type
//     ([DeclaredType]) must agree with it. SVG is never accepted.
//   - Decompression and pixel bombs: dimensions, frame counts, JPEG scan counts and TIFF
//     strip/tile counts are read from headers and checked before any pixel buffer exists.
//   - Memory exhaustion: each decode reserves its estimated memory from a budget shared by
//     the whole Cache; decodes wait for room (bounded queue) or fail, never overcommit.
//   - CPU exhaustion: every decode runs under a deadline and stops at its next read once its
//     context is done.
//   - Decoder panics: recovered into [ErrCorrupt].
//   - Path tricks: files are named by hex digests only, under an [os.Root].
//   - Polyglots and metadata: renditions are re-encoded; EXIF is read only for orientation,
//     by a bounds-checked reader, and stripped.
//
// Every failure wraps one of the exported sentinel errors; test with [errors.Is].
package fastimagecache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/fastimagecache/fastimagecache/internal/lru"
)

// Errors. Every failure returned by this package wraps one of these; test with errors.Is.
// A deadline also satisfies errors.Is(err, context.DeadlineExceeded) and never matches
// ErrCorrupt.
var (
	// ErrTooLarge is returned when the input has more bytes than Limits.MaxBytes.
	ErrTooLarge = errors.New("fastimagecache: input too large")
	// ErrDimensions is returned when width, height, pixels, frames, scans, tiles or the
	// memory a decode needs are over the limits, or a size is zero or negative.
	ErrDimensions = errors.New("fastimagecache: image dimensions out of bounds")
	// ErrUnsupportedFormat is returned when the magic bytes are not an accepted image format.
	ErrUnsupportedFormat = errors.New("fastimagecache: unsupported format")
	// ErrTypeMismatch is returned when the declared Content-Type disagrees with the bytes.
	ErrTypeMismatch = errors.New("fastimagecache: declared type does not match content")
	// ErrCorrupt is returned when a decoder rejects the data (including a recovered decoder
	// panic), or when stored bytes no longer match their digest.
	ErrCorrupt = errors.New("fastimagecache: corrupt image")
	// ErrNotFound is returned when no image is stored under an ID.
	ErrNotFound = errors.New("fastimagecache: not found")
	// ErrInvalidSpec is returned for a Spec outside its limits, or an ID that is not 64
	// lowercase hex characters.
	ErrInvalidSpec = errors.New("fastimagecache: invalid spec")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("fastimagecache: cache closed")
	// ErrForbiddenURL is returned when Fetch refuses a URL, a redirect, or the address it
	// resolved to, and when fetching is not enabled.
	ErrForbiddenURL = errors.New("fastimagecache: forbidden URL")
	// ErrBusy is returned when too many decodes are already waiting for memory budget;
	// retry later. Cache hits never wait.
	ErrBusy = errors.New("fastimagecache: busy")
	// ErrStorage is returned when the store itself fails (disk full, I/O error). The
	// message never contains the store's absolute path.
	ErrStorage = errors.New("fastimagecache: storage failure")
	// ErrLocked is returned by New when another Cache, in this process or another, has
	// the directory open. It is released by that Cache's Close or by its process's death.
	ErrLocked = errors.New("fastimagecache: directory in use by another Cache")
)

// ID names a stored original: the SHA-256 of its bytes as 64 lowercase hex characters.
type ID string

// ParseID returns s as an ID if it is exactly 64 lowercase hex characters, and an error
// wrapping ErrInvalidSpec otherwise. It never echoes s in the error.
func ParseID(s string) (ID, error) {
	if !isHexDigest(s) {
		return "", fmt.Errorf("id is not 64 lowercase hex characters: %w", ErrInvalidSpec)
	}
	return ID(s), nil
}

func isHexDigest(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func idOf(data []byte) ID {
	sum := sha256.Sum256(data)
	return ID(hex.EncodeToString(sum[:]))
}

// short is the form of an ID used in logs and errors.
func (id ID) short() string {
	if len(id) > 12 {
		return string(id[:12])
	}
	return string(id)
}

// Format is an image format, as detected from magic bytes.
type Format string

// The formats the package knows. Input formats are limited by Limits.Formats; output
// formats are JPEG, PNG, GIF, WebP and AVIF.
const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
	GIF  Format = "gif"
	WebP Format = "webp"
	AVIF Format = "avif"
	BMP  Format = "bmp"
	TIFF Format = "tiff"
	// HEIC is an input format only, and only in builds with the heic tag (its
	// decoder, libheif with libde265, is LGPL).
	HEIC Format = "heic"
	// Auto, as a preset's or a signed spec's Format in the Handler, picks the output per
	// request from the client's Accept header (AVIF, then WebP, then the source's own
	// default) and the response carries Vary: Accept. Cache.Get resolves it with the
	// accept string given by GetAccept.
	Auto Format = "auto"
)

// known reports whether f is a concrete image format (Auto is not one).
func (f Format) known() bool {
	switch f {
	case JPEG, PNG, GIF, WebP, AVIF, BMP, TIFF, HEIC:
		return true
	}
	return false
}

// ContentType returns the format's media type, such as "image/jpeg".
func (f Format) ContentType() string {
	if f == "" {
		return "application/octet-stream"
	}
	return "image/" + string(f)
}

// Info describes a stored original.
type Info struct {
	ID     ID
	Format Format // detected from magic bytes, never from a name or header
	Width  int
	Height int
	Frames int   // 1 for still images
	Size   int64 // bytes of the original
	// OrientedWidth and OrientedHeight are the size once EXIF orientation is applied:
	// Width and Height, swapped for the orientations that turn the image a quarter.
	// Renditions, and the fractions of a focal point, are in this frame.
	OrientedWidth, OrientedHeight int
	// Placeholder is a ThumbHash (github.com/evanw/thumbhash) of the oriented image in
	// standard base64, about 30 characters, from which a page paints a blurred preview
	// before a rendition arrives; Color is the image's average colour as "#rrggbb". Put
	// computes both from its proving decode (in the decode worker under WithIsolation),
	// from a copy of at most 100×100 pixels. Images stored before they existed, or whose
	// metadata was rebuilt from the original, and a transparent image's Color, have "".
	Placeholder string
	Color       string
}

// A Rendition is an open, seekable stream of encoded bytes plus what an HTTP response
// needs. The caller must Close it.
type Rendition struct {
	io.ReadSeekCloser
	ContentType string // e.g. "image/jpeg"
	ETag        string // strong, derived from the SHA-256 of the rendition's bytes
	Size        int64
	Width       int
	Height      int
	ModTime     time.Time
	// Format is the format served: the Spec's own, or what Auto or "" resolved to
	// (ContentType is its media type).
	Format Format
}

// Cache is a content-addressed image cache on one directory. It is safe for concurrent
// use by many goroutines. Only one Cache uses a directory at a time: New takes an
// exclusive lock on it (flock(2) on the file "lock" inside it, on Linux, macOS and the
// BSDs) and fails with ErrLocked while another Cache, in this process or another, holds
// it; Close or the death of the process releases it. Elsewhere (Windows) nothing enforces
// this, and two Caches on one directory must be avoided by the caller.
type Cache struct {
	cfg config
	// codecErr is codec.Check's verdict at New: non-nil makes the WebAssembly codecs'
	// formats unavailable (codecs.go).
	codecErr error
	lim      Limits
	log      *slog.Logger
	store    storage
	budget   *budget
	group    singleflight.Group
	hooks    hooks
	now      func() time.Time
	count    counters
	hot      *lru.Cache[*renderResult] // rendition key → encoded rendition
	metas    *lru.Cache[originalMeta]  // ID → metadata
	// deletes counts Deletes and Purges, so a metadata read racing one is not cached (see
	// loadMeta).
	deletes atomic.Int64
	// jobs counts the decode and render jobs running now (runHeld), so that one job
	// uses idle cores only while there are some (spareCores).
	jobs atomic.Int32
	iso  *isolator // decode worker processes (WithIsolation); nil: decode in process

	// mu guards closed and calls.
	mu     sync.RWMutex
	closed bool
	calls  sync.WaitGroup
}

// hooks are test seams; all nil in production.
type hooks struct {
	// decodeStart runs in the decode goroutine, after the budget is reserved and before the
	// decoder starts, with the decode's context.
	decodeStart func(ctx context.Context)
	// getMiss runs when a Get misses the store, before it joins the shared render.
	getMiss func()
	// eagerRender runs in a Put's decode goroutine, after the proof and before each eager
	// rendition rendered from its pixels, with the decode's context.
	eagerRender func(ctx context.Context)
	// metaRebuild runs when a read of metadata that must be rebuilt is about to join
	// the shared rebuild.
	metaRebuild func()
	// noStage makes Put store after the proof even on a storage that can stage.
	noStage bool
}

// New opens the cache stored in dir, creating dir if it is missing; an existing store is
// reopened with all its entries, and temporary files left by a crash are removed. Options
// are validated once: a negative limit is an error. New fails at once with an error
// wrapping ErrLocked while another Cache has dir open (see Cache).
func New(dir string, opts ...Option) (*Cache, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o.applyOption(&cfg)
	}
	lim, err := cfg.limits.withDefaults()
	if err != nil {
		return nil, err
	}
	for _, s := range cfg.eager {
		if _, err := s.negotiate("", Info{Format: JPEG, Frames: 1}).canonical(lim, Info{Format: JPEG}, false); err != nil {
			return nil, fmt.Errorf("fastimagecache: eager rendition: %w", err)
		}
	}
	if cfg.maxStoreBytes < 0 {
		return nil, fmt.Errorf("fastimagecache: negative store quota %d", cfg.maxStoreBytes)
	}
	var st storage
	if cfg.bucket != nil {
		st, err = openBucketStore(dir, cfg, lim)
	} else {
		st, err = openDiskStore(dir, cfg)
	}
	if err != nil {
		return nil, err
	}
	iso, err := startIsolation(cfg, lim)
	if err != nil {
		_ = st.Close() // already failing: the isolation error is the one to report
		return nil, err
	}
	applyRuntimeMemoryLimit(cfg, lim) // New cannot fail from here on
	c := &Cache{
		iso:    iso,
		cfg:    cfg,
		lim:    lim,
		log:    cfg.logger,
		store:  st,
		budget: newBudget(lim.MemoryBudget, lim.MaxQueue),
		now:    time.Now,
		hot:    lru.New[*renderResult](cfg.memoryBytes),
		metas:  lru.New[originalMeta](min(cfg.memoryBytes/8, 4<<20)), // up to 4 MiB of metadata
	}
	c.checkCodecs()
	return c, nil
}

// Limits returns the limits in force, with defaults filled in.
func (c *Cache) Limits() Limits {
	l := c.lim
	l.Formats = append([]Format(nil), l.Formats...)
	return l
}

// Close waits for calls in progress to finish, with the shared renders they started (a
// Get's render goes on after its caller stops waiting, and Close waits for it too, queued
// for budget or not), then closes the store and releases the directory's lock. Decodes
// abandoned by callers whose context ended still hold budget, and end within DecodeTimeout;
// Close waits for them too, so nothing touches the store after Close returns. Later calls
// return ErrClosed. Close is idempotent.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	defer releaseRuntimeMemoryLimit(c.cfg, c.lim)
	c.calls.Wait()
	c.iso.close() // kills the workers of abandoned decodes, so these end at once
	// Decodes abandoned by callers whose context ended still hold budget; they end within
	// DecodeTimeout. Wait for them so no goroutine touches the store after Close.
	ctx, cancel := context.WithTimeout(context.Background(), c.lim.DecodeTimeout+time.Second)
	defer cancel()
	_ = c.budget.waitIdle(ctx)
	if err := c.store.Close(); err != nil {
		return fmt.Errorf("close store: %w: %w", ErrStorage, err)
	}
	return nil
}

// enter registers a call; it fails once the Cache is closed.
func (c *Cache) enter() error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	c.calls.Add(1)
	return nil
}

func (c *Cache) leave() { c.calls.Done() }

// Stat returns the Info of a stored original, or an error wrapping ErrNotFound.
func (c *Cache) Stat(ctx context.Context, id ID) (Info, error) {
	if err := c.enter(); err != nil {
		return Info{}, err
	}
	defer c.leave()
	if _, err := ParseID(string(id)); err != nil {
		return Info{}, err
	}
	m, err := c.loadMeta(ctx, id)
	if err != nil {
		return Info{}, err
	}
	return m.info(id), nil
}

// Delete removes a stored original and all its renditions. It returns an error wrapping
// ErrNotFound when there is no such ID.
func (c *Cache) Delete(ctx context.Context, id ID) error {
	if err := c.enter(); err != nil {
		return err
	}
	defer c.leave()
	if _, err := ParseID(string(id)); err != nil {
		return err
	}
	c.deletes.Add(1)
	c.hot.RemoveOwner(string(id))
	c.metas.RemoveOwner(string(id))
	err := c.store.Delete(ctx, string(id))
	// A Get racing with Delete may have cached the ID again; drop it once more.
	c.hot.RemoveOwner(string(id))
	c.metas.RemoveOwner(string(id))
	if err != nil {
		return storeErr("delete "+id.short(), err)
	}
	return nil
}

// Purge removes every rendition of a stored image and keeps the original and its
// metadata: the next Get of any Spec renders again from the original (after an encoder
// upgrade, say). It drops the renditions from the memory tier, the local disk and, with
// WithBucket, from the bucket, and records the Purge in the image's metadata, so that
// every other node sharing the bucket misses what it still holds in its own tiers (left
// there for their quotas to evict). A Get rendering while Purge runs may store its
// rendition after it. Purge returns an error wrapping ErrNotFound when there is no such
// ID (also when another node deletes it during the Purge: no metadata outlives its
// original), ErrInvalidSpec for a malformed one, and ErrStorage (or the context's error) when
// the store fails; a Purge that failed part way may be retried.
func (c *Cache) Purge(ctx context.Context, id ID) error {
	if err := c.enter(); err != nil {
		return err
	}
	defer c.leave()
	if _, err := ParseID(string(id)); err != nil {
		return err
	}
	m, err := c.readMeta(ctx, id) // the store's, not the memory tier's
	if err != nil {
		return err
	}
	m.Purges++
	raw, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode metadata: %w: %w", ErrStorage, err)
	}
	c.deletes.Add(1) // a metadata read racing this one is not cached (see loadMeta)
	if err := c.store.ReplaceMeta(ctx, string(id), raw); err != nil {
		return storeErr("purge "+id.short(), err)
	}
	c.deletes.Add(1) // and one that read the old metadata meanwhile
	c.metas.RemoveOwner(string(id))
	c.hot.RemoveOwner(string(id))
	if err := c.store.DropRenditions(ctx, string(id)); err != nil {
		return storeErr("purge "+id.short(), err)
	}
	c.hot.RemoveOwner(string(id))
	return nil
}

// logReject records a rejected input at Info with a stable reason code.
func (c *Cache) logReject(ctx context.Context, op string, err error, attrs ...slog.Attr) {
	level := slog.LevelInfo
	reason := reasonOf(err)
	if reason == "storage" || reason == "internal" {
		level = slog.LevelError
	}
	c.count.reject(reason)
	attrs = append(attrs, slog.String("op", op), slog.String("reason", reason))
	c.log.LogAttrs(ctx, level, "image rejected", attrs...)
}

// reasonOf names the sentinel an error wraps, for logs and metrics.
func reasonOf(err error) string {
	var he *httpError
	switch {
	case errors.As(err, &he): // the handler's own verdict, such as an unreadable upload body
		return he.code
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, ErrTooLarge):
		return "too_large"
	case errors.Is(err, ErrUnsupportedFormat):
		return "unsupported_format"
	case errors.Is(err, ErrTypeMismatch):
		return "type_mismatch"
	case errors.Is(err, ErrDimensions):
		return "dimensions"
	case errors.Is(err, ErrCorrupt):
		return "corrupt"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrInvalidSpec):
		return "invalid_spec"
	case errors.Is(err, ErrBusy):
		return "busy"
	case errors.Is(err, ErrClosed):
		return "closed"
	case errors.Is(err, ErrForbiddenURL):
		return "forbidden_url"
	case errors.Is(err, ErrLocked):
		return "locked"
	case errors.Is(err, ErrStorage):
		return "storage"
	}
	return "internal"
}
