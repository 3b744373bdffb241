package fastimagecache

import (
	"context"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/s3blob" // the tests' driver; the library imports none
)

// versitygwEnv names the versitygw binary for the S3 tests; without it, PATH is searched.
// scripts/versitygw.sh installs it and .ci/run sets it.
const versitygwEnv = "FASTIMAGECACHE_VERSITYGW"

const (
	s3Access = "ficTestAccessKey"
	s3Secret = "ficTestSecretKey0123456789"
	s3Bucket = "fic-test"
)

// versitygw is a real S3 server (versitygw, posix backend) on loopback, started by a test.
type versitygw struct {
	t    *testing.T
	bin  string
	root string // the posix backend's directory: one sub directory per bucket
	addr string // 127.0.0.1:port
	cmd  *exec.Cmd
	done chan struct{}
}

// findVersitygw returns the binary, skipping the test when it is absent outside CI and
// failing it when it is absent under CI=true.
func findVersitygw(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(versitygwEnv); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	} else if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("versitygw not found (set %s or put it on PATH; scripts/versitygw.sh installs it); CI=true requires the S3 tests", versitygwEnv)
	}
	t.Skipf("S3 tests skipped: versitygw not found; run scripts/versitygw.sh and set %s=<path> (CI=true makes this a failure)", versitygwEnv)
	return ""
}

// startVersitygw starts a server with one empty bucket and sets the credentials in the
// environment (which the nodes the test starts inherit). It is stopped when the test ends.
func startVersitygw(t *testing.T) *versitygw {
	t.Helper()
	v := &versitygw{t: t, bin: findVersitygw(t), root: t.TempDir()}
	require.NoError(t, os.Mkdir(filepath.Join(v.root, s3Bucket), 0o750))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	v.addr = l.Addr().String()
	require.NoError(t, l.Close())
	t.Setenv("AWS_ACCESS_KEY_ID", s3Access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3Secret)
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	v.start()
	t.Cleanup(v.stop)
	return v
}

// start runs the server and waits until it accepts connections.
func (v *versitygw) start() {
	v.t.Helper()
	v.cmd = exec.Command(v.bin, "--port", v.addr, "--access", s3Access, "--secret", s3Secret, "--quiet", "posix", v.root)
	v.cmd.Env = []string{"HOME=" + v.root, "PATH=" + os.Getenv("PATH")}
	out, err := os.Create(filepath.Join(v.t.TempDir(), "versitygw.log"))
	require.NoError(v.t, err)
	v.cmd.Stdout, v.cmd.Stderr = out, out
	require.NoError(v.t, v.cmd.Start())
	v.done = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); _ = out.Close(); close(done) }(v.cmd, v.done)
	deadline := time.Now().Add(30 * time.Second) // hang guard only
	for {
		c, err := net.DialTimeout("tcp", v.addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		select {
		case <-v.done:
			log, _ := os.ReadFile(out.Name())
			v.t.Fatalf("versitygw exited at start: %s", log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			v.t.Fatal("versitygw did not start listening")
		}
	}
}

// stop kills the server (the process this test started) and waits for it to exit.
func (v *versitygw) stop() {
	if v.cmd == nil {
		return
	}
	_ = v.cmd.Process.Kill()
	<-v.done
	v.cmd = nil
}

// url is the gocloud URL of the test bucket.
func (v *versitygw) url() string {
	q := url.Values{}
	q.Set("endpoint", "http://"+v.addr)
	q.Set("use_path_style", "true")
	q.Set("region", "us-east-1")
	q.Set("disable_https", "true")
	return "s3://" + s3Bucket + "?" + q.Encode()
}

// open opens the bucket, closed when the test ends.
func (v *versitygw) open() *blob.Bucket {
	v.t.Helper()
	return openS3(v.t, v.url())
}

func openS3(t testing.TB, u string) *blob.Bucket {
	t.Helper()
	b, err := blob.OpenBucket(context.Background(), u)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// objectPath is where the posix backend keeps an object, to damage it behind the
// library's back.
func (v *versitygw) objectPath(key string) string {
	return filepath.Join(v.root, s3Bucket, filepath.FromSlash(key))
}
