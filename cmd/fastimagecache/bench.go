package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/disintegration/imaging"

	"github.com/fastimagecache/fastimagecache"
)

// bench compares thumbnailing real photos with our cold and warm Get, a naive Go pipeline
// and vipsthumbnail, interleaved over rounds in one process, and prints one table.
func bench(ctx context.Context, args []string, stdout io.Writer) error {
	fl := newFlagSet("bench", "[-rounds N] [-size N] [-q N] [-webpq N] [-avifq N] [-cpuprofile FILE] [-tiers] [-formats] [-bucket URL] [-issue17] [-png] [-gif] [-large] [-upload] [-put] [-n N] [-pngmax N] [-gifs N] [-profile PREFIX] DIR",
		"Thumbnail every JPEG in DIR (fetch a set with scripts/fetch-photos.sh) with: the naive pipeline\n"+
			"(imaging.Decode with auto-orientation + imaging.Fit Lanczos + jpeg.Encode), our cold Get (one and two\n"+
			"in flight), vipsthumbnail when it is on PATH, Put, and warm Get; print images/s, ratios, latency,\n"+
			"peak memory and mean PSNR against a Lanczos reference from the full-resolution, oriented image; and,\n"+
			"from an extra untimed pass, the bytes each cold Get allocates against input + 1.5× scaled image + 8 MiB;\n"+
			"then the output formats table: cold Get to JPEG, WebP and AVIF against vipsthumbnail writing the same\n"+
			"format at the same quality (bytes, PSNR, SSIM, memory per Get); then the tiers table; then the issue-17\n"+
			"rows (PNG, animated GIF, JPEG to 1280, upload to first thumbnail, Put against the proving decode;\n"+
			"-issue17 or -png, -gif, -large, -upload, -put print only those).", stdout)
	rounds := fl.Int("rounds", 3, "rounds, interleaved")
	size := fl.Int("size", 320, "thumbnail box (size×size, contain)")
	quality := fl.Int("q", 82, "JPEG quality")
	webpQ := fl.Int("webpq", benchWebPQuality, "WebP quality (libwebp's scale, for both pipelines)")
	avifQ := fl.Int("avifq", benchAVIFQuality, "AVIF quality (libavif's and libheif's scale, for both pipelines)")
	formatsOnly := fl.Bool("formats", false, "print only the output formats table")
	cpuProfile := fl.String("cpuprofile", "", "write a CPU profile of the cold Gets (1 in flight) to this file")
	tiersOnly := fl.Bool("tiers", false, "print only the table of Gets through each tier")
	bucket := fl.String("bucket", "", "also time Gets through this shared bucket (a gocloud URL; objects are deleted after)")
	var c17 bench17Config
	fl.BoolVar(&c17.png, "png", false, "print only the issue-17 rows selected: PNG photos and screenshots -> 320 PNG")
	fl.BoolVar(&c17.gif, "gif", false, "issue-17 rows: animated GIF -> GIF, as is and resized to 160")
	fl.BoolVar(&c17.large, "large", false, "issue-17 rows: JPEG -> 1280 JPEG (and -> 320, for the in-flight ratio)")
	fl.BoolVar(&c17.upload, "upload", false, "issue-17 rows: upload to first thumbnail (Put with the demo's eager presets, then a Get of each)")
	fl.BoolVar(&c17.put, "put", false, "issue-17 rows: Put against the plain decode that proves each format")
	all17 := fl.Bool("issue17", false, "print only the issue-17 rows, all of them")
	limit := fl.Int("n", 0, "use only the first N photos (0: all)")
	fl.IntVar(&c17.gifs, "gifs", 6, "how many animated GIFs the GIF and Put rows generate")
	fl.IntVar(&c17.pngMax, "pngmax", 2048, "long side of the photos re-encoded as PNG for the PNG rows")
	fl.StringVar(&c17.profile, "profile", "", "write CPU profiles of our side of each issue-17 row (round 0) to PREFIX<case>.pprof")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() != 1 {
		return usageError{"need one photo directory"}
	}
	photos, err := loadPhotos(fl.Arg(0))
	if err != nil {
		return err
	}
	if *limit > 0 && *limit < len(photos) {
		photos = photos[:*limit]
	}
	if len(photos) == 0 {
		return fmt.Errorf("no JPEG photos in %s (run scripts/fetch-photos.sh)", fl.Arg(0))
	}
	c17.rounds = *rounds
	if *all17 {
		c17.png, c17.gif, c17.large, c17.upload, c17.put = true, true, true, true, true
	}
	if c17.any() {
		return bench17(ctx, stdout, photos, c17)
	}
	spec := fastimagecache.Spec{Width: *size, Height: *size, Format: fastimagecache.JPEG, Quality: *quality}
	if *tiersOnly {
		return benchTiers(ctx, stdout, photos, spec, *bucket)
	}
	formats := benchOutFormats(*quality, *webpQ, *avifQ)
	if *formatsOnly {
		return benchFormats(ctx, stdout, photos, *size, *rounds, formats)
	}
	var mp float64
	for _, p := range photos {
		mp += float64(p.w*p.h) / 1e6
	}
	bounds, err := memBounds(photos, *size)
	if err != nil {
		return err
	}
	allocs := make([]uint64, len(photos)) // per photo, the most one cold Get allocated in any round
	fmt.Fprintf(stdout, "%d photos, %.1f MP mean, %d rounds, GOMAXPROCS %d, %s\n",
		len(photos), mp/float64(len(photos)), *rounds, runtime.GOMAXPROCS(0), cpuName())

	var naive, cold, cold2, vips, puts []time.Duration
	var warm []time.Duration
	var peakNaive, peakCold uint64
	var psnrNaive, psnrOurs, psnrVips scored
	var outsVips [][]byte
	vipsPath, _ := exec.LookPath("vipsthumbnail")
	var prof *os.File
	if *cpuProfile != "" {
		if prof, err = os.Create(*cpuProfile); err != nil {
			return err
		}
		defer prof.Close()
	}
	for round := range *rounds {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Naive pipeline.
		var outsNaive [][]byte
		d, peak := measure(func() {
			for _, p := range photos {
				outsNaive = append(outsNaive, naiveThumb(p.data, *size, *quality))
			}
		})
		naive = append(naive, d)
		peakNaive = max(peakNaive, peak)

		// Ours: Put, cold Get, warm Get.
		dir, err := os.MkdirTemp("", "fastimagecache-bench")
		if err != nil {
			return err
		}
		c, err := fastimagecache.New(dir)
		if err != nil {
			return err
		}
		ids := make([]fastimagecache.ID, len(photos))
		d, _ = measure(func() {
			for i, p := range photos {
				info, perr := c.Put(ctx, bytes.NewReader(p.data))
				if perr != nil {
					err = fmt.Errorf("put %s: %w", p.name, perr)
					return
				}
				ids[i] = info.ID
			}
		})
		if err != nil {
			return err
		}
		puts = append(puts, d)
		outsOurs := make([][]byte, len(photos))
		if prof != nil && round == 0 {
			if err := pprof.StartCPUProfile(prof); err != nil {
				return err
			}
		}
		d, peak = measure(func() {
			for i := range photos {
				b, gerr := getAll(ctx, c, ids[i], spec)
				if gerr != nil {
					err = gerr
					return
				}
				outsOurs[i] = b
			}
		})
		if err != nil {
			return err
		}
		if prof != nil && round == 0 {
			pprof.StopCPUProfile()
		}
		cold = append(cold, d)
		peakCold = max(peakCold, peak)
		for range 20 {
			for i := range photos {
				t0 := time.Now()
				if _, err := getAll(ctx, c, ids[i], spec); err != nil {
					return err
				}
				warm = append(warm, time.Since(t0))
			}
		}
		_ = c.Close()
		_ = os.RemoveAll(dir)

		// Bytes allocated per cold Get, one in flight, on a fresh store; not timed.
		if err := coldAllocs(ctx, photos, spec, allocs); err != nil {
			return err
		}

		// Ours, two in flight, on a fresh store.
		d, err = coldParallel(ctx, photos, spec, 2)
		if err != nil {
			return err
		}
		cold2 = append(cold2, d)

		if vipsPath != "" {
			vr, err := runVipsOn(vipsPath, photos, "", []string{"-s", fmt.Sprintf("%dx%d", *size, *size)}, "jpg", vipsJPEG(*quality))
			if err != nil {
				return err
			}
			vips = append(vips, vr.wall)
			if round == 0 {
				outsVips = vr.outputs
			}
		}
		if round == 0 {
			for i, p := range photos {
				ref := reference(p.data, *size)
				for _, s := range []struct {
					to   *scored
					outs [][]byte
				}{{&psnrNaive, outsNaive}, {&psnrOurs, outsOurs}, {&psnrVips, outsVips}} {
					if len(s.outs) > i {
						s.to.add(psnr(ref, s.outs[i]))
					}
				}
			}
		}
	}

	n := float64(len(photos))
	rate := func(ds []time.Duration) float64 { return n / median(ds).Seconds() }
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "pipeline\timages/s\tvs naive\tvs vipsthumbnail\tmean PSNR dB\tpeak heap MiB\t")
	naiveRate, coldRate := rate(naive), rate(cold)
	vipsCol := func(r float64) string {
		if len(vips) == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f×", r/rate(vips))
	}
	fmt.Fprintf(tw, "naive Go (decode + imaging Lanczos + encode)\t%.1f\t1.00×\t%s\t%s\t%.0f\t\n", naiveRate, vipsCol(naiveRate), &psnrNaive, mib(peakNaive))
	fmt.Fprintf(tw, "fastimagecache cold Get, 1 in flight\t%.1f\t%.2f×\t%s\t%s\t%.0f\t\n", coldRate, coldRate/naiveRate, vipsCol(coldRate), &psnrOurs, mib(peakCold))
	fmt.Fprintf(tw, "fastimagecache cold Get, 2 in flight\t%.1f\t%.2f×\t%s\t\t\t\n", rate(cold2), rate(cold2)/naiveRate, vipsCol(rate(cold2)))
	if len(vips) > 0 {
		fmt.Fprintf(tw, "vipsthumbnail (one process, all photos, metadata stripped)\t%.1f\t%.2f×\t1.00×\t%s\t\t\n", rate(vips), rate(vips)/naiveRate, &psnrVips)
	} else {
		fmt.Fprintf(tw, "vipsthumbnail\tnot on PATH\t\t\t\t\t\n")
	}
	fmt.Fprintf(tw, "fastimagecache Put (validate + proving decode + store)\t%.1f\t\t\t\t\t\n", rate(puts))
	if err := tw.Flush(); err != nil {
		return err
	}
	if psnrNaive.resized+psnrOurs.resized+psnrVips.resized > 0 {
		fmt.Fprintln(stdout, "* outputs a pixel off the reference's size were resized to it (Lanczos) before PSNR and counted, not dropped")
	}
	slices.Sort(warm)
	fmt.Fprintf(stdout, "warm Get (hit): p50 %v, p99 %v over %d gets\n",
		warm[len(warm)/2].Round(time.Microsecond/10), warm[len(warm)*99/100].Round(time.Microsecond/10), len(warm))
	fmt.Fprintf(stdout, "two in flight vs one: %.2f×; process peak RSS %s MiB\n", rate(cold2)/coldRate, peakRSS())
	reportAllocs(stdout, photos, bounds, allocs)
	if err := benchFormats(ctx, stdout, photos, *size, *rounds, formats); err != nil {
		return err
	}
	if err := benchTiers(ctx, stdout, photos, spec, *bucket); err != nil {
		return err
	}
	c17.png, c17.gif, c17.large, c17.upload, c17.put = true, true, true, true, true
	return bench17(ctx, stdout, photos, c17)
}

type photo struct {
	name string
	data []byte
	w, h int
}

func loadPhotos(dir string) ([]photo, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	var out []photo
	for _, n := range names {
		b, err := os.ReadFile(n) // #nosec G304 -- n is a *.jpg found by filepath.Glob in the folder the operator named
		if err != nil {
			return nil, err
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(n), err)
		}
		out = append(out, photo{name: filepath.Base(n), data: b, w: cfg.Width, h: cfg.Height})
	}
	return out, nil
}

// naiveThumb is what a Go developer writes in ten minutes.
func naiveThumb(b []byte, size, q int) []byte {
	img, err := imaging.Decode(bytes.NewReader(b), imaging.AutoOrientation(true))
	if err != nil {
		return nil
	}
	t := imaging.Fit(img, size, size, imaging.Lanczos)
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, t, &jpeg.Options{Quality: q})
	return buf.Bytes()
}

// reference is the quality yardstick: Lanczos from the full-resolution oriented image,
// not re-encoded.
func reference(b []byte, size int) image.Image {
	img, err := imaging.Decode(bytes.NewReader(b), imaging.AutoOrientation(true))
	if err != nil {
		return nil
	}
	return imaging.Fit(img, size, size, imaging.Lanczos)
}

func getAll(ctx context.Context, c *fastimagecache.Cache, id fastimagecache.ID, spec fastimagecache.Spec) ([]byte, error) {
	r, err := c.Get(ctx, id, spec)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func coldParallel(ctx context.Context, photos []photo, spec fastimagecache.Spec, workers int) (time.Duration, error) {
	dir, err := os.MkdirTemp("", "fastimagecache-bench")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	c, err := fastimagecache.New(dir)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	ids := make([]fastimagecache.ID, len(photos))
	for i, p := range photos {
		info, err := c.Put(ctx, bytes.NewReader(p.data))
		if err != nil {
			return 0, err
		}
		ids[i] = info.ID
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ids) {
					return
				}
				if _, err := getAll(ctx, c, ids[i], spec); err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
			}
		})
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// measure runs fn and returns its duration and the peak live heap seen while it ran.
func measure(fn func()) (time.Duration, uint64) {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	start := time.Now()
	fn()
	d := time.Since(start)
	close(done)
	wg.Wait()
	return d, peak.Load()
}

// psnr is the PSNR of an encoded output against ref. An output a pixel off ref's size (the
// rounding of the fitted size differs between pipelines) is resized to ref's size with
// Lanczos first, and resized says so: it counts in the mean, with a footnote, instead of
// being dropped.
func psnr(ref image.Image, encoded []byte) (v float64, resized bool) {
	r, ok := ref.(*image.NRGBA)
	if !ok || r == nil {
		return math.NaN(), false
	}
	return psnrTo(r, encoded)
}

// scored is one pipeline's PSNR per photo and how many outputs were resized to the
// reference's size first.
type scored struct {
	psnr    []float64
	resized int
}

func (s *scored) add(v float64, resized bool) {
	s.psnr = append(s.psnr, v)
	if resized {
		s.resized++
	}
}

// String is the mean PSNR, with the count of resized outputs marked for the footnote.
func (s *scored) String() string {
	v := fmt.Sprintf("%.2f", mean(s.psnr))
	if s.resized > 0 {
		v += fmt.Sprintf(" (%d resized*)", s.resized)
	}
	return v
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func mean(xs []float64) float64 {
	var s float64
	var n int
	for _, x := range xs {
		if !math.IsNaN(x) {
			s += x
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return s / float64(n)
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "n/a"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err == nil {
				return strconv.Itoa(kb / 1024)
			}
		}
	}
	return "n/a"
}

func cpuName() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return runtime.GOARCH
}
