package fuzz

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"testing"

	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"

	"github.com/fastimagecache/fastimagecache"
	"github.com/fastimagecache/fastimagecache/internal/exif"
	"github.com/fastimagecache/fastimagecache/internal/fixture"
	"github.com/fastimagecache/fastimagecache/internal/gifscan"
	"github.com/fastimagecache/fastimagecache/internal/jpegscan"
	"github.com/fastimagecache/fastimagecache/internal/tiffscan"
	"github.com/fastimagecache/fastimagecache/internal/webpscan"
)

// These targets drive the header and frame scanners directly, with the limits the Cache
// uses and with the whole module's corpus of valid and hostile files, and compare what
// they report with what the Go decoder will do: a scanner that counts fewer frames, or
// reads another size, than the decoder would turn a limit into a suggestion.

// oneOf fails unless err wraps exactly one of sentinels.
func oneOf(t *testing.T, err error, sentinels ...error) {
	t.Helper()
	n := 0
	for _, s := range sentinels {
		if errors.Is(err, s) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("error wraps %d of the package's sentinels, want 1: %v", n, err)
	}
}

// FuzzGIFScan checks gifscan.Scan at the Cache's default frame limit: a failure wraps one
// sentinel and reports at most the limit; a success reports a screen, frames and pixel
// totals that image/gif agrees with. On small images it decodes every frame: a decode that
// succeeds must find exactly the frames Scan counted, inside the screen, with the same
// total area and loop count.
func FuzzGIFScan(f *testing.F) {
	const maxFrames = 100
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := gifscan.Scan(data, maxFrames)
		if err != nil {
			oneOf(t, err, gifscan.ErrMalformed, gifscan.ErrFrameBounds, gifscan.ErrTooManyFrames)
			if info.Frames > maxFrames {
				t.Fatalf("partial Frames %d > %d", info.Frames, maxFrames)
			}
			return
		}
		if info.Width < 1 || info.Height < 1 || info.Width > 65535 || info.Height > 65535 ||
			info.Frames < 1 || info.Frames > maxFrames || info.FramePixels < int64(info.Frames) ||
			info.FramePixels > int64(info.Frames)*int64(info.Width)*int64(info.Height) ||
			info.Trailing < 0 || info.Trailing >= len(data) {
			t.Fatalf("inconsistent Info %+v for %d bytes", info, len(data))
		}
		cfg, err := gif.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width != info.Width || cfg.Height != info.Height {
			t.Fatalf("Scan says %dx%d, image/gif DecodeConfig %dx%d, %v", info.Width, info.Height, cfg.Width, cfg.Height, err)
		}
		if info.FramePixels > 1<<20 {
			return
		}
		g, err := gif.DecodeAll(bytes.NewReader(data))
		if err != nil {
			return // bad LZW data: Scan does not decompress, the decoder is the judge
		}
		if len(g.Image) != info.Frames {
			t.Fatalf("Scan counted %d frames, image/gif decoded %d", info.Frames, len(g.Image))
		}
		var px int64
		screen := image.Rect(0, 0, info.Width, info.Height)
		for i, m := range g.Image {
			if !m.Bounds().In(screen) || m.Bounds().Empty() {
				t.Fatalf("frame %d at %v, screen %v", i, m.Bounds(), screen)
			}
			px += int64(m.Bounds().Dx()) * int64(m.Bounds().Dy())
		}
		if px != info.FramePixels || g.LoopCount != info.LoopCount {
			t.Fatalf("Scan: %d frame pixels, loop %d; image/gif: %d, loop %d", info.FramePixels, info.LoopCount, px, g.LoopCount)
		}
	})
}

// FuzzJPEGScan checks jpegscan.Scan at the Cache's scan limit: a failure wraps one
// sentinel; a success reports a size image/jpeg's DecodeConfig agrees with, an EXIF
// orientation the exif package agrees with, and, on small images, the size image/jpeg
// decodes to.
func FuzzJPEGScan(f *testing.F) {
	const maxScans = 100 // the Cache's fixed cap
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := jpegscan.Scan(data, maxScans)
		if err != nil {
			oneOf(t, err, jpegscan.ErrMalformed, jpegscan.ErrUnsupported, jpegscan.ErrTooManyScans)
			return
		}
		if info.Width < 1 || info.Height < 1 || info.Scans < 1 || info.Scans > maxScans ||
			info.Orientation < 1 || info.Orientation > 8 {
			t.Fatalf("inconsistent Info %+v", info)
		}
		if n := len(info.Components); n != 1 && n != 3 && n != 4 {
			t.Fatalf("%d components", n)
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width != info.Width || cfg.Height != info.Height {
			t.Fatalf("Scan says %dx%d, image/jpeg DecodeConfig %dx%d, %v", info.Width, info.Height, cfg.Width, cfg.Height, err)
		}
		if o := exif.FromJPEG(data); o != info.Orientation {
			t.Fatalf("Scan reads orientation %d, exif.FromJPEG %d", info.Orientation, o)
		}
		if int64(info.Width)*int64(info.Height) > 1<<18 {
			return
		}
		// No allocation check here: the fuzz engine allocates in this process while a decode
		// runs, so a process-wide count is noise (a 24x16 seed once "allocated" 540 KB). The
		// reservation the Cache makes comes from jpegdec.AllocBytes, which FuzzDecode in
		// internal/jpegdec checks against the decoder's own allocations.
		img, err := jpeg.Decode(bytes.NewReader(data))
		if err == nil && img.Bounds() != image.Rect(0, 0, info.Width, info.Height) {
			t.Fatalf("Scan says %dx%d, image/jpeg decoded %v", info.Width, info.Height, img.Bounds())
		}
	})
}

// FuzzTIFFScan checks tiffscan.Scan at the Cache's limits: a failure wraps one sentinel; a
// success reports a size, a block count and an IFD count within those limits, and a size
// that x/image/tiff's DecodeConfig agrees with whenever it reads the file at all.
func FuzzTIFFScan(f *testing.F) {
	lim := tiffscan.Limits{MaxBlocks: 1 << 16, MaxIFDs: 64, MaxEntries: 1024} // as validate.go
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := tiffscan.Scan(data, lim)
		if err != nil {
			// ErrEmpty refines ErrMalformed: errors wrapping it wrap ErrMalformed too.
			oneOf(t, err, tiffscan.ErrMalformed, tiffscan.ErrTooManyBlocks, tiffscan.ErrIFDLoop,
				tiffscan.ErrTooManyIFDs, tiffscan.ErrUnsupported)
			if errors.Is(err, tiffscan.ErrEmpty) && !errors.Is(err, tiffscan.ErrMalformed) {
				t.Fatalf("ErrEmpty without ErrMalformed: %v", err)
			}
			return
		}
		if info.Width < 1 || info.Height < 1 || info.Blocks < 1 || info.Blocks > lim.MaxBlocks ||
			info.BlockWidth < 1 || info.BlockHeight < 1 ||
			info.IFDs < 1 || info.IFDs > lim.MaxIFDs || info.Samples < 1 || info.BitsPerPixel < 1 {
			t.Fatalf("inconsistent Info %+v", info)
		}
		cfg, err := tiff.DecodeConfig(bytes.NewReader(data))
		if err == nil && (cfg.Width != info.Width || cfg.Height != info.Height) {
			t.Fatalf("Scan says %dx%d, x/image/tiff DecodeConfig %dx%d", info.Width, info.Height, cfg.Width, cfg.Height)
		}
	})
}

// FuzzWebPScan checks webpscan.Scan: a failure wraps one sentinel; a success reports a
// still image of 1..16384 on each side, a consistent trailer, and a size that
// x/image/webp's DecodeConfig agrees with whenever it reads the file at all.
func FuzzWebPScan(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := webpscan.Scan(data)
		if err != nil {
			oneOf(t, err, webpscan.ErrMalformed, webpscan.ErrUnsupported)
			return
		}
		if info.Width < 1 || info.Height < 1 || info.Width > 1<<14 || info.Height > 1<<14 || info.Animated ||
			info.Trailing < 0 || info.Trailing > len(data)-12 {
			t.Fatalf("inconsistent Info %+v for %d bytes", info, len(data))
		}
		cfg, err := webp.DecodeConfig(bytes.NewReader(data))
		if err == nil && (cfg.Width != info.Width || cfg.Height != info.Height) {
			t.Fatalf("Scan says %dx%d, x/image/webp DecodeConfig %dx%d", info.Width, info.Height, cfg.Width, cfg.Height)
		}
	})
}

// FuzzEXIF checks the EXIF orientation reader on fuzzed APP1 payloads: exif.Orientation
// is always 1..8; placed in a JPEG, the payload is read the same way by exif.FromJPEG and
// by jpegscan (which is what the Cache uses); and the Cache applies exactly that
// orientation: the image is stored, and its full-size rendition is turned (5..8 swap the
// sides) and flipped so that each corner shows the colour EXIF says it should. What the
// Cache does with the image depends only on the orientation read, so that end-to-end check
// runs once per orientation value in each fuzzing process, keeping the target fast.
func FuzzEXIF(f *testing.F) {
	c := newCache(f, fuzzLimits)
	const w, h = 16, 8
	base := fixture.JPEGQuadrants(w, h)
	tl, tr, bl, br := fixture.QuadrantTopLeft, fixture.QuadrantTopRight, fixture.QuadrantBottomLeft, fixture.QuadrantBottomRight
	// Corners (top-left, top-right, bottom-left, bottom-right) of the displayed image per
	// orientation, for a stored image whose quadrants are tl, tr / bl, br.
	corners := map[int][4]color.RGBA{
		1: {tl, tr, bl, br}, 2: {tr, tl, br, bl}, 3: {br, bl, tr, tl}, 4: {bl, br, tl, tr},
		5: {tl, bl, tr, br}, 6: {bl, tl, br, tr}, 7: {br, tr, bl, tl}, 8: {tr, br, tl, bl},
	}
	var rendered [9]bool // orientations already checked end to end
	f.Fuzz(func(t *testing.T, payload []byte) {
		o := exif.Orientation(payload)
		if o < 1 || o > 8 {
			t.Fatalf("Orientation = %d", o)
		}
		if len(payload) > 0xffff-2 {
			return // does not fit in one APP1 segment
		}
		jpg := fixture.WithAPP1(base, payload)
		if got := exif.FromJPEG(jpg); got != o {
			t.Fatalf("FromJPEG = %d, Orientation = %d", got, o)
		}
		info, err := jpegscan.Scan(jpg, 100)
		if err != nil || info.Orientation != o {
			t.Fatalf("jpegscan: orientation %d, %v; Orientation = %d", info.Orientation, err, o)
		}
		if rendered[o] {
			return
		}
		stored, err := put(t, c, fuzzLimits, jpg)
		if err != nil {
			t.Fatalf("a valid JPEG with an APP1 payload was refused: %v", err)
		}
		defer forget(t, c, stored.ID)
		_, out := get(t, c, jpg, stored, fastimagecache.Spec{Format: fastimagecache.PNG})
		if out == nil {
			return
		}
		img, _, _ := image.Decode(bytes.NewReader(out))
		bw, bh := img.Bounds().Dx(), img.Bounds().Dy()
		if ww, wh := w, h; (o >= 5 && (bw != wh || bh != ww)) || (o < 5 && (bw != ww || bh != wh)) {
			t.Fatalf("orientation %d: rendition %dx%d", o, bw, bh)
		}
		for i, p := range []image.Point{{1, 1}, {bw - 2, 1}, {1, bh - 2}, {bw - 2, bh - 2}} {
			if !near(corners[o][i], img.At(p.X, p.Y)) {
				t.Fatalf("orientation %d: corner %d is %v, want %v", o, i, img.At(p.X, p.Y), corners[o][i])
			}
		}
		rendered[o] = true
	})
}

// near reports whether got is within JPEG noise of want.
func near(want color.RGBA, got color.Color) bool {
	r, g, b, _ := got.RGBA()
	d := func(a uint8, b uint32) bool { x := int(a) - int(b>>8); return x > -48 && x < 48 }
	return d(want.R, r) && d(want.G, g) && d(want.B, b)
}
