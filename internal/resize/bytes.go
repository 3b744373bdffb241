package resize

import "image"

// ImageBytes bounds what ImageWorkers(src, dw, dh, o, workers) allocates, result
// included, from src's type and bounds alone (its pixels are not read): the box
// pre-shrink's plane and accumulators, the filter weights, each goroutine's row
// buffers (and, for a type converted a row at a time, its ring of converted rows), the
// scaled plane and its oriented copy. It is 0 where ImageWorkers allocates nothing (a
// type it does not handle, or an interleaved type at its own size).
func ImageBytes(src image.Image, dw, dh, o, workers int) int64 {
	if dw < 1 || dh < 1 {
		return 0
	}
	r := src.Bounds()
	if r.Empty() {
		return 0
	}
	w, h := r.Dx(), r.Dy()
	switch m := src.(type) {
	case *image.YCbCr:
		return margin(ycbcrBytes(w, h, m.SubsampleRatio, dw, dh, o, workers))
	case *image.Gray:
		return margin(planeBytes(w, h, 1, dw, dh, o, workers, false))
	case *image.RGBA:
		if w == dw && h == dh {
			return 0
		}
		return margin(planeBytes(w, h, 4, dw, dh, o, workers, false))
	case *image.Gray16:
		if w == dw && h == dh {
			return 0
		}
		return margin(planeBytes(w, h, 1, dw, dh, o, workers, true))
	case *image.NRGBA, *image.Paletted, *image.RGBA64, *image.NRGBA64, *image.CMYK, *image.NYCbCrA:
		if w == dw && h == dh {
			return 0
		}
		return margin(planeBytes(w, h, 4, dw, dh, o, workers, true))
	}
	return 0
}

// AnyImageBytes bounds what ImageWorkers allocates scaling a w×h image of any type it
// handles to dw×dh with orientation o: the largest of ImageBytes over those types, for a
// caller that reserves memory before it knows which type the decoder returns.
func AnyImageBytes(w, h, dw, dh, o, workers int) int64 {
	if w < 1 || h < 1 || dw < 1 || dh < 1 {
		return 0
	}
	n := planeBytes(w, h, 4, dw, dh, o, workers, true) // converted RGBA, the largest interleaved case
	for _, ratio := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	} {
		n = max(n, ycbcrBytes(w, h, ratio, dw, dh, o, workers))
	}
	return margin(n)
}

// GrayBytes bounds what ImageWorkers allocates scaling a w×h *image.Gray or
// *image.Gray16 to dw×dh with orientation o: one sample a pixel, a quarter of
// AnyImageBytes, for a caller that knows the decoder returns one of those (a JPEG of one
// component).
func GrayBytes(w, h, dw, dh, o, workers int) int64 {
	if w < 1 || h < 1 || dw < 1 || dh < 1 {
		return 0
	}
	return margin(planeBytes(w, h, 1, dw, dh, o, workers, true))
}

// ycbcrBytes is what ImageWorkers allocates for a w×h *image.YCbCr's three planes,
// before margin.
func ycbcrBytes(w, h int, ratio image.YCbCrSubsampleRatio, dw, dh, o, workers int) int64 {
	cr, _, ok := chroma(image.Rect(0, 0, w, h), ratio)
	if !ok {
		return 0
	}
	// A sub-image's chroma may start part-way into a sample: one more at each end.
	cw, ch := cr.Dx()+1, cr.Dy()+1
	return planeBytes(w, h, 1, dw, dh, o, workers, false) + 2*planeBytes(cw, ch, 1, dw, dh, o, workers, false)
}

// margin adds to a sum of requested sizes what the allocator rounds them up to (at most
// an eighth more for a small object's size class, up to a page for a large one) and the
// small fixed allocations (image and row-reader headers, closures, the palette table).
func margin(n int64) int64 { return n + n/8 + 32<<10 }

// planeBytes is what scalePlane and orient allocate for a w×h plane of ch samples a
// pixel (conv: converted a row at a time) scaled to dw×dh by up to workers goroutines.
func planeBytes(w, h, ch, dw, dh, o, workers int, conv bool) int64 {
	c := int64(ch)
	var n int64
	if kx, ky := max(w/(2*dw), 1), max(h/(2*dh), 1); kx > 1 || ky > 1 {
		bw, bh := (w+kx-1)/kx, (h+ky-1)/ky
		p := int64(parts(workers, bh, int64(w)*int64(h)*c))
		n += int64(bw) * int64(bh) * c // the box plane
		per := 8*int64(bw)*c + 128     // acc []int, the row reader
		if conv {
			per += int64(w)*c + 8
		}
		n += p * per
		w, h, conv = bw, bh, false
	}
	out := int64(dw) * int64(dh) * c
	n += out + tapsBytes(dw, int64(w)) + tapsBytes(dh, int64(h))
	p := int64(parts(workers, dh, int64(w)*int64(h)*c))
	per := 5*int64(w)*c + 128 // tmp, acc []int32, the row reader
	if conv {
		rows := tapsN(dh, int64(h))
		per += rows*int64(w)*c + 8*rows
	}
	n += p * per
	if o >= 2 && o <= 8 {
		n += out
	}
	return n
}
