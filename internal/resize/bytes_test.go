package resize

import (
	"fmt"
	"image"
	"image/color/palette"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/sandbox"
)

// measured returns the bytes f allocates, the collector off.
func measured(f func()) int64 {
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return int64(after.TotalAlloc - before.TotalAlloc) // #nosec G115 -- a delta of a counter that only grows
}

// bytesSources are one image of every type ImageWorkers handles, w×h.
func bytesSources(w, h int) []image.Image {
	r := image.Rect(0, 0, w, h)
	var srcs []image.Image
	for _, ratio := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio411,
	} {
		srcs = append(srcs, image.NewYCbCr(r, ratio))
	}
	nrgba := image.NewNRGBA(r)
	for i := range nrgba.Pix {
		nrgba.Pix[i] = byte(i * 7)
	}
	return append(srcs, image.NewGray(r), image.NewRGBA(r), nrgba, image.NewPaletted(r, palette.Plan9),
		image.NewGray16(r), image.NewRGBA64(r), image.NewNRGBA64(r), image.NewCMYK(r),
		image.NewNYCbCrA(r, image.YCbCrSubsampleRatio420),
		// a sub-image whose chroma starts part-way into a sample
		image.NewYCbCr(image.Rect(0, 0, w+3, h+3), image.YCbCrSubsampleRatio420).SubImage(image.Rect(1, 1, w+1, h+1)))
}

// TestImageBytesCoversAllocation: ImageBytes, AnyImageBytes and (for the gray types)
// GrayBytes are at least what
// ImageWorkers allocates for every type, shrink and enlargement, orientation and worker
// count, and within half as much again of it (a few dozen KiB aside).
func TestImageBytesCoversAllocation(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates large images")
	}
	if sandbox.RaceEnabled {
		// The race detector changes what is allocated and runs this 15 times slower (it
		// passed under -race: 370 s); the plain run measures the real thing.
		t.Skip("allocation is measured without the race detector")
	}
	for _, c := range []struct{ sw, sh, dw, dh int }{
		{3000, 2000, 1280, 853}, {3000, 2000, 320, 213}, {1200, 900, 640, 480}, {999, 777, 100, 80},
		{640, 480, 800, 600}, {4000, 10, 3, 3}, {17, 4000, 5, 1200},
		{8000, 40, 2100, 32}, // wide and short: each goroutine's rows outweigh the result
	} {
		for _, src := range bytesSources(c.sw, c.sh) {
			for _, o := range []int{1, 6} {
				for _, workers := range []int{1, 2} {
					name := fmt.Sprintf("%T %v o%d w%d", src, c, o, workers)
					if m, ok := src.(*image.YCbCr); ok {
						name += " " + m.SubsampleRatio.String() + fmt.Sprint(m.Rect.Min)
					}
					var ok bool
					got := measured(func() { _, ok = ImageWorkers(src, c.dw, c.dh, o, workers) })
					require.True(t, ok, name)
					bound := ImageBytes(src, c.dw, c.dh, o, workers)
					anyBound := AnyImageBytes(c.sw, c.sh, c.dw, c.dh, o, workers)
					t.Logf("%s: allocated %d, bound %d (%.2f), any %d", name, got, bound, float64(bound)/float64(got), anyBound)
					require.GreaterOrEqual(t, bound, got, name)
					require.GreaterOrEqual(t, anyBound, got, name)
					switch src.(type) {
					case *image.Gray, *image.Gray16:
						require.GreaterOrEqual(t, GrayBytes(c.sw, c.sh, c.dw, c.dh, o, workers), got, name)
					}
					require.Less(t, bound, got+got/2+64<<10, name)
				}
			}
		}
	}
	// Nothing is allocated, and nothing reserved, for an interleaved image at its size.
	src := image.NewNRGBA(image.Rect(0, 0, 40, 30))
	require.Zero(t, ImageBytes(src, 40, 30, 1, 1))
	require.Zero(t, ImageBytes(image.NewAlpha(src.Rect), 20, 15, 1, 1))
}
