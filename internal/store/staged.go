package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// StagedOriginal is an original written and fsynced to a temp file in tmp/ by
// StageOriginal, not yet visible: Commit makes it an entry, Discard removes it.
// It lets a caller write an original while it still checks it (the write and
// its fsync overlap the check) and publish it only once the check passed. A
// StagedOriginal is not safe for concurrent use.
type StagedOriginal struct {
	d    *Disk
	id   string
	tmp  string // "" once committed or discarded
	size int64
}

// StageOriginal writes data, whose lowercase hex SHA-256 must be id (otherwise
// it fails with an error wrapping ErrCorrupt and writes nothing), to a temp file
// and fsyncs it. Nothing is visible until Commit; a temp file left by a crash is
// removed by the next Open, as every temp file is.
func (d *Disk) StageOriginal(ctx context.Context, id string, data []byte) (*StagedOriginal, error) {
	const op = "write original"
	if err := d.begin(ctx, op); err != nil {
		return nil, err
	}
	if !validKey(id) {
		return nil, ErrInvalidKey
	}
	if int64(len(data)) > MaxOriginalSize {
		return nil, fmt.Errorf("store: %s %s: original too large (%d bytes)", op, short(id), len(data))
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != id {
		return nil, fmt.Errorf("store: %s %s: data does not match id: %w", op, short(id), ErrCorrupt)
	}
	tmp, err := d.writeTemp(op, id, time.Time{}, data)
	if err != nil {
		return nil, err
	}
	return &StagedOriginal{d: d, id: id, tmp: tmp, size: int64(len(data))}, nil
}

// Commit stores the staged original with its metadata, as PutOriginal does
// (the metadata is committed first; the original's rename is the commit
// point; created is false, and nothing is rewritten, when the original is
// there already) and with the same guarantees on failure. The temp file is gone
// when Commit returns, whatever it returns; a second Commit fails.
func (s *StagedOriginal) Commit(ctx context.Context, meta []byte) (created bool, err error) {
	const op = "write original"
	d, id := s.d, s.id
	defer s.Discard()
	if s.tmp == "" {
		return false, fmt.Errorf("store: %s %s: nothing staged", op, short(id))
	}
	if err := d.begin(ctx, op); err != nil {
		return false, err
	}
	if len(meta) > MaxOriginalMeta {
		return false, fmt.Errorf("store: %s %s: metadata too large (%d bytes)", op, short(id), len(meta))
	}
	// Fast path, no lock, as in PutOriginal.
	imgOK, err := d.exists(originalPath(id))
	if err != nil {
		return false, fsErr(op, id, err)
	}
	if imgOK {
		metaOK, err := d.exists(metaPath(id))
		if err != nil {
			return false, fsErr(op, id, err)
		}
		if metaOK {
			return false, nil
		}
	}
	metaTmp, err := d.writeTemp("write original meta", id, time.Time{}, meta)
	if err != nil {
		return false, err
	}
	defer func() { d.removeTemp(metaTmp) }() // no-op name after a rename
	syncs, created, err := d.commitOriginal(id, &metaTmp, &s.tmp, s.size)
	if err != nil {
		return false, err
	}
	if err := d.syncDirs(syncs); err != nil {
		return created, fsErr("sync original", id, err)
	}
	return created, nil
}

// Discard removes the staged temp file; after Commit, or a second time, it does
// nothing.
func (s *StagedOriginal) Discard() {
	if s == nil || s.tmp == "" {
		return
	}
	s.d.removeTemp(s.tmp)
	s.tmp = ""
}
