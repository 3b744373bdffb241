package fastimagecache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"
)

// Put reads an image from r and stores it. In order, before any pixel buffer exists, it
// reads at most Limits.MaxBytes (one byte more fails with ErrTooLarge, and the rest of r is
// never read); detects the format from magic bytes (ErrUnsupportedFormat) and checks it
// against DeclaredType (ErrTypeMismatch); and checks the header's dimensions, frame, scan,
// strip and tile counts against the limits (ErrDimensions). It then decodes the whole
// image once, under the memory budget and DecodeTimeout, to prove it is sound (ErrCorrupt,
// ErrBusy, or the context's error), and stores the bytes under their SHA-256.
//
// Putting the same bytes twice returns the same Info and stores them once; the second Put
// checks the header again under the current limits but does not decode again. Put is safe
// for concurrent use. A failed Put leaves everything stored before it intact.
func (c *Cache) Put(ctx context.Context, r io.Reader, opts ...PutOption) (Info, error) {
	if err := c.enter(); err != nil {
		return Info{}, err
	}
	defer c.leave()
	start := time.Now()
	c.count.puts.Add(1)
	var pc putConfig
	for _, o := range opts {
		o.applyPut(&pc)
	}
	info, _, err := c.putLogged(ctx, r, pc, start)
	return info, err
}

// putLogged runs the Put pipeline, logs a rejection, and reports whether the bytes were
// newly stored.
func (c *Cache) putLogged(ctx context.Context, r io.Reader, pc putConfig, start time.Time, attrs ...slog.Attr) (Info, bool, error) {
	info, h, n, created, err := c.ingest(ctx, r, pc)
	if err != nil {
		c.logReject(ctx, "put", err, append(attrs,
			slog.String("format", string(h.format)),
			slog.Int("width", h.width),
			slog.Int("height", h.height),
			slog.Int("frames", h.frames),
			slog.Int("bytes", n),
			slog.Duration("dur", time.Since(start)))...)
		return Info{}, false, err
	}
	return info, created, nil
}

// put is the Put pipeline without logging.
func (c *Cache) put(ctx context.Context, r io.Reader, pc putConfig) (Info, header, int, error) {
	info, h, n, _, err := c.ingest(ctx, r, pc)
	return info, h, n, err
}

// ingest is the Put pipeline, reported to the Observer as OpPut; created reports whether
// the bytes were newly stored.
func (c *Cache) ingest(ctx context.Context, r io.Reader, pc putConfig) (Info, header, int, bool, error) {
	ctx, ob := c.begin(ctx, OpPut)
	info, h, n, created, err := c.ingestObserved(ctx, r, pc)
	ob.done(err, Outcome{Format: h.format})
	return info, h, n, created, err
}

func (c *Cache) ingestObserved(ctx context.Context, r io.Reader, pc putConfig) (Info, header, int, bool, error) {
	data, err := readLimited(ctx, r, c.lim.MaxBytes)
	if err != nil {
		return Info{}, header{}, len(data), false, err
	}
	n := len(data)
	h, err := inspect(data, pc, c.lim)
	if err == nil {
		err = c.inputUsable(h.format)
	}
	if err != nil {
		return Info{}, h, n, false, err
	}
	id := idOf(data)
	// Ask the store, not the memory tier: an entry quarantined since must be stored again.
	if m, err := c.readMeta(ctx, id); err == nil {
		// Already stored, and proven sound then. Check the stored bytes still hash to the
		// ID: a damaged copy is quarantined by the store and replaced by this upload.
		_, err := c.store.Original(ctx, string(id))
		switch {
		case err == nil:
			return m.info(id), h, n, false, nil
		case errors.Is(err, ErrCorrupt), errors.Is(err, ErrNotFound):
			c.hot.RemoveOwner(string(id))
			c.metas.RemoveOwner(string(id))
		default:
			return Info{}, h, n, false, storeErr("read "+id.short(), err)
		}
	} else if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrCorrupt) {
		return Info{}, h, n, false, err
	}
	m := metaOf(h, int64(n))
	eager := c.eagerSpecs(id, m)
	if err := c.prepareCodecs(ctx, h.format, "", int64(cap(data))); err != nil {
		return Info{}, h, n, false, err
	}
	// The original is written and fsynced while it is proven, and published only after.
	st := c.startStage(ctx, id, data)
	ph, err := c.proveAndRenderEager(ctx, data, h, eager)
	if err != nil {
		st.discard()
		return Info{}, h, n, false, err
	}
	m.Placeholder, m.Color = ph.hash, ph.color
	raw, err := json.Marshal(m)
	if err != nil {
		st.discard()
		return Info{}, h, n, false, fmt.Errorf("encode metadata: %w: %w", ErrStorage, err)
	}
	sctx, sob := c.begin(ctx, OpStore)
	var created bool
	if st != nil {
		created, err = st.commit(sctx, raw)
	} else {
		created, err = c.store.PutOriginal(sctx, string(id), data, raw)
	}
	sob.done(err, Outcome{Format: h.format})
	if err != nil {
		return Info{}, h, n, false, storeErr("store "+id.short(), err)
	}
	c.storeEager(ctx, id, data, h, eager)
	return m.info(id), h, n, created, nil
}

// eagerRendition is one WithEagerRenditions Spec on its way through a Put.
type eagerRendition struct {
	spec Spec // canonical
	key  string
	out  rendered // with done, rendered from the proving decode
	err  error
	done bool
}

// eagerSpecs are the eager renditions of a new image id with metadata m: those its
// canonical Specs allow, each once. An Auto Spec stands for every format it can
// negotiate for the image (see Spec.variants).
func (c *Cache) eagerSpecs(id ID, m originalMeta) []eagerRendition {
	var out []eagerRendition
	for _, s := range c.cfg.eager {
		for _, s := range s.variants(m.info(id)) {
			cs, err := s.canonical(c.lim, m.info(id), m.Alpha)
			if err != nil || c.outputUsable(cs.Format) != nil {
				continue // as a Get of it would fail: nothing to render
			}
			key := m.renditionKey(id, cs)
			if !slices.ContainsFunc(out, func(e eagerRendition) bool { return e.key == key }) {
				out = append(out, eagerRendition{spec: cs, key: key})
			}
		}
	}
	return out
}

// fromProof reports whether the eager rendition s of an image with header h can be
// rendered from the proving decode's pixels (see reusable): in process, and, for a JPEG,
// at the proof's reduced scale.
func (c *Cache) fromProof(h header, s Spec) bool {
	return c.iso == nil && (h.format != JPEG || renderOpts(h, s).jpegScale == proveOpts.jpegScale)
}

// proveOpts is how much decoding proves an input sound at Put: every frame of an
// animation, and every scan of a JPEG entropy-decoded (the Huffman data is where a broken
// file breaks), but at 1/8 scale, where the inverse DCT is the DC coefficient alone and
// the planes are 1/64 of the full size.
var proveOpts = decodeOpts{allFrames: true, jpegScale: 8}

// putBytes is the memory a Put's proving decode reserves: the decoder's own estimate, the
// encoded input it reads from, a canvas for a GIF's first frame, and a fixed overhead.
func putBytes(h header, inputBytes int) int64 {
	n := h.decodeBytesFor(proveOpts) + int64(inputBytes) + decodeOverhead
	if h.format == GIF {
		n += 4 * int64(h.width) * int64(h.height)
	}
	return n
}
