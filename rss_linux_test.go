//go:build linux

package fastimagecache

// The flood test: a child process (this test binary, re-executed) opens a Cache with a
// 256 MiB budget and WithRuntimeMemoryLimit, floods it with concurrent Puts and then cold
// Gets of within-limit images of every accepted format, each of which decodes to a large
// share of the budget, and reports its peak resident memory (VmHWM). The parent asserts
// that the peak follows the budget: VmHWM <= MemoryBudget*1.25 + 128 MiB. It runs in
// process and with WithIsolation (where the workers' peaks are added to the host's). A
// fresh process is the only place a peak is meaningful: the test binary's own peak
// carries every earlier test's.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
	"github.com/fastimagecache/fastimagecache/internal/sandbox"
)

const (
	rssChildEnv   = "FASTIMAGECACHE_RSS_CHILD"   // set only in the child: "inproc" or "isolated"
	rssNoLimitEnv = "FASTIMAGECACHE_RSS_NOLIMIT" // optional, passed on: flood without WithRuntimeMemoryLimit, to see the test fail
	rssBudget     = 256 << 20
)

// rssBound is the peak resident memory the flood may reach.
const rssBound = rssBudget*5/4 + 128<<20

// rssImage is one input of the flood.
type rssImage struct {
	name string
	data []byte
	spec Spec // the cold Get
}

// rssImages builds the flood's inputs: two distinct images of every accepted shape, each
// a small file whose decode is a large share of the 256 MiB budget. Each Get asks for a
// third of the size, which a JPEG decodes at full scale.
func rssImages() []rssImage {
	var out []rssImage
	add := func(name string, w, h int, data []byte) {
		out = append(out, rssImage{name, data, Spec{Width: w / 3, Height: h / 3}})
	}
	for i := range 2 {
		d := 8 * i // a different size makes different bytes
		add("jpeg-baseline", 4000+d, 3000, fixture.JPEGFlat(4000+d, 3000, 3, false))
		add("jpeg-progressive", 2400+d, 2400, fixture.JPEGFlat(2400+d, 2400, 3, true))
		add("png-rgba", 3500+d, 3500, fixture.PNGRaw(fixture.PNGShape{Width: 3500 + d, Height: 3500, BitDepth: 8, Flat: true, ColorType: 6}))
		add("png-gray-trns", 3500+d, 3500, fixture.PNGRaw(fixture.PNGShape{Width: 3500 + d, Height: 3500, BitDepth: 8, Flat: true, ColorType: 0, TRNS: true}))
		add("png-rgb16", 2500+d, 2500, fixture.PNGRaw(fixture.PNGShape{Width: 2500 + d, Height: 2500, Flat: true, ColorType: 2, BitDepth: 16}))
		add("png-interlaced", 3000+d, 3000, fixture.PNGRaw(fixture.PNGShape{Width: 3000 + d, Height: 3000, BitDepth: 8, Flat: true, ColorType: 6, Interlaced: true}))
		add("gif-animation", 1500+d, 1500, fixture.GIF(1500+d, 1500, 6))
		add("webp-lossless", 3500+d, 3500, fixture.WebPLossless(3500+d, 3500, color.NRGBA{R: 200, G: 100, B: byte(i), A: 255}))
		add("bmp", 2000+d, 1500, fixture.BMP(2000+d, 1500))
		add("tiff", 2000+d, 2000, fixture.TIFFFlat(2000+d, 2000))
	}
	return out
}

// TestRSSFloodChild is the child's side of TestRSSFlood; it does nothing unless started
// by it. It prints "VMHWM <bytes>" (its own peak), "WORKERS <bytes> <n>" (the sum of its
// live workers' peaks), "RESERVED <bytes>" (the budget's peak) and "ERR ..." on failure.
func TestRSSFloodChild(t *testing.T) {
	mode := os.Getenv(rssChildEnv)
	if mode == "" {
		t.Skip("the child of TestRSSFlood")
	}
	if err := rssFlood(t.TempDir(), mode == "isolated", os.Getenv(rssNoLimitEnv) == ""); err != nil {
		fmt.Printf("ERR %v\n", err)
	}
}

func rssFlood(dir string, isolated, limit bool) error {
	opts := []Option{WithLimits(Limits{
		MemoryBudget:  rssBudget,
		MaxQueue:      256,
		DecodeTimeout: 2 * time.Minute, // a hang guard only: the flood is bounded by count
		Formats:       []Format{JPEG, PNG, GIF, WebP, BMP, TIFF},
	})}
	if limit {
		opts = append(opts, WithRuntimeMemoryLimit())
	}
	if isolated {
		opts = append(opts, WithIsolation(IsolationConfig{JobsPerWorker: 1000}))
	}
	c, err := New(dir, opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	start := time.Now()
	imgs := rssImages() // under the limit, like everything the process does after New
	fmt.Fprintf(os.Stderr, "built %d images in %v\n", len(imgs), time.Since(start))

	ctx := context.Background()
	ids := make([]ID, len(imgs))
	errs := make([]error, len(imgs))
	var wg sync.WaitGroup
	for i, im := range imgs { // every Put at once
		wg.Go(func() {
			info, err := c.Put(ctx, bytes.NewReader(im.data))
			ids[i], errs[i] = info.ID, err
		})
	}
	wg.Wait()
	fmt.Fprintf(os.Stderr, "puts done at %v\n", time.Since(start))
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("put %s: %w", imgs[i].name, err)
		}
	}
	for i, im := range imgs { // then every cold Get at once
		wg.Go(func() {
			r, err := c.Get(ctx, ids[i], im.spec)
			if err == nil {
				err = r.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	fmt.Fprintf(os.Stderr, "gets done at %v\n", time.Since(start))
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("get %s: %w", imgs[i].name, err)
		}
	}
	if s := c.Stats(); s.Misses < int64(len(imgs)) {
		return fmt.Errorf("%d cold gets, want %d", s.Misses, len(imgs))
	}
	var workers int64
	pids := childPIDs()
	for _, pid := range pids {
		hwm, err := vmHWM(pid)
		if err != nil {
			return err
		}
		workers += hwm
	}
	hwm, err := vmHWM("self")
	if err != nil {
		return err
	}
	fmt.Printf("VMHWM %d\nWORKERS %d %d\nRESERVED %d\n", hwm, workers, len(pids), c.budget.peak.Load())
	return nil
}

// vmHWM returns the peak resident set of process pid ("self" for this one), in bytes.
func vmHWM(pid string) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%s/status", pid)
}

// childPIDs lists this process's live children (the decode workers).
func childPIDs() []string {
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	var pids []string
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		pids = append(pids, strings.Fields(string(b))...)
	}
	return pids
}

// TestRSSFlood floods a Cache in a child process and asserts its peak resident memory
// (in isolated mode, the host's plus its workers') stays within MemoryBudget*1.25 +
// 128 MiB: the runtime memory limit keeps the heap's slack within bounds, and the budget
// the live decodes. It fails without WithRuntimeMemoryLimit (set FASTIMAGECACHE_RSS_NOLIMIT=1
// to see it) and when a format's reservation is far below what its decode allocates.
func TestRSSFlood(t *testing.T) {
	if os.Getenv(rssChildEnv) != "" {
		t.Skip("in the child")
	}
	if sandbox.RaceEnabled {
		t.Skip("the race detector's shadow memory is not the budget's; the plain run measures")
	}
	for _, mode := range []string{"inproc", "isolated"} {
		t.Run(mode, func(t *testing.T) {
			hwm, workers, n, reserved := rssChild(t, mode)
			total := hwm + workers
			t.Logf("%s: VmHWM %d MiB (host) + %d MiB (%d workers) = %d MiB; bound %d MiB; budget peak %d MiB",
				mode, hwm>>20, workers>>20, n, total>>20, rssBound>>20, reserved>>20)
			require.LessOrEqual(t, reserved, int64(rssBudget))
			require.LessOrEqual(t, total, int64(rssBound), "peak resident memory over MemoryBudget*1.25 + 128 MiB")
		})
	}
}

// rssChild runs the flood in a child process and returns what it reported.
func rssChild(t *testing.T, mode string) (hwm, workers int64, n int, reserved int64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRSSFloodChild$", "-test.count=1")
	for _, kv := range os.Environ() { // the child's runtime starts with no limit and GOGC=100
		if !strings.HasPrefix(kv, "GOMEMLIMIT=") && !strings.HasPrefix(kv, "GOGC=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, rssChildEnv+"="+mode)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "child: %s\n%s", out, stderr.String())
	got := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 0 {
			got[f[0]] = f[1:]
		}
	}
	require.Nil(t, got["ERR"], "child failed: %s", out)
	num := func(key string, i int) int64 {
		require.Greater(t, len(got[key]), i, "child said no %s: %s", key, out)
		v, err := strconv.ParseInt(got[key][i], 10, 64)
		require.NoError(t, err)
		return v
	}
	return num("VMHWM", 0), num("WORKERS", 0), int(num("WORKERS", 1)), num("RESERVED", 0)
}
