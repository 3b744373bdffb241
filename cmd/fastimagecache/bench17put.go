package main

import (
	"bytes"
	"context"
	"fmt"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/fastimagecache/fastimagecache"
	"github.com/fastimagecache/fastimagecache/internal/jpegdec"
)

// The issue-17 rows that time Put: upload to first thumbnail, and Put against the decode
// that proves each format.

// uploadRow is upload to first thumbnail: Put with eager presets, then a Get of each.
type uploadRow struct {
	key, name string
	inputs    []photo
	presets   []fastimagecache.Spec
	accept    string
	vipsRuns  [][]string // per rendition: args, ext, output options (last two elements)
	ours      pipe
	vips      pipe
}

// demoUploadRows are the demo server's default presets (serve.go: thumb 160×160 cover and
// small 320×320 contain, both Auto), and the same presets as JPEG alone.
func demoUploadRows(photos []photo) []*uploadRow {
	thumb := fastimagecache.Spec{Width: 160, Height: 160, Fit: fastimagecache.Cover, Format: fastimagecache.Auto}
	small := fastimagecache.Spec{Width: 320, Height: 320, Format: fastimagecache.Auto}
	vipsFor := func(formats []outFormat) [][]string {
		var out [][]string
		for _, f := range formats {
			opts := fmt.Sprintf("[Q=%d,%s]", f.quality, f.vips)
			out = append(out, []string{"-s", "160x160", "--smartcrop=centre", f.ext, opts}, []string{"-s", "320x320", f.ext, opts})
		}
		return out
	}
	all := benchOutFormats(82, benchWebPQuality, benchAVIFQuality)
	jthumb, jsmall := thumb, small
	jthumb.Format, jsmall.Format = fastimagecache.JPEG, fastimagecache.JPEG
	return []*uploadRow{
		{key: "upload", name: "upload to first thumbnail, demo presets (Auto: AVIF, WebP, JPEG each)", inputs: photos,
			presets: []fastimagecache.Spec{thumb, small}, accept: browserAccept, vipsRuns: vipsFor(all)},
		{key: "upload-jpeg", name: "upload to first thumbnail, the presets as JPEG", inputs: photos,
			presets: []fastimagecache.Spec{jthumb, jsmall}, vipsRuns: vipsFor(all[:1])},
	}
}

func (u *uploadRow) run(ctx context.Context, round int, vipsPath, prof string) error {
	dir, err := os.MkdirTemp("", "fastimagecache-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	c, err := fastimagecache.New(dir, fastimagecache.WithEagerRenditions(u.presets...), slowMachine)
	if err != nil {
		return err
	}
	defer c.Close()
	var wall, cpu time.Duration
	err = withProfile(prof, func() error {
		runtime.GC()
		cpu0, start := selfCPU(), time.Now()
		for _, in := range u.inputs {
			info, err := c.Put(ctx, bytes.NewReader(in.data))
			if err != nil {
				return fmt.Errorf("%s: put %s: %w", u.name, in.name, err)
			}
			for _, s := range u.presets {
				if _, err := getAccept(ctx, c, info.ID, s, u.accept); err != nil {
					return fmt.Errorf("%s: get %s: %w", u.name, in.name, err)
				}
			}
		}
		wall, cpu = time.Since(start), selfCPU()-cpu0
		return nil
	})
	if err != nil {
		return err
	}
	u.ours.add(round, nil, wall, cpu)
	if vipsPath == "" {
		return nil
	}
	var vw, vc time.Duration
	for _, a := range u.vipsRuns {
		vr, err := runVipsOn(vipsPath, u.inputs, "", a[:len(a)-2], a[len(a)-2], a[len(a)-1])
		if err != nil {
			return fmt.Errorf("%s: %w", u.name, err)
		}
		vw, vc = vw+vr.wall, vc+vr.cpu
	}
	u.vips.add(round, nil, vw, vc)
	return nil
}

func (u *uploadRow) print(tw io.Writer) {
	n := float64(len(u.inputs))
	rate := func(p *pipe) float64 { return n / median(p.wall).Seconds() }
	cpuMs := func(p *pipe) string { return fmt.Sprintf("%.1f", float64(median(p.cpu).Microseconds())/1e3/n) }
	name := fmt.Sprintf("%s (%d files, %d renditions by vips)", u.name, len(u.inputs), len(u.vipsRuns))
	vs, target := "n/a", ""
	if u.vips.ok() {
		got := rate(&u.ours) / rate(&u.vips)
		vs, target = fmt.Sprintf("%.2f×", got), fmt.Sprintf(">= 1.5× vips: %s", metStr(got >= 1.5))
	}
	fmt.Fprintf(tw, "| %s\t| fastimagecache Put + Get of each preset\t| %.1f\t| %s\t| \t| %s\t| \t| %s\t|\n", name, rate(&u.ours), cpuMs(&u.ours), vs, target)
	if u.vips.ok() {
		fmt.Fprintf(tw, "| %s\t| vipsthumbnail, the same renditions\t| %.1f\t| %s\t| \t| 1.00×\t| \t| \t|\n", name, rate(&u.vips), cpuMs(&u.vips))
	}
}

// putRow is Put against the plain decode that proves the format.
type putRow struct {
	key, name  string
	inputs     []photo
	decode     func([]byte) error
	decodeName string
	full       func([]byte) error // an extra comparison decode (JPEG: image/jpeg at full size)
	put, dec   pipe
	fullDec    pipe
}

func (p *putRow) run(ctx context.Context, round int, prof string) error {
	dir, err := os.MkdirTemp("", "fastimagecache-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	c, err := fastimagecache.New(dir, slowMachine)
	if err != nil {
		return err
	}
	defer c.Close()
	var wall, cpu time.Duration
	err = withProfile(prof, func() error {
		runtime.GC()
		cpu0, start := selfCPU(), time.Now()
		for _, in := range p.inputs {
			if _, err := c.Put(ctx, bytes.NewReader(in.data)); err != nil {
				return fmt.Errorf("put %s: %w", in.name, err)
			}
		}
		wall, cpu = time.Since(start), selfCPU()-cpu0
		return nil
	})
	if err != nil {
		return err
	}
	p.put.add(round, nil, wall, cpu)
	for _, d := range []struct {
		fn func([]byte) error
		to *pipe
	}{{p.decode, &p.dec}, {p.full, &p.fullDec}} {
		if d.fn == nil {
			continue
		}
		var derr error
		_, wall, cpu := timed(func() [][]byte {
			for _, in := range p.inputs {
				if err := d.fn(in.data); err != nil && derr == nil {
					derr = fmt.Errorf("decode %s: %w", in.name, err)
				}
			}
			return nil
		})
		if derr != nil {
			return derr
		}
		d.to.add(round, nil, wall, cpu)
	}
	return nil
}

func (p *putRow) print(tw io.Writer) {
	n := float64(len(p.inputs))
	ms := func(ds []time.Duration) float64 { return float64(median(ds).Microseconds()) / 1e3 / n }
	r := ms(p.put.wall) / ms(p.dec.wall)
	fmt.Fprintf(tw, "| %s (%d files)\t| %.2f\t| %.2f\t| %s\t| %.2f\t| %.2f\t| %.2f×\t| %.2f×\t| <= 1.0×: %s\t|\n", p.name, len(p.inputs), ms(p.put.wall), ms(p.put.cpu),
		p.decodeName, ms(p.dec.wall), ms(p.dec.cpu), r, ms(p.put.cpu)/ms(p.dec.cpu), metStr(r <= 1))
	if p.fullDec.ok() {
		fmt.Fprintf(tw, "| %s (%d files)\t| \t| \t| image/jpeg Decode, full size\t| %.2f\t| %.2f\t| %.2f×\t| %.2f×\t| \t|\n", p.name, len(p.inputs),
			ms(p.fullDec.wall), ms(p.fullDec.cpu), ms(p.put.wall)/ms(p.fullDec.wall), ms(p.put.cpu)/ms(p.fullDec.cpu))
	}
}

func decodeJPEGProof(b []byte) error {
	_, err := jpegdec.Decode(bytes.NewReader(b), jpegdec.Options{Scale: 8})
	return err
}

func decodeJPEGFull(b []byte) error {
	_, err := jpeg.Decode(bytes.NewReader(b))
	return err
}

func decodePNG(b []byte) error {
	_, err := png.Decode(bytes.NewReader(b))
	return err
}

func decodeGIFAll(b []byte) error {
	_, err := gif.DecodeAll(bytes.NewReader(b))
	return err
}
