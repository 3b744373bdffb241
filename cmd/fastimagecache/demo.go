package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/fastimagecache/fastimagecache"
	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// demo ingests a generated 12-megapixel photo and a set of hostile files into a fresh
// store, writes a thumbnail, and prints how each input fared.
func demo(ctx context.Context, args []string, stdout io.Writer) error {
	fl := newFlagSet("demo", "[-o THUMB.jpg]", "Ingest a generated 12-megapixel photo and a set of hostile files into a temporary store, write a thumbnail, print how each input fared.", stdout)
	out := fl.String("o", "fastimagecache-demo-thumb.jpg", "where to write the thumbnail")
	if err := fl.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "fastimagecache-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	c, err := fastimagecache.New(dir, fastimagecache.WithLimits(fastimagecache.Limits{
		Formats: []fastimagecache.Format{fastimagecache.JPEG, fastimagecache.PNG, fastimagecache.GIF,
			fastimagecache.WebP, fastimagecache.BMP, fastimagecache.TIFF},
	}))
	if err != nil {
		return err
	}
	defer c.Close()

	// Stored sideways, as a camera held upright writes it; EXIF orientation 6 turns it back.
	photo := fixture.WithEXIFOrientation(syntheticPhoto(4000, 3000), 6)
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "INPUT\tBYTES\tOUTCOME\tTIME")
	start := time.Now()
	info, err := c.Put(ctx, bytes.NewReader(photo), fastimagecache.DeclaredType("image/jpeg"))
	if err != nil {
		return fmt.Errorf("put the demo photo: %w", err)
	}
	fmt.Fprintf(tw, "photo.jpg (4000x3000, EXIF rotated)\t%d\tstored %s %dx%d id %s…\t%v\n",
		len(photo), info.Format, info.Width, info.Height, info.ID[:12], time.Since(start).Round(time.Millisecond))

	start = time.Now()
	r, err := c.Get(ctx, info.ID, fastimagecache.Spec{Width: 320, Height: 320, Format: fastimagecache.JPEG})
	if err != nil {
		return fmt.Errorf("thumbnail: %w", err)
	}
	thumb, err := io.ReadAll(r)
	_ = r.Close() // read-only
	if err != nil {
		return err
	}
	cold := time.Since(start)
	start = time.Now()
	r, err = c.Get(ctx, info.ID, fastimagecache.Spec{Width: 320, Height: 320, Format: fastimagecache.JPEG})
	if err != nil {
		return err
	}
	_ = r.Close() // only its size is printed
	fmt.Fprintf(tw, "thumbnail 320x320 contain\t%d\t%dx%d upright, written to %s\tcold %v, hit %v\n",
		len(thumb), r.Width, r.Height, filepath.Base(*out), cold.Round(time.Millisecond), time.Since(start).Round(time.Microsecond))
	if err := os.WriteFile(*out, thumb, 0o644); err != nil { // #nosec G306 -- the demo thumbnail is an ordinary file the user asked for with -o, meant to be viewed
		return err
	}

	for _, h := range []struct {
		name     string
		data     []byte
		declared string
	}{
		{"avatar.png (an HTML page)", fixture.HTML(), "image/png"},
		{"shell.jpg (PHP)", fixture.PHP(), "image/jpeg"},
		{"logo.svg (href to 169.254.169.254)", fixture.SVG("http://169.254.169.254/latest/meta-data/"), "image/svg+xml"},
		{"cat.gif sent as image/jpeg", fixture.GIF(16, 16, 1), "image/jpeg"},
		{"PNG header 100000x100000", fixture.PNGHeader(100000, 100000), "image/png"},
		{"PNG bomb 20000x20000 zeros", fixture.PNGBomb(20000, 20000), "image/png"},
		{"GIF with 10000 frames", fixture.GIFManyFrames(10000), "image/gif"},
		{"JPEG declaring 65500x65500", fixture.JPEGHeader(65500, 65500), "image/jpeg"},
		{"progressive JPEG, 5000 scans", fixture.JPEGScanFlood(1024, 1024, 5000), "image/jpeg"},
		{"WebP 16383x16383 in a few bytes", fixture.WebPLossless(16383, 16383, color.NRGBA{A: 255}), "image/webp"},
		{"TIFF with 1M tiles", fixture.TIFFTiled(16384, 16384, 16, 16), "image/tiff"},
		{"TIFF IFD loop", fixture.TIFFIFDLoop(), "image/tiff"},
		{"truncated JPEG", fixture.Truncate(photo, len(photo)/2), "image/jpeg"},
		{"PNG with a ZIP appended", fixture.AppendZIP(fixture.PNG(64, 64), "x.php", "<?php ?>"), "image/png"},
	} {
		start := time.Now()
		info, err := c.Put(ctx, bytes.NewReader(h.data), fastimagecache.DeclaredType(h.declared))
		outcome := "stored " + string(info.Format) + ", served only re-encoded"
		if err != nil {
			outcome = "rejected: " + sentinelName(err)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%v\n", h.name, len(h.data), outcome, time.Since(start).Round(time.Microsecond))
	}
	return tw.Flush()
}

func sentinelName(err error) string {
	var names []string
	for _, s := range []struct {
		err  error
		name string
	}{
		{fastimagecache.ErrTooLarge, "ErrTooLarge"},
		{fastimagecache.ErrUnsupportedFormat, "ErrUnsupportedFormat"},
		{fastimagecache.ErrTypeMismatch, "ErrTypeMismatch"},
		{fastimagecache.ErrDimensions, "ErrDimensions"},
		{fastimagecache.ErrCorrupt, "ErrCorrupt"},
		{fastimagecache.ErrBusy, "ErrBusy"},
		{context.DeadlineExceeded, "deadline"},
	} {
		if errors.Is(err, s.err) {
			names = append(names, s.name)
		}
	}
	if len(names) == 0 {
		return err.Error()
	}
	return fmt.Sprint(names)
}

// syntheticPhoto renders a smooth, detailed scene (sky, hills, a sun) as a w×h JPEG stored
// rotated a quarter turn anticlockwise, so that EXIF orientation 6 shows it upright as h×w.
// The demo needs no file on disk.
func syntheticPhoto(w, h int) []byte {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for y := range h {
		for x := range w {
			// Displayed coordinates of stored pixel (x, y) after a clockwise quarter turn.
			fx, fy := float64(h-1-y)/float64(h), float64(x)/float64(w)
			hill := 0.6 + 0.08*math.Sin(fx*9) + 0.04*math.Sin(fx*31+1)
			var r, g, b float64
			switch {
			case math.Hypot((fx-0.75)*float64(h), (fy-0.2)*float64(w)) < 0.09*float64(h):
				r, g, b = 255, 230, 120
			case fy < hill:
				r, g, b = 90+80*fy, 140+90*fy, 230
			default:
				t := 0.5 + 0.5*math.Sin(fx*200+fy*150)
				r, g, b = 40+30*t, 110+60*t*(1-fy), 40
			}
			yy, cb, cr := color.RGBToYCbCr(uint8(r), uint8(g), uint8(b))
			img.Y[img.YOffset(x, y)] = yy
			ci := img.COffset(x, y)
			img.Cb[ci], img.Cr[ci] = cb, cr
		}
	}
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85})
	return buf.Bytes()
}
