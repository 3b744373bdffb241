package fastimagecache

import (
	"fmt"
	"image"
	"math"
	"strconv"

	"github.com/disintegration/imaging"
)

// Gravity says which part of the image a Cover crop keeps, when the Spec gives no focal
// point.
type Gravity int

// The gravities: the centre (the zero value), an edge, or a corner of the oriented image;
// or Smart, a point chosen from the image itself.
const (
	Center Gravity = iota
	North
	South
	East
	West
	NorthEast
	NorthWest
	SouthEast
	SouthWest
	// Smart centres the crop on the most detailed, most saturated part of the image, as
	// found on a copy of at most smartSide×smartSide samples of the resized image (bounded
	// work, whatever the image's size); a flat image crops as Center does.
	Smart
)

// gravityNames are the gravities' names, as String and the signed query give them.
var gravityNames = [...]string{"center", "north", "south", "east", "west", "northeast", "northwest", "southeast", "southwest", "smart"}

// String returns the gravity's lowercase name, such as "northwest".
func (g Gravity) String() string {
	if g >= 0 && int(g) < len(gravityNames) {
		return gravityNames[g]
	}
	return fmt.Sprintf("Gravity(%d)", int(g))
}

// parseGravity is String's inverse.
func parseGravity(s string) (Gravity, bool) {
	for i, n := range gravityNames {
		if n == s {
			return Gravity(i), true
		}
	}
	return 0, false
}

// point is the focal point, in thousandths of the oriented image's width and height,
// that a gravity stands for: a crop centred on it, then moved inside the image, is the
// crop the gravity names.
func (g Gravity) point() (x, y int) {
	x, y = 500, 500
	switch g {
	case North, NorthEast, NorthWest:
		y = 0
	case South, SouthEast, SouthWest:
		y = 1000
	}
	switch g {
	case West, NorthWest, SouthWest:
		x = 0
	case East, NorthEast, SouthEast:
		x = 1000
	}
	return x, y
}

// gravityAt is the gravity whose point is (x, y), in thousandths, if there is one.
func gravityAt(x, y int) (Gravity, bool) {
	for g := range Smart {
		if gx, gy := g.point(); gx == x && gy == y {
			return g, true
		}
	}
	return 0, false
}

// permille is f in thousandths, rounded; -1 when f is not within 0..1 (or NaN).
func permille(f float64) int {
	if !(f >= 0 && f <= 1) {
		return -1
	}
	return int(math.Round(f * 1000))
}

// formatPermille writes k thousandths as a decimal fraction: 0, 0.25, 1.
func formatPermille(k int) string {
	return strconv.FormatFloat(float64(k)/1000, 'f', -1, 64)
}

// parsePermille reads what formatPermille writes, strictly: "0", "1", or "0." or "1."
// followed by 1 to 3 digits, at most 1.
func parsePermille(s string) (int, bool) {
	if len(s) == 0 || len(s) > 5 || (s[0] != '0' && s[0] != '1') {
		return 0, false
	}
	k := int(s[0]-'0') * 1000
	if len(s) > 1 {
		if s[1] != '.' || len(s) == 2 {
			return 0, false
		}
		scale := 100
		for i := 2; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
			k += int(s[i]-'0') * scale
			scale /= 10
		}
	}
	return k, k <= 1000
}

// canonicalCrop validates s's gravity and focal point and puts them in their one form:
// nothing unless s is a Cover crop; a focal point quantised to thousandths, or, when it
// falls on a gravity's point, that gravity (so a focal point at the centre is Center).
func (s Spec) canonicalCrop() (Spec, error) {
	fx, fy := permille(s.FocusX), permille(s.FocusY)
	switch {
	case s.Gravity < Center || int(s.Gravity) >= len(gravityNames):
		return Spec{}, fmt.Errorf("unknown gravity %d: %w", int(s.Gravity), ErrInvalidSpec)
	case fx < 0 || fy < 0:
		return Spec{}, fmt.Errorf("focal point outside 0..1: %w", ErrInvalidSpec)
	case s.Fit != Cover:
		s.Gravity, s.FocusX, s.FocusY = Center, 0, 0
	case fx == 0 && fy == 0: // no focal point
		s.FocusX, s.FocusY = 0, 0
	default:
		s.FocusX, s.FocusY = float64(fx)/1000, float64(fy)/1000
		s.Gravity = Center
		if g, ok := gravityAt(fx, fy); ok {
			s.Gravity, s.FocusX, s.FocusY = g, 0, 0
		}
	}
	return s, nil
}

// focus is the point, in thousandths of the oriented image, that a canonical Spec's
// Cover crop is centred on before it is moved inside the image.
func (s Spec) focus() (x, y int) {
	if fx, fy := permille(s.FocusX), permille(s.FocusY); fx > 0 || fy > 0 {
		return fx, fy
	}
	return s.Gravity.point()
}

// cropKey is the part of a canonical Spec's key that names its crop: "" for the centre.
func (s Spec) cropKey() string {
	k := ""
	if s.Gravity != Center {
		k += " g=" + s.Gravity.String()
	}
	if fx, fy := permille(s.FocusX), permille(s.FocusY); fx > 0 || fy > 0 {
		k += fmt.Sprintf(" fx=%d fy=%d", fx, fy)
	}
	return k
}

// cropOffset is where a crop of length n out of length size starts, for a focal point at
// k thousandths: centred on the point, then moved inside. At k = 500 it is (size-n)/2.
func cropOffset(k, size, n int) int {
	off := (2*int64(k)*int64(size) - 1000*int64(n)) / 2000
	if off < 0 { // Go's division truncates toward zero; below zero is clamped anyway
		return 0
	}
	return int(min(off, int64(size-n)))
}

// smart reports whether a canonical Spec's crop point comes from the image: Smart gravity
// and no focal point.
func (s Spec) smart() bool {
	fx, fy := permille(s.FocusX), permille(s.FocusY)
	return s.Gravity == Smart && fx <= 0 && fy <= 0
}

// crop returns the w×h part of img that the focal point (fx, fy), in thousandths, selects,
// as a view into img where its type allows, so a YCbCr result stays YCbCr for the encoder.
func crop(img image.Image, w, h, fx, fy int) image.Image {
	b := img.Bounds()
	r := image.Rect(0, 0, w, h).Add(b.Min.Add(image.Pt(cropOffset(fx, b.Dx(), w), cropOffset(fy, b.Dy(), h))))
	if s, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	}); ok {
		return s.SubImage(r)
	}
	return imaging.Crop(img, r)
}
