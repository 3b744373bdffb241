package fastimagecache_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"

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
