package main

import (
	"bufio"
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// serveAt runs serve with args until it listens, calls check with its base URL, then stops
// it and returns every line it printed and its error.
func serveAt(t *testing.T, check func(base string), args ...string) ([]string, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := serve(ctx, append([]string{"-dir", t.TempDir(), "-addr", "127.0.0.1:0", "-debug-addr", "", "-drain-delay", "0", "-runtime-memory-limit=false"}, args...), pw)
		_ = pw.Close()
		done <- err
	}()
	var lines []string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if url, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
			check(strings.TrimSuffix(url, "/"))
			cancel()
		}
	}
	return lines, <-done
}

// solidPNG writes a w×h PNG of one colour to dir and returns its path.
func solidPNG(t *testing.T, dir string, w, h int, c color.NRGBA) string {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	p := filepath.Join(dir, "fallback.png")
	require.NoError(t, os.WriteFile(p, buf.Bytes(), 0o600))
	return p
}

// upload POSTs data to base's upload route and returns the stored image's ID.
func upload(t *testing.T, base string, data []byte) string {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", "x.jpg")
	require.NoError(t, err)
	_, _ = fw.Write(data)
	require.NoError(t, mw.Close())
	resp, err := http.Post(base+"/api/images", mw.FormDataContentType(), &body)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	b, _ := io.ReadAll(resp.Body)
	_, rest, _ := strings.Cut(string(b), `"id":"`)
	id, _, _ := strings.Cut(rest, `"`)
	require.Len(t, id, 64, string(b))
	return id
}

// serve -fallback FILE answers a rendition that fails with FILE rendered at the preset's
// size, under the failure's status, never cached; a rendition that works is served as ever.
func TestServeFallbackOverHTTP(t *testing.T) {
	blue := color.NRGBA{20, 40, 220, 255}
	path := solidPNG(t, t.TempDir(), 300, 200, blue)
	_, err := serveAt(t, func(base string) {
		missing := strings.Repeat("ab", 32) // a valid ID that nothing is stored under
		resp, err := http.Get(base + "/images/" + missing + "/small")
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, "the status is kept")
		assert.Equal(t, "image/png", resp.Header.Get("Content-Type"))
		assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		assert.Empty(t, resp.Header.Get("ETag"))
		img, err := png.Decode(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, image.Pt(100, 67), img.Bounds().Size(), "rendered at the preset's size")
		r, g, b, _ := img.At(50, 33).RGBA()
		assert.Equal(t, [3]uint32{20, 40, 220}, [3]uint32{r >> 8, g >> 8, b >> 8}, "the fallback's own pixels")

		id := upload(t, base, fixture.JPEG(400, 200, 90))
		ok, err := http.Get(base + "/images/" + id + "/small")
		require.NoError(t, err)
		defer ok.Body.Close()
		assert.Equal(t, http.StatusOK, ok.StatusCode)
		assert.Contains(t, ok.Header.Get("Cache-Control"), "immutable")
	}, "-fallback", path, "-preset", "small=100x100:png")
	require.NoError(t, err)
}

// serve refuses to start with a -fallback that is not an image it accepts, naming the
// file and the reason; it never listens.
func TestServeFallbackMustBeAnImage(t *testing.T) {
	dir := t.TempDir()
	html := filepath.Join(dir, "oops.png")
	require.NoError(t, os.WriteFile(html, fixture.HTML(), 0o600))
	bomb := filepath.Join(dir, "bomb.png")
	require.NoError(t, os.WriteFile(bomb, fixture.PNGHeader(100000, 100000), 0o600))
	for _, tc := range []struct{ path, reason string }{
		{html, "ErrUnsupportedFormat"},
		{bomb, "ErrDimensions"},
		{filepath.Join(dir, "missing.png"), "no such file"},
	} {
		lines, err := serveAt(t, func(string) { t.Errorf("serve listened with -fallback %s", tc.path) }, "-fallback", tc.path)
		require.Error(t, err, tc.path)
		assert.Contains(t, err.Error(), "-fallback", tc.path)
		assert.Contains(t, err.Error(), tc.reason)
		for _, l := range lines {
			assert.NotContains(t, l, "listening")
		}
	}
	code, _, stderr := runCLI(t, "serve", "-dir", t.TempDir(), "-addr", "127.0.0.1:0", "-debug-addr", "", "-fallback", html)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "oops.png")
}
