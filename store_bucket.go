package fastimagecache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"gocloud.dev/blob"

	"github.com/fastimagecache/fastimagecache/internal/blobstore"
	"github.com/fastimagecache/fastimagecache/internal/store"
)

// WithBucket keeps the cache's shared state in b, so that many servers can serve one set
// of images: originals, their metadata and every rendition live in the bucket, and the
// dir given to New stays this node's local tier (renditions on disk under the
// WithMaxStoreBytes quota, LRU, and the memory tier). The read path is memory, then local
// disk, then the bucket; a rendition rendered on any node is written to the bucket, so the
// others fetch it instead of decoding again. Object keys are hex digests under a fixed
// prefix ("fic1/"); every object read is capped and verified before use. A Get or Stat
// checks the bucket for the original's metadata on every call (so a Delete on any node is
// seen at once by all), and serves from the local tiers what they hold when the bucket
// cannot be reached. The Cache does not close b. The library imports no bucket driver:
// open b with gocloud.dev/blob and the driver of your choice.
func WithBucket(b *blob.Bucket) Option {
	return optionFunc(func(c *config) { c.bucket = b })
}

// bucketStorage is a shared bucket behind this node's local disk tier of renditions.
type bucketStorage struct {
	local    *store.Disk // Detached: renditions only
	remote   *blobstore.Store
	maxBytes int64 // Limits.MaxBytes: the cap on an original read
	log      *slog.Logger
	now      func() time.Time

	hits, errs, corrupt atomic.Int64
	// downUntil (unix ns): after a call found the bucket unavailable, lookups of metadata
	// this node already holds skip the bucket until then, so local-tier hits stay fast.
	downUntil atomic.Int64
}

// bucketPause is how long lookups trust this node's metadata after the bucket failed.
const bucketPause = 5 * time.Second

// down reports whether the bucket failed within the last bucketPause.
func (s *bucketStorage) down() bool { return s.now().UnixNano() < s.downUntil.Load() }

func openBucketStore(dir string, cfg config, lim Limits) (storage, error) {
	d, err := openDisk(dir, cfg, true)
	if err != nil {
		return nil, err
	}
	return &bucketStorage{
		local:    d,
		remote:   blobstore.New(cfg.bucket, blobstore.Options{Faults: cfg.bucketFaults}),
		maxBytes: lim.MaxBytes,
		log:      cfg.logger,
		now:      time.Now,
	}, nil
}

// bucketErr maps a blobstore failure onto the package's sentinels, counting failures.
func (s *bucketStorage) bucketErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, blobstore.ErrNotExist), errors.Is(err, blobstore.ErrInvalidKey):
		return ErrNotFound
	case errors.Is(err, blobstore.ErrCorrupt), errors.Is(err, blobstore.ErrTooLarge):
		s.corrupt.Add(1)
		return fmt.Errorf("stored bytes fail verification: %w", ErrCorrupt)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		s.errs.Add(1)
		return fmt.Errorf("shared storage: %w: %w", ErrStorage, err)
	}
	s.errs.Add(1)
	if errors.Is(err, blobstore.ErrUnavailable) {
		s.downUntil.Store(s.now().Add(bucketPause).UnixNano())
	}
	return fmt.Errorf("shared storage: %w: %w", ErrStorage, err)
}

func (s *bucketStorage) PutOriginal(ctx context.Context, id string, data, meta []byte) (bool, error) {
	created, err := s.remote.PutOriginal(ctx, id, data, meta)
	return created, s.bucketErr(err)
}

// Original reads the original from the bucket, at most MaxBytes, verified against id. A
// damaged one is moved aside (so that a Put of the same bytes stores it again), its
// metadata and renditions are removed as the local store removes them (the ID is then
// gone for every node, not half there), and it is reported as ErrCorrupt.
func (s *bucketStorage) Original(ctx context.Context, id string) ([]byte, error) {
	data, err := s.remote.Original(ctx, id, s.maxBytes)
	if errors.Is(err, blobstore.ErrCorrupt) || errors.Is(err, blobstore.ErrTooLarge) {
		s.log.LogAttrs(ctx, slog.LevelError, "shared original failed verification; quarantined",
			slog.String("id", ID(id).short()))
		if qerr := s.remote.QuarantineOriginal(ctx, id); qerr != nil {
			s.log.LogAttrs(ctx, slog.LevelError, "cannot quarantine shared original", slog.String("id", ID(id).short()))
		} else if derr := s.remote.Delete(ctx, id); derr != nil && !errors.Is(derr, blobstore.ErrNotExist) {
			s.log.LogAttrs(ctx, slog.LevelError, "cannot remove quarantined original's entry", slog.String("id", ID(id).short()))
		} // every node's local renditions go when it next looks the ID up (OriginalMeta)
	}
	return data, s.bucketErr(err)
}

// OriginalMeta reads the metadata from the bucket. When the ID is gone from the bucket
// (deleted on another node), this node's renditions of it are dropped too.
func (s *bucketStorage) OriginalMeta(ctx context.Context, id string) ([]byte, error) {
	m, err := s.remote.Meta(ctx, id)
	if err == nil {
		return m, nil
	}
	if !errors.Is(err, blobstore.ErrNotExist) && !errors.Is(err, blobstore.ErrCorrupt) {
		return nil, s.bucketErr(err)
	}
	ok, xerr := s.remote.OriginalExists(ctx, id)
	if xerr != nil {
		return nil, s.bucketErr(xerr)
	}
	if ok {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, errMetaMissing)
	}
	if derr := s.local.DropRenditions(ctx, id); derr != nil && !errors.Is(derr, store.ErrInvalidKey) {
		return nil, diskErr(derr)
	}
	return nil, ErrNotFound
}

func (s *bucketStorage) ReplaceMeta(ctx context.Context, id string, meta []byte) error {
	return s.bucketErr(s.remote.ReplaceMeta(ctx, id, meta))
}

// Delete removes the original, its metadata and renditions from the bucket, then this
// node's renditions of it (other nodes drop theirs when they next look the ID up).
func (s *bucketStorage) Delete(ctx context.Context, id string) error {
	err := s.remote.Delete(ctx, id)
	if err != nil && !errors.Is(err, blobstore.ErrNotExist) {
		return s.bucketErr(err)
	}
	if derr := s.local.DropRenditions(ctx, id); derr != nil {
		return diskErr(derr)
	}
	return s.bucketErr(err)
}

// DropRenditions removes the renditions of id from the bucket, then from this node's
// local tier.
func (s *bucketStorage) DropRenditions(ctx context.Context, id string) error {
	if err := s.remote.RemoveRenditions(ctx, id); err != nil {
		return s.bucketErr(err)
	}
	return diskErr(s.local.DropRenditions(ctx, id))
}

// PutRendition writes the rendition to the bucket (for every node), then to the local tier.
func (s *bucketStorage) PutRendition(ctx context.Context, id, key string, meta, payload []byte) error {
	if err := s.remote.PutRendition(ctx, id, key, meta, payload); err != nil {
		return s.bucketErr(err)
	}
	s.keepLocal(ctx, id, key, meta, payload)
	return nil
}

// keepLocal stores a rendition in the local tier; failing to is logged, not an error: the
// bucket has it.
func (s *bucketStorage) keepLocal(ctx context.Context, id, key string, meta, payload []byte) {
	if err := s.local.PutRendition(ctx, id, key, meta, payload); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "rendition not kept in the local tier",
			slog.String("id", ID(id).short()), slog.String("reason", reasonOf(diskErr(err))))
	}
}

// OpenRendition looks in the local tier, then in the bucket (payload at most limit
// bytes). A rendition read from the bucket is kept in the local tier. One that fails
// verification is removed from the bucket and reported as a miss, so it is rendered again
// and rewritten.
func (s *bucketStorage) OpenRendition(ctx context.Context, id, key string, limit int64) (*storedRendition, error) {
	r, err := openDiskRendition(ctx, s.local, id, key)
	if err == nil || !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrCorrupt) {
		return r, err
	}
	meta, payload, err := s.remote.Rendition(ctx, id, key, limit)
	switch {
	case err == nil:
	case errors.Is(err, blobstore.ErrCorrupt), errors.Is(err, blobstore.ErrTooLarge):
		s.corrupt.Add(1)
		s.log.LogAttrs(ctx, slog.LevelError, "shared rendition failed verification; rendering it again",
			slog.String("id", ID(id).short()))
		_ = s.remote.RemoveRendition(ctx, id, key) // rewritten by the render in any case
		return nil, ErrNotFound
	default:
		return nil, s.bucketErr(err)
	}
	s.hits.Add(1)
	s.keepLocal(ctx, id, key, meta, payload)
	return &storedRendition{
		ReadSeekCloser: nopCloser{bytes.NewReader(payload)},
		Meta:           meta,
		Size:           int64(len(payload)),
		ModTime:        s.now(),
		Digest:         sha256.Sum256(payload),
		Tier:           tierBucket,
	}, nil
}

func (s *bucketStorage) MarkUsed(id, key string) { s.local.MarkUsed(id, key) }

// Verify checks the local tier; the bucket's objects are verified on every read.
func (s *bucketStorage) Verify(ctx context.Context) (storeReport, error) {
	return verifyDisk(ctx, s.local)
}

func (s *bucketStorage) Stats() storeStats {
	st := diskStats(s.local)
	st.BucketHits, st.BucketErrors, st.BucketCorrupt = s.hits.Load(), s.errs.Load(), s.corrupt.Load()
	return st
}

// Probe checks the local tier; the bucket's health shows in Stats.BucketErrors.
func (s *bucketStorage) Probe(ctx context.Context) error { return diskErr(s.local.Probe(ctx)) }

// Close closes the local tier; the bucket belongs to the caller.
func (s *bucketStorage) Close() error { return s.local.Close() }
