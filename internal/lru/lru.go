// Package lru is a byte-bounded least-recently-used cache, safe for concurrent use. The
// Cache keeps hot renditions and originals' metadata in memory with it, in front of the
// disk store.
package lru

import (
	"container/list"
	"sync"
)

// Cache maps string keys to values of V, each with a size in bytes and an owner (the ID
// of the original it derives from, so that all of one owner's entries can be dropped at
// once). The zero value is not usable; call New.
type Cache[V any] struct {
	max int64

	// mu guards everything below.
	mu      sync.Mutex
	used    int64
	ll      *list.List // front: most recently used
	items   map[string]*list.Element
	byOwner map[string]map[string]struct{}
}

type entry[V any] struct {
	key, owner string
	value      V
	size       int64
}

// New returns a cache holding at most maxBytes of entries. A maxBytes of zero or less
// makes a cache that holds nothing.
func New[V any](maxBytes int64) *Cache[V] {
	return &Cache[V]{max: maxBytes, ll: list.New(), items: map[string]*list.Element{}, byOwner: map[string]map[string]struct{}{}}
}

// Get returns the value under key and marks it used.
func (c *Cache[V]) Get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	c.ll.MoveToFront(el)
	return el.Value.(*entry[V]).value, true
}

// Add stores value under key, owned by owner, counting size bytes, and evicts the least
// recently used entries to stay within the bound. An entry larger than an eighth of the
// bound is not stored: one big rendition must not flush the whole tier.
func (c *Cache[V]) Add(key, owner string, value V, size int64) {
	if c.max <= 0 || size > c.max/8 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.removeLocked(el)
	}
	el := c.ll.PushFront(&entry[V]{key: key, owner: owner, value: value, size: size})
	c.items[key] = el
	if c.byOwner[owner] == nil {
		c.byOwner[owner] = map[string]struct{}{}
	}
	c.byOwner[owner][key] = struct{}{}
	c.used += size
	for c.used > c.max {
		c.removeLocked(c.ll.Back())
	}
}

// RemoveOwner drops every entry owned by owner.
func (c *Cache[V]) RemoveOwner(owner string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for key := range c.byOwner[owner] {
		c.removeLocked(c.items[key])
	}
}

// Len returns the number of entries and their total size.
func (c *Cache[V]) Len() (n int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items), c.used
}

func (c *Cache[V]) removeLocked(el *list.Element) {
	e := el.Value.(*entry[V])
	c.ll.Remove(el)
	delete(c.items, e.key)
	if keys := c.byOwner[e.owner]; keys != nil {
		delete(keys, e.key)
		if len(keys) == 0 {
			delete(c.byOwner, e.owner)
		}
	}
	c.used -= e.size
}
