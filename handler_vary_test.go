package fastimagecache

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob/memblob"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// varyPresets are the presets of the Vary tests: one Auto, one pinned.
var varyPresets = map[string]Spec{"auto": {Width: 32, Format: Auto}, "pinned": {Width: 32, Format: JPEG}}

func varyHandler(c *Cache) http.Handler {
	return c.Handler(HandlerOptions{Presets: varyPresets, SigningKey: testKey})
}

// getWith sends method path with the Accept header accept ("" sends none) and the other
// headers in kv (name, value, ...).
func getWith(h http.Handler, method, path, accept string, kv ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Add(kv[i], kv[i+1])
	}
	return do(h, req)
}

// assertVary checks that an answer for an Auto Spec says it varies with Accept, once.
func assertVary(t *testing.T, rec *httptest.ResponseRecorder, what string) {
	t.Helper()
	n := 0
	for _, v := range rec.Header().Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), "Accept") {
				n++
			}
		}
	}
	assert.Equal(t, 1, n, "%s: Vary %q, want Accept once (status %d)", what, rec.Header().Values("Vary"), rec.Code)
}

// TestHandlerVaryAcceptEveryPath checks "Vary: Accept" on every answer for an Auto Spec,
// the paths peers forgot: the fallback format for */* and image/* (imagor PR #819,
// thumbor PR #1857), AVIF as well as WebP (thumbor #1563), hits served from storage
// (thumbor #731: memory tier, disk tier, and another node's rendition in the bucket), 304,
// HEAD and error answers; and none for a pinned format, which a CDN that ignores Vary can
// cache by URL.
func TestHandlerVaryAcceptEveryPath(t *testing.T) {
	warmAVIF(t)
	c := newTestCache(t, slowCodecs)
	h := varyHandler(c)
	info := put(t, c, fixture.JPEG(96, 64, 90))
	auto := "/" + string(info.ID) + "/auto"

	rec := getWith(h, "GET", auto, chromeAccept)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "image/avif", rec.Header().Get("Content-Type"))
	assert.Equal(t, `inline; filename="`+string(info.ID)+`.avif"`, rec.Header().Get("Content-Disposition"))
	assertVary(t, rec, "AVIF, miss (thumbor #1563)")
	avifTag := rec.Header().Get("ETag")
	assert.Equal(t, int64(1), c.Stats().Misses)

	rec = getWith(h, "GET", auto, chromeAccept)
	assert.Equal(t, "image/avif", rec.Header().Get("Content-Type"))
	assertVary(t, rec, "AVIF, memory-tier hit (thumbor #731)")
	assert.Equal(t, int64(1), c.Stats().MemoryHits)

	rec = getWith(h, "GET", auto, "image/webp,*/*")
	assert.Equal(t, "image/webp", rec.Header().Get("Content-Type"))
	assert.Equal(t, `inline; filename="`+string(info.ID)+`.webp"`, rec.Header().Get("Content-Disposition"))
	assertVary(t, rec, "WebP")

	for _, accept := range []string{"*/*", "image/*", ""} {
		rec = getWith(h, "GET", auto, accept)
		require.Equal(t, http.StatusOK, rec.Code)
		assert.Equal(t, "image/jpeg", rec.Header().Get("Content-Type"), "Accept %q", accept)
		assertVary(t, rec, "fallback for Accept "+accept+" (imagor PR #819)")
	}

	rec = getWith(h, "GET", auto, chromeAccept, "If-None-Match", avifTag)
	assert.Equal(t, http.StatusNotModified, rec.Code)
	assertVary(t, rec, "304")

	rec = getWith(h, "HEAD", auto, chromeAccept)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Empty(t, rec.Body.Bytes())
	assert.Equal(t, "image/avif", rec.Header().Get("Content-Type"))
	assert.Equal(t, avifTag, rec.Header().Get("ETag"))
	assertVary(t, rec, "HEAD")

	// Two Accept lines count as one list.
	rec = getWith(h, "GET", auto, "text/html", "Accept", "image/webp")
	assert.Equal(t, "image/webp", rec.Header().Get("Content-Type"))

	// Error answers.
	for _, tc := range []struct{ path, code string }{
		{"/" + strings.Repeat("0", 64) + "/auto", "not_found"},
		{"/" + strings.ToUpper(string(info.ID)) + "/auto", "invalid_id"},
		{SignedPath([]byte("another key, another signature.."), info.ID, Spec{Width: 32, Format: Auto}), "bad_signature"},
		{SignedPath(testKey, info.ID, Spec{Width: 999999, Format: Auto}), "invalid_spec"},
		{"/" + string(info.ID) + "?fmt=auto&w=1234567&sig=x", "invalid_spec"},
		{"/" + string(info.ID) + "?fmt=auto&w=1&w=2&sig=x", "invalid_spec"},
	} {
		rec = getWith(h, "GET", tc.path, chromeAccept)
		assert.Equal(t, tc.code, errorCode(t, rec), tc.path)
		assertVary(t, rec, "error "+tc.code)
	}

	// A signed fmt=auto negotiates; fmt= pins, without Vary.
	rec = getWith(h, "GET", SignedPath(testKey, info.ID, Spec{Width: 32, Format: Auto}), "image/webp")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "image/webp", rec.Header().Get("Content-Type"))
	assertVary(t, rec, "signed fmt=auto")
	for _, path := range []string{"/" + string(info.ID) + "/pinned", SignedPath(testKey, info.ID, Spec{Width: 32, Format: JPEG})} {
		rec = getWith(h, "GET", path, chromeAccept)
		require.Equal(t, http.StatusOK, rec.Code)
		assert.Equal(t, "image/jpeg", rec.Header().Get("Content-Type"), path)
		assert.Empty(t, rec.Header().Values("Vary"), "a pinned format varies with nothing: %s", path)
	}
	rec = getWith(h, "GET", "/"+strings.Repeat("0", 64)+"/pinned", chromeAccept)
	assert.Empty(t, rec.Header().Values("Vary"), "pinned, error")

	// A Vary set by a wrapping middleware is kept, and Accept is not added twice.
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Origin, accept")
		w.Header().Add("Vary", "Accept-Encoding")
		h.ServeHTTP(w, r)
	})
	rec = getWith(wrapped, "GET", auto, chromeAccept)
	assert.Equal(t, []string{"Origin, accept", "Accept-Encoding"}, rec.Header().Values("Vary"))
}

// TestHandlerVaryAcceptStoredTiers checks Vary on hits served from the disk tier (no
// memory tier) and from the bucket, where another node rendered the rendition (thumbor
// #731: a result read back from shared storage lost its Vary).
func TestHandlerVaryAcceptStoredTiers(t *testing.T) {
	warmAVIF(t)
	img := fixture.JPEG(96, 64, 90)

	disk := newTestCache(t, WithMemoryCache(-1), slowCodecs)
	h := varyHandler(disk)
	id := put(t, disk, img).ID
	auto := "/" + string(id) + "/auto"
	for _, accept := range []string{chromeAccept, "*/*"} {
		rec := getWith(h, "GET", auto, accept)
		require.Equal(t, http.StatusOK, rec.Code)
		assertVary(t, rec, "miss "+accept)
		tag := rec.Header().Get("ETag")
		rec = getWith(h, "GET", auto, accept)
		assertVary(t, rec, "disk-tier hit "+accept)
		rec = getWith(h, "GET", auto, accept, "If-None-Match", tag)
		assert.Equal(t, http.StatusNotModified, rec.Code)
		assertVary(t, rec, "disk-tier 304 "+accept)
	}
	assert.Equal(t, int64(4), disk.Stats().DiskHits)
	assert.Zero(t, disk.Stats().MemoryHits)

	b := memblob.OpenBucket(nil)
	t.Cleanup(func() { _ = b.Close() })
	a, other := bucketNode(t, b, slowCodecs), bucketNode(t, b, slowCodecs)
	put(t, a, img)
	rec := getWith(varyHandler(a), "GET", auto, chromeAccept)
	require.Equal(t, http.StatusOK, rec.Code)
	rec = getWith(varyHandler(other), "GET", auto, chromeAccept)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "image/avif", rec.Header().Get("Content-Type"))
	assertVary(t, rec, "bucket hit")
	assert.Equal(t, int64(1), other.Stats().BucketHits)
	assert.Zero(t, other.Stats().Misses)
}
