package fastimagecache

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func newTestHandler(t *testing.T, lim Limits) (*Cache, http.Handler) {
	c := newTestCache(t, WithLimits(lim))
	return c, c.Handler(HandlerOptions{
		AllowUpload: true,
		Presets:     map[string]Spec{"thumb": {Width: 64, Height: 64, Fit: Cover}, "BAD/name": {}},
		SigningKey:  testKey,
	})
}

func do(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func multipartBody(t *testing.T, field, filename, contentType string, data []byte) (*bytes.Buffer, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	hdr := textproto.MIMEHeader{}
	hdr.Set("Content-Disposition", `form-data; name="`+field+`"; filename="`+filename+`"`)
	hdr.Set("Content-Type", contentType)
	pw, err := mw.CreatePart(hdr)
	require.NoError(t, err)
	_, err = pw.Write(data)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	return &buf, mw.FormDataContentType()
}

func errorCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body map[string]string
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	assert.NotEmpty(t, body["message"])
	assert.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
	assert.Equal(t, handlerCSP, rec.Header().Get("Content-Security-Policy"))
	return body["error"]
}

func TestHandlerUpload(t *testing.T) {
	_, h := newTestHandler(t, Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20})
	img := fixture.JPEG(100, 50, 90)

	req := httptest.NewRequest("POST", "/", bytes.NewReader(img))
	req.Header.Set("Content-Type", "image/jpeg")
	rec := do(h, req)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var info infoJSON
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &info))
	assert.NotEmpty(t, info.Placeholder)
	assert.Len(t, info.Color, 7)
	info.Placeholder, info.Color = "", "" // TestUploadAnswersPlaceholder
	assert.Equal(t, infoJSON{ID: idOf(img), Format: JPEG, Width: 100, Height: 50, Frames: 1, Size: int64(len(img)), OrientedWidth: 100, OrientedHeight: 50}, info)

	body, ct := multipartBody(t, "file", "photo.jpg", "image/jpeg", img)
	req = httptest.NewRequest("POST", "/", body)
	req.Header.Set("Content-Type", ct)
	rec = do(h, req)
	require.Equal(t, http.StatusOK, rec.Code, "already stored")

	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		status int
		code   string
	}{
		{"html named png", func() *http.Request {
			body, ct := multipartBody(t, "file", "avatar.png", "image/png", fixture.HTML())
			r := httptest.NewRequest("POST", "/", body)
			r.Header.Set("Content-Type", ct)
			return r
		}, 415, "unsupported_format"},
		{"gif declared jpeg", func() *http.Request {
			r := httptest.NewRequest("POST", "/", bytes.NewReader(fixture.GIF(8, 8, 1)))
			r.Header.Set("Content-Type", "image/jpeg")
			return r
		}, 415, "type_mismatch"},
		{"too large raw", func() *http.Request {
			return httptest.NewRequest("POST", "/", io.LimitReader(fixture.Endless(fixture.PNG(4, 4)), 2<<20))
		}, 413, "too_large"},
		{"too large multipart", func() *http.Request {
			body, ct := multipartBody(t, "file", "big.png", "image/png", bytes.Repeat([]byte("x"), 2<<20))
			r := httptest.NewRequest("POST", "/", body)
			r.Header.Set("Content-Type", ct)
			return r
		}, 413, "too_large"},
		{"dimensions", func() *http.Request {
			return httptest.NewRequest("POST", "/", bytes.NewReader(fixture.PNGHeader(100000, 100000)))
		}, 422, "dimensions"},
		{"corrupt", func() *http.Request {
			return httptest.NewRequest("POST", "/", bytes.NewReader(fixture.Truncate(fixture.PNG(64, 64), 400)))
		}, 422, "corrupt"},
		{"multipart without the file field", func() *http.Request {
			body, ct := multipartBody(t, "other", "x.png", "image/png", fixture.PNG(4, 4))
			r := httptest.NewRequest("POST", "/", body)
			r.Header.Set("Content-Type", ct)
			return r
		}, 400, "bad_upload"},
		{"put to an id", func() *http.Request {
			return httptest.NewRequest("PUT", "/"+string(info.ID), nil)
		}, 405, "method_not_allowed"},
		{"get on root", func() *http.Request { return httptest.NewRequest("GET", "/", nil) }, 405, "method_not_allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(h, tc.req())
			assert.Equal(t, tc.status, rec.Code, rec.Body.String())
			assert.Equal(t, tc.code, errorCode(t, rec))
		})
	}
}

func TestHandlerUploadOffByDefault(t *testing.T) {
	c := newTestCache(t)
	h := c.Handler(HandlerOptions{})
	rec := do(h, httptest.NewRequest("POST", "/", bytes.NewReader(fixture.PNG(4, 4))))
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Zero(t, c.Stats().Originals)
}

func TestHandlerServesPresetWithHeaders(t *testing.T) {
	c, h := newTestHandler(t, Limits{})
	info := put(t, c, fixture.JPEG(200, 100, 90))

	rec := do(h, httptest.NewRequest("GET", "/"+string(info.ID)+"/thumb", nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	hd := rec.Header()
	assert.Equal(t, "image/jpeg", hd.Get("Content-Type"))
	assert.Equal(t, "public, max-age=31536000, immutable", hd.Get("Cache-Control"))
	assert.Equal(t, "nosniff", hd.Get("X-Content-Type-Options"))
	assert.Equal(t, "default-src 'none'; frame-ancestors 'none'; sandbox", hd.Get("Content-Security-Policy"))
	assert.Equal(t, `inline; filename="`+string(info.ID)+`.jpg"`, hd.Get("Content-Disposition"))
	etag := hd.Get("ETag")
	require.Regexp(t, `^"[0-9a-f]{32}"$`, etag)
	cfg, _, err := image.DecodeConfig(bytes.NewReader(rec.Body.Bytes()))
	require.NoError(t, err)
	assert.Equal(t, [2]int{64, 64}, [2]int{cfg.Width, cfg.Height})
	full := rec.Body.Bytes()

	req := httptest.NewRequest("GET", "/"+string(info.ID)+"/thumb", nil)
	req.Header.Set("If-None-Match", etag)
	rec = do(h, req)
	assert.Equal(t, http.StatusNotModified, rec.Code)
	assert.Empty(t, rec.Body.Bytes())

	req = httptest.NewRequest("GET", "/"+string(info.ID)+"/thumb", nil)
	req.Header.Set("Range", "bytes=0-9")
	rec = do(h, req)
	assert.Equal(t, http.StatusPartialContent, rec.Code)
	assert.Equal(t, full[:10], rec.Body.Bytes())

	rec = do(h, httptest.NewRequest("HEAD", "/"+string(info.ID)+"/thumb", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, etag, rec.Header().Get("ETag"))

	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/" + string(info.ID) + "/nope", 404, "unknown_preset"},
		{"/" + string(info.ID) + "/BAD/name", 404, "unknown_preset"},
		{"/" + strings.Repeat("0", 64) + "/thumb", 404, "not_found"},
		{"/../../etc/passwd", 400, "invalid_id"},
		{"/" + strings.ToUpper(string(info.ID)) + "/thumb", 400, "invalid_id"},
	} {
		rec := do(h, httptest.NewRequest("GET", tc.path, nil))
		assert.Equal(t, tc.status, rec.Code, tc.path)
		assert.Equal(t, tc.code, errorCode(t, rec), tc.path)
		assert.NotContains(t, rec.Body.String(), "/tmp")
	}
}

func TestHandlerSignedSpecs(t *testing.T) {
	c, h := newTestHandler(t, Limits{MaxWidth: 4000, MaxHeight: 4000})
	info := put(t, c, fixture.PNG(300, 200))

	spec := Spec{Width: 90, Format: JPEG, Quality: 70}
	rec := do(h, httptest.NewRequest("GET", SignedPath(testKey, info.ID, spec), nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	cfg, format, err := image.DecodeConfig(bytes.NewReader(rec.Body.Bytes()))
	require.NoError(t, err)
	assert.Equal(t, "jpeg", format)
	assert.Equal(t, [2]int{90, 60}, [2]int{cfg.Width, cfg.Height})

	good := SignedPath(testKey, info.ID, spec)
	for _, tc := range []struct {
		name   string
		path   string
		status int
		code   string
	}{
		{"tampered width", strings.Replace(good, "w=90", "w=91", 1), 403, "bad_signature"},
		{"wrong key", SignedPath([]byte("another key"), info.ID, spec), 403, "bad_signature"},
		{"signature for another id", "/" + strings.Repeat("0", 64) + good[65:], 403, "bad_signature"},
		{"no signature", "/" + string(info.ID) + "?w=90", 403, "bad_signature"},
		{"unknown parameter", good + "&x=1", 400, "invalid_spec"},
		{"repeated parameter", good + "&w=90", 400, "invalid_spec"},
		{"negative width", "/" + string(info.ID) + "?w=-1&sig=x", 400, "invalid_spec"},
		{"signed but invalid", SignedPath(testKey, info.ID, Spec{Width: 5000}), 400, "invalid_spec"},
		{"signed unknown format", SignedPath(testKey, info.ID, Spec{Format: "svg"}), 400, "invalid_spec"},
	} {
		rec := do(h, httptest.NewRequest("GET", tc.path, nil))
		assert.Equal(t, tc.status, rec.Code, tc.name)
		assert.Equal(t, tc.code, errorCode(t, rec), tc.name)
	}

	// Without a key, arbitrary sizes are refused outright.
	noKey := c.Handler(HandlerOptions{Presets: map[string]Spec{"t": {Width: 10}}})
	rec = do(noKey, httptest.NewRequest("GET", good, nil))
	assert.Equal(t, http.StatusForbidden, rec.Code)
	assert.Equal(t, "signing_disabled", errorCode(t, rec))
}

func TestHandlerBusyAndTimeout(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{ErrBusy, 503, "busy"},
		{context.DeadlineExceeded, 503, "timeout"},
		{ErrStorage, 500, "internal"},
		{ErrClosed, 503, "unavailable"},
	} {
		rec := httptest.NewRecorder()
		writeError(rec, httpErrorOf(tc.err))
		assert.Equal(t, tc.status, rec.Code)
		assert.Equal(t, tc.code, errorCode(t, rec))
		if tc.status == 503 {
			assert.Equal(t, "1", rec.Header().Get("Retry-After"))
		}
	}

	// A real deadline through the handler.
	c := newTestCache(t, WithLimits(Limits{DecodeTimeout: time.Nanosecond}))
	h := c.Handler(HandlerOptions{AllowUpload: true})
	rec := do(h, httptest.NewRequest("POST", "/", bytes.NewReader(fixture.JPEG(300, 300, 90))))
	assert.Equal(t, 503, rec.Code)
	assert.Equal(t, "timeout", errorCode(t, rec))
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))
}

func TestStatsCount(t *testing.T) {
	c, h := newTestHandler(t, Limits{})
	info := put(t, c, fixture.PNG(40, 40))
	do(h, httptest.NewRequest("POST", "/", bytes.NewReader(fixture.HTML())))
	for range 2 {
		rec := do(h, httptest.NewRequest("GET", "/"+string(info.ID)+"/thumb", nil))
		require.Equal(t, 200, rec.Code)
	}
	s := c.Stats()
	assert.Equal(t, int64(2), s.Puts)
	assert.Equal(t, int64(2), s.Gets)
	assert.Equal(t, int64(1), s.Hits)
	assert.Equal(t, int64(1), s.Misses)
	assert.Equal(t, map[string]int64{"unsupported_format": 1}, s.Rejections)
	assert.Equal(t, 1, s.Originals)
	assert.Equal(t, 1, s.Renditions)
	assert.Positive(t, s.StoreBytes)
	assert.Zero(t, s.InFlight)
	assert.Zero(t, s.BudgetInUse)
}

func TestCapQuote(t *testing.T) {
	assert.Equal(t, `"a\nb"`, capQuote("a\nb"))
	long := capQuote(strings.Repeat("é", 100))
	assert.LessOrEqual(t, len(long), 64*6+8)
	assert.True(t, strings.HasSuffix(long, `\u2026"`))
}
