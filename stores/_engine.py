"""The boundary between memspy and a storage engine: every engine failure leaves it as a ``StoreError``.

Engines written in Rust raise bare ``Exception``s for I/O and decoding errors, and a Rust panic
arrives as ``pyo3_runtime.PanicException``, which derives from ``BaseException`` so that
``except Exception`` does not catch it. ``engine_errors`` turns all of them into typed errors.

A full disk is guarded, not only reported: the embedded engine writes through memory maps, and a
write into a memory-mapped file on a full disk kills the process with SIGBUS instead of raising.
``check_free_space`` refuses a write (or an open) up front when the disk is too full for it.

On tmpfs (and other memory-backed filesystems) even reading a hole of a shared memory map allocates
a page, and loading a shard maps several preallocated, still sparse files: there an open can need tens
of MB. ``load_reserve`` bounds that by the sparse bytes of the shard's files, so a store on tmpfs keeps
enough room to be opened again.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from memspy.stores.errors import StoreEngineError, StoreError, StoreFullError

__all__ = [
    "DEFAULT_MIN_FREE_BYTES",
    "check_free_space",
    "engine_errors",
    "free_bytes",
    "is_memory_backed",
    "is_panic",
    "load_reserve",
    "translate",
]

# Headroom kept free on the store's disk. The engine touches pages of several memory-mapped files per
# write (log, payloads, vectors, indexes), a few KB each beyond the data itself; the margin covers that
# with room to spare, plus what a reopen touches.
DEFAULT_MIN_FREE_BYTES = 16 * 2**20
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_FULL_TEXT = ("no space left on device", "disk quota exceeded")
# Never translated: they are requests to stop, not failures of the engine.
_PASS_THROUGH = (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError)
_MEMORY_FS = {"tmpfs", "ramfs", "shm", "devtmpfs"}


def is_panic(exc: BaseException) -> bool:
    """True for a Rust panic surfaced by pyo3 (each extension defines its own ``PanicException`` type)."""
    return type(exc).__name__ == "PanicException"


def translate(exc: BaseException, action: str) -> StoreError:
    """The typed error for an engine failure during ``action`` (e.g. ``"writing 3 points"``)."""
    text = str(exc)
    if (isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS) or any(t in text.lower() for t in _FULL_TEXT):
        return StoreFullError(f"the disk is full while {action}: {text}; free space on it, then retry")
    if is_panic(exc):
        return StoreEngineError(
            f"the storage engine panicked while {action}: {text}; the operation did not complete. If it "
            "keeps failing, copy the store's directory and report the message"
        )
    return StoreEngineError(f"the storage engine failed while {action}: {type(exc).__name__}: {text}")


@contextmanager
def engine_errors(action: str) -> Iterator[None]:
    """Run engine calls, re-raising any failure (a panic included) as a typed ``StoreError``."""
    try:
        yield
    except (StoreError, *_PASS_THROUGH):
        raise
    except BaseException as exc:
        raise translate(exc, action) from exc


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged writer may still use on the filesystem holding ``path``."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def check_free_space(path: Path, need: int, action: str) -> None:
    """Raise ``StoreFullError`` unless the disk holding ``path`` has ``need`` bytes free.

    Raises:
        StoreFullError: naming how much is free, how much the operation needs, and the fix.
    """
    if need <= 0:
        return
    try:
        free = free_bytes(path)
    except OSError as exc:  # pragma: no cover - statvfs on an existing directory does not fail
        raise translate(exc, f"checking free space for {action}") from exc
    if free < need:
        raise StoreFullError(
            f"{path} has {free:,} bytes free but {action} needs {need:,} (the store keeps a safety margin, "
            "because the engine's memory-mapped writes cannot fail gracefully on a full disk): free space on "
            "that disk, or lower min_free_bytes if you know the margin is too large"
        )


def _mount_fstype(path: Path) -> str:
    """The filesystem type of the mount holding ``path`` (from /proc/self/mountinfo; "" if unknown)."""
    best, fstype = "", ""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return ""
    target = str(path.resolve())
    for line in lines:
        left, _, right = line.partition(" - ")
        fields = left.split()
        if len(fields) < 5 or not right:
            continue
        mount = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])  # "\040" is a space
        inside = target == mount or target.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best):
            best, fstype = mount, right.split()[0]
    return fstype


def is_memory_backed(path: Path) -> bool:
    """True when ``path`` lives on tmpfs or another filesystem where reading a hole allocates memory."""
    return _mount_fstype(path) in _MEMORY_FS


def load_reserve(shard_dir: Path) -> int:
    """Bytes a load of the shard may allocate on a memory-backed filesystem: its files' sparse bytes.

    The engine's log files are left out: they are preallocated too, but read only up to their end.
    """
    total = 0
    for f in shard_dir.rglob("*"):
        if f.parent.name == "wal" or not f.is_file():
            continue
        st = f.stat()
        total += max(0, st.st_size - st.st_blocks * 512)
    return total
