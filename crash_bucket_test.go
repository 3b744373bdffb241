package fastimagecache

// The crash test on a bucket: TestCrashKillLosesNoPut with a fileblob bucket behind the
// Cache. A bucket write is one whole-object put (fileblob: a temp file renamed into
// place), so a kill can only leave a whole object or none.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob/fileblob"
)

// crashBucketEnv is set only in the child: the fileblob bucket's directory.
const crashBucketEnv = "FASTIMAGECACHE_CRASH_CHILD_BUCKET"

// crashBucketChild Puts the round's images in a loop on a Cache backed by the fileblob
// bucket at bdir (local tier in dir), printing "PUT <id> <round> <i>" after each Put
// returned success and getting one rendition of each; it runs until killed.
func crashBucketChild(dir, bdir string) {
	round, err := strconv.Atoi(os.Getenv(crashRoundEnv))
	if err != nil {
		fmt.Printf("ERR round: %v\n", err)
		os.Exit(3)
	}
	b, err := fileblob.OpenBucket(bdir, nil)
	if err != nil {
		fmt.Printf("ERR bucket: %v\n", err)
		os.Exit(3)
	}
	c, err := New(dir, WithBucket(b))
	if err != nil {
		fmt.Printf("ERR open: %v\n", err)
		os.Exit(3)
	}
	ctx := context.Background()
	for i := 0; ; i++ {
		src := crashImage(round, i)
		if round > 0 && i%3 == 2 {
			src = crashImage(round-1, i/3) // the "already stored" path
		}
		info, err := c.Put(ctx, bytes.NewReader(src))
		if err != nil {
			fmt.Printf("ERR put %d/%d: %v\n", round, i, err)
			os.Exit(3)
		}
		r, i2 := round, i
		if round > 0 && i%3 == 2 {
			r, i2 = round-1, i/3
		}
		fmt.Printf("PUT %s %d %d\n", info.ID, r, i2)
		rd, err := c.Get(ctx, info.ID, crashSpecs[i%len(crashSpecs)])
		if err != nil {
			fmt.Printf("ERR get: %v\n", err)
			os.Exit(3)
		}
		_, _ = io.Copy(io.Discard, rd)
		rd.Close()
	}
}

// TestCrashBucketKillLosesNoPut runs rounds of: start the child on a fileblob bucket (and
// a local tier of its own), read a random number of its PUT lines, SIGKILL it. After every
// kill a fresh Cache (new local directory) on the bucket Stats and reads byte-identical
// every Put the child reported and serves Get Spec{} of it; every object in the bucket
// verifies (no partial object: see bucketConsistent); and no temp file is left in the
// bucket's directory. FASTIMAGECACHE_CRASH_SEED replays a run.
func TestCrashBucketKillLosesNoPut(t *testing.T) {
	if !crashSupported() {
		t.Skip("needs a Unix: SIGKILL and POSIX rename semantics")
	}
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("this is the child")
	}
	rounds := 20
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(crashSeedEnv); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, crashSeedEnv)
		seed = n
	}
	t.Logf("%d rounds, %s=%d", rounds, crashSeedEnv, seed)
	rng := rand.New(rand.NewPCG(seed, 0x15))
	bdir, tmp := t.TempDir(), t.TempDir()
	puts := map[ID]crashPut{}
	for round := range rounds {
		for id, p := range crashBucketRound(t, t.TempDir(), bdir, tmp, round, 1+rng.IntN(crashMaxLines)) {
			puts[id] = p
		}
		crashBucketCheck(t, bdir, puts)
		if t.Failed() {
			t.Fatalf("round %d (replay with %s=%d)", round, crashSeedEnv, seed)
		}
	}
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	t.Logf("%d Puts reported, all intact; %d temp files left by kills mid-write, none in the bucket", len(puts), len(left))
}

// crashBucketRound runs the child once (its temp files in tmp) and kills it after want
// reported Puts; it returns every Put the child reported.
func crashBucketRound(t *testing.T, dir, bdir, tmp string, round, want int) map[ID]crashPut {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashBucketEnv+"="+bdir,
		crashRoundEnv+"="+strconv.Itoa(round), "TMPDIR="+tmp)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	puts := map[ID]crashPut{}
	seen, killed := 0, false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 4 && f[0] == "PUT":
			r, err1 := strconv.Atoi(f[2])
			i, err2 := strconv.Atoi(f[3])
			require.NoError(t, err1)
			require.NoError(t, err2)
			puts[ID(f[1])] = crashPut{r, i}
			seen++
		case len(f) > 0 && f[0] == "ERR":
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("round %d: child failed: %s", round, sc.Text())
		}
		if seen == want && !killed {
			require.NoError(t, cmd.Process.Kill())
			killed = true
		}
	}
	require.NoError(t, sc.Err())
	err = cmd.Wait()
	require.True(t, killed, "round %d: child exited on its own: %v\n%s", round, err, stderr.String())
	require.Error(t, err, "the child was killed")
	return puts
}

// crashBucketCheck opens a fresh Cache on the bucket and checks every reported Put.
func crashBucketCheck(t *testing.T, bdir string, puts map[ID]crashPut) {
	t.Helper()
	b, err := fileblob.OpenBucket(bdir, nil)
	require.NoError(t, err)
	defer b.Close()
	err = filepath.WalkDir(bdir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".tmp") {
			t.Errorf("temp file in the bucket: %s", filepath.Base(p))
		}
		return err
	})
	require.NoError(t, err)
	have := bucketConsistent(t, b)
	c := bucketNode(t, b)
	ctx := t.Context()
	for id, p := range puts {
		src := crashImage(p.round, p.i)
		require.Equal(t, idOf(src), id, "the child reported the ID of its input")
		assert.True(t, have[id], "reported Put %d/%d is in the bucket", p.round, p.i)
		info, err := c.Stat(ctx, id)
		if !assert.NoError(t, err, "Stat of reported Put %d/%d", p.round, p.i) {
			continue
		}
		assert.Equal(t, int64(len(src)), info.Size)
		raw, err := c.store.Original(ctx, string(id))
		if assert.NoError(t, err) {
			assert.True(t, bytes.Equal(src, raw), "original of %d/%d byte-identical", p.round, p.i)
		}
		r, err := c.Get(ctx, id, Spec{})
		if assert.NoError(t, err, "Get Spec{} of %d/%d", p.round, p.i) {
			got, err := io.ReadAll(r)
			r.Close()
			assert.NoError(t, err)
			assert.NotEmpty(t, got)
		}
	}
	require.NoError(t, c.Close())
}
