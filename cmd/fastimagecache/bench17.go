package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/disintegration/imaging"

	"github.com/fastimagecache/fastimagecache"
)

// The issue-17 table: PNG -> 320 PNG, JPEG -> 1280 and 320 JPEG, animated GIF -> GIF (as
// is and resized), upload to first thumbnail, and Put against the plain decode that proves
// each format; every pipeline interleaved over the same rounds in one process.

// bench17Config says which row groups run and on what.
type bench17Config struct {
	png, gif, large, upload, put bool
	rounds                       int
	pngMax                       int    // long side of the photos re-encoded as PNG
	profile                      string // when set, CPU profiles of our side go to profile+<key>.pprof
	shotW, shotH                 int    // generated screenshots' size (0: 1440×900)
	gifW, gifH, gifFrames        int    // generated animations' size and frames (0: 480×360, 24)
	gifs                         int    // how many animations (0: 6)
}

// withDefaults fills the generated inputs' sizes left 0.
func (c bench17Config) withDefaults() bench17Config {
	if c.shotW == 0 || c.shotH == 0 {
		c.shotW, c.shotH = 1440, 900
	}
	if c.gifW == 0 || c.gifH == 0 || c.gifFrames == 0 {
		c.gifW, c.gifH, c.gifFrames = 480, 360, 24
	}
	if c.gifs == 0 {
		c.gifs = 6
	}
	if c.pngMax == 0 {
		c.pngMax = 2048
	}
	return c
}

func (c bench17Config) any() bool { return c.png || c.gif || c.large || c.upload || c.put }

// slowMachine gives each render a minute instead of the default DecodeTimeout (10 s):
// on a shared 2-core machine a large render two in flight can outlast the default, which
// would fail the row rather than time it.
var slowMachine = fastimagecache.WithLimits(fastimagecache.Limits{DecodeTimeout: time.Minute})

// browserAccept is what a current browser sends for an <img>.
const browserAccept = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"

// pipe is one pipeline's measurements in a row: wall and CPU time of a pass over the
// inputs per round, round 0's outputs, and their PSNR.
type pipe struct {
	wall, cpu []time.Duration
	outs      [][]byte
	psnr      []float64
	resized   int // outputs a pixel off the reference's size, resized to it before PSNR
}

func (p *pipe) add(round int, outs [][]byte, wall, cpu time.Duration) {
	p.wall, p.cpu = append(p.wall, wall), append(p.cpu, cpu)
	if round == 0 {
		p.outs = outs
	}
}

func (p *pipe) ok() bool { return len(p.wall) > 0 }

// row17 is one row group: our Get one and two in flight, the naive pipeline, vipsthumbnail.
type row17 struct {
	key, name   string
	inputs      []photo
	box         int // the reference's box for PSNR; 0: no PSNR (palette output)
	spec        fastimagecache.Spec
	naive       func(b []byte) []byte // nil: no naive pipeline
	vipsIn      string                // vipsthumbnail input options, e.g. "[n=-1]"
	vipsArgs    []string
	vipsExt     string // output extension
	vipsOpts    string // output options
	target      float64
	ours, ours2 pipe
	nai, vips   pipe
}

// bench17 runs the groups cfg selects and prints the table.
func bench17(ctx context.Context, stdout io.Writer, photos []photo, cfg bench17Config) error {
	cfg = cfg.withDefaults()
	vipsPath, _ := exec.LookPath("vipsthumbnail")
	var rows []*row17
	var pngIn, gifIn []photo
	if cfg.png || cfg.put || cfg.upload {
		pp, err := pngPhotos(photos, cfg.pngMax)
		if err != nil {
			return err
		}
		shots, err := screenshots(6, cfg.shotW, cfg.shotH)
		if err != nil {
			return err
		}
		pngIn = append(pp, shots...)
	}
	if cfg.gif || cfg.put {
		var err error
		if gifIn, err = animatedGIFs(cfg.gifs, cfg.gifW, cfg.gifH, cfg.gifFrames); err != nil {
			return err
		}
	}
	jpegRow := func(key string, size int) *row17 {
		return &row17{key: key, name: fmt.Sprintf("JPEG photos -> %d JPEG q82", size), inputs: photos, box: size,
			spec:  fastimagecache.Spec{Width: size, Height: size, Format: fastimagecache.JPEG, Quality: 82},
			naive: func(b []byte) []byte { return naiveThumb(b, size, 82) }, vipsArgs: []string{"-s", fmt.Sprintf("%dx%d", size, size)},
			vipsExt: "jpg", vipsOpts: vipsJPEG(82), target: 1.5}
	}
	if cfg.png {
		rows = append(rows, &row17{key: "png320", name: "PNG photos/screenshots -> 320 PNG", inputs: pngIn, box: 320,
			spec:  fastimagecache.Spec{Width: 320, Height: 320, Format: fastimagecache.PNG},
			naive: func(b []byte) []byte { return naivePNG(b, 320) }, vipsArgs: []string{"-s", "320x320"},
			vipsExt: "png", vipsOpts: "[strip]", target: 1.5})
	}
	if cfg.large {
		rows = append(rows, jpegRow("jpeg1280", 1280), jpegRow("jpeg320", 320))
	}
	if cfg.gif {
		rows = append(rows,
			&row17{key: "gif", name: "animated GIF -> GIF (no resize)", inputs: gifIn,
				spec: fastimagecache.Spec{Format: fastimagecache.GIF}, naive: naiveGIFCopy, vipsIn: "[n=-1]",
				vipsArgs: []string{"-s", fmt.Sprintf("%dx%d", cfg.gifW, cfg.gifH)}, vipsExt: "gif", vipsOpts: "[strip]", target: 1},
			&row17{key: "gif160", name: "animated GIF -> 160 GIF (resize)", inputs: gifIn,
				spec:  fastimagecache.Spec{Width: 160, Height: 160, Format: fastimagecache.GIF},
				naive: func(b []byte) []byte { return naiveGIFResize(b, 160) }, vipsIn: "[n=-1]",
				vipsArgs: []string{"-s", "160x160"}, vipsExt: "gif", vipsOpts: "[strip]", target: 1})
	}
	var uploads []*uploadRow
	if cfg.upload {
		uploads = demoUploadRows(photos)
	}
	var puts []*putRow
	if cfg.put {
		puts = []*putRow{
			{key: "put-jpeg", name: "JPEG photos", inputs: photos, decode: decodeJPEGProof, decodeName: "jpegdec at 1/8, every scan", full: decodeJPEGFull},
			{key: "put-png", name: "PNG photos/screenshots", inputs: pngIn, decode: decodePNG, decodeName: "image/png Decode"},
			{key: "put-gif", name: "animated GIFs", inputs: gifIn, decode: decodeGIFAll, decodeName: "gif.DecodeAll"},
		}
	}

	for round := range cfg.rounds {
		for _, r := range rows {
			if err := ctx.Err(); err != nil {
				return err
			}
			prof := cfg.profilePath(r.key, round)
			outs, wall, cpu, err := coldGets(ctx, r.inputs, r.spec, "", 1, prof)
			if err != nil {
				return fmt.Errorf("%s: %w", r.name, err)
			}
			r.ours.add(round, outs, wall, cpu)
			if _, wall, cpu, err = coldGets(ctx, r.inputs, r.spec, "", 2, ""); err != nil {
				return fmt.Errorf("%s, 2 in flight: %w", r.name, err)
			}
			r.ours2.add(round, nil, wall, cpu)
			if r.naive != nil {
				outs, wall, cpu := timed(func() [][]byte {
					var outs [][]byte
					for _, in := range r.inputs {
						outs = append(outs, r.naive(in.data))
					}
					return outs
				})
				r.nai.add(round, outs, wall, cpu)
			}
			if vipsPath != "" {
				vr, err := runVipsOn(vipsPath, r.inputs, r.vipsIn, r.vipsArgs, r.vipsExt, r.vipsOpts)
				if err != nil {
					return fmt.Errorf("%s: %w", r.name, err)
				}
				r.vips.add(round, vr.outputs, vr.wall, vr.cpu)
			}
		}
		for _, u := range uploads {
			if err := u.run(ctx, round, vipsPath, cfg.profilePath(u.key, round)); err != nil {
				return err
			}
		}
		for _, p := range puts {
			if err := p.run(ctx, round, cfg.profilePath(p.key, round)); err != nil {
				return err
			}
		}
	}
	notes := map[string]bool{}
	for _, r := range rows {
		if r.box > 0 {
			if err := r.score(); err != nil {
				return err
			}
		}
	}
	if len(rows)+len(uploads) > 0 {
		fmt.Fprintf(stdout, "\nissue 17 rows: %d rounds interleaved (medians), GOMAXPROCS %d; vipsthumbnail one process per row and round over all its files, metadata stripped\n",
			cfg.rounds, runtime.GOMAXPROCS(0))
		tw := tabwriter.NewWriter(stdout, 2, 8, 1, ' ', 0)
		fmt.Fprintln(tw, "| case\t| pipeline\t| images/s\t| CPU ms/image\t| vs naive\t| vs vipsthumbnail\t| PSNR dB\t| target\t|")
		fmt.Fprintln(tw, "|---\t|---\t|---\t|---\t|---\t|---\t|---\t|---\t|")
		for _, r := range rows {
			r.print(tw, notes)
		}
		for _, u := range uploads {
			u.print(tw)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(puts) > 0 {
		tw := tabwriter.NewWriter(stdout, 2, 8, 1, ' ', 0)
		fmt.Fprintln(stdout, "\nPut (validate + proving decode + store, no eager renditions) against the plain decode that proves the format:")
		fmt.Fprintln(tw, "| inputs\t| Put ms/image\t| Put CPU ms/image\t| decode\t| decode ms/image\t| decode CPU ms/image\t| Put / decode\t| Put / decode, CPU\t| target\t|")
		fmt.Fprintln(tw, "|---\t|---\t|---\t|---\t|---\t|---\t|---\t|---\t|---\t|")
		for _, p := range puts {
			p.print(tw)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if notes["resized"] {
		fmt.Fprintln(stdout, "* outputs a pixel off the reference's size were resized to it (Lanczos) before PSNR and counted in the mean, not dropped")
	}
	if len(uploads) > 0 {
		fmt.Fprintln(stdout, "upload: Put with the renditions eager, then one Get per preset with a browser's Accept (hits); vipsthumbnail makes the same renditions,")
		fmt.Fprintln(stdout, "  one process per preset and output format over all files (its time is the sum); cover presets use --smartcrop=centre")
	}
	if cfg.profile != "" {
		fmt.Fprintf(stdout, "CPU profiles of our side (round 0, one in flight): %s<case>.pprof\n", cfg.profile)
	}
	return nil
}

func (c bench17Config) profilePath(key string, round int) string {
	if c.profile == "" || round != 0 {
		return ""
	}
	return c.profile + key + ".pprof"
}

// withProfile runs fn under a CPU profile written to path (none when path is empty).
func withProfile(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	f, err := os.Create(path) // #nosec G304 -- the operator's -profile prefix
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	err = fn()
	pprof.StopCPUProfile()
	return err
}

// timed runs fn and returns its result, wall time and process CPU time.
func timed(fn func() [][]byte) ([][]byte, time.Duration, time.Duration) {
	runtime.GC()
	cpu0, start := selfCPU(), time.Now()
	outs := fn()
	return outs, time.Since(start), selfCPU() - cpu0
}

// coldGets Puts inputs into a fresh store (untimed), then Gets spec of each once with
// workers in flight, and returns the outputs (one in flight only), wall and CPU time.
func coldGets(ctx context.Context, inputs []photo, spec fastimagecache.Spec, accept string, workers int, prof string) ([][]byte, time.Duration, time.Duration, error) {
	c, ids, cleanup, err := freshCache(ctx, inputs, slowMachine)
	if err != nil {
		return nil, 0, 0, err
	}
	defer cleanup()
	outs := make([][]byte, len(inputs))
	var firstErr atomic.Value
	var wall, cpu time.Duration
	err = withProfile(prof, func() error {
		runtime.GC()
		var next atomic.Int64
		var wg sync.WaitGroup
		cpu0, start := selfCPU(), time.Now()
		for range workers {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= len(ids) {
						return
					}
					b, err := getAccept(ctx, c, ids[i], spec, accept)
					if err != nil {
						firstErr.CompareAndSwap(nil, fmt.Errorf("get %s: %w", inputs[i].name, err))
						return
					}
					outs[i] = b
				}
			})
		}
		wg.Wait()
		wall, cpu = time.Since(start), selfCPU()-cpu0
		return nil
	})
	if err == nil {
		err, _ = firstErr.Load().(error)
	}
	return outs, wall, cpu, err
}

func getAccept(ctx context.Context, c *fastimagecache.Cache, id fastimagecache.ID, spec fastimagecache.Spec, accept string) ([]byte, error) {
	r, err := c.GetAccept(ctx, id, spec, accept)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// runVipsOn runs one vipsthumbnail over inputs (each file given inOpt) with args, writing
// name-t.ext[outOpts], and reads the outputs back.
func runVipsOn(path string, inputs []photo, inOpt string, args []string, ext, outOpts string) (vipsResult, error) {
	dir, err := os.MkdirTemp("", "fastimagecache-vips")
	if err != nil {
		return vipsResult{}, err
	}
	defer os.RemoveAll(dir)
	args = append(append([]string(nil), args...), "-o", filepath.Join(dir, "%s-t."+ext+outOpts))
	for _, p := range inputs {
		file := filepath.Join(dir, p.name)
		if err := os.WriteFile(file, p.data, 0o600); err != nil {
			return vipsResult{}, err
		}
		args = append(args, file+inOpt)
	}
	cmd := exec.Command(path, args...) // #nosec G204 -- path is vipsthumbnail from exec.LookPath; args are fixed flags and our own temp files; no shell
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		return vipsResult{}, fmt.Errorf("vipsthumbnail %s: %v: %s", strings.Join(args[:min(len(args), 6)], " "), err, out)
	}
	r := vipsResult{wall: wall, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSS = uint64(ru.Maxrss) << 10 // #nosec G115 -- Maxrss is a non-negative count of kB
	}
	for _, p := range inputs {
		b, err := os.ReadFile(filepath.Join(dir, trimExt(p.name)+"-t."+ext)) // #nosec G304 -- our own temp dir
		if err != nil {
			return vipsResult{}, err
		}
		r.outputs = append(r.outputs, b)
	}
	return r, nil
}

// score computes each pipeline's PSNR against a Lanczos reference from the full-resolution
// oriented input, fit to the row's box, all composited over white.
func (r *row17) score() error {
	for i, in := range r.inputs {
		full, err := imaging.Decode(bytes.NewReader(in.data), imaging.AutoOrientation(true))
		if err != nil {
			return fmt.Errorf("%s: %w", in.name, err)
		}
		ref := onWhite(imaging.Fit(full, r.box, r.box, imaging.Lanczos))
		for _, p := range []*pipe{&r.ours, &r.nai, &r.vips} {
			if len(p.outs) > i {
				v, resized := psnrTo(ref, p.outs[i])
				p.psnr = append(p.psnr, v)
				if resized {
					p.resized++
				}
			}
		}
	}
	return nil
}

// psnrTo is the PSNR of the encoded output against ref; an output whose size differs from
// ref's (a pixel of rounding) is first resized to ref's size with Lanczos, and resized
// says so.
func psnrTo(ref *image.NRGBA, encoded []byte) (v float64, resized bool) {
	got, err := decodeAny(encoded)
	if err != nil {
		return math.NaN(), false
	}
	got = onWhite(got)
	if rs, gs := ref.Bounds().Size(), got.Bounds().Size(); rs != gs {
		got, resized = imaging.Resize(got, rs.X, rs.Y, imaging.Lanczos), true
	}
	return psnrNRGBA(ref, got), resized
}

func (r *row17) print(tw io.Writer, notes map[string]bool) {
	n := float64(len(r.inputs))
	rate := func(p *pipe) float64 { return n / median(p.wall).Seconds() }
	cpuMs := func(p *pipe) string { return fmt.Sprintf("%.1f", float64(median(p.cpu).Microseconds())/1e3/n) }
	ps := func(p *pipe) string {
		if r.box == 0 || len(p.psnr) == 0 {
			return ""
		}
		s := fmt.Sprintf("%.2f", mean(p.psnr))
		if p.resized > 0 {
			s += fmt.Sprintf(" (%d resized*)", p.resized)
			notes["resized"] = true
		}
		return s
	}
	ratio := func(a, b *pipe) string {
		if !a.ok() || !b.ok() {
			return "n/a"
		}
		return fmt.Sprintf("%.2f×", rate(a)/rate(b))
	}
	name := fmt.Sprintf("%s (%d files)", r.name, len(r.inputs))
	target := ""
	if r.vips.ok() {
		got := rate(&r.ours) / rate(&r.vips)
		target = fmt.Sprintf(">= %.1f× vips: %s", r.target, metStr(got >= r.target))
		if r.box > 0 && len(r.ours.psnr) > 0 {
			d := mean(r.ours.psnr) - mean(r.vips.psnr)
			target += fmt.Sprintf("; PSNR %+.2f dB vs vips (>= -0.3): %s", d, metStr(d >= -0.3))
		}
	}
	fmt.Fprintf(tw, "| %s\t| fastimagecache cold Get, 1 in flight\t| %.1f\t| %s\t| %s\t| %s\t| %s\t| %s\t|\n", name, rate(&r.ours), cpuMs(&r.ours),
		ratio(&r.ours, &r.nai), ratio(&r.ours, &r.vips), ps(&r.ours), target)
	two := rate(&r.ours2) / rate(&r.ours)
	fmt.Fprintf(tw, "| %s\t| fastimagecache cold Get, 2 in flight\t| %.1f\t| %s\t| %s\t| %s\t| \t| 2 vs 1 in flight %.2f× (>= 1.8×): %s\t|\n", name, rate(&r.ours2), cpuMs(&r.ours2),
		ratio(&r.ours2, &r.nai), ratio(&r.ours2, &r.vips), two, metStr(two >= 1.8))
	if r.nai.ok() {
		fmt.Fprintf(tw, "| %s\t| naive Go\t| %.1f\t| %s\t| 1.00×\t| %s\t| %s\t| \t|\n", name, rate(&r.nai), cpuMs(&r.nai), ratio(&r.nai, &r.vips), ps(&r.nai))
	}
	if r.vips.ok() {
		fmt.Fprintf(tw, "| %s\t| vipsthumbnail\t| %.1f\t| %s\t| %s\t| 1.00×\t| %s\t| \t|\n", name, rate(&r.vips), cpuMs(&r.vips), ratio(&r.vips, &r.nai), ps(&r.vips))
	} else {
		fmt.Fprintf(tw, "| %s\t| vipsthumbnail\t| not on PATH\t| \t| \t| \t| \t| \t|\n", name)
	}
}

// vipsJPEG is vipsthumbnail's JPEG output options: our quality, metadata stripped (our
// renditions carry none; libvips otherwise copies the source's EXIF, XMP and ICC).
func vipsJPEG(q int) string { return fmt.Sprintf("[Q=%d,strip]", q) }

func metStr(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}
