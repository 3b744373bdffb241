package fastimagecache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"
)

// Get returns the rendition of the image id described by spec, rendering and storing it
// on a miss. A hit is served from the store without waiting for memory budget. A miss
// decodes the stored original (verified against its ID) under the memory budget and
// DecodeTimeout, applies JPEG EXIF orientation, resizes, and encodes with this package's
// own encoder; concurrent Gets of the same missing rendition do that work once, and a
// caller whose ctx ends stops waiting without failing the others.
//
// Errors wrap ErrNotFound (no such id), ErrInvalidSpec (spec out of limits, or a malformed
// id), ErrCorrupt, ErrBusy, ErrStorage, ErrClosed, or the context's error. The caller must
// Close the returned Rendition.
//
// A Spec whose Format is Auto is resolved as GetAccept resolves it with an empty accept:
// to the source's own default format.
func (c *Cache) Get(ctx context.Context, id ID, spec Spec) (*Rendition, error) {
	return c.GetAccept(ctx, id, spec, "")
}

// GetAccept is Get for a Spec whose Format may be Auto: accept is the client's Accept
// header value (several header lines joined by commas). Auto becomes, for a still image,
// AVIF when accept names image/avif, else WebP when it names image/webp, else the source's
// own default (the source's format for JPEG, PNG and GIF; PNG for other sources with
// transparency, JPEG for other opaque ones); for an animation, WebP (animated) when accept
// names image/webp, else GIF. Wildcards ("*/*", "image/*") do not count, "q=0" refuses a
// type, and a malformed or oversized header counts as no Accept at all.
//
// The format is resolved before the rendition is named, so a source has at most three
// Auto renditions per Spec whatever headers clients send, and equivalent headers get the
// same rendition and ETag. Rendition.Format tells which format was served; an HTTP server
// must send "Vary: Accept" with every answer for an Auto Spec (Handler does). For any other
// Format, accept is ignored. Errors are those of Get.
func (c *Cache) GetAccept(ctx context.Context, id ID, spec Spec, accept string) (*Rendition, error) {
	if err := c.enter(); err != nil {
		return nil, err
	}
	defer c.leave()
	start := time.Now()
	c.count.gets.Add(1)
	ctx, ob := c.begin(ctx, OpGet)
	var o Outcome
	r, err := c.get(ctx, id, spec, accept, &o)
	ob.done(err, o)
	if err != nil {
		c.logReject(ctx, "get", err, slog.String("id", id.short()), slog.Duration("dur", time.Since(start)))
		return nil, err
	}
	return r, nil
}

// get is GetAccept without logging and counting. It fills in o what the Observer is
// told: the formats, and the tier of a hit.
func (c *Cache) get(ctx context.Context, id ID, spec Spec, accept string, o *Outcome) (*Rendition, error) {
	if _, err := ParseID(string(id)); err != nil {
		return nil, err
	}
	m, err := c.loadMeta(ctx, id)
	if err != nil {
		return nil, err
	}
	o.Format = m.Format
	cs, err := c.negotiate(spec, accept, m.info(id)).canonical(c.lim, m.info(id), m.Alpha)
	if err == nil {
		err = c.outputUsable(cs.Format)
	}
	if err != nil {
		return nil, err
	}
	o.Output = cs.Format
	key := m.renditionKey(id, cs)
	if rr, ok := c.hot.Get(key); ok {
		c.count.hits.Add(1)
		c.count.memoryHits.Add(1)
		c.store.MarkUsed(string(id), key)
		o.Tier = TierMemory
		return rr.open(), nil
	}
	if r, t, err := c.openStored(ctx, id, key, renditionBound(m, cs, c.lim)); err == nil {
		c.count.hits.Add(1)
		o.Tier = tierName[t]
		return r, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, storeErr("open rendition of "+id.short(), err)
	}
	c.count.misses.Add(1)
	// The codec's set-up, if this render is the process's first of its kind, runs on the
	// caller's context, before the shared render and its deadline start.
	if err := c.prepareCodecs(ctx, m.Format, cs.Format, 0); err != nil {
		return nil, err
	}
	if c.hooks.getMiss != nil {
		c.hooks.getMiss()
	}
	ch := c.group.DoChan(key, func() (any, error) {
		// The shared render outlives a caller that stops waiting: it counts as a call of
		// its own, so Close waits for it (queued for budget, rendering, or storing) and
		// it never touches the store after Close.
		if err := c.enter(); err != nil {
			return nil, err
		}
		defer c.leave()
		return c.renderAndStore(context.WithoutCancel(ctx), id, cs, key)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*renderResult).open(), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for rendition: %w", ctx.Err())
	}
}

// renditionKey names the rendition of id under canonical spec s: hex digits only.
func renditionKey(id ID, s Spec) string {
	sum := sha256.Sum256([]byte("fastimagecache rendition\x00" + string(id) + "\x00" + s.key()))
	return hex.EncodeToString(sum[:])
}

// renditionKey names the rendition of id, whose metadata is m, under canonical spec s:
// the package's renditionKey, made new by every Purge of id.
func (m originalMeta) renditionKey(id ID, s Spec) string {
	if m.Purges == 0 {
		return renditionKey(id, s)
	}
	sum := sha256.Sum256([]byte("fastimagecache rendition\x00" + string(id) + "\x00" + s.key() +
		"\x00purges=" + strconv.FormatInt(m.Purges, 10)))
	return hex.EncodeToString(sum[:])
}

// openStored opens a stored rendition; ErrNotFound means a miss. A rendition small
// enough for the memory tier is read whole and kept there.
func (c *Cache) openStored(ctx context.Context, id ID, key string, limit int64) (*Rendition, tier, error) {
	sr, err := c.store.OpenRendition(ctx, string(id), key, limit)
	if err != nil {
		return nil, 0, err
	}
	r, err := c.openStoredRendition(id, key, sr)
	return r, sr.Tier, err
}

// openStoredRendition is openStored once the store has opened sr.
func (c *Cache) openStoredRendition(id ID, key string, sr *storedRendition) (*Rendition, error) {
	if sr.Tier == tierDisk {
		c.count.diskHits.Add(1)
	}
	var m renditionMeta
	if err := json.Unmarshal(sr.Meta, &m); err != nil || !m.Format.known() {
		_ = sr.Close()
		return nil, ErrNotFound // not ours: render again
	}
	if sr.Size <= c.cfg.memoryBytes/8 {
		data, err := io.ReadAll(io.LimitReader(sr, sr.Size+1))
		_ = sr.Close() // read-only
		if err != nil || int64(len(data)) != sr.Size {
			return nil, ErrNotFound
		}
		rr := &renderResult{out: rendered{data: data, format: m.Format, width: m.Width, height: m.Height}, digest: sr.Digest, modTime: sr.ModTime}
		c.hot.Add(key, string(id), rr, int64(len(data)))
		return rr.open(), nil
	}
	return &Rendition{
		ReadSeekCloser: sr.ReadSeekCloser,
		ContentType:    m.Format.ContentType(),
		Format:         m.Format,
		ETag:           etag(sr.Digest),
		Size:           sr.Size,
		Width:          m.Width,
		Height:         m.Height,
		ModTime:        sr.ModTime,
	}, nil
}

func etag(digest [32]byte) string { return `"` + hex.EncodeToString(digest[:16]) + `"` }

// renderResult is the shared outcome of one render, handed to every waiting Get.
type renderResult struct {
	out     rendered
	digest  [32]byte
	modTime time.Time
}

func (r *renderResult) open() *Rendition {
	return &Rendition{
		ReadSeekCloser: nopCloser{bytes.NewReader(r.out.data)},
		ContentType:    r.out.format.ContentType(),
		Format:         r.out.format,
		ETag:           etag(r.digest),
		Size:           int64(len(r.out.data)),
		Width:          r.out.width,
		Height:         r.out.height,
		ModTime:        r.modTime,
	}
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// renderAndStore renders id under s and stores the result. It runs once per key however
// many Gets wait for it, on a context that no single caller can cancel, bounded by twice
// DecodeTimeout (waiting for budget, then decoding).
func (c *Cache) renderAndStore(ctx context.Context, id ID, s Spec, key string) (res *renderResult, err error) {
	defer func() {
		if p := recover(); p != nil {
			c.log.LogAttrs(ctx, slog.LevelError, "render panic recovered", slog.String("id", id.short()))
			res, err = nil, fmt.Errorf("render %s: %w", id.short(), ErrCorrupt)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, 2*c.lim.DecodeTimeout)
	defer cancel()
	return c.renderOriginal(ctx, id, s, key)
}

// renderStoreData renders the original data of id, inspected as h, to the canonical spec
// s under the memory budget, and stores the rendition under key.
func (c *Cache) renderStoreData(ctx context.Context, id ID, data []byte, h header, s Spec, key string) (*renderResult, error) {
	if err := c.prepareCodecs(ctx, h.format, s.Format, int64(cap(data))); err != nil {
		return nil, err
	}
	var out rendered
	need := c.renderNeed(h, s, len(data))
	err := c.runHolding(ctx, need, int64(cap(data)), func(ctx context.Context) error {
		var err error
		out, err = c.renderImage(ctx, data, h, s)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c.storeRendition(ctx, id, key, out)
}

// storeRendition stores out as the rendition key of id, and keeps it in the memory tier.
func (c *Cache) storeRendition(ctx context.Context, id ID, key string, out rendered) (*renderResult, error) {
	meta, err := json.Marshal(renditionMeta{Format: out.format, Width: out.width, Height: out.height})
	if err != nil {
		return nil, fmt.Errorf("encode rendition metadata: %w: %w", ErrStorage, err)
	}
	sctx, ob := c.begin(ctx, OpStore)
	err = c.store.PutRendition(sctx, string(id), key, meta, out.data)
	ob.done(err, Outcome{Output: out.format})
	if err != nil {
		return nil, storeErr("store rendition of "+id.short(), err)
	}
	rr := &renderResult{out: out, digest: sha256.Sum256(out.data), modTime: c.now()}
	c.hot.Add(key, string(id), rr, int64(len(out.data)))
	return rr, nil
}
