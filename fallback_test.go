package fastimagecache

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

var fallbackGreen = color.NRGBA{0, 200, 0, 255}

// fallbackPNG is a 50×50 solid green PNG: the operator's fallback image.
func fallbackPNG(t *testing.T) []byte {
	t.Helper()
	return blocksPNG(t, 50, 50, map[image.Rectangle]color.NRGBA{image.Rect(0, 0, 50, 50): fallbackGreen})
}

var fallbackSpec = Spec{Width: 40, Height: 30, Fit: Cover, Format: PNG}

// checkFallback asserts that rec is the fallback answer under status: the green image at
// fallbackSpec's size, never cached as immutable.
func checkFallback(t *testing.T, rec *httptest.ResponseRecorder, status int, notBytes []byte) {
	t.Helper()
	require.Equal(t, status, rec.Code, rec.Body.String())
	assert.Equal(t, "image/png", rec.Header().Get("Content-Type"))
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	assert.Empty(t, rec.Header().Get("ETag"))
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
	if status == http.StatusServiceUnavailable {
		assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	}
	body := rec.Body.Bytes()
	assert.NotEqual(t, notBytes, body, "never the original bytes")
	img, err := png.Decode(bytes.NewReader(body))
	require.NoError(t, err)
	assert.Equal(t, image.Pt(40, 30), img.Bounds().Size(), "rendered at the requested size")
	assert.True(t, near(fallbackGreen, color.NRGBAModel.Convert(img.At(20, 15)).(color.NRGBA)))
}

// checkJSONError asserts the answer without a fallback: the JSON error, as before.
func checkJSONError(t *testing.T, rec *httptest.ResponseRecorder, status int) {
	t.Helper()
	require.Equal(t, status, rec.Code)
	assert.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
	var e map[string]string
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e))
	assert.NotEmpty(t, e["error"])
}

// TestFallbackByFailure: for each way a rendition fails, a Handler with a Fallback serves
// the fallback image at the requested size under the failure's own status, and one
// without answers the JSON error as before.
func TestFallbackByFailure(t *testing.T) {
	key := []byte("fallback key")
	opts := func(fb []byte) HandlerOptions {
		return HandlerOptions{SigningKey: key, Presets: map[string]Spec{"fb": fallbackSpec}, Fallback: fb}
	}
	get := func(h http.Handler, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}

	t.Run("not found", func(t *testing.T) {
		c := newTestCache(t)
		missing := ID("0000000000000000000000000000000000000000000000000000000000000000")
		with, without := c.Handler(opts(fallbackPNG(t))), c.Handler(opts(nil))
		checkFallback(t, get(with, SignedPath(key, missing, fallbackSpec)), http.StatusNotFound, nil)
		checkFallback(t, get(with, "/"+string(missing)+"/fb"), http.StatusNotFound, nil)
		checkJSONError(t, get(without, SignedPath(key, missing, fallbackSpec)), http.StatusNotFound)

		head := httptest.NewRecorder()
		with.ServeHTTP(head, httptest.NewRequest(http.MethodHead, "/"+string(missing)+"/fb", nil))
		assert.Equal(t, http.StatusNotFound, head.Code)
		assert.Equal(t, "image/png", head.Header().Get("Content-Type"))
		assert.NotEmpty(t, head.Header().Get("Content-Length"))
		assert.Zero(t, head.Body.Len(), "HEAD: no body")

		// An Auto spec: the fallback in the negotiated format, with Vary: Accept.
		auto := fallbackSpec
		auto.Format = Auto
		req := httptest.NewRequest(http.MethodGet, SignedPath(key, missing, auto), nil)
		req.Header.Set("Accept", "image/webp,*/*")
		rec := httptest.NewRecorder()
		with.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusNotFound, rec.Code)
		assert.Equal(t, "image/webp", rec.Header().Get("Content-Type"))
		assert.Equal(t, "Accept", rec.Header().Get("Vary"))
		assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	})

	t.Run("corrupt", func(t *testing.T) {
		dir := t.TempDir()
		c := openDur(t, dir, diskOnly)
		info := durPut(t, c, fixture.JPEG(96, 64, 90))
		require.NoError(t, c.Close())
		bad := durFlip(t, durOriginalFile(dir, info.ID), func(n int) int { return n / 2 })
		c = openDur(t, dir, diskOnly)
		with := c.Handler(opts(fallbackPNG(t)))
		checkFallback(t, get(with, SignedPath(key, info.ID, fallbackSpec)), http.StatusUnprocessableEntity, bad)
		checkFallback(t, get(with, SignedPath(key, info.ID, fallbackSpec)), http.StatusNotFound, bad) // quarantined since
	})

	t.Run("too large", func(t *testing.T) {
		dir := t.TempDir()
		c := openDur(t, dir, diskOnly)
		src := fixture.PNG(200, 200)
		info := durPut(t, c, src)
		require.NoError(t, c.Close())
		c = openDur(t, dir, diskOnly, WithLimits(Limits{MaxPixels: 10000}))
		plain := get(c.Handler(opts(nil)), SignedPath(key, info.ID, fallbackSpec))
		require.GreaterOrEqual(t, plain.Code, 413, plain.Body.String())
		checkJSONError(t, plain, plain.Code)
		checkFallback(t, get(c.Handler(opts(fallbackPNG(t))), SignedPath(key, info.ID, fallbackSpec)), plain.Code, src)
	})

	t.Run("timeout", func(t *testing.T) {
		c := newTestCache(t, WithLimits(Limits{DecodeTimeout: 200 * time.Millisecond}))
		src := fixture.PNG(120, 90)
		info := put(t, c, src)
		with, without := c.Handler(opts(fallbackPNG(t))), c.Handler(opts(nil))
		var decodes atomic.Int32
		c.hooks.decodeStart = func(ctx context.Context) {
			if decodes.Add(1)%2 == 1 { // the image's decode stalls; the fallback's does not
				<-ctx.Done()
			}
		}
		checkFallback(t, get(with, SignedPath(key, info.ID, fallbackSpec)), http.StatusServiceUnavailable, src)
		checkJSONError(t, get(without, SignedPath(key, info.ID, fallbackSpec)), http.StatusServiceUnavailable)
	})

	t.Run("fallback itself fails", func(t *testing.T) {
		c := newTestCache(t)
		h := c.Handler(opts(fallbackPNG(t)))
		missing := ID("0000000000000000000000000000000000000000000000000000000000000000")
		fb := h.(*handler).fallback
		require.NotEmpty(t, fb)
		require.NoError(t, c.Delete(t.Context(), fb))
		checkJSONError(t, get(h, SignedPath(key, missing, fallbackSpec)), http.StatusNotFound)
	})
}

// TestFallbackNotForClientErrors: a bad signature, ID, spec or preset, and a successful
// rendition, answer as without a fallback; an invalid fallback is ignored.
func TestFallbackNotForClientErrors(t *testing.T) {
	c := newTestCache(t)
	key := []byte("fallback key")
	info := put(t, c, fixture.PNG(120, 90))
	h := c.Handler(HandlerOptions{SigningKey: key, Fallback: fallbackPNG(t)})
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	ok := get(SignedPath(key, info.ID, fallbackSpec))
	require.Equal(t, http.StatusOK, ok.Code)
	assert.Contains(t, ok.Header().Get("Cache-Control"), "immutable", "real renditions keep their caching")
	checkJSONError(t, get("/"+string(info.ID)+"?w=40&sig=x"), http.StatusForbidden)
	checkJSONError(t, get("/nothex/thumb"), http.StatusBadRequest)
	checkJSONError(t, get("/"+string(info.ID)+"/thumb"), http.StatusNotFound)
	checkJSONError(t, get(SignedPath(key, info.ID, Spec{Width: 100000, Format: PNG})), http.StatusBadRequest)

	bad := c.Handler(HandlerOptions{SigningKey: key, Fallback: []byte("<html>not an image")})
	assert.Empty(t, bad.(*handler).fallback)
	rec := httptest.NewRecorder()
	bad.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, SignedPath(key, ID("0000000000000000000000000000000000000000000000000000000000000000"), fallbackSpec), nil))
	checkJSONError(t, rec, http.StatusNotFound)
}
