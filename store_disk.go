package fastimagecache

import (
	"context"
	"errors"
	"fmt"

	"github.com/fastimagecache/fastimagecache/internal/store"
)

// diskStorage is the local-only storage: internal/store's Disk, its errors mapped onto the
// package's sentinels.
type diskStorage struct{ d *store.Disk }

// openDisk opens the local store; errors carry no absolute path. detached opens it as the
// rendition tier in front of a bucket (renditions need no local original).
func openDisk(dir string, cfg config, detached bool) (*store.Disk, error) {
	d, err := store.Open(dir, store.Options{MaxRenditionBytes: cfg.maxStoreBytes, Logger: cfg.logger, Faults: cfg.storeFaults, Detached: detached})
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("open store: %w", ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open store: %w: %w", ErrStorage, err)
	}
	return d, nil
}

// openDiskStore opens the local-only storage.
func openDiskStore(dir string, cfg config) (storage, error) {
	d, err := openDisk(dir, cfg, false)
	if err != nil {
		return nil, err
	}
	return diskStorage{d}, nil
}

// diskErr maps a store failure onto the package's sentinels (nil stays nil).
func diskErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrMetaMissing):
		return fmt.Errorf("%w: %w", ErrNotFound, errMetaMissing)
	case errors.Is(err, store.ErrNotExist), errors.Is(err, store.ErrInvalidKey):
		return ErrNotFound
	case errors.Is(err, store.ErrCorrupt):
		return fmt.Errorf("stored bytes fail verification: %w", ErrCorrupt)
	case errors.Is(err, store.ErrClosed):
		return ErrClosed
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("%w: %w", ErrStorage, err)
}

func (s diskStorage) PutOriginal(ctx context.Context, id string, data, meta []byte) (bool, error) {
	created, err := s.d.PutOriginal(ctx, id, data, meta)
	return created, diskErr(err)
}

func (s diskStorage) Original(ctx context.Context, id string) ([]byte, error) {
	b, err := s.d.Original(ctx, id)
	return b, diskErr(err)
}

func (s diskStorage) OriginalMeta(ctx context.Context, id string) ([]byte, error) {
	b, err := s.d.OriginalMeta(ctx, id)
	return b, diskErr(err)
}

func (s diskStorage) ReplaceMeta(ctx context.Context, id string, meta []byte) error {
	return diskErr(s.d.ReplaceMeta(ctx, id, meta))
}

func (s diskStorage) Delete(ctx context.Context, id string) error {
	return diskErr(s.d.Delete(ctx, id))
}

func (s diskStorage) DropRenditions(ctx context.Context, id string) error {
	return diskErr(s.d.DropRenditions(ctx, id))
}

func (s diskStorage) PutRendition(ctx context.Context, id, key string, meta, payload []byte) error {
	return diskErr(s.d.PutRendition(ctx, id, key, meta, payload))
}

func (s diskStorage) OpenRendition(ctx context.Context, id, key string, _ int64) (*storedRendition, error) {
	return openDiskRendition(ctx, s.d, id, key)
}

// openDiskRendition opens a rendition of the local store d.
func openDiskRendition(ctx context.Context, d *store.Disk, id, key string) (*storedRendition, error) {
	r, err := d.OpenRendition(ctx, id, key)
	if err != nil {
		return nil, diskErr(err)
	}
	return &storedRendition{ReadSeekCloser: r.ReadSeekCloser, Meta: r.Meta, Size: r.Size, ModTime: r.ModTime, Digest: r.Digest, Tier: tierDisk}, nil
}

func (s diskStorage) MarkUsed(id, key string) { s.d.MarkUsed(id, key) }

func (s diskStorage) Verify(ctx context.Context) (storeReport, error) {
	return verifyDisk(ctx, s.d)
}

// verifyDisk runs the local store's Verify and converts its report.
func verifyDisk(ctx context.Context, d *store.Disk) (storeReport, error) {
	r, err := d.Verify(ctx)
	rep := storeReport{Originals: r.Originals, Renditions: r.Renditions}
	for _, id := range r.BadOriginals {
		rep.BadOriginals = append(rep.BadOriginals, ID(id))
	}
	for _, p := range r.BadRenditions {
		rep.BadRenditions = append(rep.BadRenditions, BadEntry{ID: ID(p[0]), Key: p[1]})
	}
	return rep, diskErr(err)
}

func (s diskStorage) Stats() storeStats { return diskStats(s.d) }

func diskStats(d *store.Disk) storeStats {
	st := d.Stats()
	return storeStats{Originals: st.Originals, OriginalBytes: st.OriginalBytes, Renditions: st.Renditions, RenditionBytes: st.RenditionBytes, Evictions: st.Evictions}
}

func (s diskStorage) Probe(ctx context.Context) error { return diskErr(s.d.Probe(ctx)) }

func (s diskStorage) Close() error { return s.d.Close() }
