// Package thumbhash encodes a small image into a ThumbHash, a placeholder of about 25
// bytes from which a page paints a blurred preview, and decodes one back. It follows
// the published algorithm (github.com/evanw/thumbhash): the image, composited onto its
// own average colour, is turned into luminance, two chroma channels and alpha, and a
// few low-frequency DCT coefficients of each are quantised to 4 bits.
package thumbhash

import (
	"errors"
	"math"
)

// MaxSize is the largest width and height Encode accepts: a ThumbHash keeps at most
// 7 coefficients per axis, so a larger input only costs time.
const MaxSize = 100

// ErrSize is returned by Encode for an image larger than MaxSize or empty, or with a
// pixel buffer of the wrong length.
var ErrSize = errors.New("thumbhash: image size out of range")

// ErrMalformed is returned by Decode for a hash too short for what its header declares.
var ErrMalformed = errors.New("thumbhash: malformed hash")

// Encode returns the ThumbHash of a w×h image whose pixels are rgba: 4 bytes per pixel,
// row by row, not premultiplied.
func Encode(w, h int, rgba []byte) ([]byte, error) {
	if w < 1 || h < 1 || w > MaxSize || h > MaxSize || len(rgba) != 4*w*h {
		return nil, ErrSize
	}
	n := w * h
	var avgR, avgG, avgB, avgA float64
	for i := 0; i < n; i++ {
		alpha := float64(rgba[4*i+3]) / 255
		avgR += alpha / 255 * float64(rgba[4*i])
		avgG += alpha / 255 * float64(rgba[4*i+1])
		avgB += alpha / 255 * float64(rgba[4*i+2])
		avgA += alpha
	}
	if avgA > 0 {
		avgR, avgG, avgB = avgR/avgA, avgG/avgA, avgB/avgA
	}
	hasAlpha := avgA < float64(n)
	lLimit := 7
	if hasAlpha {
		lLimit = 5 // fewer luminance coefficients leave room for alpha
	}
	big := max(w, h)
	lx := max(1, int(math.Round(float64(lLimit*w)/float64(big))))
	ly := max(1, int(math.Round(float64(lLimit*h)/float64(big))))

	l, p, q, a := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i := 0; i < n; i++ {
		alpha := float64(rgba[4*i+3]) / 255
		r := avgR*(1-alpha) + alpha/255*float64(rgba[4*i])
		g := avgG*(1-alpha) + alpha/255*float64(rgba[4*i+1])
		b := avgB*(1-alpha) + alpha/255*float64(rgba[4*i+2])
		l[i] = (r + g + b) / 3
		p[i] = (r+g)/2 - b
		q[i] = r - g
		a[i] = alpha
	}

	lDC, lAC, lScale := encodeChannel(l, w, h, max(3, lx), max(3, ly))
	pDC, pAC, pScale := encodeChannel(p, w, h, 3, 3)
	qDC, qAC, qScale := encodeChannel(q, w, h, 3, 3)
	var aDC, aScale float64
	var aAC []float64
	if hasAlpha {
		aDC, aAC, aScale = encodeChannel(a, w, h, 5, 5)
	}

	isLandscape := w > h
	header24 := round(63*lDC) | round(31.5+31.5*pDC)<<6 | round(31.5+31.5*qDC)<<12 | round(31*lScale)<<18 | b2u(hasAlpha)<<23
	side := lx
	if isLandscape {
		side = ly
	}
	header16 := uint32(side) | round(63*pScale)<<3 | round(63*qScale)<<9 | b2u(isLandscape)<<15                    // #nosec G115 -- side is at most 7 and the rounded terms at most 63
	hash := []byte{byte(header24), byte(header24 >> 8), byte(header24 >> 16), byte(header16), byte(header16 >> 8)} // #nosec G115 -- byte extraction of a 24- or 16-bit header is the intent
	if hasAlpha {
		hash = append(hash, byte(round(15*aDC)|round(15*aScale)<<4)) // #nosec G115 -- rounded to 0..15 each
	}
	acs := [][]float64{lAC, pAC, qAC}
	if hasAlpha {
		acs = append(acs, aAC)
	}
	start := len(hash)
	i := 0
	for _, ac := range acs {
		for _, f := range ac {
			if i&1 == 0 {
				hash = append(hash, 0)
			}
			hash[start+i>>1] |= byte(round(15*f) << ((i & 1) << 2)) // #nosec G115 -- rounded to 0..15
			i++
		}
	}
	return hash, nil
}

// encodeChannel returns the DC term, the AC terms scaled into 0..1, and their scale, of
// the DCT of channel (w×h) over nx×ny coefficients, the triangle cx*ny < nx*(ny-cy).
func encodeChannel(channel []float64, w, h, nx, ny int) (dc float64, ac []float64, scale float64) {
	fx := make([]float64, w)
	for cy := 0; cy < ny; cy++ {
		for cx := 0; cx*ny < nx*(ny-cy); cx++ {
			for x := range w {
				fx[x] = math.Cos(math.Pi / float64(w) * float64(cx) * (float64(x) + 0.5))
			}
			var f float64
			for y := range h {
				fy := math.Cos(math.Pi / float64(h) * float64(cy) * (float64(y) + 0.5))
				row := channel[y*w : y*w+w]
				for x, v := range row {
					f += v * fx[x] * fy
				}
			}
			f /= float64(w * h)
			if cx > 0 || cy > 0 {
				ac = append(ac, f)
				scale = max(scale, math.Abs(f))
			} else {
				dc = f
			}
		}
	}
	if scale > 0 {
		for i := range ac {
			ac[i] = 0.5 + 0.5/scale*ac[i]
		}
	}
	return dc, ac, scale
}

func round(f float64) uint32 { return uint32(max(0, math.Round(f))) }

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// Decode renders a ThumbHash as an image of at most 32×32 (its aspect ratio the hash's
// approximation of the original's): w, h and rgba pixels, 4 bytes each, not
// premultiplied.
func Decode(hash []byte) (w, h int, rgba []byte, err error) {
	if len(hash) < 5 {
		return 0, 0, nil, ErrMalformed
	}
	header24 := uint32(hash[0]) | uint32(hash[1])<<8 | uint32(hash[2])<<16
	header16 := uint32(hash[3]) | uint32(hash[4])<<8
	lDC := float64(header24&63) / 63
	pDC := float64((header24>>6)&63)/31.5 - 1
	qDC := float64((header24>>12)&63)/31.5 - 1
	lScale := float64((header24>>18)&31) / 31
	hasAlpha := header24>>23 != 0
	pScale := float64((header16>>3)&63) / 63
	qScale := float64((header16>>9)&63) / 63
	isLandscape := header16>>15 != 0
	full := 7
	if hasAlpha {
		full = 5
	}
	side := int(header16 & 7)
	lx, ly := side, full
	if isLandscape {
		lx, ly = full, side
	}
	ratio := float64(lx) / float64(ly)
	lx, ly = max(3, lx), max(3, ly)
	aDC, aScale := 1.0, 0.0
	start := 5
	if hasAlpha {
		if len(hash) < 6 {
			return 0, 0, nil, ErrMalformed
		}
		aDC, aScale = float64(hash[5]&15)/15, float64(hash[5]>>4)/15
		start = 6
	}
	i := 0
	channel := func(nx, ny int, scale float64) []float64 {
		var ac []float64
		for cy := 0; cy < ny; cy++ {
			cx := 0
			if cy == 0 {
				cx = 1
			}
			for ; cx*ny < nx*(ny-cy); cx++ {
				var nib byte
				if k := start + i>>1; k < len(hash) {
					nib = hash[k] >> ((i & 1) << 2) & 15
				} else {
					err = ErrMalformed
				}
				ac = append(ac, (float64(nib)/7.5-1)*scale)
				i++
			}
		}
		return ac
	}
	lAC := channel(lx, ly, lScale)
	pAC := channel(3, 3, pScale*1.25) // saturation boosted, as quantisation dulls it
	qAC := channel(3, 3, qScale*1.25)
	var aAC []float64
	if hasAlpha {
		aAC = channel(5, 5, aScale)
	}
	if err != nil {
		return 0, 0, nil, err
	}

	if ratio > 1 {
		w, h = 32, int(math.Round(32/ratio))
	} else {
		w, h = int(math.Round(32*ratio)), 32
	}
	rgba = make([]byte, 4*w*h)
	fx, fy := make([]float64, 7), make([]float64, 7)
	for y := range h {
		for x := range w {
			l, p, q, a := lDC, pDC, qDC, aDC
			nx, ny := max(lx, 3), max(ly, 3)
			if hasAlpha {
				nx, ny = max(nx, 5), max(ny, 5)
			}
			for cx := 0; cx < nx; cx++ {
				fx[cx] = math.Cos(math.Pi / float64(w) * (float64(x) + 0.5) * float64(cx))
			}
			for cy := 0; cy < ny; cy++ {
				fy[cy] = math.Cos(math.Pi / float64(h) * (float64(y) + 0.5) * float64(cy))
			}
			j := 0
			for cy := 0; cy < ly; cy++ {
				cx := 0
				if cy == 0 {
					cx = 1
				}
				for fy2 := fy[cy] * 2; cx*ly < lx*(ly-cy); cx++ {
					l += lAC[j] * fx[cx] * fy2
					j++
				}
			}
			j = 0
			for cy := 0; cy < 3; cy++ {
				cx := 0
				if cy == 0 {
					cx = 1
				}
				for fy2 := fy[cy] * 2; cx < 3-cy; cx++ {
					f := fx[cx] * fy2
					p += pAC[j] * f
					q += qAC[j] * f
					j++
				}
			}
			if hasAlpha {
				j = 0
				for cy := 0; cy < 5; cy++ {
					cx := 0
					if cy == 0 {
						cx = 1
					}
					for fy2 := fy[cy] * 2; cx < 5-cy; cx++ {
						a += aAC[j] * fx[cx] * fy2
						j++
					}
				}
			}
			b := l - 2.0/3*p
			r := (3*l - b + q) / 2
			g := r - q
			o := 4 * (y*w + x)
			rgba[o], rgba[o+1], rgba[o+2], rgba[o+3] = unit(r), unit(g), unit(b), unit(a)
		}
	}
	return w, h, rgba, nil
}

// unit maps 0..1 to a byte, clamping.
func unit(f float64) byte { return byte(max(0, 255*min(1, f))) }
