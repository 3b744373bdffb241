package sandbox

import "golang.org/x/sys/unix"

// auditArch is the architecture seccomp_data reports for this one's system calls.
const auditArch = unix.AUDIT_ARCH_AARCH64

// archDenied is empty on arm64: it has only the generic table, which has no fork, open
// or other path-only calls.
var archDenied []uint32

// hasX32 reports whether the x32 ABI reaches this kernel's calls under other numbers.
const hasX32 = false
