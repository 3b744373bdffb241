package fastimagecache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/fastimagecache/fastimagecache/internal/codec"
)

// Limits bound every decode. A zero field takes the value of the same field in
// [DefaultLimits]: zero never means "unlimited". A negative field is an error at [New].
type Limits struct {
	// MaxBytes is the largest encoded input accepted, in bytes. Default 32 MiB.
	MaxBytes int64
	// MaxWidth and MaxHeight bound each frame's declared size, in pixels. Default 16384 each.
	MaxWidth  int
	MaxHeight int
	// MaxPixels bounds width*height of one frame. Default 50,000,000.
	MaxPixels int64
	// MaxFrames bounds the frames of an animation. Default 100.
	MaxFrames int
	// MaxTotalPixels bounds the sum of width*height over all frames of an animation.
	// Default 200,000,000.
	MaxTotalPixels int64
	// DecodeTimeout bounds one decode (and the resize and encode that follow it), on top of
	// the caller's context. Default 10 s.
	DecodeTimeout time.Duration
	// MemoryBudget is the number of bytes of decoded pixels (and resize buffers) that may be
	// in flight at once across the whole Cache. A decode that would need more than the whole
	// budget fails at once with ErrDimensions; others wait for room. Default 1 GiB.
	MemoryBudget int64
	// MaxQueue is the number of decodes that may wait for budget at once; beyond it a call
	// fails at once with ErrBusy. Default 64.
	MaxQueue int
	// Formats lists the accepted input formats. Default JPEG, PNG, GIF, WebP and AVIF;
	// BMP, TIFF and HEIC must be asked for, and HEIC only in a build with the heic tag
	// (New fails naming HEIC in a build without it).
	Formats []Format
}

// Fixed bounds that are not worth a knob. They are far above what any real file needs.
const (
	// maxJPEGScans bounds the scans of a progressive JPEG. libjpeg's encoders write about
	// ten; each scan is a full pass over the image, so thousands of tiny scans are a CPU bomb.
	maxJPEGScans = 100
	// maxTIFFBlocks bounds the strips or tiles of a TIFF (CVE-2023-29407/29408 shapes).
	maxTIFFBlocks = 1 << 16
	// maxTIFFIFDs bounds the IFD chain walked in a TIFF.
	maxTIFFIFDs = 64
	// decodeOverhead is added to every reservation for decoder tables and small buffers.
	decodeOverhead = 1 << 20
)

// DefaultLimits returns the limits used for every zero field of the Limits given to
// [WithLimits]: 32 MiB input, 16384×16384 and 50,000,000 pixels per frame, 100 frames and
// 200,000,000 pixels per animation, a 10 s decode timeout, a 1 GiB memory budget, 64
// queued decodes, and the formats JPEG, PNG, GIF, WebP and AVIF.
func DefaultLimits() Limits {
	return Limits{
		MaxBytes:       32 << 20,
		MaxWidth:       16384,
		MaxHeight:      16384,
		MaxPixels:      50_000_000,
		MaxFrames:      100,
		MaxTotalPixels: 200_000_000,
		DecodeTimeout:  10 * time.Second,
		MemoryBudget:   1 << 30,
		MaxQueue:       64,
		Formats:        []Format{JPEG, PNG, GIF, WebP, AVIF},
	}
}

// withDefaults fills zero fields from DefaultLimits and rejects negative ones.
func (l Limits) withDefaults() (Limits, error) {
	d := DefaultLimits()
	if l.MaxBytes < 0 || l.MaxWidth < 0 || l.MaxHeight < 0 || l.MaxPixels < 0 || l.MaxFrames < 0 ||
		l.MaxTotalPixels < 0 || l.DecodeTimeout < 0 || l.MemoryBudget < 0 || l.MaxQueue < 0 {
		return Limits{}, fmt.Errorf("fastimagecache: negative limit in %+v", l)
	}
	setDefault(&l.MaxBytes, d.MaxBytes)
	setDefault(&l.MaxWidth, d.MaxWidth)
	setDefault(&l.MaxHeight, d.MaxHeight)
	setDefault(&l.MaxPixels, d.MaxPixels)
	setDefault(&l.MaxFrames, d.MaxFrames)
	setDefault(&l.MaxTotalPixels, d.MaxTotalPixels)
	setDefault(&l.DecodeTimeout, d.DecodeTimeout)
	setDefault(&l.MemoryBudget, d.MemoryBudget)
	setDefault(&l.MaxQueue, d.MaxQueue)
	if len(l.Formats) == 0 {
		l.Formats = d.Formats
	}
	l.Formats = slices.Clone(l.Formats)
	for _, f := range l.Formats {
		if !f.known() {
			return Limits{}, fmt.Errorf("fastimagecache: unknown format %q in Limits.Formats", string(f))
		}
		if f == HEIC && !codec.HEIC {
			return Limits{}, errors.New("fastimagecache: HEIC in Limits.Formats needs a build with -tags heic (its decoder, libheif with libde265, is LGPL and left out of default builds)")
		}
	}
	return l, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// accepts reports whether f is one of the accepted input formats.
func (l Limits) accepts(f Format) bool { return slices.Contains(l.Formats, f) }

// checkFrame rejects a frame size from its header alone, before any pixel buffer exists.
func (l Limits) checkFrame(w, h int) error {
	if w <= 0 || h <= 0 {
		return &LimitError{What: "size", Width: w, Height: h, err: ErrDimensions}
	}
	if w > l.MaxWidth || h > l.MaxHeight {
		return &LimitError{What: "size", Width: w, Height: h, Limit: int64(max(l.MaxWidth, l.MaxHeight)), err: ErrDimensions}
	}
	if int64(w) > math.MaxInt64/int64(h) || int64(w)*int64(h) > l.MaxPixels {
		return &LimitError{What: "pixels", Width: w, Height: h, Limit: l.MaxPixels, err: ErrDimensions}
	}
	return nil
}

// checkAnimation bounds the frame count and the sum of frame pixels.
func (l Limits) checkAnimation(frames int, totalPixels int64) error {
	if frames <= 0 || frames > l.MaxFrames {
		return &LimitError{What: "frames", Value: int64(frames), Limit: int64(l.MaxFrames), err: ErrDimensions}
	}
	if totalPixels > l.MaxTotalPixels {
		return &LimitError{What: "total pixels", Value: totalPixels, Limit: l.MaxTotalPixels, err: ErrDimensions}
	}
	return nil
}

// A LimitError reports which limit an input broke, with the numbers involved. It wraps
// ErrTooLarge or ErrDimensions, so callers match it with errors.Is; errors.As gives the numbers.
type LimitError struct {
	What          string // "bytes", "size", "pixels", "frames", "total pixels", "memory", ...
	Width, Height int    // declared size, when the limit is about a size
	Value         int64  // the offending count, when it is not a size
	Limit         int64  // the limit that was exceeded (0 when the value was zero or negative)
	err           error
}

func (e *LimitError) Error() string {
	switch {
	case e.Width != 0 || e.Height != 0:
		if e.Limit == 0 {
			return fmt.Sprintf("%s %dx%d: %v", e.What, e.Width, e.Height, e.err)
		}
		return fmt.Sprintf("%s %dx%d over limit %d: %v", e.What, e.Width, e.Height, e.Limit, e.err)
	default:
		return fmt.Sprintf("%s %d over limit %d: %v", e.What, e.Value, e.Limit, e.err)
	}
}

// Unwrap returns the sentinel (ErrTooLarge or ErrDimensions).
func (e *LimitError) Unwrap() error { return e.err }

// budget is the Cache-wide memory budget for decodes: a FIFO weighted semaphore (so a large
// decode is not starved by small ones) with a bounded queue of waiters.
type budget struct {
	size     int64
	maxQueue int64
	sem      *semaphore.Weighted

	// Counters, read by tests and Stats. Updated atomically.
	waiting atomic.Int64 // decodes waiting for room now
	// heldWaiting is the memory waiters hold outside the budget while they wait: a Put's
	// input, read before its header could say what the decode needs. It is bounded by
	// maxHeldWaiting, so a flood of uploads queued for budget cannot hold more than that.
	heldWaiting atomic.Int64
	waits       atomic.Int64 // decodes that had to wait, ever
	inUse       atomic.Int64 // bytes reserved now
	peak        atomic.Int64 // highest inUse seen
	active      atomic.Int64 // reservations held now

	// idle is closed and replaced under mu; see waitIdle.
	mu   sync.Mutex // guards idleWaiters
	idle []chan struct{}
}

func newBudget(size int64, maxQueue int) *budget {
	return &budget{size: size, maxQueue: int64(maxQueue), sem: semaphore.NewWeighted(size)}
}

// reserve takes n bytes of decode memory, waiting for room until ctx is done. A request
// larger than the whole budget fails at once with ErrDimensions rather than waiting out the
// deadline; a request that finds MaxQueue others already waiting fails at once with ErrBusy.
// The returned release is idempotent.
func (b *budget) reserve(ctx context.Context, n int64) (release func(), err error) {
	return b.reserveHolding(ctx, n, 0)
}

// maxHeldWaiting is how much memory all waiters together may hold outside the budget
// while they wait (see reserveHolding): a quarter of it.
func (b *budget) maxHeldWaiting() int64 { return b.size / 4 }

// reserveHolding is reserve for a caller that holds held bytes outside the budget (its
// input) and keeps them while it waits. Waiting is refused with ErrBusy when the bytes
// all waiters hold would pass a quarter of the budget, so the memory in flight stays
// within 1.25 times the budget however many uploads queue.
func (b *budget) reserveHolding(ctx context.Context, n, held int64) (release func(), err error) {
	if n > b.size {
		return nil, &LimitError{What: "decode memory", Value: n, Limit: b.size, err: ErrDimensions}
	}
	if !b.sem.TryAcquire(n) {
		if b.waiting.Add(1) > b.maxQueue {
			b.waiting.Add(-1)
			return nil, fmt.Errorf("%d decodes already waiting for memory: %w", b.maxQueue, ErrBusy)
		}
		if held > 0 && b.heldWaiting.Add(held) > b.maxHeldWaiting() {
			b.heldWaiting.Add(-held)
			b.waiting.Add(-1)
			return nil, fmt.Errorf("inputs waiting for memory hold over %d bytes: %w", b.maxHeldWaiting(), ErrBusy)
		}
		b.waits.Add(1)
		err := b.sem.Acquire(ctx, n)
		b.waiting.Add(-1)
		b.heldWaiting.Add(-max(held, 0))
		if err != nil {
			return nil, fmt.Errorf("wait for decode memory: %w", err) // wraps ctx.Err()
		}
	}
	return b.granted(n), nil
}

// tryReserve takes n bytes of decode memory if they are free now and nobody waits for
// them, and never waits: a caller that already holds a reservation extends it this way,
// since waiting while holding could leave every holder waiting for the others.
func (b *budget) tryReserve(n int64) (release func(), ok bool) {
	n = max(n, 0)
	if n > b.size || !b.sem.TryAcquire(n) {
		return nil, false
	}
	return b.granted(n), true
}

// granted records a reservation of n bytes just acquired and returns its release.
func (b *budget) granted(n int64) func() {
	used := b.inUse.Add(n)
	b.active.Add(1)
	for {
		p := b.peak.Load()
		if used <= p || b.peak.CompareAndSwap(p, used) {
			break
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			b.inUse.Add(-n)
			b.sem.Release(n)
			if b.active.Add(-1) == 0 {
				b.notifyIdle()
			}
		})
	}
}

// waitIdle blocks until no reservation is held or ctx is done. Close uses it so that no
// decoder goroutine outlives the Cache; tests use it to see abandoned decodes finish.
func (b *budget) waitIdle(ctx context.Context) error {
	b.mu.Lock()
	if b.active.Load() == 0 {
		b.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	b.idle = append(b.idle, ch)
	b.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *budget) notifyIdle() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.active.Load() != 0 {
		return
	}
	for _, ch := range b.idle {
		close(ch)
	}
	b.idle = nil
}
