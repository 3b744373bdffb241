package store

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// BenchmarkOpen100k times Open (index build) over 100,000 renditions spread
// over 1,000 originals. The files are laid out once, directly (no fsync), in
// the format PutRendition writes.
func BenchmarkOpen100k(b *testing.B) { benchOpen(b, 1000, 100) }

// BenchmarkOpen10k is BenchmarkOpen100k with a tenth of the originals: the
// ns/entry of the two show whether Open is linear in the entries.
func BenchmarkOpen10k(b *testing.B) { benchOpen(b, 100, 100) }

func benchOpen(b *testing.B, ids, perID int) {
	dir := b.TempDir()
	keys := make([]string, perID)
	for k := range keys {
		keys[k] = keyN(k)
	}
	meta := []byte(`{"w":64,"h":64}`)
	payload := payloadN(1, 256)
	hdr, _ := encodeHeader(meta, payload)
	file := append(hdr, payload...)
	for i := range ids {
		data := fmt.Appendf(nil, "bench-original-%d", i)
		id := hexID(data)
		if err := os.MkdirAll(fileOf(dir, originalDir(id)), 0o750); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(fileOf(dir, originalPath(id)), data, 0o640); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(fileOf(dir, metaPath(id)), meta, 0o640); err != nil {
			b.Fatal(err)
		}
		if err := os.MkdirAll(fileOf(dir, renditionDir(id)), 0o750); err != nil {
			b.Fatal(err)
		}
		for _, key := range keys {
			if err := os.WriteFile(fileOf(dir, renditionPath(id, key)), file, 0o640); err != nil {
				b.Fatal(err)
			}
		}
	}
	for b.Loop() {
		d, err := Open(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if st := d.Stats(); st.Renditions != ids*perID || st.Originals != ids {
			b.Fatalf("stats %+v", st)
		}
		if err := d.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(ids*perID), "ns/entry")
}

func benchRenditionStore(b *testing.B) (*Disk, string, string) {
	d := openStore(b, b.TempDir(), Options{MaxRenditionBytes: 1 << 30})
	id := putOrig(b, d, []byte("bench original"), nil)
	key := keyN(1)
	if err := d.PutRendition(context.Background(), id, key, []byte(`{"type":"image/webp"}`), payloadN(1, 2048)); err != nil {
		b.Fatal(err)
	}
	return d, id, key
}

// BenchmarkOpenRendition times the hit path: open, parse, verify a 2 KiB
// payload, mark used, close.
func BenchmarkOpenRendition(b *testing.B) {
	d, id, key := benchRenditionStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r, err := d.OpenRendition(ctx, id, key)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenRenditionParallel is the hit path under contention.
func BenchmarkOpenRenditionParallel(b *testing.B) {
	d, id, key := benchRenditionStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r, err := d.OpenRendition(ctx, id, key)
			if err != nil {
				b.Error(err)
				return
			}
			_ = r.Close()
		}
	})
}
