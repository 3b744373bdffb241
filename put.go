package fastimagecache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/fastimagecache/fastimagecache/internal/store"
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
	var pc putConfig
	for _, o := range opts {
		o.applyPut(&pc)
	}
	info, h, n, err := c.put(ctx, r, pc)
	if err != nil {
		c.logReject(ctx, "put", err,
			slog.String("format", string(h.format)),
			slog.Int("width", h.width),
			slog.Int("height", h.height),
			slog.Int("frames", h.frames),
			slog.Int("bytes", n),
			slog.Duration("dur", time.Since(start)))
		return Info{}, err
	}
	return info, nil
}

func (c *Cache) put(ctx context.Context, r io.Reader, pc putConfig) (Info, header, int, error) {
	data, err := readLimited(ctx, r, c.lim.MaxBytes)
	if err != nil {
		return Info{}, header{}, len(data), err
	}
	h, err := inspect(data, pc, c.lim)
	if err != nil {
		return Info{}, h, len(data), err
	}
	id := idOf(data)
	if m, err := c.loadMeta(ctx, id); err == nil {
		return m.info(id), h, len(data), nil // already stored, and proven sound then
	} else if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrCorrupt) {
		return Info{}, h, len(data), err
	}
	need := putBytes(h, len(data))
	err = c.run(ctx, need, func(ctx context.Context) error {
		_, err := decodeImage(ctx, data, h, true)
		return err
	})
	if err != nil {
		return Info{}, h, len(data), err
	}
	m := metaOf(h, int64(len(data)))
	raw, err := json.Marshal(m)
	if err != nil {
		return Info{}, h, len(data), fmt.Errorf("encode metadata: %w: %w", ErrStorage, err)
	}
	if _, err := c.store.PutOriginal(ctx, string(id), data, raw); err != nil {
		if errors.Is(err, store.ErrNotExist) { // cannot happen for a put; keep the mapping honest
			err = fmt.Errorf("%w: %w", ErrStorage, err)
		}
		return Info{}, h, len(data), storeErr("store "+id.short(), err)
	}
	return m.info(id), h, len(data), nil
}

// putBytes is the memory a Put's proving decode reserves: the decoder's own estimate, the
// encoded input it reads from, a canvas for a GIF's first frame, and a fixed overhead.
func putBytes(h header, inputBytes int) int64 {
	n := h.decodeBytes + int64(inputBytes) + decodeOverhead
	if h.format == GIF {
		n += 4 * int64(h.width) * int64(h.height)
	}
	return n
}
