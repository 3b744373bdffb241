package fastimagecache

// Durability under faults (issue 6): corruption on disk, a full disk at every write step,
// the rendition quota under a flood, and a concurrent storm. The crash test is in
// crash_test.go. Each test states what it injects and what it asserts; "loses no data" is
// checked byte for byte against the input or against a fresh render made by a separate
// Cache in a separate directory (rendering is deterministic).
//
// Tests about what is on disk run with the memory tier off (WithMemoryCache(-1)), so that
// every Get goes to the store; those where the tier must not change the outcome run with
// it on and off. No test here is skipped for a known bug.

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
	"github.com/fastimagecache/fastimagecache/internal/store"
)

// ---- helpers ----

// durTiers are the two ways a Cache serves hits: from the disk store only, and through the
// memory tier in front of it (the default).
var durTiers = []struct {
	name string
	opts []Option
}{
	{"disk", []Option{WithMemoryCache(-1)}},
	{"memory", nil},
}

// diskOnly turns the memory tier off, for tests about what the store does on disk.
var diskOnly = WithMemoryCache(-1)

// durLog is a goroutine-safe JSON log sink for WithLogger.
type durLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *durLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *durLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *durLog) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// errorLines returns the ERROR-level records that contain msg.
func (l *durLog) errorLines(msg string) []string {
	var out []string
	for line := range strings.SplitSeq(l.String(), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) && strings.Contains(line, msg) {
			out = append(out, line)
		}
	}
	return out
}

// durNoPath checks that text names no part of the store's location.
func durNoPath(t *testing.T, text, dir string) {
	t.Helper()
	assert.NotContains(t, text, dir)
	assert.NotContains(t, text, filepath.Base(dir)+string(filepath.Separator))
	assert.NotContains(t, text, "tmp/")
	assert.NotContains(t, text, ".img")
	assert.NotContains(t, text, ".rnd")
}

// openDur opens a Cache on dir and closes it at the end of the test (a second Close is a
// no-op, so tests may close it early to reopen the directory).
func openDur(t *testing.T, dir string, opts ...Option) *Cache {
	t.Helper()
	c, err := New(dir, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func durPut(t *testing.T, c *Cache, data []byte) Info {
	t.Helper()
	info, err := c.Put(t.Context(), bytes.NewReader(data))
	require.NoError(t, err)
	return info
}

func durGet(t *testing.T, c *Cache, id ID, s Spec) []byte {
	t.Helper()
	r, err := c.Get(t.Context(), id, s)
	require.NoError(t, err)
	defer r.Close()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Equal(t, r.Size, int64(len(b)))
	return b
}

// durRef renders with a Cache of its own, in a directory of its own, so that what the
// cache under test returns can be compared with a fresh render of the same Spec.
type durRef struct {
	t *testing.T
	c *Cache

	mu   sync.Mutex
	seen map[string][]byte
}

func newDurRef(t *testing.T) *durRef {
	return &durRef{t: t, c: openDur(t, t.TempDir()), seen: map[string][]byte{}}
}

func (r *durRef) render(data []byte, s Spec) []byte {
	r.t.Helper()
	k := fmt.Sprintf("%x/%+v", sha256.Sum256(data), s)
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.seen[k]; ok {
		return b
	}
	b := durGet(r.t, r.c, durPut(r.t, r.c, data).ID, s)
	r.seen[k] = b
	return b
}

// durSameBytes compares by length and digest, so a failure does not print kilobytes.
func durSameBytes(t *testing.T, want, got []byte, msgAndArgs ...any) bool {
	t.Helper()
	return assert.Equal(t, len(want), len(got), msgAndArgs...) &&
		assert.Equal(t, sha256.Sum256(want), sha256.Sum256(got), msgAndArgs...)
}

// durFiles lists the regular files below dir/sub, relative to dir, with their sizes.
func durFiles(t *testing.T, dir, sub string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := filepath.WalkDir(filepath.Join(dir, sub), func(p string, e fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || e.IsDir() {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = fi.Size()
		return nil
	})
	require.NoError(t, err)
	return out
}

func durOriginalFile(dir string, id ID) string {
	return filepath.Join(dir, "o", string(id[:2]), string(id)+".img")
}

func durRenditionDir(dir string, id ID) string {
	return filepath.Join(dir, "r", string(id[:2]), string(id))
}

// durRenditionFiles returns the rendition files of id, relative to dir.
func durRenditionFiles(t *testing.T, dir string, id ID) []string {
	t.Helper()
	var out []string
	for rel := range durFiles(t, dir, filepath.Join("r", string(id[:2]), string(id))) {
		out = append(out, rel)
	}
	return out
}

func durRenditionBytesOnDisk(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	for _, size := range durFiles(t, dir, "r") {
		n += size
	}
	return n
}

// durFlip flips one bit of the file at p, at offset at(len), and returns the new bytes.
func durFlip(t *testing.T, p string, at func(n int) int) []byte {
	t.Helper()
	raw, err := os.ReadFile(p)
	require.NoError(t, err)
	raw[at(len(raw))] ^= 0x01
	require.NoError(t, os.WriteFile(p, raw, 0o640))
	return raw
}

// durConsistent checks what no failure or crash may leave behind: a temp file, a
// name under o/ or r/ the store does not write, metadata without its original or the
// reverse, renditions of an absent original, an original whose bytes do not hash to its
// name, or an index (Stats) that disagrees with the files.
func durConsistent(t *testing.T, dir string, c *Cache) {
	t.Helper()
	assert.Empty(t, durFiles(t, dir, "tmp"), "temp files left behind")
	imgs, metas := map[ID]bool{}, map[ID]bool{}
	var imgBytes int64
	for rel, size := range durFiles(t, dir, "o") {
		parts := strings.Split(rel, "/")
		if !assert.Len(t, parts, 3, "unexpected entry %s", rel) {
			continue
		}
		base, ext, _ := strings.Cut(parts[2], ".")
		id, err := ParseID(base)
		if !assert.NoError(t, err, "unexpected entry %s", rel) || !assert.Equal(t, parts[1], base[:2], rel) {
			continue
		}
		switch ext {
		case "img":
			raw, err := os.ReadFile(filepath.Join(dir, rel))
			require.NoError(t, err)
			assert.Equal(t, id, idOf(raw), "original %s does not hash to its name", id.short())
			imgs[id] = true
			imgBytes += size
		case "meta":
			metas[id] = true
		default:
			t.Errorf("unexpected entry %s", rel)
		}
	}
	assert.Equal(t, imgs, metas, "every original has its metadata and every metadata its original")
	var rends int
	var rendBytes int64
	for rel, size := range durFiles(t, dir, "r") {
		parts := strings.Split(rel, "/")
		if !assert.Len(t, parts, 4, "unexpected entry %s", rel) {
			continue
		}
		assert.True(t, imgs[ID(parts[2])], "rendition of an absent original: %s", rel)
		key, ext, _ := strings.Cut(parts[3], ".")
		assert.True(t, isHexDigest(key) && ext == "rnd", "unexpected entry %s", rel)
		rends++
		rendBytes += size
	}
	st := c.store.Stats()
	assert.Equal(t, len(imgs), st.Originals, "index: originals")
	assert.Equal(t, imgBytes, st.OriginalBytes, "index: original bytes")
	assert.Equal(t, rends, st.Renditions, "index: renditions")
	assert.Equal(t, rendBytes, st.RenditionBytes, "index: rendition bytes")
}

// ---- corruption ----

// TestDurabilityCorruptRenditionIsRegenerated flips one byte of a stored rendition (while
// the Cache is closed, so that nothing but the disk holds it) and checks that the next Get
// detects it, moves the file to quarantine, logs it at Error without a path, and serves a
// re-render byte-identical to a fresh one; the re-render is stored again.
func TestDurabilityCorruptRenditionIsRegenerated(t *testing.T) {
	ref := newDurRef(t)
	for _, tier := range durTiers {
		t.Run(tier.name, func(t *testing.T) { testCorruptRendition(t, ref, tier.opts) })
	}
}

func testCorruptRendition(t *testing.T, ref *durRef, opts []Option) {
	dir := t.TempDir()
	var log durLog
	src := fixture.PNG(120, 90)
	spec := Spec{Width: 40}
	want := ref.render(src, spec)
	opts = append(slices.Clip(opts), WithLogger(log.logger()))

	c := openDur(t, dir, opts...)
	info := durPut(t, c, src)
	durSameBytes(t, want, durGet(t, c, info.ID, spec), "first render")
	require.NoError(t, c.Close())

	files := durRenditionFiles(t, dir, info.ID)
	require.Len(t, files, 1)
	bad := durFlip(t, filepath.Join(dir, files[0]), func(n int) int { return n - 1 }) // the payload's last byte

	c = openDur(t, dir, opts...)
	durSameBytes(t, want, durGet(t, c, info.ID, spec), "Get after corruption re-renders")
	assert.Equal(t, int64(1), c.Stats().Misses, "the corrupt rendition counts as a miss")

	q := durFiles(t, dir, "quarantine")
	require.Len(t, q, 1, "the bad file is in quarantine")
	for rel := range q {
		moved, err := os.ReadFile(filepath.Join(dir, rel))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(bad, moved), "quarantine holds the bad bytes")
	}
	assert.Len(t, log.errorLines("rendition failed verification"), 1, "logged at Error")
	durNoPath(t, log.String(), dir)

	// Stored again, and served from the store from now on.
	assert.Len(t, durRenditionFiles(t, dir, info.ID), 1)
	durSameBytes(t, want, durGet(t, c, info.ID, spec), "second Get")
	assert.Equal(t, int64(1), c.Stats().Misses)
	rep, err := c.Verify(t.Context())
	require.NoError(t, err)
	assert.Empty(t, rep.BadOriginals)
	assert.Empty(t, rep.BadRenditions)
	durConsistent(t, dir, c)
}

// TestDurabilityCorruptOriginalIsNeverServed flips one byte of a stored original (while
// the Cache is closed) and documents what each call returns:
//
//   - Stat reads only the metadata, not the original's bytes, so it cannot notice; it
//     returns no bytes either way.
//   - The first call that reads the bytes (here a Get that must render) fails with
//     ErrCorrupt. The original is moved to quarantine, its metadata and renditions removed,
//     and the event logged at Error without a path.
//   - From then on the ID is gone: Stat, Get (any Spec) and Delete return ErrNotFound.
//   - Putting the same bytes again stores them afresh.
//
// With the memory tier on, see TestDurabilityMemoryTierForgetsQuarantinedOriginal.
func TestDurabilityCorruptOriginalIsNeverServed(t *testing.T) {
	ref := newDurRef(t)
	dir := t.TempDir()
	var log durLog
	src := fixture.JPEG(96, 64, 90)
	cached, fresh := Spec{Width: 48}, Spec{Width: 30, Format: PNG}

	c := openDur(t, dir, diskOnly, WithLogger(log.logger()))
	info := durPut(t, c, src)
	durGet(t, c, info.ID, cached)
	require.NoError(t, c.Close())
	bad := durFlip(t, durOriginalFile(dir, info.ID), func(n int) int { return n / 2 })

	c = openDur(t, dir, diskOnly, WithLogger(log.logger()))
	_, err := c.Get(t.Context(), info.ID, fresh)
	require.ErrorIs(t, err, ErrCorrupt, "the first read of the bytes detects the corruption")
	durNoPath(t, err.Error(), dir)

	q := durFiles(t, dir, "quarantine")
	require.Len(t, q, 1, "the original is moved aside")
	for rel := range q {
		assert.True(t, strings.HasPrefix(rel, "quarantine/"+string(info.ID)+".img."), rel)
		moved, err := os.ReadFile(filepath.Join(dir, rel))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(bad, moved), "quarantine holds the bad bytes")
	}
	assert.NoFileExists(t, durOriginalFile(dir, info.ID))
	assert.NoDirExists(t, durRenditionDir(dir, info.ID), "its renditions go with it")
	assert.Len(t, log.errorLines("original failed verification"), 1, "logged at Error")
	durNoPath(t, log.String(), dir)

	_, err = c.Stat(t.Context(), info.ID)
	assert.ErrorIs(t, err, ErrNotFound, "Stat after detection")
	for _, s := range []Spec{{}, cached, fresh} {
		r, err := c.Get(t.Context(), info.ID, s)
		if !assert.ErrorIs(t, err, ErrNotFound, "Get %+v after detection", s) {
			r.Close()
		}
	}
	assert.ErrorIs(t, c.Delete(t.Context(), info.ID), ErrNotFound)
	durConsistent(t, dir, c)

	// The client can upload it again.
	again := durPut(t, c, src)
	assert.Equal(t, info, again)
	durSameBytes(t, ref.render(src, fresh), durGet(t, c, info.ID, fresh))
	raw, err := c.store.Original(t.Context(), string(info.ID))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(src, raw))
}

// TestDurabilityVerifyFindsBothKinds corrupts an original and (another image's) rendition
// on disk while the Cache is open, and checks that Cache.Verify finds both, quarantines
// both, logs both at Error without a path, leaves everything else served byte-identical,
// and that the next Verify is clean. With the memory tier on, see
// TestDurabilityMemoryTierForgetsQuarantinedOriginal.
func TestDurabilityVerifyFindsBothKinds(t *testing.T) {
	ref := newDurRef(t)
	dir := t.TempDir()
	var log durLog
	a, b := fixture.PNG(80, 60), fixture.GIF(64, 48, 2)
	spec := Spec{Width: 32, Height: 32, Fit: Cover}

	c := openDur(t, dir, diskOnly, WithLogger(log.logger()))
	ia, ib := durPut(t, c, a), durPut(t, c, b)
	durGet(t, c, ia.ID, spec)
	durGet(t, c, ib.ID, spec)
	rep, err := c.Verify(t.Context())
	require.NoError(t, err)
	require.Equal(t, VerifyReport{Originals: 2, Renditions: 2}, rep)

	ra := durRenditionFiles(t, dir, ia.ID)
	require.Len(t, ra, 1)
	durFlip(t, filepath.Join(dir, ra[0]), func(n int) int { return n - 10 })
	durFlip(t, durOriginalFile(dir, ib.ID), func(n int) int { return n / 3 })

	rep, err = c.Verify(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 2, rep.Originals)
	assert.Equal(t, 1, rep.Renditions, "b's rendition left with b before the rendition pass")
	assert.Equal(t, []ID{ib.ID}, rep.BadOriginals)
	key := strings.TrimSuffix(filepath.Base(ra[0]), ".rnd")
	assert.Equal(t, []BadEntry{{ID: ia.ID, Key: key}}, rep.BadRenditions)
	assert.Len(t, durFiles(t, dir, "quarantine"), 2)
	assert.Len(t, log.errorLines("original failed verification"), 1)
	assert.Len(t, log.errorLines("rendition failed verification"), 1)
	durNoPath(t, log.String(), dir)

	_, err = c.Stat(t.Context(), ib.ID)
	assert.ErrorIs(t, err, ErrNotFound, "a quarantined original is gone")
	r, err := c.Get(t.Context(), ib.ID, spec)
	if !assert.ErrorIs(t, err, ErrNotFound, "nor is any rendition of it served") {
		r.Close()
	}
	durSameBytes(t, ref.render(a, spec), durGet(t, c, ia.ID, spec))
	raw, err := c.store.Original(t.Context(), string(ia.ID))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(a, raw))

	rep, err = c.Verify(t.Context())
	require.NoError(t, err)
	assert.Empty(t, rep.BadOriginals)
	assert.Empty(t, rep.BadRenditions)
	durConsistent(t, dir, c)
}

// ---- a full disk ----

// durFaults is a withStoreFaults function that records every store write step and fails
// the n-th one (counted from arm) with ENOSPC, wrapped the way the os package reports it:
// in an *fs.PathError carrying an absolute path, which must never reach the caller.
type durFaults struct {
	dir string

	mu     sync.Mutex
	ops    []string
	failAt int // 1-based; 0 never fails
}

func (f *durFaults) fault(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, op)
	if len(f.ops) == f.failAt {
		return &fs.PathError{Op: op, Path: filepath.Join(f.dir, "tmp", "0123abcd.tmp"), Err: syscall.ENOSPC}
	}
	return nil
}

func (f *durFaults) arm(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops, f.failAt = nil, n
}

func (f *durFaults) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ops...)
}

// durCommitStep is the 1-based position of the last rename: the step that makes an entry
// visible. A failure at or before it must leave nothing; a failure after it (a directory
// fsync) is reported, and the entry is then whole.
func durCommitStep(ops []string) int {
	for i := len(ops) - 1; i >= 0; i-- {
		if ops[i] == store.FaultRename {
			return i + 1
		}
	}
	return 0
}

// durDiskFull is a Cache with one earlier entry (an original and a rendition) that a
// failed write must leave intact.
type durDiskFull struct {
	t      *testing.T
	dir    string
	c      *Cache
	faults *durFaults
	log    *durLog

	early     []byte
	earlyInfo Info
	earlySpec Spec
	earlyWant []byte
}

func newDurDiskFull(t *testing.T, ref *durRef) *durDiskFull {
	dir := t.TempDir()
	d := &durDiskFull{t: t, dir: dir, faults: &durFaults{dir: dir}, log: &durLog{},
		early: fixture.PNG(40, 30), earlySpec: Spec{Width: 20}}
	d.c = openDur(t, dir, withStoreFaults(d.faults.fault), WithLogger(d.log.logger()))
	d.earlyInfo = durPut(t, d.c, d.early)
	d.earlyWant = ref.render(d.early, d.earlySpec)
	durSameBytes(t, d.earlyWant, durGet(t, d.c, d.earlyInfo.ID, d.earlySpec))
	return d
}

func (d *durDiskFull) requireDiskFull(err error) {
	t := d.t
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, ErrStorage)
	require.ErrorIs(t, err, syscall.ENOSPC)
	assert.NotErrorIs(t, err, ErrNotFound)
	assert.NotErrorIs(t, err, ErrCorrupt)
	durNoPath(t, err.Error(), d.dir)
	assert.Contains(t, d.log.String(), `"reason":"storage"`, "a storage failure is logged")
	assert.NotEmpty(t, d.log.errorLines("image rejected"), "at Error")
	durNoPath(t, d.log.String(), d.dir)
}

// assertEarlyIntact checks the earlier entry byte for byte.
func (d *durDiskFull) assertEarlyIntact() {
	t := d.t
	t.Helper()
	info, err := d.c.Stat(t.Context(), d.earlyInfo.ID)
	require.NoError(t, err)
	assert.Equal(t, d.earlyInfo, info)
	raw, err := d.c.store.Original(t.Context(), string(d.earlyInfo.ID))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(d.early, raw), "earlier original byte-identical")
	durSameBytes(t, d.earlyWant, durGet(t, d.c, d.earlyInfo.ID, d.earlySpec), "earlier rendition")
}

// TestDurabilityDiskFullPut fails each store write step of a Put in turn (temp file
// create, write, fsync, close for the metadata and the original; mkdir; both renames;
// directory fsyncs) with ENOSPC, through Cache.Put.
func TestDurabilityDiskFullPut(t *testing.T) {
	ref := newDurRef(t)
	src := fixture.JPEG(48, 36, 85)
	spec := Spec{Width: 24, Format: PNG}
	want := ref.render(src, spec)

	d := newDurDiskFull(t, ref)
	d.faults.arm(0)
	durPut(t, d.c, src)
	steps := d.faults.recorded()
	commit := durCommitStep(steps)
	require.Positive(t, commit, "steps %v", steps)
	t.Logf("Put write steps: %v (commit at %d)", steps, commit)

	for n := 1; n <= len(steps); n++ {
		t.Run(fmt.Sprintf("%02d_%s", n, steps[n-1]), func(t *testing.T) {
			d := newDurDiskFull(t, ref)
			before := d.c.store.Stats()
			d.faults.arm(n)
			_, err := d.c.Put(t.Context(), bytes.NewReader(src))
			d.requireDiskFull(err)
			d.faults.arm(0)

			id := idOf(src)
			if n <= commit {
				_, err := d.c.Stat(t.Context(), id)
				assert.ErrorIs(t, err, ErrNotFound, "nothing of the failed Put is visible")
				assert.NoFileExists(t, durOriginalFile(d.dir, id))
				assert.NoFileExists(t, strings.TrimSuffix(durOriginalFile(d.dir, id), ".img")+".meta")
				assert.Equal(t, before, d.c.store.Stats())
			} else {
				raw, err := d.c.store.Original(t.Context(), string(id))
				require.NoError(t, err, "committed before the failing directory fsync")
				assert.True(t, bytes.Equal(src, raw))
			}
			durConsistent(t, d.dir, d.c)
			d.assertEarlyIntact()

			// The disk has room again: the cache keeps serving.
			info := durPut(t, d.c, src)
			assert.Equal(t, id, info.ID)
			raw, err := d.c.store.Original(t.Context(), string(id))
			require.NoError(t, err)
			assert.True(t, bytes.Equal(src, raw))
			durSameBytes(t, want, durGet(t, d.c, id, spec))
			durConsistent(t, d.dir, d.c)
		})
	}
}

// TestDurabilityDiskFullGet fails each store write step of the rendition a Get stores
// (temp file create, header and payload writes, fsync, close, chtimes, mkdirs, rename,
// directory fsyncs) with ENOSPC, through Cache.Get.
func TestDurabilityDiskFullGet(t *testing.T) {
	ref := newDurRef(t)
	src := fixture.PNG(48, 40)
	spec := Spec{Width: 24, Height: 24, Fit: Cover, Format: JPEG, Quality: 70}
	want := ref.render(src, spec)

	setup := func(t *testing.T) (*durDiskFull, ID) {
		d := newDurDiskFull(t, ref)
		return d, durPut(t, d.c, src).ID
	}
	d, id := setup(t)
	d.faults.arm(0)
	durGet(t, d.c, id, spec)
	steps := d.faults.recorded()
	commit := durCommitStep(steps)
	require.Positive(t, commit, "steps %v", steps)
	t.Logf("Get write steps: %v (commit at %d)", steps, commit)

	for n := 1; n <= len(steps); n++ {
		t.Run(fmt.Sprintf("%02d_%s", n, steps[n-1]), func(t *testing.T) {
			d, id := setup(t)
			before := d.c.store.Stats()
			d.faults.arm(n)
			r, err := d.c.Get(t.Context(), id, spec)
			if err == nil {
				r.Close()
			}
			d.requireDiskFull(err)
			d.faults.arm(0)

			if n <= commit {
				assert.Empty(t, durRenditionFiles(t, d.dir, id), "no rendition file")
				assert.Equal(t, before, d.c.store.Stats())
			} else {
				assert.Len(t, durRenditionFiles(t, d.dir, id), 1, "committed before the failing directory fsync")
			}
			durConsistent(t, d.dir, d.c)
			d.assertEarlyIntact()

			// The disk has room again.
			durSameBytes(t, want, durGet(t, d.c, id, spec))
			assert.Len(t, durRenditionFiles(t, d.dir, id), 1)
			durConsistent(t, d.dir, d.c)
		})
	}
}

// ---- the quota ----

// TestDurabilityQuotaFlood floods a Cache with a small WithMaxStoreBytes with distinct
// renditions. After every call the renditions' bytes, in the index and on disk, stay
// within the quota; one rendition re-read after every flood Get survives on disk (least
// recently used goes first, so after a reopen it is still a hit while the oldest flood
// renditions are not); originals are never evicted; and a rendition read through a
// Rendition opened before its eviction reads whole and equal to a fresh render (with the
// memory tier off it reads from the unlinked file). With the memory tier on, see
// TestDurabilityMemoryTierHitsKeepDiskLRU.
func TestDurabilityQuotaFlood(t *testing.T) {
	ref := newDurRef(t)
	src, other := fixture.PNG(96, 72), fixture.JPEG(32, 32, 80)
	hot, flood := durFloodSpecs()
	var largest, total int
	for _, s := range append(flood, hot) {
		n := len(ref.render(src, s))
		largest, total = max(largest, n), total+n
	}
	// Room for a quarter of the flood, and always for the two largest renditions (plus
	// their headers): the flood must evict, and the hot rendition always fits.
	quota := int64(max(2*(largest+512), total/4))
	dir := t.TempDir()
	c := openDur(t, dir, diskOnly, WithMaxStoreBytes(quota))
	info, otherInfo := durPut(t, c, src), durPut(t, c, other)

	check := func(when string) {
		t.Helper()
		st := c.store.Stats()
		require.LessOrEqual(t, st.RenditionBytes, quota, "index over quota %s", when)
		require.LessOrEqual(t, durRenditionBytesOnDisk(t, dir), quota, "disk over quota %s", when)
		require.Equal(t, 2, st.Originals, "originals are never evicted (%s)", when)
		cs := c.Stats()
		require.Equal(t, st.OriginalBytes+st.RenditionBytes, cs.StoreBytes)
	}
	durSameBytes(t, ref.render(src, hot), durGet(t, c, info.ID, hot))
	check("after the hot rendition")

	// A Rendition opened from the store, then evicted while it is being read.
	victim := flood[0]
	had := durRenditionFiles(t, dir, info.ID)
	durSameBytes(t, ref.render(src, victim), durGet(t, c, info.ID, victim))
	victimFile := ""
	for _, f := range durRenditionFiles(t, dir, info.ID) {
		if !slices.Contains(had, f) {
			victimFile = f
		}
	}
	require.NotEmpty(t, victimFile)
	open, err := c.Get(t.Context(), info.ID, victim)
	require.NoError(t, err)
	defer open.Close()
	_, inMemory := open.ReadSeekCloser.(nopCloser)
	require.False(t, inMemory, "the Rendition reads from its file")
	head := make([]byte, 10)
	_, err = io.ReadFull(open, head)
	require.NoError(t, err)

	for i, s := range flood[1:] {
		durSameBytes(t, ref.render(src, s), durGet(t, c, info.ID, s), "flood %d", i)
		check(fmt.Sprintf("after flood Get %d", i))
		durSameBytes(t, ref.render(src, hot), durGet(t, c, info.ID, hot), "hot after flood %d", i)
		check(fmt.Sprintf("after hot Get %d", i))
	}
	st := c.store.Stats()
	require.Positive(t, st.Evictions, "the flood evicted")
	assert.NoFileExists(t, filepath.Join(dir, victimFile), "the open Rendition's file was evicted")
	assert.Equal(t, st.Evictions, c.Stats().Evictions)
	t.Logf("quota %d B, renditions %d B in all, largest %d B, %d flood specs: %+v", quota, total, largest, len(flood), st)

	rest, err := io.ReadAll(open)
	require.NoError(t, err)
	durSameBytes(t, ref.render(src, victim), append(head, rest...), "a Rendition open across its eviction")
	require.NoError(t, open.Close())

	for _, id := range []ID{info.ID, otherInfo.ID} {
		raw, err := c.store.Original(t.Context(), string(id))
		require.NoError(t, err, "originals are never evicted")
		assert.Equal(t, id, idOf(raw))
	}

	// Reopen: what is stored is what was most recently used.
	require.NoError(t, c.Close())
	c = openDur(t, dir, diskOnly, WithMaxStoreBytes(quota))
	assert.Equal(t, st.Renditions, c.store.Stats().Renditions)
	assert.Equal(t, st.RenditionBytes, c.store.Stats().RenditionBytes)
	durSameBytes(t, ref.render(src, hot), durGet(t, c, info.ID, hot))
	assert.Zero(t, c.Stats().Misses, "the re-read rendition survived the flood")
	durSameBytes(t, ref.render(src, flood[1]), durGet(t, c, info.ID, flood[1]))
	assert.Equal(t, int64(1), c.Stats().Misses, "the least recently used flood rendition was evicted")
	check("after reopen")
	durConsistent(t, dir, c)
}

// durFloodSpecs returns a rendition to keep re-reading and 20 distinct others.
func durFloodSpecs() (hot Spec, flood []Spec) {
	for w := 16; w < 96; w += 4 {
		flood = append(flood, Spec{Width: w, Format: []Format{PNG, JPEG, PNG, GIF}[w/4%4]})
	}
	return Spec{Width: 40, Format: JPEG}, flood
}

// ---- concurrency ----

// TestDurabilityConcurrentStorm runs goroutines doing Put, Get and Delete on overlapping
// IDs under a quota small enough to evict all the time. The only error allowed is
// ErrNotFound (a Get or Delete racing with a Delete); every successful Get returns bytes
// identical to a fresh render of its Spec; after the storm the index agrees with the
// disk, an absent ID has no renditions left, and deleting everything leaves no rendition.
func TestDurabilityConcurrentStorm(t *testing.T) {
	ref := newDurRef(t)
	for _, tier := range durTiers {
		t.Run(tier.name, func(t *testing.T) { testStorm(t, ref, tier.opts) })
	}
}

func testStorm(t *testing.T, ref *durRef, opts []Option) {
	srcs := [][]byte{fixture.PNG(48, 40), fixture.PNG(40, 48), fixture.JPEG(56, 40, 80), fixture.GIF(40, 32, 2)}
	specs := []Spec{{}, {Width: 16}, {Width: 24, Format: PNG}, {Width: 20, Height: 20, Fit: Cover}, {Height: 12, Format: GIF}, {Width: 30, Format: JPEG, Quality: 60}}
	want := make([][][]byte, len(srcs))
	var largest int
	for i, src := range srcs {
		for _, s := range specs {
			b := ref.render(src, s)
			want[i] = append(want[i], b)
			largest = max(largest, len(b))
		}
	}
	quota := int64(3 * (largest + 512) / 2) // one or two renditions: every miss evicts
	dir := t.TempDir()
	c := openDur(t, dir, append(slices.Clip(opts), WithMaxStoreBytes(quota))...)
	ids := make([]ID, len(srcs))
	for i, src := range srcs {
		ids[i] = idOf(src)
	}

	const workers, ops = 8, 60
	var gets, notFound, overQuota atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, workers*ops)
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 6))
			for range ops {
				i := rng.IntN(len(srcs))
				var err error
				switch op := rng.IntN(10); {
				case op < 3:
					_, err = c.Put(t.Context(), bytes.NewReader(srcs[i]))
				case op < 9:
					k := rng.IntN(len(specs))
					var r *Rendition
					r, err = c.Get(t.Context(), ids[i], specs[k])
					if err == nil {
						b, rerr := io.ReadAll(r)
						r.Close()
						switch {
						case rerr != nil:
							err = rerr
						case !bytes.Equal(b, want[i][k]):
							err = fmt.Errorf("Get %d %+v: %d bytes differ from a fresh render (%d bytes)", i, specs[k], len(b), len(want[i][k]))
						default:
							gets.Add(1)
						}
					}
				default:
					err = c.Delete(t.Context(), ids[i])
				}
				if errors.Is(err, ErrNotFound) {
					notFound.Add(1)
				} else if err != nil {
					errc <- err
				}
				if c.store.Stats().RenditionBytes > quota {
					overQuota.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	st := c.store.Stats()
	t.Logf("%d good Gets, %d ErrNotFound, stats %+v", gets.Load(), notFound.Load(), st)
	assert.Zero(t, overQuota.Load(), "renditions over quota")
	assert.Positive(t, gets.Load())
	assert.Positive(t, st.Evictions, "the quota was exercised")

	// Quiesced: the index matches the disk, and an absent ID has no renditions.
	durConsistent(t, dir, c)
	for i, id := range ids {
		if _, err := c.Stat(t.Context(), id); errors.Is(err, ErrNotFound) {
			assert.NoDirExists(t, durRenditionDir(dir, id), "renditions of deleted %d", i)
		} else {
			require.NoError(t, err)
			raw, err := c.store.Original(t.Context(), string(id))
			require.NoError(t, err)
			assert.True(t, bytes.Equal(srcs[i], raw))
		}
	}

	// Delete removes every rendition with its original.
	for i, id := range ids {
		durPut(t, c, srcs[i])
		durGet(t, c, id, specs[1])
		require.NoError(t, c.Delete(t.Context(), id))
		assert.NoDirExists(t, durRenditionDir(dir, id))
		r, err := c.Get(t.Context(), id, specs[1])
		if !assert.ErrorIs(t, err, ErrNotFound, "Get after Delete %d", i) {
			r.Close()
		}
	}
	st = c.store.Stats()
	assert.Zero(t, st.Originals)
	assert.Zero(t, st.Renditions)
	assert.Zero(t, st.RenditionBytes)
	assert.Empty(t, durFiles(t, dir, "r"))
	durConsistent(t, dir, c)
}

// ---- the memory tier ----

// TestDurabilityMemoryTierForgetsQuarantinedOriginal: once the store has quarantined a
// corrupt original (found by a Get or by Verify), the memory tier must forget it too.
// Otherwise Stat still reports it, Get serves a rendition of it, and, worst, a Put of the
// very same bytes finds the stale metadata, reports success and stores nothing: a lost
// write.
func TestDurabilityMemoryTierForgetsQuarantinedOriginal(t *testing.T) {
	ref := newDurRef(t)
	src := fixture.PNG(80, 60)
	spec := Spec{Width: 32}
	for _, found := range []string{"get", "verify"} {
		t.Run(found, func(t *testing.T) {
			dir := t.TempDir()
			c := openDur(t, dir)
			info := durPut(t, c, src)
			durGet(t, c, info.ID, spec)
			durFlip(t, durOriginalFile(dir, info.ID), func(n int) int { return n / 2 })
			if found == "get" {
				_, err := c.Get(t.Context(), info.ID, Spec{Width: 20})
				require.ErrorIs(t, err, ErrCorrupt)
			} else {
				rep, err := c.Verify(t.Context())
				require.NoError(t, err)
				require.Equal(t, []ID{info.ID}, rep.BadOriginals)
			}
			_, err := c.Stat(t.Context(), info.ID)
			assert.ErrorIs(t, err, ErrNotFound, "Stat of a quarantined original")
			r, err := c.Get(t.Context(), info.ID, spec)
			if !assert.ErrorIs(t, err, ErrNotFound, "Get of a quarantined original") {
				r.Close()
			}
			durPut(t, c, src)
			raw, err := c.store.Original(t.Context(), string(info.ID))
			require.NoError(t, err, "a Put that reported success stored the bytes")
			assert.True(t, bytes.Equal(src, raw))
			durSameBytes(t, ref.render(src, Spec{Width: 20}), durGet(t, c, info.ID, Spec{Width: 20}))
		})
	}
}

// ---- the memory tier and the disk LRU; duplicate Puts ----

// TestDurabilityMemoryTierHitsKeepDiskLRU: a rendition re-read from the memory tier is
// recently used, so the disk quota must not evict it first (get.go reports every memory
// hit to the store's LRU with MarkUsed). Otherwise the hottest renditions look the least
// recently used on disk, are evicted first, and must all be re-rendered after a restart.
func TestDurabilityMemoryTierHitsKeepDiskLRU(t *testing.T) {
	ref := newDurRef(t)
	src := fixture.PNG(96, 72)
	hot, flood := durFloodSpecs()
	var largest, total int
	for _, s := range append(flood, hot) {
		n := len(ref.render(src, s))
		largest, total = max(largest, n), total+n
	}
	quota := int64(max(2*(largest+512), total/4))
	dir := t.TempDir()
	c := openDur(t, dir, WithMaxStoreBytes(quota))
	info := durPut(t, c, src)
	durGet(t, c, info.ID, hot)
	for _, s := range flood {
		durGet(t, c, info.ID, s)
		durGet(t, c, info.ID, hot)
	}
	require.Positive(t, c.store.Stats().Evictions)
	require.NoError(t, c.Close())
	c = openDur(t, dir, WithMaxStoreBytes(quota))
	durSameBytes(t, ref.render(src, hot), durGet(t, c, info.ID, hot))
	assert.Zero(t, c.Stats().Misses, "the rendition re-read after every flood Get is still stored")
}

// TestDurabilityPutRepairsCorruptOriginal: a Put of bytes whose stored copy has rotted on
// disk must not report "already stored" over the bad copy: ingest re-reads (and so verifies)
// the stored original, which quarantines a bad one, and stores the new bytes. Otherwise the
// Put succeeds, the bad copy stays, and the next read of it quarantines it: the image is
// lost although its owner has just uploaded it again.
func TestDurabilityPutRepairsCorruptOriginal(t *testing.T) {
	ref := newDurRef(t)
	src := fixture.PNG(80, 60)
	dir := t.TempDir()
	c := openDur(t, dir, diskOnly)
	info := durPut(t, c, src)
	require.NoError(t, c.Close())
	durFlip(t, durOriginalFile(dir, info.ID), func(n int) int { return n / 2 })

	c = openDur(t, dir, diskOnly)
	durPut(t, c, src) // the owner uploads it again
	raw, err := c.store.Original(t.Context(), string(info.ID))
	require.NoError(t, err, "the stored original after a successful Put")
	assert.True(t, bytes.Equal(src, raw))
	durSameBytes(t, ref.render(src, Spec{Width: 20}), durGet(t, c, info.ID, Spec{Width: 20}))
}
