package fastimagecache

import (
	"context"
	"fmt"

	"github.com/fastimagecache/fastimagecache/internal/pngdec"
	"github.com/fastimagecache/fastimagecache/internal/resize"
)

// A PNG rendition much smaller than its source is decoded row by row (pngdec.Stream)
// straight into resize.Rows' box pre-shrink, so the full frame is never built: the
// render holds the input, two rows, an inflater and the box-averaged image (two to four
// times the target on each axis), and reserves that (streamedPNGBytes) instead of a
// full decode. The pixels are those of the full decode's resize within a level or two:
// Rows filters its boxes as resize.Image does a decoded image's.

// streamShrink is how many times smaller than the source, on each axis, a target must
// be for a PNG to be streamed: from there the pre-shrink keeps a quarter of the source
// or less.
const streamShrink = 4

// resizeTarget is the size transformFocus resizes h's decoded image to for s, in the
// decoded image's axes.
func resizeTarget(h header, s Spec) (int, int) {
	ow0, oh0 := orientedSize(h.width, h.height, h.orientation)
	rw, rh, _, _ := geometry(ow0, oh0, s)
	if h.orientation >= 5 {
		return rh, rw
	}
	return rw, rh
}

// streamsPNG reports whether render decodes h streaming for s: a non-interlaced PNG
// (interlaced rows arrive in seven passes), a still output, a target streamShrink
// times smaller each way.
func streamsPNG(h header, s Spec) bool {
	if h.format != PNG || h.pngInterlaced || renderOpts(h, s).allFrames {
		return false
	}
	tw, th := resizeTarget(h, s)
	return h.width >= streamShrink*tw && h.height >= streamShrink*th
}

// streamedPNGBytes bounds what render allocates for a streamed PNG rendition: the
// decoder's rows and inflater, Rows with its box image and result, the crop copy, the
// encoded output and the encoder. The row layout is not known from the header: the
// largest (RGBA, from 16-bit samples) is assumed.
func streamedPNGBytes(h header, s Spec) int64 {
	ow0, oh0 := orientedSize(h.width, h.height, h.orientation)
	_, _, ow, oh := geometry(ow0, oh0, s)
	tw, th := resizeTarget(h, s)
	out := int64(ow) * int64(oh)
	info := pngdec.Info{Width: h.width, Height: h.height, Depth: 16, ColorType: 6, Layout: pngdec.RGBA}
	return pngdec.StreamBytes(info) + resize.RowsBytes(h.width, h.height, resize.RGBA8, tw, th) +
		4*out + encodedBytes(h, s, ow, oh, true) + codecBytes(s.Format, out)
}

// rowsLayout is the resize.Layout of pngdec's rows.
var rowsLayout = map[pngdec.Layout]resize.Layout{
	pngdec.Gray: resize.Gray8, pngdec.GrayAlpha: resize.GrayAlpha8, pngdec.RGB: resize.RGB8, pngdec.RGBA: resize.RGBA8,
}

// decodePNGShrunk decodes a PNG row by row into the box pre-shrink and returns the
// image resized to s's target and oriented: what transformFocus makes of a full decode
// before its crop.
func decodePNGShrunk(ctx context.Context, data []byte, h header, s Spec) (decoded, error) {
	tw, th := resizeTarget(h, s)
	var rows *resize.Rows
	start := func(info pngdec.Info) error {
		if info.Width != h.width || info.Height != h.height || info.Interlaced {
			return fmt.Errorf("png header changed since inspect: %w", ErrCorrupt)
		}
		rows = resize.NewRows(info.Width, info.Height, rowsLayout[info.Layout], tw, th)
		if rows == nil {
			return fmt.Errorf("png row layout %d: %w", info.Layout, ErrCorrupt)
		}
		return nil
	}
	row := func(_ int, pix []byte) error {
		rows.Row(pix)
		return nil
	}
	err := pngdec.Stream(data, pngdec.Options{MaxPixels: int64(h.width) * int64(h.height), Ctx: ctx}, start, row)
	if err != nil {
		return decoded{}, decodeErr(PNG, err)
	}
	return decoded{img: rows.Image(h.orientation), scaled: true}, nil
}
