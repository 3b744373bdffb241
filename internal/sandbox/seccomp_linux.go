//go:build linux && (amd64 || arm64)

package sandbox

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// deniedSyscalls fail with EPERM in a worker, whatever their arguments (archDenied adds
// amd64's older forms of the same calls):
//   - sockets: socket, socketpair, connect, bind, listen, accept, accept4;
//   - programs: execve, execveat;
//   - other processes: ptrace, process_vm_readv/writev, pidfd_open, pidfd_getfd,
//     pidfd_send_signal, kcmp, process_madvise; signals by tkill, rt_sigqueueinfo and
//     rt_tgsigqueueinfo;
//   - leaving the worker's process group or raising its limits: setsid, setpgid, setrlimit;
//   - files by path, so that no file is reachable even without Landlock: openat, openat2,
//     open_by_handle_at, name_to_handle_at, and every call that creates, removes, renames,
//     links, truncates or changes the owner, mode, times or attributes of a path;
//   - namespaces and mounts: unshare, setns, mount, umount2, pivot_root, chroot, and the
//     new mount API;
//   - executable memory by other routes than mmap and mprotect (see execProtSyscalls):
//     personality (READ_IMPLIES_EXEC would make every readable mapping executable) and
//     shmat (SHM_EXEC);
//   - kernel interfaces a decoder never needs: io_uring_setup (io_uring would also bypass
//     this filter for the calls it queues), bpf, perf_event_open, userfaultfd, the key
//     ring, fanotify, and what only root may do anyway (modules, kexec, reboot, swap,
//     accounting, quotas, the clock, host and domain names, the kernel log).
var deniedSyscalls = []uint32{
	unix.SYS_SOCKET, unix.SYS_SOCKETPAIR, unix.SYS_CONNECT, unix.SYS_BIND, unix.SYS_LISTEN,
	unix.SYS_ACCEPT, unix.SYS_ACCEPT4,
	unix.SYS_EXECVE, unix.SYS_EXECVEAT,
	unix.SYS_PTRACE, unix.SYS_PROCESS_VM_READV, unix.SYS_PROCESS_VM_WRITEV,
	unix.SYS_PIDFD_OPEN, unix.SYS_PIDFD_GETFD, unix.SYS_PIDFD_SEND_SIGNAL, unix.SYS_KCMP,
	unix.SYS_PROCESS_MADVISE,
	unix.SYS_TKILL, unix.SYS_RT_SIGQUEUEINFO, unix.SYS_RT_TGSIGQUEUEINFO,
	unix.SYS_SETSID, unix.SYS_SETPGID, unix.SYS_SETRLIMIT,
	unix.SYS_OPENAT, unix.SYS_OPENAT2, unix.SYS_OPEN_BY_HANDLE_AT, unix.SYS_NAME_TO_HANDLE_AT,
	unix.SYS_MKDIRAT, unix.SYS_MKNODAT, unix.SYS_UNLINKAT, unix.SYS_RENAMEAT, unix.SYS_RENAMEAT2,
	unix.SYS_LINKAT, unix.SYS_SYMLINKAT, unix.SYS_TRUNCATE, unix.SYS_FCHMODAT, unix.SYS_FCHMODAT2,
	unix.SYS_FCHOWNAT, unix.SYS_UTIMENSAT, unix.SYS_SETXATTR, unix.SYS_LSETXATTR,
	unix.SYS_REMOVEXATTR, unix.SYS_LREMOVEXATTR,
	unix.SYS_PERSONALITY, unix.SYS_SHMAT,
	unix.SYS_UNSHARE, unix.SYS_SETNS, unix.SYS_MOUNT, unix.SYS_UMOUNT2, unix.SYS_PIVOT_ROOT,
	unix.SYS_CHROOT, unix.SYS_OPEN_TREE, unix.SYS_MOVE_MOUNT, unix.SYS_FSOPEN, unix.SYS_FSCONFIG,
	unix.SYS_FSMOUNT, unix.SYS_FSPICK, unix.SYS_MOUNT_SETATTR,
	unix.SYS_IO_URING_SETUP, unix.SYS_BPF, unix.SYS_PERF_EVENT_OPEN, unix.SYS_USERFAULTFD,
	unix.SYS_KEYCTL, unix.SYS_ADD_KEY, unix.SYS_REQUEST_KEY, unix.SYS_FANOTIFY_INIT,
	unix.SYS_INIT_MODULE, unix.SYS_FINIT_MODULE, unix.SYS_DELETE_MODULE, unix.SYS_KEXEC_LOAD,
	unix.SYS_KEXEC_FILE_LOAD, unix.SYS_REBOOT, unix.SYS_SWAPON, unix.SYS_SWAPOFF, unix.SYS_ACCT,
	unix.SYS_QUOTACTL, unix.SYS_SETTIMEOFDAY, unix.SYS_CLOCK_SETTIME, unix.SYS_CLOCK_ADJTIME,
	unix.SYS_ADJTIMEX, unix.SYS_SETHOSTNAME, unix.SYS_SETDOMAINNAME, unix.SYS_SYSLOG,
	unix.SYS_VHANGUP,
}

// cloneNewFlags are clone's CLONE_NEW* flags (CLONE_NEWTIME shares its bit with the exit
// signal in clone, and is reachable only through clone3, which is refused whole).
const cloneNewFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET

// execProtSyscalls fail with EPERM when their prot argument (the third) asks for
// PROT_EXEC: no page of a worker can become executable, so nothing a taken-over decoder
// writes can be run as machine code, and wazero (the runtime of the AVIF and HEIC codecs),
// whose compiler probes mprotect(PROT_READ|PROT_EXEC) when a codec first builds its
// runtime, finds it refused and runs its interpreter instead. The Go runtime never asks
// for executable memory.
var execProtSyscalls = []uint32{unix.SYS_MMAP, unix.SYS_MPROTECT, unix.SYS_PKEY_MPROTECT}

// x32Bit marks the x32 system-call ABI on amd64, which would otherwise reach the same
// calls under other numbers.
const x32Bit = 0x40000000

// installSeccomp installs the filter for this process (see seccompFilter) on every thread
// (TSYNC), after setting no_new_privs, which the kernel requires of an unprivileged filter.
func installSeccomp() error {
	filter, err := seccompFilter(auditArch, hasX32, uint32(os.Getpid())) // #nosec G115 -- a PID is positive and below 2^22
	if err != nil {
		return err
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]} // #nosec G115 -- seccompFilter keeps it far below BPF_MAXINSNS (4096)

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	r, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog))) // #nosec G103 -- seccomp(2) takes a *sock_fprog; converting in the call is the syscall form unsafe.Pointer allows, and filter is kept alive below
	runtime.KeepAlive(filter)
	if errno != 0 {
		return fmt.Errorf("seccomp(SET_MODE_FILTER, TSYNC): %w", errno)
	}
	if r != 0 {
		return fmt.Errorf("seccomp: thread %d could not be synchronised", r)
	}
	return nil
}

// seccompFilter returns the BPF program for a process whose PID is self: kill the process
// on a foreign architecture; fail with EPERM the deniedSyscalls and archDenied (and, with
// x32, every x32 call); fail clone3 with ENOSYS, so that the runtime falls back on clone;
// fail execProtSyscalls asking for PROT_EXEC; allow clone only for a thread (CLONE_THREAD) in no new namespace; allow kill and tgkill
// only to this process; allow prlimit64 only to read this process's limits; allow the rest.
func seccompFilter(arch uint32, x32 bool, self uint32) ([]unix.SockFilter, error) {
	// struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6],
	// little-endian on both architectures.
	const (
		offNr   = 0
		offArch = 4
	)
	argLo := func(i uint32) uint32 { return 16 + 8*i }
	argHi := func(i uint32) uint32 { return 20 + 8*i }

	var a asm
	a.ld(offArch)
	a.jeq(arch, "", "kill")
	a.ld(offNr)
	if x32 {
		a.jge(x32Bit, "deny", "")
	}
	a.jeq(unix.SYS_CLONE3, "enosys", "")
	a.jeq(unix.SYS_CLONE, "clone", "")
	a.jeq(unix.SYS_KILL, "self0", "")
	a.jeq(unix.SYS_TGKILL, "self0", "")
	a.jeq(unix.SYS_PRLIMIT64, "prlimit", "")
	for _, nr := range execProtSyscalls {
		a.jeq(nr, "prot", "")
	}
	for _, nr := range append(append([]uint32(nil), deniedSyscalls...), archDenied...) {
		a.jeq(nr, "deny", "")
	}
	a.ret(unix.SECCOMP_RET_ALLOW)

	// clone(flags, ...): flags is an unsigned long of which the kernel reads 32 bits.
	a.label("clone")
	a.ld(argLo(0))
	a.jset(cloneNewFlags, "deny", "")
	a.jset(unix.CLONE_THREAD, "allow", "deny")

	// kill(pid, sig), tgkill(tgid, tid, sig): pid_t, 32 bits.
	a.label("self0")
	a.ld(argLo(0))
	a.jeq(self, "allow", "deny")

	// prlimit64(pid, resource, new, old): new must be NULL, pid 0 or this process.
	a.label("prlimit")
	a.ld(argLo(2))
	a.jeq(0, "", "deny")
	a.ld(argHi(2))
	a.jeq(0, "", "deny")
	a.ld(argLo(0))
	a.jeq(0, "allow", "")
	a.jeq(self, "allow", "deny")

	// mmap(addr, len, prot, ...), mprotect(addr, len, prot), pkey_mprotect(addr, len,
	// prot, pkey): the kernel reads PROT_EXEC from prot's low word.
	a.label("prot")
	a.ld(argLo(2))
	a.jset(unix.PROT_EXEC, "deny", "allow")

	a.label("allow")
	a.ret(unix.SECCOMP_RET_ALLOW)
	a.label("deny")
	a.ret(unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM))
	a.label("enosys")
	a.ret(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
	a.label("kill")
	a.ret(unix.SECCOMP_RET_KILL_PROCESS)
	return a.assemble()
}

// asm assembles a classic BPF program whose conditional jumps name labels further on ("" is
// the next instruction).
type asm struct {
	prog   []unix.SockFilter
	jumps  map[int][2]string // instruction -> its true and false targets
	labels map[string]int
}

func (a *asm) emit(f unix.SockFilter, jt, jf string) {
	if jt != "" || jf != "" {
		if a.jumps == nil {
			a.jumps = map[int][2]string{}
		}
		a.jumps[len(a.prog)] = [2]string{jt, jf}
	}
	a.prog = append(a.prog, f)
}

func (a *asm) ld(off uint32) {
	a.emit(unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off}, "", "")
}
func (a *asm) ret(k uint32) { a.emit(unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k}, "", "") }
func (a *asm) jeq(k uint32, jt, jf string) {
	a.emit(unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: k}, jt, jf)
}
func (a *asm) jge(k uint32, jt, jf string) {
	a.emit(unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, K: k}, jt, jf)
}
func (a *asm) jset(k uint32, jt, jf string) {
	a.emit(unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, K: k}, jt, jf)
}

func (a *asm) label(name string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[name] = len(a.prog)
}

// assemble resolves the jumps: each target must lie after its jump, at most 255
// instructions on.
func (a *asm) assemble() ([]unix.SockFilter, error) {
	if len(a.prog) > 4096 {
		return nil, fmt.Errorf("seccomp filter of %d instructions", len(a.prog))
	}
	for pc, t := range a.jumps {
		var off [2]uint8
		for i, name := range t {
			if name == "" {
				continue
			}
			to, ok := a.labels[name]
			d := to - pc - 1
			if !ok || d < 0 || d > 255 {
				return nil, fmt.Errorf("seccomp filter: jump from %d to %q", pc, name)
			}
			off[i] = uint8(d)
		}
		a.prog[pc].Jt, a.prog[pc].Jf = off[0], off[1]
	}
	return a.prog, nil
}
