package gifscan

import (
	"bytes"
	"compress/lzw"
	"errors"
	"go/build"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ---------------------------------------------------------------------------
// Builders

// gifBuilder hand-assembles a GIF byte by byte. Every method appends one
// block with its fields spelled out, so hostile variants are easy to make.
type gifBuilder struct{ b []byte }

func (g *gifBuilder) u8(v ...byte) *gifBuilder { g.b = append(g.b, v...); return g }
func (g *gifBuilder) u16(v int) *gifBuilder    { return g.u8(byte(v), byte(v>>8)) }

// header writes the signature and logical screen descriptor. gctBits < 0
// means "no global color table"; otherwise the table has 2^(gctBits+1)
// entries and is filled with a grey ramp.
func (g *gifBuilder) header(sig string, w, h int, gctBits int) *gifBuilder {
	g.b = append(g.b, sig...)
	g.u16(w).u16(h) // logical screen width, height
	fields := byte(0)
	if gctBits >= 0 {
		fields = flagColorTable | byte(gctBits)
	}
	g.u8(fields, 0, 0) // packed fields, background index, aspect ratio
	if gctBits >= 0 {
		g.colorTable(gctBits)
	}
	return g
}

func (g *gifBuilder) colorTable(bits int) {
	for i := 0; i < 1<<(bits+1); i++ {
		g.u8(byte(i), byte(i), byte(i))
	}
}

// frameOpts tweaks a frame written by frame().
type frameOpts struct {
	lctBits  int  // local color table of 2^(lctBits+1) entries; -1 for none
	litWidth byte // LZW minimum code size written (0 means 2)
	noData   bool // write the block terminator straight after the code size
}

// frame writes an image descriptor, optional local color table, and real
// LZW data (via compress/lzw) for a w*h frame of palette index 0, split
// into sub-blocks of at most 255 bytes.
func (g *gifBuilder) frame(left, top, w, h int, o frameOpts) *gifBuilder {
	g.u8(introImage)
	g.u16(left).u16(top).u16(w).u16(h)
	fields := byte(0)
	if o.lctBits >= 0 {
		fields = flagColorTable | byte(o.lctBits)
	}
	g.u8(fields)
	if o.lctBits >= 0 {
		g.colorTable(o.lctBits)
	}
	lit := o.litWidth
	if lit == 0 {
		lit = 2
	}
	g.u8(lit)
	if !o.noData {
		g.subBlocks(lzwData(int(lit), w*h))
	}
	return g.u8(0) // block terminator
}

// subBlocks splits p into length-prefixed sub-blocks (no terminator).
func (g *gifBuilder) subBlocks(p []byte) {
	for len(p) > 0 {
		n := min(len(p), 255)
		g.u8(byte(n))
		g.u8(p[:n]...)
		p = p[n:]
	}
}

// gce writes a graphic control extension (delay 0, no transparency).
func (g *gifBuilder) gce() *gifBuilder {
	return g.u8(introExtension, labelGraphicControl, 4 /*size*/, 0 /*flags*/, 0, 0 /*delay*/, 0 /*transparent*/, 0 /*terminator*/)
}

// loop writes a NETSCAPE2.0 application extension with the loop count.
func (g *gifBuilder) loop(n int) *gifBuilder {
	g.u8(introExtension, labelApplication, 11)
	g.b = append(g.b, "NETSCAPE2.0"...)
	g.u8(3, 1).u16(n)
	return g.u8(0)
}

// comment writes a comment extension with one sub-block.
func (g *gifBuilder) comment(text string) *gifBuilder {
	g.u8(introExtension, labelComment)
	g.subBlocks([]byte(text))
	return g.u8(0)
}

// plainText writes a plain text extension whose first block has size hdr.
func (g *gifBuilder) plainText(hdr byte) *gifBuilder {
	g.u8(introExtension, labelPlainText, hdr)
	g.b = append(g.b, make([]byte, hdr)...) // grid position/size, cell size, colors
	g.subBlocks([]byte("hi"))
	return g.u8(0)
}

func (g *gifBuilder) trailer() *gifBuilder { return g.u8(introTrailer) }
func (g *gifBuilder) bytes() []byte        { return bytes.Clone(g.b) }

// lzwData returns real GIF LZW data for n zero pixels.
func lzwData(litWidth, n int) []byte {
	var buf bytes.Buffer
	w := lzw.NewWriter(&buf, lzw.LSB, litWidth)
	_, _ = w.Write(make([]byte, n))
	_ = w.Close()
	return buf.Bytes()
}

// simpleGIF is a hand-built one-frame GIF89a, 4x3.
func simpleGIF() []byte {
	g := &gifBuilder{}
	return g.header("GIF89a", 4, 3, 1).gce().frame(0, 0, 4, 3, frameOpts{lctBits: -1}).trailer().bytes()
}

// framesGIF is a hand-built GIF with n 1x1 frames on a 2x2 screen. If
// trailer is false the file just stops after the last frame.
func framesGIF(n int, trailer bool) []byte {
	g := (&gifBuilder{}).header("GIF89a", 2, 2, 0).loop(0)
	for i := 0; i < n; i++ {
		g.gce().frame(i%2, (i/2)%2, 1, 1, frameOpts{lctBits: -1})
	}
	if trailer {
		g.trailer()
	}
	return g.bytes()
}

// encodeGIF encodes frames with the real image/gif encoder.
func encodeGIF(t testing.TB, g *gif.GIF) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, gif.EncodeAll(&buf, g))
	return buf.Bytes()
}

func paletted(r image.Rectangle) *image.Paletted {
	m := image.NewPaletted(r, palette.Plan9)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			m.SetColorIndex(x, y, uint8(x*7+y*13))
		}
	}
	return m
}

func singleEncoded(t testing.TB) []byte {
	var buf bytes.Buffer
	require.NoError(t, gif.Encode(&buf, paletted(image.Rect(0, 0, 37, 23)), nil))
	return buf.Bytes()
}

func animatedEncoded(t testing.TB) []byte {
	return encodeGIF(t, &gif.GIF{
		Image: []*image.Paletted{
			paletted(image.Rect(0, 0, 40, 30)),
			paletted(image.Rect(10, 5, 30, 25)), // sub-rectangle
			paletted(image.Rect(39, 29, 40, 30)),
		},
		Delay:     []int{1, 2, 3},
		LoopCount: 2,
		Config:    image.Config{Width: 40, Height: 30, ColorModel: color.Palette(palette.Plan9)},
	})
}

// patch returns a copy of b with b[off:] overwritten by v.
func patch(b []byte, off int, v ...byte) []byte {
	c := bytes.Clone(b)
	copy(c[off:], v)
	return c
}

// ---------------------------------------------------------------------------
// Tests

func TestScanValid(t *testing.T) {
	tests := []struct {
		name      string
		data      []byte
		maxFrames int
		want      Info
	}{
		{
			name: "image/gif single frame", data: singleEncoded(t), maxFrames: 1,
			want: Info{Width: 37, Height: 23, Frames: 1, FramePixels: 37 * 23, LoopCount: -1},
		},
		{
			name: "image/gif animated", data: animatedEncoded(t), maxFrames: 3,
			want: Info{Width: 40, Height: 30, Frames: 3, FramePixels: 40*30 + 20*20 + 1, LoopCount: 2},
		},
		{
			name: "hand-built GIF89a", data: simpleGIF(), maxFrames: 1,
			want: Info{Width: 4, Height: 3, Frames: 1, FramePixels: 12, LoopCount: -1},
		},
		{
			name:      "GIF87a with local color table only",
			data:      (&gifBuilder{}).header("GIF87a", 5, 5, -1).frame(1, 1, 4, 4, frameOpts{lctBits: 2}).trailer().bytes(),
			maxFrames: 1,
			want:      Info{Width: 5, Height: 5, Frames: 1, FramePixels: 16, LoopCount: -1},
		},
		{
			name:      "frame touching bottom-right corner",
			data:      (&gifBuilder{}).header("GIF89a", 10, 10, 0).frame(9, 9, 1, 1, frameOpts{lctBits: -1}).trailer().bytes(),
			maxFrames: 1,
			want:      Info{Width: 10, Height: 10, Frames: 1, FramePixels: 1, LoopCount: -1},
		},
		{
			name: "comment, plain text and loop-forever extensions",
			data: (&gifBuilder{}).header("GIF89a", 3, 3, 0).loop(0).comment("made by a test").plainText(12).
				frame(0, 0, 3, 3, frameOpts{lctBits: -1}).comment("bye").trailer().bytes(),
			maxFrames: 1,
			want:      Info{Width: 3, Height: 3, Frames: 1, FramePixels: 9, LoopCount: 0},
		},
		{
			name:      "LZW min code size 8",
			data:      (&gifBuilder{}).header("GIF89a", 3, 3, 7).frame(0, 0, 3, 3, frameOpts{lctBits: -1, litWidth: 8}).trailer().bytes(),
			maxFrames: 1,
			want:      Info{Width: 3, Height: 3, Frames: 1, FramePixels: 9, LoopCount: -1},
		},
		{
			name:      "large frame needing many sub-blocks",
			data:      (&gifBuilder{}).header("GIF89a", 300, 200, 0).frame(0, 0, 300, 200, frameOpts{lctBits: -1}).trailer().bytes(),
			maxFrames: 1,
			want:      Info{Width: 300, Height: 200, Frames: 1, FramePixels: 60000, LoopCount: -1},
		},
		{
			name: "trailing bytes after trailer", data: append(simpleGIF(), "PK\x03\x04zip"...), maxFrames: 1,
			want: Info{Width: 4, Height: 3, Frames: 1, FramePixels: 12, LoopCount: -1, Trailing: 7},
		},
		{
			name: "maxFrames exactly equal to frame count", data: framesGIF(5, true), maxFrames: 5,
			want: Info{Width: 2, Height: 2, Frames: 5, FramePixels: 5, LoopCount: 0},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Scan(tc.data, tc.maxFrames)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)

			// Everything Scan accepts here, the real decoder accepts too.
			g, err := gif.DecodeAll(bytes.NewReader(tc.data))
			require.NoError(t, err)
			assert.Len(t, g.Image, got.Frames)
			assert.Equal(t, got.Width, g.Config.Width)
			assert.Equal(t, got.Height, g.Config.Height)
			assert.Equal(t, got.LoopCount, g.LoopCount)
		})
	}
}

func TestScanRejects(t *testing.T) {
	valid := simpleGIF()
	gct := 12                      // size of the 4-entry global color table in simpleGIF
	frameAt := headerLen + gct + 8 // offset of 0x2C after the GCE in simpleGIF
	require.Equal(t, byte(introImage), valid[frameAt])

	tests := []struct {
		name      string
		data      []byte
		maxFrames int
		wantErr   error
		wantInfo  *Info // checked when non-nil
	}{
		{name: "empty", data: nil, wantErr: ErrMalformed, wantInfo: &Info{}},
		{name: "bad signature", data: patch(valid, 0, []byte("GIF88a")...), wantErr: ErrMalformed, wantInfo: &Info{}},
		{name: "not a GIF", data: []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"), wantErr: ErrMalformed},
		{name: "zero screen width", data: patch(valid, 6, 0, 0), wantErr: ErrFrameBounds},
		{name: "zero screen height", data: patch(valid, 8, 0, 0), wantErr: ErrFrameBounds},
		{
			// Descriptor claims a 256-entry table; the file ends right after it.
			name:    "truncated global color table",
			data:    patch(valid[:headerLen], 10, flagColorTable|7),
			wantErr: ErrMalformed,
		},
		{
			name:    "frame right edge outside screen (left+width = W+1)",
			data:    (&gifBuilder{}).header("GIF89a", 10, 10, 0).frame(1, 0, 10, 10, frameOpts{lctBits: -1}).trailer().bytes(),
			wantErr: ErrFrameBounds, wantInfo: &Info{Width: 10, Height: 10, LoopCount: -1},
		},
		{
			name:    "frame bottom edge outside screen (top+height = H+1)",
			data:    (&gifBuilder{}).header("GIF89a", 10, 10, 0).frame(0, 9, 1, 2, frameOpts{lctBits: -1}).trailer().bytes(),
			wantErr: ErrFrameBounds,
		},
		{
			name:    "frame origin far outside screen",
			data:    patch(valid, frameAt+1, 0xff, 0xff, 0xff, 0xff),
			wantErr: ErrFrameBounds,
		},
		{name: "zero frame width", data: patch(valid, frameAt+5, 0, 0), wantErr: ErrFrameBounds},
		{name: "zero frame height", data: patch(valid, frameAt+7, 0, 0), wantErr: ErrFrameBounds},
		{
			// 65535x65535 descriptor with 1 byte of "LZW data" on a 1x1 screen.
			name: "huge frame on small screen",
			data: (&gifBuilder{}).header("GIF89a", 1, 1, 0).
				u8(introImage).u16(0).u16(0).u16(65535).u16(65535).u8(0 /*fields*/, 2 /*lit*/, 1, 0 /*one sub-block*/, 0 /*end*/).
				trailer().bytes(),
			wantErr: ErrFrameBounds,
		},
		{name: "missing trailer", data: valid[:len(valid)-1], wantErr: ErrMalformed},
		{name: "bad block introducer", data: patch(valid, len(valid)-1, 0x00), wantErr: ErrMalformed},
		{name: "trailer before any frame", data: (&gifBuilder{}).header("GIF89a", 1, 1, 0).trailer().bytes(), wantErr: ErrMalformed},
		{
			name:    "LZW min code size 1",
			data:    (&gifBuilder{}).header("GIF89a", 2, 2, 0).frame(0, 0, 2, 2, frameOpts{lctBits: -1, litWidth: 1}).trailer().bytes(),
			wantErr: ErrMalformed,
		},
		{
			name:    "LZW min code size 9",
			data:    patch(valid, frameAt+10, 9),
			wantErr: ErrMalformed,
		},
		{
			name:    "no color table at all",
			data:    (&gifBuilder{}).header("GIF89a", 2, 2, -1).frame(0, 0, 2, 2, frameOpts{lctBits: -1}).trailer().bytes(),
			wantErr: ErrMalformed,
		},
		{
			name:    "empty image data",
			data:    (&gifBuilder{}).header("GIF89a", 2, 2, 0).frame(0, 0, 2, 2, frameOpts{lctBits: -1, noData: true}).trailer().bytes(),
			wantErr: ErrMalformed,
		},
		{
			name:    "sub-block length past end of data",
			data:    patch(valid, frameAt+11, 0xff),
			wantErr: ErrMalformed,
		},
		{
			name:    "unknown extension label",
			data:    (&gifBuilder{}).header("GIF89a", 1, 1, 0).u8(introExtension, 0x42, 1, 0, 0).frame(0, 0, 1, 1, frameOpts{lctBits: -1}).trailer().bytes(),
			wantErr: ErrMalformed,
		},
		{name: "graphic control block size 5", data: patch(valid, headerLen+gct+2, 5), wantErr: ErrMalformed},
		{name: "graphic control missing terminator", data: patch(valid, headerLen+gct+7, 1), wantErr: ErrMalformed},
		{
			name:    "plain text header size 11",
			data:    (&gifBuilder{}).header("GIF89a", 1, 1, 0).plainText(11).frame(0, 0, 1, 1, frameOpts{lctBits: -1}).trailer().bytes(),
			wantErr: ErrMalformed,
		},
		{
			name:    "application extension with empty identifier block",
			data:    (&gifBuilder{}).header("GIF89a", 1, 1, 0).u8(introExtension, labelApplication, 0, 0).frame(0, 0, 1, 1, frameOpts{lctBits: -1}).trailer().bytes(),
			wantErr: ErrMalformed,
		},
		{name: "maxFrames zero", data: valid, maxFrames: 0, wantErr: ErrTooManyFrames, wantInfo: &Info{Width: 4, Height: 3, LoopCount: -1}},
		{
			name: "maxFrames+1 frames", data: framesGIF(6, true), maxFrames: 5, wantErr: ErrTooManyFrames,
			wantInfo: &Info{Width: 2, Height: 2, Frames: 5, FramePixels: 5, LoopCount: 0},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			max := tc.maxFrames
			if max == 0 && !errors.Is(tc.wantErr, ErrTooManyFrames) {
				max = 100
			}
			info, err := Scan(tc.data, max)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.wantErr)
			if tc.wantInfo != nil {
				assert.Equal(t, *tc.wantInfo, info)
			}
		})
	}
}

// A file with 10000 frames must be rejected after maxFrames+1 descriptors,
// without walking the rest: the tail is corrupted (no trailer, garbage), so
// reaching it would give ErrMalformed instead.
func TestScanManyFramesStopsEarly(t *testing.T) {
	data := framesGIF(10000, false)
	data = append(data, 0xEE, 0xEE, 0xEE)

	info, err := Scan(data, 100)
	require.ErrorIs(t, err, ErrTooManyFrames)
	assert.Equal(t, 100, info.Frames)

	// Sanity: with a high enough limit the corrupt tail is reached.
	_, err = Scan(data, 20000)
	require.ErrorIs(t, err, ErrMalformed)

	// And the well-formed 10000-frame file is accepted at exactly 10000.
	ok := framesGIF(10000, true)
	info, err = Scan(ok, 10000)
	require.NoError(t, err)
	assert.Equal(t, 10000, info.Frames)
	_, err = Scan(ok, 9999)
	require.ErrorIs(t, err, ErrTooManyFrames)
}

// Every strict prefix of a valid file is rejected, without panicking.
func TestScanTruncatedPrefixes(t *testing.T) {
	for name, data := range map[string][]byte{
		"hand-built": simpleGIF(),
		"animated":   animatedEncoded(t),
		"extensions": (&gifBuilder{}).header("GIF89a", 3, 3, 0).loop(7).comment("c").plainText(12).frame(0, 0, 3, 3, frameOpts{lctBits: 0}).trailer().bytes(),
	} {
		t.Run(name, func(t *testing.T) {
			for n := 0; n < len(data); n++ {
				_, err := Scan(data[:n:n], 10)
				require.Error(t, err, "prefix length %d", n)
				require.True(t, isSentinel(err), "prefix length %d: %v", n, err)
			}
			_, err := Scan(data, 10)
			require.NoError(t, err)
		})
	}
}

// Error text must not echo input bytes.
func TestScanErrorTextHasNoInputBytes(t *testing.T) {
	data := patch(simpleGIF(), 0, []byte("GIFzzz")...)
	_, err := Scan(data, 1)
	require.ErrorIs(t, err, ErrMalformed)
	assert.NotContains(t, err.Error(), "zzz")
}

// The standard library's own GIF test images (real-world encoders, including
// an interlaced one) are accepted and agree with the decoder (skipped if
// GOROOT sources are not present).
func TestScanGorootTestdata(t *testing.T) {
	dir := filepath.Join(build.Default.GOROOT, "src", "image", "testdata")
	files, _ := filepath.Glob(filepath.Join(dir, "*.gif"))
	if len(files) == 0 {
		t.Skip("no GOROOT image testdata")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			info, err := Scan(data, 1000)
			require.NoError(t, err)
			g, err := gif.DecodeAll(bytes.NewReader(data))
			require.NoError(t, err)
			assert.Equal(t, len(g.Image), info.Frames)
			assert.Equal(t, g.Config.Width, info.Width)
			assert.Equal(t, g.Config.Height, info.Height)
		})
	}
}

func isSentinel(err error) bool {
	return errors.Is(err, ErrMalformed) || errors.Is(err, ErrFrameBounds) || errors.Is(err, ErrTooManyFrames)
}

func FuzzScan(f *testing.F) {
	const maxFrames = 8
	seeds := [][]byte{
		simpleGIF(),
		singleEncoded(f),
		animatedEncoded(f),
		framesGIF(3, true),
		framesGIF(maxFrames+1, true),
		(&gifBuilder{}).header("GIF87a", 5, 5, -1).frame(1, 1, 4, 4, frameOpts{lctBits: 2}).trailer().bytes(),
		(&gifBuilder{}).header("GIF89a", 3, 3, 0).loop(0).comment("x").plainText(12).frame(0, 0, 3, 3, frameOpts{lctBits: -1}).trailer().bytes(),
		(&gifBuilder{}).header("GIF89a", 10, 10, 0).frame(1, 0, 10, 10, frameOpts{lctBits: -1}).trailer().bytes(),
		(&gifBuilder{}).header("GIF89a", 2, 2, -1).frame(0, 0, 2, 2, frameOpts{lctBits: -1}).trailer().bytes(),
		append(simpleGIF(), "trailing"...),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Scan(data, maxFrames)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error does not wrap a sentinel: %v", err)
			}
			if info.Frames > maxFrames {
				t.Fatalf("partial Frames %d > %d", info.Frames, maxFrames)
			}
			return
		}
		if info.Width <= 0 || info.Height <= 0 {
			t.Fatalf("success with non-positive size %dx%d", info.Width, info.Height)
		}
		if info.Frames < 1 || info.Frames > maxFrames {
			t.Fatalf("success with Frames=%d", info.Frames)
		}
		if info.Trailing < 0 || info.Trailing >= len(data) {
			t.Fatalf("bad Trailing %d for %d bytes", info.Trailing, len(data))
		}
		if info.FramePixels < int64(info.Frames) || info.FramePixels > int64(info.Frames)*int64(info.Width)*int64(info.Height) {
			t.Fatalf("FramePixels %d inconsistent with %d frames on %dx%d", info.FramePixels, info.Frames, info.Width, info.Height)
		}
	})
}
