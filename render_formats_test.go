package fastimagecache

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	xwebp "golang.org/x/image/webp"

	"github.com/fastimagecache/fastimagecache/internal/codec"
	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// decodeOutput decodes a rendition's bytes with a decoder independent of our encoder:
// x/image/webp for WebP, the codec's AVIF decoder for AVIF.
func decodeOutput(t testing.TB, f Format, b []byte) image.Image {
	t.Helper()
	img, _, err := DecodeRendition(f, b)
	require.NoError(t, err, "decode %s output", f)
	return img
}

// TestWebPAndAVIFOutputDecodeAtReportedSize renders an opaque JPEG and a PNG with
// transparency to WebP and AVIF, and decodes each output at the size the Rendition reports.
func TestWebPAndAVIFOutputDecodeAtReportedSize(t *testing.T) {
	c := newTestCache(t)
	ctx := context.Background()
	for _, in := range []struct {
		name string
		data []byte
	}{{"jpeg", fixture.JPEG(400, 300, 90)}, {"png-alpha", fixture.PNG(400, 300)}} {
		info := put(t, c, in.data)
		for _, f := range []Format{WebP, AVIF} {
			for _, s := range []Spec{{Width: 200, Format: f}, {Width: 120, Height: 120, Fit: Cover, Format: f, Quality: 1}, {Format: f, Quality: 100}} {
				r, err := c.Get(ctx, info.ID, s)
				require.NoError(t, err, "%s %+v", in.name, s)
				assert.Equal(t, "image/"+string(f), r.ContentType)
				b := readRendition(t, r)
				img := decodeOutput(t, f, b)
				assert.Equal(t, image.Rect(0, 0, r.Width, r.Height), img.Bounds().Sub(img.Bounds().Min), "%s %+v", in.name, s)
			}
		}
	}
}

// webpFrame is one frame of a WebP file as webpFrames finds it.
type webpFrame struct {
	img      image.Image
	duration int // milliseconds; 0 for a still
}

// webpFrames decodes every frame of a WebP file, still or animated, with x/image/webp
// (which reads stills only): an animation's ANMF chunks are rewrapped one by one as
// still files (VP8X, with the alpha flag when the frame has an ALPH chunk, then the
// frame's chunks).
// It also returns the canvas size and the loop count of an animation.
func webpFrames(b []byte) (frames []webpFrame, canvasW, canvasH, loops int, err error) {
	le24 := func(p []byte) int { return int(p[0]) | int(p[1])<<8 | int(p[2])<<16 }
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return nil, 0, 0, 0, fmt.Errorf("not a webp")
	}
	chunk := func(typ string, data []byte) []byte {
		out := append([]byte(typ), byte(len(data)), byte(len(data)>>8), byte(len(data)>>16), byte(len(data)>>24))
		out = append(out, data...)
		if len(data)%2 == 1 {
			out = append(out, 0)
		}
		return out
	}
	riff := func(body []byte) []byte {
		n := 4 + len(body)
		return append(append([]byte("RIFF"), byte(n), byte(n>>8), byte(n>>16), byte(n>>24)), append([]byte("WEBP"), body...)...)
	}
	animated := false
	for p := b[12:]; len(p) >= 8; {
		typ, n := string(p[:4]), int(binary.LittleEndian.Uint32(p[4:8]))
		if 8+n > len(p) {
			return nil, 0, 0, 0, fmt.Errorf("chunk %q past the end", typ)
		}
		data := p[8 : 8+n]
		p = p[min(len(p), 8+n+n%2):]
		switch typ {
		case "VP8X":
			animated = data[0]&0x02 != 0
			canvasW, canvasH = 1+le24(data[4:]), 1+le24(data[7:])
		case "ANIM":
			loops = int(binary.LittleEndian.Uint16(data[4:]))
		case "ANMF":
			w, h := 1+le24(data[6:]), 1+le24(data[9:])
			vp8x := make([]byte, 10)
			if bytes.Contains(data[16:min(len(data), 20)], []byte("ALPH")) {
				vp8x[0] = 0x10 // alpha
			}
			vp8x[4], vp8x[5], vp8x[6] = byte(w-1), byte((w-1)>>8), byte((w-1)>>16)
			vp8x[7], vp8x[8], vp8x[9] = byte(h-1), byte((h-1)>>8), byte((h-1)>>16)
			body := chunk("VP8X", vp8x)
			for q := data[16:]; len(q) >= 8; {
				sn := int(binary.LittleEndian.Uint32(q[4:8]))
				if 8+sn > len(q) {
					return nil, 0, 0, 0, fmt.Errorf("frame chunk past its ANMF")
				}
				body = append(body, chunk(string(q[:4]), q[8:8+sn])...)
				q = q[min(len(q), 8+sn+sn%2):]
			}
			img, err := xwebp.Decode(bytes.NewReader(riff(body)))
			if err != nil {
				return nil, 0, 0, 0, fmt.Errorf("frame %d: %w", len(frames), err)
			}
			frames = append(frames, webpFrame{img, le24(data[12:])})
		}
	}
	if !animated {
		img, err := xwebp.Decode(bytes.NewReader(b))
		if err != nil {
			return nil, 0, 0, 0, err
		}
		bb := img.Bounds()
		return []webpFrame{{img: img}}, bb.Dx(), bb.Dy(), 0, nil
	}
	return frames, canvasW, canvasH, loops, nil
}

// DecodeRendition decodes a rendition's bytes in format f with a decoder other than our
// encoder (x/image/webp, frame by frame for an animated WebP; the codec's AVIF decoder)
// and returns its first frame and frame count. For the external tests.
func DecodeRendition(f Format, b []byte) (image.Image, int, error) {
	switch f {
	case WebP:
		frames, _, _, _, err := webpFrames(b)
		if err != nil {
			return nil, 0, err
		}
		return frames[0].img, len(frames), nil
	case AVIF:
		img, err := codec.DecodeAVIF(b)
		return img, 1, err
	}
	return nil, 0, fmt.Errorf("DecodeRendition: %s", f)
}
