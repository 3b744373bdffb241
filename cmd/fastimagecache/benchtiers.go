package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/fastimagecache/fastimagecache"
)

// benchTiers times Gets through each tier: the local store alone (cold: a render; warm:
// memory, then disk with the memory tier off) and with the bucket at bucketURL (a render on
// node A that writes the bucket; node B's cold Get from the bucket; then B's disk and
// memory tiers). Each row is the median over the photos; nodes use fresh temp dirs.
func benchTiers(ctx context.Context, stdout io.Writer, photos []photo, spec fastimagecache.Spec, bucketURL string) error {
	work, err := os.MkdirTemp("", "fic-bench-tiers-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	dirs := 0
	open := func(bucket bool, mem int64) (*fastimagecache.Cache, error) {
		dirs++
		u := ""
		if bucket {
			u = bucketURL
		}
		return openCache(ctx, fmt.Sprintf("%s/%d", work, dirs), u, fastimagecache.WithMemoryCache(mem))
	}
	type row struct {
		name string
		ds   []time.Duration
	}
	var rows []row
	timeGets := func(name string, c *fastimagecache.Cache, ids []fastimagecache.ID) error {
		r := row{name: name}
		for _, id := range ids {
			start := time.Now()
			if _, err := getAll(ctx, c, id, spec); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			r.ds = append(r.ds, time.Since(start))
		}
		rows = append(rows, r)
		return nil
	}
	putAll := func(c *fastimagecache.Cache) ([]fastimagecache.ID, error) {
		var ids []fastimagecache.ID
		for _, p := range photos {
			info, err := c.Put(ctx, bytes.NewReader(p.data))
			if err != nil {
				return nil, err
			}
			ids = append(ids, info.ID)
		}
		return ids, nil
	}
	steps := []struct {
		bucket bool
		mem    int64
		gets   []string // row names, one pass each; "" skips timing (a warm-up pass)
	}{
		{false, 0, []string{"local only: cold (render)", "local only: warm, memory tier"}},
		{false, -1, []string{"local only: cold (render), memory off", "local only: warm, disk tier"}},
	}
	if bucketURL != "" {
		steps = append(steps,
			struct {
				bucket bool
				mem    int64
				gets   []string
			}{true, -1, []string{"bucket: cold, render on node A (+ PUT to bucket)"}},
			struct {
				bucket bool
				mem    int64
				gets   []string
			}{true, 0, []string{"bucket: cold on node B, from the bucket", "bucket: warm on node B, memory tier"}},
			struct {
				bucket bool
				mem    int64
				gets   []string
			}{true, -1, []string{"bucket: cold on node C, from the bucket (memory off)", "bucket: warm on node C, disk tier"}},
		)
	}
	var ids []fastimagecache.ID
	inBucket := false
	for _, s := range steps {
		c, err := open(s.bucket, s.mem)
		if err != nil {
			return err
		}
		if !s.bucket || !inBucket {
			if ids, err = putAll(c); err != nil {
				_ = c.Close()
				return err
			}
			inBucket = s.bucket
		}
		for _, name := range s.gets {
			if err := timeGets(name, c, ids); err != nil {
				_ = c.Close()
				return err
			}
		}
		if err := c.Close(); err != nil {
			return err
		}
	}
	if bucketURL != "" { // leave the bucket as it was
		c, err := open(true, 0)
		if err != nil {
			return err
		}
		for _, id := range ids {
			_ = c.Delete(ctx, id)
		}
		_ = c.Close()
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Get through each tier (%d photos)\tp50\tmax\n", len(photos))
	for _, r := range rows {
		slices.Sort(r.ds)
		fmt.Fprintf(tw, "%s\t%v\t%v\n", r.name, r.ds[len(r.ds)/2].Round(time.Microsecond), r.ds[len(r.ds)-1].Round(time.Microsecond))
	}
	return tw.Flush()
}
