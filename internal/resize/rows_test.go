package resize

import (
	"fmt"
	"image"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// feed streams m's rows, in layout, into a new Rows and returns its image.
func feed(t *testing.T, m image.Image, layout Layout, dw, dh, o int) image.Image {
	t.Helper()
	b := m.Bounds()
	r := NewRows(b.Dx(), b.Dy(), layout, dw, dh)
	require.NotNil(t, r)
	row := make([]byte, b.Dx()*layout.Bytes())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			i := (x - b.Min.X) * layout.Bytes()
			switch mm := m.(type) {
			case *image.NRGBA:
				c := mm.NRGBAAt(x, y)
				switch layout {
				case RGBA8:
					row[i], row[i+1], row[i+2], row[i+3] = c.R, c.G, c.B, c.A
				case RGB8:
					row[i], row[i+1], row[i+2] = c.R, c.G, c.B
				case GrayAlpha8:
					row[i], row[i+1] = c.R, c.A
				}
			case *image.Gray:
				row[i] = mm.GrayAt(x, y).Y
			}
		}
		r.Row(row)
	}
	return r.Image(o)
}

// samplesEqual fails unless a and b have the same bounds and their NRGBA samples are
// within tol of each other.
func samplesWithin(t *testing.T, a, b image.Image, tol int, msg string) {
	t.Helper()
	require.Equal(t, a.Bounds(), b.Bounds(), msg)
	worst := 0
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			p, q := nrgbaAt(a, x, y), nrgbaAt(b, x, y)
			for i := range p {
				worst = max(worst, abs(int(p[i])-int(q[i])))
			}
		}
	}
	require.LessOrEqual(t, worst, tol, msg)
}

func nrgbaAt(m image.Image, x, y int) [4]uint8 {
	switch mm := m.(type) {
	case *image.NRGBA:
		c := mm.NRGBAAt(x, y)
		return [4]uint8{c.R, c.G, c.B, c.A}
	case *image.RGBA:
		c := mm.RGBAAt(x, y) // compared only where opaque, or against another RGBA
		return [4]uint8{c.R, c.G, c.B, c.A}
	case *image.Gray:
		v := mm.GrayAt(x, y).Y
		return [4]uint8{v, v, v, 255}
	}
	panic(fmt.Sprintf("type %T", m))
}

func TestRowsMatchImage(t *testing.T) {
	for _, c := range []struct{ sw, sh, dw, dh, o int }{
		{1001, 703, 100, 70, 1}, // 5×: boxes of 5×5 with a partial last column and row
		{1001, 703, 100, 70, 6},
		{640, 480, 320, 240, 1}, // 2×: no boxes, the source is kept
		{2003, 97, 50, 11, 8},   // boxes of 20×4
		{37, 19, 80, 45, 3},     // enlarging
		{300, 200, 300, 200, 1}, // same size
		{999, 1, 7, 1, 1},       // one row
		{5, 3000, 1, 9, 5},      // one column
	} {
		name := fmt.Sprintf("%dx%d-%dx%d-o%d", c.sw, c.sh, c.dw, c.dh, c.o)
		t.Run(name, func(t *testing.T) {
			src := photoNRGBA(c.sw, c.sh, 11)
			whole := func(m image.Image) image.Image {
				got, ok := Image(m, c.dw, c.dh, c.o)
				if !ok { // same size: Image leaves it to the caller
					got = m
				}
				return got
			}
			if c.sw != c.dw || c.sh != c.dh {
				samplesWithin(t, whole(src), feed(t, src, RGBA8, c.dw, c.dh, c.o), 1, "RGBA8")
			}
			opaque := image.NewNRGBA(src.Rect)
			copy(opaque.Pix, src.Pix)
			for i := 3; i < len(opaque.Pix); i += 4 {
				opaque.Pix[i] = 255
			}
			samplesWithin(t, whole(opaque), feed(t, opaque, RGB8, c.dw, c.dh, c.o), 1, "RGB8")
			gray := photoGray(c.sw, c.sh, 4)
			samplesWithin(t, whole(gray), feed(t, gray, Gray8, c.dw, c.dh, c.o), 1, "Gray8")
			ga := image.NewNRGBA(src.Rect)
			for i := 0; i < len(ga.Pix); i += 4 {
				ga.Pix[i], ga.Pix[i+1], ga.Pix[i+2], ga.Pix[i+3] = src.Pix[i], src.Pix[i], src.Pix[i], src.Pix[i+3]
			}
			if c.sw != c.dw || c.sh != c.dh {
				samplesWithin(t, whole(ga), feed(t, ga, GrayAlpha8, c.dw, c.dh, c.o), 1, "GrayAlpha8")
			}
		})
	}
}

func TestRowsOddInput(t *testing.T) {
	require.Nil(t, NewRows(10, 10, Layout(9), 5, 5))
	require.Nil(t, (*Rows)(nil).Image(1))
	(*Rows)(nil).Row([]byte{1})
	r := NewRows(0, -3, RGBA8, 0, 0) // sizes below 1 count as 1
	r.Row(nil)                       // short: padded
	r.Row([]byte{1, 2, 3, 4})        // past the last row: ignored
	require.Equal(t, image.Rect(0, 0, 1, 1), r.Image(1).Bounds())
	r = NewRows(100, 100, Gray8, 10, 10)
	for range 37 { // cut short: the rest is black
		r.Row(make([]byte, 100))
	}
	require.Equal(t, image.Rect(0, 0, 10, 10), r.Image(6).Bounds())
}

// TestRowsBytesCoversAllocation: RowsBytes is at least what a Rows allocates, and not
// wildly more.
func TestRowsBytesCoversAllocation(t *testing.T) {
	for _, c := range []struct {
		sw, sh, dw, dh int
		l              Layout
	}{
		{3000, 2000, 320, 213, RGBA8}, {3000, 2000, 1280, 853, RGBA8}, {3000, 2000, 1280, 853, RGB8},
		{999, 777, 100, 80, GrayAlpha8}, {640, 480, 800, 600, Gray8}, {4000, 10, 3, 3, RGBA8},
	} {
		row := make([]byte, c.sw*c.l.Bytes())
		for i := range row {
			row[i] = byte(i * 7)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r := NewRows(c.sw, c.sh, c.l, c.dw, c.dh)
		for range c.sh {
			r.Row(row)
		}
		_ = r.Image(6)
		runtime.ReadMemStats(&after)
		got := int64(after.TotalAlloc - before.TotalAlloc)
		bound := RowsBytes(c.sw, c.sh, c.l, c.dw, c.dh)
		t.Logf("%v: allocated %d, bound %d", c, got, bound)
		require.GreaterOrEqual(t, bound, got, "%v", c)
		require.Less(t, bound, 2*got+128<<10, "%v", c)
	}
}
