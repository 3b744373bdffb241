package fastimagecache

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/resize"
)

// TestDecodedTypesTakeTheResizePath: every image type a decoder returns (each format and
// its distinct output types, as in TestReservationCoversAllocation) is one that
// internal/resize scales, so renderBytes may reserve resize.AnyImageBytes for a resize
// instead of imaging.Resize's larger allocation. A decoder that started returning
// another type would reach imaging.Resize under a reservation made for less.
func TestDecodedTypesTakeTheResizePath(t *testing.T) {
	lim := DefaultLimits()
	lim.Formats = []Format{JPEG, PNG, GIF, WebP, BMP, TIFF, AVIF}
	for _, sh := range allocShapes(t) {
		h, err := inspect(sh.data, putConfig{}, lim)
		require.NoError(t, err, sh.name)
		dec, err := decodeImage(context.Background(), sh.data, h, decodeOpts{jpegScale: 1})
		require.NoError(t, err, sh.name)
		b := dec.img.Bounds()
		dw, dh := max(b.Dx()/2, 1), max(b.Dy()/2, 1)
		require.Positive(t, resize.ImageBytes(dec.img, dw, dh, 1, 1), "%s: %T", sh.name, dec.img)
		require.LessOrEqual(t, resize.ImageBytes(dec.img, dw, dh, 1, 1), resize.AnyImageBytes(b.Dx(), b.Dy(), dw, dh, 1, 1),
			fmt.Sprintf("%s: %T", sh.name, dec.img))
	}
}
