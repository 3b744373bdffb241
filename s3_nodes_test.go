package fastimagecache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// The environment of a node process started by TestS3ThreeProcesses.
const (
	s3NodeDirEnv = "FIC_S3_NODE_DIR"
	s3NodeURLEnv = "FIC_S3_NODE_URL"
	s3NodeCmdEnv = "FIC_S3_NODE_CMD"
)

// nodeCmd is one call a node process makes.
type nodeCmd struct {
	Op    string `json:"op"` // put, get, delete, stat
	File  string `json:"file,omitempty"`
	ID    ID     `json:"id,omitempty"`
	Width int    `json:"width,omitempty"`
	Out   string `json:"out,omitempty"`
}

// nodeResult is what the node process reports: the call's outcome and its Stats.
type nodeResult struct {
	ID         ID     `json:"id"`
	Err        string `json:"err"` // "", "not_found", "storage", "corrupt" or "other: ..."
	Misses     int64  `json:"misses"`
	BucketHits int64  `json:"bucket_hits"`
	DiskHits   int64  `json:"disk_hits"`
}

// TestS3NodeChild is one server process of TestS3ThreeProcesses: it opens a Cache on its
// own dir and the shared bucket, makes one call, prints the result and exits. It does
// nothing unless started by that test.
func TestS3NodeChild(t *testing.T) {
	dir := os.Getenv(s3NodeDirEnv)
	if dir == "" {
		t.Skip("a node process of TestS3ThreeProcesses")
	}
	var cmd nodeCmd
	require.NoError(t, json.Unmarshal([]byte(os.Getenv(s3NodeCmdEnv)), &cmd))
	b := openS3(t, os.Getenv(s3NodeURLEnv))
	c, err := New(dir, WithBucket(b), WithMemoryCache(-1))
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var res nodeResult
	switch cmd.Op {
	case "put":
		data, rerr := os.ReadFile(cmd.File)
		require.NoError(t, rerr)
		var info Info
		info, err = c.Put(ctx, bytes.NewReader(data))
		res.ID = info.ID
	case "get":
		var r *Rendition
		r, err = c.Get(ctx, cmd.ID, Spec{Width: cmd.Width})
		if err == nil {
			var buf bytes.Buffer
			_, err = buf.ReadFrom(r)
			_ = r.Close()
			require.NoError(t, os.WriteFile(cmd.Out, buf.Bytes(), 0o600))
		}
	case "stat":
		_, err = c.Stat(ctx, cmd.ID)
	case "delete":
		err = c.Delete(ctx, cmd.ID)
	}
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound):
		res.Err = "not_found"
	case errors.Is(err, ErrStorage):
		res.Err = "storage"
	case errors.Is(err, ErrCorrupt):
		res.Err = "corrupt"
	default:
		res.Err = "other: " + err.Error()
	}
	st := c.Stats()
	res.Misses, res.BucketHits, res.DiskHits = st.Misses, st.BucketHits, st.DiskHits
	out, _ := json.Marshal(res)
	os.Stdout.WriteString("NODE-RESULT " + string(out) + "\n")
}

// node is a server process's identity: its local dir. Each call runs in a new process.
type node struct {
	t   *testing.T
	dir string
	url string
}

func (n node) run(cmd nodeCmd) nodeResult {
	n.t.Helper()
	raw, _ := json.Marshal(cmd)
	c := exec.Command(os.Args[0], "-test.run=^TestS3NodeChild$", "-test.count=1", "-test.v")
	c.Env = append(os.Environ(), s3NodeDirEnv+"="+n.dir, s3NodeURLEnv+"="+n.url, s3NodeCmdEnv+"="+string(raw))
	out, err := c.CombinedOutput()
	require.NoError(n.t, err, "node process: %s", out)
	for _, line := range strings.Split(string(out), "\n") {
		if j, ok := strings.CutPrefix(line, "NODE-RESULT "); ok {
			var res nodeResult
			require.NoError(n.t, json.Unmarshal([]byte(j), &res))
			return res
		}
	}
	n.t.Fatalf("node process printed no result: %s", out)
	return nodeResult{}
}

// TestS3ThreeProcesses: three server processes, each with its own local dir, share one
// versitygw bucket. A Put on A is served byte-identical by B and C; what B rendered C
// serves without decoding; the same bytes put on all three at once are one object; a
// Delete on A is seen by B and C.
func TestS3ThreeProcesses(t *testing.T) {
	v := startVersitygw(t)
	b := v.open()
	work := t.TempDir()
	mk := func(name string) node { return node{t: t, dir: filepath.Join(work, name), url: v.url()} }
	a, nb, nc := mk("a"), mk("b"), mk("c")

	src := filepath.Join(work, "src.jpg")
	require.NoError(t, os.WriteFile(src, fixture.JPEG(240, 180, 90), 0o600))
	put := a.run(nodeCmd{Op: "put", File: src})
	require.Empty(t, put.Err)
	id := put.ID

	rb := nb.run(nodeCmd{Op: "get", ID: id, Width: 64, Out: filepath.Join(work, "b.out")})
	require.Empty(t, rb.Err)
	assert.Equal(t, int64(1), rb.Misses, "B renders")
	rc := nc.run(nodeCmd{Op: "get", ID: id, Width: 64, Out: filepath.Join(work, "c.out")})
	require.Empty(t, rc.Err)
	assert.Zero(t, rc.Misses, "C serves B's rendition without a decode")
	assert.Equal(t, int64(1), rc.BucketHits)
	ra := a.run(nodeCmd{Op: "get", ID: id, Width: 64, Out: filepath.Join(work, "a.out")})
	require.Empty(t, ra.Err)
	outB, _ := os.ReadFile(filepath.Join(work, "b.out"))
	outC, _ := os.ReadFile(filepath.Join(work, "c.out"))
	outA, _ := os.ReadFile(filepath.Join(work, "a.out"))
	require.NotEmpty(t, outB)
	assert.Equal(t, outB, outC)
	assert.Equal(t, outB, outA)
	rc = nc.run(nodeCmd{Op: "get", ID: id, Width: 64, Out: filepath.Join(work, "c.out")})
	require.Empty(t, rc.Err)
	assert.Equal(t, int64(1), rc.DiskHits, "C's second Get comes from its own disk tier")

	// The same new bytes on all three at once: one original, one metadata object.
	src2 := filepath.Join(work, "src2.png")
	require.NoError(t, os.WriteFile(src2, fixture.PNG(90, 70), 0o600))
	var wg sync.WaitGroup
	results := make([]nodeResult, 3)
	for i, n := range []node{a, nb, nc} {
		wg.Go(func() { results[i] = n.run(nodeCmd{Op: "put", File: src2}) })
	}
	wg.Wait()
	for _, r := range results {
		require.Empty(t, r.Err)
		assert.Equal(t, results[0].ID, r.ID)
	}
	keys := bucketKeys(t, b)
	assert.Len(t, keysWith(keys, "fic1/o/"+string(results[0].ID)), 1)
	assert.Len(t, keysWith(keys, "fic1/m/"+string(results[0].ID)), 1)

	// Delete on A is seen by B and C, though both hold the rendition locally.
	require.Empty(t, a.run(nodeCmd{Op: "delete", ID: id}).Err)
	assert.Empty(t, keysWith(bucketKeys(t, b), string(id)), "nothing of the ID is left in the bucket")
	for _, n := range []node{nb, nc} {
		assert.Equal(t, "not_found", n.run(nodeCmd{Op: "get", ID: id, Width: 64, Out: filepath.Join(work, "x.out")}).Err)
		assert.Equal(t, "not_found", n.run(nodeCmd{Op: "stat", ID: id}).Err)
	}
}
