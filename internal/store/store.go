// Package store is the local-filesystem implementation of the cache's
// storage seam.
//
// It knows nothing about images. It stores "originals" keyed by their SHA-256
// (the ID: 64 lowercase hex characters) together with a small metadata blob,
// and "renditions" keyed by (ID, key), where key is also 64 lowercase hex
// characters. Renditions are kept under a byte quota with LRU eviction;
// originals are never evicted.
//
// On-disk layout below the store directory:
//
//	o/<id[:2]>/<id>.img         original bytes
//	o/<id[:2]>/<id>.meta        original metadata
//	r/<id[:2]>/<id>/<key>.rnd   renditions (header + payload, see below)
//	tmp/                        temp files; emptied by Open
//	quarantine/                 entries that failed verification
//
// Every file operation goes through an [os.Root] opened on the store
// directory, and every path is built only from validated hex IDs/keys and
// fixed names. All writes are atomic: a uniquely named temp file is written,
// fsynced and renamed into place, and the destination directory is fsynced.
//
// A rendition file is: magic "FICR", version byte 1, uint32 big-endian meta
// length, meta, 32-byte SHA-256 of the payload, uint64 big-endian payload
// length, payload.
//
// A directory is used by at most one Disk at a time: Open takes an exclusive
// flock(2) on the file "lock" in it (on systems that have flock) and fails
// with ErrLocked while another Disk, in this process or another, holds it.
// Close, or the death of the process, releases it.
package store

import (
	"container/list"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	// ErrNotExist reports that the requested entry is not in the store.
	ErrNotExist = errors.New("store: no such entry")
	// ErrCorrupt reports that an entry's content did not match its digest.
	ErrCorrupt = errors.New("store: entry failed verification")
	// ErrInvalidKey reports an ID or key that is not exactly 64 lowercase hex
	// characters.
	ErrInvalidKey = errors.New("store: invalid key")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("store: closed")
	// ErrMetaMissing reports, from OriginalMeta, an original that is present
	// without its metadata. Such an error also matches ErrNotExist.
	ErrMetaMissing = errors.New("store: metadata missing")
)

const (
	dirPerm  = 0o750
	filePerm = 0o640

	// MaxRenditionMeta is the largest rendition metadata blob accepted.
	MaxRenditionMeta = 64 << 10
	// MaxOriginalMeta is the largest original metadata blob accepted.
	MaxOriginalMeta = 1 << 20
	// MaxOriginalSize is the largest original accepted (and read back).
	MaxOriginalSize = 1 << 30

	// touchInterval is how often, at most, a rendition hit rewrites the
	// file's mtime (the persistent, coarse LRU clock).
	touchInterval = time.Hour

	dirOriginals  = "o"
	dirRenditions = "r"
	dirTmp        = "tmp"
	dirQuarantine = "quarantine"
)

// Options configures a Disk.
type Options struct {
	// MaxRenditionBytes is the quota for the renditions' total file bytes
	// (header + payload). <= 0 means no limit; the caller supplies its
	// default.
	MaxRenditionBytes int64
	// Now is the clock (LRU order, rendition mtimes); nil means time.Now.
	// It is called concurrently.
	Now func() time.Time
	// Logger receives operational events; nil discards them. The global
	// logger is never used.
	Logger *slog.Logger
	// Faults is for tests only; production callers leave it nil. If set, it
	// is called before each step of a write with the step's name (one of
	// the Fault* constants: temp file create, each write, fsync, close,
	// chtimes, mkdir, rename into place, directory fsync), and a non-nil
	// result makes that step fail with it, as a full disk would. It is
	// called concurrently, sometimes with the store's lock held, so it must
	// not call back into the Disk.
	Faults func(op string) error
	// Detached makes the rendition tier independent of the originals: for a
	// node whose originals live elsewhere (a shared bucket), renditions are
	// stored without a local original, Open keeps them, and DropRenditions
	// removes them. Originals, if any are put, behave as without it.
	Detached bool
}

// Disk is a store on the local filesystem. It is safe for concurrent use.
type Disk struct {
	// Immutable after Open. os.Root is safe for concurrent use.
	root     *os.Root
	lock     *os.File // holds the directory's lock (lockDir) until Close
	now      func() time.Time
	log      *slog.Logger
	quota    int64
	faults   func(op string) error // Options.Faults; nil in production
	detached bool                  // Options.Detached

	// closed is set once, by Close (while holding mu); it is read without
	// the lock at the start of every method and re-checked under mu before
	// any namespace change.
	closed atomic.Bool

	// mu guards every field below, and serializes the namespace changes that
	// must be atomic with respect to each other: committing an original
	// (existence check + renames), committing a rendition (original-exists
	// check + mkdir + rename, so Delete cannot leave an orphan), Delete,
	// eviction and quarantine moves. It is held only around metadata
	// operations (stat, rename, unlink, mkdir; Delete's removal of one
	// original's rendition directory) — never while writing temp file
	// contents, reading, hashing, or fsyncing.
	mu sync.Mutex
	// rend is the rendition index: id → key → entry.
	rend map[string]map[string]*entry
	// lru orders all entries in rend by last use; Front is most recent.
	lru            *list.List
	renditions     int
	renditionBytes int64
	originals      int
	originalBytes  int64
	evictions      int64
	quarantined    int64
}

// entry is one rendition in the in-memory index.
type entry struct {
	id, key string
	size    int64     // file bytes (header + payload)
	lastUse time.Time // in-memory LRU clock
	touched time.Time // file mtime as last written or observed
	elem    *list.Element
}

// Stats is a snapshot of the store's counters. Evictions and Quarantined
// count events since Open.
type Stats struct {
	Originals      int
	OriginalBytes  int64
	Renditions     int
	RenditionBytes int64
	Evictions      int64
	Quarantined    int64
}

// Open opens (creating if needed) the store in dir. It removes stale temp
// files, orphaned metadata and orphaned renditions left by a crash, builds
// the rendition index from the files' mtimes and enforces the quota.
func Open(dir string, opt Options) (*Disk, error) {
	if dir == "" {
		return nil, errors.New("store: open: empty directory name")
	}
	// The only operation not through the root: creating the root itself.
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return nil, fmt.Errorf("store: open: create directory: %w", cause(err))
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", cause(err))
	}
	// The lock comes first: init clears tmp/, which a running Disk writes to.
	lock, err := lockDir(root)
	if err != nil {
		_ = root.Close()
		return nil, err
	}
	d := &Disk{
		lock:     lock,
		root:     root,
		now:      opt.Now,
		log:      opt.Logger,
		quota:    opt.MaxRenditionBytes,
		faults:   opt.Faults,
		detached: opt.Detached,
		rend:     make(map[string]map[string]*entry),
		lru:      list.New(),
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if err := d.init(); err != nil {
		_ = root.Close()
		_ = lock.Close()
		return nil, err
	}
	return d, nil
}

func (d *Disk) init() error {
	for _, name := range []string{dirOriginals, dirRenditions, dirQuarantine} {
		if err := d.root.MkdirAll(name, dirPerm); err != nil {
			return fmt.Errorf("store: open: create %s: %w", name, cause(err))
		}
	}
	// Stale temp files from a crash: drop the whole directory and recreate.
	if err := d.root.RemoveAll(dirTmp); err != nil {
		return fmt.Errorf("store: open: clear tmp: %w", cause(err))
	}
	if err := d.root.Mkdir(dirTmp, dirPerm); err != nil {
		return fmt.Errorf("store: open: create tmp: %w", cause(err))
	}
	have, err := d.loadOriginals()
	if err != nil {
		return err
	}
	if err := d.loadRenditions(have); err != nil {
		return err
	}
	d.mu.Lock()
	d.evictLocked()
	st := d.statsLocked()
	d.mu.Unlock()
	d.log.Info("store: opened",
		"originals", st.Originals, "original_bytes", st.OriginalBytes,
		"renditions", st.Renditions, "rendition_bytes", st.RenditionBytes,
		"evictions", st.Evictions)
	return nil
}

// loadOriginals counts the originals, removes metadata files whose original
// is absent, and returns the set of IDs present.
func (d *Disk) loadOriginals() (map[string]struct{}, error) {
	have := make(map[string]struct{})
	shards, err := readDirNames(d.root, dirOriginals)
	if err != nil {
		return nil, fmt.Errorf("store: open: list originals: %w", err)
	}
	skipped, orphans := 0, 0
	for _, shard := range shards {
		if !validShard(shard) {
			skipped++
			continue
		}
		sub, err := d.root.OpenRoot(dirOriginals + "/" + shard)
		if err != nil {
			skipped++
			continue
		}
		names, err := readDirNames(sub, ".")
		if err != nil {
			_ = sub.Close()
			return nil, fmt.Errorf("store: open: list originals: %w", err)
		}
		var metas []string
		for _, name := range names {
			id, ext, ok := splitName(name)
			if !ok || !validKey(id) || id[:2] != shard {
				skipped++
				continue
			}
			switch ext {
			case "img":
				fi, err := sub.Lstat(name)
				if err != nil || !fi.Mode().IsRegular() {
					skipped++
					continue
				}
				have[id] = struct{}{}
				d.originals++
				d.originalBytes += fi.Size()
			case "meta":
				metas = append(metas, id)
			default:
				skipped++
			}
		}
		for _, id := range metas {
			if _, ok := have[id]; ok {
				continue
			}
			if err := sub.Remove(id + ".meta"); err != nil && !errors.Is(err, fs.ErrNotExist) {
				d.log.Warn("store: cannot remove orphan meta", "id", short(id), "err", cause(err))
				continue
			}
			orphans++
		}
		_ = sub.Close()
	}
	if skipped > 0 {
		d.log.Warn("store: ignored unexpected entries under o/", "count", skipped)
	}
	if orphans > 0 {
		d.log.Info("store: removed orphan metadata", "count", orphans)
	}
	return have, nil
}

// loadRenditions builds the rendition index by walking r/. It removes the
// rendition directories of absent originals. Work is one directory read
// per directory and one lstat per file; the LRU list is then built with one
// sort by mtime.
func (d *Disk) loadRenditions(have map[string]struct{}) error {
	shards, err := readDirNames(d.root, dirRenditions)
	if err != nil {
		return fmt.Errorf("store: open: list renditions: %w", err)
	}
	var all []*entry
	skipped, orphans := 0, 0
	for _, shard := range shards {
		if !validShard(shard) {
			skipped++
			continue
		}
		sub, err := d.root.OpenRoot(dirRenditions + "/" + shard)
		if err != nil {
			skipped++
			continue
		}
		ids, err := readDirNames(sub, ".")
		if err != nil {
			_ = sub.Close()
			return fmt.Errorf("store: open: list renditions: %w", err)
		}
		for _, id := range ids {
			if !validKey(id) || id[:2] != shard {
				skipped++
				continue
			}
			if _, ok := have[id]; !ok && !d.detached {
				if err := sub.RemoveAll(id); err != nil {
					d.log.Warn("store: cannot remove orphan renditions", "id", short(id), "err", cause(err))
				} else {
					orphans++
				}
				continue
			}
			idRoot, err := sub.OpenRoot(id)
			if err != nil {
				skipped++
				continue
			}
			names, err := readDirNames(idRoot, ".")
			if err != nil {
				_ = idRoot.Close()
				_ = sub.Close()
				return fmt.Errorf("store: open: list renditions %s: %w", short(id), err)
			}
			for _, name := range names {
				key, ext, ok := splitName(name)
				if !ok || ext != "rnd" || !validKey(key) {
					skipped++
					continue
				}
				fi, err := idRoot.Lstat(name)
				if err != nil || !fi.Mode().IsRegular() {
					skipped++
					continue
				}
				mt := fi.ModTime()
				all = append(all, &entry{id: id, key: key, size: fi.Size(), lastUse: mt, touched: mt})
			}
			_ = idRoot.Close()
		}
		_ = sub.Close()
	}
	// Most recently used first.
	slices.SortStableFunc(all, func(a, b *entry) int { return b.lastUse.Compare(a.lastUse) })
	d.mu.Lock()
	for _, e := range all {
		e.elem = d.lru.PushBack(e)
		d.indexLocked(e)
	}
	d.mu.Unlock()
	if skipped > 0 {
		d.log.Warn("store: ignored unexpected entries under r/", "count", skipped)
	}
	if orphans > 0 {
		d.log.Info("store: removed orphan renditions", "originals", orphans)
	}
	return nil
}

// Close closes the store. Later calls to any method return ErrClosed.
// Rendition readers already handed out stay usable until closed.
func (d *Disk) Close() error {
	if d == nil {
		return ErrClosed
	}
	d.mu.Lock()
	if d.closed.Load() {
		d.mu.Unlock()
		return ErrClosed
	}
	d.closed.Store(true)
	d.mu.Unlock()
	err := d.root.Close()
	// Closing the lock file releases the directory for the next Disk.
	if lerr := d.lock.Close(); err == nil {
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("store: close: %w", cause(err))
	}
	return nil
}

// Stats returns a snapshot of the store's counters.
func (d *Disk) Stats() Stats {
	if d == nil {
		return Stats{}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.statsLocked()
}

func (d *Disk) statsLocked() Stats {
	return Stats{
		Originals:      d.originals,
		OriginalBytes:  d.originalBytes,
		Renditions:     d.renditions,
		RenditionBytes: d.renditionBytes,
		Evictions:      d.evictions,
		Quarantined:    d.quarantined,
	}
}

// begin performs the checks every method starts with.
func (d *Disk) begin(ctx context.Context, op string) error {
	if d == nil || d.root == nil {
		return fmt.Errorf("store: %s: %w", op, ErrClosed)
	}
	if ctx == nil {
		return fmt.Errorf("store: %s: nil context", op)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	if d.closed.Load() {
		return fmt.Errorf("store: %s: %w", op, ErrClosed)
	}
	return nil
}

// Probe creates a temp file and removes it, to show the store can still write
// (a readiness check). It takes no lock, so it never waits for a writer.
func (d *Disk) Probe(ctx context.Context) error {
	const op = "probe"
	if err := d.begin(ctx, op); err != nil {
		return err
	}
	tmp, err := d.writeTemp(op, "", d.now(), []byte{0})
	if err != nil {
		return err
	}
	d.removeTemp(tmp)
	return nil
}

// ---- names and paths ----

// validKey reports whether s is exactly 64 lowercase hex characters.
func validKey(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isLowerHex(s[i]) {
			return false
		}
	}
	return true
}

func validShard(s string) bool {
	return len(s) == 2 && isLowerHex(s[0]) && isLowerHex(s[1])
}

func isLowerHex(c byte) bool { return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') }

// splitName splits "<base>.<ext>".
func splitName(name string) (base, ext string, ok bool) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return "", "", false
	}
	return name[:i], name[i+1:], true
}

// short is the loggable prefix of a validated id/key.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func originalDir(id string) string    { return dirOriginals + "/" + id[:2] }
func renditionShard(id string) string { return dirRenditions + "/" + id[:2] }
func originalPath(id string) string   { return originalDir(id) + "/" + id + ".img" }
func metaPath(id string) string       { return originalDir(id) + "/" + id + ".meta" }
func renditionDir(id string) string   { return renditionShard(id) + "/" + id }
func renditionPath(id, key string) string {
	return renditionDir(id) + "/" + key + ".rnd"
}

func randomHex() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand.Read aborts the program instead)
	return hex.EncodeToString(b[:])
}

// ---- errors ----

// cause strips *fs.PathError and *os.LinkError wrappers (which carry
// absolute or relative paths) and returns the underlying error, so that
// errors.Is(err, fs.ErrNotExist) / syscall.ENOSPC keep working without
// leaking paths.
func cause(err error) error {
	for err != nil {
		var pe *fs.PathError
		var le *os.LinkError
		switch {
		case errors.As(err, &pe):
			if pe.Err == nil {
				return errors.New(pe.Op + " failed")
			}
			err = pe.Err
		case errors.As(err, &le):
			if le.Err == nil {
				return errors.New(le.Op + " failed")
			}
			err = le.Err
		default:
			return err
		}
	}
	return err
}

// fsErr wraps a filesystem error for operation op on id, without paths.
func fsErr(op, id string, err error) error {
	return fmt.Errorf("store: %s %s: %w", op, short(id), cause(err))
}

// notExist builds a miss that matches ErrNotExist and, if cause is non-nil,
// the underlying cause (e.g. fs.ErrNotExist).
func notExist(op, id string, err error) error {
	return &missError{op: op, id: short(id), cause: cause(err)}
}

// missError is a miss: errors.Is(err, ErrNotExist) holds, and it unwraps to
// the (path-free) filesystem cause if there was one.
type missError struct {
	op, id   string
	cause    error
	metaOnly bool // the original is present, its metadata is not (ErrMetaMissing)
}

func (e *missError) Error() string {
	if e.metaOnly {
		return "store: " + e.op + " " + e.id + ": metadata missing"
	}
	return "store: " + e.op + " " + e.id + ": no such entry"
}

func (e *missError) Is(target error) bool {
	return target == ErrNotExist || (e.metaOnly && target == ErrMetaMissing)
}

func (e *missError) Unwrap() error { return e.cause }

// ---- filesystem helpers ----

// readDirNames lists the directory name inside r.
func readDirNames(r *os.Root, name string) ([]string, error) {
	f, err := r.Open(name)
	if err != nil {
		return nil, cause(err)
	}
	names, err := f.Readdirnames(-1)
	_ = f.Close()
	if err != nil {
		return nil, cause(err)
	}
	return names, nil
}

// exists reports whether name exists (lstat). Errors other than "not
// exist" are returned.
func (d *Disk) exists(name string) (bool, error) {
	_, err := d.root.Lstat(name)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, cause(err)
}

// writeTemp atomically prepares a file in tmp/: it writes chunks, optionally
// sets its mtime, fsyncs and closes it. It returns the temp name (relative
// to the root). On error nothing is left behind.
func (d *Disk) writeTemp(op, id string, mtime time.Time, chunks ...[]byte) (string, error) {
	name := dirTmp + "/" + randomHex() + ".tmp"
	if err := d.fault(FaultCreate); err != nil {
		return "", fsErr(op, id, err)
	}
	f, err := d.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return "", fsErr(op, id, err)
	}
	fail := func(err error) (string, error) {
		_ = f.Close()
		_ = d.root.Remove(name)
		return "", fsErr(op, id, err)
	}
	for _, c := range chunks {
		if err := d.fault(FaultWrite); err != nil {
			_, _ = f.Write(c[:len(c)/2]) // a full disk takes part of a write
			return fail(err)
		}
		if _, err := f.Write(c); err != nil {
			return fail(err)
		}
	}
	if err := d.fault(FaultSync); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	err = f.Close()
	if ferr := d.fault(FaultClose); err == nil {
		err = ferr
	}
	if err != nil {
		_ = d.root.Remove(name)
		return "", fsErr(op, id, err)
	}
	if !mtime.IsZero() {
		err := d.fault(FaultChtimes)
		if err == nil {
			err = d.root.Chtimes(name, mtime, mtime)
		}
		if err != nil {
			_ = d.root.Remove(name)
			return "", fsErr(op, id, err)
		}
	}
	return name, nil
}

// removeTemp removes a temp file if name is non-empty.
func (d *Disk) removeTemp(name string) {
	if name == "" {
		return
	}
	if err := d.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		d.log.Warn("store: cannot remove temp file", "err", cause(err))
	}
}

// mkdirsLocked creates each of dirs (parents first) that is missing, and
// returns the parents whose entries changed: the caller fsyncs them after
// the commit so that new directories are durable. d.mu must be held.
func (d *Disk) mkdirsLocked(dirs ...string) (changed []string, err error) {
	for _, dir := range dirs {
		ok, err := d.exists(dir)
		if err != nil {
			return changed, err
		}
		if ok {
			continue
		}
		if err := d.fault(FaultMkdir); err != nil {
			return changed, err
		}
		if err := d.root.Mkdir(dir, dirPerm); err != nil && !errors.Is(err, fs.ErrExist) {
			return changed, cause(err)
		}
		changed = append(changed, path.Dir(dir))
	}
	return changed, nil
}

// syncDirs fsyncs directories inside the root, ignoring directories that
// have been removed meanwhile (nothing left to make durable).
func (d *Disk) syncDirs(dirs []string) error {
	for _, dir := range dirs {
		if err := d.syncDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// syncDir fsyncs a directory inside the root.
func (d *Disk) syncDir(name string) error {
	if err := d.fault(FaultSyncDir); err != nil {
		return err
	}
	f, err := d.root.Open(name)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// quarantineLocked moves src to quarantine/<base>.<random> if src is still
// the file described by fi (it may have been replaced or removed since it
// was opened). If the move fails the file is removed instead. It reports
// whether src was taken out of place. d.mu must be held.
func (d *Disk) quarantineLocked(src, base string, fi os.FileInfo) bool {
	cur, err := d.root.Lstat(src)
	if err != nil || !os.SameFile(cur, fi) {
		return false
	}
	dst := dirQuarantine + "/" + base + "." + randomHex()
	if err := d.root.Rename(src, dst); err != nil {
		d.log.Error("store: cannot quarantine, removing", "err", cause(err))
		if err := d.root.RemoveAll(src); err != nil {
			d.log.Error("store: cannot remove bad entry", "err", cause(err))
			return false
		}
	}
	d.quarantined++
	return true
}
