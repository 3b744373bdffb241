package lru

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEvictsLeastRecentlyUsedWithinBound(t *testing.T) {
	c := New[string](800)
	for i := range 8 {
		c.Add(fmt.Sprint(i), "o", fmt.Sprint("v", i), 100)
	}
	_, ok := c.Get("0") // refresh 0
	require.True(t, ok)
	c.Add("8", "o", "v8", 100)
	_, ok = c.Get("1")
	assert.False(t, ok, "least recently used not evicted")
	v, ok := c.Get("0")
	assert.True(t, ok)
	assert.Equal(t, "v0", v)
	n, b := c.Len()
	assert.Equal(t, 8, n)
	assert.Equal(t, int64(800), b)
}

func TestTooBigIsNotStored(t *testing.T) {
	c := New[int](800)
	c.Add("big", "o", 1, 101)
	_, ok := c.Get("big")
	assert.False(t, ok)
	c.Add("ok", "o", 1, 100)
	_, ok = c.Get("ok")
	assert.True(t, ok)
	z := New[int](0)
	z.Add("x", "o", 1, 0)
	_, ok = z.Get("x")
	assert.False(t, ok, "a zero-size cache holds nothing")
}

func TestRemoveOwnerAndReplace(t *testing.T) {
	c := New[int](1000)
	c.Add("a1", "a", 1, 10)
	c.Add("a2", "a", 2, 10)
	c.Add("b1", "b", 3, 10)
	c.Add("a1", "a", 4, 20) // replace keeps sizes right
	_, b := c.Len()
	assert.Equal(t, int64(40), b)
	c.RemoveOwner("a")
	_, ok := c.Get("a1")
	assert.False(t, ok)
	_, ok = c.Get("a2")
	assert.False(t, ok)
	v, ok := c.Get("b1")
	assert.True(t, ok)
	assert.Equal(t, 3, v)
	n, b := c.Len()
	assert.Equal(t, 1, n)
	assert.Equal(t, int64(10), b)
}

func TestConcurrent(t *testing.T) {
	c := New[int](5000)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				k := fmt.Sprint(i % 97)
				c.Add(k, fmt.Sprint(i%5), i, int64(i%50))
				c.Get(k)
				if i%101 == g {
					c.RemoveOwner(fmt.Sprint(i % 5))
				}
			}
		})
	}
	wg.Wait()
	_, b := c.Len()
	assert.LessOrEqual(t, b, int64(5000))
}
