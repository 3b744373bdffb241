package fastimagecache

import (
	"bytes"
	"context"
	"image"
	"image/gif"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/codec"
	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// slowCodecs gives decodes a minute, for renders to AVIF on a loaded machine under the
// race detector; call warmAVIF first.
var slowCodecs = WithLimits(Limits{DecodeTimeout: time.Minute})

var warmOnce sync.Once

// warmAVIF pays the AVIF module's one-time set-up outside any deadline: under the race
// detector, on a busy 2-core machine, that first call took 74 s (0.5 s each call after).
func warmAVIF(t testing.TB) {
	warmOnce.Do(func() {
		var buf bytes.Buffer
		err := codec.EncodeAVIF(&buf, image.NewNRGBA(image.Rect(0, 0, 8, 8)), codec.AVIFOptions{Quality: 60, Speed: 10})
		require.NoError(t, err)
	})
}

// chromeAccept is what Chromium sends for an <img>.
const chromeAccept = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"

// TestGetAcceptKeysOnNegotiatedFormat asks for one id and Auto Spec with many Accept
// headers (the cache-key multiplication imgproxy #4 refused Accept support over): the
// store holds at most the three renditions Auto can resolve to, equivalent headers get
// the same rendition and ETag, and Rendition.Format says which was served.
func TestGetAcceptKeysOnNegotiatedFormat(t *testing.T) {
	warmAVIF(t)
	c := newTestCache(t, slowCodecs)
	ctx := context.Background()
	info := put(t, c, fixture.JPEG(96, 64, 90))
	spec := Spec{Width: 48, Format: Auto}
	groups := map[Format][]string{
		AVIF: {chromeAccept, "image/avif", "IMAGE/AVIF;q=0.5", "image/avif,image/webp,*/*", " image/avif ;q=1.000, image/webp;q=0.001",
			`image/avif;x="a,b";q=0.9`, "image/webp;q=1, image/avif;q=0.1"},
		WebP: {"image/webp,*/*", "image/webp", "Image/WebP;q=0.9", "image/avif;q=0,image/webp", "image/avif;q=bad,image/webp",
			"image/avif;q=0.000, image/webp, image/avif"},
		JPEG: {"", "*/*", "image/*", "image/*,*/*;q=0.8", "text/html", "image/avif;q=0,image/webp;q=0", "garbage;;,,\"",
			"image/webp;q=0, image/webp"},
	}
	etags := map[Format]string{}
	for want, headers := range groups {
		for _, h := range headers {
			r, err := c.GetAccept(ctx, info.ID, spec, h)
			require.NoError(t, err, "Accept %q", h)
			readRendition(t, r)
			assert.Equal(t, want, r.Format, "Accept %q", h)
			assert.Equal(t, want.ContentType(), r.ContentType, "Accept %q", h)
			if e, ok := etags[want]; ok {
				assert.Equal(t, e, r.ETag, "Accept %q: an equivalent header got another ETag", h)
			}
			etags[want] = r.ETag
		}
	}
	assert.Len(t, map[string]bool{etags[AVIF]: true, etags[WebP]: true, etags[JPEG]: true}, 3, "the three formats share an ETag")
	assert.Equal(t, 3, c.Stats().Renditions, "renditions stored for one id and Spec under many Accept headers")

	// Get resolves Auto as GetAccept with "": the source's default, the very rendition of
	// the Spec with no format; and a pinned format ignores Accept.
	for _, s := range []Spec{{Width: 48, Format: Auto}, {Width: 48}, {Width: 48, Format: JPEG}} {
		r, err := c.Get(ctx, info.ID, s)
		require.NoError(t, err)
		readRendition(t, r)
		assert.Equal(t, etags[JPEG], r.ETag, "%+v", s)
		assert.Equal(t, JPEG, r.Format)
	}
	r, err := c.GetAccept(ctx, info.ID, Spec{Width: 48, Format: JPEG}, chromeAccept)
	require.NoError(t, err)
	readRendition(t, r)
	assert.Equal(t, etags[JPEG], r.ETag, "a pinned format was negotiated")
	assert.Equal(t, 3, c.Stats().Renditions)
}

// TestGetAcceptSources checks Auto against the kinds of source: an animation goes to
// animated WebP or GIF (its frames kept) and never to AVIF; transparency never to JPEG.
func TestGetAcceptSources(t *testing.T) {
	warmAVIF(t)
	c := newTestCache(t, slowCodecs)
	ctx := context.Background()
	anim := put(t, c, fixture.GIF(40, 30, 3))
	alpha := put(t, c, fixture.PNG(40, 30))
	cases := []struct {
		name   string
		id     ID
		accept string
		want   Format
	}{
		{"animation, Chrome: animated WebP", anim.ID, chromeAccept, WebP},
		{"animation, AVIF only: GIF, never AVIF", anim.ID, "image/avif", GIF},
		{"animation, curl: GIF", anim.ID, "*/*", GIF},
		{"transparency, curl: PNG, never JPEG", alpha.ID, "*/*", PNG},
		{"transparency, Safari 15: WebP", alpha.ID, "image/webp,*/*", WebP},
		{"transparency, Chrome: AVIF", alpha.ID, chromeAccept, AVIF},
	}
	for _, tc := range cases {
		r, err := c.GetAccept(ctx, tc.id, Spec{Width: 20, Format: Auto}, tc.accept)
		require.NoError(t, err, tc.name)
		b := readRendition(t, r)
		assert.Equal(t, tc.want, r.Format, tc.name)
		switch r.Format {
		case GIF:
			g, err := gif.DecodeAll(bytes.NewReader(b))
			require.NoError(t, err, tc.name)
			assert.Len(t, g.Image, 3, "%s: frames", tc.name)
		case WebP:
			if tc.id == anim.ID {
				assert.Equal(t, 3, bytes.Count(b, []byte("ANMF")), "%s: animation frames", tc.name)
			} else {
				decodeOutput(t, WebP, b)
			}
		case AVIF:
			decodeOutput(t, AVIF, b)
		}
	}
}

// TestEagerAutoRendersEveryVariant checks that an eager Auto Spec renders, at Put, every
// format Auto can serve that image: the first Get of each is a hit, whatever the client.
func TestEagerAutoRendersEveryVariant(t *testing.T) {
	warmAVIF(t)
	spec := Spec{Width: 32, Format: Auto}
	c := newTestCache(t, WithEagerRenditions(spec), slowCodecs)
	still := put(t, c, fixture.JPEG(64, 48, 90))
	anim := put(t, c, fixture.GIF(40, 30, 2))
	assert.Equal(t, 3+2, c.Stats().Renditions, "AVIF, WebP, JPEG for the still image; WebP, GIF for the animation")
	c.hooks.getMiss = func() { t.Error("an eager Auto rendition was missing") }
	for _, id := range []ID{still.ID, anim.ID} {
		for _, h := range []string{chromeAccept, "image/webp", "*/*"} {
			r, err := c.GetAccept(context.Background(), id, spec, h)
			require.NoError(t, err)
			readRendition(t, r)
		}
	}
}
