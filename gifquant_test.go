package fastimagecache

import (
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPaletteIndexerMatchesDraw: quantising through the memo gives exactly what
// draw.Draw(…, draw.Src) onto the paletted frame gives, for RGBA and NRGBA frames with
// many colours (the memo's slots collide) and with few (it hits), frame after frame.
func TestPaletteIndexerMatchesDraw(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pals := []color.Palette{palette.Plan9, palette.WebSafe, paletteFor(palette.Plan9[:17])}
	var q *paletteIndexer
	for round := range 12 {
		pal := pals[round%len(pals)]
		r := image.Rect(3, 5, 203, 155)
		var src image.Image
		levels := 256
		if round%2 == 0 {
			levels = 6 // few distinct colours
		}
		pix := make([]byte, 4*r.Dx()*r.Dy())
		for i := range pix {
			pix[i] = byte(rng.IntN(levels) * 255 / (levels - 1))
		}
		if round%4 < 2 {
			m := &image.NRGBA{Pix: pix, Stride: 4 * r.Dx(), Rect: r}
			src = m
		} else {
			for i := 0; i < len(pix); i += 4 { // valid premultiplied colour
				pix[i], pix[i+1], pix[i+2] = min(pix[i], pix[i+3]), min(pix[i+1], pix[i+3]), min(pix[i+2], pix[i+3])
			}
			src = &image.RGBA{Pix: pix, Stride: 4 * r.Dx(), Rect: r}
		}
		want := image.NewPaletted(r, pal)
		draw.Draw(want, r, src, r.Min, draw.Src)
		got := image.NewPaletted(r, pal)
		q = indexerFor(q, pal)
		q.draw(got, src)
		require.Equal(t, want.Pix, got.Pix, "round %d", round)
	}
}
