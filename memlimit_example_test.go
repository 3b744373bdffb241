package fastimagecache_test

import (
	"fmt"
	"log"
	"os"
	"runtime/debug"

	"github.com/fastimagecache/fastimagecache"
)

// ExampleWithRuntimeMemoryLimit keeps the process's heap near the Cache's memory budget.
// The limit is process-global, so a program asks for it once, for its main Cache.
func ExampleWithRuntimeMemoryLimit() {
	dir, err := os.MkdirTemp("", "fastimagecache-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	c, err := fastimagecache.New(dir,
		fastimagecache.WithLimits(fastimagecache.Limits{MemoryBudget: 512 << 20}),
		fastimagecache.WithMemoryCache(32<<20),
		fastimagecache.WithRuntimeMemoryLimit(),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Printf("runtime memory limit: %d MiB\n", c.RuntimeMemoryLimit()>>20)
	// A lower GOMEMLIMIT set by the operator would have been kept.
	fmt.Println("in force:", debug.SetMemoryLimit(-1) <= c.RuntimeMemoryLimit())
	// Output:
	// runtime memory limit: 608 MiB
	// in force: true
}
