//go:build linux

package fastimagecache

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"os"
	"runtime/metrics"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/fastimagecache/fastimagecache/internal/codec"
	"github.com/fastimagecache/fastimagecache/internal/fixture"
	"github.com/fastimagecache/fastimagecache/internal/sandbox"
)

// tryCodec runs, inside a worker, one WebAssembly codec on a generated image: arg is
// "webp/WxH" or "avif/WxH" (an AVIF is encoded, then decoded). It reports "codec ok" and
// what it cost, or the error.
func tryCodec(arg string) string {
	name, size, _ := strings.Cut(arg, "/")
	var w, h int
	if _, err := fmt.Sscanf(size, "%dx%d", &w, &h); err != nil {
		return "codec arg: " + err.Error()
	}
	img := codecPicture(w, h)
	var buf bytes.Buffer
	start := time.Now()
	var err error
	switch name {
	case "webp":
		err = codec.EncodeWebP(&buf, img, codec.WebPOptions{Quality: 80, Method: 4})
	case "avif":
		err = codec.EncodeAVIF(&buf, img, codec.AVIFOptions{Quality: 60, Speed: 10})
	default:
		return "codec: unknown " + name
	}
	enc := time.Since(start)
	if err != nil {
		return "codec encode: " + err.Error()
	}
	var dec time.Duration
	if name == "avif" {
		start = time.Now()
		out, err := codec.DecodeAVIF(buf.Bytes())
		dec = time.Since(start)
		if err != nil {
			return "codec decode: " + err.Error()
		}
		if out.Bounds() != img.Bounds() {
			return fmt.Sprintf("codec decode: bounds %v", out.Bounds())
		}
	}
	_, err = unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_ANON|unix.MAP_PRIVATE)
	execErr := "<nil>"
	if errno, ok := err.(unix.Errno); ok {
		execErr = unix.ErrnoName(errno)
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(s)
	return fmt.Sprintf("codec ok %s bytes=%d encode=%s decode=%s maxrss=%dMiB gomapped=%dMiB exec memory: %s prepared=%t",
		name, buf.Len(), enc.Round(time.Millisecond), dec.Round(time.Millisecond), ru.Maxrss>>10, s[0].Value.Uint64()>>20, execErr, codec.Prepared())
}

// codecPicture is a w×h gradient with a pattern, opaque.
func codecPicture(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x ^ y) & 0xff), 255})
		}
	}
	return img
}

// TestIsolatedCodecs runs a WebP encode and an AVIF encode and decode inside confined
// workers: prepared (the wazero codecs compiled before confinement), with and without
// Landlock, under the default worker memory limit and the least one (a 640×480 AVIF
// encode still fits: RLIMIT_AS leaves 512 MiB beyond it), and unprepared (wazero finds executable
// memory refused and runs its interpreter). In each, executable memory is refused once the
// worker is confined.
func TestIsolatedCodecs(t *testing.T) {
	for _, tc := range []struct {
		prepare, landlock bool
		size              string
		memory            int64
	}{{true, true, "320x240", 0}, {true, false, "640x480", minWorkerMemory}, {false, true, "48x32", 0}} {
		t.Run(fmt.Sprintf("prepare=%t,landlock=%t,memory=%d", tc.prepare, tc.landlock, tc.memory), func(t *testing.T) {
			if sandbox.RaceEnabled && tc.memory != 0 {
				t.Skip("a prepared worker takes minutes to start under the race detector: one such case is enough")
			}
			ic := IsolationConfig{Workers: 1, testPrepare: tc.prepare, MemoryLimit: tc.memory}
			if !tc.landlock {
				ic.testEnv = []string{testNoLandlockEnv + "=1"}
			}
			start := time.Now()
			c := isoCache(t, ic)
			t.Logf("first worker ready in %s; idle: %s", time.Since(start).Round(time.Millisecond), workerStatus(c))
			for _, name := range []string{"webp", "avif"} {
				info := put(t, c, isoFaulty("render", "codec", name+"/"+tc.size))
				_, err := c.Get(t.Context(), info.ID, isoFreshSpec())
				require.ErrorIs(t, err, ErrCorrupt)
				t.Log(err)
				assert.Contains(t, err.Error(), "codec ok "+name)
				assert.Contains(t, err.Error(), "exec memory: EPERM")
				assert.Contains(t, err.Error(), fmt.Sprintf("prepared=%t", tc.prepare))
			}
			t.Logf("after: %s", workerStatus(c))
			isoServes(t, c)
		})
	}
}

// workerStatus returns the resident and virtual size of each of c's workers.
func workerStatus(c *Cache) string {
	var out []string
	for _, pid := range c.iso.pool.PIDs() {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			out = append(out, err.Error())
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "VmRSS") || strings.HasPrefix(l, "VmSize") {
				out = append(out, strings.Join(strings.Fields(l), " "))
			}
		}
	}
	return strings.Join(out, ", ")
}

// TestIsolatedSameBytes renders WebP and AVIF (still, with alpha, and an animated GIF to
// an animated WebP) in process and in confined workers (the wazero codecs compiled before
// confinement), and requires the same bytes, which the host accepted after its check; and
// the host itself makes no codec call under isolation.
func TestIsolatedSameBytes(t *testing.T) {
	lim := Limits{DecodeTimeout: isoPatience, Formats: append([]Format{AVIF}, isoLimits.Formats...)}
	inproc := newTestCache(t, WithLimits(lim))
	iso := isoCache(t, IsolationConfig{Workers: 1, testPrepare: true}, WithLimits(lim))
	var avifIn bytes.Buffer
	require.NoError(t, codec.EncodeAVIF(&avifIn, codecPicture(96, 64), codec.AVIFOptions{Quality: 70, Speed: 10}))
	sources := [][]byte{fixture.JPEG(300, 200, 90), fixture.PNG(120, 90), fixture.GIF(60, 40, 3), avifIn.Bytes()}

	// The host leaves the AVIF module's set-up to the prepared workers: it reserves an
	// AVIF render without it even before this process ever ran AVIF.
	h, err := inspect(sources[0], putConfig{}, iso.lim)
	require.NoError(t, err)
	s := Spec{Width: 64, Format: AVIF, Quality: defaultAVIFQuality}
	inprocNeed := renderBytes(h, s) + int64(len(sources[0])) + decodeOverhead
	setup := int64(0)
	if !codec.AVIFReady() {
		setup = avifSetupBytes
	}
	assert.Equal(t, inprocNeed+iso.answerBytes(h, s), iso.renderNeed(h, s, len(sources[0])))
	assert.Equal(t, inprocNeed+setup, inproc.renderNeed(h, s, len(sources[0])))
	specs := []Spec{{Width: 64}, {Width: 50, Height: 50, Fit: Cover, Quality: 30}, {}}
	n := 0
	for _, src := range sources {
		a := put(t, inproc, src)
		calls := codec.Calls()
		b := put(t, iso, src) // an AVIF input's proving decode too runs in a worker
		assert.Equal(t, calls, codec.Calls(), "the host called a codec under isolation")
		for _, f := range []Format{WebP, AVIF, JPEG} {
			for _, s := range specs {
				s.Format = f
				want := getBytes(t, inproc, a.ID, s)
				calls, answered := codec.Calls(), iso.iso.pool.Answered()
				got := getBytes(t, iso, b.ID, s)
				assert.Equal(t, calls, codec.Calls(), "the host called a codec under isolation")
				assert.Greater(t, iso.iso.pool.Answered(), answered, "the render ran in a worker")
				require.True(t, bytes.Equal(want, got), "%+v: in process %d bytes, isolated %d bytes", s, len(want), len(got))
				n++
			}
		}
	}
	t.Logf("%d renditions byte-identical", n)
}

// getBytes reads c's rendition of id under s.
func getBytes(t *testing.T, c *Cache, id ID, s Spec) []byte {
	t.Helper()
	r, err := c.Get(t.Context(), id, s)
	require.NoError(t, err, "%+v", s)
	return readRendition(t, r)
}
