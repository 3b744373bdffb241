package fastimagecache

// The crash test: a child process (this test binary, re-executed) Puts and Gets in a loop
// and reports each success on stdout; the parent kills it with SIGKILL at a random point
// and checks that everything reported survived, byte for byte, and that nothing partial
// is visible. Many rounds run on the same directory, so each round also reopens what every
// earlier crash left behind.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
	"github.com/fastimagecache/fastimagecache/internal/sandbox"
)

const (
	crashDirEnv    = "FASTIMAGECACHE_CRASH_CHILD_DIR"   // set only in the child: the store directory
	crashRoundEnv  = "FASTIMAGECACHE_CRASH_CHILD_ROUND" // set only in the child: which images to make
	crashRoundsEnv = "FASTIMAGECACHE_CRASH_ROUNDS"      // optional: rounds to run (default 30)
	crashSeedEnv   = "FASTIMAGECACHE_CRASH_SEED"        // optional: the seed, to replay a run
	crashStepEnv   = "FASTIMAGECACHE_CRASH_CHILD_STEP"  // set only in the child: kill itself at this write step
	crashMaxLines  = 6                                  // a round kills after 1..crashMaxLines reported Puts
)

// crashSpecs are the renditions the child asks for after each Put.
var crashSpecs = []Spec{
	{Width: 16},
	{Width: 24, Height: 24, Fit: Cover, Format: PNG},
	{Width: 20, Format: GIF},
}

// crashImage is the i-th image of a round: distinct for every (round, i), in three formats.
func crashImage(round, i int) []byte {
	w, h := 8+i, 8+round
	switch i % 3 {
	case 0:
		return fixture.PNG(w, h)
	case 1:
		return fixture.JPEG(w, h, 85)
	}
	return fixture.GIF(w, h, 1+i%2)
}

// TestCrashChild is the child's side of TestCrashKillLosesNoPut and
// TestCrashAtEveryWriteStep; it does nothing unless started by them. It prints
// "PUT <id> <round> <i>" only after Put returned success, and "GET <id> <spec> <sha256>"
// after a Get's bytes were read whole; it runs until killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("the child of TestCrashKillLosesNoPut and TestCrashAtEveryWriteStep")
	}
	if os.Getenv(crashStepEnv) != "" {
		crashStepChild(dir)
		return
	}
	if bdir := os.Getenv(crashBucketEnv); bdir != "" {
		crashBucketChild(dir, bdir)
		return
	}
	round, err := strconv.Atoi(os.Getenv(crashRoundEnv))
	if err != nil {
		fmt.Printf("ERR round: %v\n", err)
		os.Exit(3)
	}
	c, err := New(dir)
	if err != nil {
		fmt.Printf("ERR open: %v\n", err)
		os.Exit(3)
	}
	ctx := context.Background()
	put := func(r, i int) ID {
		info, err := c.Put(ctx, bytes.NewReader(crashImage(r, i)))
		if err != nil {
			fmt.Printf("ERR put %d/%d: %v\n", r, i, err)
			os.Exit(3)
		}
		fmt.Printf("PUT %s %d %d\n", info.ID, r, i) // os.Stdout is unbuffered: one write(2) per line
		return info.ID
	}
	for i := 0; ; i++ {
		id := put(round, i)
		if round > 0 && i%3 == 2 {
			put(round-1, i/3) // the same bytes again: the "already stored" path
		}
		for k, s := range crashSpecs {
			r, err := c.Get(ctx, id, s)
			if err != nil {
				fmt.Printf("ERR get %d: %v\n", k, err)
				os.Exit(3)
			}
			b, err := io.ReadAll(r)
			r.Close()
			if err != nil {
				fmt.Printf("ERR read %d: %v\n", k, err)
				os.Exit(3)
			}
			sum := sha256.Sum256(b)
			fmt.Printf("GET %s %d %s\n", id, k, hex.EncodeToString(sum[:]))
		}
	}
}

func crashSupported() bool {
	switch runtime.GOOS {
	case "windows", "plan9", "js", "wasip1":
		return false
	}
	return true
}

// crashPut is a Put the child reported: which image it was.
type crashPut struct{ round, i int }

// crashGet is a Get the child reported: the image and the Spec.
type crashGet struct {
	id   ID
	spec int
}

// TestCrashKillLosesNoPut runs rounds of: start the child on the store directory, read a
// random number (1..crashMaxLines) of its PUT lines, SIGKILL it, read what it had already
// written, then check the directory. After every kill:
//
//   - New opens the directory cleanly and empties tmp/;
//   - every Put the child reported is there: Stat works, the original read through the store
//     (which verifies the digest) is byte-identical to the input, and Get with Spec{} works;
//   - every Get the child reported is still stored (a hit, not a re-render) and returns the
//     same bytes;
//   - no partial or temp file is visible as an entry (every name under o/ and r/ is one the
//     store writes, every original hashes to its name and has its metadata, the index agrees
//     with the files), and Verify finds nothing bad.
//
// FASTIMAGECACHE_CRASH_ROUNDS sets the number of rounds (default 30; 20 under -race, 10
// with -short);
// FASTIMAGECACHE_CRASH_SEED replays a run.
func TestCrashKillLosesNoPut(t *testing.T) {
	if !crashSupported() {
		t.Skip("needs a Unix: SIGKILL and POSIX rename semantics")
	}
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("this is the child")
	}
	rounds := 30
	if sandbox.RaceEnabled {
		rounds = 20 // the race detector makes every child and check about four times slower
	}
	if testing.Short() {
		rounds = 10
	}
	if s := os.Getenv(crashRoundsEnv); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, crashRoundsEnv)
		rounds = n
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(crashSeedEnv); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, crashSeedEnv)
		seed = n
	}
	t.Logf("%d rounds, %s=%d", rounds, crashSeedEnv, seed)
	rng := rand.New(rand.NewPCG(seed, 0x6))

	dir := t.TempDir()
	puts := map[ID]crashPut{}
	gets := map[crashGet]string{}
	leftovers := 0
	start := time.Now()
	for round := range rounds {
		want := 1 + rng.IntN(crashMaxLines)
		newPuts, newGets := crashRound(t, dir, round, want)
		for id, p := range newPuts {
			puts[id] = p
		}
		for g, sum := range newGets {
			gets[g] = sum
		}
		if len(durFiles(t, dir, "tmp")) > 0 {
			leftovers++
		}
		crashCheck(t, dir, puts, gets)
		if t.Failed() {
			t.Fatalf("round %d (replay with %s=%d)", round, crashSeedEnv, seed)
		}
	}
	t.Logf("%d rounds in %v: %d Puts and %d Gets reported, all intact; %d kills left temp files, all removed by New",
		rounds, time.Since(start).Round(time.Millisecond), len(puts), len(gets), leftovers)
}

// crashRound runs the child once and kills it after it has reported want Puts. It returns
// every Put and Get the child reported, including those it wrote before the kill landed.
func crashRound(t *testing.T, dir string, round, want int) (map[ID]crashPut, map[crashGet]string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashRoundEnv+"="+strconv.Itoa(round))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())

	puts := map[ID]crashPut{}
	gets := map[crashGet]string{}
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
		case len(f) == 4 && f[0] == "GET":
			k, err := strconv.Atoi(f[2])
			require.NoError(t, err)
			gets[crashGet{ID(f[1]), k}] = f[3]
		case len(f) > 0 && f[0] == "ERR":
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("round %d: child failed: %s", round, sc.Text())
		}
		if seen == want && !killed {
			require.NoError(t, cmd.Process.Kill()) // SIGKILL: no deferred code, no flush
			killed = true
		}
	}
	require.NoError(t, sc.Err())
	err = cmd.Wait()
	require.True(t, killed, "round %d: child exited on its own: %v\n%s", round, err, stderr.String())
	require.Error(t, err, "the child was killed")
	return puts, gets
}

// crashCheck reopens dir after a kill and checks everything the children reported.
func crashCheck(t *testing.T, dir string, puts map[ID]crashPut, gets map[crashGet]string) {
	t.Helper()
	c, err := New(dir)
	require.NoError(t, err, "New after a kill")
	defer c.Close()
	assert.Empty(t, durFiles(t, dir, "tmp"), "stale temp files are removed by New")
	durConsistent(t, dir, c)

	ctx := t.Context()
	for id, p := range puts {
		src := crashImage(p.round, p.i)
		require.Equal(t, idOf(src), id, "the child reported the ID of its input")
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
			b, err := io.ReadAll(r)
			r.Close()
			assert.NoError(t, err)
			assert.NotEmpty(t, b)
		}
	}
	misses := c.Stats().Misses
	for g, sum := range gets {
		r, err := c.Get(ctx, g.id, crashSpecs[g.spec])
		if !assert.NoError(t, err, "reported Get") {
			continue
		}
		b, err := io.ReadAll(r)
		r.Close()
		assert.NoError(t, err)
		got := sha256.Sum256(b)
		assert.Equal(t, sum, hex.EncodeToString(got[:]), "reported Get returns the same bytes")
	}
	assert.Equal(t, misses, c.Stats().Misses, "every reported rendition is still stored")
	rep, err := c.Verify(ctx)
	require.NoError(t, err)
	assert.Empty(t, rep.BadOriginals)
	assert.Empty(t, rep.BadRenditions)
	assert.GreaterOrEqual(t, rep.Originals, len(puts))
	require.NoError(t, c.Close())
}

// Kill-at-a-step mode: the child kills itself (SIGKILL) from inside the store, at exactly
// the n-th write step of one Put and one Get, so that every point between two steps is
// crashed at once, deterministically.

var (
	crashStepSrc  = fixture.PNG(30, 20)
	crashStepSpec = Spec{Width: 12, Format: JPEG}
)

// crashStepChild does one Put and one Get, killing itself at the write step named by
// crashStepEnv. It prints DONE if the step is never reached.
func crashStepChild(dir string) {
	n, err := strconv.Atoi(os.Getenv(crashStepEnv))
	if err != nil {
		fmt.Printf("ERR step: %v\n", err)
		os.Exit(3)
	}
	step := 0
	kill := func(string) error {
		if step++; step == n {
			p, _ := os.FindProcess(os.Getpid())
			_ = p.Kill() // SIGKILL to ourselves: nothing after this step runs
			select {}
		}
		return nil
	}
	c, err := New(dir, withStoreFaults(kill))
	if err != nil {
		fmt.Printf("ERR open: %v\n", err)
		os.Exit(3)
	}
	ctx := context.Background()
	info, err := c.Put(ctx, bytes.NewReader(crashStepSrc))
	if err != nil {
		fmt.Printf("ERR put: %v\n", err)
		os.Exit(3)
	}
	r, err := c.Get(ctx, info.ID, crashStepSpec)
	if err != nil {
		fmt.Printf("ERR get: %v\n", err)
		os.Exit(3)
	}
	r.Close()
	fmt.Println("DONE")
	os.Exit(0)
}

// TestCrashAtEveryWriteStep kills a child at each write step of a Put followed by a Get
// (temp file create, writes, fsync, close, chtimes, mkdir, renames, directory fsyncs), on
// a store that already holds an earlier entry. After each kill: New opens cleanly and
// empties tmp/; nothing partial is visible; the earlier entry is byte-identical; the new
// original is absent if the kill came at or before its commit (the rename of the original)
// and whole after it; the rendition likewise around its own rename; and the same Put and
// Get then succeed with the bytes of a fresh render.
func TestCrashAtEveryWriteStep(t *testing.T) {
	if !crashSupported() {
		t.Skip("needs a Unix: SIGKILL and POSIX rename semantics")
	}
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("this is the child")
	}
	ref := newDurRef(t)
	early, earlySpec := fixture.JPEG(24, 24, 80), Spec{Width: 10}
	earlyWant := ref.render(early, earlySpec)
	want := ref.render(crashStepSrc, crashStepSpec)
	id := idOf(crashStepSrc)
	setup := func(opts ...Option) (string, *Cache) {
		dir := t.TempDir()
		c, err := New(dir, opts...)
		require.NoError(t, err)
		durPut(t, c, early)
		durGet(t, c, idOf(early), earlySpec)
		return dir, c
	}

	// The steps, recorded in-process on the same starting state.
	rec := &durFaults{}
	_, c := setup(withStoreFaults(rec.fault))
	rec.arm(0)
	durPut(t, c, crashStepSrc)
	putSteps := rec.recorded()
	durGet(t, c, id, crashStepSpec)
	steps := rec.recorded()
	require.NoError(t, c.Close())
	putCommit := durCommitStep(putSteps)
	getCommit := len(putSteps) + durCommitStep(steps[len(putSteps):])
	t.Logf("write steps %v; Put commits at %d, Get at %d", steps, putCommit, getCommit)

	for n := 1; n <= len(steps)+1; n++ {
		dir, c := setup()
		require.NoError(t, c.Close())
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashStepEnv+"="+strconv.Itoa(n))
		out, err := cmd.Output()
		if n > len(steps) {
			require.NoError(t, err, "no kill past the last step: %s", out)
			require.Equal(t, "DONE\n", string(out))
			break
		}
		require.Error(t, err, "step %d: the child must have been killed: %s", n, out)
		require.NotContains(t, string(out), "ERR", "step %d", n)
		crashStepCheck(t, dir, n, steps[n-1], n > putCommit, n > getCommit, early, earlySpec, earlyWant, want)
		if t.Failed() {
			t.Fatalf("killed at step %d (%s)", n, steps[n-1])
		}
	}
}

func crashStepCheck(t *testing.T, dir string, n int, op string, putDone, getDone bool, early []byte, earlySpec Spec, earlyWant, want []byte) {
	t.Helper()
	c, err := New(dir, WithMemoryCache(-1))
	require.NoError(t, err, "New after a kill at step %d (%s)", n, op)
	defer c.Close()
	assert.Empty(t, durFiles(t, dir, "tmp"), "step %d: temp files", n)
	durConsistent(t, dir, c)

	ctx := t.Context()
	raw, err := c.store.Original(ctx, string(idOf(early)))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(early, raw), "step %d: earlier original", n)
	durSameBytes(t, earlyWant, durGet(t, c, idOf(early), earlySpec), "step %d: earlier rendition", n)

	id := idOf(crashStepSrc)
	_, err = c.Stat(ctx, id)
	if putDone {
		require.NoError(t, err, "step %d (%s): killed after the Put committed", n, op)
		raw, err := c.store.Original(ctx, string(id))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(crashStepSrc, raw), "step %d", n)
	} else {
		assert.ErrorIs(t, err, ErrNotFound, "step %d (%s): killed before the Put committed", n, op)
	}
	misses := c.Stats().Misses
	durPut(t, c, crashStepSrc)
	durSameBytes(t, want, durGet(t, c, id, crashStepSpec), "step %d", n)
	if getDone {
		assert.Equal(t, misses, c.Stats().Misses, "step %d (%s): the rendition committed before the kill", n, op)
	}
	durConsistent(t, dir, c)
}
