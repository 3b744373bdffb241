package fastimagecache

import (
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"math"

	"github.com/fastimagecache/fastimagecache/internal/thumbhash"
)

// placeholderSide is the longer side, in pixels, of the copy a placeholder is computed
// from: thumbhash.MaxSize, the most a ThumbHash can use.
const placeholderSide = thumbhash.MaxSize

// placeholderSamples is how many source pixels, per axis, each pixel of that copy
// averages: the work is at most (placeholderSide*placeholderSamples)² pixel reads,
// whatever the image's size.
const placeholderSamples = 3

// placeholder is what a page paints before a rendition arrives: the ThumbHash of the
// oriented image, base64 (standard encoding), and its average colour as "#rrggbb".
type placeholder struct {
	hash  string
	color string
}

// placeholderOf computes the placeholder of img (decoded, before EXIF orientation o) from
// a copy whose longer side is placeholderSide pixels, each the average of a fixed grid of
// samples (a small image is enlarged to it, nearest pixel). The copy is oriented before
// it is hashed, so the placeholder looks like the renditions.
func placeholderOf(img image.Image, o int) (placeholder, error) {
	if img == nil {
		return placeholder{}, fmt.Errorf("placeholder without pixels: %w", ErrCorrupt)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return placeholder{}, fmt.Errorf("placeholder of an empty image: %w", ErrCorrupt)
	}
	long := max(w, h)
	sw := max(1, int(math.Round(float64(placeholderSide*w)/float64(long))))
	sh := max(1, int(math.Round(float64(placeholderSide*h)/float64(long))))
	small := image.NewNRGBA(image.Rect(0, 0, sw, sh))
	at := nrgbaSampler(img)
	// The sample grid's rows and columns, once: sxs[x*placeholderSamples+i] is sample i
	// of column x.
	sxs := make([]int, sw*placeholderSamples)
	for k := range sxs {
		sxs[k] = b.Min.X + ((2*k+1)*w)/(2*sw*placeholderSamples)
	}
	sys := make([]int, sh*placeholderSamples)
	for k := range sys {
		sys[k] = b.Min.Y + ((2*k+1)*h)/(2*sh*placeholderSamples)
	}
	var sumR, sumG, sumB, sumA float64
	for y := range sh {
		for x := range sw {
			var r, g, bl, a uint32
			for _, sy := range sys[y*placeholderSamples : (y+1)*placeholderSamples] {
				for _, sx := range sxs[x*placeholderSamples : (x+1)*placeholderSamples] {
					c := at(sx, sy)
					r += uint32(c.R)
					g += uint32(c.G)
					bl += uint32(c.B)
					a += uint32(c.A)
				}
			}
			const n = placeholderSamples * placeholderSamples
			c := color.NRGBA{uint8((r + n/2) / n), uint8((g + n/2) / n), uint8((bl + n/2) / n), uint8((a + n/2) / n)}
			small.SetNRGBA(x, y, c)
			wa := float64(c.A)
			sumR += wa * float64(c.R)
			sumG += wa * float64(c.G)
			sumB += wa * float64(c.B)
			sumA += wa
		}
	}
	oriented, ok := orient(small, o).(*image.NRGBA)
	if !ok || oriented.Stride != 4*oriented.Rect.Dx() || oriented.Rect.Min != (image.Point{}) {
		return placeholder{}, fmt.Errorf("placeholder: unexpected oriented copy: %w", ErrCorrupt)
	}
	hash, err := thumbhash.Encode(oriented.Rect.Dx(), oriented.Rect.Dy(), oriented.Pix)
	if err != nil {
		return placeholder{}, fmt.Errorf("placeholder: %w: %w", ErrCorrupt, err)
	}
	p := placeholder{hash: base64.StdEncoding.EncodeToString(hash)}
	if sumA > 0 {
		p.color = fmt.Sprintf("#%02x%02x%02x", uint8(math.Round(sumR/sumA)), uint8(math.Round(sumG/sumA)), uint8(math.Round(sumB/sumA)))
	}
	return p, nil
}

// validPlaceholder reports whether stored placeholder fields have the forms placeholderOf
// writes: hash base64 of at most maxPlaceholderHash bytes, colour "#rrggbb" in lowercase
// hex; both may be empty (metadata from before placeholders, or a transparent image's
// colour).
func validPlaceholder(hash, col string) bool {
	if len(hash) > base64.StdEncoding.EncodedLen(maxPlaceholderHash) {
		return false
	}
	if _, err := base64.StdEncoding.DecodeString(hash); err != nil {
		return false
	}
	if col == "" {
		return true
	}
	return len(col) == 7 && col[0] == '#' && isLowerHexString(col[1:])
}

// maxPlaceholderHash bounds a stored ThumbHash: the longest one is 25 bytes.
const maxPlaceholderHash = 32

func isLowerHexString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
