package fastimagecache

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// TestS3RoundTrip: one node against versitygw: Put, Get, a second node reads it from the
// bucket, Delete removes every object.
func TestS3RoundTrip(t *testing.T) {
	v := startVersitygw(t)
	b := v.open()
	ctx := context.Background()
	a, c := bucketNode(t, b), bucketNode(t, b)
	src := fixture.JPEG(120, 90, 90)
	info := put(t, a, src)
	r, err := a.Get(ctx, info.ID, Spec{Width: 50})
	require.NoError(t, err)
	want := readRendition(t, r)
	dec := countDecodes(c)
	r, err = c.Get(ctx, info.ID, Spec{Width: 50})
	require.NoError(t, err)
	assert.True(t, bytes.Equal(want, readRendition(t, r)))
	assert.Zero(t, dec.Load())
	assert.Equal(t, int64(1), c.Stats().BucketHits)
	require.NoError(t, a.Delete(ctx, info.ID))
	assert.Empty(t, bucketKeys(t, b))
	_, err = c.Get(ctx, info.ID, Spec{Width: 50})
	assert.ErrorIs(t, err, ErrNotFound)
}
