package jpegdec

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInPlacePlanes checks the planes a progressive decode at scale 1 writes into its
// coefficient stores (reconstructInPlace) against image/jpeg's, whole: the padding to
// whole MCUs beyond the image's bounds, which image/jpeg leaves zero, included. It covers
// sizes that end inside a block and an MCU, every chroma sampling, gray, one block row
// (all of it through the band), and a component no scan sends (a zero plane).
func TestInPlacePlanes(t *testing.T) {
	type tc struct {
		name string
		e    *encoder
	}
	var cases []tc
	for _, sz := range [][2]int{{8, 8}, {37, 9}, {61, 45}, {200, 7}} {
		for _, hv := range [][4]int{{2, 2, 1, 1}, {2, 1, 1, 1}, {1, 1, 1, 1}, {1, 2, 1, 1}, {4, 1, 1, 1}} {
			e := ycbcrEncoder(naturalImage(sz[0], sz[1], 3), hv[0], hv[1], hv[2], hv[3], 80)
			cases = append(cases, tc{fmt.Sprintf("%dx%d/%v", sz[0], sz[1], hv), e})
		}
		cases = append(cases, tc{fmt.Sprintf("%dx%d/gray", sz[0], sz[1]), grayEncoder(naturalImage(sz[0], sz[1], 4), 80)})
	}
	e := ycbcrEncoder(naturalImage(40, 24, 5), 2, 2, 1, 1, 80)
	e.scans = []encScan{{comps: []int{0, 1}}, {comps: []int{0}, ss: 1, se: 63}}
	cases = append(cases, tc{"no scan of Cr", e})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.e.progressive = true
			data := c.e.encode()
			want, err := jpeg.Decode(bytes.NewReader(data))
			require.NoError(t, err)
			got, err := decodeBytes(data, Options{})
			require.NoError(t, err)
			require.Equal(t, want.Bounds(), got.Bounds())
			switch w := want.(type) {
			case *image.Gray:
				g := got.(*image.Gray)
				assert.Equal(t, w.Stride, g.Stride)
				assert.True(t, bytes.Equal(w.Pix, g.Pix), "gray plane, padding included")
			case *image.YCbCr:
				g := got.(*image.YCbCr)
				assert.Equal(t, [3]int{w.YStride, w.CStride, int(w.SubsampleRatio)}, [3]int{g.YStride, g.CStride, int(g.SubsampleRatio)})
				assert.True(t, bytes.Equal(w.Y, g.Y), "Y plane, padding included")
				assert.True(t, bytes.Equal(w.Cb, g.Cb), "Cb plane, padding included")
				assert.True(t, bytes.Equal(w.Cr, g.Cr), "Cr plane, padding included")
			default:
				t.Fatalf("%T", want)
			}
		})
	}
}
