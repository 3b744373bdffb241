package pngdec

// Stream decodes a PNG file row by row. start is called once, at the first
// IDAT chunk and before anything is allocated for the pixels, with the
// image's Info (an error from it ends the decode); then row is called for
// each row from top to bottom with the pixels in Info.Layout. The row slice
// is only valid during the call. An error found after the last row (a bad
// CRC, a missing IEND, trailing pixel data) is still returned: a caller
// must discard what it built from the rows when Stream fails.
//
// A non-interlaced image is never held whole: Stream allocates two filtered
// rows, one converted row and an inflater (StreamBytes). An interlaced one
// is assembled in one buffer of Width×Height×BytesPerPixel first.
func Stream(data []byte, o Options, start func(Info) error, row func(y int, pix []byte) error) error {
	d := &decoder{data: data, opts: o}
	return d.parseChunks(false, func() error {
		if err := d.checkSize(); err != nil {
			return err
		}
		if err := d.checkCtx(0); err != nil { // before the pixels are allocated
			return err
		}
		lay, conv := d.streamConverter()
		d.info.Layout = lay
		if err := start(d.info); err != nil {
			return err
		}
		bpp := lay.BytesPerPixel()
		w := d.info.Width
		tmp := make([]byte, w*bpp)
		if !d.info.Interlaced {
			return d.inflate(func(_, y, pw int, cdat []byte) error {
				return row(y, conv(tmp, cdat, pw))
			})
		}
		stride := w * bpp
		pix := make([]byte, stride*d.info.Height)
		err := d.inflate(func(pass, y, pw int, cdat []byte) error {
			scatter(pix, stride, bpp, conv(tmp, cdat, pw), pass, y, pw)
			return nil
		})
		if err != nil {
			return err
		}
		for y := range d.info.Height {
			if err := d.checkCtx(y); err != nil {
				return err
			}
			if err := row(y, pix[y*stride:(y+1)*stride]); err != nil {
				return err
			}
		}
		return nil
	})
}

// StreamBytes bounds what Stream allocates for an image described by info:
// two filtered rows, the converted row, the sub-byte unpack row, an
// inflater, and for an interlaced image the whole frame in info.Layout.
func StreamBytes(info Info) int64 {
	w, h := int64(info.Width), int64(info.Height)
	bpp := int64(info.Layout.BytesPerPixel())
	ch := int64((&decoder{info: info}).channels())
	rowBytes := 1 + (int64(info.Depth)*ch*w+7)/8
	n := 2*rowBytes + w*bpp + w + inflaterBytes
	if info.Interlaced {
		n += w * h * bpp
	}
	return n
}
