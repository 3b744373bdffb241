package resize

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/disintegration/imaging"
	"github.com/stretchr/testify/require"
)

// photoGray returns a w×h gray image with the kind of content photos have: smooth
// gradients, a few hard edges and some noise, reproducibly.
func photoGray(w, h int, seed uint64) *image.Gray {
	rng := rand.New(rand.NewPCG(seed, 1))
	g := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := 128 + 60*math.Sin(float64(x)/17) + 40*math.Cos(float64(y)/11)
			if (x/23+y/31)%2 == 0 {
				v += 30
			}
			v += rng.NormFloat64() * 6
			g.Pix[y*g.Stride+x] = uint8(min(max(v, 0), 255))
		}
	}
	return g
}

// psnr compares two images of the same size over their RGB channels.
func psnr(t *testing.T, a, b image.Image) float64 {
	t.Helper()
	require.Equal(t, a.Bounds().Size(), b.Bounds().Size())
	ab, bb := a.Bounds(), b.Bounds()
	var se float64
	for y := range ab.Dy() {
		for x := range ab.Dx() {
			r1, g1, b1, _ := a.At(ab.Min.X+x, ab.Min.Y+y).RGBA()
			r2, g2, b2, _ := b.At(bb.Min.X+x, bb.Min.Y+y).RGBA()
			for _, d := range []float64{float64(r1>>8) - float64(r2>>8), float64(g1>>8) - float64(g2>>8), float64(b1>>8) - float64(b2>>8)} {
				se += d * d
			}
		}
	}
	mse := se / float64(3*ab.Dx()*ab.Dy())
	if mse == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/mse)
}

// maxDiff is the largest per-sample difference between a gray image and the red channel
// of another image of the same size.
func maxDiff(a *image.Gray, b image.Image) int {
	bb := b.Bounds()
	worst := 0
	for y := range a.Rect.Dy() {
		for x := range a.Rect.Dx() {
			r, _, _, _ := b.At(bb.Min.X+x, bb.Min.Y+y).RGBA()
			worst = max(worst, abs(int(a.GrayAt(a.Rect.Min.X+x, a.Rect.Min.Y+y).Y)-int(r>>8)))
		}
	}
	return worst
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestGrayMatchesImagingLanczos(t *testing.T) {
	for _, c := range []struct{ sw, sh, dw, dh int }{
		{640, 480, 320, 240}, // 2×: the shrink-on-load case
		{1000, 700, 333, 233},
		{700, 1000, 300, 410},
		{37, 19, 80, 45}, // enlarging
		{5, 3, 1, 1},
		{1, 1, 7, 7},
		{300, 1, 100, 1},
		{64, 64, 64, 64}, // same size: identity
	} {
		t.Run(fmt.Sprintf("%dx%d-%dx%d", c.sw, c.sh, c.dw, c.dh), func(t *testing.T) {
			src := photoGray(c.sw, c.sh, 7)
			got, ok := Image(src, c.dw, c.dh, 1)
			require.True(t, ok)
			want := imaging.Resize(src, c.dw, c.dh, imaging.Lanczos)
			require.Equal(t, image.Pt(c.dw, c.dh), got.Bounds().Size())
			// Fixed point against imaging's float64: one level, two where both round
			// the intermediate row differently.
			require.LessOrEqual(t, maxDiff(got.(*image.Gray), want), 2)
			if c.sw == c.dw && c.sh == c.dh {
				require.Equal(t, src.Pix, got.(*image.Gray).Pix)
			}
		})
	}
}

func TestLargeShrinkStaysCloseToLanczos(t *testing.T) {
	// Beyond 4×, a box pre-shrink to 2–4× the target runs first.
	src := photoGray(2400, 1800, 3)
	got, ok := Image(src, 160, 120, 1)
	require.True(t, ok)
	want := imaging.Resize(src, 160, 120, imaging.Lanczos)
	require.Greater(t, psnr(t, got, want), 40.0)
	require.LessOrEqual(t, maxDiff(got.(*image.Gray), want), 8)
}

func TestOrientationMatchesImaging(t *testing.T) {
	src := photoGray(7, 5, 1)
	for i := range src.Pix {
		src.Pix[i] = uint8(i) // every sample distinct
	}
	ref := map[int]func(image.Image) *image.NRGBA{
		1: func(m image.Image) *image.NRGBA { return imaging.Clone(m) },
		2: imaging.FlipH, 3: imaging.Rotate180, 4: imaging.FlipV, 5: imaging.Transpose,
		6: imaging.Rotate270, 7: imaging.Transverse, 8: imaging.Rotate90,
	}
	for o := 1; o <= 8; o++ {
		got, ok := Image(src, 7, 5, o)
		require.True(t, ok)
		want := ref[o](src)
		require.Equal(t, want.Bounds(), got.Bounds(), "orientation %d", o)
		require.Zero(t, maxDiff(got.(*image.Gray), want), "orientation %d", o)
	}
}

func TestYCbCrMatchesImaging(t *testing.T) {
	for _, ratio := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio444,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	} {
		t.Run(ratio.String(), func(t *testing.T) {
			src := photoYCbCr(801, 601, ratio)
			for o := 1; o <= 8; o++ {
				dw, dh := 321, 241
				got, ok := Image(src, dw, dh, o)
				require.True(t, ok)
				want := orientRef(imaging.Resize(src, dw, dh, imaging.Lanczos), o)
				require.Greater(t, psnr(t, got, want), 38.0, "orientation %d", o)
			}
		})
	}
}

func TestYCbCrSubImage(t *testing.T) {
	full := photoYCbCr(400, 300, image.YCbCrSubsampleRatio420)
	sub := full.SubImage(image.Rect(33, 17, 333, 217)).(*image.YCbCr)
	got, ok := Image(sub, 150, 100, 1)
	require.True(t, ok)
	want := imaging.Resize(sub, 150, 100, imaging.Lanczos)
	require.Greater(t, psnr(t, got, want), 38.0)
}

func TestUnsupportedIsUntouched(t *testing.T) {
	src := image.NewAlpha(image.Rect(0, 0, 4, 4))
	got, ok := Image(src, 2, 2, 1)
	require.False(t, ok)
	require.Same(t, src, got)
	g := photoGray(4, 4, 1)
	_, ok = Image(g, 0, 2, 1)
	require.False(t, ok)
}

// photoYCbCr converts a colourful photo-like picture to YCbCr with the given subsampling.
func photoYCbCr(w, h int, ratio image.YCbCrSubsampleRatio) *image.YCbCr {
	r, g, b := photoGray(w, h, 1), photoGray(w, h, 2), photoGray(w, h, 3)
	m := image.NewYCbCr(image.Rect(0, 0, w, h), ratio)
	for y := range h {
		for x := range w {
			yy, cb, cr := color.RGBToYCbCr(r.Pix[y*w+x], g.Pix[y*w+x]/2, b.Pix[x+y*w])
			m.Y[m.YOffset(x, y)] = yy
			ci := m.COffset(x, y)
			m.Cb[ci], m.Cr[ci] = cb, cr // the last sample of each chroma block wins
		}
	}
	return m
}

func orientRef(m *image.NRGBA, o int) image.Image {
	switch o {
	case 2:
		return imaging.FlipH(m)
	case 3:
		return imaging.Rotate180(m)
	case 4:
		return imaging.FlipV(m)
	case 5:
		return imaging.Transpose(m)
	case 6:
		return imaging.Rotate270(m)
	case 7:
		return imaging.Transverse(m)
	case 8:
		return imaging.Rotate90(m)
	}
	return m
}

// BenchmarkThumbnail compares the plane path with imaging on the shrink-on-load case:
// a 12 MP 4:2:0 photo decoded at 1/4 (1000×750) to 320×240.
func BenchmarkThumbnail(b *testing.B) {
	src := photoYCbCr(1000, 750, image.YCbCrSubsampleRatio420)
	b.Run("planes", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Image(src, 320, 240, 1)
		}
	})
	b.Run("imaging", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			imaging.Resize(src, 320, 240, imaging.Lanczos)
		}
	})
}
