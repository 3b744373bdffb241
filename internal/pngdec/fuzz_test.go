package pngdec

import (
	"math/rand/v2"
	"testing"
)

// FuzzPNG checks, for any input: no panic; Decode fails wherever
// image/png.Decode fails, and where image/png succeeds Decode returns a
// deeply equal image (type, pixels, palette) and Stream rows equal to its
// pixels (16-bit samples reduced to their high byte, palettes expanded).
// Images over 1 Mpixel are only checked for refusal by MaxPixels.
//
// The seeds are generated: every depth, colour type, tRNS and interlace
// combination written by rawPNG (random filter bytes, split IDATs, ancillary
// chunks), and every type image/png's encoder writes.
func FuzzPNG(f *testing.F) {
	rng := rand.New(rand.NewPCG(17, 17))
	for _, c := range rawConfigs(rng, [][2]int{{3, 2}, {10, 7}}) {
		f.Add(rawPNG(rng, c))
	}
	for _, data := range encoded(rng, 9, 5) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAgainstPNG(t, data, 1<<20)
	})
}
