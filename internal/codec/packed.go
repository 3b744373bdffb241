package codec

import (
	"image"
	"image/draw"
)

// packed returns img in a form the gen2brain encoders read correctly. For an *image.RGBA
// or *image.NRGBA they copy Pix whole into the module as width×height pixels from its
// start, ignoring Rect.Min and Stride: a sub-image (a cover crop is one) would be read
// from the wrong pixels, rows slanting by the stride's excess. Such an image is copied
// into one of its own size, rows 4×width bytes apart. The WebP encoder reads an RGBA's
// samples as unpremultiplied, so one with transparency is converted to NRGBA. Other
// types are converted by the encoders themselves through draw, which honours bounds.
func packed(img image.Image, premultipliedOK bool) image.Image {
	switch m := img.(type) {
	case *image.RGBA:
		if !premultipliedOK && !m.Opaque() {
			dst := image.NewNRGBA(image.Rect(0, 0, m.Rect.Dx(), m.Rect.Dy()))
			draw.Draw(dst, dst.Rect, m, m.Rect.Min, draw.Src)
			return dst
		}
		if !tight(m.Rect, m.Stride, len(m.Pix)) {
			dst := image.NewRGBA(image.Rect(0, 0, m.Rect.Dx(), m.Rect.Dy()))
			copyRows(dst.Pix, m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], 4*m.Rect.Dx(), m.Stride, m.Rect.Dy())
			return dst
		}
	case *image.NRGBA:
		if !tight(m.Rect, m.Stride, len(m.Pix)) {
			dst := image.NewNRGBA(image.Rect(0, 0, m.Rect.Dx(), m.Rect.Dy()))
			copyRows(dst.Pix, m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], 4*m.Rect.Dx(), m.Stride, m.Rect.Dy())
			return dst
		}
	}
	return img
}

// tight reports whether an image with bounds r, stride and len(Pix) n holds exactly its
// pixels, from the first, rows 4×width apart.
func tight(r image.Rectangle, stride, n int) bool {
	return r.Min == (image.Point{}) && stride == 4*r.Dx() && n == 4*r.Dx()*r.Dy()
}

// copyRows copies h rows of rowBytes from src (rows stride apart) to dst (packed).
func copyRows(dst, src []byte, rowBytes, stride, h int) {
	for y := range h {
		copy(dst[y*rowBytes:(y+1)*rowBytes], src[y*stride:y*stride+rowBytes])
	}
}
