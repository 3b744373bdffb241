package fastimagecache_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // decoders for checking renditions with image.Decode
	_ "image/jpeg"
	_ "image/png"
	"io"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob/memblob"

	fic "github.com/fastimagecache/fastimagecache"
	"github.com/fastimagecache/fastimagecache/internal/codec"
	"github.com/fastimagecache/fastimagecache/internal/fixture"
	"github.com/fastimagecache/fastimagecache/internal/sandbox"
)

// The hostile-input regression suite: every crafted file, including the shapes of Go's own
// decoder CVEs, goes through Put and Get of a Cache with a small memory budget. Each case
// names the outcome it must produce, and every call must return within DecodeTimeout plus
// a margin while the process's heap grows by no more than the budget plus a margin.
const (
	// hostileBudget is the Cache's MemoryBudget in this suite.
	hostileBudget = 64 << 20
	// hostileTimeout is the Cache's DecodeTimeout in this suite.
	hostileTimeout = 3 * time.Second
	// callMargin is how much longer than DecodeTimeout one Put, Get or Close may take:
	// reading the input, header scans, storing, and a loaded CI machine. This is a bound,
	// not a benchmark.
	callMargin = 2 * time.Second
	// heapMargin is how far the heap may grow beyond MemoryBudget during one call: the
	// input held by the caller and Put's copy of it (at most a few MiB here) with the
	// growth of Put's read buffer, the encoded rendition, the store's I/O buffers, garbage
	// not yet collected, and runtime and test overhead (the sampler, testify).
	heapMargin = 32 << 20
	// gcPercent is the GOGC the suite runs under.
	gcPercent = 10
)

// hostileLimits are the suite's limits: every format, the budget and timeout above, and
// the defaults for the rest (16384×16384, 50,000,000 pixels, 100 frames, 200,000,000
// pixels per animation, 32 MiB of input).
var hostileLimits = fic.Limits{
	DecodeTimeout: hostileTimeout,
	MemoryBudget:  hostileBudget,
	Formats:       []fic.Format{fic.JPEG, fic.PNG, fic.GIF, fic.WebP, fic.BMP, fic.TIFF, fic.AVIF},
}

// accepted, as an outcome, means Put stores the input and Get renders it.
var accepted error

type hostileCase struct {
	name     string
	build    func() []byte
	declared string  // Content-Type given to Put; "" gives none
	want     []error // the acceptable outcomes: accepted, or an error wrapping the sentinel
	// deadlineOK marks inputs that are legal but CPU-heavy (a slow machine or the race
	// detector may not decode them within DecodeTimeout): a deadline error is acceptable
	// too, never ErrCorrupt.
	deadlineOK bool
	payload    string // a polyglot's payload, which no rendition may contain
}

// raceEnabled: the race detector slows decoders and resizers 10 to 20 times.
const raceEnabled = sandbox.RaceEnabled

// heavy scales a side of a legal but CPU-heavy input: halved (a quarter of the pixels)
// under the race detector, where a full-size decode only runs into its deadline and its
// abandoned resize would keep the CPU for tens of seconds. The near-budget memory checks
// are made by the plain run; the race run looks for data races on the same paths.
func heavy(side int) int {
	if raceEnabled {
		return side / 2
	}
	return side
}

func rejects(err error) []error        { return []error{err} }
func accepts(alt ...error) []error     { return append([]error{accepted}, alt...) }
func truncated(b []byte) func() []byte { return func() []byte { return fixture.Truncate(b, len(b)/2) } }

func hostileCases() []hostileCase {
	php := string(fixture.PHP())
	return []hostileCase{
		// PNG.
		{name: "png header 100000x100000", build: func() []byte { return fixture.PNGHeader(100000, 100000) }, want: rejects(fic.ErrDimensions)},
		{name: "png header zero width", build: func() []byte { return fixture.PNGHeader(0, 10) }, want: rejects(fic.ErrDimensions)},
		{name: "png bomb 8000x8000 (64 MP over MaxPixels)", build: func() []byte { return fixture.PNGBomb(8000, 8000) }, want: rejects(fic.ErrDimensions)},
		{name: "png bomb 6000x6000 (36 MP, decoded within budget)", build: func() []byte { return fixture.PNGBomb(heavy(6000), heavy(6000)) }, want: accepts(), deadlineOK: true},
		{name: "png zTXt bomb (64 MiB of metadata)", build: func() []byte { return fixture.PNGWithZTXtBomb(64, 64, 64<<20) }, want: accepts()},
		{name: "png truncated", build: truncated(fixture.PNG(64, 64)), want: rejects(fic.ErrCorrupt)},
		{name: "png+zip polyglot", build: func() []byte { return fixture.AppendZIP(fixture.PNG(64, 64), "shell.php", php) }, want: accepts(), payload: "<?php"},

		// JPEG.
		{name: "jpeg header 65500x65500", build: func() []byte { return fixture.JPEGHeader(65500, 65500) }, want: rejects(fic.ErrDimensions)},
		// A full-scale decode would need more than the budget; Put's 1/8-scale proving decode
		// and a thumbnail's shrink-on-load decode do not, so it is accepted within the budget.
		{name: "jpeg progressive 8000x6000 (over the budget at full scale only)", build: func() []byte { return fixture.JPEGScanFlood(heavy(8000), heavy(6000), 1) }, want: accepts(), deadlineOK: true},
		{name: "jpeg header 4000x4000 without scans", build: func() []byte { return fixture.JPEGHeader(4000, 4000) }, want: rejects(fic.ErrCorrupt)},
		{name: "jpeg scan flood 5000 scans", build: func() []byte { return fixture.JPEGScanFlood(512, 512, 5000) }, want: rejects(fic.ErrDimensions)},
		{name: "jpeg scan flood 101 scans (one over the cap)", build: func() []byte { return fixture.JPEGScanFlood(3500, 3500, 100) }, want: rejects(fic.ErrDimensions)},
		{name: "jpeg scan flood 100 scans (at the cap) on 3500x3500", build: func() []byte { return fixture.JPEGScanFlood(heavy(3500), heavy(3500), 99) }, want: accepts(), deadlineOK: true},
		{name: "jpeg truncated", build: truncated(fixture.JPEG(64, 64, 90)), want: rejects(fic.ErrCorrupt)},
		{name: "jpeg+html polyglot", build: func() []byte { return fixture.AppendText(fixture.JPEG(64, 64, 90), string(fixture.HTML())) }, want: accepts(), payload: "<script"},

		// GIF.
		{name: "gif 10000 frames", build: func() []byte { return fixture.GIFManyFrames(10000) }, want: rejects(fic.ErrDimensions)},
		{name: "gif frame outside its screen", build: func() []byte { return fixture.GIFFrameOutside(10, 10, image.Rect(5, 5, 50, 50)) }, want: rejects(fic.ErrDimensions)},
		{name: "gif frame bomb 100 x 2000x2000 (400 MP)", build: func() []byte { return fixture.GIFFrameBomb(2000, 2000, 100) }, want: rejects(fic.ErrDimensions)},
		{name: "gif frame bomb 15 x 2000x2000 (needs more than the budget)", build: func() []byte { return fixture.GIFFrameBomb(2000, 2000, 15) }, want: rejects(fic.ErrDimensions)},
		{name: "gif frame bomb 10 x 600x600 (decoded within budget)", build: func() []byte { return fixture.GIFFrameBomb(heavy(600), heavy(600), 10) }, want: accepts(), deadlineOK: true},
		{name: "gif truncated", build: truncated(fixture.GIF(64, 64, 2)), want: rejects(fic.ErrCorrupt)},
		{name: "gif+php polyglot", build: func() []byte { return fixture.AppendText(fixture.GIF(64, 64, 2), php) }, want: accepts(), payload: "<?php"},
		{name: "gif+zip polyglot (GIFAR)", build: func() []byte { return fixture.AppendZIP(fixture.GIF(32, 32, 1), "x.class", "payload") }, want: accepts(), payload: "PK\x03\x04"},

		// WebP.
		{name: "webp lossless 16383x16383 in 34 bytes", build: func() []byte { return fixture.WebPLossless(16383, 16383, color.NRGBA{A: 255}) }, want: rejects(fic.ErrDimensions)},
		{name: "webp lossless 7000x7000 (needs more than the budget)", build: func() []byte { return fixture.WebPLossless(7000, 7000, color.NRGBA{A: 255}) }, want: rejects(fic.ErrDimensions)},
		{name: "webp lossless 2500x2500 (decoded within budget)", build: func() []byte { return fixture.WebPLossless(heavy(2500), heavy(2500), color.NRGBA{G: 255, A: 255}) }, want: accepts(), deadlineOK: true},
		{name: "webp riff size past the end of the file", build: func() []byte { return fixture.WebPRIFFOversize(64, 64) }, want: rejects(fic.ErrCorrupt)},
		{name: "webp chunk size past its riff", build: func() []byte { return fixture.WebPChunkOversize(64, 64) }, want: rejects(fic.ErrCorrupt)},
		{name: "webp truncated", build: truncated(fixture.WebPLossless(64, 64, color.NRGBA{R: 255, A: 255})), want: rejects(fic.ErrCorrupt)},

		// BMP.
		{name: "bmp header 100000x-100000", build: func() []byte { return fixture.BMPHeader(100000, -100000) }, want: rejects(fic.ErrDimensions)},
		{name: "bmp height MinInt32", build: func() []byte { return fixture.BMPHeader(10, math.MinInt32) }, want: rejects(fic.ErrDimensions)},
		{name: "bmp negative width", build: func() []byte { return fixture.BMPHeader(-10, 10) }, want: rejects(fic.ErrDimensions)},
		{name: "bmp header 5000x-5000 (needs more than the budget)", build: func() []byte { return fixture.BMPHeader(5000, -5000) }, want: rejects(fic.ErrDimensions)},
		{name: "bmp header 3000x-3000, pixel data missing", build: func() []byte { return fixture.BMPHeader(3000, -3000) }, want: rejects(fic.ErrCorrupt)},
		{name: "bmp top-down", build: func() []byte { return fixture.BMPTopDown(64, 48) }, want: accepts()},
		{name: "bmp truncated", build: truncated(fixture.BMP(64, 64)), want: rejects(fic.ErrCorrupt)},

		// TIFF, including the shapes of CVE-2023-29407 and CVE-2023-29408.
		{name: "tiff 1M tiles declared, one present", build: func() []byte { return fixture.TIFFTiledHeader(16384, 16384, 16, 16) }, want: rejects(fic.ErrDimensions)},
		{name: "tiff 2^32-1 wide in 16x16 tiles", build: func() []byte { return fixture.TIFFTiledHeader(math.MaxUint32, 16, 16, 16) }, want: rejects(fic.ErrDimensions)},
		{name: "tiff zero height, huge width, tiled (CVE-2023-29407)", build: func() []byte { return fixture.TIFFTiledHeader(math.MaxUint32, 0, 16, 16) }, want: rejects(fic.ErrDimensions)},
		{name: "tiff 65792 tiles (one row over the cap)", build: func() []byte { return fixture.TIFFTiled(2056, 2048, 8, 8) }, want: rejects(fic.ErrDimensions)},
		{name: "tiff 65536 tiles (at the cap)", build: func() []byte { return fixture.TIFFTiled(2048, 2048, 8, 8) }, want: accepts(), deadlineOK: true},
		{name: "tiff ifd loop", build: fixture.TIFFIFDLoop, want: rejects(fic.ErrCorrupt)},
		{name: "tiff 2-ifd cycle", build: fixture.TIFFIFDLoop2, want: rejects(fic.ErrCorrupt)},
		// A 16 MP grayscale strip that inflates to 128 MiB: x/image/tiff buffers up to
		// 8 bytes per pixel of a strip whatever the pixel size. Either the estimate covers
		// that (ErrDimensions) or the decode stays within the budget.
		{name: "tiff deflate bomb 4096x4096 inflating to 128 MiB (CVE-2023-29408)", build: func() []byte { return fixture.TIFFDeflateBomb(4096, 4096, 128<<20) }, want: accepts(fic.ErrDimensions), deadlineOK: true},
		{name: "tiff deflate bomb 1500x1500 inflating to 8 bytes a pixel (within budget)", build: func() []byte {
			return fixture.TIFFDeflateBomb(heavy(1500), heavy(1500), int64(8*heavy(1500)*heavy(1500)))
		}, want: accepts(fic.ErrDimensions), deadlineOK: true},
		{name: "tiff truncated", build: truncated(fixture.TIFF(64, 64)), want: rejects(fic.ErrCorrupt)},

		// CCITT Group 3 and 4 (TIFF compression 3 and 4): one bit a pixel, as little as one
		// bit a row.
		{name: "ccitt g4 blank 100000x100000 from 12 KB", build: func() []byte {
			return fixture.TIFFCCITT(100000, 100000, fixture.CCITT{Group4: true, Blank: true})
		}, want: rejects(fic.ErrDimensions)},
		{name: "ccitt g3 blank 16384x16384 (268 MP over MaxPixels)", build: func() []byte {
			return fixture.TIFFCCITT(16384, 16384, fixture.CCITT{Blank: true, RowsPerStrip: 256})
		}, want: rejects(fic.ErrDimensions)},
		{name: "ccitt g4 blank 6000x6000 from 4.5 KB (36 MP, decoded within budget)", build: func() []byte {
			return fixture.TIFFCCITT(heavy(6000), heavy(6000), fixture.CCITT{Group4: true, Blank: true})
		}, want: accepts(), deadlineOK: true},
		{name: "ccitt g3 blank 6000x6000 in 64-row strips (within budget)", build: func() []byte {
			return fixture.TIFFCCITT(heavy(6000), heavy(6000), fixture.CCITT{Blank: true, RowsPerStrip: 64})
		}, want: accepts(), deadlineOK: true},
		// Every strip or tile restarts the decoder (a new reader and two row buffers): at the
		// block cap that is more allocation than this suite's budget, though each block's is
		// garbage by the next; a quarter of it decodes.
		{name: "ccitt g4 65536 8x8 tiles (at the cap, over the budget)", build: func() []byte {
			return fixture.TIFFCCITT(2048, 2048, fixture.CCITT{Group4: true, Blank: true, Tile: 8})
		}, want: rejects(fic.ErrDimensions)},
		{name: "ccitt g4 16384 8x8 tiles (within budget)", build: func() []byte {
			return fixture.TIFFCCITT(1024, 1024, fixture.CCITT{Group4: true, Blank: true, Tile: 8})
		}, want: accepts(), deadlineOK: true},
		{name: "ccitt g4 65537 one-row strips (one over the cap)", build: func() []byte {
			return fixture.TIFFCCITT(64, 65537, fixture.CCITT{Group4: true, Blank: true, RowsPerStrip: 1})
		}, want: rejects(fic.ErrDimensions)},
		{name: "ccitt g4 16384 one-row strips (within budget)", build: func() []byte {
			return fixture.TIFFCCITT(64, 16384, fixture.CCITT{Group4: true, Blank: true, RowsPerStrip: 1})
		}, want: accepts(), deadlineOK: true},
		// 2.5 MB of vertical-mode codes that never move the coding position: linear work
		// (a tenth of it under the race detector, ten times slower), then the stream runs out.
		{name: "ccitt g4 mode loop (2M steps without a pixel)", build: func() []byte {
			steps := 2_000_000
			if raceEnabled {
				steps /= 10
			}
			return fixture.TIFFCCITTModeLoop(64, steps)
		}, want: rejects(fic.ErrCorrupt), deadlineOK: true},
		{name: "ccitt g4 garbage stream", build: func() []byte { return fixture.TIFFCCITTStream(640, 480, true, fixture.NoiseBytes(8192, 1)) }, want: rejects(fic.ErrCorrupt)},
		{name: "ccitt g3 garbage stream", build: func() []byte { return fixture.TIFFCCITTStream(640, 480, false, fixture.NoiseBytes(8192, 2)) }, want: rejects(fic.ErrCorrupt)},
		{name: "ccitt g3 zero stream (no EOL ever)", build: func() []byte { return fixture.TIFFCCITTStream(640, 480, false, make([]byte, 1<<20)) }, want: rejects(fic.ErrCorrupt)},
		{name: "ccitt g4 stream cut in half", build: func() []byte {
			s := fixture.CCITTEncode(fixture.CCITTPage(640, 480), true, false)
			return fixture.TIFFCCITTStream(640, 480, true, s[:len(s)/2])
		}, want: rejects(fic.ErrCorrupt)},
		{name: "ccitt g3 runs wider than the page", build: func() []byte {
			return fixture.TIFFCCITTStream(300, 200, false, fixture.CCITTEncode(fixture.CCITTPage(400, 200), false, false))
		}, want: rejects(fic.ErrCorrupt)},
		{name: "ccitt g4 empty strip", build: func() []byte { return fixture.TIFFCCITTStream(64, 64, true, nil) }, want: rejects(fic.ErrCorrupt)},
		{name: "ccitt g4 no EOFB, strip ends the file (golang/go#34809)", build: func() []byte {
			return fixture.TIFFCCITT(640, 480, fixture.CCITT{Group4: true, NoTrailer: true})
		}, want: accepts()},
		{name: "ccitt 8-bit samples", build: func() []byte { return fixture.TIFFCCITT(64, 64, fixture.CCITT{Group4: true, BitsPerSample: 8}) }, want: rejects(fic.ErrCorrupt)},
		{name: "ccitt g3 declared two-dimensional", build: func() []byte { return fixture.TIFFCCITT(64, 64, fixture.CCITT{T4Options: 1}) }, want: rejects(fic.ErrUnsupportedFormat)},

		// Not images, and claims that lie.
		{name: "html declared png", build: fixture.HTML, declared: "image/png", want: rejects(fic.ErrTypeMismatch)},
		{name: "php declared jpeg", build: fixture.PHP, declared: "image/jpeg", want: rejects(fic.ErrTypeMismatch)},
		{name: "svg with a metadata-service href", build: func() []byte { return fixture.SVG("http://169.254.169.254/latest/meta-data/") }, declared: "image/svg+xml", want: rejects(fic.ErrUnsupportedFormat)},
		{name: "gif declared jpeg", build: func() []byte { return fixture.GIF(8, 8, 1) }, declared: "image/jpeg", want: rejects(fic.ErrTypeMismatch)},

		// AVIF and HEIC: refused from the box walk, before the WebAssembly decoder (no
		// memory limit, no cancellation) is called. An accepted AVIF is not a row here:
		// the decoder's first call compiles its module (about 120 MiB, once per process),
		// more than this suite's budget (TestAVIFInput, TestReservationCoversAllocation).
		{name: "avif ispe 1000000x1000000", build: func() []byte { return fixture.AVIFHugeISPE(1_000_000, 1_000_000) }, want: rejects(fic.ErrDimensions)},
		{name: "avif grid declaring 65536 tiles", build: fixture.AVIFGridFlood, want: rejects(fic.ErrDimensions)},
		{name: "avif 4000x4000 grid of one 20000x20000 tile", build: func() []byte { return fixture.AVIFGridBigTiles(20000, 4000) }, want: rejects(fic.ErrDimensions)},
		{name: "avif iinf declaring 1000000 items", build: func() []byte { return fixture.AVIFItemFlood(1_000_000) }, want: rejects(fic.ErrDimensions)},
		{name: "avif ispe 16x16 over an AV1 sequence header of 65536x65536", build: func() []byte { return fixture.AVIFBitstreamOverISPE(16, 16, 65536, 65536) }, want: rejects(fic.ErrDimensions)},
		{name: "avif box largesize 2^64-1", build: fixture.AVIFBoxOverflow, want: rejects(fic.ErrCorrupt)},
		{name: "avif truncated mdat (extent past EOF)", build: func() []byte { return fixture.AVIFTruncatedMdat(1 << 20) }, want: rejects(fic.ErrCorrupt)},
		{name: "avif sequence", build: func() []byte { return fixture.AVIFSequence(true) }, want: rejects(fic.ErrUnsupportedFormat)},
		{name: "avif alpha plane 100000x100000", build: func() []byte { return fixture.AVIFHugeAlpha(100_000, 100_000) }, want: rejects(fic.ErrDimensions)},
		{name: "heic disguised as png", build: func() []byte { return fixture.HEICFile(64, 64).Bytes() }, declared: "image/png", want: rejects(fic.ErrTypeMismatch)},
		{name: "heic not in Limits.Formats", build: func() []byte { return fixture.HEICFile(64, 64).Bytes() }, want: rejects(fic.ErrUnsupportedFormat)},
		{name: "empty", build: fixture.ZeroBytes, want: rejects(fic.ErrUnsupportedFormat)},
	}
}

// TestHostileInputs runs every case through Put and Get, one at a time (the heap is
// measured for the whole process), each on a Cache of its own.
func TestHostileInputs(t *testing.T) { runHostile(t) }

// TestHostileInputsBucket runs the same cases on a Cache whose originals and renditions
// live in a shared bucket (WithBucket, memblob): the same outcomes, bounds and deadlines.
func TestHostileInputsBucket(t *testing.T) {
	b := memblob.OpenBucket(nil)
	defer b.Close()
	runHostile(t, fic.WithBucket(b))
}

func runHostile(t *testing.T, extra ...fic.Option) {
	for _, tc := range hostileCases() {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.build()
			goroutines := runtime.NumGoroutine()
			c, err := fic.New(t.TempDir(), append([]fic.Option{fic.WithLimits(hostileLimits)}, extra...)...)
			require.NoError(t, err)
			var peak uint64
			call := func(op string, fn func()) {
				t.Helper()
				grew, took := measureCall(fn)
				peak = max(peak, grew)
				assert.LessOrEqual(t, took, hostileTimeout+callMargin, "%s took %v", op, took)
				assert.LessOrEqual(t, grew, uint64(hostileBudget+heapMargin),
					"%s: heap grew by %d MiB, over the %d MiB budget plus %d MiB", op, grew>>20, hostileBudget>>20, heapMargin>>20)
			}
			defer func() {
				call("Close", func() { err = c.Close() })
				assert.NoError(t, err)
				t.Logf("%d bytes, peak heap growth %.1f MiB", len(data), float64(peak)/(1<<20))
				// A decode abandoned at its deadline stops at its next read; one that has
				// read all its input runs on, holding its budget, and Close waits for it
				// only so long. Let it finish, so that it does not skew the next case.
				if d := waitGoroutines(goroutines, lingerBound); d > 0 {
					t.Logf("abandoned decode still ran %v after Close", d.Round(time.Millisecond))
				}
			}()

			var opts []fic.PutOption
			if tc.declared != "" {
				opts = append(opts, fic.DeclaredType(tc.declared))
			}
			var info fic.Info
			call("Put", func() { info, err = c.Put(t.Context(), bytes.NewReader(data), opts...) })
			t.Logf("Put: %v", orAccepted(err))
			if !outcomeOK(t, "Put", tc, err) {
				return
			}
			if err != nil {
				// Refused: nothing is stored under the input's ID.
				_, err := c.Get(t.Context(), idOf(data), fic.Spec{Width: 64, Height: 64})
				require.ErrorIs(t, err, fic.ErrNotFound)
				return
			}
			var r *fic.Rendition
			call("Get", func() { r, err = c.Get(t.Context(), info.ID, fic.Spec{Width: 64, Height: 64}) })
			if err != nil {
				require.True(t, tc.deadlineOK && errors.Is(err, context.DeadlineExceeded), "Get of an accepted image: %v", err)
				require.NotErrorIs(t, err, fic.ErrCorrupt)
				t.Logf("Get ran out of time: %v", err)
				return
			}
			out, err := io.ReadAll(r)
			require.NoError(t, r.Close())
			require.NoError(t, err)
			img, _, err := image.Decode(bytes.NewReader(out))
			require.NoError(t, err, "rendition decodes")
			assert.Equal(t, image.Rect(0, 0, r.Width, r.Height), img.Bounds())
			assert.LessOrEqual(t, r.Width, 64)
			assert.LessOrEqual(t, r.Height, 64)
			if tc.payload != "" {
				assert.NotContains(t, string(out), tc.payload, "rendition carries the polyglot's payload")
				// The WebAssembly encoders' outputs too: every byte is theirs. The AVIF
				// module is set up beforehand: its first call reserves more than this
				// suite's budget (see TestAVIFFirstCallReserved).
				setUpAVIF(t)
				for _, f := range []fic.Format{fic.WebP, fic.AVIF} {
					r, err := c.Get(t.Context(), info.ID, fic.Spec{Width: 64, Height: 64, Format: f})
					require.NoError(t, err, f)
					out, err := io.ReadAll(r)
					require.NoError(t, r.Close())
					require.NoError(t, err)
					assert.NotContains(t, string(out), tc.payload, "%s rendition carries the polyglot's payload", f)
					b := decodeModern(t, f, out).Bounds()
					assert.Equal(t, image.Rect(0, 0, r.Width, r.Height), b.Sub(b.Min), f)
				}
			}
		})
	}
}

var avifSetUp sync.Once

// setUpAVIF makes the process's first AVIF call, which compiles the module, if none ran.
func setUpAVIF(t *testing.T) {
	avifSetUp.Do(func() {
		require.NoError(t, codec.EncodeAVIF(io.Discard, image.NewNRGBA(image.Rect(0, 0, 8, 8)), codec.AVIFOptions{Quality: 50, Speed: 10}))
	})
}

// decodeModern decodes a WebP or AVIF rendition (its first frame).
func decodeModern(t *testing.T, f fic.Format, b []byte) image.Image {
	t.Helper()
	img, _, err := fic.DecodeRendition(f, b)
	require.NoError(t, err, "%s rendition decodes", f)
	return img
}

// outcomeOK checks err against the case's acceptable outcomes, and reports whether the
// case should go on.
func outcomeOK(t *testing.T, op string, tc hostileCase, err error) bool {
	t.Helper()
	if err != nil && tc.deadlineOK && errors.Is(err, context.DeadlineExceeded) {
		assert.NotErrorIs(t, err, fic.ErrCorrupt, "a deadline is not corrupt data")
		t.Logf("%s ran out of time: %v", op, err)
		return false
	}
	for _, want := range tc.want {
		if want == accepted && err == nil || want != accepted && errors.Is(err, want) {
			return true
		}
	}
	t.Errorf("%s: %v; want one of %s", op, err, describe(tc.want))
	return false
}

func orAccepted(err error) any {
	if err == nil {
		return "accepted"
	}
	return err
}

func describe(outcomes []error) string {
	s := ""
	for i, o := range outcomes {
		if i > 0 {
			s += ", "
		}
		if o == accepted {
			s += "accepted"
		} else {
			s += fmt.Sprintf("%q", o)
		}
	}
	return s
}

// lingerBound is how long the suite waits, after a case, for decodes that case abandoned.
const lingerBound = time.Minute

// waitGoroutines waits until no more than n goroutines run, at most bound, and returns how
// long it waited (0 if it did not).
func waitGoroutines(n int, bound time.Duration) time.Duration {
	if runtime.NumGoroutine() <= n {
		return 0
	}
	start := time.Now()
	for runtime.NumGoroutine() > n && time.Since(start) < bound {
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

func idOf(data []byte) fic.ID {
	sum := sha256.Sum256(data)
	return fic.ID(hex.EncodeToString(sum[:]))
}

// heapObjects is the runtime/metrics name of the bytes held by heap objects, live or dead
// but not yet swept.
const heapObjects = "/memory/classes/heap/objects:bytes"

// measureCall collects garbage, then runs fn while a goroutine samples the heap every
// millisecond, and returns how far the heap rose above where it stood before fn, and how
// long fn took. The collection before each call keeps one call's garbage out of the next
// call's figure. During fn garbage is collected eagerly (GOGC=gcPercent), so that the heap
// tracks live memory: at the default GOGC of 100 the runtime lets garbage grow to the size
// of the live heap before collecting it, and a decoder that churns buffers would show that
// slack rather than what it holds.
func measureCall(fn func()) (grew uint64, took time.Duration) {
	defer debug.SetGCPercent(debug.SetGCPercent(gcPercent))
	runtime.GC()
	sample := func(s []metrics.Sample) uint64 { metrics.Read(s); return s[0].Value.Uint64() }
	base := sample([]metrics.Sample{{Name: heapObjects}})
	var (
		wg   sync.WaitGroup
		peak = base
		stop = make(chan struct{})
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: heapObjects}}
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, sample(s))
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	start := time.Now()
	fn()
	took = time.Since(start)
	close(stop)
	wg.Wait()
	return peak - base, took
}
