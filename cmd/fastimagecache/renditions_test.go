package main

import (
	"bytes"
	"encoding/json"
	"image"
	_ "image/jpeg"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache"
	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// renditionsDemo is the demo handler with a signing key, a cover and a contain preset,
// over a fresh store holding one 800×400 JPEG, whose ID it returns.
func renditionsDemo(t *testing.T, key []byte) (http.Handler, string) {
	t.Helper()
	c, err := fastimagecache.New(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	info, err := c.Put(t.Context(), bytes.NewReader(fixture.JPEG(800, 400, 90)))
	require.NoError(t, err)
	return demoRoutes(c, map[string]fastimagecache.Spec{
		"tiny": {Width: 64, Height: 64, Fit: fastimagecache.Cover, Format: fastimagecache.Auto},
		"wide": {Width: 300, Height: 300, Format: fastimagecache.JPEG},
	}, key, nil), string(info.ID)
}

func listRenditions(t *testing.T, h http.Handler, id, query string) []renditionJSON {
	t.Helper()
	rec := serveDemo(h, "GET", "/api/images/"+id+"/renditions"+query, "", nil)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	var list []renditionJSON
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	return list
}

// fetchImage GETs path from h and decodes it, failing unless it is a 200 image.
func fetchImage(t *testing.T, h http.Handler, path string) image.Image {
	t.Helper()
	rec := serveDemo(h, "GET", path, "", nil)
	require.Equal(t, http.StatusOK, rec.Code, path)
	require.True(t, strings.HasPrefix(rec.Header().Get("Content-Type"), "image/"), path)
	img, _, err := image.Decode(rec.Body)
	require.NoError(t, err, path)
	return img
}

// The renditions API gives each preset a srcset of signed URLs, 1x to 3x, each of which
// the image route serves at the width its descriptor says, and sizes that show the 1x
// entry at its own width.
func TestRenditionsListSrcSets(t *testing.T) {
	h, id := renditionsDemo(t, []byte("demo key"))
	list := listRenditions(t, h, id, "")
	require.Len(t, list, 2)
	assert.Equal(t, "tiny", list[0].Name)
	assert.Equal(t, "wide", list[1].Name)
	for _, r := range list {
		assert.Equal(t, "/images/"+id+"/"+r.Name, r.Src, "the preset's own route when the crop is the preset's")
		fetchImage(t, h, r.Src)
		entries := strings.Split(r.SrcSet, ", ")
		require.GreaterOrEqual(t, len(entries), 3, r.SrcSet)
		for i, e := range entries {
			u, desc, ok := strings.Cut(e, " ")
			require.True(t, ok, e)
			require.Contains(t, u, "sig=")
			img := fetchImage(t, h, u)
			assert.Equal(t, desc, strconv.Itoa(img.Bounds().Dx())+"w", "descriptor is the real width: %s", e)
			if i == 0 {
				assert.Equal(t, strconv.Itoa(img.Bounds().Dx())+"px", r.Sizes)
			}
		}
	}
	assert.Equal(t, "64px", list[0].Sizes)
	assert.Equal(t, "300px", list[1].Sizes)
}

// crop=smart and crop=focus change the cover preset's URLs (signed, carrying the gravity or
// focal point, the focal point to 1/20) and leave the contain preset's alone; a crop the
// API does not know is a 400.
func TestRenditionsCrop(t *testing.T) {
	h, id := renditionsDemo(t, []byte("demo key"))
	list := listRenditions(t, h, id, "?crop=smart")
	assert.Contains(t, list[0].Src, "&g=smart")
	assert.Contains(t, list[0].SrcSet, "g=smart")
	fetchImage(t, h, list[0].Src)
	assert.Equal(t, "/images/"+id+"/wide", list[1].Src, "contain keeps the whole image")
	assert.NotContains(t, list[1].SrcSet, "&g=")

	list = listRenditions(t, h, id, "?crop=focus&fx=0.83&fy=0.27")
	u, err := url.Parse(list[0].Src)
	require.NoError(t, err)
	assert.Equal(t, "0.85", u.Query().Get("fx"))
	assert.Equal(t, "0.25", u.Query().Get("fy"))
	fetchImage(t, h, list[0].Src)

	for _, q := range []string{"?crop=diagonal", "?crop=focus&fx=2&fy=0", "?crop=focus&fx=NaN&fy=0", "?crop=focus"} {
		rec := serveDemo(h, "GET", "/api/images/"+id+"/renditions"+q, "", nil)
		assert.Equal(t, http.StatusBadRequest, rec.Code, q)
	}
	assert.Equal(t, http.StatusBadRequest, serveDemo(h, "GET", "/api/images/nope/renditions", "", nil).Code)
	other := strings.Repeat("0", len(id))
	assert.Equal(t, http.StatusNotFound, serveDemo(h, "GET", "/api/images/"+other+"/renditions", "", nil).Code)
}

// Without a key, the list has the presets' own URLs and no srcset: nothing it gives is
// signed with an empty key.
func TestRenditionsWithoutKey(t *testing.T) {
	h, id := renditionsDemo(t, nil)
	for _, r := range listRenditions(t, h, id, "?crop=smart") {
		assert.Equal(t, "/images/"+id+"/"+r.Name, r.Src)
		assert.Empty(t, r.SrcSet)
	}
}
