// Package fuzz holds native Go fuzz targets for every path that touches untrusted bytes.
// Run one for longer with, for example:
//
//	go test ./fuzz -run '^$' -fuzz '^FuzzPut$' -fuzztime 10m
//
// Plain `go test ./...` runs each target on its seed corpus.
package fuzz

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"
	"testing"
	"time"

	"github.com/fastimagecache/fastimagecache"
	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

var sentinels = []error{
	fastimagecache.ErrTooLarge, fastimagecache.ErrDimensions, fastimagecache.ErrUnsupportedFormat,
	fastimagecache.ErrTypeMismatch, fastimagecache.ErrCorrupt, fastimagecache.ErrNotFound,
	fastimagecache.ErrInvalidSpec, fastimagecache.ErrBusy, context.DeadlineExceeded,
}

func wrapsSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// seeds are valid images of every format and the crafted hostile files.
func seeds() [][]byte {
	return [][]byte{
		fixture.JPEG(24, 16, 80),
		fixture.WithEXIFOrientation(fixture.JPEGQuadrants(16, 8), 6),
		fixture.PNG(20, 10),
		fixture.GIF(12, 10, 3),
		fixture.WebPLossless(9, 7, color.NRGBA{R: 9, A: 255}),
		fixture.BMP(8, 6),
		fixture.BMPTopDown(8, 6),
		fixture.TIFF(8, 6),
		fixture.TIFFStrips(16, 16, 4),
		fixture.PNGHeader(100000, 100000),
		fixture.PNGBomb(3000, 3000),
		fixture.GIFManyFrames(200),
		fixture.GIFFrameOutside(10, 10, image.Rect(5, 5, 50, 50)),
		fixture.JPEGHeader(65500, 65500),
		fixture.JPEGScanFlood(64, 64, 300),
		fixture.WebPRIFFOversize(16, 16),
		fixture.TIFFTiled(2048, 1024, 16, 16),
		fixture.TIFFIFDLoop(),
		fixture.BMPHeader(100000, -100000),
		fixture.AppendZIP(fixture.PNG(8, 8), "a.php", "<?php ?>"),
		fixture.HTML(),
		fixture.SVG("http://169.254.169.254/"),
	}
}

// marker is appended to every fuzz input, as a polyglot's payload would be.
const marker = "<?php /*FICMARK*/ ?>"

// FuzzPut feeds arbitrary bytes (with a payload appended) to Put and, when they are
// accepted, renders them. A failure must wrap an exported sentinel; a success must be
// within the limits, and its rendition must decode and never contain the payload.
func FuzzPut(f *testing.F) {
	for _, s := range seeds() {
		f.Add(s)
	}
	lim := fastimagecache.Limits{
		MaxBytes:      1 << 20,
		MaxWidth:      2048,
		MaxHeight:     2048,
		MaxPixels:     1 << 20,
		MaxFrames:     16,
		DecodeTimeout: 2 * time.Second,
		MemoryBudget:  64 << 20,
		Formats: []fastimagecache.Format{fastimagecache.JPEG, fastimagecache.PNG, fastimagecache.GIF,
			fastimagecache.WebP, fastimagecache.BMP, fastimagecache.TIFF},
	}
	c, err := fastimagecache.New(f.TempDir(), fastimagecache.WithLimits(lim))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { c.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		data = append(data[:len(data):len(data)], marker...)
		info, err := c.Put(ctx, bytes.NewReader(data))
		if err != nil {
			if !wrapsSentinel(err) {
				t.Fatalf("Put error wraps no sentinel: %v", err)
			}
			return
		}
		if info.Width <= 0 || info.Height <= 0 || info.Width > lim.MaxWidth || info.Height > lim.MaxHeight ||
			int64(info.Width)*int64(info.Height) > lim.MaxPixels || info.Frames < 1 || info.Frames > lim.MaxFrames {
			t.Fatalf("accepted out of limits: %+v", info)
		}
		r, err := c.Get(ctx, info.ID, fastimagecache.Spec{Width: 32, Height: 32})
		if err != nil {
			if !wrapsSentinel(err) {
				t.Fatalf("Get error wraps no sentinel: %v", err)
			}
			return
		}
		defer r.Close()
		var out bytes.Buffer
		if _, err := out.ReadFrom(r); err != nil {
			t.Fatal(err)
		}
		cfg, _, err := image.DecodeConfig(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("rendition does not decode: %v", err)
		}
		if cfg.Width != r.Width || cfg.Height != r.Height || cfg.Width > 32 || cfg.Height > 32 {
			t.Fatalf("rendition %dx%d, reported %dx%d", cfg.Width, cfg.Height, r.Width, r.Height)
		}
		if bytes.Contains(out.Bytes(), []byte(marker)) {
			t.Fatalf("rendition contains the appended payload")
		}
	})
}
