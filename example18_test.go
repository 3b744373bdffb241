package fastimagecache_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/fastimagecache/fastimagecache"
)

// exampleCache opens a Cache on a temporary directory and stores samplePNG in it.
func exampleCache() (c *fastimagecache.Cache, info fastimagecache.Info, cleanup func()) {
	dir, err := os.MkdirTemp("", "fastimagecache-example")
	if err != nil {
		log.Fatal(err)
	}
	c, err = fastimagecache.New(dir)
	if err != nil {
		log.Fatal(err)
	}
	info, err = c.Put(context.Background(), bytes.NewReader(samplePNG()))
	if err != nil {
		log.Fatal(err)
	}
	return c, info, func() { c.Close(); os.RemoveAll(dir) }
}

func ExampleCache_Purge() {
	c, info, cleanup := exampleCache()
	defer cleanup()
	ctx := context.Background()
	spec := fastimagecache.Spec{Width: 160}
	r, err := c.Get(ctx, info.ID, spec) // rendered and stored
	if err != nil {
		log.Fatal(err)
	}
	r.Close()

	// After an encoder upgrade, say: drop every rendition, keep the original.
	if err := c.Purge(ctx, info.ID); err != nil {
		log.Fatal(err)
	}
	r, err = c.Get(ctx, info.ID, spec) // rendered again
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	fmt.Println(r.Width, r.Height)
	// Output: 160 120
}

func ExampleGravity() {
	c, info, cleanup := exampleCache()
	defer cleanup()
	// A 100×100 square from the 640×480 picture: the top-right corner's side, rather
	// than the centre.
	spec := fastimagecache.Spec{Width: 100, Height: 100, Fit: fastimagecache.Cover, Gravity: fastimagecache.NorthEast}
	r, err := c.Get(context.Background(), info.ID, spec)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	fmt.Println(r.Width, r.Height)
	// Output: 100 100
}

func ExampleSpec_focalPoint() {
	// A crop centred on a face at 30% of the width and 25% of the height of the oriented
	// picture (then moved inside it); the signed query carries the point.
	spec := fastimagecache.Spec{Width: 300, Height: 300, Fit: fastimagecache.Cover, FocusX: 0.3, FocusY: 0.25}
	p := fastimagecache.SignedPath([]byte("secret"), "b5bb9d8014a0f9b1d61e21e796d78dccdf1352f23cd32812f4850b878ae4944c", spec)
	query, _, _ := strings.Cut(p[strings.Index(p, "?")+1:], "&sig=")
	fmt.Println(query)
	// Output: w=300&h=300&fit=cover&fmt=&q=0&enlarge=0&fx=0.3&fy=0.25
}

func ExampleCache_SrcSet() {
	c, info, cleanup := exampleCache()
	defer cleanup()
	key := []byte("the Handler's SigningKey")
	// Widths past the 640-pixel picture are listed once, at its own width.
	set, err := c.SrcSet(key, "/img", info, fastimagecache.Spec{}, 320, 480, 1200)
	if err != nil {
		log.Fatal(err)
	}
	for _, entry := range strings.Split(set, ", ") {
		fmt.Println(entry[strings.LastIndex(entry, " ")+1:])
	}
	// Output:
	// 320w
	// 480w
	// 640w
}

func ExampleCache_SrcSetDensities() {
	c, info, cleanup := exampleCache()
	defer cleanup()
	set, err := c.SrcSetDensities([]byte("key"), "/img", info, fastimagecache.Spec{Width: 200}, 1, 2, 3, 4)
	if err != nil {
		log.Fatal(err)
	}
	for _, entry := range strings.Split(set, ", ") {
		fmt.Println(entry[strings.LastIndex(entry, " ")+1:])
	}
	// Output:
	// 1x
	// 2x
	// 3x
	// 3.2x
}

func ExampleInfo_placeholder() {
	c, info, cleanup := exampleCache()
	defer cleanup()
	_ = c
	// A page paints info.Color, or the ThumbHash decoded by thumbhash's JavaScript
	// thumbHashToDataURL, until the rendition loads.
	fmt.Println(info.OrientedWidth, info.OrientedHeight, len(info.Placeholder) > 0, info.Color)
	// Output: 640 480 true #737880
}

func ExampleHandlerOptions_fallback() {
	c, _, cleanup := exampleCache()
	defer cleanup()
	// Any image the operator chooses; it is proved as an upload is when the Handler is made.
	var placeholder bytes.Buffer
	img := image.NewGray(image.Rect(0, 0, 64, 64))
	if err := png.Encode(&placeholder, img); err != nil {
		log.Fatal(err)
	}
	h := c.Handler(fastimagecache.HandlerOptions{
		Presets:  map[string]fastimagecache.Spec{"thumb": {Width: 32, Height: 32, Fit: fastimagecache.Cover, Format: fastimagecache.PNG}},
		Fallback: placeholder.Bytes(),
	})
	rec := httptest.NewRecorder()
	missing := strings.Repeat("0", 64)
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/"+missing+"/thumb", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Cache-Control"))
	// Output: 404 image/png no-store
}

func ExampleGravity_smart() {
	c, info, cleanup := exampleCache()
	defer cleanup()
	// The square the picture's own detail and colour choose.
	spec := fastimagecache.Spec{Width: 100, Height: 100, Fit: fastimagecache.Cover, Gravity: fastimagecache.Smart}
	r, err := c.Get(context.Background(), info.ID, spec)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	fmt.Println(r.Width, r.Height, fastimagecache.Smart)
	// Output: 100 100 smart
}
