package fastimagecache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/gif"
	"image/png"
	"io"
	"log/slog"
	"net/http"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"

	"github.com/fastimagecache/fastimagecache/internal/ctxio"
	"github.com/fastimagecache/fastimagecache/internal/jpegdec"
)

// readLimited reads at most max bytes from r. One byte more means ErrTooLarge, and the
// rest of r is never read. The buffer grows with what actually arrives, so a short body
// costs little whatever max is.
func readLimited(ctx context.Context, r io.Reader, max int64) ([]byte, error) {
	var buf bytes.Buffer
	lr := io.LimitReader(r, max+1)
	chunk := make([]byte, 32<<10)
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read input: %w", err)
		}
		n, err := lr.Read(chunk)
		buf.Write(chunk[:n])
		if int64(buf.Len()) > max {
			return nil, &LimitError{What: "bytes", Value: max + 1, Limit: max, err: ErrTooLarge}
		}
		if errors.Is(err, io.EOF) {
			return buf.Bytes(), nil
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
	release, err := c.budget.reserve(ctx, n)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, c.lim.DecodeTimeout)
	done := make(chan error, 1)
	go func() {
		defer release()
		defer cancel()
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
		img, err = jpegdec.Decode(r, jpegOptions(o))
	case PNG:
		img, err = png.Decode(r)
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
	case BMP:
		img, err = bmp.Decode(r)
	case TIFF:
		img, err = tiff.Decode(r)
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
