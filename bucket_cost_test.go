package fastimagecache

import (
	"context"
	"maps"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob/memblob"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// TestBucketRequestCosts pins the bucket requests each call makes (README "Many servers,
// one cache": costs), counted at the blobstore's request seam.
func TestBucketRequestCosts(t *testing.T) {
	ctx := context.Background()
	b := memblob.OpenBucket(nil)
	defer b.Close()
	var mu sync.Mutex
	count := map[string]int{}
	faults := optionFunc(func(c *config) {
		c.bucketFaults = func(op string) error {
			mu.Lock()
			count[op]++
			mu.Unlock()
			return nil
		}
	})
	take := func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		m := maps.Clone(count)
		clear(count)
		return m
	}
	a := bucketNode(t, b, faults)
	n := bucketNode(t, b, faults)
	src := fixture.JPEG(64, 48, 90)
	info := put(t, a, src)
	assert.Equal(t, map[string]int{"read": 1, "exists": 3, "write": 2}, take(), "Put of new bytes")
	put(t, a, src)
	assert.Equal(t, map[string]int{"read": 2}, take(), "Put of stored bytes (metadata, original verified)")
	r, err := a.Get(ctx, info.ID, Spec{Width: 20})
	require.NoError(t, err)
	readRendition(t, r)
	assert.Equal(t, map[string]int{"read": 4, "write": 1}, take(), "Get rendered nowhere yet")
	r, err = n.Get(ctx, info.ID, Spec{Width: 20})
	require.NoError(t, err)
	readRendition(t, r)
	assert.Equal(t, map[string]int{"read": 2}, take(), "cold Get of a rendition in the bucket")
	r, err = n.Get(ctx, info.ID, Spec{Width: 20})
	require.NoError(t, err)
	readRendition(t, r)
	assert.Equal(t, map[string]int{"read": 1}, take(), "Get served by a local tier: the metadata check")
	require.NoError(t, a.Delete(ctx, info.ID))
	assert.Equal(t, map[string]int{"exists": 1, "delete": 3, "list": 1}, take(), "Delete with one rendition")
}
