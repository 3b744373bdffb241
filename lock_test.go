//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package fastimagecache

import (
	"bufio"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

const lockDirEnv = "FASTIMAGECACHE_TEST_LOCK_DIR"

// TestLockChild is the child of TestNewLocksDirectoryAcrossProcesses; it does nothing
// unless started by it. It opens a Cache on the directory, says "HELD", and waits to be
// killed (or for its stdin to close, as a hang guard).
func TestLockChild(t *testing.T) {
	dir := os.Getenv(lockDirEnv)
	if dir == "" {
		t.Skip("the child of TestNewLocksDirectoryAcrossProcesses")
	}
	c, err := New(dir)
	if err != nil {
		os.Stdout.WriteString("ERR " + reasonOf(err) + "\n")
		os.Exit(3)
	}
	os.Stdout.WriteString("HELD\n")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	_ = c.Close()
	os.Exit(0)
}

// TestNewLocksDirectoryAcrossProcesses: while another process has a Cache open on a
// directory, New on it fails at once with ErrLocked, without touching the store; when that
// process dies (SIGKILL: no Close runs), the directory is free.
func TestNewLocksDirectoryAcrossProcesses(t *testing.T) {
	if os.Getenv(lockDirEnv) != "" {
		t.Skip("in the child")
	}
	dir := t.TempDir()
	c := openDur(t, dir)
	info := durPut(t, c, fixture.PNG(40, 30))
	require.NoError(t, c.Close())

	cmd := exec.Command(os.Args[0], "-test.run=^TestLockChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), lockDirEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr lockedBuffer // written by exec's copying goroutine while the child runs
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	exited := false
	defer func() {
		if !exited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, stderr.String())
	require.Equal(t, "HELD\n", line, stderr.String())

	tmp := durFiles(t, dir, "tmp")
	_, err = New(dir)
	require.ErrorIs(t, err, ErrLocked, "a second Cache on a directory in use")
	assert.NotErrorIs(t, err, ErrStorage)
	assert.Equal(t, "locked", reasonOf(err))
	durNoPath(t, err.Error(), dir)
	assert.Equal(t, tmp, durFiles(t, dir, "tmp"), "the refused New touched nothing")

	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	exited = true
	c2 := openDur(t, dir)
	got, err := c2.Stat(t.Context(), info.ID)
	require.NoError(t, err, "the lock died with its process")
	assert.Equal(t, info, got)
}

// TestNewLocksDirectoryInProcess: two Caches in one process are refused too, and Close
// releases the directory.
func TestNewLocksDirectoryInProcess(t *testing.T) {
	dir := t.TempDir()
	c := openDur(t, dir)
	_, err := New(dir)
	require.ErrorIs(t, err, ErrLocked)
	require.NoError(t, c.Close())
	c2, err := New(dir)
	require.NoError(t, err, "Close released the lock")
	require.NoError(t, c2.Close())
}
