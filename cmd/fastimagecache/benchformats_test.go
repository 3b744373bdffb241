package main

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/disintegration/imaging"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache"
	"github.com/fastimagecache/fastimagecache/internal/codec"
	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

func solid(w, h int, v uint8) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = v
		if i%4 == 3 {
			m.Pix[i] = 255
		}
	}
	return m
}

func TestPSNRAndSSIM(t *testing.T) {
	g := image.NewNRGBA(image.Rect(0, 0, 40, 30))
	for y := range 30 {
		for x := range 40 {
			g.SetNRGBA(x, y, color.NRGBA{uint8(x * 6), uint8(y * 8), uint8((x * y) % 256), 255})
		}
	}
	assert.Equal(t, 99.0, psnrNRGBA(g, g))
	assert.InDelta(t, 1, ssimNRGBA(g, g), 1e-9)

	// Two flat images 100 and 110: MSE 100; SSIM has no variance terms, only the means'.
	a, b := solid(20, 20, 100), solid(20, 20, 110)
	assert.InDelta(t, 10*math.Log10(255*255/100.0), psnrNRGBA(a, b), 1e-9)
	const c1 = (0.01 * 255) * (0.01 * 255)
	assert.InDelta(t, (2*100*110+c1)/(100*100+110*110+c1), ssimNRGBA(a, b), 1e-9)

	// Structure lost: the gradient against its own mean colour scores far below 1.
	flat := solid(40, 30, 100)
	assert.Less(t, ssimNRGBA(g, flat), 0.5)

	assert.True(t, math.IsNaN(psnrNRGBA(g, a)), "sizes differ")
	assert.True(t, math.IsNaN(ssimNRGBA(g, a)), "sizes differ")
	assert.True(t, math.IsNaN(ssimNRGBA(solid(10, 10, 1), solid(10, 10, 1))), "smaller than the window")
}

// riffChunk is one RIFF chunk with its pad byte.
func riffChunk(fourcc string, payload []byte) []byte {
	b := append([]byte(fourcc), binary.LittleEndian.AppendUint32(nil, uint32(len(payload)))...)
	b = append(b, payload...)
	if len(payload)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

func TestImageBytesIgnoresWebPMetadata(t *testing.T) {
	var plain bytes.Buffer
	require.NoError(t, codec.EncodeWebP(&plain, solid(32, 16, 90), codec.WebPOptions{Quality: 80}))
	vp8 := plain.Bytes()[12:] // the image chunk
	vp8x := riffChunk("VP8X", make([]byte, 10))
	body := append([]byte("WEBP"), vp8x...)
	body = append(body, riffChunk("ICCP", make([]byte, 501))...)
	body = append(body, vp8...)
	body = append(body, riffChunk("EXIF", make([]byte, 4001))...)
	body = append(body, riffChunk("XMP ", make([]byte, 700))...)
	withMeta := append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)

	assert.Equal(t, plain.Len(), imageBytes(plain.Bytes()))
	assert.Equal(t, plain.Len()+len(vp8x), imageBytes(withMeta), "metadata chunks are not counted, the image's are")
	jpg := fixture.JPEG(16, 16, 80)
	assert.Equal(t, len(jpg), imageBytes(jpg), "other formats count whole")
	assert.Equal(t, 2*plain.Len(), total([][]byte{plain.Bytes(), plain.Bytes()}))
}

var memSink []byte

func TestMemProbeMeasuresOnlyTheCall(t *testing.T) {
	if _, ok := procStatusKB("VmHWM"); !ok {
		t.Skip("no /proc/self/status")
	}
	touch := func(n int) {
		memSink = make([]byte, n)
		for i := 0; i < len(memSink); i += 4096 {
			memSink[i] = 1
		}
		memSink = nil
	}
	// An earlier, larger peak (256 MiB) must not show up in the next call's measurement,
	// and the call's own 32 MiB must. The process's RSS moves under other goroutines
	// (the scavenger, the race detector's shadow pages), so the lower bound has three tries
	// and a quarter's slack; the upper bound holds on every try.
	var best uint64
	for try := 0; try < 3 && best < 24<<20; try++ {
		touch(256 << 20)
		alloc, rss, ok, err := memProbe(func() error {
			touch(32 << 20)
			return nil
		})
		require.NoError(t, err)
		if !ok {
			t.Skip("the peak RSS cannot be reset here")
		}
		assert.GreaterOrEqual(t, alloc, uint64(32<<20))
		assert.Less(t, rss, uint64(128<<20), "not the earlier peak")
		best = max(best, rss)
	}
	assert.GreaterOrEqual(t, best, uint64(24<<20), "the call's own pages")
}

// warmCodecs pays the codecs' module compile outside any Get, whose deadline it could
// outlast on a loaded machine.
func warmCodecs(t *testing.T) {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, codec.EncodeWebP(&b, solid(8, 8, 1), codec.WebPOptions{Quality: 50}))
	require.NoError(t, codec.EncodeAVIF(&b, solid(8, 8, 1), codec.AVIFOptions{Quality: 50, Speed: 10}))
}

// The formats table's default qualities are what a Get with no quality renders.
func TestBenchFormatDefaults(t *testing.T) {
	warmCodecs(t)
	photos := []photo{{name: "p.jpg", data: fixture.JPEG(400, 300, 90), w: 400, h: 300}}
	c, ids, cleanup, err := freshCache(t.Context(), photos)
	require.NoError(t, err)
	defer cleanup()
	for _, f := range benchOutFormats(82, benchWebPQuality, benchAVIFQuality) {
		def, err := getAll(t.Context(), c, ids[0], fastimagecache.Spec{Width: 160, Height: 160, Format: f.format})
		require.NoError(t, err)
		explicit, err := getAll(t.Context(), c, ids[0], f.spec(160))
		require.NoError(t, err)
		assert.Equal(t, def, explicit, "%s: quality %d is the library's default", f.name, f.quality)
	}
}

// vipsthumbnail gets the same quality and strips metadata; its AVIF is 8-bit 4:2:0 like ours.
func TestVipsFormatOptions(t *testing.T) {
	vipsPath, err := exec.LookPath("vipsthumbnail")
	if err != nil {
		t.Skip("vipsthumbnail not on PATH")
	}
	data := fixture.WithAPP1(fixture.JPEG(600, 400, 90), fixture.EXIFPayload(1))
	photos := []photo{{name: "p.jpg", data: data, w: 600, h: 400}}
	for _, f := range benchOutFormats(82, benchWebPQuality, benchAVIFQuality) {
		assert.Contains(t, f.vipsOutput("/d"), "[Q="+strconv.Itoa(f.quality)+",strip", f.name)
		r, err := runVipsFormat(vipsPath, photos, 160, f)
		require.NoError(t, err, f.name)
		img, err := decodeOutput(f.format, r.outputs[0])
		require.NoError(t, err, f.name)
		assert.Equal(t, image.Pt(160, 107), img.Bounds().Size(), f.name)
		switch f.format {
		case fastimagecache.JPEG, fastimagecache.AVIF:
			assert.False(t, bytes.Contains(r.outputs[0], []byte("Exif")), "%s: stripped of EXIF", f.name)
		}
		if f.format == fastimagecache.AVIF {
			i := bytes.Index(r.outputs[0], []byte("av1C"))
			require.Positive(t, i)
			flags := r.outputs[0][i+6]
			assert.Equal(t, byte(0b00001100), flags&0b01111100, "8-bit, not monochrome, 4:2:0")
		}
	}
}

// TestBenchFormats runs `bench -formats` on generated photos and checks every row is there
// with sane numbers: the outputs decode at the reference's size (PSNR and SSIM are numbers)
// and memory is measured.
func TestBenchFormats(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes AVIF")
	}
	dir := t.TempDir()
	for i, w := range []int{1600, 1200} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "p"+string(rune('a'+i))+".jpg"), fixture.JPEG(w, w*3/4, 90), 0o600))
	}
	var out, errb bytes.Buffer
	code := run(t.Context(), []string{"bench", "-formats", "-rounds", "1", dir}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	t.Log("\n" + out.String())
	_, vipsErr := exec.LookPath("vipsthumbnail")
	num := regexp.MustCompile(`[0-9]+\.[0-9]+`)
	for _, name := range []string{"JPEG", "WebP", "AVIF"} {
		for _, pipeline := range []string{"fastimagecache cold Get", "vipsthumbnail (one process"} {
			var row string
			for _, l := range strings.Split(out.String(), "\n") {
				if strings.Contains(l, pipeline) && strings.HasPrefix(strings.TrimSpace(l), name+" ") {
					row = l
				}
			}
			require.NotEmpty(t, row, "%s %s", name, pipeline)
			if pipeline != "fastimagecache cold Get" && vipsErr != nil {
				continue
			}
			vals := num.FindAllString(row, -1)
			require.GreaterOrEqual(t, len(vals), 4, row)
			psnr, _ := strconv.ParseFloat(vals[len(vals)-2], 64)
			ssim, _ := strconv.ParseFloat(vals[len(vals)-1], 64)
			assert.Greater(t, psnr, 25.0, row)
			assert.Greater(t, ssim, 0.8, row)
			assert.LessOrEqual(t, ssim, 1.0, row)
		}
	}
	assert.Regexp(t, `(?m)^\s+AVIF\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+[0-9]+`, out.String(), "the memory row")
}

// The WebP method vipsthumbnail gets is the library's: a full-size Get of an opaque PNG is
// byte for byte the codec's encode of its pixels at that method, and not at another.
func TestVipsWebPEffortIsTheLibrarys(t *testing.T) {
	warmCodecs(t)
	data := fixture.PNGOpaque(96, 64)
	c, ids, cleanup, err := freshCache(t.Context(), []photo{{name: "p.png", data: data}})
	require.NoError(t, err)
	defer cleanup()
	got, err := getAll(t.Context(), c, ids[0], fastimagecache.Spec{Format: fastimagecache.WebP, Quality: benchWebPQuality})
	require.NoError(t, err)
	src, err := png.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	encode := func(method int) []byte {
		var b bytes.Buffer
		require.NoError(t, codec.EncodeWebP(&b, imaging.Clone(src), codec.WebPOptions{Quality: benchWebPQuality, Method: method}))
		return b.Bytes()
	}
	assert.Equal(t, encode(vipsWebPEffort), got, "method %d", vipsWebPEffort)
	other := 6
	if vipsWebPEffort == 6 {
		other = 0
	}
	assert.NotEqual(t, encode(other), got, "the comparison tells methods apart")
}

// A lossy WebP decoded through x/image/webp keeps its black and white: the limited-range
// planes are expanded (read as full range, 0 comes back as 16 and 255 as 235).
func TestDecodeWebPOutputFullRange(t *testing.T) {
	for _, v := range []uint8{0, 128, 255} {
		var b bytes.Buffer
		require.NoError(t, codec.EncodeWebP(&b, solid(32, 32, v), codec.WebPOptions{Quality: 95}))
		img, err := decodeOutput(fastimagecache.WebP, b.Bytes())
		require.NoError(t, err)
		assert.InDelta(t, float64(v), float64(img.Pix[4*(8*32+8)]), 2, "grey %d", v)
	}
}
