package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/disintegration/imaging"
	"golang.org/x/image/webp"

	"github.com/fastimagecache/fastimagecache"
	"github.com/fastimagecache/fastimagecache/internal/codec"
)

// The qualities the formats table uses unless told otherwise: the library's defaults for
// each output format (Spec.Quality 0), so the rows show what a Get of a preset without a
// quality serves. TestBenchFormatDefaults checks they still are the library's defaults.
const (
	benchWebPQuality = 80
	benchAVIFQuality = 60
)

// The encoder effort the library uses (render.go: WebP method, AVIF speed), mirrored in the
// options vipsthumbnail gets so both sides spend comparable effort: vips' WebP effort is
// libwebp's method; its AVIF effort e is libheif's aom speed 9-e, so effort 0 is aom's
// fastest still-image setting, the nearest to libavif's speed 10 (which libavif clamps to
// aom cpu-used 9).
const (
	vipsWebPEffort = 2
	vipsAVIFEffort = 0
)

// outFormat is one output format of the formats table, with the settings both pipelines
// get: the same quality number (each encoder's own 1..100 scale, which for JPEG is libjpeg's
// and for WebP libwebp's on both sides, and for AVIF maps to the same AV1 quantizer in
// libavif and libheif), the same box, metadata stripped.
type outFormat struct {
	name    string
	format  fastimagecache.Format
	ext     string
	quality int
	vips    string // vipsthumbnail output options, after Q
}

func benchOutFormats(jpegQ, webpQ, avifQ int) []outFormat {
	return []outFormat{
		{"JPEG", fastimagecache.JPEG, "jpg", jpegQ, "strip"},
		{"WebP", fastimagecache.WebP, "webp", webpQ, "strip,effort=" + strconv.Itoa(vipsWebPEffort)},
		{"AVIF", fastimagecache.AVIF, "avif", avifQ, "strip,effort=" + strconv.Itoa(vipsAVIFEffort) + ",encoder=aom,bitdepth=8"},
	}
}

func (f outFormat) spec(size int) fastimagecache.Spec {
	return fastimagecache.Spec{Width: size, Height: size, Format: f.format, Quality: f.quality}
}

// vipsOutput is the -o argument of vipsthumbnail for f, writing into dir.
func (f outFormat) vipsOutput(dir string) string {
	return filepath.Join(dir, "%s-t."+f.ext+"[Q="+strconv.Itoa(f.quality)+","+f.vips+"]")
}

// formatStats is what the formats table reports for one pipeline and format.
type formatStats struct {
	times   []time.Duration // wall time of one pass over all photos, per round
	cpu     []time.Duration // CPU time (user + system) of that pass, per round
	outputs [][]byte        // round 0's output per photo
	maxRSS  uint64          // vipsthumbnail: the process's peak RSS, bytes
	psnr    []float64
	ssim    []float64
}

// formatMem is one format's per-Get memory, from an untimed pass, one Get in flight.
type formatMem struct {
	allocs, rss             []uint64 // per photo: bytes allocated; peak RSS growth (0 when unknown)
	firstTime               time.Duration
	firstAlloc, firstRSS    uint64
	rssKnown, firstRSSKnown bool
}

// benchFormats prints the output formats table: cold Get to JPEG, WebP and AVIF, and
// vipsthumbnail writing the same format, with speed, CPU time, bytes, PSNR and SSIM against
// a Lanczos reference, and then the memory each cold Get takes.
func benchFormats(ctx context.Context, stdout io.Writer, photos []photo, size, rounds int, formats []outFormat) error {
	vipsPath, _ := exec.LookPath("vipsthumbnail")
	ours := make([]formatStats, len(formats))
	vips := make([]formatStats, len(formats))
	mem := make([]formatMem, len(formats))

	// First, before anything else in this process uses the codecs, the first Get of each
	// format: it pays the WebAssembly module's compile.
	for i, f := range formats {
		if err := firstGet(ctx, photos[0], f.spec(size), &mem[i]); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	for round := range rounds {
		for i, f := range formats {
			if err := ctx.Err(); err != nil {
				return err
			}
			outs, d, cpu, err := coldPass(ctx, photos, f.spec(size))
			if err != nil {
				return fmt.Errorf("%s: %w", f.name, err)
			}
			ours[i].times = append(ours[i].times, d)
			ours[i].cpu = append(ours[i].cpu, cpu)
			if round == 0 {
				ours[i].outputs = outs
			}
			if vipsPath == "" {
				continue
			}
			vr, err := runVipsFormat(vipsPath, photos, size, f)
			if err != nil {
				return err
			}
			vips[i].times = append(vips[i].times, vr.wall)
			vips[i].cpu = append(vips[i].cpu, vr.cpu)
			vips[i].maxRSS = max(vips[i].maxRSS, vr.maxRSS)
			if round == 0 {
				vips[i].outputs = vr.outputs
			}
		}
	}
	for i, f := range formats {
		if err := perGetMemory(ctx, photos, f.spec(size), &mem[i]); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	// Quality: one full-resolution decode per photo, a Lanczos reference at each output's
	// own size.
	for p := range photos {
		full, err := imaging.Decode(bytes.NewReader(photos[p].data), imaging.AutoOrientation(true))
		if err != nil {
			return fmt.Errorf("%s: %w", photos[p].name, err)
		}
		refs := map[image.Point]*image.NRGBA{}
		score := func(s *formatStats, f outFormat) {
			if len(s.outputs) <= p {
				return
			}
			got, err := decodeOutput(f.format, s.outputs[p])
			if err != nil {
				s.psnr, s.ssim = append(s.psnr, math.NaN()), append(s.ssim, math.NaN())
				return
			}
			dim := got.Bounds().Size()
			ref := refs[dim]
			if ref == nil {
				ref = imaging.Resize(full, dim.X, dim.Y, imaging.Lanczos)
				refs[dim] = ref
			}
			s.psnr = append(s.psnr, psnrNRGBA(ref, got))
			s.ssim = append(s.ssim, ssimNRGBA(ref, got))
		}
		for i, f := range formats {
			score(&ours[i], f)
			score(&vips[i], f)
		}
	}

	n := float64(len(photos))
	rate := func(ds []time.Duration) float64 { return n / median(ds).Seconds() }
	cpuMs := func(ds []time.Duration) float64 { return float64(median(ds).Microseconds()) / 1e3 / n }
	jpegIdx := slices0(formats, fastimagecache.JPEG)
	fmt.Fprintf(stdout, "\noutput formats: %d photos to fit %d×%d, %d rounds (medians); qualities %s; metadata stripped on both sides\n",
		len(photos), size, size, rounds, qualities(formats))
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "output\tpipeline\timages/s\tCPU ms/image\ttime vs our JPEG\tvs vipsthumbnail\tmean KiB\tbytes vs JPEG\tPSNR dB\tSSIM\t")
	for i, f := range formats {
		for _, side := range []struct {
			name string
			s, j *formatStats
			o    *formatStats // the other side, for the vs-vips column
		}{
			{"fastimagecache cold Get, 1 in flight", &ours[i], &ours[jpegIdx], &vips[i]},
			{"vipsthumbnail (one process, all photos)", &vips[i], &vips[jpegIdx], nil},
		} {
			if len(side.s.times) == 0 {
				fmt.Fprintf(tw, "%s\t%s\tnot on PATH\t\t\t\t\t\t\t\t\n", f.name, side.name)
				continue
			}
			vsVips := ""
			if side.o != nil && len(side.o.times) > 0 {
				vsVips = fmt.Sprintf("%.2f×", rate(side.s.times)/rate(side.o.times))
			}
			vsJPEG := ""
			if side.o != nil && i != jpegIdx {
				vsJPEG = fmt.Sprintf("%.2f×", median(side.s.times).Seconds()/median(ours[jpegIdx].times).Seconds())
			}
			byJPEG := ""
			if i != jpegIdx {
				byJPEG = fmt.Sprintf("%.2f×", float64(total(side.s.outputs))/float64(total(side.j.outputs)))
			}
			fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%s\t%s\t%.1f\t%s\t%.2f\t%.4f\t\n", f.name, side.name, rate(side.s.times), cpuMs(side.s.cpu),
				vsJPEG, vsVips, float64(total(side.s.outputs))/n/1024, byJPEG, mean(side.s.psnr), mean(side.s.ssim))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "bytes exclude WebP EXIF/XMP/ICC chunks, which libvips 8.14 writes despite strip (libvips#3340); ours carry none")
	fmt.Fprintf(stdout, "vipsthumbnail runs its own threads (GOMAXPROCS %d here; compare CPU ms/image); effort: WebP method %d both, AVIF libavif speed 10 vs vips effort %d (aom speed 9)\n",
		runtime.GOMAXPROCS(0), vipsWebPEffort, vipsAVIFEffort)
	fmt.Fprintln(stdout, "memory per cold Get, one in flight, after a GC (Go allocation is an upper bound on peak heap; RSS is the peak growth over the Get):")
	tw = tabwriter.NewWriter(stdout, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "output\talloc MiB mean\talloc MiB max\tRSS growth MiB mean\tRSS growth MiB max\tfirst Get in process ms\tfirst Get alloc MiB\tfirst Get RSS MiB\tvipsthumbnail process peak RSS MiB\t")
	for i, f := range formats {
		m := mem[i]
		rssMean, rssMax, firstRSS := "n/a", "n/a", "n/a"
		if m.rssKnown {
			rssMean, rssMax = fmt.Sprintf("%.1f", meanMiB(m.rss)), fmt.Sprintf("%.1f", mib(maxOf(m.rss)))
		}
		if m.firstRSSKnown {
			firstRSS = fmt.Sprintf("%.1f", mib(m.firstRSS))
		}
		vipsRSS := "n/a"
		if vips[i].maxRSS > 0 {
			vipsRSS = fmt.Sprintf("%.0f", mib(vips[i].maxRSS))
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%s\t%s\t%.0f\t%.1f\t%s\t%s\t\n", f.name, meanMiB(m.allocs), mib(maxOf(m.allocs)), rssMean, rssMax,
			float64(m.firstTime.Microseconds())/1e3, mib(m.firstAlloc), firstRSS, vipsRSS)
	}
	return tw.Flush()
}

func slices0(formats []outFormat, f fastimagecache.Format) int {
	for i, o := range formats {
		if o.format == f {
			return i
		}
	}
	return 0
}

func qualities(formats []outFormat) string {
	var s []string
	for _, f := range formats {
		s = append(s, fmt.Sprintf("%s %d", f.name, f.quality))
	}
	return strings.Join(s, ", ")
}

// total is the bytes of outs not counting metadata (imageBytes).
func total(outs [][]byte) int {
	n := 0
	for _, b := range outs {
		n += imageBytes(b)
	}
	return n
}

// imageBytes is the size of an output without the metadata a WebP may carry: the EXIF, XMP
// and ICC chunks are not counted. libvips 8.14's webpsave writes them despite strip
// (libvips/libvips#3340), which would otherwise count the source's metadata against it;
// our renditions carry none. Other formats count whole (vipsthumbnail strips them).
func imageBytes(b []byte) int {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return len(b)
	}
	n := 12
	for off := 12; off+8 <= len(b); {
		size := int(binary.LittleEndian.Uint32(b[off+4:]))
		chunk := 8 + size + size&1
		switch string(b[off : off+4]) {
		case "EXIF", "XMP ", "ICCP":
		default:
			n += min(chunk, len(b)-off)
		}
		if size > len(b) {
			break
		}
		off += chunk
	}
	return n
}

func maxOf(xs []uint64) uint64 {
	var m uint64
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

func meanMiB(xs []uint64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	var s float64
	for _, x := range xs {
		s += mib(x)
	}
	return s / float64(len(xs))
}

// freshCache puts every photo into a new store in a temp dir; cleanup closes and removes it.
func freshCache(ctx context.Context, photos []photo, opts ...fastimagecache.Option) (*fastimagecache.Cache, []fastimagecache.ID, func(), error) {
	dir, err := os.MkdirTemp("", "fastimagecache-bench")
	if err != nil {
		return nil, nil, nil, err
	}
	c, err := fastimagecache.New(dir, opts...)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, nil, nil, err
	}
	cleanup := func() { _ = c.Close(); _ = os.RemoveAll(dir) }
	ids := make([]fastimagecache.ID, len(photos))
	for i, p := range photos {
		info, err := c.Put(ctx, bytes.NewReader(p.data))
		if err != nil {
			cleanup()
			return nil, nil, nil, fmt.Errorf("put %s: %w", p.name, err)
		}
		ids[i] = info.ID
	}
	return c, ids, cleanup, nil
}

// coldPass Gets every photo once from a fresh store, one in flight, and returns the outputs,
// the wall time and the process CPU time of the Gets.
func coldPass(ctx context.Context, photos []photo, spec fastimagecache.Spec) ([][]byte, time.Duration, time.Duration, error) {
	c, ids, cleanup, err := freshCache(ctx, photos)
	if err != nil {
		return nil, 0, 0, err
	}
	defer cleanup()
	runtime.GC()
	outs := make([][]byte, len(photos))
	cpu0 := selfCPU()
	start := time.Now()
	for i := range photos {
		b, err := getAll(ctx, c, ids[i], spec)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("get %s: %w", photos[i].name, err)
		}
		outs[i] = b
	}
	return outs, time.Since(start), selfCPU() - cpu0, nil
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// memProbe measures one call: the bytes the Go runtime allocated during it (exact after the
// GCs, see coldAllocs) and the growth of the process's peak RSS over its RSS before it
// (the kernel's high-water mark is reset first: Linux's clear_refs 5). rssOK is false where
// the high-water mark cannot be reset.
func memProbe(fn func() error) (alloc, rss uint64, rssOK bool, err error) {
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	runtime.GC()
	debug.FreeOSMemory()
	metrics.Read(sample)
	before := sample[0].Value.Uint64()
	rss0, ok := procStatusKB("VmRSS")
	rssOK = ok && os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	err = fn()
	hwm, ok := procStatusKB("VmHWM")
	rssOK = rssOK && ok
	runtime.GC()
	metrics.Read(sample)
	alloc = sample[0].Value.Uint64() - before
	if rssOK && hwm > rss0 {
		rss = (hwm - rss0) << 10
	}
	return alloc, rss, rssOK, err
}

// procStatusKB reads a "kB" field of /proc/self/status.
func procStatusKB(field string) (uint64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb, err == nil
		}
	}
	return 0, false
}

// firstGet measures the first cold Get of spec's format in this process. It pays the
// codec's module compile, which on a loaded machine can outlast the default DecodeTimeout
// (10 s), so this one Get has a minute.
func firstGet(ctx context.Context, p photo, spec fastimagecache.Spec, m *formatMem) error {
	c, ids, cleanup, err := freshCache(ctx, []photo{p}, fastimagecache.WithLimits(fastimagecache.Limits{DecodeTimeout: time.Minute}))
	if err != nil {
		return err
	}
	defer cleanup()
	alloc, rss, ok, err := memProbe(func() error {
		start := time.Now()
		_, err := getAll(ctx, c, ids[0], spec)
		m.firstTime = time.Since(start)
		return err
	})
	m.firstAlloc, m.firstRSS, m.firstRSSKnown = alloc, rss, ok
	return err
}

// perGetMemory Gets every photo once from a fresh store, one in flight, and records each
// Get's allocation and peak RSS growth.
func perGetMemory(ctx context.Context, photos []photo, spec fastimagecache.Spec, m *formatMem) error {
	c, ids, cleanup, err := freshCache(ctx, photos)
	if err != nil {
		return err
	}
	defer cleanup()
	m.allocs, m.rss = make([]uint64, len(photos)), make([]uint64, len(photos))
	m.rssKnown = true
	for i := range photos {
		alloc, rss, ok, err := memProbe(func() error {
			_, err := getAll(ctx, c, ids[i], spec)
			return err
		})
		if err != nil {
			return fmt.Errorf("get %s: %w", photos[i].name, err)
		}
		m.allocs[i], m.rss[i] = alloc, rss
		m.rssKnown = m.rssKnown && ok
	}
	return nil
}

type vipsResult struct {
	wall, cpu time.Duration
	maxRSS    uint64
	outputs   [][]byte
}

// runVipsFormat runs one vipsthumbnail over all photos writing f, and reads the outputs back.
func runVipsFormat(path string, photos []photo, size int, f outFormat) (vipsResult, error) {
	dir, err := os.MkdirTemp("", "fastimagecache-vips")
	if err != nil {
		return vipsResult{}, err
	}
	defer os.RemoveAll(dir)
	args := []string{"-s", fmt.Sprintf("%dx%d", size, size), "-o", f.vipsOutput(dir)}
	for _, p := range photos {
		file := filepath.Join(dir, p.name)
		if err := os.WriteFile(file, p.data, 0o600); err != nil {
			return vipsResult{}, err
		}
		args = append(args, file)
	}
	cmd := exec.Command(path, args...) // #nosec G204 -- path is vipsthumbnail from exec.LookPath; args are fixed flags and our own temp files; no shell
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		return vipsResult{}, fmt.Errorf("vipsthumbnail %s: %v: %s", f.name, err, out)
	}
	r := vipsResult{wall: wall, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSS = uint64(ru.Maxrss) << 10 // #nosec G115 -- Maxrss is a non-negative count of kB
	}
	for _, p := range photos {
		b, err := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(p.name, filepath.Ext(p.name))+"-t."+f.ext)) // #nosec G304 -- our own temp dir
		if err != nil {
			return vipsResult{}, err
		}
		r.outputs = append(r.outputs, b)
	}
	return r, nil
}

// decodeOutput decodes an output of format f by its format alone (never image.Decode: the
// codec packages register themselves there): WebP with x/image/webp, AVIF with the codec.
func decodeOutput(f fastimagecache.Format, b []byte) (*image.NRGBA, error) {
	var img image.Image
	var err error
	switch f {
	case fastimagecache.JPEG:
		img, err = jpeg.Decode(bytes.NewReader(b))
	case fastimagecache.WebP:
		img, err = webp.Decode(bytes.NewReader(b))
		if err == nil {
			img = fromLimitedRange(img)
		}
	case fastimagecache.AVIF:
		img, err = codec.DecodeAVIF(b)
	default:
		err = fmt.Errorf("no decoder for %s", f)
	}
	if err != nil {
		return nil, err
	}
	return imaging.Clone(img), nil
}

// fromLimitedRange converts a lossy WebP that x/image/webp decoded: it returns the VP8
// planes as an image.YCbCr, whose colour model is JPEG's full range, while VP8 (and libwebp,
// which wrote them) uses limited-range BT.601 (golang/go#40173): read as is, black comes out
// as 16 and white as 235. Chroma is upsampled by nearest neighbour, as image.YCbCr does
// (libwebp's own decoder interpolates). Other images are returned unchanged.
func fromLimitedRange(img image.Image) image.Image {
	var yc *image.YCbCr
	var alpha *image.NYCbCrA
	switch m := img.(type) {
	case *image.YCbCr:
		yc = m
	case *image.NYCbCrA:
		yc, alpha = &m.YCbCr, m
	default:
		return img
	}
	b := yc.Bounds()
	out := image.NewNRGBA(b)
	clamp := func(v float64) uint8 { return uint8(max(0, min(255, math.Round(v)))) }
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			yy := 1.164383 * (float64(yc.Y[yc.YOffset(x, y)]) - 16)
			ci := yc.COffset(x, y)
			cb, cr := float64(yc.Cb[ci])-128, float64(yc.Cr[ci])-128
			a := uint8(255)
			if alpha != nil {
				a = alpha.A[alpha.AOffset(x, y)]
			}
			out.SetNRGBA(x, y, color.NRGBA{clamp(yy + 1.596027*cr), clamp(yy - 0.391762*cb - 0.812968*cr), clamp(yy + 2.017232*cb), a})
		}
	}
	return out
}

var errSize = errors.New("images differ in size")

func sameSize(a, b *image.NRGBA) error {
	if a.Bounds().Size() != b.Bounds().Size() {
		return errSize
	}
	return nil
}

// psnrNRGBA is the PSNR of b against ref over R, G and B, in dB (99 when equal, NaN when the
// sizes differ).
func psnrNRGBA(ref, b *image.NRGBA) float64 {
	if sameSize(ref, b) != nil {
		return math.NaN()
	}
	sz := ref.Bounds().Size()
	var se float64
	for y := range sz.Y {
		rr, br := ref.Pix[y*ref.Stride:], b.Pix[y*b.Stride:]
		for x := range sz.X {
			for c := range 3 {
				d := float64(rr[4*x+c]) - float64(br[4*x+c])
				se += d * d
			}
		}
	}
	mse := se / float64(3*sz.X*sz.Y)
	if mse == 0 {
		return 99
	}
	return 10 * math.Log10(255*255/mse)
}

// ssimNRGBA is the mean SSIM (Wang et al. 2004: 11×11 Gaussian window, σ 1.5, K1 0.01,
// K2 0.03, L 255) of b against ref on luma (BT.601), over the windows that fit. NaN when the
// sizes differ or the image is smaller than a window.
func ssimNRGBA(ref, b *image.NRGBA) float64 {
	const win, sigma = 11, 1.5
	if sameSize(ref, b) != nil {
		return math.NaN()
	}
	sz := ref.Bounds().Size()
	if sz.X < win || sz.Y < win {
		return math.NaN()
	}
	luma := func(m *image.NRGBA) []float64 {
		out := make([]float64, sz.X*sz.Y)
		for y := range sz.Y {
			row := m.Pix[y*m.Stride:]
			for x := range sz.X {
				out[y*sz.X+x] = 0.299*float64(row[4*x]) + 0.587*float64(row[4*x+1]) + 0.114*float64(row[4*x+2])
			}
		}
		return out
	}
	x, y := luma(ref), luma(b)
	var k [win]float64
	var ks float64
	for i := range win {
		d := float64(i - win/2)
		k[i] = math.Exp(-d * d / (2 * sigma * sigma))
		ks += k[i]
	}
	for i := range k {
		k[i] /= ks
	}
	ow, oh := sz.X-win+1, sz.Y-win+1
	// blur is the separable Gaussian of v over the windows that fit.
	blur := func(v []float64) []float64 {
		h := make([]float64, ow*sz.Y)
		for r := range sz.Y {
			for c := range ow {
				var s float64
				for i := range win {
					s += k[i] * v[r*sz.X+c+i]
				}
				h[r*ow+c] = s
			}
		}
		out := make([]float64, ow*oh)
		for r := range oh {
			for c := range ow {
				var s float64
				for i := range win {
					s += k[i] * h[(r+i)*ow+c]
				}
				out[r*ow+c] = s
			}
		}
		return out
	}
	prod := func(a, b []float64) []float64 {
		out := make([]float64, len(a))
		for i := range a {
			out[i] = a[i] * b[i]
		}
		return out
	}
	mx, my := blur(x), blur(y)
	sxx, syy, sxy := blur(prod(x, x)), blur(prod(y, y)), blur(prod(x, y))
	const c1, c2 = (0.01 * 255) * (0.01 * 255), (0.03 * 255) * (0.03 * 255)
	var sum float64
	for i := range mx {
		vx, vy, cxy := sxx[i]-mx[i]*mx[i], syy[i]-my[i]*my[i], sxy[i]-mx[i]*my[i]
		sum += (2*mx[i]*my[i] + c1) * (2*cxy + c2) / ((mx[i]*mx[i] + my[i]*my[i] + c1) * (vx + vy + c2))
	}
	return sum / float64(len(mx))
}
