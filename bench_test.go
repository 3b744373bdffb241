package fastimagecache

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// The hot paths, for regressions: go test -run '^$' -bench . -benchmem
// The headline comparison on real photos is `fastimagecache bench DIR` (README, Performance).

var thumb = Spec{Width: 320, Height: 320, Format: JPEG, Quality: 82}

func benchPhoto(b *testing.B) []byte {
	b.Helper()
	return fixture.JPEG(4000, 3000, 85) // 12 MP
}

func BenchmarkPut12MP(b *testing.B) {
	data := benchPhoto(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		b.StopTimer()
		c := newTestCache(b)
		b.StartTimer()
		if _, err := c.Put(context.Background(), bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetCold12MP(b *testing.B) {
	data := benchPhoto(b)
	c := newTestCache(b, WithMemoryCache(-1))
	info := put(b, c, data)
	i := 0
	for b.Loop() {
		i++
		// A Spec never asked before: a real render every time (320 ± 1 px boxes).
		r, err := c.Get(context.Background(), info.ID, Spec{Width: 320 + i%2, Height: 320 + i/2, Format: JPEG})
		if err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}

func BenchmarkNaive12MP(b *testing.B) {
	data := benchPhoto(b)
	for b.Loop() {
		img, _, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		t := imaging.Fit(img, 320, 320, imaging.Lanczos)
		if err := jpeg.Encode(io.Discard, t, &jpeg.Options{Quality: 82}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetWarm(b *testing.B) {
	for _, tier := range []struct {
		name string
		opt  Option
	}{{"memory", WithMemoryCache(0)}, {"disk", WithMemoryCache(-1)}} {
		b.Run(tier.name, func(b *testing.B) {
			c := newTestCache(b, tier.opt)
			info := put(b, c, fixture.JPEG(1200, 900, 85))
			r, err := c.Get(context.Background(), info.ID, thumb)
			if err != nil {
				b.Fatal(err)
			}
			r.Close()
			for b.Loop() {
				r, err := c.Get(context.Background(), info.ID, thumb)
				if err != nil {
					b.Fatal(err)
				}
				r.Close()
			}
		})
	}
}

func BenchmarkInspect(b *testing.B) {
	for _, in := range []struct {
		name string
		data []byte
	}{
		{"jpeg-12MP", fixture.JPEG(4000, 3000, 85)},
		{"png", fixture.PNG(1000, 800)},
		{"gif-10-frames", fixture.GIF(400, 300, 10)},
	} {
		b.Run(in.name, func(b *testing.B) {
			lim := DefaultLimits()
			for b.Loop() {
				if _, err := inspect(in.data, putConfig{}, lim); err != nil {
					b.Fatal(fmt.Errorf("%s: %w", in.name, err))
				}
			}
		})
	}
}
