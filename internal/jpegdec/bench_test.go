package jpegdec

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var benchFiles sync.Map // name → []byte

// benchJPEG returns a generated w×h photo-like JPEG, 4:2:0 q85 baseline from
// image/jpeg's encoder, or progressive from the test encoder.
func benchJPEG(b *testing.B, w, h int, progressive bool) []byte {
	key := fmt.Sprintf("%dx%d/%v", w, h, progressive)
	if v, ok := benchFiles.Load(key); ok {
		return v.([]byte)
	}
	m := naturalImage(w, h, 42)
	var data []byte
	if progressive {
		e := ycbcrEncoder(m, 2, 2, 1, 1, 85)
		e.progressive = true
		data = e.encode()
	} else {
		data = stdEncode(b, m, 85)
	}
	benchFiles.Store(key, data)
	return data
}

// measure runs decode b.N times, reporting allocations and the CPU time of
// the decoding thread per op (cpu-ns/op) besides the wall time.
func measure(b *testing.B, size int, decode func() error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	b.SetBytes(int64(size))
	start, pstart := threadCPUTime(), processCPUTime()
	for b.Loop() {
		if err := decode(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(threadCPUTime()-start)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(processCPUTime()-pstart)/float64(b.N), "proc-cpu-ns/op")
}

func benchDecode(b *testing.B, data []byte) {
	b.Run("stdlib", func(b *testing.B) {
		measure(b, len(data), func() error {
			_, err := jpeg.Decode(bytes.NewReader(data))
			return err
		})
	})
	for _, opt := range []Options{{Scale: 1}, {Scale: 1, Workers: 2}, {Scale: 2}, {Scale: 4}, {Scale: 8}, {Scale: 8, SkipAC: true}} {
		name := optName(opt)
		b.Run(name, func(b *testing.B) {
			measure(b, len(data), func() error {
				_, err := Decode(bytes.NewReader(data), opt)
				return err
			})
		})
	}
}

// optName names a benchmark of opt: scale1, scale1-w2 (Workers 2),
// scale8-skipac.
func optName(opt Options) string {
	name := fmt.Sprintf("scale%d", opt.Scale)
	if opt.SkipAC {
		name += "-skipac"
	}
	if opt.Workers > 1 {
		name += fmt.Sprintf("-w%d", opt.Workers)
	}
	return name
}

// BenchmarkDecode decodes generated 4:2:0 q85 baseline JPEGs of 12 and 3
// megapixels. (SkipAC makes no difference to a baseline image.)
func BenchmarkDecode(b *testing.B) {
	for _, sz := range [][2]int{{4000, 3000}, {2000, 1500}} {
		data := benchJPEG(b, sz[0], sz[1], false)
		b.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(b *testing.B) { benchDecode(b, data) })
	}
}

// BenchmarkDecodeProgressive decodes a generated 2000×1500 4:2:0 q85
// progressive JPEG (libjpeg's default scan script).
func BenchmarkDecodeProgressive(b *testing.B) {
	data := benchJPEG(b, 2000, 1500, true)
	b.Run("2000x1500", func(b *testing.B) { benchDecode(b, data) })
}

// BenchmarkDecodeFile decodes the JPEG file named by $JPEGDEC_BENCH_FILE
// (skipped when unset), e.g. a real photo.
func BenchmarkDecodeFile(b *testing.B) {
	name := os.Getenv("JPEGDEC_BENCH_FILE")
	if name == "" {
		b.Skip("JPEGDEC_BENCH_FILE not set")
	}
	data, err := os.ReadFile(name)
	if err != nil {
		b.Fatal(err)
	}
	benchDecode(b, data)
}

// BenchmarkDecodePhotos decodes every JPEG of the directory named by
// $JPEGDEC_PHOTOS (skipped when unset), e.g. scripts/fetch-photos.sh's set,
// baseline and progressive files apart: one op decodes each file of the kind
// once. The -w2 runs decode with Workers 2 (the wall time is what it gains;
// cpu-ns/op is the calling thread's, proc-cpu-ns/op the process's). Scale 8 with a baseline file is the entropy stage alone, nearly
// (the 1×1 inverse DCT is a multiply); scale 4 is what a 320-px thumbnail
// of a 12 MP photo decodes at.
func BenchmarkDecodePhotos(b *testing.B) {
	dir := os.Getenv("JPEGDEC_PHOTOS")
	if dir == "" {
		b.Skip("JPEGDEC_PHOTOS not set")
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.jp*g"))
	files := map[bool][][]byte{}
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			b.Fatal(err)
		}
		h, err := DecodeHeader(bytes.NewReader(data))
		if err != nil {
			b.Fatal(name, err)
		}
		files[h.Progressive] = append(files[h.Progressive], data)
	}
	for _, prog := range []bool{false, true} {
		kind := "baseline"
		if prog {
			kind = "progressive"
		}
		set := files[prog]
		size := 0
		for _, data := range set {
			size += len(data)
		}
		for _, opt := range []Options{{Scale: 1}, {Scale: 1, Workers: 2}, {Scale: 2}, {Scale: 4}, {Scale: 8, SkipAC: true}} {
			b.Run(kind+"/"+optName(opt), func(b *testing.B) {
				measure(b, size, func() error {
					for _, data := range set {
						if _, err := DecodeBytes(context.Background(), data, opt); err != nil {
							return err
						}
					}
					return nil
				})
			})
		}
	}
}
