"""memspy's error family: one root, and the errors every store raises.

The root lives here, in the lowest layer, so that every layer above (pipelines, evals, the command line)
can derive its own errors from it without importing upward. ``except MemspyError`` catches everything
memspy raises on purpose; ``except StoreError`` catches everything a store raises.
"""

from __future__ import annotations

__all__ = [
    "InvalidFilterError",
    "InvalidNamespaceError",
    "InvalidValueError",
    "MemspyError",
    "StoreError",
    "StoreLockedError",
]


class MemspyError(Exception):
    """Root of every error memspy raises on purpose."""


class StoreError(MemspyError):
    """Base class for every error a memspy store raises."""


class InvalidNamespaceError(StoreError, ValueError):
    """A namespace is not a tuple of non-empty, printable strings."""


class InvalidValueError(StoreError, ValueError):
    """A value or key cannot be stored (not JSON, too large, wrong type)."""


class InvalidFilterError(StoreError, ValueError):
    """A search filter uses an unknown operator or an unsupported operand."""


class StoreLockedError(StoreError, RuntimeError):
    """Another process (or another open store in this one) holds the store's directory."""
