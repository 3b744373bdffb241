package fastimagecache

// The durability tests of durability_test.go, run against a bucket-backed Cache (issue 15),
// on an in-process memblob or fileblob bucket. What applies and what does not:
//
//   - Corrupt rendition regenerated and rewritten, corrupt original never served
//     (ErrCorrupt), Put repairs a corrupt original: TestBucketCorruptObjects (bucket_test.go)
//     and TestDurabilityBucketMemoryTierForgetsQuarantinedOriginal below.
//   - Concurrent storm: TestDurabilityBucketStorm, across several Caches on one bucket.
//   - Quota flood of the local tier: TestDurabilityBucketQuotaFlood.
//   - Crash: TestCrashBucketKillLosesNoPut (crash_bucket_test.go).
//   - Not applicable: the disk-full tests (TestDurabilityDiskFullPut/Get) inject ENOSPC
//     into the local store's write steps; with a bucket, originals never touch the local
//     disk and a failing bucket write is covered by TestBucketDownLocalTiersServe and
//     s3_faults_test.go. TestDurabilityVerifyFindsBothKinds: Verify covers the local tier
//     only (the bucket's objects are verified on every read). TestCrashAtEveryWriteStep:
//     its steps are the local store's fsync/rename steps; a bucket write is one
//     whole-object put, so there are no steps between to crash at.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/fastimagecache/fastimagecache/internal/blobstore"
	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// bucketConsistent checks every object of b: keys only in the fixed layout, every original
// hashes to its name, every metadata object and rendition passes its framing check.
// It returns the IDs of the originals present.
func bucketConsistent(t *testing.T, b *blob.Bucket) map[ID]bool {
	t.Helper()
	bs := blobstore.New(b, blobstore.Options{})
	ids := map[ID]bool{}
	for _, k := range bucketKeys(t, b) {
		parts := strings.Split(k, "/")
		switch {
		case len(parts) == 3 && parts[0] == "fic1" && parts[1] == "o":
			raw, err := bs.Original(t.Context(), parts[2], 1<<30)
			if assert.NoError(t, err, "original %s", k) {
				ids[idOf(raw)] = true
			}
		case len(parts) == 3 && parts[0] == "fic1" && parts[1] == "m":
			_, err := bs.Meta(t.Context(), parts[2])
			assert.NoError(t, err, "metadata %s", k)
		case len(parts) == 4 && parts[0] == "fic1" && parts[1] == "r":
			_, _, err := bs.Rendition(t.Context(), parts[2], parts[3], 1<<30)
			assert.NoError(t, err, "rendition %s", k)
		case len(parts) == 3 && parts[0] == "fic1" && parts[1] == "q":
		default:
			t.Errorf("unexpected object %s", k)
		}
	}
	return ids
}

// TestDurabilityBucketStorm is TestDurabilityConcurrentStorm across three Caches on one
// bucket (memory tier on and off), each with a local quota small enough to evict all the
// time: goroutines Put, Get and Delete overlapping IDs on random nodes. The only error
// allowed is ErrNotFound; every successful Get returns bytes identical to a fresh render;
// afterwards every object in the bucket verifies, the local quotas held, each image Put
// again is served by every node, and deleting everything on one node leaves no original,
// metadata or rendition in the bucket and nothing served by any node.
func TestDurabilityBucketStorm(t *testing.T) {
	ref := newDurRef(t)
	for _, tier := range durTiers {
		t.Run(tier.name, func(t *testing.T) { testBucketStorm(t, ref, tier.opts) })
	}
}

func testBucketStorm(t *testing.T, ref *durRef, opts []Option) {
	srcs := [][]byte{fixture.PNG(48, 40), fixture.JPEG(56, 40, 80), fixture.GIF(40, 32, 2)}
	specs := []Spec{{}, {Width: 16}, {Width: 24, Format: PNG}, {Width: 20, Height: 20, Fit: Cover}, {Width: 30, Format: JPEG, Quality: 60}}
	want := make([][][]byte, len(srcs))
	var largest int
	for i, src := range srcs {
		for _, s := range specs {
			b := ref.render(src, s)
			want[i] = append(want[i], b)
			largest = max(largest, len(b))
		}
	}
	quota := int64(3 * (largest + 512) / 2)
	b := memblob.OpenBucket(nil)
	t.Cleanup(func() { _ = b.Close() })
	var nodes []*Cache
	for range 3 {
		nodes = append(nodes, newTestCache(t, append(append([]Option{WithBucket(b)}, opts...), WithMaxStoreBytes(quota))...))
	}
	ids := make([]ID, len(srcs))
	for i, src := range srcs {
		ids[i] = idOf(src)
	}

	const workers, ops = 6, 40
	var gets, notFound, overQuota atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, workers*ops)
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 15))
			for range ops {
				c := nodes[rng.IntN(len(nodes))]
				i := rng.IntN(len(srcs))
				var err error
				switch op := rng.IntN(10); {
				case op < 3:
					_, err = c.Put(t.Context(), bytes.NewReader(srcs[i]))
				case op < 9:
					k := rng.IntN(len(specs))
					var r *Rendition
					r, err = c.Get(t.Context(), ids[i], specs[k])
					if err == nil {
						got, rerr := io.ReadAll(r)
						r.Close()
						switch {
						case rerr != nil:
							err = rerr
						case !bytes.Equal(got, want[i][k]):
							err = fmt.Errorf("Get %d %+v: %d bytes differ from a fresh render (%d bytes)", i, specs[k], len(got), len(want[i][k]))
						default:
							gets.Add(1)
						}
					}
				default:
					err = c.Delete(t.Context(), ids[i])
				}
				if errors.Is(err, ErrNotFound) {
					notFound.Add(1)
				} else if err != nil {
					errc <- err
				}
				if c.store.Stats().RenditionBytes > quota {
					overQuota.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	evictions := func() (n int64) {
		for _, c := range nodes {
			n += c.store.Stats().Evictions
		}
		return n
	}
	t.Logf("%d good Gets, %d ErrNotFound, %d evictions in the storm", gets.Load(), notFound.Load(), evictions())
	assert.Zero(t, overQuota.Load(), "local renditions over quota")
	assert.Positive(t, gets.Load())
	bucketConsistent(t, b)

	// Quiesced: each image Put again on one node is whole, and every node serves every
	// rendition of it, within its quota (so the quotas are exercised whatever the storm's
	// interleaving was).
	for i, src := range srcs {
		durPut(t, nodes[i%len(nodes)], src)
		for _, n := range nodes {
			raw, err := n.store.Original(t.Context(), string(ids[i]))
			require.NoError(t, err)
			assert.True(t, bytes.Equal(src, raw))
			for k, s := range specs {
				durSameBytes(t, want[i][k], durGet(t, n, ids[i], s), "node serves %d %+v", i, s)
				assert.LessOrEqual(t, n.store.Stats().RenditionBytes, quota)
			}
		}
	}
	assert.Positive(t, evictions(), "the local quotas were exercised")
	// Deleting everything on one node leaves nothing in the bucket, and nothing served.
	for _, id := range ids {
		require.NoError(t, nodes[0].Delete(t.Context(), id))
	}
	assert.Empty(t, bucketKeys(t, b), "the bucket after deleting everything")
	for _, n := range nodes {
		for i, id := range ids {
			_, err := n.Get(t.Context(), id, specs[1])
			assert.ErrorIs(t, err, ErrNotFound, "Get %d after Delete", i)
		}
	}
}

// TestDurabilityBucketQuotaFlood is TestDurabilityQuotaFlood on a bucket-backed Cache: a
// flood of distinct renditions under a small WithMaxStoreBytes keeps the local tier
// within the quota (index and disk) and evicts, while nothing is lost: the original and
// every flood rendition are still in the bucket, served by a fresh node without a decode.
func TestDurabilityBucketQuotaFlood(t *testing.T) {
	ref := newDurRef(t)
	src := fixture.PNG(96, 72)
	hot, flood := durFloodSpecs()
	var largest, total int
	for _, s := range append(flood, hot) {
		n := len(ref.render(src, s))
		largest, total = max(largest, n), total+n
	}
	quota := int64(max(2*(largest+512), total/4))
	for name, b := range bucketKinds(t) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			c := openDur(t, dir, WithBucket(b), diskOnly, WithMaxStoreBytes(quota))
			info := durPut(t, c, src)
			for i, s := range append(flood, hot) {
				durSameBytes(t, ref.render(src, s), durGet(t, c, info.ID, s), "flood %d", i)
				require.LessOrEqual(t, c.store.Stats().RenditionBytes, quota, "index over quota after %d", i)
				require.LessOrEqual(t, durRenditionBytesOnDisk(t, dir), quota, "disk over quota after %d", i)
			}
			require.Positive(t, c.store.Stats().Evictions, "the flood evicted locally")
			assert.Empty(t, durFiles(t, dir, "o"), "no original on the local disk")

			fresh := bucketNode(t, b)
			dec := countDecodes(fresh)
			raw, err := fresh.store.Original(t.Context(), string(info.ID))
			require.NoError(t, err, "the original is in the bucket")
			assert.True(t, bytes.Equal(src, raw))
			for i, s := range append(flood, hot) {
				durSameBytes(t, ref.render(src, s), durGet(t, fresh, info.ID, s), "from the bucket %d", i)
			}
			assert.Zero(t, dec.Load(), "every rendition evicted locally is still in the bucket")
			assert.Equal(t, int64(len(flood)+1), fresh.Stats().BucketHits)
			bucketConsistent(t, b)
		})
	}
}

// TestDurabilityBucketMemoryTierForgetsQuarantinedOriginal is
// TestDurabilityCorruptOriginalIsNeverServed and
// TestDurabilityMemoryTierForgetsQuarantinedOriginal with a bucket: once a Get found the
// original in the bucket corrupt (ErrCorrupt), the ID is gone for every node, as on the
// local store: Stat, Get of a rendition made before (from memory, the local disk or the
// bucket) and Delete return ErrNotFound, on this node (memory tier on) and on another;
// and a Put of the same bytes stores them again in the bucket (not a lost write).
func TestDurabilityBucketMemoryTierForgetsQuarantinedOriginal(t *testing.T) {
	ref := newDurRef(t)
	src := fixture.PNG(80, 60)
	cached := Spec{Width: 32}
	for name, b := range bucketKinds(t) {
		t.Run(name, func(t *testing.T) {
			c := newTestCache(t, WithBucket(b))
			other := bucketNode(t, b) // holds the rendition on its local disk
			info := durPut(t, c, src)
			durGet(t, c, info.ID, cached)
			durGet(t, other, info.ID, cached)
			ok := keysWith(bucketKeys(t, b), "fic1/o/")
			require.Len(t, ok, 1)
			bad := bytes.Clone(src)
			bad[len(bad)/2] ^= 1
			require.NoError(t, b.WriteAll(t.Context(), ok[0], bad, nil))

			_, err := c.Get(t.Context(), info.ID, Spec{Width: 20})
			require.ErrorIs(t, err, ErrCorrupt)
			_, err = c.store.Original(t.Context(), string(info.ID))
			require.ErrorIs(t, err, ErrNotFound, "the bad original is moved aside")
			for _, n := range []*Cache{c, other} {
				_, err = n.Stat(t.Context(), info.ID)
				assert.ErrorIs(t, err, ErrNotFound, "Stat after detection")
				r, err := n.Get(t.Context(), info.ID, cached)
				if !assert.ErrorIs(t, err, ErrNotFound, "Get of an earlier rendition after detection") {
					r.Close()
				}
			}
			assert.ErrorIs(t, other.Delete(t.Context(), info.ID), ErrNotFound)
			assert.Empty(t, keysWith(bucketKeys(t, b), "fic1/r/"), "its renditions go with it")
			assert.Empty(t, keysWith(bucketKeys(t, b), "fic1/m/"), "and its metadata")
			assert.Len(t, keysWith(bucketKeys(t, b), "fic1/q/"), 1, "the bad bytes are kept aside")

			durPut(t, c, src)
			raw, err := b.ReadAll(t.Context(), ok[0])
			require.NoError(t, err, "a Put that reported success stored the bytes in the bucket")
			assert.True(t, bytes.Equal(src, raw))
			fresh := bucketNode(t, b)
			durSameBytes(t, ref.render(src, Spec{Width: 20}), durGet(t, fresh, info.ID, Spec{Width: 20}))
			bucketConsistent(t, b)
		})
	}
}
