package codec

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"testing"

	"golang.org/x/image/webp"
)

func gradient(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	return img
}

// The default test binary carries no nodynamic tag; no system codec library may be
// in use (a machine with libwebp-dev installed would make this fail, and the codecs
// would refuse).
func TestNoSystemLibrary(t *testing.T) {
	if err := Check(); err != nil {
		t.Fatal(err)
	}
}

func TestGuardRefusesDynamic(t *testing.T) {
	if err := guard("webp", nil); !errors.Is(err, ErrDynamic) {
		t.Fatalf("guard(nil) = %v, want ErrDynamic", err)
	}
	if err := guard("webp", errors.New("dynamic disabled")); err != nil {
		t.Fatalf("guard(err) = %v, want nil", err)
	}
}

func TestWebPRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	if err := EncodeWebP(&buf, gradient(64, 48), WebPOptions{Quality: 80, Method: 0}); err != nil {
		t.Fatal(err)
	}
	cfg, err := webp.DecodeConfig(bytes.NewReader(buf.Bytes()))
	if err != nil || cfg.Width != 64 || cfg.Height != 48 {
		t.Fatalf("x/image/webp config = %+v, %v", cfg, err)
	}
}

func TestAVIFRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	if err := EncodeAVIF(&buf, gradient(64, 48), AVIFOptions{Quality: 60, Speed: 10}); err != nil {
		t.Fatal(err)
	}
	img, err := DecodeAVIF(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 48 {
		t.Fatalf("decoded %v", b)
	}
}
