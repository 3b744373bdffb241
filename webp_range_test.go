package fastimagecache

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"testing"

	"github.com/fastimagecache/fastimagecache/internal/codec"
	"github.com/stretchr/testify/require"
)

// A lossy WebP upload keeps its colours: black stays black and white stays white in every
// rendition (x/image/webp's planes are limited range; read as full range, black would be
// 16 and white 235).
func TestLossyWebPInputKeepsItsRange(t *testing.T) {
	c := newTestCache(t)
	ctx := context.Background()
	for _, want := range []color.NRGBA{{0, 0, 0, 255}, {255, 255, 255, 255}, {200, 40, 70, 255}, {30, 160, 220, 255}} {
		src := image.NewNRGBA(image.Rect(0, 0, 64, 48))
		for i := 0; i < len(src.Pix); i += 4 {
			copy(src.Pix[i:], []byte{want.R, want.G, want.B, want.A})
		}
		var in bytes.Buffer
		require.NoError(t, codec.EncodeWebP(&in, src, codec.WebPOptions{Quality: 100, Method: 0}))
		info, err := c.Put(ctx, bytes.NewReader(in.Bytes()))
		require.NoError(t, err)
		require.Equal(t, WebP, info.Format)
		r, err := c.Get(ctx, info.ID, Spec{Format: PNG})
		require.NoError(t, err)
		data, err := io.ReadAll(r)
		r.Close()
		require.NoError(t, err)
		out, err := png.Decode(bytes.NewReader(data))
		require.NoError(t, err)
		got := color.NRGBAModel.Convert(out.At(32, 24)).(color.NRGBA)
		for i, pair := range [][2]uint8{{got.R, want.R}, {got.G, want.G}, {got.B, want.B}} {
			d := int(pair[0]) - int(pair[1])
			require.LessOrEqual(t, d*d, 9, "channel %d of %v came back as %v", i, want, got)
		}
	}
}
