package fastimagecache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/gif"
	"io"
	"log/slog"
	"net/http"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"

	"github.com/fastimagecache/fastimagecache/internal/codec"
	"github.com/fastimagecache/fastimagecache/internal/ctxio"
	"github.com/fastimagecache/fastimagecache/internal/jpegdec"
	"github.com/fastimagecache/fastimagecache/internal/pngdec"
)

// readChunk is the first buffer readLimited reads into when r does not tell its length.
const readChunk = 32 << 10

// readLimited reads at most max bytes from r. One byte more means ErrTooLarge, and the
// rest of r is never read. The buffer grows with what actually arrives, so a short body
// costs little whatever max is: it doubles from between readChunk and twice that,
// reading straight into its free end, up to exactly max+1 bytes and never past (a
// bytes.Buffer would double to about 2*max), so that it allocates less than 2*(max+1)
// in all;
// a reader that knows its length (Len, as bytes.Reader and strings.Reader have) is read
// into one buffer of that length plus one. The returned slice's capacity is at most
// max+1, and twice its length when it grew; a reservation for the input counts its
// capacity.
func readLimited(ctx context.Context, r io.Reader, max int64) ([]byte, error) {
	limit := max + 1
	// Start at limit/2^k, so that the doublings land on limit exactly and all the
	// buffers before it add up to less than limit.
	size := limit
	for size/2 >= readChunk {
		size = (size + 1) / 2
	}
	if l, ok := r.(interface{ Len() int }); ok && l.Len() >= 0 {
		size = int64(l.Len()) + 1 // +1: the Read that reports EOF needs room to prove it
	}
	buf := make([]byte, 0, min(size, limit))
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read input: %w", err)
		}
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(2*int64(cap(buf)), limit))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > max {
			return nil, &LimitError{What: "bytes", Value: max + 1, Limit: max, err: ErrTooLarge}
		}
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			if errors.As(err, new(*http.MaxBytesError)) { // a handler's own cap on the body
				return nil, &LimitError{What: "bytes", Value: max + 1, Limit: max, err: ErrTooLarge}
			}
			// The reader's error may carry a user's text; keep its type, not its message.
			return nil, fmt.Errorf("read input: %w", ioErr{err})
		}
	}
}

// ioErr hides a reader's message (it may quote user data) but keeps errors.Is working,
// for example for *http.MaxBytesError.
type ioErr struct{ err error }

func (e ioErr) Error() string { return "input reader failed" }
func (e ioErr) Unwrap() error { return e.err }

// run executes fn in a goroutine of its own, holding n bytes of the memory budget, under a
// context bounded by DecodeTimeout. It returns when fn returns or when ctx is done,
// whichever comes first; the budget is released only when fn has really returned, so an
// abandoned decode still counts until it stops (at its next read, since decoders read
// through ctxio). A panic in fn becomes ErrCorrupt. An error after the context is done
// becomes the context's error, so a deadline never looks like corrupt data.
func (c *Cache) run(ctx context.Context, n int64, fn func(ctx context.Context) error) error {
	return c.runHolding(ctx, n, 0, fn)
}

// runHolding is run for a caller that holds held bytes outside the budget while it waits
// for room (see budget.reserveHolding).
func (c *Cache) runHolding(ctx context.Context, n, held int64, fn func(ctx context.Context) error) error {
	release, err := c.budget.reserveHolding(ctx, n, held)
	if err != nil {
		return err
	}
	return c.runHeld(ctx, release, fn)
}

// runHeld is run with the reservation already held; release gives it back once fn has
// returned.
func (c *Cache) runHeld(ctx context.Context, release func(), fn func(ctx context.Context) error) error {
	dctx, cancel := context.WithTimeout(ctx, c.lim.DecodeTimeout)
	done := make(chan error, 1)
	c.jobs.Add(1)
	go func() {
		defer release()
		defer cancel()
		defer c.jobs.Add(-1)
		done <- c.safely(dctx, fn)
	}()
	select {
	case err := <-done:
		return err
	case <-dctx.Done():
		select {
		case err := <-done: // finished at the same moment: keep its result
			return err
		default:
			return fmt.Errorf("decode: %w", dctx.Err())
		}
	}
}

// safely runs fn, turning a panic into ErrCorrupt and a failure after ctx is done into
// ctx's error.
func (c *Cache) safely(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			// The panic value may quote input; log only that it happened.
			c.log.LogAttrs(ctx, slog.LevelError, "decoder panic recovered")
			err = fmt.Errorf("decoder panicked: %w", ErrCorrupt)
		}
	}()
	if c.hooks.decodeStart != nil && ctx.Value(noDecode{}) == nil {
		c.hooks.decodeStart(ctx)
	}
	err = fn(ctx)
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("decode: %w", ctx.Err())
	}
	return err
}

// noDecode marks the context of a run that renders from pixels already decoded, which
// hooks.decodeStart does not count.
type noDecode struct{}

// decoded is a decoded input: one still image, or every frame of a GIF.
type decoded struct {
	img  image.Image // the first frame, composited onto the full canvas for GIFs
	anim *gif.GIF    // all frames, when they were asked for and the input is a GIF
	// scaled: img is already resized and oriented for the Spec (decodePNGShrunk); only
	// the crop is left.
	scaled bool
}

// decodeImage decodes data, whose header h has already passed inspect, with the format's
// own pure-Go decoder (never through image.Decode's global registry). It reads through a
// ctx-aware reader. With o.allFrames, a GIF is decoded frame by frame in full; a JPEG is
// decoded at 1/o.jpegScale of its size (see decodedSize).
func decodeImage(ctx context.Context, data []byte, h header, o decodeOpts) (decoded, error) {
	r := ctxio.NewReader(ctx, bytes.NewReader(data))
	var (
		img image.Image
		err error
	)
	switch h.format {
	case JPEG:
		// A baseline JPEG's inverse DCTs run on a second goroutine when the render slot
		// grants one (rowWorkers; decodeBytesFor counts the ring).
		jo := jpegOptions(o)
		jo.Workers = rowWorkers(ctx)
		img, err = jpegdec.DecodeBytes(ctx, data, jo) // checks ctx as r would
	case PNG:
		// pngdec returns image/png's image (type, pixels, palette; fuzzed against it) at
		// no more memory than image/png (pngDecodeBytes covers it), faster.
		img, err = pngdec.Decode(data, pngdec.Options{MaxPixels: int64(h.width) * int64(h.height), Ctx: ctx})
	case GIF:
		if o.allFrames {
			g, err := gif.DecodeAll(r)
			if err != nil {
				return decoded{}, decodeErr(h.format, err)
			}
			if len(g.Image) == 0 {
				return decoded{}, fmt.Errorf("gif has no frames: %w", ErrCorrupt)
			}
			return decoded{img: firstFrame(g.Image[0], g.Config.Width, g.Config.Height), anim: g}, nil
		}
		img, err = gif.Decode(r)
		if err == nil {
			img = firstFrame(img, h.width, h.height)
		}
	case WebP:
		img, err = webp.Decode(r)
		if err == nil {
			limitedToFullRange(img)
		}
	case BMP:
		img, err = bmp.Decode(r)
	case TIFF:
		img, err = tiff.Decode(r)
	case AVIF, HEIC:
		// The WebAssembly decoders take the bytes at once and cannot be interrupted:
		// inspectHEIF bounded what they allocate, and the reservation covers it.
		if err := ctx.Err(); err != nil {
			return decoded{}, err
		}
		if h.format == AVIF {
			img, err = codec.DecodeAVIF(data)
		} else {
			img, err = codec.DecodeHEIC(data)
		}
	default:
		return decoded{}, fmt.Errorf("no decoder for %q: %w", string(h.format), ErrUnsupportedFormat)
	}
	if err != nil {
		return decoded{}, decodeErr(h.format, err)
	}
	b := img.Bounds()
	if w, hh := h.decodedSize(o); b.Dx() != w || b.Dy() != hh {
		return decoded{}, fmt.Errorf("decoded %dx%d, header said %dx%d: %w", b.Dx(), b.Dy(), w, hh, ErrCorrupt)
	}
	return decoded{img: img}, nil
}

// decodeErr maps a decoder's failure to ErrCorrupt, keeping the cause. Context errors
// pass through as they are.
func decodeErr(f Format, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("decode %s: %w", f, err)
	}
	return fmt.Errorf("decode %s: %w: %w", f, ErrCorrupt, err)
}

// firstFrame places a GIF frame, whose bounds may be a sub-rectangle, on a transparent
// canvas of the logical screen size.
func firstFrame(frame image.Image, w, h int) image.Image {
	if frame.Bounds() == image.Rect(0, 0, w, h) {
		return frame
	}
	canvas := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.Draw(canvas, frame.Bounds(), frame, frame.Bounds().Min, draw.Over)
	return canvas
}

// Lossy WebP (VP8) codes BT.601 in limited range (luma 16..235, chroma 16..240) and
// libwebp converts it so; x/image/webp hands the planes out as image.YCbCr, which Go
// converts as full range (JFIF), so black would come out as 16 and white as 235
// (golang/go#40173). limitedToFullRange rescales the planes in place — the limited-range
// coefficients are the full-range ones scaled by 255/219 (luma) and 255/224 (chroma) — so
// the usual conversion gives libwebp's colours, without a copy of the image.
func limitedToFullRange(img image.Image) {
	var y, cb, cr []byte
	switch m := img.(type) {
	case *image.YCbCr:
		y, cb, cr = m.Y, m.Cb, m.Cr
	case *image.NYCbCrA:
		y, cb, cr = m.Y, m.Cb, m.Cr
	default:
		return // lossless WebP (VP8L) is RGB already
	}
	for i, v := range y {
		y[i] = lumaFull[v]
	}
	for i, v := range cb {
		cb[i] = chromaFull[v]
	}
	for i, v := range cr {
		cr[i] = chromaFull[v]
	}
}

var lumaFull, chromaFull = rangeTables()

func rangeTables() (luma, chroma [256]byte) {
	for i := range 256 {
		luma[i] = clampByte((float64(i)-16)*255/219 + 0.5)
		chroma[i] = clampByte(128 + (float64(i)-128)*255/224 + 0.5)
	}
	return luma, chroma
}

func clampByte(v float64) byte {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return byte(v)
}
