package fastimagecache

import (
	"bytes"
	"image"
	"image/color"
	"image/color/palette"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/canon"
	"github.com/fastimagecache/fastimagecache/internal/fixture"
	"github.com/fastimagecache/fastimagecache/internal/workerproto"
)

// TestRenditionsPassTheHostsCheck renders sources of every input format, size and
// orientation to every output format under many specs, in process, and checks that the
// check an isolated host applies to a worker's answer (checkRendition) accepts each: the
// canonical layout is exactly what our encoder writes.
func TestRenditionsPassTheHostsCheck(t *testing.T) {
	lim, err := Limits{Formats: []Format{JPEG, PNG, GIF, WebP, BMP, TIFF}}.withDefaults()
	require.NoError(t, err)
	var sources [][]byte
	for _, sz := range [][2]int{{1, 1}, {7, 3}, {64, 48}, {300, 200}} {
		w, h := sz[0], sz[1]
		sources = append(sources, fixture.PNG(w, h), fixture.PNGOpaque(w, h), fixture.JPEG(w, h, 90),
			fixture.BMP(w, h), fixture.TIFF(w, h), fixture.WebPLossless(w, h, color.NRGBA{10, 200, 30, 128}))
		if w > 1 {
			sources = append(sources, fixture.GIF(w, h, 3))
		}
	}
	for o := 2; o <= 8; o++ {
		sources = append(sources, fixture.WithEXIFOrientation(fixture.JPEG(120, 80, 90), o))
	}
	specs := []Spec{{}, {Width: 32}, {Height: 5}, {Width: 40, Height: 40, Fit: Cover}, {Width: 1, Height: 1},
		{Width: 500, Height: 100, Enlarge: true}, {Width: 50, Height: 50, Fit: Cover, Enlarge: true}}
	n := 0
	for i, data := range sources {
		h, err := inspect(data, putConfig{}, lim)
		require.NoError(t, err, "source %d", i)
		for _, s := range specs {
			for _, f := range []Format{JPEG, PNG, GIF} {
				for _, q := range []int{0, 1, 100} {
					if q != 0 && f != JPEG {
						continue
					}
					s.Format, s.Quality = f, q
					cs, err := s.canonical(lim, Info{Format: h.format, Width: h.width, Height: h.height}, true)
					require.NoError(t, err)
					r, err := render(t.Context(), data, h, cs)
					require.NoError(t, err, "source %d (%s %dx%d) to %+v", i, h.format, h.width, h.height, cs)
					resp := &workerproto.Response{Format: string(r.format), Width: int64(r.width), Height: int64(r.height), Data: r.data}
					_, err = checkRendition(resp, h, cs)
					require.NoError(t, err, "source %d (%s %dx%d) to %+v", i, h.format, h.width, h.height, cs)
					n++
				}
			}
		}
	}
	t.Logf("%d renditions accepted", n)
}

// FuzzEncodeIsCanonical encodes small random images of every type through encode, the
// renderer's own encoder call, in every output format, and asserts that the host's
// container check accepts them and reads back their size.
func FuzzEncodeIsCanonical(f *testing.F) {
	f.Add(uint16(1), uint16(1), uint8(0), uint8(82), uint64(1))
	f.Add(uint16(130), uint16(7), uint8(5), uint8(1), uint64(2))
	f.Fuzz(func(t *testing.T, w, h uint16, kind, q uint8, seed uint64) {
		w, h = w%160+1, h%160+1
		r := rand.New(rand.NewPCG(seed, 1))
		rect := image.Rect(0, 0, int(w), int(h))
		var img image.Image
		var pix []uint8
		switch kind % 6 {
		case 0:
			m := image.NewGray(rect)
			img, pix = m, m.Pix
		case 1:
			m := image.NewGray16(rect)
			img, pix = m, m.Pix
		case 2:
			m := image.NewYCbCr(rect, image.YCbCrSubsampleRatio420)
			img, pix = m, m.Y
		case 3:
			m := image.NewNRGBA(rect)
			img, pix = m, m.Pix
		case 4:
			m := image.NewNRGBA64(rect)
			img, pix = m, m.Pix
		default:
			pal := append(color.Palette{color.Transparent}, palette.Plan9[:1+int(kind)%255]...)
			m := image.NewPaletted(rect, pal)
			for i := range m.Pix {
				m.Pix[i] = uint8(r.IntN(len(pal)))
			}
			img = m
		}
		for i := range pix {
			pix[i] = uint8(r.IntN(256))
		}
		quality := int(q)%100 + 1
		for _, f := range []Format{JPEG, PNG, GIF} {
			var buf bytes.Buffer
			require.NoError(t, encode(&buf, img, Spec{Format: f, Quality: quality}))
			var gw, gh int
			var err error
			switch f {
			case JPEG:
				gw, gh, err = canon.JPEG(buf.Bytes(), quality)
			case PNG:
				gw, gh, err = canon.PNG(buf.Bytes())
			case GIF:
				gw, gh, _, err = canon.GIF(buf.Bytes())
			}
			require.NoError(t, err, "%s of %T", f, img)
			require.Equal(t, [2]int{int(w), int(h)}, [2]int{gw, gh})
		}
	})
}
