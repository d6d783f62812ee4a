"""Signature prefixes kept on disk, so that a new process starts with a warm KV cache.

A file holds the llama.cpp sequence state of one prompt family (a signature's system message) cut to the part
that two different calls of it shared: the instructions, the field layout and any demos, never the last
message, which carries the caller's conversation. A file the model refuses (another model build or llama.cpp
version) is deleted and the prefix is evaluated again.
"""

from __future__ import annotations

import os
import re
import struct
import tempfile
from pathlib import Path

import numpy as np

from memspy.pipelines.runtime.llama_prefix import PrefixState

__all__ = ["PrefixDisk", "default_prefix_dir"]

_MAGIC = b"MSPX1\n"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def default_prefix_dir(model_name: str) -> Path | None:
    """Where the local model's prefixes live: env ``MEMSPY_LM_PREFIX_CACHE`` (a folder, or 0/off to disable),
    else ``<model_home()>/prefix-cache/<model name>-llama.cpp-<version>``."""
    raw = os.environ.get("MEMSPY_LM_PREFIX_CACHE", "").strip()
    if raw.lower() in {"0", "off", "false", "no"}:
        return None
    if raw:
        return Path(raw).expanduser()
    from importlib import metadata

    from memspy.pipelines.runtime.model_files import model_home

    try:
        version = metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return model_home() / "prefix-cache" / _UNSAFE.sub("_", f"{model_name}-llama.cpp-{version}")


class PrefixDisk:
    """One file per prompt family under ``directory`` (created on first save)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def _path(self, family: str) -> Path:
        return self.directory / f"{_UNSAFE.sub('_', family)}.kv"

    def load(self, family: str) -> PrefixState | None:
        """The saved state of ``family``, or None (missing or unreadable)."""
        try:
            raw = self._path(family).read_bytes()
        except OSError:
            return None
        head = len(_MAGIC) + 4
        if not raw.startswith(_MAGIC) or len(raw) < head:
            return None
        (n,) = struct.unpack("<I", raw[len(_MAGIC) : head])
        tokens = np.frombuffer(raw, dtype="<i4", count=n, offset=head)
        data = raw[head + 4 * n :]
        return PrefixState(tuple(int(t) for t in tokens), data) if len(tokens) == n and data else None

    def save(self, family: str, state: PrefixState) -> None:
        """Write ``state`` atomically; a folder that cannot be written just means no disk cache."""
        tokens = np.asarray(state.tokens, dtype="<i4").tobytes()
        body = _MAGIC + struct.pack("<I", len(state.tokens)) + tokens + state.data
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".prefix-", suffix=".part")
            with os.fdopen(fd, "wb") as out:
                out.write(body)
            os.replace(tmp, self._path(family))
        except OSError:
            return

    def exists(self, family: str) -> bool:
        """Whether a file of ``family`` is there (it is read, and checked, only by :meth:`load`)."""
        return self._path(family).is_file()

    def drop(self, family: str) -> None:
        """Delete the file of ``family`` (the model refused it)."""
        self._path(family).unlink(missing_ok=True)
