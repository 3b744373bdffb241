// Package sandbox confines a worker process before it reads untrusted bytes ([Restrict]),
// and runs jobs on a pool of such workers from the host process ([Pool]): it starts them
// with nothing inherited, kills a worker's whole process group when its job's context
// ends or it misbehaves, notices a worker that died even while idle, and replaces it.
//
// # What Restrict does
//
// On Linux, in this order: resource limits (address space and data segment at the start-up
// size plus Limits.MemoryBytes plus headroom, CPU time, no core files, no file writes, no
// locked memory, a handful of file descriptors, and RLIMIT_NPROC at the system's task count
// plus a margin: see taskMargin); Landlock at the highest ABI this package knows, in best
// effort mode, with no rule at all, so that no file can be opened, created or executed, no
// TCP port bound or connected (ABI 4), and no signal sent or abstract socket reached
// outside the worker (ABI 6); and a seccomp filter, installed on every thread, that fails
// with EPERM the system calls that create sockets, processes or namespaces, execute
// programs, open or change files by path, signal, trace or read other processes, leave the
// process group, change resource limits, or reach kernel interfaces an image decoder never
// needs (deniedSyscalls lists them; clone3 fails with ENOSYS so that the Go runtime uses
// clone). The filter does not depend on Landlock: without it, no file can be opened either.
// What the kernel cannot enforce is reported in Report.Warnings rather than failing.
//
// On other Unix systems only the resource limits apply (and the address-space limit does
// not); elsewhere Restrict fails.
//
// Restrict applies to the whole process and cannot be undone; call it once, in the worker.
// A worker started as root keeps its capabilities (the filter still denies every call
// above, and changing limits), and the kernel does not apply RLIMIT_NPROC to root: run the
// host as an unprivileged user.
package sandbox

// Limits are the resource limits Restrict sets.
type Limits struct {
	// MemoryBytes is how far the address space (RLIMIT_AS) and data segment (RLIMIT_DATA)
	// may grow beyond their size when Restrict is called, before a fixed headroom for
	// thread stacks and the Go heap's arena granularity is added. Linux only.
	MemoryBytes int64
	// CPUSeconds is the CPU time the process may use over its whole life (RLIMIT_CPU);
	// reaching it kills the process.
	CPUSeconds uint64
	// OpenFiles is the number of file descriptors the process may hold (RLIMIT_NOFILE).
	OpenFiles uint64
	// SkipLandlock leaves Landlock out, as on a kernel without it, so that tests can check
	// what holds there. Never set it in production.
	SkipLandlock bool
}

// Report says how far Restrict could confine the process.
type Report struct {
	// Landlock is the Landlock ABI version enforced; 0 means Landlock is not in force.
	Landlock int
	// Seccomp reports whether the seccomp filter is installed.
	Seccomp bool
	// Warnings lists what could not be restricted, one entry per gap.
	Warnings []string
}

// headroom is added to the memory limits for what the Go runtime maps besides the heap
// the limit is meant for: thread stacks (8 MiB each when cgo creates the thread), heap
// arenas reserved 64 MiB at a time, and the race detector's shadow of the heap.
const headroom = 512 << 20
