package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache"
	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// newDemo is the demo server's handler over a fresh store, and the ID of one image in it.
func newDemo(t *testing.T) (http.Handler, string) {
	t.Helper()
	c, err := fastimagecache.New(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	info, err := c.Put(t.Context(), bytes.NewReader(fixture.JPEG(200, 100, 90)))
	require.NoError(t, err)
	presets := map[string]fastimagecache.Spec{"thumb": {Width: 32, Height: 32, Fit: fastimagecache.Cover}}
	return demoRoutes(c, presets, nil, nil), string(info.ID)
}

func serveDemo(h http.Handler, method, path, contentType string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// Every response of the demo, whatever route, status or handler produced it, carries the
// headers of the page at /: nosniff, no framing, no referrer, and a CSP that loads nothing
// from elsewhere. 405s say what they allow.
func TestDemoEveryResponseHasPageHeaders(t *testing.T) {
	h, id := newDemo(t)
	page := serveDemo(h, "GET", "/", "", nil)
	require.Equal(t, http.StatusOK, page.Code)
	require.Contains(t, page.Body.String(), "<form")
	want := page.Header()
	for _, name := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
		require.NotEmpty(t, want.Get(name), name)
	}
	assert.Contains(t, want.Get("Content-Security-Policy"), "frame-ancestors 'none'")

	routes := []struct {
		method, path string
		status       int
	}{
		{"GET", "/", 200},
		{"HEAD", "/", 200},
		{"POST", "/", 405},
		{"GET", "/index.html", 404},
		{"GET", "/nope", 404},
		{"GET", "/static/", 404},
		{"GET", "/static/index.html", 404},
		{"GET", "/static/nope.js", 404},
		{"GET", "/static/../index.html", 307},
		{"POST", "/static/app.js", 405},
		{"GET", "/api/images", 405},
		{"POST", "/api/images/", 404},
		{"POST", "/api/images/x", 404},
		{"GET", "/images", 307},
		{"GET", "/images/", 404},
		{"POST", "/images/", 405},
		{"PUT", "/images/" + id + "/thumb", 405},
		{"GET", "/images/" + id + "/thumb", 200},
		{"HEAD", "/images/" + id + "/thumb", 200},
		{"GET", "/images/" + id + "/nope", 404},
		{"GET", "/images/" + id + "?w=10&sig=x", 403},
		{"GET", "/images/not-an-id/thumb", 400},
		{"GET", "/debug/vars", 404},
	}
	static, err := fs.Sub(webFS, "web")
	require.NoError(t, err)
	assets, err := fs.Glob(static, "*.*")
	require.NoError(t, err)
	for _, a := range assets {
		if a != "index.html" {
			routes = append(routes, struct {
				method, path string
				status       int
			}{"GET", "/static/" + a, 200})
		}
	}
	require.Subset(t, assets, []string{"app.css", "app.js"}, "the page's assets are walked too")

	for _, r := range routes {
		name := r.method + " " + r.path
		rec := serveDemo(h, r.method, r.path, "", nil)
		got := rec.Header()
		assert.Equal(t, r.status, rec.Code, name)
		for _, hdr := range []string{"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
			assert.Equal(t, want.Get(hdr), got.Get(hdr), "%s: %s", name, hdr)
		}
		csp := got.Get("Content-Security-Policy")
		assert.True(t, strings.HasPrefix(csp, "default-src 'none';"), "%s: CSP %q", name, csp)
		assert.Contains(t, csp, "frame-ancestors 'none'", name)
		if rec.Code == http.StatusMethodNotAllowed {
			assert.NotEmpty(t, got.Get("Allow"), name)
		}
		if rec.Code == http.StatusOK && r.method == "GET" && !strings.HasPrefix(r.path, "/images/") {
			assert.NotContains(t, got.Get("Content-Type"), "octet-stream", name)
		}
	}
}

// Uploads have one route, POST /api/images: POST /images/ (the Handler's own upload route
// when mounted whole) stores nothing.
func TestDemoUploadsOnlyAtAPIImages(t *testing.T) {
	h, _ := newDemo(t)
	img := fixture.PNG(40, 30)
	for _, path := range []string{"/images/", "/images", "/", "/api/images/", "/static/"} {
		rec := serveDemo(h, "POST", path, "image/png", img)
		assert.NotEqual(t, http.StatusCreated, rec.Code, path)
		assert.NotEqual(t, http.StatusOK, rec.Code, path)
	}
	rec := serveDemo(h, "POST", "/api/images", "image/png", img)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var info struct{ ID string }
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &info))
	rec = serveDemo(h, "GET", "/images/"+info.ID+"/thumb", "", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "image/png", rec.Header().Get("Content-Type"))
	_, err := io.Copy(io.Discard, rec.Body)
	require.NoError(t, err)
}

// serve itself answers with demoRoutes: a real listener, the page headers, one upload route.
func TestServeUsesDemoRoutes(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, []string{"-dir", t.TempDir(), "-addr", "127.0.0.1:0", "-debug-addr", "", "-drain-delay", "0"}, pw)
		_ = pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	var base string
	for base == "" && lines.Scan() {
		if u, ok := strings.CutPrefix(lines.Text(), "listening on "); ok {
			base = strings.TrimSuffix(u, "/")
		}
	}
	require.NotEmpty(t, base, "serve never listened")
	go func() { _, _ = io.Copy(io.Discard, pr) }()

	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/static/", http.StatusNotFound},
		{"POST", "/images/", http.StatusMethodNotAllowed},
		{"GET", "/", http.StatusOK},
	} {
		req, err := http.NewRequestWithContext(ctx, tc.method, base+tc.path, bytes.NewReader(fixture.PNG(4, 4)))
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, tc.status, resp.StatusCode, tc.path)
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), tc.path)
		assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'", tc.path)
	}
	cancel()
	require.NoError(t, <-done)
}

// GET /api/presets lists the server's presets, custom names included, smallest first: the
// page shows one rendition per entry, under that name.
func TestDemoListsConfiguredPresets(t *testing.T) {
	c, err := fastimagecache.New(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	h := demoRoutes(c, map[string]fastimagecache.Spec{
		"hero": {Width: 1200, Height: 600, Format: fastimagecache.Auto},
		"tiny": {Width: 64, Height: 64, Fit: fastimagecache.Cover, Format: fastimagecache.JPEG},
		"mid":  {Width: 400},
	}, nil, nil)
	rec := serveDemo(h, "GET", "/api/presets", "", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.Equal(t, pageCSP, rec.Header().Get("Content-Security-Policy"))
	var got []presetJSON
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	assert.Equal(t, []presetJSON{
		{Name: "mid", Width: 400, Fit: "contain", Format: "source"},
		{Name: "tiny", Width: 64, Height: 64, Fit: "cover", Format: "jpeg"},
		{Name: "hero", Width: 1200, Height: 600, Fit: "contain", Format: "auto"},
	}, got)
}

// The page's scripts are served as assets (the ThumbHash decoder beside the app), and the
// page loads them from /static only: no inline script for the CSP to have to allow.
func TestDemoPageScriptsAreExternal(t *testing.T) {
	h, _ := newDemo(t)
	page := serveDemo(h, "GET", "/", "", nil)
	require.Equal(t, http.StatusOK, page.Code)
	body := page.Body.String()
	assert.Contains(t, body, `<script src="/static/thumbhash.js"></script>`)
	assert.Contains(t, body, `<script src="/static/app.js"></script>`)
	assert.Equal(t, 2, strings.Count(body, "<script"), "no inline script")
	assert.Contains(t, body, `accept="image/*"`)
	for _, f := range []string{"thumbhash.js", "app.js"} {
		rec := serveDemo(h, "GET", "/static/"+f, "", nil)
		require.Equal(t, http.StatusOK, rec.Code, f)
		assert.Contains(t, rec.Header().Get("Content-Type"), "javascript", f)
	}
}
