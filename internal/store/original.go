package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"
)

// PutOriginal stores data under id with its metadata. id must be the
// lowercase hex SHA-256 of data; otherwise PutOriginal fails with an error
// wrapping ErrCorrupt and stores nothing.
//
// The metadata is committed before the original (the original's presence is
// the commit point). If the original already exists, created is false and
// nothing is rewritten, except that missing metadata is restored from meta.
//
// A failed PutOriginal leaves no temp file, no original and no metadata
// without its original, with one exception: when only the directory fsync
// after the commit fails, the entry is in place and whole, and the error
// says that its durability across a power loss is not assured.
func (d *Disk) PutOriginal(ctx context.Context, id string, data, meta []byte) (created bool, err error) {
	const op = "write original"
	if err := d.begin(ctx, op); err != nil {
		return false, err
	}
	if !validKey(id) {
		return false, ErrInvalidKey
	}
	if len(meta) > MaxOriginalMeta {
		return false, fmt.Errorf("store: %s %s: metadata too large (%d bytes)", op, short(id), len(meta))
	}
	if int64(len(data)) > MaxOriginalSize {
		return false, fmt.Errorf("store: %s %s: original too large (%d bytes)", op, short(id), len(data))
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != id {
		return false, fmt.Errorf("store: %s %s: data does not match id: %w", op, short(id), ErrCorrupt)
	}

	img, mp := originalPath(id), metaPath(id)
	// Fast path, no lock: both present means nothing to do. A concurrent
	// Delete makes this answer stale, which is indistinguishable from the
	// Delete having run just after us.
	imgOK, err := d.exists(img)
	if err != nil {
		return false, fsErr(op, id, err)
	}
	if imgOK {
		metaOK, err := d.exists(mp)
		if err != nil {
			return false, fsErr(op, id, err)
		}
		if metaOK {
			return false, nil
		}
	}

	// Write the temp files outside the lock.
	metaTmp, err := d.writeTemp("write original meta", id, time.Time{}, meta)
	if err != nil {
		return false, err
	}
	defer func() { d.removeTemp(metaTmp) }() // no-op name after a rename
	// The original is written even if the fast path saw it (with missing
	// metadata, a rare repair case): it may be deleted before the commit.
	imgTmp, err := d.writeTemp(op, id, time.Time{}, data)
	if err != nil {
		return false, err
	}
	defer func() { d.removeTemp(imgTmp) }()

	syncs, created, err := d.commitOriginal(id, &metaTmp, &imgTmp, int64(len(data)))
	if err != nil {
		return false, err
	}
	if err := d.syncDirs(syncs); err != nil {
		return created, fsErr("sync original", id, err)
	}
	return created, nil
}

// commitOriginal renames the prepared temp files into place under mu. A temp
// name is cleared once it has been renamed (the deferred cleanup in
// PutOriginal removes the rest).
func (d *Disk) commitOriginal(id string, metaTmp, imgTmp *string, size int64) (syncs []string, created bool, err error) {
	const op = "write original"
	img, mp := originalPath(id), metaPath(id)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed.Load() {
		return nil, false, fmt.Errorf("store: %s: %w", op, ErrClosed)
	}
	syncs, err = d.mkdirsLocked(originalDir(id))
	if err != nil {
		return nil, false, fsErr(op, id, err)
	}
	imgOK, err := d.exists(img)
	if err != nil {
		return nil, false, fsErr(op, id, err)
	}
	if imgOK {
		metaOK, err := d.exists(mp)
		if err != nil {
			return nil, false, fsErr(op, id, err)
		}
		if metaOK {
			return syncs, false, nil
		}
		if err := d.rename(*metaTmp, mp); err != nil {
			return nil, false, fsErr("write original meta", id, err)
		}
		*metaTmp = ""
		return append(syncs, originalDir(id)), false, nil
	}
	if err := d.rename(*metaTmp, mp); err != nil {
		return nil, false, fsErr("write original meta", id, err)
	}
	*metaTmp = ""
	if err := d.rename(*imgTmp, img); err != nil {
		// The original is the commit point: leave no metadata without it.
		if rerr := d.root.Remove(mp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			d.log.Error("store: cannot remove meta of failed original", "id", short(id), "err", cause(rerr))
		}
		return nil, false, fsErr(op, id, err)
	}
	*imgTmp = ""
	d.originals++
	d.originalBytes += size
	return append(syncs, originalDir(id)), true, nil
}

// Original returns the original stored under id, verified against its
// digest. On a mismatch the file is moved to quarantine (together with the
// original's metadata and renditions being removed) and an error wrapping
// ErrCorrupt is returned; later calls then report ErrNotExist.
func (d *Disk) Original(ctx context.Context, id string) ([]byte, error) {
	const op = "read original"
	if err := d.begin(ctx, op); err != nil {
		return nil, err
	}
	if !validKey(id) {
		return nil, ErrInvalidKey
	}
	name := originalPath(id)
	f, err := d.root.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, notExist(op, id, err)
		}
		return nil, fsErr(op, id, err)
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return nil, fsErr(op, id, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("store: %s %s: not a regular file (mode %v)", op, short(id), fi.Mode().Type())
	}
	var reason string
	var data []byte
	if fi.Size() > MaxOriginalSize {
		reason = "file too large"
	} else {
		data = make([]byte, fi.Size())
		if _, err := io.ReadFull(f, data); err != nil {
			if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
				return nil, fsErr(op, id, err)
			}
			reason = "short read"
		} else if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != id {
			reason = "digest mismatch"
		}
	}
	if reason == "" {
		return data, nil
	}

	d.mu.Lock()
	moved := !d.closed.Load() && d.quarantineLocked(name, id+".img", fi)
	if moved {
		d.originals--
		d.originalBytes -= fi.Size()
		// The entry is gone: drop its metadata and renditions like Delete.
		if err := d.root.Remove(metaPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			d.log.Error("store: cannot remove meta of quarantined original", "id", short(id), "err", cause(err))
		}
		if err := d.dropRenditionsLocked(id); err != nil {
			d.log.Error("store: cannot remove renditions of quarantined original", "id", short(id), "err", cause(err))
		}
	}
	d.mu.Unlock()
	d.log.Error("store: original failed verification", "id", short(id), "reason", reason, "quarantined", moved)
	return nil, fmt.Errorf("store: %s %s: %s: %w", op, short(id), reason, ErrCorrupt)
}

// OriginalMeta returns the metadata of the original stored under id, or
// ErrNotExist if the original (or its metadata) is absent. When the original
// is present and only its metadata is missing, the error also matches
// ErrMetaMissing: the caller can rebuild the metadata from the original and
// store it with ReplaceMeta.
func (d *Disk) OriginalMeta(ctx context.Context, id string) ([]byte, error) {
	const op = "read original meta"
	if err := d.begin(ctx, op); err != nil {
		return nil, err
	}
	if !validKey(id) {
		return nil, ErrInvalidKey
	}
	ok, err := d.exists(originalPath(id))
	if err != nil {
		return nil, fsErr(op, id, err)
	}
	if !ok {
		return nil, notExist(op, id, nil)
	}
	f, err := d.root.Open(metaPath(id))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &missError{op: op, id: short(id), cause: cause(err), metaOnly: true}
		}
		return nil, fsErr(op, id, err)
	}
	defer func() { _ = f.Close() }()
	meta, err := io.ReadAll(io.LimitReader(f, MaxOriginalMeta+1))
	if err != nil {
		return nil, fsErr(op, id, err)
	}
	if len(meta) > MaxOriginalMeta {
		return nil, fmt.Errorf("store: %s %s: metadata too large: %w", op, short(id), ErrCorrupt)
	}
	return meta, nil
}

// ReplaceMeta atomically writes meta as the metadata of the original stored
// under id, replacing any there: for metadata rebuilt from the original after
// it was found missing or unreadable. It returns ErrNotExist if the original
// is absent; that check and the rename happen under the lock Delete takes, so
// no metadata outlives its original.
func (d *Disk) ReplaceMeta(ctx context.Context, id string, meta []byte) error {
	const op = "write original meta"
	if err := d.begin(ctx, op); err != nil {
		return err
	}
	if !validKey(id) {
		return ErrInvalidKey
	}
	if len(meta) > MaxOriginalMeta {
		return fmt.Errorf("store: %s %s: metadata too large (%d bytes)", op, short(id), len(meta))
	}
	tmp, err := d.writeTemp(op, id, time.Time{}, meta)
	if err != nil {
		return err
	}
	defer func() { d.removeTemp(tmp) }()
	d.mu.Lock()
	err = func() error {
		if d.closed.Load() {
			return fmt.Errorf("store: %s: %w", op, ErrClosed)
		}
		ok, err := d.exists(originalPath(id))
		if err != nil {
			return fsErr(op, id, err)
		}
		if !ok {
			return notExist(op, id, nil)
		}
		if err := d.rename(tmp, metaPath(id)); err != nil {
			return fsErr(op, id, err)
		}
		tmp = ""
		return nil
	}()
	d.mu.Unlock()
	if err != nil {
		return err
	}
	if err := d.syncDir(originalDir(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fsErr("sync original meta", id, err)
	}
	return nil
}

// Delete removes the original stored under id, its metadata and all its
// renditions. It returns ErrNotExist if the original is absent.
func (d *Disk) Delete(ctx context.Context, id string) error {
	const op = "delete"
	if err := d.begin(ctx, op); err != nil {
		return err
	}
	if !validKey(id) {
		return ErrInvalidKey
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed.Load() {
		return fmt.Errorf("store: %s: %w", op, ErrClosed)
	}
	img := originalPath(id)
	fi, err := d.root.Lstat(img)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return notExist(op, id, err)
		}
		return fsErr(op, id, err)
	}
	// The original goes first: once it is gone the entry is gone, and Open
	// cleans up whatever a crash leaves behind.
	if err := d.root.Remove(img); err != nil {
		return fsErr(op, id, err)
	}
	d.originals--
	d.originalBytes -= fi.Size()
	var first error
	if err := d.root.Remove(metaPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		first = fsErr("delete meta", id, err)
	}
	if err := d.dropRenditionsLocked(id); err != nil && first == nil {
		first = err
	}
	return first
}

// dropRenditionsLocked removes every rendition of id from the index and
// the disk. d.mu must be held.
func (d *Disk) dropRenditionsLocked(id string) error {
	for _, e := range d.rend[id] {
		d.lru.Remove(e.elem)
		d.renditions--
		d.renditionBytes -= e.size
	}
	delete(d.rend, id)
	if err := d.root.RemoveAll(renditionDir(id)); err != nil {
		d.log.Error("store: cannot remove renditions", "id", short(id), "err", cause(err))
		return fsErr("delete renditions", id, err)
	}
	return nil
}

// DropRenditions removes every rendition of id from the index and the disk,
// whether or not the original is stored here: it is how a Detached tier
// forgets an ID deleted elsewhere. Removing nothing is not an error.
func (d *Disk) DropRenditions(ctx context.Context, id string) error {
	const op = "delete renditions"
	if err := d.begin(ctx, op); err != nil {
		return err
	}
	if !validKey(id) {
		return ErrInvalidKey
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed.Load() {
		return fmt.Errorf("store: %s: %w", op, ErrClosed)
	}
	return d.dropRenditionsLocked(id)
}
