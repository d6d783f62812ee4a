"""memspy's error family: one root, and the errors every store raises.

The root lives here, in the lowest layer, so that every layer above (pipelines, evals, the command line)
can derive its own errors from it without importing upward. ``except MemspyError`` catches everything
memspy raises on purpose; ``except StoreError`` catches everything a store raises, including failures of
the storage engine underneath (I/O errors, a full disk, a Rust panic), which arrive as ``StoreEngineError``.
"""

from __future__ import annotations

__all__ = [
    "InvalidFilterError",
    "InvalidNamespaceError",
    "InvalidValueError",
    "MemspyError",
    "StoreClosedError",
    "StoreCorruptedError",
    "StoreEngineError",
    "StoreError",
    "StoreFullError",
    "StoreLockedError",
]


class MemspyError(Exception):
    """Root of every error memspy raises on purpose."""


class StoreError(MemspyError):
    """Base class for every error a memspy store raises."""


class InvalidNamespaceError(StoreError, ValueError):
    """A namespace is not a tuple of non-empty, printable strings within the size limits."""


class InvalidValueError(StoreError, ValueError):
    """A value, key or argument cannot be used (not JSON, too large or deep, wrong type, out of range)."""


class InvalidFilterError(StoreError, ValueError):
    """A search filter uses an unknown operator, an unsupported operand or a field name it cannot reach."""


class StoreLockedError(StoreError, RuntimeError):
    """Another process (or another open store in this one) holds the store's directory."""


class StoreClosedError(StoreError, RuntimeError):
    """The store was closed: open a new one on the same path or collection."""


class StoreEngineError(StoreError, RuntimeError):
    """The storage engine failed (I/O error, panic, lost server); the failed write was rolled back."""


class StoreCorruptedError(StoreEngineError):
    """The data on disk cannot be read back: the store cannot be opened as it is."""


class StoreFullError(StoreEngineError):
    """The disk holding the store has too little free space for the write; nothing was written."""
