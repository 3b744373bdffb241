package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"

	"github.com/disintegration/imaging"
)

// The inputs and the naive Go pipelines of the issue-17 rows (bench17.go). Every input
// other than the photos is generated here, deterministically.

// pngPhotos re-encodes each photo as a PNG no larger than maxSide on its long side
// (oriented, Lanczos), as a photo saved as PNG by an editor would be.
func pngPhotos(photos []photo, maxSide int) ([]photo, error) {
	var out []photo
	for _, p := range photos {
		img, err := imaging.Decode(bytes.NewReader(p.data), imaging.AutoOrientation(true))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		if b := img.Bounds(); b.Dx() > maxSide || b.Dy() > maxSide {
			img = imaging.Fit(img, maxSide, maxSide, imaging.Lanczos)
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			return nil, err
		}
		b := img.Bounds()
		out = append(out, photo{name: trimExt(p.name) + ".png", data: buf.Bytes(), w: b.Dx(), h: b.Dy()})
	}
	return out, nil
}

func trimExt(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '.' {
			return name[:i]
		}
	}
	return name
}

// screenshots generates n screenshot-like PNGs of w×h: flat UI colours, panels with
// one-pixel borders, rows of text-like glyphs (hard dark-on-light edges); every second one
// is a window with rounded corners and a soft shadow on a transparent background.
func screenshots(n, w, h int) ([]photo, error) {
	var out []photo
	for i := range n {
		rng := rand.New(rand.NewPCG(17, uint64(i))) // #nosec G404 -- deterministic test pixels, not a secret
		m := image.NewNRGBA(image.Rect(0, 0, w, h))
		alpha := i%2 == 1
		inset := 0
		if alpha {
			inset = max(4, min(w, h)/24)
		}
		win := image.Rect(inset, inset, w-inset, h-inset)
		bg := color.NRGBA{uint8(230 + rng.IntN(26)), uint8(230 + rng.IntN(26)), uint8(230 + rng.IntN(26)), 255} // #nosec G115 -- 230+[0,26) fits a byte
		draw.Draw(m, win, image.NewUniform(bg), image.Point{}, draw.Src)
		// Title bar, sidebar, buttons.
		accent := color.NRGBA{uint8(rng.IntN(200)), uint8(rng.IntN(200)), uint8(55 + rng.IntN(200)), 255} // #nosec G115 -- at most 254
		bar := image.Rect(win.Min.X, win.Min.Y, win.Max.X, win.Min.Y+max(2, h/20))
		draw.Draw(m, bar, image.NewUniform(accent), image.Point{}, draw.Src)
		side := image.Rect(win.Min.X, bar.Max.Y, win.Min.X+max(2, w/6), win.Max.Y)
		draw.Draw(m, side, image.NewUniform(color.NRGBA{bg.R - 20, bg.G - 20, bg.B - 20, 255}), image.Point{}, draw.Src)
		border := color.NRGBA{150, 150, 160, 255}
		for b := range 4 {
			x0 := side.Max.X + 10 + b*max(4, w/8)
			r := image.Rect(x0, bar.Max.Y+8, x0+max(3, w/10), bar.Max.Y+8+max(3, h/30))
			draw.Draw(m, r, image.NewUniform(border), image.Point{}, draw.Src)
			draw.Draw(m, r.Inset(1), image.NewUniform(color.NRGBA{250, 250, 250, 255}), image.Point{}, draw.Src)
		}
		// Text: glyphs 6×10 in rows, strokes of one or two pixels.
		ink := color.NRGBA{30, 30, 40, 255}
		for y := bar.Max.Y + max(8, h/10); y+10 < win.Max.Y-4; y += 16 {
			for x := side.Max.X + 10; x+6 < win.Max.X-10; x += 7 {
				if rng.IntN(7) == 0 {
					continue // a space
				}
				for range 3 {
					gx, gy := x+rng.IntN(5), y+rng.IntN(9)
					if rng.IntN(2) == 0 {
						for k := range 1 + rng.IntN(9-(gy-y)) {
							m.SetNRGBA(gx, gy+k, ink)
						}
					} else {
						for k := range 1 + rng.IntN(6-(gx-x)) {
							m.SetNRGBA(gx+k, gy, ink)
						}
					}
				}
			}
		}
		if alpha {
			roundAndShadow(m, win, inset)
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, m); err != nil {
			return nil, err
		}
		out = append(out, photo{name: fmt.Sprintf("screenshot-%02d.png", i), data: buf.Bytes(), w: w, h: h})
	}
	return out, nil
}

// roundAndShadow clears win's corners to transparent and puts a translucent shadow around
// it, fading over the inset.
func roundAndShadow(m *image.NRGBA, win image.Rectangle, inset int) {
	r := float64(inset)
	b := m.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			// Distance outside the window's rounded rectangle.
			cx := math.Max(float64(win.Min.X)+r-float64(x), math.Max(0, float64(x)-(float64(win.Max.X)-1-r)))
			cy := math.Max(float64(win.Min.Y)+r-float64(y), math.Max(0, float64(y)-(float64(win.Max.Y)-1-r)))
			cx, cy = math.Max(cx, 0), math.Max(cy, 0)
			d := math.Hypot(cx, cy) - r
			if d <= 0 {
				continue
			}
			a := math.Max(0, 1-d/r) * 0.4
			m.SetNRGBA(x, y, color.NRGBA{0, 0, 0, uint8(a * 255)})
		}
	}
}

// animatedGIFs generates n animated GIFs of w×h with frames frames each: a palette of 64
// colours, a full first frame (a banded gradient), then partial frames where a disc
// moves, drawn over the previous frame (disposal none) with a transparent index around it.
func animatedGIFs(n, w, h, frames int) ([]photo, error) {
	var out []photo
	for i := range n {
		pal := make(color.Palette, 64)
		for k := range 63 {
			pal[k] = color.RGBA{uint8(k * 4), uint8(255 - k*3), uint8((k*37 + i*20) % 256), 255}
		}
		const transparent = 63
		pal[transparent] = color.RGBA{}
		g := &gif.GIF{LoopCount: 0}
		first := image.NewPaletted(image.Rect(0, 0, w, h), pal)
		for y := range h {
			for x := range w {
				first.Pix[y*first.Stride+x] = uint8(((x/8 + y/6 + i) % 48)) // #nosec G115 -- < 48
			}
		}
		g.Image, g.Delay, g.Disposal = append(g.Image, first), append(g.Delay, 6), append(g.Disposal, gif.DisposalNone)
		rad := max(2, min(w, h)/8)
		for f := 1; f < frames; f++ {
			cx := rad + (w-2*rad)*f/frames
			cy := h/2 + int(float64(h/4)*math.Sin(float64(f+i)/3))
			r := image.Rect(cx-rad-2, cy-rad-2, cx+rad+2, cy+rad+2).Intersect(first.Bounds())
			fr := image.NewPaletted(r, pal)
			for y := r.Min.Y; y < r.Max.Y; y++ {
				for x := r.Min.X; x < r.Max.X; x++ {
					idx := uint8(transparent)
					if dx, dy := x-cx, y-cy; dx*dx+dy*dy <= rad*rad {
						idx = uint8(48 + (f+i)%15) // #nosec G115 -- < 63
					}
					fr.SetColorIndex(x, y, idx)
				}
			}
			g.Image, g.Delay, g.Disposal = append(g.Image, fr), append(g.Delay, 6), append(g.Disposal, gif.DisposalNone)
		}
		var buf bytes.Buffer
		if err := gif.EncodeAll(&buf, g); err != nil {
			return nil, err
		}
		out = append(out, photo{name: fmt.Sprintf("anim-%02d.gif", i), data: buf.Bytes(), w: w, h: h})
	}
	return out, nil
}

// naivePNG is the ten-minute Go PNG thumbnailer: image/png, imaging Lanczos, image/png.
func naivePNG(b []byte, size int) []byte {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, imaging.Fit(img, size, size, imaging.Lanczos))
	return buf.Bytes()
}

// naiveGIFCopy decodes every frame and encodes them again (no resize).
func naiveGIFCopy(b []byte) []byte {
	g, err := gif.DecodeAll(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	var buf bytes.Buffer
	_ = gif.EncodeAll(&buf, g)
	return buf.Bytes()
}

// naiveGIFResize composites each frame onto a canvas, resizes the canvas (imaging Lanczos)
// and maps it back to the frame's palette (nearest colour), as a Go developer would.
func naiveGIFResize(b []byte, size int) []byte {
	g, err := gif.DecodeAll(bytes.NewReader(b))
	if err != nil || len(g.Image) == 0 {
		return nil
	}
	canvas := image.NewNRGBA(image.Rect(0, 0, g.Config.Width, g.Config.Height))
	out := &gif.GIF{LoopCount: g.LoopCount, Delay: g.Delay}
	for _, fr := range g.Image {
		draw.Draw(canvas, fr.Bounds(), fr, fr.Bounds().Min, draw.Over)
		t := imaging.Fit(canvas, size, size, imaging.Lanczos)
		p := image.NewPaletted(t.Bounds(), fr.Palette)
		draw.Draw(p, p.Bounds(), t, image.Point{}, draw.Src)
		out.Image = append(out.Image, p)
	}
	var buf bytes.Buffer
	_ = gif.EncodeAll(&buf, out)
	return buf.Bytes()
}

// decodeAny decodes a JPEG, PNG or GIF (first frame) by its magic bytes, as NRGBA.
func decodeAny(b []byte) (*image.NRGBA, error) {
	var img image.Image
	var err error
	switch {
	case bytes.HasPrefix(b, []byte("\xff\xd8")):
		img, err = jpeg.Decode(bytes.NewReader(b))
	case bytes.HasPrefix(b, []byte("\x89PNG")):
		img, err = png.Decode(bytes.NewReader(b))
	case bytes.HasPrefix(b, []byte("GIF8")):
		img, err = gif.Decode(bytes.NewReader(b))
	default:
		err = fmt.Errorf("unknown output format")
	}
	if err != nil {
		return nil, err
	}
	return imaging.Clone(img), nil
}

// onWhite composites m over white (so PSNR of images with alpha compares what is seen).
func onWhite(m *image.NRGBA) *image.NRGBA {
	out := imaging.Clone(m)
	for i := 0; i+3 < len(out.Pix); i += 4 {
		a := uint32(out.Pix[i+3])
		for c := range 3 {
			out.Pix[i+c] = uint8((uint32(out.Pix[i+c])*a + 255*(255-a) + 127) / 255) // #nosec G115 -- at most 255
		}
		out.Pix[i+3] = 255
	}
	return out
}
