//go:build linux

package fastimagecache

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/draw"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/codec"
	"github.com/fastimagecache/fastimagecache/internal/sandbox"
)

// encMemChildEnv, set only in the child of measureEncoder, names the encode it measures:
// "codec w h frames first" (first: "1" to measure the process's first call).
const encMemChildEnv = "FASTIMAGECACHE_ENCMEM_CHILD"

// selfHWM returns this process's peak resident memory (VmHWM), in bytes.
func selfHWM(t testing.TB) int64 {
	n, err := vmHWM("self")
	require.NoError(t, err)
	return n
}

// encodeFor returns a function encoding a w×h photo-like picture (frames of it, for
// "webp-anim") with the codec named, at the defaults a render uses.
func encodeFor(name string, w, h, frames int) func() error {
	var img image.Image = photoLike(w, h)
	if n, ok := strings.CutSuffix(name, "-noise"); ok {
		name, img = n, noisyNRGBA(w, h) // the worst case: an encoder's buffers follow the entropy
	}
	nrgba := image.NewNRGBA(img.Bounds())
	draw.Draw(nrgba, nrgba.Rect, img, image.Point{}, draw.Src)
	switch name {
	case "webp":
		return func() error {
			return codec.EncodeWebP(&chunkBuffer{}, img, codec.WebPOptions{Quality: defaultWebPQuality, Method: webpMethod})
		}
	case "webp-anim":
		fs := make([]image.Image, frames)
		ds := make([]int, frames)
		for i := range fs {
			fs[i] = nrgba
			ds[i] = 100
		}
		return func() error {
			return codec.EncodeWebPAnimation(&chunkBuffer{}, fs, ds, 0, codec.WebPOptions{Quality: defaultWebPQuality, Method: webpMethod})
		}
	case "avif":
		return func() error {
			return codec.EncodeAVIF(&chunkBuffer{}, img, codec.AVIFOptions{Quality: defaultAVIFQuality, Speed: avifSpeed})
		}
	}
	panic(name)
}

// TestEncMemChild is measureEncoder's child; it does nothing unless started by it. It
// prints "ALLOC <TotalAlloc delta> RSS <VmHWM delta> NS <wall time>" for one encode (the
// second in the process unless first is set), with the collector off.
func TestEncMemChild(t *testing.T) {
	args := strings.Fields(os.Getenv(encMemChildEnv))
	if len(args) != 5 {
		t.Skip("run by measureEncoder")
	}
	w, _ := strconv.Atoi(args[1])
	h, _ := strconv.Atoi(args[2])
	frames, _ := strconv.Atoi(args[3])
	enc := encodeFor(args[0], w, h, frames)
	if args[4] != "1" {
		require.NoError(t, encodeFor(args[0], 16, 16, 1)()) // module set-up out of the way, on a tiny picture
	}
	runtime.GC()
	debug.FreeOSMemory()
	debug.SetGCPercent(-1)
	var before, after runtime.MemStats
	hwm := selfHWM(t)
	runtime.ReadMemStats(&before)
	start := time.Now()
	require.NoError(t, enc())
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	fmt.Printf("ALLOC %d RSS %d NS %d\n", after.TotalAlloc-before.TotalAlloc, selfHWM(t)-hwm, took.Nanoseconds())
	runtime.GC()
	runtime.ReadMemStats(&after)
	fmt.Printf("RETAINED heap %d (was %d) sys %d (was %d)\n", after.HeapAlloc, before.HeapAlloc, after.Sys, before.Sys)
}

// encMem is one measured encode.
type encMem struct{ alloc, rss, ns int64 }

// measureEncoder runs one encode in a fresh child process (a peak is only meaningful
// there) and returns what it allocated and how far it raised the peak resident memory.
func measureEncoder(t testing.TB, name string, w, h, frames int, first bool) encMem {
	t.Helper()
	f := "0"
	if first {
		f = "1"
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestEncMemChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %d %d %s", encMemChildEnv, name, w, h, frames, f))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, line := range bytes.Split(out, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("RETAINED")) {
			t.Logf("%s %dx%d first=%t: %s", name, w, h, first, line)
		}
	}
	for _, line := range bytes.Split(out, []byte("\n")) {
		var m encMem
		if n, _ := fmt.Sscanf(string(line), "ALLOC %d RSS %d NS %d", &m.alloc, &m.rss, &m.ns); n == 3 {
			return m
		}
	}
	t.Fatalf("no measurement in %s", out)
	return encMem{}
}

// TestMeasureEncoders prints each encoder's allocation and peak-RSS growth against its
// output pixels: the numbers codecBytes is fitted to. Run with FASTIMAGECACHE_ENCMEM=1.
func TestMeasureEncoders(t *testing.T) {
	if os.Getenv("FASTIMAGECACHE_ENCMEM") == "" {
		t.Skip("set FASTIMAGECACHE_ENCMEM=1 to measure")
	}
	for _, c := range []struct {
		name         string
		w, h, frames int
		first        bool
	}{
		{"webp-noise", 320, 213, 1, false}, {"webp-noise", 640, 480, 1, false}, {"webp-noise", 1024, 768, 1, false},
		{"webp-anim-noise", 320, 240, 10, false}, {"avif-noise", 320, 213, 1, false}, {"avif-noise", 1024, 768, 1, false},
		{"webp", 320, 213, 1, true}, {"avif", 320, 213, 1, true},
		{"webp", 64, 64, 1, false}, {"webp", 320, 213, 1, false}, {"webp", 1024, 768, 1, false}, {"webp", 2048, 1536, 1, false},
		{"webp-anim", 320, 240, 1, false}, {"webp-anim", 320, 240, 10, false}, {"webp-anim", 640, 480, 10, false},
		{"avif", 64, 64, 1, false}, {"avif", 320, 213, 1, false}, {"avif", 1024, 768, 1, false}, {"avif", 2048, 1536, 1, false},
	} {
		m := measureEncoder(t, c.name, c.w, c.h, c.frames, c.first)
		px := int64(c.w * c.h * c.frames)
		t.Logf("%-9s %4dx%-4d x%-2d first=%-5t alloc %6.1f MiB (%5.1f B/px) rss +%6.1f MiB (%5.1f B/px) %5d ms",
			c.name, c.w, c.h, c.frames, c.first, float64(m.alloc)/(1<<20), float64(m.alloc)/float64(px),
			float64(m.rss)/(1<<20), float64(m.rss)/float64(px), m.ns/1e6)
	}
}

// avifFirstChildEnv is set only in TestAVIFFirstCallReserved's child.
const avifFirstChildEnv = "FASTIMAGECACHE_AVIF_FIRST_CHILD"

// TestAVIFFirstCallReserved: the first AVIF render of a process, which compiles the
// module, stays within what a Get reserves for it before the call, both in allocation
// (TotalAlloc, the collector off) and in peak resident memory (VmHWM): the set-up's
// memory is not ordinary Go allocation everywhere, so the peak is checked as well. It
// runs in a fresh child process, the only one whose first call is really the first.
func TestAVIFFirstCallReserved(t *testing.T) {
	if sandbox.RaceEnabled {
		t.Skip("allocation is measured without the race detector")
	}
	if os.Getenv(avifFirstChildEnv) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestAVIFFirstCallReserved$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), avifFirstChildEnv+"=1")
		out, err := cmd.CombinedOutput()
		t.Logf("child:\n%s", out)
		require.NoError(t, err)
		require.Contains(t, string(out), "--- PASS: TestAVIFFirstCallReserved")
		return
	}
	require.False(t, codec.AVIFReady(), "no AVIF call before this one")
	data := photoJPEG(t, 640, 480)
	lim := DefaultLimits()
	h, err := inspect(data, putConfig{}, lim)
	require.NoError(t, err)
	s, err := Spec{Width: 320, Format: AVIF}.canonical(lim, Info{Format: JPEG, Width: 640, Height: 480}, false)
	require.NoError(t, err)
	reserved := (&Cache{}).renderNeed(h, s, len(data)) - int64(len(data))
	runtime.GC()
	debug.FreeOSMemory()
	hwm := selfHWM(t)
	var rerr error
	got := totalAlloc(func() { _, rerr = render(context.Background(), data, h, s) })
	require.NoError(t, rerr)
	rss := selfHWM(t) - hwm
	t.Logf("first AVIF render: reserved %d, allocated %d (%.2f), peak RSS +%d (%.2f)",
		reserved, got, float64(got)/float64(reserved), rss, float64(rss)/float64(reserved))
	assert.LessOrEqual(t, got, reserved, "the first AVIF render allocates more than a Get reserves")
	assert.LessOrEqual(t, rss, reserved, "the first AVIF render raises the peak RSS more than a Get reserves")
	require.True(t, codec.AVIFReady())
	assert.Less(t, (&Cache{}).renderNeed(h, s, len(data)), reserved, "once set up, the reservation drops the set-up")
}

const avifSetupChildEnv = "FASTIMAGECACHE_AVIF_SETUP_CHILD"

// TestAVIFSetUpOutsideTheDeadline: the first AVIF render of a process sets the module up
// (seconds of compiling on a loaded machine) before its DecodeTimeout starts, so a cold
// process's first AVIF Get does not time out. Run in a fresh child process, with a
// timeout far below the set-up's cost and far above a 32-px encode's.
func TestAVIFSetUpOutsideTheDeadline(t *testing.T) {
	if os.Getenv(avifSetupChildEnv) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestAVIFSetUpOutsideTheDeadline$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), avifSetupChildEnv+"=1")
		out, err := cmd.CombinedOutput()
		t.Logf("child:\n%s", out)
		require.NoError(t, err)
		require.Contains(t, string(out), "--- PASS: TestAVIFSetUpOutsideTheDeadline")
		return
	}
	require.False(t, codec.AVIFReady(), "no AVIF call before this one")
	lim := DefaultLimits()
	lim.DecodeTimeout = 400 * time.Millisecond
	if sandbox.RaceEnabled {
		lim.DecodeTimeout = 2 * time.Second
	}
	c := newTestCache(t, WithLimits(lim))
	ctx := context.Background()
	info, err := c.Put(ctx, bytes.NewReader(photoJPEG(t, 64, 48)))
	require.NoError(t, err)
	start := time.Now()
	r, err := c.Get(ctx, info.ID, Spec{Width: 32, Format: AVIF})
	require.NoError(t, err, "the first AVIF Get, set-up included, took %v", time.Since(start))
	require.NoError(t, r.Close())
	t.Logf("first AVIF Get (set-up included): %v", time.Since(start))
	require.True(t, codec.AVIFReady())
}
