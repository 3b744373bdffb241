package resize

import (
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/disintegration/imaging"
	"github.com/stretchr/testify/require"
)

// photoNRGBA is a photo-like colour picture (photoGray in each channel) with an alpha
// channel that is opaque over most of it, fades across the right third and is fully
// transparent, with odd colours underneath, in the top-left corner and in a stripe.
func photoNRGBA(w, h int, seed uint64) *image.NRGBA {
	r, g, b := photoGray(w, h, seed), photoGray(w, h, seed+1), photoGray(w, h, seed+2)
	rng := rand.New(rand.NewPCG(seed, 9))
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			// Alpha: a smooth wave, clipped to fully transparent and fully opaque areas.
			a := int(128 + 400*math.Sin(float64(x)/23+float64(y)/41))
			a = min(max(a, 0), 255)
			i := m.PixOffset(x, y)
			m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = r.Pix[y*w+x], g.Pix[y*w+x], b.Pix[y*w+x], uint8(a)
			if a == 0 {
				// transparent, with colours that must not bleed into the neighbours
				m.Pix[i], m.Pix[i+1], m.Pix[i+2] = uint8(rng.IntN(256)), 255, uint8(rng.IntN(2)*255)
			}
		}
	}
	return m
}

// randomNRGBA is noise in every channel, alpha included.
func randomNRGBA(w, h int, seed uint64) *image.NRGBA {
	rng := rand.New(rand.NewPCG(seed, 3))
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = uint8(rng.IntN(256))
	}
	return m
}

// rgbaDiff compares two images of the same size as premultiplied 8-bit colour (what a
// viewer composites): the largest difference of alpha and of colour × alpha / 255, and
// of the straight colour where both alphas are at least 128.
func rgbaDiff(t *testing.T, a, b image.Image) (alpha, premultiplied, straight int) {
	t.Helper()
	require.Equal(t, a.Bounds().Size(), b.Bounds().Size())
	ab, bb := a.Bounds(), b.Bounds()
	for y := range ab.Dy() {
		for x := range ab.Dx() {
			p := color.NRGBAModel.Convert(a.At(ab.Min.X+x, ab.Min.Y+y)).(color.NRGBA)
			q := color.NRGBAModel.Convert(b.At(bb.Min.X+x, bb.Min.Y+y)).(color.NRGBA)
			alpha = max(alpha, abs(int(p.A)-int(q.A)))
			for _, c := range [][2]uint8{{p.R, q.R}, {p.G, q.G}, {p.B, q.B}} {
				pm := (int(c[0])*int(p.A) + 127) / 255
				qm := (int(c[1])*int(q.A) + 127) / 255
				premultiplied = max(premultiplied, abs(pm-qm))
				if p.A >= 128 && q.A >= 128 {
					straight = max(straight, abs(int(c[0])-int(c[1])))
				}
			}
		}
	}
	return alpha, premultiplied, straight
}

// sourceKinds returns src as each interleaved type the resizer takes.
func sourceKinds(src *image.NRGBA) map[string]image.Image {
	b := src.Bounds()
	rgba := image.NewRGBA(b)
	pal := image.NewPaletted(b, append(color.Palette{color.Transparent}, palette.Plan9[:255]...))
	n64 := image.NewNRGBA64(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := src.NRGBAAt(x, y)
			rgba.Set(x, y, c)
			n64.Set(x, y, c)
			if c.A < 128 {
				pal.SetColorIndex(x, y, 0)
			} else {
				c.A = 255
				pal.Set(x, y, c)
			}
		}
	}
	return map[string]image.Image{"NRGBA": src, "RGBA": rgba, "Paletted": pal, "NRGBA64": n64}
}

func TestInterleavedMatchesImagingLanczos(t *testing.T) {
	for _, c := range []struct{ sw, sh, dw, dh int }{
		{640, 480, 320, 240},
		{1000, 700, 333, 233},
		{700, 1000, 300, 410},
		{37, 19, 80, 45}, // enlarging
		{5, 3, 1, 1},
		{1, 1, 7, 7},
		{300, 1, 100, 1},
	} {
		for name, gen := range map[string]func(w, h int, seed uint64) *image.NRGBA{"photo": photoNRGBA, "noise": randomNRGBA} {
			for kind, src := range sourceKinds(gen(c.sw, c.sh, 5)) {
				t.Run(fmt.Sprintf("%s/%s/%dx%d-%dx%d", kind, name, c.sw, c.sh, c.dw, c.dh), func(t *testing.T) {
					got, ok := Image(src, c.dw, c.dh, 1)
					require.True(t, ok)
					require.Equal(t, image.Pt(c.dw, c.dh), got.Bounds().Size())
					want := imaging.Resize(src, c.dw, c.dh, imaging.Lanczos)
					da, dp, ds := rgbaDiff(t, got, want)
					t.Logf("alpha %d premultiplied %d straight %d", da, dp, ds)
					if name == "photo" && kind != "Paletted" {
						// Smooth content: both round to 8 bits between the passes, imaging
						// horizontally first and straight colour, this vertically first and
						// premultiplied, so a level or two apart, three in the corner cases.
						require.LessOrEqual(t, da, 3, "alpha")
						require.LessOrEqual(t, dp, 3, "premultiplied colour")
						require.LessOrEqual(t, ds, 4, "colour where alpha >= 128")
						return
					}
					// Hard edges (noise, a palette's steps, 0/255 alpha): the filter rings
					// past 0 and 255, and each clamps its intermediate rows in its own pass
					// order, so single pixels may differ much; the picture may not.
					if c.dw*c.dh >= 1000 {
						require.Greater(t, psnr(t, got, want), 25.0)
					}
				})
			}
		}
	}
}

// TestTransparentColoursDoNotBleed: a fully transparent area's colour (magenta here)
// must not tint the opaque pixels filtered with it, however it is stored.
func TestTransparentColoursDoNotBleed(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 300, 200))
	for y := range 200 {
		for x := range 300 {
			c := color.NRGBA{R: 90, G: 90, B: 90, A: 255}
			if (x/10+y/10)%2 == 0 {
				c = color.NRGBA{R: 255, G: 0, B: 255, A: 0}
			}
			src.SetNRGBA(x, y, c)
		}
	}
	for kind, m := range sourceKinds(src) {
		for _, size := range []image.Point{{100, 67}, {40, 27}, {7, 5}, {450, 300}} {
			got, ok := Image(m, size.X, size.Y, 1)
			require.True(t, ok)
			b := got.Bounds()
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					c := color.NRGBAModel.Convert(got.At(x, y)).(color.NRGBA)
					if c.A < 16 {
						continue // too transparent for its colour to be exact
					}
					// Gray stays gray (ringing may brighten or darken it); magenta
					// bleeding in would lift red and blue above green.
					require.InDelta(t, int(c.G), int(c.R), 2, "%s %v at (%d, %d): %v", kind, size, x, y, c)
					require.InDelta(t, int(c.G), int(c.B), 2, "%s %v at (%d, %d): %v", kind, size, x, y, c)
				}
			}
		}
	}
}

func TestInterleavedOrientationMatchesImaging(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 7, 5))
	for i := range src.Pix {
		src.Pix[i] = uint8(i) | 3 // every pixel distinct; alpha >= colour where it matters
	}
	for i := 3; i < len(src.Pix); i += 4 {
		src.Pix[i] = 255
	}
	ref := map[int]func(image.Image) *image.NRGBA{
		1: func(m image.Image) *image.NRGBA { return imaging.Clone(m) },
		2: imaging.FlipH, 3: imaging.Rotate180, 4: imaging.FlipV, 5: imaging.Transpose,
		6: imaging.Rotate270, 7: imaging.Transverse, 8: imaging.Rotate90,
	}
	for o := 1; o <= 8; o++ {
		p := orient(newPlaneCh(src.Pix, src.Stride, 7, 5, 4, 0), o)
		got := finish(p, true)
		want := ref[o](src)
		require.Equal(t, want.Bounds(), got.Bounds(), "orientation %d", o)
		require.Equal(t, want.Pix, got.(*image.RGBA).Pix, "orientation %d", o)
	}
}
