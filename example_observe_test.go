package fastimagecache_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"sync"

	"github.com/fastimagecache/fastimagecache"
)

// opLog prints each operation as it ends, indented by how deep it nests.
type opLog struct{ mu sync.Mutex }

type depthKey struct{}

func (l *opLog) Begin(ctx context.Context, op fastimagecache.Op) (context.Context, func(fastimagecache.Outcome)) {
	depth, _ := ctx.Value(depthKey{}).(int)
	return context.WithValue(ctx, depthKey{}, depth+1), func(o fastimagecache.Outcome) {
		l.mu.Lock()
		defer l.mu.Unlock()
		fmt.Printf("%s%s format=%s output=%s tier=%q reason=%q\n", strings.Repeat("- ", depth), op, o.Format, o.Output, o.Tier, o.Reason)
	}
}

func ExampleWithObserver() {
	dir, err := os.MkdirTemp("", "fastimagecache-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	c, err := fastimagecache.New(dir, fastimagecache.WithObserver(&opLog{}))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	info, err := c.Put(ctx, bytes.NewReader(samplePNG()))
	if err != nil {
		log.Fatal(err)
	}
	for range 2 { // a miss, then a hit from memory
		r, err := c.Get(ctx, info.ID, fastimagecache.Spec{Width: 64, Format: fastimagecache.JPEG})
		if err != nil {
			log.Fatal(err)
		}
		r.Close()
	}
	_, err = c.Put(ctx, bytes.NewReader([]byte("GIF89a")))
	fmt.Println(err != nil)
	// Output:
	// - decode format=png output= tier="" reason=""
	// - store format=png output= tier="" reason=""
	// put format=png output= tier="" reason=""
	// - render format=png output=jpeg tier="" reason=""
	// - store format= output=jpeg tier="" reason=""
	// get format=png output=jpeg tier="" reason=""
	// get format=png output=jpeg tier="memory" reason=""
	// put format= output= tier="" reason="corrupt"
	// true
}

func ExampleCache_Ready() {
	dir, err := os.MkdirTemp("", "fastimagecache-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	c, err := fastimagecache.New(dir)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Ready(context.Background()))
	c.Close()
	fmt.Println(c.Ready(context.Background()))
	// Output:
	// <nil>
	// fastimagecache: cache closed
}
