package pngdec

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"
)

// rgba8 is a pixel of img as 8-bit non-premultiplied samples, 16-bit ones
// reduced to their high byte: what a streamed row holds.
func rgba8(img image.Image, x, y int) [4]byte {
	switch m := img.(type) {
	case *image.Gray:
		v := m.Pix[m.PixOffset(x, y)]
		return [4]byte{v, v, v, 0xff}
	case *image.Gray16:
		v := m.Pix[m.PixOffset(x, y)]
		return [4]byte{v, v, v, 0xff}
	case *image.RGBA:
		p := m.Pix[m.PixOffset(x, y):]
		return [4]byte{p[0], p[1], p[2], p[3]}
	case *image.NRGBA:
		p := m.Pix[m.PixOffset(x, y):]
		return [4]byte{p[0], p[1], p[2], p[3]}
	case *image.RGBA64:
		p := m.Pix[m.PixOffset(x, y):]
		return [4]byte{p[0], p[2], p[4], p[6]}
	case *image.NRGBA64:
		p := m.Pix[m.PixOffset(x, y):]
		return [4]byte{p[0], p[2], p[4], p[6]}
	case *image.Paletted:
		switch c := m.Palette[m.ColorIndexAt(x, y)].(type) {
		case color.NRGBA:
			return [4]byte{c.R, c.G, c.B, c.A}
		case color.RGBA:
			return [4]byte{c.R, c.G, c.B, c.A}
		}
	}
	panic(fmt.Sprintf("unexpected image type %T", img))
}

// refRow is row y of img in layout l.
func refRow(img image.Image, l Layout, y int) []byte {
	var out []byte
	for x := range img.Bounds().Dx() {
		p := rgba8(img, x, y)
		switch l {
		case Gray:
			out = append(out, p[0])
		case GrayAlpha:
			out = append(out, p[0], p[3])
		case RGB:
			out = append(out, p[0], p[1], p[2])
		case RGBA:
			out = append(out, p[:]...)
		}
	}
	return out
}

// checkAgainstPNG decodes data with image/png, Decode and Stream, and
// fails unless all three agree: the same error-or-not, Decode's image
// deeply equal to image/png's, Stream's rows equal to its pixels.
func checkAgainstPNG(t *testing.T, data []byte, maxPixels int64) {
	t.Helper()
	cfg, cerr := png.DecodeConfig(bytes.NewReader(data))
	if cerr == nil && int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		if _, err := Decode(data, Options{MaxPixels: maxPixels}); err == nil {
			t.Fatalf("Decode of %dx%d with MaxPixels %d succeeded", cfg.Width, cfg.Height, maxPixels)
		}
		return
	}
	want, werr := png.Decode(bytes.NewReader(data))
	got, err := Decode(data, Options{MaxPixels: maxPixels})
	if werr != nil {
		if err == nil {
			t.Fatalf("image/png fails (%v), Decode does not", werr)
		}
		if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
	} else {
		if err != nil {
			t.Fatalf("image/png decodes, Decode fails: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Decode differs from image/png: %T vs %T", got, want)
		}
	}
	var info Info
	rows := 0
	serr := Stream(data, Options{MaxPixels: maxPixels}, func(i Info) error { info = i; return nil },
		func(y int, pix []byte) error {
			if y != rows {
				t.Fatalf("row %d, want %d", y, rows)
			}
			rows++
			if werr == nil {
				if r := refRow(want, info.Layout, y); !bytes.Equal(pix, r) {
					t.Fatalf("%v row %d: got %v, want %v", info.Layout, y, pix[:min(16, len(pix))], r[:min(16, len(r))])
				}
			}
			return nil
		})
	if (serr == nil) != (werr == nil) {
		t.Fatalf("Stream error %v, image/png error %v", serr, werr)
	}
	if serr == nil && rows != info.Height {
		t.Fatalf("Stream gave %d rows of %d", rows, info.Height)
	}
	if serr == nil {
		di, err := DecodeInfo(data)
		if err != nil || di != info {
			t.Fatalf("DecodeInfo %+v, %v; Stream's %+v", di, err, info)
		}
	}
}

func TestMatchesImagePNG(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := [][2]int{{1, 1}, {3, 5}, {9, 2}, {17, 9}, {33, 12}}
	n := 0
	for _, c := range rawConfigs(rng, sizes) {
		data := rawPNG(rng, c)
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) { checkAgainstPNG(t, data, 1<<20) })
		n++
	}
	for i, data := range encoded(rng, 37, 21) {
		t.Run(fmt.Sprint("encoded", i), func(t *testing.T) { checkAgainstPNG(t, data, 1<<20) })
	}
}

// TestCorruptionsMatchImagePNG flips, truncates and splices bytes of valid
// files: pngdec must fail wherever image/png fails.
func TestCorruptionsMatchImagePNG(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range rawConfigs(rng, [][2]int{{5, 4}}) {
		data := rawPNG(rng, c)
		for range 40 {
			m := mutate(rng, data)
			checkAgainstPNG(t, m, 1<<20)
		}
	}
}

// mutate returns a corrupted copy of data, with its CRCs fixed up half the
// time so that corruptions reach the chunk and zlib checks behind them.
func mutate(rng *rand.Rand, data []byte) []byte {
	m := bytes.Clone(data)
	switch rng.IntN(4) {
	case 0:
		m[rng.IntN(len(m))] ^= byte(1 << rng.IntN(8))
	case 1:
		m = m[:rng.IntN(len(m))]
	case 2:
		i := rng.IntN(len(m))
		m = append(m[:i:i], append(bytes.Repeat([]byte{byte(rng.Uint32())}, 1+rng.IntN(8)), m[i:]...)...)
	case 3:
		i, j := rng.IntN(len(m)), rng.IntN(len(m))
		m[i], m[j] = m[j], m[i]
	}
	if rng.IntN(2) == 0 {
		fixCRCs(m)
	}
	return m
}

// fixCRCs rewrites the CRC of every whole chunk of a PNG file.
func fixCRCs(b []byte) {
	for p := len(pngHeader); p+12 <= len(b); {
		n := int(uint32(b[p])<<24 | uint32(b[p+1])<<16 | uint32(b[p+2])<<8 | uint32(b[p+3]))
		if n < 0 || p+12+n > len(b) {
			return
		}
		c := chunk(nil, string(b[p+4:p+8]), b[p+8:p+8+n])
		copy(b[p+8+n:], c[len(c)-4:])
		p += 12 + n
	}
}

// bombPNG is an RGB image of w×h whose single IDAT inflates to extra times
// the pixel data it needs (zero rows, filter None).
func bombPNG(w, h, extra int) []byte {
	rng := rand.New(rand.NewPCG(5, 6))
	c := rawCfg{w: w, h: h, depth: 8, ct: 2}
	small := rawPNG(rng, c)
	_ = small
	raw := make([]byte, (1+3*w)*h*extra)
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	b := []byte(pngHeader)
	b = chunk(b, "IHDR", small[16:29])
	b = chunk(b, "IDAT", z.Bytes())
	return chunk(b, "IEND", nil)
}

// TestIDATBombStopsAtPixelData: an IDAT stream far longer than the image
// is refused after the image's rows plus one byte have been inflated: the
// decoder reads only a sliver of the compressed stream.
func TestIDATBombStopsAtPixelData(t *testing.T) {
	data := bombPNG(64, 64, 4000) // 47 MB of rows, ~46 KB compressed
	d := &decoder{data: data}
	err := d.parseChunks(false, func() error {
		return d.inflate(func(int, int, int, []byte) error { return nil })
	})
	if !errors.Is(err, ErrFormat) {
		t.Fatalf("bomb: %v, want a format error", err)
	}
	if _, werr := png.Decode(bytes.NewReader(data)); werr == nil {
		t.Fatal("image/png accepts the bomb")
	}
	if d.pos > len(data)/4 {
		t.Fatalf("read %d of %d bytes of the bomb", d.pos, len(data))
	}
}

// TestMaxPixelsBeforeAllocation: a header beyond MaxPixels is refused
// before any row is allocated, in both modes.
func TestMaxPixelsBeforeAllocation(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	data := rawPNG(rng, rawCfg{w: 300, h: 200, depth: 8, ct: 6})
	var started bool
	err := Stream(data, Options{MaxPixels: 300*200 - 1}, func(Info) error { started = true; return nil },
		func(int, []byte) error { return nil })
	if !errors.Is(err, ErrTooLarge) || started {
		t.Fatalf("Stream: %v (started %v), want ErrTooLarge before start", err, started)
	}
	if _, err := Decode(data, Options{MaxPixels: 300*200 - 1}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Decode: %v, want ErrTooLarge", err)
	}
	if _, err := Decode(data, Options{MaxPixels: 300 * 200}); err != nil {
		t.Fatalf("Decode at the limit: %v", err)
	}
}

func TestContextCancelled(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	data := rawPNG(rng, rawCfg{w: 50, h: 100, depth: 8, ct: 2})
	ctx, cancel := context.WithCancel(context.Background())
	rows := 0
	err := Stream(data, Options{Ctx: ctx}, func(Info) error { return nil }, func(y int, _ []byte) error {
		rows++
		if y == 10 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || rows > 10+ctxRows {
		t.Fatalf("cancelled Stream: %v after %d rows", err, rows)
	}
}

// TestStreamAllocation: Stream of a non-interlaced image allocates no more
// than StreamBytes, a small fraction of the frame; an interlaced one no more
// than StreamBytes, which includes the frame.
func TestStreamAllocation(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, c := range []rawCfg{
		{w: 1200, h: 800, depth: 8, ct: 6},
		{w: 1200, h: 800, depth: 16, ct: 2, trns: true},
		{w: 1200, h: 800, depth: 4, ct: 3, plte: 16},
		{w: 600, h: 400, depth: 8, ct: 6, interlace: true},
	} {
		data := rawPNG(rng, c)
		info, err := DecodeInfo(data)
		if err != nil {
			t.Fatal(err)
		}
		inflaters.Get() // start without a pooled inflater
		var ms0, ms1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		err = Stream(data, Options{}, func(Info) error { return nil }, func(int, []byte) error { return nil })
		runtime.ReadMemStats(&ms1)
		if err != nil {
			t.Fatal(err)
		}
		got, limit := int64(ms1.TotalAlloc-ms0.TotalAlloc), StreamBytes(info)
		frame := int64(info.Width * info.Height * info.Layout.BytesPerPixel())
		t.Logf("%+v: allocated %d, StreamBytes %d, frame %d", c, got, limit, frame)
		if got > limit+8<<10 {
			t.Errorf("%+v: allocated %d > StreamBytes %d", c, got, limit)
		}
		if !c.interlace && got > frame/8 {
			t.Errorf("%+v: allocated %d, frame is %d", c, got, frame)
		}
	}
}

// TestTrailingPixelDataRefused: a zlib stream holding more than the rows
// (here within one small IDAT chunk the inflater reads whole) is refused,
// as image/png refuses it ("too much pixel data").
func TestTrailingPixelDataRefused(t *testing.T) {
	data := bombPNG(8, 8, 2)
	if _, err := png.Decode(bytes.NewReader(data)); err == nil {
		t.Fatal("image/png accepts trailing pixel data")
	}
	if _, err := Decode(data, Options{}); !errors.Is(err, ErrFormat) {
		t.Fatalf("Decode: %v, want a format error", err)
	}
	err := Stream(data, Options{}, func(Info) error { return nil }, func(int, []byte) error { return nil })
	if !errors.Is(err, ErrFormat) {
		t.Fatalf("Stream: %v, want a format error", err)
	}
}

// chunks splits a PNG file into its chunks (length, type, data, CRC).
func chunks(data []byte) [][]byte {
	var out [][]byte
	for p := len(pngHeader); p+12 <= len(data); {
		n := int(uint32(data[p])<<24 | uint32(data[p+1])<<16 | uint32(data[p+2])<<8 | uint32(data[p+3]))
		out = append(out, data[p:p+12+n])
		p += 12 + n
	}
	return out
}

// TestChunkEditsMatchImagePNG removes, duplicates, swaps and moves whole
// chunks (CRCs intact): chunk order rules must match image/png's.
func TestChunkEditsMatchImagePNG(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, c := range []rawCfg{
		{w: 6, h: 5, depth: 8, ct: 3, plte: 10, trns: true, split: 9, extra: true},
		{w: 6, h: 5, depth: 4, ct: 3, plte: 5},
		{w: 6, h: 5, depth: 16, ct: 2, trns: true, split: 7, extra: true},
		{w: 6, h: 5, depth: 2, ct: 0, trns: true, interlace: true, extra: true},
	} {
		cs := chunks(rawPNG(rng, c))
		join := func(parts [][]byte) []byte {
			return bytes.Join(append([][]byte{[]byte(pngHeader)}, parts...), nil)
		}
		for i := range cs {
			var edits [][][]byte
			edits = append(edits, append(append([][]byte{}, cs[:i]...), cs[i+1:]...))                // remove
			edits = append(edits, append(append([][]byte{}, cs[:i+1]...), cs[i:]...))                // duplicate
			edits = append(edits, append(append(append([][]byte{}, cs[:i]...), cs[i+1:]...), cs[i])) // move to end
			if i+1 < len(cs) {
				s := append([][]byte{}, cs...)
				s[i], s[i+1] = s[i+1], s[i]
				edits = append(edits, s) // swap
			}
			for _, e := range edits {
				checkAgainstPNG(t, join(e), 1<<20)
			}
		}
	}
}

// paethRef is image/png's filterPaeth, the reference for paeth.
func paethRef(cdat, pdat []byte, bpp int) {
	var a, b, c, pa, pb, pc int
	for i := 0; i < bpp; i++ {
		a, c = 0, 0
		for j := i; j < len(cdat); j += bpp {
			b = int(pdat[j])
			pa = b - c
			pb = a - c
			pc = abs(pa + pb)
			pa = abs(pa)
			pb = abs(pb)
			if pa <= pb && pa <= pc {
				// a
			} else if pb <= pc {
				a = b
			} else {
				a = c
			}
			a += int(cdat[j])
			a &= 0xff
			cdat[j] = uint8(a)
			c = b
		}
	}
}

// TestPaethMatchesImagePNG runs both unfilters on random rows, and on rows
// of few distinct values (where predictor ties are frequent).
func TestPaethMatchesImagePNG(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, bpp := range []int{1, 2, 3, 4, 6, 8} {
		for _, mask := range []byte{0xff, 3, 1} {
			c, p := make([]byte, 97*bpp), make([]byte, 97*bpp)
			fill(rng, c)
			fill(rng, p)
			for i := range p {
				c[i] &= mask
				p[i] &= mask
			}
			want := bytes.Clone(c)
			paethRef(want, p, bpp)
			paeth(c, p, bpp)
			if !bytes.Equal(c, want) {
				t.Fatalf("bpp %d mask %#x: paeth differs from image/png", bpp, mask)
			}
		}
	}
}

// TestCancelledBeforePixels: a context already cancelled at the first IDAT
// stops the decode before the image is allocated.
func TestCancelledBeforePixels(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	data := rawPNG(rng, rawCfg{w: 1000, h: 1000, depth: 8, ct: 6})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	_, err := Decode(data, Options{Ctx: ctx})
	runtime.ReadMemStats(&ms1)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Decode: %v, want context.Canceled", err)
	}
	if n := ms1.TotalAlloc - ms0.TotalAlloc; n > 1<<20 {
		t.Fatalf("cancelled Decode allocated %d bytes", n)
	}
}
