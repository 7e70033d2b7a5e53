"""The audit log's tamper evidence: the HMAC key, the record MAC chain, the anchor file and checkpoint MACs.

Record MAC::

    mac = HMAC-SHA256(key, prev_mac || canonical(record without mac and prev_mac))

``prev_mac`` is the previous record's mac as 64 lower-case hex characters (ASCII), or GENESIS for the first
record, or the newest checkpoint's mac after pruning. ``canonical`` is JSON with sorted keys, no spaces,
``ensure_ascii=False``, encoded as UTF-8. Numbers that are not integers are written as fixed-point strings
(``time_epoch`` with 6 decimals, ``duration_ms`` with 3) so that a verifier in any language rebuilds the
same bytes (a stored float that its fixed form does not represent exactly fails verification); everything else
is a string, an integer or null. A forger without the key cannot produce a
valid MAC, so a recomputed plain-hash chain is caught at the first record it touches.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import hmac
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from core.atomic import write_atomic
from core.paths import ensure_private_dir

KEY_BYTES = 32
ANCHOR_BYTES = 256  # the anchor file's fixed size, so that it can be overwritten in place
GENESIS = "0" * 64
FIXED_DECIMALS = {"time_epoch": 6, "duration_ms": 3}


class KeyUnavailable(Exception):
    """The key file is missing or unusable; the message says which and where."""


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(fields: Mapping[str, object]) -> bytes:
    """The bytes a record's MAC covers (without its ``prev_mac`` prefix)."""
    doc = dict(fields)
    doc.pop("mac", None)
    doc.pop("prev_mac", None)
    for name, decimals in FIXED_DECIMALS.items():
        value = doc.get(name)
        if isinstance(value, float):
            doc[name] = _fixed(value, decimals)
    return _ENCODER.encode(doc).encode("utf-8")


def _fixed(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    # Records are written already rounded, so the fixed form is exact; a value edited below that precision
    # is not, and then its full repr (a different string) is MACed, so the edit cannot hide in the rounding.
    return text if float(text) == value else repr(value)


class Signer:
    """HMAC-SHA256 with the log's key; keyed once, copied per message (cheaper than re-keying)."""

    def __init__(self, key: bytes) -> None:
        self._base = hmac.new(key, digestmod=hashlib.sha256)

    def sign(self, *parts: bytes) -> str:
        h = self._base.copy()
        for part in parts:
            h.update(part)
        return h.hexdigest()

    def record_mac(self, fields: Mapping[str, object]) -> str:
        prev = fields["prev_mac"]
        assert isinstance(prev, str)
        return self.sign(prev.encode("ascii", "replace"), canonical(fields))

    def labelled_mac(self, label: str, fields: Mapping[str, object]) -> str:
        """MAC of a non-record document (anchor, checkpoint); the label keeps it from passing as a record."""
        return self.sign(label.encode("ascii"), b"\x00", canonical(fields))


def load_key(path: Path, *, create: bool) -> bytes:
    """The key in ``path``; a new random one (file mode 0o600) only when ``create`` and there is none."""
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        if not create:
            raise KeyUnavailable(f"key file missing: {path}") from None
        return _create_key(path)
    except OSError as err:
        raise KeyUnavailable(f"key file unreadable: {path}: {err.strerror or err}") from err
    if len(key) != KEY_BYTES:
        raise KeyUnavailable(f"key file damaged: {path} holds {len(key)} bytes, not {KEY_BYTES}")
    return key


def _create_key(path: Path) -> bytes:
    ensure_private_dir(path.parent)
    key = os.urandom(KEY_BYTES)
    # O_EXCL: two processes starting a fresh log at once must not end up with different keys.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


@dataclass(frozen=True)
class Anchor:
    """The newest record known to be committed, kept outside the database: a cut-off tail shows against it."""

    seq: int
    mac: str
    anchor_mac: str

    def fields(self) -> dict[str, object]:
        return {"seq": self.seq, "mac": self.mac}


class AnchorUnreadable(Exception):
    """The anchor file exists but is not a valid anchor."""


def read_anchor(path: Path) -> Anchor | None:
    """The anchor in ``path``, or None when there is no file."""
    try:
        with path.open("rb") as file:
            fcntl.flock(file, fcntl.LOCK_SH)  # an overwrite in progress finishes first (see write_anchor)
            raw = file.read(ANCHOR_BYTES * 4)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise AnchorUnreadable(f"anchor unreadable: {path}: {err.strerror or err}") from err
    try:
        doc = json.loads(raw)
        return Anchor(int(doc["seq"]), str(doc["mac"]), str(doc["anchor_mac"]))
    except (ValueError, KeyError, TypeError) as err:
        raise AnchorUnreadable(f"anchor damaged: {path} is not a valid anchor") from err


def write_anchor(path: Path, seq: int, mac: str, signer: Signer, *, durable: bool = False) -> None:
    """Make the anchor name record ``seq``; a reader, or a restart after a kill, finds the old anchor or the new one.

    ``durable`` (the log's ``durability="full"``): a new file, fsynced, renamed over the old one, so that a power
    cut leaves one anchor or the other. Otherwise the anchor is overwritten in place: one write of ANCHOR_BYTES
    at offset 0, under an exclusive flock that readers wait for. Creating and renaming a file costs 0.2 to 0.5 ms
    here (file system metadata, and ext4 starting to write out a file renamed over another), a write into the
    page cache 10 us, and an anchor is written for every record. A single write within one page is whole or
    absent when the process is killed, and the lock keeps other sandchat processes from reading half of it.
    After an OS crash or a power cut the anchor is the old one or the new one (it fits in one sector, which
    disks write whole); it may then lag the database (accepted) or, when commits were lost, be ahead of it (see
    core/audit_store.py). A missing anchor, or anything but a plain file of ANCHOR_BYTES with one link (one
    written by hand, a symlink), is replaced the durable way instead: a write never follows a link.
    """
    anchor_mac = signer.labelled_mac("anchor", {"seq": seq, "mac": mac})
    doc = json.dumps({"anchor_mac": anchor_mac, "mac": mac, "seq": seq})
    data = doc.encode("ascii").ljust(ANCHOR_BYTES - 1) + b"\n"  # JSON allows the padding
    assert len(data) == ANCHOR_BYTES
    if durable or not _overwrite(path, data):
        _replace(path, data)


def _overwrite(path: Path, data: bytes) -> bool:
    """Overwrite a plain anchor file of the same size in place; False (nothing written) when it is not one."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    except OSError as err:
        if err.errno == errno.ELOOP:  # a symlink: replace it rather than write where it points
            return False
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or info.st_size != len(data):
            return False
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.pwrite(fd, data, 0) != len(data):
            raise OSError(errno.EIO, "short write to the anchor", str(path))
    finally:
        os.close(fd)  # releases the lock too
    return True


def _replace(path: Path, data: bytes) -> None:
    # No fsync of the directory: losing the rename in a power cut leaves the previous anchor, which is
    # behind the database, and a database ahead of its anchor is accepted by design.
    write_atomic(path, data, sync_directory=False)
