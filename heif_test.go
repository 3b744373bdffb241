package fastimagecache

import (
	"bytes"
	"context"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/codec"
	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// encodeAVIF encodes img with the AVIF encoder (libavif in WebAssembly).
func encodeAVIF(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, codec.EncodeAVIF(&buf, img, codec.AVIFOptions{Quality: 80, Speed: 10}))
	return buf.Bytes()
}

// cornerImage is a w×h opaque blue image with a red top-left quadrant, to find where
// orientation puts that corner.
func cornerImage(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{B: 255, A: 255}
			if x < w/2 && y < h/2 {
				c = color.NRGBA{R: 255, A: 255}
			}
			m.SetNRGBA(x, y, c)
		}
	}
	return m
}

// boxAt returns the box of type typ found first in b (its header included).
func boxAt(t testing.TB, b []byte, typ string) []byte {
	t.Helper()
	i := bytes.Index(b, []byte(typ))
	require.Greater(t, i, 3, "no %s box", typ)
	n := int(binary.BigEndian.Uint32(b[i-4:]))
	return b[i-4 : i-4+n]
}

// rewrapAVIF rebuilds a one-item AVIF made by the encoder with irot and imir
// properties (-1 for none): the same av1C and coded payload in our own container.
func rewrapAVIF(t testing.TB, enc []byte, irot, imir int) []byte {
	t.Helper()
	av1C := boxAt(t, enc, "av1C")
	mdat := boxAt(t, enc, "mdat")
	var w, h uint32
	ispe := boxAt(t, enc, "ispe")
	w, h = binary.BigEndian.Uint32(ispe[12:]), binary.BigEndian.Uint32(ispe[16:])
	f := fixture.AVIFFile(w, h)
	f.Items[0].Data = mdat[8:]
	f.Items[0].Props = [][]byte{av1C}
	f.Items[0].Irot, f.Items[0].Imir = irot, imir
	return f.Bytes()
}

// heifCache is a Cache accepting AVIF, and HEIC in builds with the heic tag.
func heifCache(t *testing.T) *Cache {
	t.Helper()
	lim := Limits{Formats: []Format{JPEG, PNG, AVIF}}
	if codec.HEIC {
		lim.Formats = append(lim.Formats, HEIC)
	}
	c, err := New(t.TempDir(), WithLimits(lim))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func getPNG(t *testing.T, c *Cache, id ID, s Spec) image.Image {
	t.Helper()
	s.Format = PNG
	r, err := c.Get(context.Background(), id, s)
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(readRendition(t, r)))
	require.NoError(t, err)
	return img
}

func TestAVIFInput(t *testing.T) {
	c := heifCache(t)
	opaque := encodeAVIF(t, cornerImage(120, 80))
	info := put(t, c, opaque, DeclaredType("image/avif"))
	assert.Equal(t, AVIF, info.Format)
	assert.Equal(t, 120, info.Width)
	assert.Equal(t, 80, info.Height)
	img := getPNG(t, c, info.ID, Spec{Width: 60, Height: 60})
	assert.Equal(t, image.Rect(0, 0, 60, 40), img.Bounds())
	r, _, _, _ := img.At(5, 5).RGBA()
	assert.Greater(t, r, uint32(0xc000), "top-left is red")

	// A polyglot: a HEIF file is boxes to its last byte, so anything appended is not
	// a box and the file is refused (other formats' trailers are ignored, never served).
	_, err := c.Put(context.Background(), bytes.NewReader(fixture.AppendText(opaque, string(fixture.PHP()))))
	require.ErrorIs(t, err, ErrCorrupt)

	// Alpha survives into a PNG rendition.
	trans := cornerImage(64, 64)
	for i := 3; i < len(trans.Pix); i += 4 {
		trans.Pix[i] = 64
	}
	info = put(t, c, encodeAVIF(t, trans))
	img = getPNG(t, c, info.ID, Spec{Width: 32, Height: 32})
	_, _, _, a := img.At(20, 20).RGBA()
	assert.Less(t, a, uint32(0x8000), "alpha kept")
}

// TestAVIFOrientation: irot and imir are applied as the equivalent EXIF orientation
// (irot anticlockwise; imir axis 0 exchanges top and bottom).
func TestAVIFOrientation(t *testing.T) {
	c := heifCache(t)
	enc := encodeAVIF(t, cornerImage(64, 32))
	for _, tc := range []struct {
		irot, imir int
		w, h       int
		red        image.Point // a point inside the red quadrant once oriented
	}{
		{-1, -1, 64, 32, image.Pt(8, 4)},
		{1, -1, 32, 64, image.Pt(4, 56)},  // 90° anticlockwise: top-left goes bottom-left
		{3, -1, 32, 64, image.Pt(28, 8)},  // 90° clockwise: top-left goes top-right
		{2, -1, 64, 32, image.Pt(56, 28)}, // 180°
		{-1, 0, 64, 32, image.Pt(8, 28)},  // top and bottom exchanged
		{-1, 1, 64, 32, image.Pt(56, 4)},  // left and right exchanged
		{1, 0, 32, 64, image.Pt(4, 8)},    // transpose
	} {
		data := rewrapAVIF(t, enc, tc.irot, tc.imir)
		info := put(t, c, data)
		img := getPNG(t, c, info.ID, Spec{Width: 64, Height: 64})
		require.Equal(t, image.Rect(0, 0, tc.w, tc.h), img.Bounds(), "irot %d imir %d", tc.irot, tc.imir)
		r, _, b, _ := img.At(tc.red.X, tc.red.Y).RGBA()
		assert.True(t, r > 0xc000 && b < 0x4000, "irot %d imir %d: %v not red", tc.irot, tc.imir, tc.red)
	}
}

// TestHEIFRejectedBeforeDecode: every hostile AVIF/HEIC header is refused from the
// box walk alone, before the codec is called.
func TestHEIFRejectedBeforeDecode(t *testing.T) {
	c := heifCache(t)
	forbidDecode(t, c)
	heic := fixture.HEICFile(64, 64).Bytes()
	for _, tc := range []struct {
		name     string
		in       []byte
		declared string
		want     error
	}{
		{"avif ispe 1000000x1000000", fixture.AVIFHugeISPE(1_000_000, 1_000_000), "", ErrDimensions},
		{"avif ispe one row over MaxPixels", fixture.AVIFHugeISPE(5000, 10001), "", ErrDimensions},
		{"avif ispe over MaxWidth", fixture.AVIFHugeISPE(16385, 1), "image/avif", ErrDimensions},
		{"avif grid declaring 65536 tiles", fixture.AVIFGridFlood(), "", ErrDimensions},
		{"avif 4000x4000 grid of one 20000x20000 tile", fixture.AVIFGridBigTiles(20000, 4000), "", ErrDimensions},
		{"avif iinf declaring 1000000 items", fixture.AVIFItemFlood(1_000_000), "", ErrDimensions},
		{"avif ispe 16x16 over an AV1 sequence header of 65536x65536", fixture.AVIFBitstreamOverISPE(16, 16, 65536, 65536), "", ErrDimensions},
		{"avif box largesize 2^64-1", fixture.AVIFBoxOverflow(), "", ErrCorrupt},
		{"avif truncated mdat", fixture.AVIFTruncatedMdat(1 << 20), "", ErrCorrupt},
		{"avif sequence without a still image", fixture.AVIFSequence(false), "", ErrUnsupportedFormat},
		{"avif sequence (avis) with a still image", fixture.AVIFSequence(true), "", ErrUnsupportedFormat},
		{"avif missing ispe", fixture.AVIFNoISPE(), "", ErrCorrupt},
		{"avif zero ispe", fixture.AVIFHugeISPE(0, 64), "", ErrCorrupt},
		{"avif alpha plane 100000x100000", fixture.AVIFHugeAlpha(100_000, 100_000), "", ErrDimensions},
		{"avif alpha plane over MaxWidth", fixture.AVIFHugeAlpha(16385, 16), "", ErrDimensions},
		{"avif declared as png", fixture.AVIFFile(64, 64).Bytes(), "image/png", ErrTypeMismatch},
		{"heic declared as png", heic, "image/png", ErrTypeMismatch},
		{"heic ispe 100000x100000", fixture.HEICFile(100_000, 100_000).Bytes(), "", map[bool]error{true: ErrDimensions, false: ErrUnsupportedFormat}[codec.HEIC]},
		{"heic ispe 16x16 over an HEVC SPS of 65536x65536 in hvcC", fixture.HEICBitstreamOverISPE(16, 16, 65536, 65536, false), "", map[bool]error{true: ErrDimensions, false: ErrUnsupportedFormat}[codec.HEIC]},
		{"heic ispe 16x16 over an in-band HEVC SPS of 65536x65536", fixture.HEICBitstreamOverISPE(16, 16, 65536, 65536, true), "", map[bool]error{true: ErrDimensions, false: ErrUnsupportedFormat}[codec.HEIC]},
		{"heic hvc1 without an SPS", fixture.HEICNoSPS(), "", map[bool]error{true: ErrCorrupt, false: ErrUnsupportedFormat}[codec.HEIC]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []PutOption
			if tc.declared != "" {
				opts = append(opts, DeclaredType(tc.declared))
			}
			_, err := c.Put(context.Background(), bytes.NewReader(tc.in), opts...)
			require.ErrorIs(t, err, tc.want)
		})
	}
}

// TestHEIFSniff: AVIF and HEIC are told apart by their brands, and a file that only
// says mif1 by its primary item's coding.
func TestHEIFSniff(t *testing.T) {
	generic := func(f fixture.HEIF) []byte {
		f.Major, f.Brands = "mif1", []string{"mif1", "miaf"}
		return f.Bytes()
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want Format
		ok   bool
	}{
		{"avif brand", fixture.AVIFFile(8, 8).Bytes(), AVIF, true},
		{"heic brand", fixture.HEICFile(8, 8).Bytes(), HEIC, true},
		{"mif1 with av01", generic(fixture.AVIFFile(8, 8)), AVIF, true},
		{"mif1 with hvc1", generic(fixture.HEICFile(8, 8)), HEIC, true},
		{"mif1 with a grid of hvc1", generic(fixture.HEIFGrid("heic", "hvc1", 1, 2, 8, 8, 16, 8)), HEIC, true},
		{"mp4", fixture.Box("ftyp", []byte("isom"), make([]byte, 4), []byte("isommp41")), "", false},
	} {
		f, ok := sniff(tc.in)
		assert.Equal(t, tc.want, f, tc.name)
		assert.Equal(t, tc.ok, ok, tc.name)
	}
	for ct, want := range map[string]Format{"image/avif": AVIF, "image/heic": HEIC, "image/heif": HEIC} {
		f, claim, ok := declaredFormat(ct)
		assert.True(t, claim && ok && f == want, ct)
	}
}

// TestHEICNeedsTag: without the heic build tag, Limits naming HEIC fail at New and
// HEIC input is an unsupported format; with it, the decoder's own test files are
// read and rendered.
func TestHEICNeedsTag(t *testing.T) {
	_, err := New(t.TempDir(), WithLimits(Limits{Formats: []Format{JPEG, HEIC}}))
	if !codec.HEIC {
		require.Error(t, err)
		assert.Contains(t, err.Error(), "-tags heic")
		c := heifCache(t)
		forbidDecode(t, c)
		_, err := c.Put(context.Background(), bytes.NewReader(fixture.HEICFile(64, 64).Bytes()))
		require.ErrorIs(t, err, ErrUnsupportedFormat)
		return
	}
	require.NoError(t, err)
	c := heifCache(t)
	dir := heicTestdata(t)
	for _, name := range []string{"test.heic", "test8.heic", "test12.heic", "gray.heic"} {
		data, err := os.ReadFile(filepath.Join(dir, name)) // #nosec G304 -- the module cache's test files
		require.NoError(t, err)
		info := put(t, c, data)
		assert.Equal(t, HEIC, info.Format, name)
		img := getPNG(t, c, info.ID, Spec{Width: 100, Height: 100})
		assert.LessOrEqual(t, img.Bounds().Dx(), 100, name)
	}
}

// heicTestdata is the gen2brain/heic module's testdata directory (we have no HEIC
// encoder to make valid files).
func heicTestdata(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/gen2brain/heic").Output() // #nosec G204 -- fixed arguments
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "testdata")
}
