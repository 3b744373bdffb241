package resize

import (
	"fmt"
	"image"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWorkersSameResult: splitting the rows across goroutines changes nothing in the
// result, for every path (box shrink, filter, conversion ring, planes).
func TestWorkersSameResult(t *testing.T) {
	nrgba := photoNRGBA(2000, 1500, 3)
	rgba := image.NewRGBA(nrgba.Rect)
	copy(rgba.Pix, nrgba.Pix)
	for i := 3; i < len(rgba.Pix); i += 4 {
		rgba.Pix[i] = 255
	}
	srcs := map[string]image.Image{
		"NRGBA": nrgba, "RGBA": rgba, "Gray": photoGray(2000, 1500, 1),
		"YCbCr": photoYCbCr(2000, 1500, image.YCbCrSubsampleRatio420),
	}
	for name, src := range srcs {
		for _, size := range []image.Point{{1200, 900}, {320, 240}, {2500, 1875}} {
			t.Run(fmt.Sprintf("%s/%v", name, size), func(t *testing.T) {
				one, ok := ImageWorkers(src, size.X, size.Y, 6, 1)
				require.True(t, ok)
				for _, w := range []int{2, 3} {
					more, ok := ImageWorkers(src, size.X, size.Y, 6, w)
					require.True(t, ok)
					require.Equal(t, one, more, "%d workers", w)
				}
			})
		}
	}
}

func TestPartsGate(t *testing.T) {
	require.Equal(t, 1, parts(1, 1000, 1<<30), "one worker")
	require.Equal(t, 1, parts(8, 1000, 1000), "small work")
	require.Equal(t, 4, parts(4, 1000, 1<<24))
	require.Equal(t, 2, parts(4, 40, 1<<24), "at least 16 rows each")
}

func TestParallelPanicReachesCaller(t *testing.T) {
	require.PanicsWithValue(t, "boom", func() {
		parallel(3, func(i int) {
			if i == 1 {
				panic("boom")
			}
		})
	})
}

// BenchmarkWorkers measures one large resize alone with one and two goroutines, and two
// resizes in flight (RunParallel, one goroutine per core) with one and two goroutines
// each: ns/op is wall time per resize, so for "inflight2" the inverse of throughput.
func BenchmarkWorkers(b *testing.B) {
	srcs := map[string]image.Image{
		"NRGBA3000x2000": photoNRGBA(3000, 2000, 1),
		"YCbCr1500x1000": photoYCbCr(1500, 1000, image.YCbCrSubsampleRatio420),
	}
	for _, name := range []string{"NRGBA3000x2000", "YCbCr1500x1000"} {
		src := srcs[name]
		for _, dw := range []int{1280, 320} {
			dh := dw * 2 / 3
			for _, w := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%d/inflight1/workers%d", name, dw, w), func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						ImageWorkers(src, dw, dh, 1, w)
					}
				})
				b.Run(fmt.Sprintf("%s/%d/inflight2/workers%d", name, dw, w), func(b *testing.B) {
					b.ReportAllocs()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							ImageWorkers(src, dw, dh, 1, w)
						}
					})
				})
			}
		}
	}
}
