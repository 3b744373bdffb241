package fastimagecache

import (
	"bytes"
	"context"
	"image"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	xwebp "golang.org/x/image/webp"

	"github.com/fastimagecache/fastimagecache/internal/codec"
	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// decodeOutput decodes a rendition's bytes with a decoder independent of our encoder:
// x/image/webp for WebP, the codec's AVIF decoder for AVIF.
func decodeOutput(t testing.TB, f Format, b []byte) image.Image {
	t.Helper()
	var img image.Image
	var err error
	switch f {
	case WebP:
		img, err = xwebp.Decode(bytes.NewReader(b))
	case AVIF:
		img, err = codec.DecodeAVIF(b)
	default:
		t.Fatalf("decodeOutput: %s", f)
	}
	require.NoError(t, err, "decode %s output", f)
	return img
}

// TestWebPAndAVIFOutputDecodeAtReportedSize renders an opaque JPEG and a PNG with
// transparency to WebP and AVIF, and decodes each output at the size the Rendition reports.
func TestWebPAndAVIFOutputDecodeAtReportedSize(t *testing.T) {
	c := newTestCache(t)
	ctx := context.Background()
	for _, in := range []struct {
		name string
		data []byte
	}{{"jpeg", fixture.JPEG(400, 300, 90)}, {"png-alpha", fixture.PNG(400, 300)}} {
		info := put(t, c, in.data)
		for _, f := range []Format{WebP, AVIF} {
			for _, s := range []Spec{{Width: 200, Format: f}, {Width: 120, Height: 120, Fit: Cover, Format: f, Quality: 1}, {Format: f, Quality: 100}} {
				r, err := c.Get(ctx, info.ID, s)
				require.NoError(t, err, "%s %+v", in.name, s)
				assert.Equal(t, "image/"+string(f), r.ContentType)
				b := readRendition(t, r)
				img := decodeOutput(t, f, b)
				assert.Equal(t, image.Rect(0, 0, r.Width, r.Height), img.Bounds().Sub(img.Bounds().Min), "%s %+v", in.name, s)
			}
		}
	}
}
