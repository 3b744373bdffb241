package sandbox

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// childEnv makes the test binary run restrictedChild instead of the tests.
const childEnv = "SANDBOX_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(restrictedChild())
	}
	os.Exit(m.Run())
}

// restrictedChild confines itself, then tries what a taken-over decoder would, and prints
// one line per attempt.
func restrictedChild() int {
	rep, err := Restrict(Limits{MemoryBytes: 64 << 20, CPUSeconds: 30, OpenFiles: 16, SkipLandlock: os.Getenv("SANDBOX_TEST_NO_LANDLOCK") == "1"})
	if err != nil {
		fmt.Println("restrict:", err)
		return 1
	}
	fmt.Printf("landlock=%d seccomp=%t warnings=%q\n", rep.Landlock, rep.Seccomp, rep.Warnings)
	_, err = os.ReadFile("/etc/passwd")
	fmt.Println("read:", err)
	fmt.Println("write:", os.WriteFile(os.Getenv("SANDBOX_TEST_FILE"), []byte("x"), 0o600))
	_, err = syscall.ForkExec("/bin/true", []string{"true"}, nil)
	fmt.Println("exec:", err)
	_, err = net.Dial("tcp", os.Getenv("SANDBOX_TEST_ADDR"))
	fmt.Println("tcp:", err)
	_, err = net.Dial("udp", "127.0.0.1:9")
	fmt.Println("udp:", err)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.Close(fd)
	}
	fmt.Println("unix socket:", err)
	fmt.Println("signal parent:", syscall.Kill(os.Getppid(), 0))
	trySeccomp()
	var l unix.Rlimit
	for _, r := range []struct {
		name string
		res  int
	}{{"core", unix.RLIMIT_CORE}, {"fsize", unix.RLIMIT_FSIZE}, {"nofile", unix.RLIMIT_NOFILE}, {"cpu", unix.RLIMIT_CPU}, {"nproc", unix.RLIMIT_NPROC}} {
		_ = unix.Getrlimit(r.res, &l)
		fmt.Printf("%s=%d/%d\n", r.name, l.Cur, l.Max)
	}
	return 0
}

// trySeccomp prints one line per call the seccomp filter decides on by its arguments, or
// that Landlock would also stop: each denied one, and the ones the Go runtime needs.
func trySeccomp() {
	ppid := os.Getppid()
	try := func(what string, err error) { fmt.Printf("%s: %v\n", what, errnoOf(err)) }
	_, err := os.ReadFile("/etc/hostname")
	try("open hostname", err)
	_, err = unix.Openat2(unix.AT_FDCWD, "/etc/hostname", &unix.OpenHow{Flags: unix.O_RDONLY})
	try("openat2", err)
	try("unlink", unix.Unlinkat(unix.AT_FDCWD, os.Getenv("SANDBOX_TEST_VICTIM"), 0))
	try("prlimit parent", unix.Prlimit(ppid, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: 100, Max: 100}, nil))
	var l unix.Rlimit
	try("prlimit parent read", unix.Prlimit(ppid, unix.RLIMIT_NOFILE, nil, &l))
	try("setrlimit", unix.Setrlimit(unix.RLIMIT_CPU, &unix.Rlimit{Cur: 1 << 20, Max: 1 << 20}))
	_, _, errno := unix.RawSyscall(unix.SYS_SETRLIMIT, unix.RLIMIT_CPU, 0, 0)
	try("raw setrlimit", errno)
	try("getrlimit", unix.Getrlimit(unix.RLIMIT_CPU, &l))
	try("kill parent", unix.Kill(ppid, 0))
	try("kill group", unix.Kill(0, 0))
	try("kill self", unix.Kill(os.Getpid(), 0))
	try("tgkill parent", unix.Tgkill(ppid, ppid, 0))
	try("tgkill self", unix.Tgkill(os.Getpid(), unix.Gettid(), 0))
	_, _, errno = unix.RawSyscall(unix.SYS_TKILL, uintptr(ppid), 0, 0)
	try("tkill parent", errno)
	_, err = unix.Setsid()
	try("setsid", err)
	try("setpgid", unix.Setpgid(0, 0))
	try("unshare", unix.Unshare(unix.CLONE_NEWUSER))
	try("fork", rawClone(uintptr(unix.SIGCHLD)))
	try("clone newuser", rawClone(uintptr(unix.CLONE_NEWUSER|unix.SIGCHLD)))
	_, _, errno = unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
	try("clone3", errno)
	tryExecMemory(try)
	// Locked goroutines each hold a thread: the runtime must start new ones.
	var ready sync.WaitGroup
	release := make(chan struct{})
	for range 8 {
		ready.Add(1)
		go func() {
			runtime.LockOSThread()
			ready.Done()
			<-release
		}()
	}
	ready.Wait()
	close(release)
	try("threads", nil)
}

// tryExecMemory tries every way to executable memory, and the writable memory every
// decoder needs.
func tryExecMemory(try func(string, error)) {
	b, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err == nil {
		_ = unix.Munmap(b)
	}
	try("mmap exec", err)
	b, err = unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	try("mmap rw", err)
	if err != nil {
		return
	}
	defer unix.Munmap(b)
	try("mprotect rx", unix.Mprotect(b, unix.PROT_READ|unix.PROT_EXEC))
	try("mprotect rwx", unix.Mprotect(b, unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC))
	try("mprotect r", unix.Mprotect(b, unix.PROT_READ))
	const readImpliesExec, shmExec = 0x0400000, 0o100000 // <linux/personality.h>, <linux/shm.h>
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	_, _, errno := unix.Syscall6(unix.SYS_PKEY_MPROTECT, p, uintptr(len(b)), unix.PROT_READ|unix.PROT_EXEC, ^uintptr(0), 0, 0)
	try("pkey_mprotect rx", errno)
	_, _, errno = unix.RawSyscall(unix.SYS_PERSONALITY, readImpliesExec, 0, 0)
	try("personality", errno)
	_, _, errno = unix.RawSyscall(unix.SYS_SHMAT, 0, 0, shmExec)
	try("shmat", errno)
}

// rawClone forks with flags; a child that should never have been exits at once.
func rawClone(flags uintptr) error {
	pid, _, errno := unix.RawSyscall6(unix.SYS_CLONE, flags, 0, 0, 0, 0, 0)
	if errno != 0 {
		return errno
	}
	if pid == 0 {
		unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
	}
	return nil
}

// errnoOf reduces err to its errno's name, or "<nil>".
func errnoOf(err error) string {
	var en unix.Errno
	switch {
	case err == nil:
		return "<nil>"
	case errors.As(err, &en):
		return unix.ErrnoName(en)
	}
	return err.Error()
}

func TestRestrict(t *testing.T) {
	for _, landlock := range []bool{true, false} {
		t.Run(fmt.Sprintf("landlock=%t", landlock), func(t *testing.T) { testRestrict(t, landlock) })
	}
}

func testRestrict(t *testing.T, landlock bool) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	file := t.TempDir() + "/escape"
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	victim := t.TempDir() + "/victim"
	require.NoError(t, os.WriteFile(victim, []byte("x"), 0o600))
	cmd.Env = []string{childEnv + "=1", "SANDBOX_TEST_ADDR=" + ln.Addr().String(), "SANDBOX_TEST_FILE=" + file, "SANDBOX_TEST_VICTIM=" + victim}
	if !landlock {
		cmd.Env = append(cmd.Env, "SANDBOX_TEST_NO_LANDLOCK=1")
	}
	var before unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &before))
	out, err := cmd.CombinedOutput()
	var after unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &after))
	if after != before {
		_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &before)
	}
	assert.Equal(t, before, after, "the child changed this process's RLIMIT_NOFILE")
	t.Logf("child:\n%s", out)
	require.NoError(t, err)
	lines := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(l, ":")
		if strings.Contains(k, "=") {
			k, v, _ = strings.Cut(l, "=")
		}
		lines[k] = strings.TrimSpace(v)
	}
	for _, k := range []string{"read", "write", "exec", "tcp", "udp", "unix socket"} {
		assert.NotEqual(t, "<nil>", lines[k], "%s succeeded", k)
	}
	assert.Equal(t, "0/0", lines["core"])
	assert.Equal(t, "0/0", lines["fsize"])
	assert.Equal(t, "16/16", lines["nofile"])
	assert.Equal(t, "30/30", lines["cpu"])
	_, err = os.Stat(file)
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, err = os.Stat(victim)
	assert.NoError(t, err, "the child removed a file")
	if !landlock {
		assert.Contains(t, lines["landlock"], `warnings=["landlock skipped"`)
		for _, k := range []string{"open hostname", "openat2", "unlink", "kill parent", "tgkill parent"} {
			assert.Equal(t, "EPERM", lines[k], k)
		}
	}
	for k, want := range map[string]string{
		"prlimit parent": "EPERM", "prlimit parent read": "EPERM", "setrlimit": "EPERM", "raw setrlimit": "EPERM",
		"kill group": "EPERM", "tkill parent": "EPERM", "setsid": "EPERM", "setpgid": "EPERM",
		"unshare": "EPERM", "fork": "EPERM", "clone newuser": "EPERM", "clone3": "ENOSYS",
		"getrlimit": "<nil>", "kill self": "<nil>", "tgkill self": "<nil>", "threads": "<nil>",
		"mmap exec": "EPERM", "mprotect rx": "EPERM", "mprotect rwx": "EPERM", "pkey_mprotect rx": "EPERM",
		"personality": "EPERM", "shmat": "EPERM", "mmap rw": "<nil>", "mprotect r": "<nil>",
	} {
		assert.Equal(t, want, lines[k], k)
	}
	cur, lim, _ := strings.Cut(lines["nproc"], "/")
	assert.Equal(t, cur, lim, "RLIMIT_NPROC soft and hard")
	if n, err := strconv.ParseUint(cur, 10, 64); assert.NoError(t, err) {
		tasks, err := systemTasks()
		require.NoError(t, err)
		assert.Greater(t, n, uint64(taskMargin/2), "room for the runtime's threads")
		assert.Less(t, n, tasks+2*taskMargin, "RLIMIT_NPROC is set")
	}
	if abi, _ := landlockABI(); abi >= 6 {
		assert.NotEqual(t, "<nil>", lines["signal parent"], "landlock scopes signals from ABI 6")
	}
}

func landlockABI() (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// TestSeccompFilter runs the filter on a small BPF interpreter: the denied calls fail
// with EPERM, every other call is allowed, a foreign architecture is killed, x32 calls on
// amd64 fail, clone3 fails with ENOSYS, clone makes threads only, kill and tgkill reach
// this process only, and prlimit64 only reads this process's limits.
func TestSeccompFilter(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skip("no filter for", runtime.GOARCH)
	}
	const self = 4242
	prog, err := seccompFilter(auditArch, hasX32, self)
	require.NoError(t, err)
	eperm := uint32(unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM))
	allow := uint32(unix.SECCOMP_RET_ALLOW)
	run := func(nr uint32, args ...uint64) uint32 { return runBPF(t, prog, auditArch, nr, args...) }
	denied := append(append([]uint32(nil), deniedSyscalls...), archDenied...)
	argChecked := []uint32{unix.SYS_CLONE, unix.SYS_CLONE3, unix.SYS_KILL, unix.SYS_TGKILL, unix.SYS_PRLIMIT64}
	for nr := uint32(0); nr < 500; nr++ {
		if slices.Contains(argChecked, nr) {
			continue
		}
		want := allow
		if slices.Contains(denied, nr) {
			want = eperm
		}
		assert.Equal(t, want, run(nr), "syscall %d", nr)
	}
	for _, nr := range []uint32{unix.SYS_SOCKET, unix.SYS_OPENAT, unix.SYS_OPENAT2, unix.SYS_SETSID,
		unix.SYS_SETPGID, unix.SYS_SETRLIMIT, unix.SYS_TKILL, unix.SYS_UNSHARE, unix.SYS_EXECVE} {
		assert.Equal(t, eperm, run(nr), "syscall %d", nr)
	}
	assert.Equal(t, uint32(unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS)), run(unix.SYS_CLONE3))

	thread := uint64(unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_SYSVSEM | unix.CLONE_THREAD)
	assert.Equal(t, allow, run(unix.SYS_CLONE, thread), "the runtime's threads")
	assert.Equal(t, allow, run(unix.SYS_CLONE, thread|unix.CLONE_SETTLS|unix.CLONE_PARENT_SETTID|unix.CLONE_CHILD_CLEARTID|1<<40), "a thread, upper bits ignored by the kernel")
	assert.Equal(t, eperm, run(unix.SYS_CLONE, uint64(unix.SIGCHLD)), "fork")
	assert.Equal(t, eperm, run(unix.SYS_CLONE, uint64(unix.CLONE_VM|unix.CLONE_VFORK|unix.SIGCHLD)), "vfork")
	for _, ns := range []uint64{unix.CLONE_NEWNS, unix.CLONE_NEWCGROUP, unix.CLONE_NEWUTS, unix.CLONE_NEWIPC, unix.CLONE_NEWUSER, unix.CLONE_NEWPID, unix.CLONE_NEWNET} {
		assert.Equal(t, eperm, run(unix.SYS_CLONE, thread|ns), "clone with %#x", ns)
	}

	for _, nr := range []uint32{unix.SYS_KILL, unix.SYS_TGKILL} {
		assert.Equal(t, allow, run(nr, self, 1), "to itself")
		assert.Equal(t, allow, run(nr, 1<<32|self, 1), "to itself, upper bits ignored by the kernel")
		for _, pid := range []uint64{0, 1, self + 1, self - 1, 1<<32 - 1, 1<<32 - self} {
			assert.Equal(t, eperm, run(nr, pid, 1), "syscall %d to %d", nr, pid)
		}
	}

	assert.Equal(t, allow, run(unix.SYS_PRLIMIT64, 0, unix.RLIMIT_NOFILE, 0, 0xc000), "getrlimit")
	assert.Equal(t, allow, run(unix.SYS_PRLIMIT64, self, unix.RLIMIT_NOFILE, 0, 0xc000), "read its own")
	assert.Equal(t, eperm, run(unix.SYS_PRLIMIT64, 0, unix.RLIMIT_NOFILE, 0xc000, 0), "setrlimit")
	assert.Equal(t, eperm, run(unix.SYS_PRLIMIT64, 0, unix.RLIMIT_NOFILE, 1<<32, 0), "setrlimit, pointer above 4 GiB")
	assert.Equal(t, eperm, run(unix.SYS_PRLIMIT64, 1, unix.RLIMIT_NOFILE, 0, 0xc000), "read another's")
	assert.Equal(t, eperm, run(unix.SYS_PRLIMIT64, self+1, unix.RLIMIT_NOFILE, 0xc000, 0), "set another's")

	assert.Equal(t, uint32(unix.SECCOMP_RET_KILL_PROCESS), runBPF(t, prog, 0x40000003, 0))
	if hasX32 {
		assert.Equal(t, eperm, run(x32Bit|1), "x32 call")
	}
}

// runBPF interprets the instructions seccompFilter uses, on a seccomp_data of nr, arch and
// args.
func runBPF(t *testing.T, prog []unix.SockFilter, arch, nr uint32, args ...uint64) uint32 {
	t.Helper()
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		cond := false
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			switch k := in.K; {
			case k == 0:
				acc = nr
			case k == 4:
				acc = arch
			case k >= 16 && k < 64 && k%4 == 0:
				var a uint64
				if i := int(k-16) / 8; i < len(args) {
					a = args[i]
				}
				acc = uint32(a >> (32 * ((k - 16) % 8 / 4)))
			default:
				t.Fatalf("load at %d", in.K)
			}
			continue
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			cond = acc == in.K
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			cond = acc >= in.K
		case unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			cond = acc&in.K != 0
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("instruction %#x", in.Code)
		}
		if cond {
			pc += int(in.Jt)
		} else {
			pc += int(in.Jf)
		}
	}
	t.Fatal("ran off the end")
	return 0
}

func TestKillGroupOfNobody(t *testing.T) {
	require.Error(t, killGroup(0))
	// A process group that cannot exist: PIDs stop well below 2^22 on Linux.
	assert.NoError(t, killGroup(1<<22+12345))
	assert.True(t, errors.Is(waitExited(1<<22+12345), unix.ECHILD))
}
