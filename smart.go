package fastimagecache

import (
	"image"
	"math"
)

// smartSide bounds a Smart crop's work: the image is read at no more than
// smartSide×smartSide sample points, whatever its size.
const smartSide = 100

// smartFocus chooses the focal point, in thousandths of img's width and height (each at
// least 1, so it reads as a set focal point), of the w×h crop of img that holds the most
// detail and colour: the image is sampled on a grid of at most smartSide×smartSide
// points; each sample scores its edge strength (a Laplacian of luminance), its
// saturation and whether it looks like skin; the crop-sized window over the grid with
// the highest total wins, the one nearest the centre among equals, so a flat image
// crops at the centre.
func smartFocus(img image.Image, w, h int) (fx, fy int) {
	b := img.Bounds()
	iw, ih := b.Dx(), b.Dy()
	if iw <= 0 || ih <= 0 {
		return 500, 500
	}
	step := (max(iw, ih) + smartSide - 1) / smartSide
	gw, gh := (iw+step-1)/step, (ih+step-1)/step
	lum := make([]float64, gw*gh)
	score := make([]float64, gw*gh)
	for y := range gh {
		py := b.Min.Y + min(y*step+step/2, ih-1)
		for x := range gw {
			px := b.Min.X + min(x*step+step/2, iw-1)
			r16, g16, b16, _ := img.At(px, py).RGBA()
			r, g, bl := float64(r16)/0xffff, float64(g16)/0xffff, float64(b16)/0xffff
			lum[y*gw+x] = 0.2126*r + 0.7152*g + 0.0722*bl
			hi, lo := max(r, g, bl), min(r, g, bl)
			if hi > 0 {
				score[y*gw+x] = 0.5 * (hi - lo) / hi
			}
			if r > 0.37 && g > 0.21 && bl > 0.14 && r > g && r > bl && r-min(g, bl) > 0.06 {
				score[y*gw+x] += 0.3
			}
		}
	}
	at := func(x, y int) float64 { return lum[min(max(y, 0), gh-1)*gw+min(max(x, 0), gw-1)] }
	// sum is the summed-area table of the scores: sum[(y)*(gw+1)+x] is the total above
	// and left of (x, y).
	sum := make([]float64, (gw+1)*(gh+1))
	for y := range gh {
		for x := range gw {
			edge := math.Abs(4*at(x, y) - at(x-1, y) - at(x+1, y) - at(x, y-1) - at(x, y+1))
			s := score[y*gw+x] + edge
			sum[(y+1)*(gw+1)+x+1] = s + sum[y*(gw+1)+x+1] + sum[(y+1)*(gw+1)+x] - sum[y*(gw+1)+x]
		}
	}
	cw := min(max(int(math.Round(float64(w)/float64(step))), 1), gw)
	ch := min(max(int(math.Round(float64(h)/float64(step))), 1), gh)
	bestX, bestY, best, bestD := 0, 0, math.Inf(-1), math.Inf(1)
	for y := 0; y <= gh-ch; y++ {
		for x := 0; x <= gw-cw; x++ {
			s := sum[(y+ch)*(gw+1)+x+cw] - sum[y*(gw+1)+x+cw] - sum[(y+ch)*(gw+1)+x] + sum[y*(gw+1)+x]
			dx, dy := float64(2*x+cw-gw), float64(2*y+ch-gh)
			d := dx*dx + dy*dy
			if s > best+1e-9 || (s > best-1e-9 && d < bestD) {
				bestX, bestY, best, bestD = x, y, s, d
			}
		}
	}
	k := func(start, n, size int) int {
		c := float64(start*step) + float64(n*step)/2
		return min(max(int(math.Round(c*1000/float64(size))), 1), 1000)
	}
	return k(bestX, cw, iw), k(bestY, ch, ih)
}
