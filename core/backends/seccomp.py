"""A seccomp filter for sandboxed code, assembled as classic BPF in pure Python.

Namespaces and the uid drop already keep sandboxed code away from the host; the filter narrows the kernel
surface that code can reach, so that a kernel bug in a rarely used syscall (``io_uring``, ``bpf``,
``userfaultfd`` ...) or a namespace trick cannot be used to break out. bubblewrap loads the program with
``--seccomp FD`` just before it runs the sandboxed command.

Design (the same shape as Docker's and Flatpak's filters, but a deny-list to keep ordinary programs working):

* The ``arch`` field is checked first. A syscall made through any other ABI (i386 via ``int 0x80`` on x86_64,
  arm32 compat on aarch64) kills the process, because the syscall numbers below would mean something else.
* On x86_64 the x32 ABI (numbers with bit 30 set) is refused: it reaches the same kernel code under other
  numbers and would slip past a list of x86_64 numbers.
* ``clone`` is allowed unless it asks for a new namespace; ``clone3`` passes its flags in memory that BPF cannot
  read, so it answers ENOSYS and glibc falls back to ``clone``.
* ``personality`` is allowed only for the harmless personas (query, Linux, 32-bit, ...); others, such as
  ``ADDR_NO_RANDOMIZE``, would weaken the process's own hardening.
* Everything on the deny-list answers EPERM rather than killing, so programs that probe for a feature see a
  plain error.

No libseccomp: it would be one more native dependency, and the program is short enough to check by eye.
"""

from __future__ import annotations

import errno
import platform
import struct
from dataclasses import dataclass

# struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; } in host byte order (both arches are
# little-endian, and the kernel reads the program as native structs).
_INSN = struct.Struct("=HBBI")

_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K

RET_KILL_PROCESS = 0x80000000
RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000

# Offsets into struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; }.
# args[0]'s low word is at 16 on little-endian machines.
_OFF_NR = 0
_OFF_ARCH = 4
_OFF_ARG0_LO = 16

AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_AARCH64 = 0xC00000B7
X32_SYSCALL_BIT = 0x40000000

# CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET.
# CLONE_NEWTIME (0x80) is left out on purpose: in clone() that bit belongs to the exit signal.
CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000

# PER_LINUX, PER_LINUX32, UNAME26, PER_LINUX32|UNAME26, and 0xffffffff (the query); Docker allows the same.
ALLOWED_PERSONAS = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)

# Syscalls refused with EPERM. Numbers from arch/x86/entry/syscalls/syscall_64.tbl and
# include/uapi/asm-generic/unistd.h (which aarch64 uses); cross-checked against the installed kernel headers.
_DENIED: dict[str, tuple[int | None, int | None]] = {
    # name: (x86_64, aarch64); None where the arch has no such syscall
    "mount": (165, 40),
    "umount2": (166, 39),
    "pivot_root": (155, 41),
    "chroot": (161, 51),
    "swapon": (167, 224),
    "swapoff": (168, 225),
    "reboot": (169, 142),
    "kexec_load": (246, 104),
    "kexec_file_load": (320, 294),
    "init_module": (175, 105),
    "finit_module": (313, 273),
    "delete_module": (176, 106),
    "bpf": (321, 280),
    "perf_event_open": (298, 241),
    "ptrace": (101, 117),
    "process_vm_readv": (310, 270),
    "process_vm_writev": (311, 271),
    "kcmp": (312, 272),
    "keyctl": (250, 219),
    "add_key": (248, 217),
    "request_key": (249, 218),
    "userfaultfd": (323, 282),
    "unshare": (272, 97),
    "setns": (308, 268),
    "open_by_handle_at": (304, 265),
    "name_to_handle_at": (303, 264),
    "iopl": (172, None),
    "ioperm": (173, None),
    "modify_ldt": (154, None),
    "uselib": (134, None),
    "_sysctl": (156, None),
    "acct": (163, 89),
    "quotactl": (179, 60),
    "quotactl_fd": (443, 443),
    "lookup_dcookie": (212, 18),
    "settimeofday": (164, 170),
    "clock_settime": (227, 112),
    "clock_adjtime": (305, 266),
    "adjtimex": (159, 171),
    "syslog": (103, 116),
    "vhangup": (153, 58),
    "io_uring_setup": (425, 425),
    "io_uring_enter": (426, 426),
    "io_uring_register": (427, 427),
    "fanotify_init": (300, 262),
    "open_tree": (428, 428),
    "move_mount": (429, 429),
    "fsopen": (430, 430),
    "fsconfig": (431, 431),
    "fsmount": (432, 432),
    "fspick": (433, 433),
    "pidfd_getfd": (438, 438),
    "mount_setattr": (442, 442),
}


@dataclass(frozen=True)
class SeccompArch:
    """What the filter needs to know about one machine architecture."""

    name: str
    audit_arch: int
    column: int  # index into the _DENIED tuples
    clone: int
    clone3: int
    personality: int
    deny_x32: bool


ARCHES: dict[str, SeccompArch] = {
    "x86_64": SeccompArch("x86_64", AUDIT_ARCH_X86_64, 0, clone=56, clone3=435, personality=135, deny_x32=True),
    "aarch64": SeccompArch("aarch64", AUDIT_ARCH_AARCH64, 1, clone=220, clone3=435, personality=92, deny_x32=False),
}
_MACHINE_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}


def host_arch() -> SeccompArch | None:
    """The filter description for this machine, or None where no filter is available."""
    machine = platform.machine().lower()
    return ARCHES.get(_MACHINE_ALIASES.get(machine, machine))


def denied_syscalls(arch: SeccompArch) -> dict[str, int]:
    """The syscalls answered with EPERM on ``arch``, by name (``clone``/``clone3`` are handled apart)."""
    found = {name: nrs[arch.column] for name, nrs in _DENIED.items()}
    return {name: nr for name, nr in found.items() if nr is not None}


def _errno(code: int) -> int:
    return _RET_ERRNO | (code & 0xFFFF)


class _Program:
    """A tiny assembler: forward jumps to labels, resolved to the u8 offsets BPF wants."""

    def __init__(self) -> None:
        self._insns: list[tuple[int, str | int, str | int, int]] = []
        self._labels: dict[str, int] = {}

    def emit(self, code: int, k: int, jt: str | int = 0, jf: str | int = 0) -> None:
        self._insns.append((code, jt, jf, k))

    def label(self, name: str) -> None:
        self._labels[name] = len(self._insns)

    def assemble(self) -> bytes:
        out = bytearray()
        for index, (code, jt, jf, k) in enumerate(self._insns):
            out += _INSN.pack(code, self._offset(index, jt), self._offset(index, jf), k)
        return bytes(out)

    def _offset(self, index: int, target: str | int) -> int:
        if isinstance(target, int):
            return target
        offset = self._labels[target] - index - 1
        if not 0 <= offset <= 255:  # classic BPF only jumps forward, by at most 255
            raise ValueError(f"seccomp jump to {target!r} out of range ({offset})")
        return offset


def build_filter(arch: SeccompArch) -> bytes:
    """The BPF program for ``arch``, as the raw bytes bubblewrap's ``--seccomp FD`` reads."""
    prog = _Program()
    prog.emit(_LD_W_ABS, _OFF_ARCH)
    prog.emit(_JEQ_K, arch.audit_arch, jt=1, jf=0)
    prog.emit(_RET_K, RET_KILL_PROCESS)
    prog.emit(_LD_W_ABS, _OFF_NR)
    if arch.deny_x32:
        prog.emit(_JGE_K, X32_SYSCALL_BIT, jt="deny", jf=0)
    prog.emit(_JEQ_K, arch.clone, jt="clone", jf=0)
    prog.emit(_JEQ_K, arch.clone3, jt="nosys", jf=0)
    prog.emit(_JEQ_K, arch.personality, jt="personality", jf=0)
    for nr in sorted(set(denied_syscalls(arch).values())):
        prog.emit(_JEQ_K, nr, jt="deny", jf=0)
    prog.emit(_RET_K, RET_ALLOW)
    prog.label("clone")
    prog.emit(_LD_W_ABS, _OFF_ARG0_LO)
    prog.emit(_JSET_K, CLONE_NAMESPACE_FLAGS, jt="deny", jf="allow")
    prog.label("personality")
    prog.emit(_LD_W_ABS, _OFF_ARG0_LO)
    for persona in ALLOWED_PERSONAS:
        prog.emit(_JEQ_K, persona, jt="allow", jf=0)
    # an unlisted persona falls through to "deny"
    prog.label("deny")
    prog.emit(_RET_K, _errno(errno.EPERM))
    prog.label("allow")
    prog.emit(_RET_K, RET_ALLOW)
    prog.label("nosys")
    prog.emit(_RET_K, _errno(errno.ENOSYS))
    return prog.assemble()
