package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"log"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fastimagecache/fastimagecache"
	"github.com/fastimagecache/fastimagecache/metrics"
)

func Example() {
	dir, err := os.MkdirTemp("", "fastimagecache-metrics")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	m := metrics.New()
	c, err := fastimagecache.New(dir, fastimagecache.WithObserver(m))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	m.Watch(c)
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	// Serve reg with promhttp.HandlerFor(reg, promhttp.HandlerOpts{}) on a private listener.

	var img bytes.Buffer
	if err := png.Encode(&img, image.NewGray(image.Rect(0, 0, 32, 32))); err != nil {
		log.Fatal(err)
	}
	if _, err := c.Put(context.Background(), &img); err != nil {
		log.Fatal(err)
	}
	_, err = c.Put(context.Background(), bytes.NewReader([]byte("not an image")))
	fmt.Println(errors.Is(err, fastimagecache.ErrUnsupportedFormat))

	mfs, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "fastimagecache_puts_total" || mf.GetName() == "fastimagecache_store_originals" {
			for _, s := range mf.GetMetric() {
				labels := ""
				for _, l := range s.GetLabel() {
					labels += l.GetName() + "=" + l.GetValue()
				}
				fmt.Println(mf.GetName(), labels, s.GetCounter().GetValue()+s.GetGauge().GetValue())
			}
		}
	}
	// Output:
	// true
	// fastimagecache_puts_total outcome=ok 1
	// fastimagecache_puts_total outcome=unsupported_format 1
	// fastimagecache_store_originals  1
}
