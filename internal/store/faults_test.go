package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// injector is an Options.Faults that records every write step and fails the n-th one
// (counted from the last arm) with a disk-full error carrying an absolute path, the way
// the os package reports ENOSPC.
type injector struct {
	dir string // the path put into the injected error, which must never reach the caller

	mu     sync.Mutex
	ops    []string
	failAt int // 1-based; 0 never fails
}

func (in *injector) fault(op string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.ops = append(in.ops, op)
	if len(in.ops) == in.failAt {
		return &fs.PathError{Op: op, Path: filepath.Join(in.dir, "tmp", "0123.tmp"), Err: syscall.ENOSPC}
	}
	return nil
}

// arm resets the recorded steps and fails the n-th step from now (0: none).
func (in *injector) arm(n int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.ops, in.failAt = nil, n
}

func (in *injector) recorded() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.ops...)
}

// assertDiskConsistent checks what a failed or interrupted write must never leave behind:
// a temp file, a file under o/ or r/ with a name the store does not write, metadata without
// its original (or the reverse), an original whose bytes do not match its name, a rendition
// that does not verify, or an index that disagrees with the disk.
func assertDiskConsistent(t *testing.T, dir string, d *Disk) {
	t.Helper()
	assert.Empty(t, dirEntries(t, fileOf(dir, dirTmp)), "temp files left behind")
	imgs, metas := map[string]bool{}, map[string]bool{}
	var imgBytes int64
	for _, shard := range dirEntries(t, fileOf(dir, dirOriginals)) {
		for _, name := range dirEntries(t, fileOf(dir, dirOriginals+"/"+shard)) {
			id, ext, ok := splitName(name)
			if !assert.True(t, ok && validKey(id) && id[:2] == shard, "unexpected entry o/%s/%s", shard, name) {
				continue
			}
			switch ext {
			case "img":
				raw, err := os.ReadFile(fileOf(dir, originalPath(id)))
				require.NoError(t, err)
				sum := sha256.Sum256(raw)
				assert.Equal(t, id, hex.EncodeToString(sum[:]), "original %s does not match its name", short(id))
				imgs[id] = true
				imgBytes += int64(len(raw))
			case "meta":
				metas[id] = true
			default:
				t.Errorf("unexpected entry o/%s/%s", shard, name)
			}
		}
	}
	assert.Equal(t, imgs, metas, "every original has its metadata and every metadata its original")
	var rends int
	var rendBytes int64
	for _, shard := range dirEntries(t, fileOf(dir, dirRenditions)) {
		for _, id := range dirEntries(t, fileOf(dir, dirRenditions+"/"+shard)) {
			assert.True(t, imgs[id], "renditions of absent original %s", short(id))
			for _, name := range dirEntries(t, fileOf(dir, renditionDir(id))) {
				key, ext, ok := splitName(name)
				if !assert.True(t, ok && ext == "rnd" && validKey(key), "unexpected entry under r/: %s", name) {
					continue
				}
				f, err := os.Open(fileOf(dir, renditionPath(id, key)))
				require.NoError(t, err)
				fi, err := f.Stat()
				require.NoError(t, err)
				r, reason, err := verifyRendition(f, fi)
				require.NoError(t, err)
				assert.Empty(t, reason, "rendition %s/%s", short(id), short(key))
				if r != nil {
					_ = r.Close()
				} else {
					_ = f.Close()
				}
				rends++
				rendBytes += fi.Size()
			}
		}
	}
	st := d.Stats()
	assert.Equal(t, len(imgs), st.Originals, "index: originals")
	assert.Equal(t, imgBytes, st.OriginalBytes, "index: original bytes")
	assert.Equal(t, rends, st.Renditions, "index: renditions")
	assert.Equal(t, rendBytes, st.RenditionBytes, "index: rendition bytes")
}

// requireDiskFull checks the error of a write that hit the injected fault.
func requireDiskFull(t *testing.T, err error, dir string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, syscall.ENOSPC)
	assert.NotErrorIs(t, err, ErrNotExist)
	assert.NotErrorIs(t, err, ErrCorrupt)
	assert.NotContains(t, err.Error(), dir)
	assert.NotContains(t, err.Error(), "tmp/")
}

// assertSameBytes compares by length and digest, so a failure does not print kilobytes.
func assertSameBytes(t *testing.T, want, got []byte, msg string) {
	t.Helper()
	assert.Equal(t, len(want), len(got), "%s: length", msg)
	assert.Equal(t, sha256.Sum256(want), sha256.Sum256(got), "%s: SHA-256", msg)
}

// lastIndex returns the 1-based position of the last op in ops, 0 if absent.
func lastIndex(ops []string, op string) int {
	for i := len(ops) - 1; i >= 0; i-- {
		if ops[i] == op {
			return i + 1
		}
	}
	return 0
}

// faultStore opens a store on a fresh directory with an injector and one earlier entry
// (an original with a rendition) that every failure must leave intact.
func faultStore(t *testing.T) (dir string, d *Disk, in *injector, early string) {
	t.Helper()
	dir = t.TempDir()
	in = &injector{dir: dir}
	d = openStore(t, dir, Options{Faults: in.fault})
	early = putOrig(t, d, []byte("an earlier original"), []byte("early-meta"))
	require.NoError(t, d.PutRendition(ctx, early, keyN(0), []byte("early-rmeta"), payloadN(0, 3000)))
	return dir, d, in, early
}

func assertEarlyIntact(t *testing.T, d *Disk, early string) {
	t.Helper()
	got, err := d.Original(ctx, early)
	require.NoError(t, err)
	assert.Equal(t, []byte("an earlier original"), got)
	meta, err := d.OriginalMeta(ctx, early)
	require.NoError(t, err)
	assert.Equal(t, []byte("early-meta"), meta)
	r, err := d.OpenRendition(ctx, early, keyN(0))
	require.NoError(t, err)
	assertSameBytes(t, payloadN(0, 3000), readAll(t, r), "earlier rendition")
	require.NoError(t, r.Close())
}

func TestFaultStepsAreDocumented(t *testing.T) {
	dir, d, in, early := faultStore(t)
	data := []byte("fault steps")
	id := hexID(data)
	require.NotEqual(t, early[:2], id[:2], "the new original needs its own shard")
	in.arm(0)
	_, err := d.PutOriginal(ctx, id, data, []byte("m"))
	require.NoError(t, err)
	assert.Equal(t, []string{
		FaultCreate, FaultWrite, FaultSync, FaultClose, // metadata temp file
		FaultCreate, FaultWrite, FaultSync, FaultClose, // original temp file
		FaultMkdir, FaultRename, FaultRename, // shard; metadata, then original into place
		FaultSyncDir, FaultSyncDir, // o/ (new shard), o/<shard>/
	}, in.recorded())

	in.arm(0)
	require.NoError(t, d.PutRendition(ctx, id, keyN(1), []byte("m"), payloadN(1, 10)))
	assert.Equal(t, []string{
		FaultCreate, FaultWrite, FaultWrite, FaultSync, FaultClose, FaultChtimes, // header, payload
		FaultMkdir, FaultMkdir, FaultRename, // r/<shard>/, r/<shard>/<id>/; into place
		FaultSyncDir, FaultSyncDir, FaultSyncDir, // r/, r/<shard>/, r/<shard>/<id>/
	}, in.recorded())
	assertDiskConsistent(t, dir, d)
}

// TestPutOriginalDiskFull fails each write step of PutOriginal in turn. Before the commit
// point (the original's rename) nothing of the new entry may remain; a failure after it
// (a directory fsync) is reported, and the entry is then whole and verified. Either way
// earlier entries are intact, the index matches the disk, a reopened store agrees, and
// the same Put succeeds once the disk has room again.
func TestPutOriginalDiskFull(t *testing.T) {
	data := []byte("the original that meets a full disk")
	id := hexID(data)
	_, d0, in0, _ := faultStore(t)
	in0.arm(0)
	_, err := d0.PutOriginal(ctx, id, data, []byte("m"))
	require.NoError(t, err)
	steps := in0.recorded()
	commit := lastIndex(steps, FaultRename)
	require.Positive(t, commit)

	for n := 1; n <= len(steps); n++ {
		t.Run(fmt.Sprintf("%02d_%s", n, steps[n-1]), func(t *testing.T) {
			dir, d, in, early := faultStore(t)
			before := d.Stats()
			in.arm(n)
			created, err := d.PutOriginal(ctx, id, data, []byte("m"))
			requireDiskFull(t, err, dir)
			in.arm(0)

			if n <= commit { // the commit step itself or one before it failed
				assert.False(t, created)
				assert.NoFileExists(t, fileOf(dir, originalPath(id)))
				assert.NoFileExists(t, fileOf(dir, metaPath(id)))
				_, err = d.OriginalMeta(ctx, id)
				assert.ErrorIs(t, err, ErrNotExist)
				assert.Equal(t, before, d.Stats())
			} else {
				assert.True(t, created, "the entry was committed before the failing directory fsync")
				got, err := d.Original(ctx, id)
				require.NoError(t, err)
				assert.Equal(t, data, got)
			}
			assertEarlyIntact(t, d, early)
			assertDiskConsistent(t, dir, d)

			// The disk has room again.
			_, err = d.PutOriginal(ctx, id, data, []byte("m"))
			require.NoError(t, err)
			got, err := d.Original(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, data, got)
			require.NoError(t, d.PutRendition(ctx, id, keyN(1), nil, payloadN(1, 100)))
			assertDiskConsistent(t, dir, d)

			// A reopened store agrees.
			st := d.Stats()
			require.NoError(t, d.Close())
			d = openStore(t, dir, Options{})
			assert.Equal(t, st.Originals, d.Stats().Originals)
			assert.Equal(t, st.Renditions, d.Stats().Renditions)
			assertEarlyIntact(t, d, early)
			assertDiskConsistent(t, dir, d)
		})
	}
}

// TestPutRenditionDiskFull fails each write step of PutRendition in turn, for a new
// rendition of a new original (its directories are created) and for a replacement of an
// existing rendition: the same guarantees as TestPutOriginalDiskFull, and a failed
// replacement keeps serving the previous rendition.
func TestPutRenditionDiskFull(t *testing.T) {
	for _, replace := range []bool{false, true} {
		t.Run(map[bool]string{false: "new", true: "replace"}[replace], func(t *testing.T) {
			setup := func(t *testing.T) (string, *Disk, *injector, string, string) {
				dir, d, in, early := faultStore(t)
				id := putOrig(t, d, []byte("rendered original"), []byte("m"))
				if replace {
					require.NoError(t, d.PutRendition(ctx, id, keyN(1), []byte("old"), payloadN(7, 500)))
				}
				return dir, d, in, early, id
			}
			_, d, in, _, id := setup(t)
			in.arm(0)
			require.NoError(t, d.PutRendition(ctx, id, keyN(1), []byte("new"), payloadN(1, 2000)))
			steps := in.recorded()
			commit := lastIndex(steps, FaultRename)
			require.Positive(t, commit)

			for n := 1; n <= len(steps); n++ {
				t.Run(fmt.Sprintf("%02d_%s", n, steps[n-1]), func(t *testing.T) {
					dir, d, in, early, id := setup(t)
					before := d.Stats()
					in.arm(n)
					err := d.PutRendition(ctx, id, keyN(1), []byte("new"), payloadN(1, 2000))
					requireDiskFull(t, err, dir)
					in.arm(0)

					r, rerr := d.OpenRendition(ctx, id, keyN(1))
					switch {
					case n > commit:
						require.NoError(t, rerr)
						assertSameBytes(t, payloadN(1, 2000), readAll(t, r), "committed before the failing directory fsync")
						require.NoError(t, r.Close())
					case replace:
						require.NoError(t, rerr)
						assertSameBytes(t, payloadN(7, 500), readAll(t, r), "the previous rendition is still served")
						require.NoError(t, r.Close())
						assert.Equal(t, before.Renditions, d.Stats().Renditions)
						assert.Equal(t, before.RenditionBytes, d.Stats().RenditionBytes)
					default:
						require.ErrorIs(t, rerr, ErrNotExist)
						assert.NoFileExists(t, fileOf(dir, renditionPath(id, keyN(1))))
						assert.Equal(t, before.Renditions, d.Stats().Renditions)
						assert.Equal(t, before.RenditionBytes, d.Stats().RenditionBytes)
					}
					assertEarlyIntact(t, d, early)
					assertDiskConsistent(t, dir, d)

					require.NoError(t, d.PutRendition(ctx, id, keyN(1), []byte("new"), payloadN(1, 2000)))
					r, err = d.OpenRendition(ctx, id, keyN(1))
					require.NoError(t, err)
					assertSameBytes(t, payloadN(1, 2000), readAll(t, r), "after the fault is lifted")
					require.NoError(t, r.Close())
					assertDiskConsistent(t, dir, d)
				})
			}
		})
	}
}

// TestFaultErrorsAreWrappedOnce checks that the injected error's own path never survives
// into the message, whatever step fails.
func TestFaultErrorsAreWrappedOnce(t *testing.T) {
	for _, op := range []string{FaultCreate, FaultWrite, FaultSync, FaultClose, FaultMkdir, FaultRename, FaultSyncDir} {
		dir := t.TempDir()
		d := openStore(t, dir, Options{Faults: func(got string) error {
			if got == op {
				return &fs.PathError{Op: got, Path: dir + "/secret", Err: syscall.ENOSPC}
			}
			return nil
		}})
		data := []byte("wrapped " + op)
		_, err := d.PutOriginal(ctx, hexID(data), data, nil)
		require.Error(t, err, op)
		assert.True(t, errors.Is(err, syscall.ENOSPC), op)
		assert.False(t, strings.Contains(err.Error(), "secret"), "%s: %v", op, err)
	}
}
