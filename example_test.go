package fastimagecache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log"
	"os"
	"strings"

	"github.com/fastimagecache/fastimagecache"
)

// samplePNG draws a 640×480 picture, standing in for an upload.
func samplePNG() []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 640, 480))
	for y := range 480 {
		for x := range 640 {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		log.Fatal(err)
	}
	return buf.Bytes()
}

func ExampleNew() {
	dir, err := os.MkdirTemp("", "fastimagecache-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	c, err := fastimagecache.New(dir, fastimagecache.WithLimits(fastimagecache.Limits{
		MaxBytes: 8 << 20, // other fields keep their defaults
	}))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(c.Limits().MaxBytes, c.Limits().MaxPixels)
	// Output: 8388608 50000000
}

func ExampleCache_Put() {
	dir, _ := os.MkdirTemp("", "fastimagecache-example")
	defer os.RemoveAll(dir)
	c, err := fastimagecache.New(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	info, err := c.Put(ctx, bytes.NewReader(samplePNG()), fastimagecache.DeclaredType("image/png"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Format, info.Width, info.Height, len(info.ID))

	// An HTML page uploaded as "avatar.png" is refused by its bytes.
	_, err = c.Put(ctx, strings.NewReader("<!DOCTYPE html><script>alert(1)</script>"), fastimagecache.DeclaredType("image/png"))
	fmt.Println(errors.Is(err, fastimagecache.ErrUnsupportedFormat), errors.Is(err, fastimagecache.ErrTypeMismatch))
	// Output:
	// png 640 480 64
	// true true
}

func ExampleCache_Get() {
	dir, _ := os.MkdirTemp("", "fastimagecache-example")
	defer os.RemoveAll(dir)
	c, err := fastimagecache.New(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	info, err := c.Put(ctx, bytes.NewReader(samplePNG()))
	if err != nil {
		log.Fatal(err)
	}

	r, err := c.Get(ctx, info.ID, fastimagecache.Spec{Width: 160, Height: 160, Format: fastimagecache.JPEG})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	fmt.Println(r.ContentType, r.Width, r.Height)
	// Output: image/jpeg 160 120
}

func ExampleWithEagerRenditions() {
	dir, _ := os.MkdirTemp("", "fastimagecache-example")
	defer os.RemoveAll(dir)
	thumb := fastimagecache.Spec{Width: 160, Height: 160, Fit: fastimagecache.Cover}
	c, err := fastimagecache.New(dir, fastimagecache.WithEagerRenditions(thumb))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	info, err := c.Put(ctx, bytes.NewReader(samplePNG()))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("renditions after Put:", c.Stats().Renditions)

	r, err := c.Get(ctx, info.ID, thumb) // a hit: rendered at Put
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	fmt.Println(r.Width, r.Height, c.Stats().Hits)
	// Output:
	// renditions after Put: 1
	// 160 160 1
}
