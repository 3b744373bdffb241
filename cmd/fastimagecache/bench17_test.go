package main

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/disintegration/imaging"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// tinyPhotos are small generated JPEGs, one stored sideways with EXIF orientation 6.
func tinyPhotos() []photo {
	return []photo{
		{name: "a.jpg", data: fixture.JPEG(200, 150, 90), w: 200, h: 150},
		{name: "b.jpg", data: fixture.WithEXIFOrientation(fixture.JPEG(120, 180, 85), 6), w: 120, h: 180},
	}
}

// Every issue-17 row runs end to end on tiny inputs and prints its ratio, its target's
// verdict and (for the rows with a reference) a PSNR; no timing is asserted.
func TestBench17RowsRun(t *testing.T) {
	warmCodecs(t)
	var out bytes.Buffer
	cfg := bench17Config{png: true, gif: true, large: true, upload: true, put: true, rounds: 1, pngMax: 96,
		shotW: 120, shotH: 80, gifW: 48, gifH: 36, gifFrames: 3}
	require.NoError(t, bench17(t.Context(), &out, tinyPhotos(), cfg))
	s := out.String()
	for _, row := range []string{"PNG photos/screenshots -> 320 PNG (8 files)", "JPEG photos -> 1280 JPEG q82 (2 files)", "JPEG photos -> 320 JPEG q82",
		"animated GIF -> GIF (no resize) (6 files)", "animated GIF -> 160 GIF (resize)", "upload to first thumbnail, demo presets",
		"upload to first thumbnail, the presets as JPEG", "JPEG photos (2 files)", "PNG photos/screenshots (8 files)", "animated GIFs (6 files)"} {
		assert.Contains(t, s, row)
	}
	assert.NotContains(t, s, "NaN")
	assert.Regexp(t, regexp.MustCompile(`2 vs 1 in flight [0-9.]+× \(>= 1\.8×\): (met|not met)`), s)
	assert.Regexp(t, regexp.MustCompile(`\| [0-9.]+×\s+\| [0-9.]+×\s+\| <= 1\.0×: (met|not met)`), s, "Put / decode")
	if _, err := exec.LookPath("vipsthumbnail"); err == nil {
		assert.Regexp(t, regexp.MustCompile(`>= 1\.5× vips: (met|not met); PSNR [-+][0-9.]+ dB vs vips \(>= -0\.3\): (met|not met)`), s)
		assert.Regexp(t, regexp.MustCompile(`fastimagecache Put \+ Get of each preset\s+\| [0-9.]+\s+\| [0-9.]+\s+\|\s+\| [0-9.]+×`), s)
	}
}

// An output a pixel off the reference's size is resized to it and scored, not dropped.
func TestPSNRResizesAPixelOff(t *testing.T) {
	g := image.NewNRGBA(image.Rect(0, 0, 64, 48))
	for y := range 48 {
		for x := range 64 {
			i := g.PixOffset(x, y)
			g.Pix[i], g.Pix[i+1], g.Pix[i+2], g.Pix[i+3] = uint8(x*4), uint8(y*5), 128, 255
		}
	}
	enc := func(m image.Image) []byte {
		var b bytes.Buffer
		require.NoError(t, png.Encode(&b, m))
		return b.Bytes()
	}
	v, resized := psnrTo(g, enc(g))
	assert.Equal(t, 99.0, v)
	assert.False(t, resized)

	off := imaging.Resize(g, 63, 48, imaging.Lanczos)
	v, resized = psnrTo(g, enc(off))
	assert.True(t, resized)
	assert.False(t, math.IsNaN(v))
	assert.Greater(t, v, 25.0, "a smooth gradient survives a pixel of resize")

	var s scored
	s.add(psnr(g, enc(off)))
	s.add(psnr(g, enc(g)))
	assert.Len(t, s.psnr, 2)
	assert.Equal(t, 1, s.resized)
	assert.Contains(t, s.String(), "(1 resized*)")
}

// Alpha is judged as seen: composited over white.
func TestOnWhite(t *testing.T) {
	m := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	copy(m.Pix, []uint8{0, 0, 0, 0, 0, 0, 0, 128})
	w := onWhite(m)
	assert.Equal(t, []uint8{255, 255, 255, 255, 127, 127, 127, 255}, w.Pix)
}

// The vipsthumbnail side strips metadata, as our renditions carry none.
func TestVipsStripsMetadata(t *testing.T) {
	path, err := exec.LookPath("vipsthumbnail")
	if err != nil {
		t.Skip("vipsthumbnail not on PATH")
	}
	in := tinyPhotos()[1:]
	require.Contains(t, string(in[0].data), "Exif\x00\x00")
	r, err := runVipsOn(path, in, "", []string{"-s", "64x64"}, "jpg", vipsJPEG(82))
	require.NoError(t, err)
	require.Len(t, r.outputs, 1)
	assert.NotContains(t, string(r.outputs[0]), "Exif\x00\x00")
	_, err = jpeg.Decode(bytes.NewReader(r.outputs[0]))
	require.NoError(t, err)

	// And the upload rows' vipsthumbnail runs all strip.
	for _, u := range demoUploadRows(in) {
		for _, a := range u.vipsRuns {
			assert.Contains(t, a[len(a)-1], "strip", filepath.Join(u.name, strings.Join(a, " ")))
		}
	}
}

// The generated inputs are what the rows say: screenshots with and without alpha, animated
// GIFs with partial frames.
func TestBench17Inputs(t *testing.T) {
	shots, err := screenshots(2, 120, 80)
	require.NoError(t, err)
	opaque, err := png.Decode(bytes.NewReader(shots[0].data))
	require.NoError(t, err)
	alpha, err := png.Decode(bytes.NewReader(shots[1].data))
	require.NoError(t, err)
	_, _, _, a := opaque.At(0, 0).RGBA()
	assert.Equal(t, uint32(0xffff), a)
	_, _, _, a = alpha.At(0, 0).RGBA()
	assert.Less(t, a, uint32(0xffff), "the corner is transparent")

	anims, err := animatedGIFs(1, 48, 36, 3)
	require.NoError(t, err)
	out := naiveGIFResize(anims[0].data, 16)
	require.NotNil(t, out)
	assert.NotNil(t, naiveGIFCopy(anims[0].data))
}

// The flags reach the rows: -put alone prints the Put table and no rows table.
func TestBenchPutFlag(t *testing.T) {
	dir := t.TempDir()
	for _, p := range tinyPhotos() {
		require.NoError(t, os.WriteFile(filepath.Join(dir, p.name), p.data, 0o600))
	}
	var out bytes.Buffer
	require.NoError(t, bench(t.Context(), []string{"-put", "-rounds", "1", "-gifs", "1", "-n", "1", dir}, &out))
	s := out.String()
	assert.Contains(t, s, "| JPEG photos (1 files)")
	assert.Contains(t, s, "| animated GIFs (1 files)")
	assert.NotContains(t, s, "issue 17 rows")
}
