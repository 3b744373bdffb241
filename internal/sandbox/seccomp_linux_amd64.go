package sandbox

import "golang.org/x/sys/unix"

// auditArch is the architecture seccomp_data reports for this one's system calls.
const auditArch = unix.AUDIT_ARCH_X86_64

// archDenied are the calls amd64 has beside the generic table's, denied for the same
// reasons as their generic forms in deniedSyscalls: creating processes, and opening or
// changing files by path; and raw port I/O.
var archDenied = []uint32{
	unix.SYS_FORK, unix.SYS_VFORK,
	unix.SYS_OPEN, unix.SYS_CREAT, unix.SYS_UNLINK, unix.SYS_RMDIR, unix.SYS_MKDIR,
	unix.SYS_RENAME, unix.SYS_LINK, unix.SYS_SYMLINK, unix.SYS_CHMOD, unix.SYS_CHOWN,
	unix.SYS_LCHOWN, unix.SYS_MKNOD, unix.SYS_UTIME, unix.SYS_UTIMES, unix.SYS_FUTIMESAT,
	unix.SYS_USELIB, unix.SYS_IOPERM, unix.SYS_IOPL,
}

// hasX32 reports whether the x32 ABI reaches this kernel's calls under other numbers.
const hasX32 = true
