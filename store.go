package fastimagecache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// storage is the seam between the Cache and where bytes live: the local filesystem alone
// (diskStorage), or a bucket shared by many servers behind this node's local disk tier
// (bucketStorage). Keys are hex digests only: the ID (SHA-256 of an original) and a
// rendition key (SHA-256 of the ID and the canonical Spec). Implementations verify what
// they read back, never put a path, key or user string in an error, and return errors
// wrapping the package's sentinels: ErrNotFound (with errMetaMissing from OriginalMeta
// when only the metadata is missing), ErrCorrupt, ErrClosed, ErrStorage, or ctx's error.
type storage interface {
	PutOriginal(ctx context.Context, id string, data, meta []byte) (created bool, err error)
	Original(ctx context.Context, id string) ([]byte, error)
	OriginalMeta(ctx context.Context, id string) ([]byte, error)
	ReplaceMeta(ctx context.Context, id string, meta []byte) error
	Delete(ctx context.Context, id string) error
	// DropRenditions removes every rendition of id that this node can reach (its local
	// tier and the bucket), and nothing else; removing none is not an error.
	DropRenditions(ctx context.Context, id string) error
	PutRendition(ctx context.Context, id, key string, meta, payload []byte) error
	// OpenRendition opens a stored rendition; limit bounds a payload read over the network.
	OpenRendition(ctx context.Context, id, key string, limit int64) (*storedRendition, error)
	MarkUsed(id, key string) // a hit served from memory, for the LRU order; no I/O
	Verify(ctx context.Context) (storeReport, error)
	Stats() storeStats
	// Probe creates and removes a file where the store writes, to show it still can.
	Probe(ctx context.Context) error
	Close() error
}

// errMetaMissing marks, from OriginalMeta, an original present without its metadata.
var errMetaMissing = errors.New("metadata missing")

// tier says where a stored rendition was found.
type tier int

const (
	tierDisk tier = iota
	tierBucket
)

// tierName is how Outcome.Tier names each tier.
var tierName = [...]string{tierDisk: TierDisk, tierBucket: TierBucket}

// storedRendition is an open, verified rendition. The ReadSeekCloser reads the payload.
type storedRendition struct {
	io.ReadSeekCloser
	Meta    []byte
	Size    int64 // payload bytes
	ModTime time.Time
	Digest  [32]byte // SHA-256 of the payload
	Tier    tier
}

// storeStats are the storage's counters and gauges.
type storeStats struct {
	Originals      int
	OriginalBytes  int64
	Renditions     int
	RenditionBytes int64
	Evictions      int64
	BucketHits     int64 // renditions read from the bucket
	BucketErrors   int64 // bucket calls that failed (after retries)
	BucketCorrupt  int64 // bucket objects that failed verification
}

// storeReport is what Verify found.
type storeReport struct {
	Originals, Renditions int
	BadOriginals          []ID
	BadRenditions         []BadEntry
}

// storeErr names the failed operation. err comes from a storage (already wrapping a
// sentinel) or is an unexpected failure, which is reported as ErrStorage.
func storeErr(op string, err error) error {
	for _, s := range []error{ErrNotFound, ErrCorrupt, ErrClosed, ErrStorage, ErrTooLarge, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, s) {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	return fmt.Errorf("%s: %w: %w", op, ErrStorage, err)
}

// originalMeta is what is stored beside an original, so Stat and Get need not re-read it.
type originalMeta struct {
	Format Format `json:"format"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Frames int    `json:"frames"`
	Size   int64  `json:"size"`
	Alpha  bool   `json:"alpha"`
	// Purges counts Purges of the ID; it is part of every rendition key (see
	// renditionKey), so a Purge seen by a node makes it miss what it held before.
	Purges int64 `json:"purges,omitempty"`
	// Orientation is the EXIF orientation, 1..8; 0 in metadata written before it was
	// recorded, which readMeta rebuilds.
	Orientation int `json:"orientation,omitempty"`
	// Placeholder (a ThumbHash, base64) and Color ("#rrggbb") come from the proving decode
	// at Put; empty in metadata written before them, or rebuilt without a decode.
	Placeholder string `json:"placeholder,omitempty"`
	Color       string `json:"color,omitempty"`
}

func metaOf(h header, size int64) originalMeta {
	return originalMeta{Format: h.format, Width: h.width, Height: h.height, Frames: h.frames, Size: size, Alpha: h.alpha,
		Orientation: max(1, h.orientation)}
}

func (m originalMeta) info(id ID) Info {
	ow, oh := orientedSize(m.Width, m.Height, m.Orientation)
	return Info{ID: id, Format: m.Format, Width: m.Width, Height: m.Height, Frames: m.Frames, Size: m.Size,
		OrientedWidth: ow, OrientedHeight: oh, Placeholder: m.Placeholder, Color: m.Color}
}

func (m originalMeta) valid() bool {
	return m.Format.known() && m.Width > 0 && m.Height > 0 && m.Frames > 0 && m.Size > 0 &&
		m.Orientation >= 0 && m.Orientation <= 8 && m.Purges >= 0 && validPlaceholder(m.Placeholder, m.Color)
}

// loadMeta reads an original's metadata, from the memory tier when it has it (local
// storage only). Metadata that is missing or does not parse is
// rebuilt from the original itself (which the store verifies against its digest) and
// written back (see readMeta).
func (c *Cache) loadMeta(ctx context.Context, id ID) (originalMeta, error) {
	cached, ok := c.metas.Get(string(id))
	if ok && c.cfg.bucket == nil {
		return cached, nil
	}
	// With a bucket, another node may have deleted the ID: ask the bucket every time, and
	// fall back on what this node knows only while the bucket cannot be reached (for a
	// moment after a call found it down, without asking).
	if b, isB := c.store.(interface{ down() bool }); ok && isB && b.down() {
		return cached, nil
	}
	gen := c.deletes.Load()
	m, err := c.readMeta(ctx, id)
	if err != nil && ok && errors.Is(err, ErrStorage) {
		return cached, nil
	}
	// A Delete that ran meanwhile may have removed what was just read: cache only if none did.
	if err == nil && c.deletes.Load() == gen {
		c.metas.Add(string(id), string(id), m, metaSize)
	}
	return m, err
}

// metaSize is what one cached originalMeta counts against the memory tier.
const metaSize = 128

// readMeta reads an original's metadata from the store. When the original is present
// but its metadata is missing (a crash between the two, a file removed by hand) or does
// not parse, the metadata is rebuilt from the verified original and written back, so a
// stored image never looks absent. A failure to write it back is logged: the rebuilt
// metadata is still returned.
func (c *Cache) readMeta(ctx context.Context, id ID) (originalMeta, error) {
	raw, err := c.store.OriginalMeta(ctx, string(id))
	if err != nil && !errors.Is(err, errMetaMissing) {
		if errors.Is(err, ErrNotFound) {
			c.hot.RemoveOwner(string(id))
			c.metas.RemoveOwner(string(id))
		}
		return originalMeta{}, storeErr("stat "+id.short(), err)
	}
	var m originalMeta
	if err == nil && json.Unmarshal(raw, &m) == nil && m.valid() {
		if m.Orientation != 0 {
			return m, nil
		}
		// Written before the orientation was recorded: rebuilt, keeping what it has.
	} else {
		m = originalMeta{}
	}
	// The rebuild reads, verifies and decodes the whole original: concurrent reads of
	// one ID share it, as concurrent Gets share a render. It outlives a caller that
	// stops waiting (Close waits for it).
	if c.hooks.metaRebuild != nil {
		c.hooks.metaRebuild()
	}
	ch := c.group.DoChan("meta:"+string(id), func() (any, error) {
		if err := c.enter(); err != nil {
			return nil, err
		}
		defer c.leave()
		return c.rebuildMeta(context.WithoutCancel(ctx), id, m)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return originalMeta{}, res.Err
		}
		return res.Val.(originalMeta), nil
	case <-ctx.Done():
		return originalMeta{}, fmt.Errorf("wait for metadata: %w", ctx.Err())
	}
}

// rebuildMeta rebuilds id's metadata from its verified original, keeping the purge
// count and placeholder of kept, what was read of the old metadata, and writes it back.
func (c *Cache) rebuildMeta(ctx context.Context, id ID, kept originalMeta) (originalMeta, error) {
	data, err := c.store.Original(ctx, string(id))
	if err != nil {
		if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNotFound) {
			c.hot.RemoveOwner(string(id))
		}
		return originalMeta{}, storeErr("read "+id.short(), err)
	}
	h, err := inspect(data, putConfig{}, c.lim)
	if err != nil {
		return originalMeta{}, err
	}
	m := metaOf(h, int64(len(data)))
	m.Purges, m.Placeholder, m.Color = kept.Purges, kept.Placeholder, kept.Color
	if m.Placeholder == "" && m.Color == "" {
		m.Placeholder, m.Color = c.rebuildPlaceholder(ctx, id, data, h)
	}
	raw, err := json.Marshal(m)
	if err == nil {
		err = c.store.ReplaceMeta(ctx, string(id), raw)
	}
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "metadata rebuilt but not stored",
			slog.String("id", id.short()), slog.String("reason", reasonOf(storeErr("", err))))
	} else {
		c.log.LogAttrs(ctx, slog.LevelInfo, "metadata rebuilt from the original", slog.String("id", id.short()))
	}
	return m, nil
}

// rebuildPlaceholder computes the placeholder of a stored original whose metadata is
// being rebuilt, by the same proving decode a Put runs (under the budget, the deadline
// and, with WithIsolation, in a worker). The metadata matters more than its placeholder:
// when that decode cannot run now (budget full, deadline), the placeholder is left empty
// and the failure logged; the next rebuild does not happen, as the metadata is written
// back, so an empty placeholder stays until the ID is Put again after a Delete.
func (c *Cache) rebuildPlaceholder(ctx context.Context, id ID, data []byte, h header) (hash, color string) {
	err := c.prepareCodecs(ctx, h.format, "", int64(cap(data)))
	var p placeholder
	if err == nil {
		p, err = c.proveAndRenderEager(ctx, data, h, nil)
	}
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "metadata rebuilt without its placeholder",
			slog.String("id", id.short()), slog.String("reason", reasonOf(err)))
		return "", ""
	}
	return p.hash, p.color
}

// renditionMeta is stored inside a rendition file.
type renditionMeta struct {
	Format Format `json:"format"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
}
