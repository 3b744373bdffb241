package fastimagecache

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// newTestCache opens a Cache on a fresh directory and closes it when the test ends.
func newTestCache(t testing.TB, opts ...Option) *Cache {
	t.Helper()
	// A minute per decode instead of the default 10 s: under -race on a loaded 2-core CI
	// machine a 3.6 MP JPEG's decode at full scale has taken longer than 10 s. A test's own
	// WithLimits replaces this (tests of the deadline set theirs).
	opts = append([]Option{WithLimits(Limits{DecodeTimeout: time.Minute})}, opts...)
	c, err := New(t.TempDir(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

// forbidDecode makes the test fail if any decode starts: the input must be rejected from
// its header alone.
func forbidDecode(t *testing.T, c *Cache) {
	c.hooks.decodeStart = func(context.Context) { t.Errorf("decoder started; want rejection before decoding") }
}

func put(t testing.TB, c *Cache, data []byte, opts ...PutOption) Info {
	t.Helper()
	info, err := c.Put(context.Background(), bytes.NewReader(data), opts...)
	require.NoError(t, err)
	return info
}

func readRendition(t testing.TB, r *Rendition) []byte {
	t.Helper()
	defer r.Close()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, r.Size, int64(len(b)))
	return b
}

func TestPutAcceptsEveryFormat(t *testing.T) {
	c := newTestCache(t, WithLimits(Limits{Formats: []Format{JPEG, PNG, GIF, WebP, BMP, TIFF}}))
	for _, tc := range []struct {
		name   string
		in     []byte
		format Format
		w, h   int
		frames int
	}{
		{"jpeg", fixture.JPEG(120, 80, 90), JPEG, 120, 80, 1},
		{"png", fixture.PNG(120, 80), PNG, 120, 80, 1},
		{"gif animated", fixture.GIF(60, 40, 4), GIF, 60, 40, 4},
		{"webp lossless", fixture.WebPLossless(50, 30, color.NRGBA{R: 200, A: 255}), WebP, 50, 30, 1},
		{"bmp", fixture.BMP(40, 30), BMP, 40, 30, 1},
		{"bmp top-down", fixture.BMPTopDown(40, 30), BMP, 40, 30, 1},
		{"tiff", fixture.TIFF(40, 30), TIFF, 40, 30, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := c.Put(t.Context(), bytes.NewReader(tc.in), DeclaredType(tc.format.ContentType()))
			require.NoError(t, err)
			bare := info
			assert.NotEmpty(t, bare.Placeholder)
			bare.Placeholder, bare.Color = "", "" // TestPlaceholder
			assert.Equal(t, Info{ID: idOf(tc.in), Format: tc.format, Width: tc.w, Height: tc.h, Frames: tc.frames, Size: int64(len(tc.in)), OrientedWidth: tc.w, OrientedHeight: tc.h}, bare)
			got, err := c.Stat(t.Context(), info.ID)
			require.NoError(t, err)
			assert.Equal(t, info, got)
		})
	}
}

func TestPutRejectsBeforeDecoding(t *testing.T) {
	lim := Limits{MaxPixels: 1 << 20, MaxFrames: 10, MaxTotalPixels: 8 << 20, Formats: []Format{JPEG, PNG, GIF, WebP, BMP, TIFF}}
	c := newTestCache(t, WithLimits(lim))
	forbidDecode(t, c)
	for _, tc := range []struct {
		name     string
		in       []byte
		declared string // "" means no DeclaredType
		want     []error
	}{
		{"png one row over MaxPixels", fixture.PNG(1024, 1025), "", []error{ErrDimensions}},
		{"png header 100000x100000", fixture.PNGHeader(100000, 100000), "image/png", []error{ErrDimensions}},
		{"png bomb 20000x20000 of zeros", fixture.PNGBomb(20000, 20000), "image/png", []error{ErrDimensions}},
		{"png width over MaxWidth", fixture.PNGHeader(16385, 1), "", []error{ErrDimensions}},
		{"png zero width", fixture.PNGHeader(0, 10), "", []error{ErrDimensions}},
		{"png height over int32", fixture.PNGHeader(10, 1<<31-1), "", []error{ErrDimensions}},
		// One row over MaxPixels, in every format: small enough that the memory budget
		// would let the decode start, so only the per-format size check refuses it.
		{"jpeg one row over MaxPixels", fixture.JPEGHeader(1024, 1025), "", []error{ErrDimensions}},
		{"gif one row over MaxPixels", fixture.GIF(1024, 1025, 1), "", []error{ErrDimensions}},
		{"webp one row over MaxPixels", fixture.WebPLossless(1024, 1025, color.NRGBA{A: 255}), "", []error{ErrDimensions}},
		{"bmp one row over MaxPixels", fixture.BMPHeader(1024, 1025), "", []error{ErrDimensions}},
		{"tiff one row over MaxPixels", fixture.TIFF(1024, 1025), "", []error{ErrDimensions}},
		{"gif frames over MaxTotalPixels", fixture.GIFFrameBomb(1000, 1000, 9), "", []error{ErrDimensions}},
		{"jpeg declaring 65500x65500", fixture.JPEGHeader(65500, 65500), "image/jpeg", []error{ErrDimensions}},
		{"jpeg progressive scan flood", fixture.JPEGScanFlood(512, 512, 5000), "", []error{ErrDimensions}},
		{"gif 10000 frames", fixture.GIFManyFrames(10000), "image/gif", []error{ErrDimensions}},
		{"gif 11 frames, one over MaxFrames", fixture.GIFManyFrames(11), "", []error{ErrDimensions}},
		{"gif frame outside its screen", fixture.GIFFrameOutside(10, 10, image.Rect(5, 5, 50, 50)), "", []error{ErrDimensions}},
		{"webp 16383x16383 solid in a few bytes", fixture.WebPLossless(16383, 16383, color.NRGBA{A: 255}), "", []error{ErrDimensions}},
		{"webp riff size past the end", fixture.WebPRIFFOversize(64, 64), "", []error{ErrCorrupt}},
		{"bmp header 100000x100000", fixture.BMPHeader(100000, 100000), "", []error{ErrDimensions}},
		{"bmp height MinInt32", fixture.BMPHeader(10, -1<<31), "", []error{ErrDimensions}},
		{"tiff 1M tiles", fixture.TIFFTiled(16384, 16384, 16, 16), "", []error{ErrDimensions}},
		{"tiff ifd loop", fixture.TIFFIFDLoop(), "", []error{ErrCorrupt}},
		{"tiff 2-ifd cycle", fixture.TIFFIFDLoop2(), "", []error{ErrCorrupt}},
		{"html declared png", fixture.HTML(), "image/png", []error{ErrUnsupportedFormat, ErrTypeMismatch}},
		{"php declared jpeg", fixture.PHP(), "image/jpeg", []error{ErrUnsupportedFormat, ErrTypeMismatch}},
		{"html undeclared", fixture.HTML(), "", []error{ErrUnsupportedFormat}},
		{"svg with href to metadata service", fixture.SVG("http://169.254.169.254/latest/meta-data/"), "image/svg+xml", []error{ErrUnsupportedFormat}},
		{"gif declared jpeg", fixture.GIF(8, 8, 1), "image/jpeg", []error{ErrTypeMismatch}},
		{"png declared text/html", fixture.PNG(8, 8), "text/html", []error{ErrTypeMismatch}},
		{"png declared svg", fixture.PNG(8, 8), "image/svg+xml", []error{ErrTypeMismatch}},
		{"zero bytes", fixture.ZeroBytes(), "", []error{ErrUnsupportedFormat}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []PutOption
			if tc.declared != "" {
				opts = append(opts, DeclaredType(tc.declared))
			}
			_, err := c.Put(t.Context(), bytes.NewReader(tc.in), opts...)
			require.Error(t, err)
			for _, want := range tc.want {
				require.ErrorIs(t, err, want)
			}
		})
	}
	assert.Zero(t, c.store.Stats().Originals, "nothing rejected may be stored")
}

func TestPutFormatsAreOptIn(t *testing.T) {
	c := newTestCache(t)
	for _, in := range [][]byte{fixture.BMP(8, 8), fixture.TIFF(8, 8)} {
		_, err := c.Put(t.Context(), bytes.NewReader(in))
		require.ErrorIs(t, err, ErrUnsupportedFormat)
	}
}

func TestPutTruncated(t *testing.T) {
	c := newTestCache(t, WithLimits(Limits{Formats: []Format{JPEG, PNG, GIF, WebP, BMP, TIFF}}))
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"jpeg", fixture.JPEG(64, 64, 90)},
		{"png", fixture.PNG(64, 64)},
		{"gif", fixture.GIF(64, 64, 2)},
		{"webp", fixture.WebPLossless(64, 64, color.NRGBA{G: 255, A: 255})},
		{"bmp", fixture.BMP(64, 64)},
		{"tiff", fixture.TIFF(64, 64)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range []int{len(tc.in) / 2, len(tc.in) - 1} {
				_, err := c.Put(t.Context(), bytes.NewReader(fixture.Truncate(tc.in, n)))
				require.Error(t, err, "truncated to %d of %d bytes", n, len(tc.in))
				assert.True(t, errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsupportedFormat),
					"truncated to %d: %v", n, err)
			}
		})
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func TestPutEndlessInputStopsAtMaxBytes(t *testing.T) {
	const max = 1 << 20
	c := newTestCache(t, WithLimits(Limits{MaxBytes: max}))
	r := &countingReader{r: fixture.Endless(fixture.PNG(8, 8))}
	_, err := c.Put(t.Context(), r)
	require.ErrorIs(t, err, ErrTooLarge)
	var le *LimitError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, int64(max), le.Limit)
	assert.LessOrEqual(t, r.n.Load(), int64(max+1), "read past MaxBytes+1")

	// Exactly MaxBytes is accepted as far as size goes.
	exact := make([]byte, max)
	copy(exact, fixture.PNG(8, 8))
	_, err = c.Put(t.Context(), bytes.NewReader(exact))
	require.NotErrorIs(t, err, ErrTooLarge)
}

func TestPutTwiceStoresOnce(t *testing.T) {
	c := newTestCache(t)
	in := fixture.PNG(32, 32)
	a := put(t, c, in)
	var decodes atomic.Int32
	c.hooks.decodeStart = func(context.Context) { decodes.Add(1) }
	b := put(t, c, in)
	assert.Equal(t, a, b)
	assert.Zero(t, decodes.Load(), "second Put of stored bytes decoded again")
	assert.Equal(t, 1, c.store.Stats().Originals)
}

func TestGetStripsPolyglotPayloads(t *testing.T) {
	c := newTestCache(t)
	for _, tc := range []struct {
		name   string
		in     []byte
		needle string
		spec   Spec
	}{
		{"png+zip", fixture.AppendZIP(fixture.PNG(40, 40), "shell.php", "<?php system($_GET['c']); ?>"), "shell.php", Spec{}},
		{"png+zip resized", fixture.AppendZIP(fixture.PNG(40, 40), "shell.php", "<?php system($_GET['c']); ?>"), "PK\x03\x04", Spec{Width: 20}},
		{"gif+php", fixture.AppendText(fixture.GIF(40, 40, 1), "<?php system($_GET['c']); ?>"), "<?php", Spec{}},
		{"jpeg+php", fixture.AppendText(fixture.JPEG(40, 40, 90), "<?php echo 1; ?>"), "<?php", Spec{}},
		{"png with ztxt bomb", fixture.PNGWithZTXtBomb(40, 40, 50<<20), "zTXt", Spec{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info := put(t, c, tc.in)
			r, err := c.Get(t.Context(), info.ID, tc.spec)
			require.NoError(t, err)
			out := readRendition(t, r)
			assert.NotContains(t, string(out), tc.needle)
			assert.NotEqual(t, tc.in, out)
			_, _, err = image.Decode(bytes.NewReader(out))
			require.NoError(t, err)
		})
	}
}

func TestGetAppliesEXIFOrientation(t *testing.T) {
	const w, h = 64, 32
	r, g, b, wh := color.RGBA{255, 0, 0, 255}, color.RGBA{0, 255, 0, 255}, color.RGBA{0, 0, 255, 255}, color.RGBA{255, 255, 255, 255}
	// Corner colours of the displayed image (top-left, top-right, bottom-left, bottom-right)
	// for each EXIF orientation of a stored image whose quadrants are red, green / blue, white.
	want := map[int][4]color.RGBA{
		1: {r, g, b, wh},
		2: {g, r, wh, b},
		3: {wh, b, g, r},
		4: {b, wh, r, g},
		5: {r, b, g, wh},
		6: {b, r, wh, g},
		7: {wh, g, b, r},
		8: {g, wh, r, b},
	}
	c := newTestCache(t)
	base := fixture.JPEGQuadrants(w, h)
	for o := 1; o <= 8; o++ {
		for name, add := range map[string]func([]byte, int) []byte{"le": fixture.WithEXIFOrientation, "be": fixture.WithEXIFOrientationBE} {
			info := put(t, c, add(base, o))
			for _, spec := range []Spec{{}, {Width: 16, Height: 16, Format: PNG}} {
				rd, err := c.Get(t.Context(), info.ID, spec)
				require.NoError(t, err)
				img, err := jpegOrPNG(readRendition(t, rd))
				require.NoError(t, err)
				bw, bh := img.Bounds().Dx(), img.Bounds().Dy()
				if o >= 5 {
					assert.Greater(t, bh, bw, "orientation %d %s: %dx%d not portrait", o, name, bw, bh)
				} else {
					assert.Greater(t, bw, bh, "orientation %d %s: %dx%d not landscape", o, name, bw, bh)
				}
				corners := [4]image.Point{{1, 1}, {bw - 2, 1}, {1, bh - 2}, {bw - 2, bh - 2}}
				for i, p := range corners {
					assertNear(t, want[o][i], img.At(p.X, p.Y), "orientation %d %s corner %d spec %+v", o, name, i, spec)
				}
			}
		}
	}
}

func jpegOrPNG(b []byte) (image.Image, error) {
	if bytes.HasPrefix(b, []byte("\x89PNG")) {
		return png.Decode(bytes.NewReader(b))
	}
	return jpeg.Decode(bytes.NewReader(b))
}

func assertNear(t *testing.T, want color.RGBA, got color.Color, msgAndArgs ...any) {
	t.Helper()
	r, g, b, _ := got.RGBA()
	d := func(a uint8, b uint32) int { return max(int(a)-int(b>>8), int(b>>8)-int(a)) }
	if d(want.R, r) > 60 || d(want.G, g) > 60 || d(want.B, b) > 60 {
		assert.Fail(t, "colour mismatch", "want %v, got (%d,%d,%d): %v", want, r>>8, g>>8, b>>8, msgAndArgs)
	}
}

func TestGetAnimatedGIF(t *testing.T) {
	c := newTestCache(t)
	info := put(t, c, fixture.GIF(64, 48, 5))
	require.Equal(t, 5, info.Frames)

	r, err := c.Get(t.Context(), info.ID, Spec{Width: 32})
	require.NoError(t, err)
	assert.Equal(t, "image/gif", r.ContentType)
	g, err := gif.DecodeAll(bytes.NewReader(readRendition(t, r)))
	require.NoError(t, err)
	require.Len(t, g.Image, 5, "animation kept")
	assert.Equal(t, []int{10, 10, 10, 10, 10}, g.Delay)
	for _, f := range g.Image {
		assert.Equal(t, image.Rect(0, 0, 32, 24), f.Bounds())
	}
	assert.Equal(t, 32, r.Width)
	assert.Equal(t, 24, r.Height)

	r, err = c.Get(t.Context(), info.ID, Spec{Width: 32, Format: PNG})
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(readRendition(t, r)))
	require.NoError(t, err)
	assert.Equal(t, image.Rect(0, 0, 32, 24), img.Bounds())
}

func TestGetResizes(t *testing.T) {
	c := newTestCache(t)
	info := put(t, c, fixture.JPEG(400, 200, 90))
	for _, tc := range []struct {
		spec         Spec
		w, h         int
		contentType  string
		decodeFormat string
	}{
		{Spec{}, 400, 200, "image/jpeg", "jpeg"},
		{Spec{Width: 100}, 100, 50, "image/jpeg", "jpeg"},
		{Spec{Height: 50}, 100, 50, "image/jpeg", "jpeg"},
		{Spec{Width: 100, Height: 100}, 100, 50, "image/jpeg", "jpeg"},
		{Spec{Width: 100, Height: 100, Fit: Cover}, 100, 100, "image/jpeg", "jpeg"},
		{Spec{Width: 800}, 400, 200, "image/jpeg", "jpeg"},
		{Spec{Width: 800, Enlarge: true}, 800, 400, "image/jpeg", "jpeg"},
		{Spec{Width: 1000, Height: 100, Fit: Cover}, 400, 100, "image/jpeg", "jpeg"},
		{Spec{Width: 50, Format: PNG}, 50, 25, "image/png", "png"},
		{Spec{Width: 50, Format: GIF}, 50, 25, "image/gif", "gif"},
		{Spec{Width: 50, Quality: 10}, 50, 25, "image/jpeg", "jpeg"},
	} {
		r, err := c.Get(t.Context(), info.ID, tc.spec)
		require.NoError(t, err, "%+v", tc.spec)
		assert.Equal(t, tc.contentType, r.ContentType, "%+v", tc.spec)
		assert.NotEmpty(t, r.ETag)
		cfg, format, err := image.DecodeConfig(bytes.NewReader(readRendition(t, r)))
		require.NoError(t, err)
		assert.Equal(t, tc.decodeFormat, format)
		assert.Equal(t, [2]int{tc.w, tc.h}, [2]int{cfg.Width, cfg.Height}, "%+v", tc.spec)
		assert.Equal(t, [2]int{tc.w, tc.h}, [2]int{r.Width, r.Height}, "%+v", tc.spec)
	}
}

func TestGetHitIsServedFromStore(t *testing.T) {
	c := newTestCache(t)
	info := put(t, c, fixture.PNG(100, 100))
	spec := Spec{Width: 10}
	first, err := c.Get(t.Context(), info.ID, spec)
	require.NoError(t, err)
	a := readRendition(t, first)

	var decodes atomic.Int32
	c.hooks.decodeStart = func(context.Context) { decodes.Add(1) }
	// A Spec with the same canonical form names the same rendition.
	second, err := c.Get(t.Context(), info.ID, Spec{Width: 10, Fit: Cover, Format: PNG})
	require.NoError(t, err)
	assert.Equal(t, a, readRendition(t, second))
	assert.Equal(t, first.ETag, second.ETag)
	assert.Zero(t, decodes.Load(), "a hit decoded")
}

func TestGetInvalid(t *testing.T) {
	c := newTestCache(t, WithLimits(Limits{MaxWidth: 1000, MaxHeight: 1000}))
	info := put(t, c, fixture.PNG(20, 20))
	for _, spec := range []Spec{
		{Width: -1},
		{Height: -5},
		{Width: 1001},
		{Height: 1001},
		{Quality: -1},
		{Quality: 101},
		{Format: "svg"},
		{Format: HEIC}, // input only
		{Format: BMP},
		{Format: Auto, Width: 1001},
		{Fit: Fit(7)},
	} {
		_, err := c.Get(t.Context(), info.ID, spec)
		require.ErrorIs(t, err, ErrInvalidSpec, "%+v", spec)
	}
	_, err := c.Get(t.Context(), ID(strings.Repeat("0", 64)), Spec{})
	require.ErrorIs(t, err, ErrNotFound)
	_, err = c.Get(t.Context(), ID("../../etc/passwd"), Spec{})
	require.ErrorIs(t, err, ErrInvalidSpec)
	_, err = c.Stat(t.Context(), ID("../"+string(info.ID)[3:]))
	require.ErrorIs(t, err, ErrInvalidSpec)
}

func TestParseID(t *testing.T) {
	valid := strings.Repeat("ab", 32)
	id, err := ParseID(valid)
	require.NoError(t, err)
	assert.Equal(t, ID(valid), id)
	for _, s := range []string{
		"",
		"../../../../etc/passwd",
		"..",
		"/" + valid[1:],
		valid[:62] + "/x",
		valid[:63],
		valid + "0",
		strings.ToUpper(valid),
		valid[:63] + "\x00",
		valid[:60] + ".png",
		"C:\\" + valid[3:],
		valid[:63] + "g",
		"ab%2f" + valid[5:],
	} {
		_, err := ParseID(s)
		require.ErrorIs(t, err, ErrInvalidSpec, "%q", s)
		if len(s) > 4 {
			assert.NotContains(t, err.Error(), s, "error echoes the input")
		}
	}
}

func TestDeleteRemovesOriginalAndRenditions(t *testing.T) {
	c := newTestCache(t)
	info := put(t, c, fixture.PNG(50, 50))
	r, err := c.Get(t.Context(), info.ID, Spec{Width: 10})
	require.NoError(t, err)
	readRendition(t, r)
	require.Equal(t, 1, c.store.Stats().Renditions)

	require.NoError(t, c.Delete(t.Context(), info.ID))
	_, err = c.Stat(t.Context(), info.ID)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = c.Get(t.Context(), info.ID, Spec{Width: 10})
	require.ErrorIs(t, err, ErrNotFound)
	assert.Zero(t, c.store.Stats().Renditions)
	require.ErrorIs(t, c.Delete(t.Context(), info.ID), ErrNotFound)
}

func TestReopenKeepsEntries(t *testing.T) {
	dir := t.TempDir()
	c, err := New(dir)
	require.NoError(t, err)
	info := put(t, c, fixture.JPEG(80, 60, 90))
	r, err := c.Get(t.Context(), info.ID, Spec{Width: 40})
	require.NoError(t, err)
	want := readRendition(t, r)
	require.NoError(t, c.Close())

	_, err = c.Put(t.Context(), bytes.NewReader(fixture.PNG(4, 4)))
	require.ErrorIs(t, err, ErrClosed)
	_, err = c.Get(t.Context(), info.ID, Spec{})
	require.ErrorIs(t, err, ErrClosed)

	c2, err := New(dir)
	require.NoError(t, err)
	defer c2.Close()
	got, err := c2.Stat(t.Context(), info.ID)
	require.NoError(t, err)
	assert.Equal(t, info, got)
	c2.hooks.decodeStart = func(context.Context) { t.Error("reopened store re-rendered a stored rendition") }
	r, err = c2.Get(t.Context(), info.ID, Spec{Width: 40})
	require.NoError(t, err)
	assert.Equal(t, want, readRendition(t, r))
}

func TestRejectionsAreLoggedWithoutUserBytes(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
	dir := t.TempDir()
	c, err := New(dir, WithLogger(logger))
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Put(t.Context(), bytes.NewReader(fixture.HTML()), DeclaredType("image/png"))
	require.Error(t, err)
	// A reader's own error may quote the body (a multipart parser's does): keep its type
	// for errors.Is, never its text.
	readerErr := errors.New("bad part <script>alert(1)</script>")
	_, rerr := c.Put(t.Context(), io.MultiReader(bytes.NewReader(fixture.PNG(8, 8)), iotest.ErrReader(readerErr)))
	require.ErrorIs(t, rerr, readerErr)
	assert.NotContains(t, rerr.Error(), "<script", "error echoes the reader's message")
	_, err = c.Put(t.Context(), bytes.NewReader(fixture.PNGHeader(100000, 100000)))
	require.Error(t, err)
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	assert.Contains(t, out, `"reason":"unsupported_format"`)
	assert.Contains(t, out, `"reason":"dimensions"`)
	assert.NotContains(t, out, "<script")
	assert.NotContains(t, out, dir)
	assert.NotContains(t, err.Error(), dir)
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestNewRejectsNegativeLimits(t *testing.T) {
	for _, l := range []Limits{{MaxBytes: -1}, {MaxPixels: -1}, {MemoryBudget: -1}, {DecodeTimeout: -1}, {Formats: []Format{"svg"}}} {
		_, err := New(t.TempDir(), WithLimits(l))
		require.Error(t, err, "%+v", l)
	}
	_, err := New(t.TempDir(), WithMaxStoreBytes(-1))
	require.Error(t, err)
}

func TestFetchIsOffByDefault(t *testing.T) {
	c := newTestCache(t)
	_, err := c.Fetch(t.Context(), "http://169.254.169.254/latest/meta-data/")
	require.ErrorIs(t, err, ErrForbiddenURL)
}
