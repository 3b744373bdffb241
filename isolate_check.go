package fastimagecache

import (
	"context"
	"fmt"
	"strings"

	"github.com/fastimagecache/fastimagecache/internal/canon"
	"github.com/fastimagecache/fastimagecache/internal/sandbox"
	"github.com/fastimagecache/fastimagecache/internal/workerproto"
)

// The host's side of isolated decoding: what it accepts from a worker, how much of it, and
// how a worker's failure reads.

// maxAnswer is the most a worker's answer to a render of h to s may weigh: do refuses a
// longer one before reading it.
func (p *isolator) maxAnswer(h header, s Spec) int64 {
	return maxRenditionBytes(h, s, p.lim) + workerproto.ResponseOverhead
}

// answerBytes is the memory this process holds for a worker's answer to a render of h to
// s, sized by the bound the host enforces; 0 when decoding in process. Get reserves it
// from the budget with the render, before the answer is read.
func (c *Cache) answerBytes(h header, s Spec) int64 {
	if c.iso == nil {
		return 0
	}
	return c.iso.maxAnswer(h, s)
}

// workerErr maps a worker's failure back to this package's errors. The worker's message
// is kept, cut and stripped to printable ASCII, for people: it is not trusted.
func workerErr(resp *workerproto.Response) error {
	msg := sandbox.Sanitize(resp.Message)
	var sentinel error
	switch resp.Code {
	case workerproto.Corrupt:
		sentinel = ErrCorrupt
	case workerproto.Dimensions:
		sentinel = ErrDimensions
	case workerproto.UnsupportedFormat:
		sentinel = ErrUnsupportedFormat
	case workerproto.InvalidSpec:
		sentinel = ErrInvalidSpec
	case workerproto.TooLarge:
		sentinel = ErrTooLarge
	case workerproto.Deadline:
		sentinel = context.DeadlineExceeded
	default:
		return fmt.Errorf("decode worker: %s", msg)
	}
	// The worker's message is its error's text, which ends with the sentinel's own: say it
	// once.
	msg = strings.TrimSuffix(strings.ReplaceAll(msg, ": "+sentinel.Error(), ""), sentinel.Error())
	if msg == "" {
		return fmt.Errorf("decode worker: %w", sentinel)
	}
	return fmt.Errorf("decode worker: %s: %w", msg, sentinel)
}

// checkRendition accepts a worker's rendition only if it is what was asked for: the
// spec's format, laid out exactly as our encoder lays it out (internal/canon: its chunk,
// segment and block kinds, with the JPEG tables of the spec's quality, nothing after the
// end marker; no pixel is decoded), a size that agrees with the one the worker reports and
// lies within the box the spec gives for this source, and no more frames than the source.
func checkRendition(resp *workerproto.Response, h header, s Spec) (rendered, error) {
	if Format(resp.Format) != s.Format {
		return rendered{}, fmt.Errorf("decode worker returned another format than %s: %w", s.Format, ErrCorrupt)
	}
	var w, ht int
	frames := 1
	var err error
	switch s.Format {
	case JPEG:
		w, ht, err = canon.JPEG(resp.Data, s.Quality)
	case PNG:
		w, ht, err = canon.PNG(resp.Data)
	case GIF:
		w, ht, frames, err = canon.GIF(resp.Data)
	case WebP:
		w, ht, frames, err = canon.WebP(resp.Data)
	case AVIF:
		w, ht, err = canon.AVIF(resp.Data)
	default:
		return rendered{}, fmt.Errorf("no output format %s: %w", s.Format, ErrInvalidSpec)
	}
	if err != nil {
		return rendered{}, fmt.Errorf("decode worker's %s rendition: %w: %w", s.Format, err, ErrCorrupt)
	}
	if int64(w) != resp.Width || int64(ht) != resp.Height {
		return rendered{}, fmt.Errorf("decode worker reports %dx%d, its rendition is %dx%d: %w", resp.Width, resp.Height, w, ht, ErrCorrupt)
	}
	sw, sh := orientedSize(h.width, h.height, h.orientation)
	_, _, ow, oh := geometry(sw, sh, s)
	if w > ow || ht > oh {
		return rendered{}, fmt.Errorf("decode worker's rendition is %dx%d, the spec allows %dx%d: %w", w, ht, ow, oh, ErrCorrupt)
	}
	if maxFrames := max(h.frames, 1); frames > 1 && (!renderOpts(h, s).allFrames || frames > maxFrames) {
		return rendered{}, fmt.Errorf("decode worker's rendition has %d frames, the source %d: %w", frames, maxFrames, ErrCorrupt)
	}
	return rendered{data: resp.Data, format: s.Format, width: w, height: ht}, nil
}

// maxRenditionBytes bounds the encoded rendition of h under s: 9 bytes a pixel of every
// output frame (16-bit RGBA PNG, with filter bytes and deflate's stored-block overhead, is
// the worst encoding) plus 1 MiB, and never more than the memory budget.
func maxRenditionBytes(h header, s Spec, lim Limits) int64 {
	sw, sh := orientedSize(h.width, h.height, h.orientation)
	_, _, ow, oh := geometry(sw, sh, s)
	frames := int64(1)
	if animates(s.Format) && h.frames > 1 {
		frames = int64(h.frames)
	}
	return min(frames*(9*int64(ow)*int64(oh)+4<<10)+1<<20, lim.MemoryBudget)
}

// renditionBound bounds the payload of a stored rendition of the original m under the
// canonical spec s (either EXIF orientation: the metadata does not keep it), so a read from
// shared storage never takes more than an honest rendition could be.
func renditionBound(m originalMeta, s Spec, lim Limits) int64 {
	h := header{format: m.Format, width: m.Width, height: m.Height, frames: m.Frames, orientation: 1}
	a := maxRenditionBytes(h, s, lim)
	h.orientation = 6
	return max(a, maxRenditionBytes(h, s, lim))
}
