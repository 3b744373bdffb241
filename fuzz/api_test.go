package fuzz

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"mime"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fastimagecache/fastimagecache"
	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// rasterTypes is the spec of DeclaredType: the media types that name each input format.
// Every other type (text/html, image/svg+xml, a malformed value, ...) is a claim that
// names no accepted format; "" and application/octet-stream make no claim.
var rasterTypes = map[string]fastimagecache.Format{
	"image/jpeg": fastimagecache.JPEG, "image/jpg": fastimagecache.JPEG, "image/pjpeg": fastimagecache.JPEG,
	"image/png": fastimagecache.PNG, "image/x-png": fastimagecache.PNG, "image/apng": fastimagecache.PNG,
	"image/gif":  fastimagecache.GIF,
	"image/webp": fastimagecache.WebP,
	"image/bmp":  fastimagecache.BMP, "image/x-bmp": fastimagecache.BMP, "image/x-ms-bmp": fastimagecache.BMP,
	"image/tiff": fastimagecache.TIFF, "image/x-tiff": fastimagecache.TIFF,
}

// claimOf says whether a Content-Type makes a claim, and which format it names ("" for
// none).
func claimOf(ct string) (claim bool, named fastimagecache.Format) {
	ct = strings.TrimSpace(ct)
	if ct == "" {
		return false, ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return true, ""
	}
	if mt == "application/octet-stream" {
		return false, ""
	}
	return true, rasterTypes[mt]
}

// FuzzDeclaredType puts fuzzed bytes twice, with a fuzzed Content-Type and with none, and
// checks the magic-byte check against the claim: bytes accepted without a claim (so of
// known format F, which image.DecodeConfig confirms) are accepted with a claim that names
// F or makes no claim, and refused with ErrTypeMismatch under any other claim; bytes
// refused without a claim are refused with one too; and a value that makes no claim never
// yields ErrTypeMismatch.
func FuzzDeclaredType(f *testing.F) {
	c := newCache(f, fuzzLimits)
	f.Fuzz(func(t *testing.T, data []byte, declared string) {
		claim, named := claimOf(declared)
		withClaim, errClaim := put(t, c, fuzzLimits, data, fastimagecache.DeclaredType(declared))
		plain, errPlain := put(t, c, fuzzLimits, data)
		if !claim && errors.Is(errClaim, fastimagecache.ErrTypeMismatch) {
			t.Fatalf("Content-Type %q makes no claim, yet: %v", declared, errClaim)
		}
		if errPlain != nil {
			if errClaim == nil {
				t.Fatalf("Content-Type %q made refused bytes (%v) acceptable as %+v", declared, errPlain, withClaim)
			}
			return
		}
		defer forget(t, c, plain.ID)
		switch {
		case !claim || named == plain.Format:
			if errClaim != nil || withClaim != plain {
				t.Fatalf("%s bytes declared %q: %+v, %v; undeclared: %+v", plain.Format, declared, withClaim, errClaim, plain)
			}
		default:
			if !errors.Is(errClaim, fastimagecache.ErrTypeMismatch) {
				t.Fatalf("%s bytes declared %q (names %q): got %+v, %v; want ErrTypeMismatch", plain.Format, declared, named, withClaim, errClaim)
			}
		}
	})
}

// FuzzParseID checks that ParseID accepts exactly 64 lowercase hex characters, so that an
// ID can never be a path, and that an invalid ID is refused with ErrInvalidSpec by every
// method before the store is touched, with an error text that does not depend on it.
func FuzzParseID(f *testing.F) {
	c := newCache(f, fuzzLimits)
	_, refusal := fastimagecache.ParseID("")
	f.Fuzz(func(t *testing.T, s string) {
		want := len(s) == 64 && strings.Trim(s, "0123456789abcdef") == ""
		id, err := fastimagecache.ParseID(s)
		if want {
			if err != nil || string(id) != s {
				t.Fatalf("ParseID(%q) = %q, %v", s, id, err)
			}
			if strings.ContainsAny(s, "/\\.:\x00") || !filepath.IsLocal(s) || filepath.Base(s) != s {
				t.Fatalf("accepted ID %q can name a path", s)
			}
			if _, err := c.Stat(t.Context(), id); !errors.Is(err, fastimagecache.ErrNotFound) {
				t.Fatalf("Stat(%q) on an empty cache: %v", s, err)
			}
			return
		}
		if err == nil || id != "" {
			t.Fatalf("ParseID(%q) = %q, %v; want an error", s, id, err)
		}
		if !errors.Is(err, fastimagecache.ErrInvalidSpec) || err.Error() != refusal.Error() {
			t.Fatalf("ParseID(%q) error %q, want the fixed text %q wrapping ErrInvalidSpec", s, err, refusal)
		}
		if _, err := c.Stat(t.Context(), fastimagecache.ID(s)); !errors.Is(err, fastimagecache.ErrInvalidSpec) {
			t.Fatalf("Stat(%q): %v", s, err)
		}
		if _, err := c.Get(t.Context(), fastimagecache.ID(s), fastimagecache.Spec{}); !errors.Is(err, fastimagecache.ErrInvalidSpec) {
			t.Fatalf("Get(%q): %v", s, err)
		}
		if err := c.Delete(t.Context(), fastimagecache.ID(s)); !errors.Is(err, fastimagecache.ErrInvalidSpec) {
			t.Fatalf("Delete(%q): %v", s, err)
		}
	})
}

// specSource is a small stored image that FuzzSpec renders.
type specSource struct {
	data           []byte
	format         fastimagecache.Format
	orientedW      int // size once EXIF orientation is applied
	orientedH      int
	defaultFormats []string // what Spec.Format "" may resolve to
	info           fastimagecache.Info
}

// specLimits bound the box of a Spec: 512×512.
var specLimits = fastimagecache.Limits{
	MaxWidth:      512,
	MaxHeight:     512,
	DecodeTimeout: 5 * time.Second,
	MemoryBudget:  64 << 20,
	Formats:       allFormats,
}

// FuzzSpec gets renditions of small stored images under fuzzed Specs. A Spec outside its
// limits (negative or over-limit size, quality outside 0..100, unknown fit or output
// format) fails with ErrInvalidSpec; any other succeeds, with a rendition of the requested
// format whose decoded size is the one reported, fits the box, is never larger than the
// source unless Enlarge, keeps the aspect ratio (Contain) or fills the box (Cover), and
// is named by the Spec's canonical form: getting it again, or getting an equivalent Spec,
// hits the same rendition.
func FuzzSpec(f *testing.F) {
	c := newCache(f, specLimits)
	sources := []*specSource{
		{data: fixture.JPEG(40, 30, 85), format: fastimagecache.JPEG, orientedW: 40, orientedH: 30, defaultFormats: []string{"jpeg"}},
		{data: fixture.PNG(30, 40), format: fastimagecache.PNG, orientedW: 30, orientedH: 40, defaultFormats: []string{"png"}},
		{data: fixture.GIF(20, 10, 3), format: fastimagecache.GIF, orientedW: 20, orientedH: 10, defaultFormats: []string{"gif"}},
		{data: fixture.WithEXIFOrientation(fixture.JPEGQuadrants(16, 8), 6), format: fastimagecache.JPEG, orientedW: 8, orientedH: 16, defaultFormats: []string{"jpeg"}},
		{data: fixture.WebPLossless(9, 7, color.NRGBA{R: 200, G: 10, A: 255}), format: fastimagecache.WebP, orientedW: 9, orientedH: 7, defaultFormats: []string{"jpeg", "png"}},
		{data: fixture.BMP(12, 5), format: fastimagecache.BMP, orientedW: 12, orientedH: 5, defaultFormats: []string{"jpeg", "png"}},
		{data: fixture.TIFF(7, 13), format: fastimagecache.TIFF, orientedW: 7, orientedH: 13, defaultFormats: []string{"jpeg", "png"}},
	}
	for _, s := range sources {
		info, err := c.Put(f.Context(), bytes.NewReader(s.data))
		if err != nil || info.Format != s.format {
			f.Fatalf("source %s: %+v, %v", s.format, info, err)
		}
		s.info = info
	}
	f.Fuzz(func(t *testing.T, src byte, width, height, fit int, format string, quality int, enlarge bool) {
		s := sources[int(src)%len(sources)]
		spec := fastimagecache.Spec{Width: width, Height: height, Fit: fastimagecache.Fit(fit),
			Format: fastimagecache.Format(format), Quality: quality, Enlarge: enlarge}
		valid := width >= 0 && height >= 0 && width <= specLimits.MaxWidth && height <= specLimits.MaxHeight &&
			quality >= 0 && quality <= 100 && (fit == 0 || fit == 1) &&
			(format == "" || format == "jpeg" || format == "png" || format == "gif" || format == "webp" || format == "avif")
		if !valid {
			r, err := c.Get(t.Context(), s.info.ID, spec)
			if !errors.Is(err, fastimagecache.ErrInvalidSpec) {
				if r != nil {
					r.Close()
				}
				t.Fatalf("Get %+v: %v; want ErrInvalidSpec", spec, err)
			}
			return
		}
		if format == "webp" || format == "avif" {
			// Valid; their WebAssembly encoders take 10-500 ms a call, which would starve
			// this target: the root package's tests decode their output (render_formats_test.go).
			return
		}
		r, out := get(t, c, s.data, s.info, spec)
		if r == nil {
			return // ran out of time
		}
		img, name, _ := image.Decode(bytes.NewReader(out))
		if format != "" && name != format {
			t.Fatalf("asked for %s, got %s", format, name)
		}
		if format == "" && !contains(s.defaultFormats, name) {
			t.Fatalf("%s source rendered to %s by default, want one of %v", s.format, name, s.defaultFormats)
		}
		checkGeometry(t, spec, s.orientedW, s.orientedH, img.Bounds().Dx(), img.Bounds().Dy())
		if name == "gif" && s.info.Frames > 1 {
			g, _ := gif.DecodeAll(bytes.NewReader(out))
			for i, fr := range g.Image {
				if !fr.Bounds().In(image.Rect(0, 0, r.Width, r.Height)) {
					t.Fatalf("frame %d at %v outside %dx%d", i, fr.Bounds(), r.Width, r.Height)
				}
			}
		}

		// The same Spec, and an equivalent one, name the same rendition.
		again, _ := get(t, c, s.data, s.info, spec)
		eq := spec
		if width == 0 || height == 0 {
			eq.Fit = 1 - spec.Fit
		}
		if width == 0 && height == 0 {
			eq.Enlarge = !enlarge
		}
		switch {
		case name != "jpeg":
			eq.Quality = (quality + 37) % 101
		case quality == 0:
			eq.Quality = 82
		case quality == 82:
			eq.Quality = 0
		}
		if format == "" {
			eq.Format = fastimagecache.Format(name)
		}
		same, _ := get(t, c, s.data, s.info, eq)
		if again != nil && again.ETag != r.ETag {
			t.Fatalf("Get %+v twice: ETag %s then %s", spec, r.ETag, again.ETag)
		}
		if same != nil && same.ETag != r.ETag {
			t.Fatalf("Get %+v: ETag %s; equivalent %+v: %s", spec, r.ETag, eq, same.ETag)
		}
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// checkGeometry checks an output of ow×oh for a valid spec and a source of sw×sh (as
// oriented).
func checkGeometry(t *testing.T, spec fastimagecache.Spec, sw, sh, ow, oh int) {
	t.Helper()
	W, H := spec.Width, spec.Height
	fail := func(why string) {
		t.Helper()
		t.Fatalf("source %dx%d, spec %+v: output %dx%d %s", sw, sh, spec, ow, oh, why)
	}
	if ow < 1 || oh < 1 {
		fail("is empty")
	}
	if W > 0 && ow > W || H > 0 && oh > H {
		fail("exceeds the box")
	}
	if !spec.Enlarge && (ow > sw || oh > sh) {
		fail("is larger than the source without Enlarge")
	}
	switch {
	case W == 0 && H == 0:
		if ow != sw || oh != sh {
			fail("is not the source's size")
		}
	case W == 0 || H == 0 || spec.Fit == fastimagecache.Contain:
		scaled := spec.Enlarge || W > 0 && W < sw || H > 0 && H < sh
		if scaled && !(W > 0 && ow == W || H > 0 && oh == H) {
			fail("touches no side of the box")
		}
		if !scaled && (ow != sw || oh != sh) {
			fail("is not the source's size")
		}
		// Aspect ratio kept to within rounding of one pixel on each axis.
		if d := ow*sh - oh*sw; d > sw+sh || -d > sw+sh {
			fail("does not keep the aspect ratio")
		}
	default: // Cover, both sides given
		if spec.Enlarge || W <= sw && H <= sh {
			if ow != W || oh != H {
				fail("does not fill the box")
			}
		} else if ow != min(W, sw) || oh != min(H, sh) {
			fail("is not the source cropped to the box")
		}
	}
}
