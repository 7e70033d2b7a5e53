"""The seccomp program, checked by running it in a small classic-BPF interpreter for both architectures."""

from __future__ import annotations

import errno
import platform
import re
import struct
from pathlib import Path

import pytest

from core.backends import seccomp
from core.backends.seccomp import ARCHES, RET_ALLOW, RET_KILL_PROCESS, SeccompArch, build_filter, denied_syscalls

EPERM = 0x00050000 | errno.EPERM
ENOSYS = 0x00050000 | errno.ENOSYS
CLONE_NEWUSER = 0x10000000
CLONE_NEWNS = 0x00020000
FORK_FLAGS = 0x01200011  # CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD, as glibc's fork()
THREAD_FLAGS = 0x003D0F00  # CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | ...
READ = {"x86_64": 0, "aarch64": 63}
WRITE = {"x86_64": 1, "aarch64": 64}


def evaluate(program: bytes, nr: int, arch: int, arg0: int = 0) -> int:
    """Run a classic BPF seccomp program over one struct seccomp_data; return the action."""
    data = struct.pack("=iIQ6Q", nr, arch, 0, arg0, 0, 0, 0, 0, 0)
    insns = [struct.unpack_from("=HBBI", program, offset) for offset in range(0, len(program), 8)]
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        if code == 0x20:  # ld [k]
            (acc,) = struct.unpack_from("=I", data, k)
            pc += 1
        elif code in (0x15, 0x35, 0x45):  # jeq, jge, jset
            taken = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += 1 + (jt if taken else jf)
        elif code == 0x06:  # ret k
            return int(k)
        else:
            raise AssertionError(f"unexpected opcode {code:#x} at {pc}")


@pytest.fixture(params=sorted(ARCHES))
def arch(request: pytest.FixtureRequest) -> SeccompArch:
    return ARCHES[request.param]


def test_program_is_well_formed(arch: SeccompArch) -> None:
    program = build_filter(arch)
    assert len(program) % 8 == 0 and 0 < len(program) // 8 <= 4096


def test_other_abis_are_killed(arch: SeccompArch) -> None:
    i386 = 0x40000003
    assert evaluate(build_filter(arch), READ[arch.name], i386) == RET_KILL_PROCESS


def test_ordinary_syscalls_are_allowed(arch: SeccompArch) -> None:
    program = build_filter(arch)
    for nr in (READ[arch.name], WRITE[arch.name]):
        assert evaluate(program, nr, arch.audit_arch) == RET_ALLOW


def test_every_denied_syscall_gets_eperm(arch: SeccompArch) -> None:
    program = build_filter(arch)
    denied = denied_syscalls(arch)
    assert {"ptrace", "mount", "unshare", "setns", "bpf", "keyctl", "io_uring_setup"} <= set(denied)
    for name, nr in denied.items():
        assert evaluate(program, nr, arch.audit_arch) == EPERM, name


def test_clone_is_checked_for_namespace_flags(arch: SeccompArch) -> None:
    program = build_filter(arch)
    assert evaluate(program, arch.clone, arch.audit_arch, FORK_FLAGS) == RET_ALLOW
    assert evaluate(program, arch.clone, arch.audit_arch, THREAD_FLAGS) == RET_ALLOW
    assert evaluate(program, arch.clone, arch.audit_arch, FORK_FLAGS | CLONE_NEWUSER) == EPERM
    assert evaluate(program, arch.clone, arch.audit_arch, CLONE_NEWNS) == EPERM
    assert evaluate(program, arch.clone3, arch.audit_arch) == ENOSYS


def test_personality_only_allows_harmless_personas(arch: SeccompArch) -> None:
    program = build_filter(arch)
    assert evaluate(program, arch.personality, arch.audit_arch, 0xFFFFFFFF) == RET_ALLOW  # query
    assert evaluate(program, arch.personality, arch.audit_arch, 0) == RET_ALLOW
    assert evaluate(program, arch.personality, arch.audit_arch, 0x0040000) == EPERM  # ADDR_NO_RANDOMIZE


def test_x32_abi_is_refused_on_x86_64() -> None:
    x86 = ARCHES["x86_64"]
    assert evaluate(build_filter(x86), 0x40000000 | 101, x86.audit_arch) == EPERM


@pytest.mark.parametrize(
    ("arch_name", "header", "pattern"),
    [
        ("x86_64", "/usr/include/x86_64-linux-gnu/asm/unistd_64.h", r"#define __NR_(\w+)\s+(\d+)"),
        ("aarch64", "/usr/include/asm-generic/unistd.h", r"#define __NR(?:3264)?_(\w+)\s+(\d+)"),
    ],
)
def test_numbers_match_the_kernel_headers(arch_name: str, header: str, pattern: str) -> None:
    path = Path(header)
    if not path.exists():
        pytest.skip(f"{header} is not installed")
    known = {name: int(nr) for name, nr in re.findall(pattern, path.read_text())}
    arch = ARCHES[arch_name]
    for name, nr in {
        **denied_syscalls(arch),
        "clone": arch.clone,
        "clone3": arch.clone3,
        "personality": arch.personality,
    }.items():
        if name in known:
            assert known[name] == nr, name


def test_host_arch_is_known_here() -> None:
    if platform.machine() in ("x86_64", "aarch64"):
        assert seccomp.host_arch() is not None
