package fastimagecache

import (
	"context"
)

// renderOriginal renders the stored original of id to the canonical spec s and stores
// the rendition under key, without ever holding the original's bytes outside the memory
// budget. The original's size is known from its metadata, so that much is reserved
// before it is read; once its header says what the render needs, the reservation is
// extended to that without waiting (tryReserve: a holder that waited could wait for
// other holders forever). When the budget cannot extend it now, the bytes and the
// reservation are given back, and the whole render's reservation is waited for holding
// neither, before the original is read again under it.
func (c *Cache) renderOriginal(ctx context.Context, id ID, s Spec, key string) (*renderResult, error) {
	m, err := c.loadMeta(ctx, id)
	if err != nil {
		return nil, err
	}
	readRelease, err := c.budget.reserve(ctx, m.Size)
	if err != nil {
		return nil, err
	}
	handedOff := false // to runHeld, which releases it when the render has returned
	defer func() {
		if !handedOff {
			readRelease() // idempotent; also on a panic, which renderAndStore recovers
		}
	}()
	data, h, err := c.readOriginal(ctx, id)
	if err != nil {
		return nil, err
	}
	need := c.renderNeed(h, s, len(data))
	var out rendered
	if more, ok := c.budget.tryReserve(need - m.Size); ok {
		release := func() { more(); readRelease() }
		handedOff = true
		err = c.runHeld(ctx, release, func(ctx context.Context) error {
			var err error
			out, err = c.renderImage(ctx, data, h, s)
			return err
		})
	} else {
		readRelease()
		data = nil // nothing of it is held while waiting
		err = c.run(ctx, need, func(ctx context.Context) error {
			data, h, err := c.readOriginal(ctx, id)
			if err != nil {
				return err
			}
			out, err = c.renderImage(ctx, data, h, s)
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	return c.storeRendition(ctx, id, key, out)
}

// readOriginal reads and inspects the stored original of id. The store verifies it
// against its digest; a missing or quarantined one is forgotten by the memory tier.
func (c *Cache) readOriginal(ctx context.Context, id ID) ([]byte, header, error) {
	data, err := c.store.Original(ctx, string(id))
	if err != nil {
		// Gone or quarantined: forget what the memory tier knows of it.
		c.hot.RemoveOwner(string(id))
		c.metas.RemoveOwner(string(id))
		return nil, header{}, storeErr("read "+id.short(), err)
	}
	h, err := inspect(data, putConfig{}, c.lim)
	if err != nil {
		return nil, header{}, err
	}
	return data, h, nil
}
