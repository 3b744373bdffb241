package fastimagecache

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/png"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"

	"github.com/fastimagecache/fastimagecache/internal/codec"
	"github.com/fastimagecache/fastimagecache/internal/jpegdec"
)

// BenchmarkPutVsDecode compares a Put of each input kind with the plain library decode
// that proves it (issue 17: Put costs no more than its proving decode):
//
//	decode   the proving decode alone, straight from the library: jpegdec at the proving
//	         scale (1/8, every scan entropy-decoded), png.Decode, gif.DecodeAll, ...
//	put      a Put of bytes not stored yet, on a disk store in b.TempDir(): the entry is
//	         deleted after each Put with the timer stopped, so every Put stores anew
//	         (same bytes, warm directories); fsync of files and directories included
//	put-nostage  put, but the original written after the proof instead of while it runs
//	put-dup  a Put of bytes already stored (the dedup path)
//	read, inspect, hash, prove, store: the parts of a Put, one at a time (prove is the
//	         decodeImage Put runs plus the placeholder; store is the disk PutOriginal)
//
// There is no memory-only store: New always takes a directory. Every sub-benchmark
// reports cpu-ns/op, the process's CPU time per op (user+system, all goroutines),
// steadier than wall time on a shared machine.
//
//	go test -run '^$' -bench PutVsDecode -count 5 .
func BenchmarkPutVsDecode(b *testing.B) {
	for _, in := range putBenchInputs(b) {
		b.Run(in.name, func(b *testing.B) {
			data := in.data()
			if data == nil {
				b.Skip("no input")
			}
			b.Run("decode", func(b *testing.B) {
				cpuLoop(b, len(data), func() error { return in.decode(data) })
			})
			b.Run("put", func(b *testing.B) { benchPutFresh(b, data, nil) })
			b.Run("put-nostage", func(b *testing.B) {
				benchPutFresh(b, data, func(c *Cache) { c.hooks.noStage = true })
			})
			b.Run("put-dup", func(b *testing.B) {
				c := benchCache(b)
				put(b, c, data)
				cpuLoop(b, len(data), func() error {
					_, err := c.Put(context.Background(), bytes.NewReader(data))
					return err
				})
			})
			benchPutParts(b, data)
		})
	}
}

// BenchmarkPutEager is a Put with and without one eager 320-px JPEG rendition (the work
// WithEagerRenditions adds to a Put, apart from the Put itself).
func BenchmarkPutEager(b *testing.B) {
	for _, in := range putBenchInputs(b)[:3] {
		b.Run(in.name, func(b *testing.B) {
			data := in.data()
			b.Run("plain", func(b *testing.B) { benchPutFresh(b, data, nil) })
			b.Run("eager", func(b *testing.B) { benchPutFresh(b, data, nil, WithEagerRenditions(thumb)) })
		})
	}
}

// benchPutFresh times Puts of data into a cache made with opts (and then given to setup,
// unless nil), deleting the entry with the timer stopped after each one.
func benchPutFresh(b *testing.B, data []byte, setup func(*Cache), opts ...Option) {
	c := benchCache(b, opts...)
	if setup != nil {
		setup(c)
	}
	ctx := context.Background()
	put(b, c, data) // set-up the first Put pays (directories, codecs)
	id := idOf(data)
	if err := c.Delete(ctx, id); err != nil {
		b.Fatal(err)
	}
	var cpu time.Duration
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		t := processCPU()
		if _, err := c.Put(ctx, bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		cpu += processCPU() - t
		b.StopTimer()
		if err := c.Delete(ctx, id); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
}

// benchPutParts times the stages of a Put of data one by one.
func benchPutParts(b *testing.B, data []byte) {
	c := benchCache(b)
	ctx := context.Background()
	h, err := inspect(data, putConfig{}, c.lim)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("read", func(b *testing.B) {
		cpuLoop(b, len(data), func() error {
			_, err := readLimited(ctx, bytes.NewReader(data), c.lim.MaxBytes)
			return err
		})
	})
	b.Run("inspect", func(b *testing.B) {
		cpuLoop(b, len(data), func() error {
			_, err := inspect(data, putConfig{}, c.lim)
			return err
		})
	})
	b.Run("hash", func(b *testing.B) {
		cpuLoop(b, len(data), func() error { _ = idOf(data); return nil })
	})
	b.Run("prove", func(b *testing.B) {
		if err := c.prepareCodecs(ctx, h.format, "", int64(len(data))); err != nil {
			b.Fatal(err)
		}
		cpuLoop(b, len(data), func() error {
			_, _, err := c.proveImage(ctx, data, h)
			return err
		})
	})
	b.Run("store", func(b *testing.B) {
		raw, err := json.Marshal(metaOf(h, int64(len(data))))
		if err != nil {
			b.Fatal(err)
		}
		id := string(idOf(data))
		var cpu time.Duration
		b.ReportAllocs()
		for b.Loop() {
			t := processCPU()
			if _, err := c.store.PutOriginal(ctx, id, data, raw); err != nil {
				b.Fatal(err)
			}
			cpu += processCPU() - t
			b.StopTimer()
			if err := c.store.Delete(ctx, id); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	})
}

// benchCache is a cache on b.TempDir() accepting every input format.
func benchCache(b *testing.B, opts ...Option) *Cache {
	return newTestCache(b, append([]Option{WithLimits(Limits{Formats: []Format{JPEG, PNG, GIF, WebP, AVIF, BMP, TIFF}})}, opts...)...)
}

// cpuLoop runs fn b.N times and reports allocations and cpu-ns/op.
func cpuLoop(b *testing.B, size int, fn func() error) {
	b.ReportAllocs()
	b.SetBytes(int64(size))
	start := processCPU()
	for b.Loop() {
		if err := fn(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
}

// processCPU is the CPU time this process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// putBenchInput is one input kind of BenchmarkPutVsDecode: its bytes (made once, lazily)
// and the plain decode that proves it.
type putBenchInput struct {
	name   string
	data   func() []byte
	decode func([]byte) error
}

func putBenchInputs(tb testing.TB) []putBenchInput {
	jpegProve := func(d []byte) error {
		_, err := jpegdec.Decode(bytes.NewReader(d), jpegOptions(proveOpts))
		return err
	}
	pngDecode := func(d []byte) error { _, err := png.Decode(bytes.NewReader(d)); return err }
	gifDecode := func(d []byte) error { _, err := gif.DecodeAll(bytes.NewReader(d)); return err }
	webpDecode := func(d []byte) error { _, err := webp.Decode(bytes.NewReader(d)); return err }
	return []putBenchInput{
		{"jpeg-photo-2000x1500", onceBytes(func() []byte { return photoJPEG(tb, 2000, 1500) }), jpegProve},
		{"png-photo-1600x1200", onceBytes(func() []byte { return encodePNGBench(tb, photoLike(1600, 1200)) }), pngDecode},
		{"gif-anim-20x400x300", onceBytes(func() []byte { return photoGIF(tb, 400, 300, 20) }), gifDecode},
		{"jpeg-progressive-2000x1500", onceBytes(func() []byte { return progressiveJPEG(tb, photoJPEG(tb, 2000, 1500)) }), jpegProve},
		{"png-screenshot-1920x1080", onceBytes(func() []byte { return encodePNGBench(tb, screenshotLike(1920, 1080)) }), pngDecode},
		{"gif-static-400x300", onceBytes(func() []byte { return photoGIF(tb, 400, 300, 1) }), gifDecode},
		{"bmp-1600x1200", onceBytes(func() []byte {
			var buf bytes.Buffer
			if err := bmp.Encode(&buf, photoLike(1600, 1200)); err != nil {
				tb.Fatal(err)
			}
			return buf.Bytes()
		}), func(d []byte) error { _, err := bmp.Decode(bytes.NewReader(d)); return err }},
		{"tiff-1600x1200", onceBytes(func() []byte {
			var buf bytes.Buffer
			if err := tiff.Encode(&buf, photoLike(1600, 1200), &tiff.Options{Compression: tiff.Deflate}); err != nil {
				tb.Fatal(err)
			}
			return buf.Bytes()
		}), func(d []byte) error { _, err := tiff.Decode(bytes.NewReader(d)); return err }},
		{"webp-lossless-1600x1200", onceBytes(func() []byte { return encodeWebPBench(tb, photoLike(1600, 1200), true) }), webpDecode},
		{"webp-lossy-1600x1200", onceBytes(func() []byte { return encodeWebPBench(tb, photoLike(1600, 1200), false) }), webpDecode},
		{"avif-640x480", onceBytes(func() []byte {
			var buf bytes.Buffer
			if err := codec.EncodeAVIF(&buf, photoLike(640, 480), codec.AVIFOptions{Quality: 60, Speed: 10}); err != nil {
				tb.Fatal(err)
			}
			return buf.Bytes()
		}), func(d []byte) error { _, err := codec.DecodeAVIF(d); return err }},
	}
}

func onceBytes(f func() []byte) func() []byte { return sync.OnceValue(f) }

func encodePNGBench(tb testing.TB, m image.Image) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func encodeWebPBench(tb testing.TB, m image.Image, lossless bool) []byte {
	var buf bytes.Buffer
	if err := codec.EncodeWebP(&buf, m, codec.WebPOptions{Quality: 80, Method: 2, Lossless: lossless}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// progressiveJPEG rewrites a baseline JPEG as progressive with jpegtran (lossless), or
// returns nil when jpegtran is missing.
func progressiveJPEG(tb testing.TB, baseline []byte) []byte {
	cmd := exec.Command("jpegtran", "-progressive", "-copy", "none")
	cmd.Stdin = bytes.NewReader(baseline)
	out, err := cmd.Output()
	if err != nil {
		tb.Logf("jpegtran: %v", err)
		return nil
	}
	return out
}

// screenshotLike is a w×h picture with a screenshot's statistics: flat panels, a few
// colours, thin rules and rows of glyph-like marks.
func screenshotLike(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(m, m.Bounds(), image.NewUniform(color.RGBA{246, 246, 248, 255}), image.Point{}, draw.Src)
	draw.Draw(m, image.Rect(0, 0, w, 48), image.NewUniform(color.RGBA{40, 44, 52, 255}), image.Point{}, draw.Src)
	draw.Draw(m, image.Rect(0, 48, w/5, h), image.NewUniform(color.RGBA{230, 232, 236, 255}), image.Point{}, draw.Src)
	for y := 70; y+12 < h; y += 22 {
		x0 := w/5 + 24
		if y%88 == 70 {
			x0 = 16
		}
		for x := x0; x+8 < w-40; x += 9 {
			n := noise8(x, y)
			if n%11 == 0 {
				x += 9 // a space
				continue
			}
			for gy := range 11 {
				for gx := range 7 {
					if noise8(x+gx, y+gy)%3 == 0 {
						m.SetRGBA(x+gx, y+gy, color.RGBA{30, 30, 40, 255})
					}
				}
			}
		}
	}
	return m
}
