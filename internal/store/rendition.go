package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"
)

const (
	renditionMagic   = "FICR"
	renditionVersion = 1
	// prefixLen: magic + version + uint32 meta length.
	prefixLen = len(renditionMagic) + 1 + 4
	// trailerLen: sha256 + uint64 payload length (between meta and payload).
	trailerLen = sha256.Size + 8
)

// Rendition is an open, verified rendition. The embedded ReadSeekCloser reads
// the payload only, starting at offset 0; Close closes the underlying file.
// A Rendition stays readable after its entry is evicted or deleted.
type Rendition struct {
	io.ReadSeekCloser
	Meta []byte
	// Size is the payload length in bytes.
	Size int64
	// ModTime is the file's modification time: when it was written, or when
	// a hit last refreshed its LRU clock (at most hourly).
	ModTime time.Time
	// Digest is the SHA-256 of the payload.
	Digest [32]byte
}

// encodeHeader returns the rendition header for meta and payload, and the
// payload digest.
func encodeHeader(meta, payload []byte) ([]byte, [32]byte) {
	sum := sha256.Sum256(payload)
	h := make([]byte, 0, prefixLen+len(meta)+trailerLen)
	h = append(h, renditionMagic...)
	h = append(h, renditionVersion)
	h = binary.BigEndian.AppendUint32(h, uint32(len(meta))) // #nosec G115 -- len(meta) <= MaxRenditionMeta: PutRendition checks it
	h = append(h, meta...)
	h = append(h, sum[:]...)
	h = binary.BigEndian.AppendUint64(h, uint64(len(payload)))
	return h, sum
}

// PutRendition stores payload with meta as the rendition key of original id,
// replacing any previous rendition with the same key. It returns ErrNotExist
// if the original is absent; that check and the rename into place happen
// under the lock Delete takes, so no rendition can outlive its original.
// Afterwards least recently used renditions are evicted while the quota is
// exceeded — possibly the one just written, if it alone exceeds the quota.
// A failed PutRendition leaves no temp file and the previous rendition (if
// any) in place, except when only the directory fsync after the commit
// fails: the new rendition is then in place and whole.
func (d *Disk) PutRendition(ctx context.Context, id, key string, meta, payload []byte) error {
	const op = "write rendition"
	if err := d.begin(ctx, op); err != nil {
		return err
	}
	if !validKey(id) || !validKey(key) {
		return ErrInvalidKey
	}
	if len(meta) > MaxRenditionMeta {
		return fmt.Errorf("store: %s %s: metadata too large (%d bytes)", op, short(id), len(meta))
	}
	img := originalPath(id)
	// Fail fast, before writing anything; re-checked under the lock.
	ok, err := d.exists(img)
	if err != nil {
		return fsErr(op, id, err)
	}
	if !ok && !d.detached {
		return notExist(op, id, nil)
	}

	hdr, _ := encodeHeader(meta, payload)
	now := d.now()
	tmp, err := d.writeTemp(op, id, now, hdr, payload)
	if err != nil {
		return err
	}
	defer func() { d.removeTemp(tmp) }()
	size := int64(len(hdr)) + int64(len(payload))

	syncs, err := d.commitRendition(id, key, &tmp, size, now)
	if err != nil {
		return err
	}
	if err := d.syncDirs(syncs); err != nil {
		return fsErr("sync rendition", id, err)
	}
	return nil
}

// commitRendition renames the prepared temp file into place if the
// original exists, updates the index and enforces the quota, all under mu.
// It returns the directories to fsync.
func (d *Disk) commitRendition(id, key string, tmp *string, size int64, now time.Time) ([]string, error) {
	const op = "write rendition"
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed.Load() {
		return nil, fmt.Errorf("store: %s: %w", op, ErrClosed)
	}
	ok, err := d.exists(originalPath(id))
	if err != nil {
		return nil, fsErr(op, id, err)
	}
	if !ok && !d.detached {
		return nil, notExist(op, id, nil)
	}
	syncs, err := d.mkdirsLocked(renditionShard(id), renditionDir(id))
	if err != nil {
		return nil, fsErr(op, id, err)
	}
	if err := d.rename(*tmp, renditionPath(id, key)); err != nil {
		return nil, fsErr(op, id, err)
	}
	*tmp = ""
	if e := d.lookupLocked(id, key); e != nil {
		d.renditionBytes += size - e.size
		e.size = size
		e.lastUse, e.touched = now, now
		d.lru.MoveToFront(e.elem)
	} else {
		e := &entry{id: id, key: key, size: size, lastUse: now, touched: now}
		e.elem = d.lru.PushFront(e)
		d.indexLocked(e)
	}
	d.evictLocked()
	return append(syncs, renditionDir(id)), nil
}

// OpenRendition opens and verifies rendition key of original id. A missing,
// malformed or digest-mismatched rendition is reported as ErrNotExist (a
// miss: the caller re-renders); a bad file is moved to quarantine first.
// The caller must Close the returned Rendition.
func (d *Disk) OpenRendition(ctx context.Context, id, key string) (*Rendition, error) {
	const op = "read rendition"
	if err := d.begin(ctx, op); err != nil {
		return nil, err
	}
	if !validKey(id) || !validKey(key) {
		return nil, ErrInvalidKey
	}
	name := renditionPath(id, key)
	f, err := d.root.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, notExist(op, id, err)
		}
		return nil, fsErr(op, id, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fsErr(op, id, err)
	}
	r, reason, err := verifyRendition(f, fi)
	if err != nil {
		_ = f.Close()
		return nil, fsErr(op, id, err)
	}
	if reason != "" {
		_ = f.Close()
		d.rejectRendition(id, key, name, fi, reason)
		return nil, notExist(op, id, nil)
	}

	now := d.now()
	d.mu.Lock()
	e := d.lookupLocked(id, key)
	touch := false
	if e != nil {
		e.lastUse = now
		d.lru.MoveToFront(e.elem)
		if now.Sub(e.touched) >= touchInterval {
			e.touched = now
			touch = true
		}
	}
	d.mu.Unlock()
	if e == nil {
		// The index is authoritative: the entry was evicted or deleted
		// after we opened the file.
		_ = f.Close()
		return nil, notExist(op, id, nil)
	}
	if touch {
		d.touch(id, key, now)
	}
	return r, nil
}

// rejectRendition quarantines a bad rendition file (if it is still the one
// that was opened) and drops it from the index.
func (d *Disk) rejectRendition(id, key, name string, fi os.FileInfo, reason string) {
	d.mu.Lock()
	moved := !d.closed.Load() && d.quarantineLocked(name, id+"-"+key+".rnd", fi)
	if moved {
		if e := d.lookupLocked(id, key); e != nil {
			d.unindexLocked(e)
		}
	}
	d.mu.Unlock()
	d.log.Error("store: rendition failed verification", "id", short(id), "key", short(key), "reason", reason, "quarantined", moved)
}

// readBufSize is the first read of a rendition: large enough for any header
// (prefix + 64 KiB meta + trailer), so the header and — for small
// renditions — the whole payload come in with one pread.
const readBufSize = 128 << 10

var readBufPool = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// verifyRendition parses and bounds-checks the header of f and verifies the
// payload digest. A non-empty reason means the file is malformed or
// corrupt; err is an I/O error. On success the returned Rendition owns f.
func verifyRendition(f *os.File, fi os.FileInfo) (r *Rendition, reason string, err error) {
	if !fi.Mode().IsRegular() {
		return nil, "not a regular file", nil
	}
	size := fi.Size()
	if size < int64(prefixLen+trailerLen) {
		return nil, "truncated header", nil
	}
	bp := readBufPool.Get().(*[]byte)
	defer readBufPool.Put(bp)
	buf := *bp
	ra := fileReaderAt{f}
	n, err := ra.ReadAt(buf[:min(size, int64(len(buf)))], 0)
	if err != nil {
		return readFailure(err, "truncated header")
	}
	if string(buf[:4]) != renditionMagic {
		return nil, "bad magic", nil
	}
	if buf[4] != renditionVersion {
		return nil, "unsupported version", nil
	}
	metaLen := int(binary.BigEndian.Uint32(buf[5:prefixLen]))
	if metaLen > MaxRenditionMeta {
		return nil, "metadata too large", nil
	}
	off := prefixLen + metaLen + trailerLen // <= len(buf) by the check above
	if int64(off) > size {
		return nil, "truncated header", nil
	}
	meta := bytes.Clone(buf[prefixLen : prefixLen+metaLen : prefixLen+metaLen])
	if meta == nil {
		meta = []byte{}
	}
	var digest [32]byte
	copy(digest[:], buf[prefixLen+metaLen:])
	payloadLen := binary.BigEndian.Uint64(buf[off-8 : off])
	rest := size - int64(off) // >= 0 by the check above; the payload must be exactly this
	if rest < 0 || payloadLen != uint64(rest) {
		return nil, "payload length mismatch", nil
	}
	h := sha256.New()
	h.Write(buf[off:n])
	if rest := size - int64(n); rest > 0 {
		m, err := io.CopyBuffer(h, io.NewSectionReader(ra, int64(n), rest), buf)
		if err != nil {
			return nil, "", err
		}
		if m != rest {
			return nil, "truncated payload", nil
		}
	}
	var got [32]byte
	h.Sum(got[:0])
	if got != digest {
		return nil, "digest mismatch", nil
	}
	return &Rendition{
		ReadSeekCloser: &payloadReader{SectionReader: io.NewSectionReader(ra, int64(off), rest), f: f},
		Meta:           meta,
		Size:           rest,
		ModTime:        fi.ModTime(),
		Digest:         digest,
	}, "", nil
}

func readFailure(err error, reason string) (*Rendition, string, error) {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, reason, nil
	}
	return nil, "", err
}

// fileReaderAt strips paths from read errors.
type fileReaderAt struct{ f *os.File }

func (r fileReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.f.ReadAt(p, off)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("store: read rendition: %w", cause(err))
	}
	return n, err
}

// payloadReader is the Rendition's ReadSeekCloser.
type payloadReader struct {
	*io.SectionReader
	f *os.File
}

func (p *payloadReader) Close() error {
	if err := p.f.Close(); err != nil {
		return fmt.Errorf("store: close rendition: %w", cause(err))
	}
	return nil
}

// MarkUsed records a use of a rendition served from a cache in front of the store, so
// the LRU order sees it. Like a hit through OpenRendition, it refreshes the file's mtime
// (the LRU clock that survives a restart) at most once per touchInterval; otherwise it
// does no I/O. Unknown keys, and calls after Close, are ignored.
func (d *Disk) MarkUsed(id, key string) {
	if d == nil || d.closed.Load() || !validKey(id) || !validKey(key) {
		return
	}
	now := d.now()
	d.mu.Lock()
	e := d.lookupLocked(id, key)
	touch := false
	if e != nil {
		e.lastUse = now
		d.lru.MoveToFront(e.elem)
		if now.Sub(e.touched) >= touchInterval {
			e.touched = now
			touch = true
		}
	}
	d.mu.Unlock()
	if touch {
		d.touch(id, key, now)
	}
}

// touch sets a rendition file's mtime to now, the LRU clock Open rebuilds the order from.
// A file evicted or deleted meanwhile is no error.
func (d *Disk) touch(id, key string, now time.Time) {
	if err := d.root.Chtimes(renditionPath(id, key), now, now); err != nil && !errors.Is(err, fs.ErrNotExist) {
		d.log.Warn("store: cannot touch rendition", "id", short(id), "err", cause(err))
	}
}

// ---- index (d.mu must be held for all of these) ----

func (d *Disk) lookupLocked(id, key string) *entry {
	return d.rend[id][key]
}

// indexLocked adds e (whose elem is already in d.lru) to the index.
func (d *Disk) indexLocked(e *entry) {
	m := d.rend[e.id]
	if m == nil {
		m = make(map[string]*entry)
		d.rend[e.id] = m
	}
	m[e.key] = e
	d.renditions++
	d.renditionBytes += e.size
}

// unindexLocked removes e from the index and the LRU list.
func (d *Disk) unindexLocked(e *entry) {
	d.lru.Remove(e.elem)
	m := d.rend[e.id]
	delete(m, e.key)
	if len(m) == 0 {
		delete(d.rend, e.id)
	}
	d.renditions--
	d.renditionBytes -= e.size
}

// evictLocked removes least recently used renditions while the quota is
// exceeded.
func (d *Disk) evictLocked() {
	if d.quota <= 0 {
		return
	}
	for d.renditionBytes > d.quota {
		back := d.lru.Back()
		if back == nil {
			return
		}
		e, ok := back.Value.(*entry)
		if !ok { // cannot happen; never loop or panic on it
			d.lru.Remove(back)
			continue
		}
		// Drop from the index even if the unlink fails: otherwise we would
		// loop forever. The file then lingers until Delete of its original.
		d.unindexLocked(e)
		d.evictions++
		if err := d.root.Remove(renditionPath(e.id, e.key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			d.log.Error("store: cannot remove evicted rendition", "id", short(e.id), "err", cause(err))
		}
	}
}
