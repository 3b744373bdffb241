package sandbox

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

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
	rep, err := Restrict(Limits{MemoryBytes: 64 << 20, CPUSeconds: 30, OpenFiles: 16})
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
	var l unix.Rlimit
	for _, r := range []struct {
		name string
		res  int
	}{{"core", unix.RLIMIT_CORE}, {"fsize", unix.RLIMIT_FSIZE}, {"nofile", unix.RLIMIT_NOFILE}, {"cpu", unix.RLIMIT_CPU}} {
		_ = unix.Getrlimit(r.res, &l)
		fmt.Printf("%s=%d/%d\n", r.name, l.Cur, l.Max)
	}
	return 0
}

func TestRestrict(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	file := t.TempDir() + "/escape"
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = []string{childEnv + "=1", "SANDBOX_TEST_ADDR=" + ln.Addr().String(), "SANDBOX_TEST_FILE=" + file}
	out, err := cmd.CombinedOutput()
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
