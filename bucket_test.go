package fastimagecache

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/memblob"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// bucketKinds opens one memblob and one fileblob bucket, closed when the test ends.
func bucketKinds(t *testing.T) map[string]*blob.Bucket {
	t.Helper()
	fb, err := fileblob.OpenBucket(t.TempDir(), nil)
	require.NoError(t, err)
	mb := memblob.OpenBucket(nil)
	t.Cleanup(func() { _ = fb.Close(); _ = mb.Close() })
	return map[string]*blob.Bucket{"mem": mb, "file": fb}
}

// bucketNode is one server: its own dir, the shared bucket, no memory tier unless asked.
func bucketNode(t *testing.T, b *blob.Bucket, opts ...Option) *Cache {
	t.Helper()
	return newTestCache(t, append([]Option{WithBucket(b), WithMemoryCache(-1)}, opts...)...)
}

// bucketKeys lists the bucket's object keys.
func bucketKeys(t *testing.T, b *blob.Bucket) []string {
	t.Helper()
	var keys []string
	it := b.List(nil)
	for {
		o, err := it.Next(context.Background())
		if err != nil {
			break
		}
		keys = append(keys, o.Key)
	}
	return keys
}

func keysWith(keys []string, part string) (out []string) {
	for _, k := range keys {
		if strings.Contains(k, part) {
			out = append(out, k)
		}
	}
	return out
}

// TestBucketSharedAcrossNodes: a Put on A is served by B and C; what B renders C serves
// without decoding; a Delete on A is seen by B and C at once.
func TestBucketSharedAcrossNodes(t *testing.T) {
	ctx := context.Background()
	for name, b := range bucketKinds(t) {
		t.Run(name, func(t *testing.T) {
			a, nb, nc := bucketNode(t, b), bucketNode(t, b), bucketNode(t, b)
			src := fixture.JPEG(160, 120, 90)
			info := put(t, a, src)
			spec := Spec{Width: 40}
			for _, n := range []*Cache{a, nb, nc} { // every node knows it
				got, err := n.Stat(ctx, info.ID)
				require.NoError(t, err)
				assert.Equal(t, info, got)
			}
			decB, decC := countDecodes(nb), countDecodes(nc)
			r, err := nb.Get(ctx, info.ID, spec)
			require.NoError(t, err)
			fromB := readRendition(t, r)
			require.Equal(t, int32(1), decB.Load(), "B renders")
			r, err = nc.Get(ctx, info.ID, spec)
			require.NoError(t, err)
			assert.Equal(t, fromB, readRendition(t, r), "C serves B's bytes")
			assert.Zero(t, decC.Load(), "C must not decode what B rendered")
			assert.Equal(t, int64(1), nc.Stats().BucketHits)
			r, err = nc.Get(ctx, info.ID, spec) // now from C's own disk tier
			require.NoError(t, err)
			assert.Equal(t, fromB, readRendition(t, r))
			st := nc.Stats()
			assert.Equal(t, int64(1), st.DiskHits)
			assert.Equal(t, int64(1), st.BucketHits)
			assert.Zero(t, decC.Load())

			// Keys are hex under the fixed prefix only.
			for _, k := range bucketKeys(t, b) {
				assert.Regexp(t, `^fic1/(o|m)/[0-9a-f]{64}$|^fic1/r/[0-9a-f]{64}/[0-9a-f]{64}$`, k)
			}

			require.NoError(t, a.Delete(ctx, info.ID))
			assert.Empty(t, bucketKeys(t, b), "Delete leaves nothing in the bucket")
			for _, n := range []*Cache{nb, nc} {
				_, err := n.Get(ctx, info.ID, spec)
				assert.ErrorIs(t, err, ErrNotFound, "a Delete on A is seen by every node")
				_, err = n.Stat(ctx, info.ID)
				assert.ErrorIs(t, err, ErrNotFound)
			}
			assert.Zero(t, nc.Stats().Renditions, "C dropped its local copy of the deleted ID")
		})
	}
}

// TestBucketConcurrentPutStoresOnce: the same bytes put on three nodes at once are one
// original, one metadata object.
func TestBucketConcurrentPutStoresOnce(t *testing.T) {
	b := memblob.OpenBucket(nil)
	defer b.Close()
	nodes := []*Cache{bucketNode(t, b), bucketNode(t, b), bucketNode(t, b)}
	src := fixture.PNG(64, 48)
	errs := make(chan error, len(nodes))
	for _, n := range nodes {
		go func() { _, err := n.Put(context.Background(), bytes.NewReader(src)); errs <- err }()
	}
	for range nodes {
		require.NoError(t, <-errs)
	}
	keys := bucketKeys(t, b)
	assert.Len(t, keysWith(keys, "fic1/o/"), 1)
	assert.Len(t, keysWith(keys, "fic1/m/"), 1)
}

// TestBucketCorruptObjects: a damaged rendition in the bucket is never served but
// rendered again and rewritten; a damaged or oversized original is ErrCorrupt.
func TestBucketCorruptObjects(t *testing.T) {
	ctx := context.Background()
	for name, b := range bucketKinds(t) {
		t.Run(name, func(t *testing.T) {
			lim := WithLimits(Limits{MaxBytes: 1 << 20}) // a small cap: a "huge" object need not be big
			a := bucketNode(t, b, lim)
			src := fixture.JPEG(96, 64, 90)
			info := put(t, a, src)
			spec := Spec{Width: 32}
			r, err := a.Get(ctx, info.ID, spec)
			require.NoError(t, err)
			good := readRendition(t, r)
			rk := keysWith(bucketKeys(t, b), "fic1/r/")
			require.Len(t, rk, 1)

			for _, damage := range []func([]byte) []byte{
				func(o []byte) []byte { o = bytes.Clone(o); o[len(o)-1] ^= 0x40; return o }, // flipped
				func(o []byte) []byte { return o[:len(o)/2] },                               // truncated
				func([]byte) []byte { return make([]byte, 64<<20) },                         // huge
			} {
				obj, err := b.ReadAll(ctx, rk[0])
				require.NoError(t, err)
				require.NoError(t, b.WriteAll(ctx, rk[0], damage(obj), nil))
				fresh := bucketNode(t, b, lim) // empty local tier: must go to the bucket
				dec := countDecodes(fresh)
				r, err := fresh.Get(ctx, info.ID, spec)
				require.NoError(t, err)
				assert.Equal(t, good, readRendition(t, r), "served bytes are a fresh render, never the damaged object")
				assert.Equal(t, int32(1), dec.Load(), "rendered again")
				assert.Equal(t, int64(1), fresh.Stats().BucketCorrupt)
				fixed, err := b.ReadAll(ctx, rk[0])
				require.NoError(t, err)
				assert.Equal(t, obj, fixed, "the rendition was rewritten")
			}

			// The original: flipped, then huge. Neither is read as the image.
			ok := keysWith(bucketKeys(t, b), "fic1/o/")
			require.Len(t, ok, 1)
			for i, bad := range [][]byte{append(bytes.Clone(src[:len(src)-1]), src[len(src)-1]^1), make([]byte, 8<<20)} {
				spec := Spec{Width: 33 + i} // not rendered yet: needs the original
				require.NoError(t, b.WriteAll(ctx, ok[0], bad, nil))
				fresh := bucketNode(t, b, lim)
				_, err := fresh.Get(ctx, info.ID, spec)
				require.ErrorIs(t, err, ErrCorrupt)
				assert.NotContains(t, err.Error(), string(info.ID))
				// A Put of the true bytes repairs it.
				put(t, fresh, src)
				r, err := fresh.Get(ctx, info.ID, spec)
				require.NoError(t, err)
				readRendition(t, r)
			}
		})
	}
}

// TestBucketDownLocalTiersServe: while every bucket call fails, Gets the local tiers can
// answer still succeed and the rest fail with ErrStorage within their ctx; once the bucket
// is back everything works again.
func TestBucketDownLocalTiersServe(t *testing.T) {
	ctx := context.Background()
	b := memblob.OpenBucket(nil)
	defer b.Close()
	var down atomic.Bool
	faults := optionFunc(func(c *config) {
		c.bucketFaults = func(string) error {
			if down.Load() {
				return errors.New("connection refused")
			}
			return nil
		}
	})
	// A memory tier too small for the rendition, big enough for the metadata: the hit
	// while the bucket is down comes from the disk tier.
	n := bucketNode(t, b, faults, WithMemoryCache(16<<10))
	info := put(t, n, fixture.JPEG(200, 150, 90))
	r, err := n.Get(ctx, info.ID, Spec{Width: 150})
	require.NoError(t, err)
	want := readRendition(t, r)
	require.Greater(t, len(want), 16<<10/8)

	down.Store(true)
	r, err = n.Get(ctx, info.ID, Spec{Width: 150})
	require.NoError(t, err, "a local-tier hit works while the bucket is down")
	assert.Equal(t, want, readRendition(t, r))
	assert.Equal(t, int64(1), n.Stats().DiskHits)
	_, err = n.Get(ctx, info.ID, Spec{Width: 21})
	assert.ErrorIs(t, err, ErrStorage, "a miss needs the bucket")
	_, err = n.Put(ctx, bytes.NewReader(fixture.PNG(10, 10)))
	assert.ErrorIs(t, err, ErrStorage)
	assert.Positive(t, n.Stats().BucketErrors)
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = n.Stat(cctx, ID(strings.Repeat("a", 64)))
	assert.ErrorIs(t, err, ErrStorage)

	down.Store(false)
	r, err = n.Get(ctx, info.ID, Spec{Width: 21})
	require.NoError(t, err, "recovered")
	readRendition(t, r)
}

// TestBucketDeleteSeenThroughMemoryTier: a node holding the metadata and the rendition
// in memory still sees a Delete made on another node.
func TestBucketDeleteSeenThroughMemoryTier(t *testing.T) {
	ctx := context.Background()
	b := memblob.OpenBucket(nil)
	defer b.Close()
	a := newTestCache(t, WithBucket(b))
	other := newTestCache(t, WithBucket(b))
	info := put(t, a, fixture.JPEG(64, 48, 90))
	r, err := other.Get(ctx, info.ID, Spec{Width: 16})
	require.NoError(t, err)
	readRendition(t, r)
	r, err = other.Get(ctx, info.ID, Spec{Width: 16})
	require.NoError(t, err)
	readRendition(t, r)
	require.Equal(t, int64(1), other.Stats().MemoryHits, "the second Get came from memory")
	require.NoError(t, a.Delete(ctx, info.ID))
	_, err = other.Get(ctx, info.ID, Spec{Width: 16})
	assert.ErrorIs(t, err, ErrNotFound)
	_, err = other.Stat(ctx, info.ID)
	assert.ErrorIs(t, err, ErrNotFound)
}
