"""The batch journal of an embedded store: a batch is all-or-nothing across a crash, and a failed batch stays failed.

Two files in the store's directory, each written to ``*.tmp`` first and then renamed into place:

- ``batch.journal``, written before a batch that mixes upserts and deletes (two engine operations) is
  applied. It holds the batch and how to undo it. Found on open, it means a crash interrupted the
  batch: the batch is applied again (rolled forward), so the store holds all of it.
- ``batch.undo``, the state from before a batch that failed. When a journaled batch fails, one rename
  turns the journal into it (no new disk space needed, so it works on a full disk); for a one-operation
  batch it is written when the batch fails. It is removed once the rollback is applied. Found on open,
  it means the rollback did not finish: it is applied, so the store holds none of the failed batch.

Crash windows: before the rename of ``batch.journal``, nothing was applied and the ``.tmp`` is discarded;
between it and the end of the batch, the batch rolls forward; after the batch failed, the undo wins.
The caller is told the batch failed only after the undo is on disk or applied.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from memspy.stores.protocol import Change, PointData

__all__ = ["JOURNAL", "UNDO", "BatchJournal"]

JOURNAL = "batch.journal"
UNDO = "batch.undo"


def _encode(change: Change) -> dict[str, Any]:
    return {"upserts": _encode_points(change.upserts), "deletes": list(change.deletes)}


def _encode_points(points: list[PointData]) -> list[dict[str, Any]]:
    return [
        {
            "id": p.id,
            "payload": p.payload,
            "dense": p.dense,
            "sparse": [list(p.sparse.indices), list(p.sparse.values)] if p.sparse is not None else None,
        }
        for p in points
    ]


class BatchJournal:
    """The journal files of one store directory.

    Args:
        folder: The store's directory.
        sync: fsync files and the directory (durability ``"flush"``); without it a file survives a
            process crash but maybe not a power loss, like the engine's own log in ``"wal"`` mode.
        sparse_type: Builds the engine's sparse vector from ``indices=`` and ``values=``.
    """

    def __init__(self, folder: Path, *, sync: bool, sparse_type: Callable[..., Any]) -> None:
        self.folder = folder
        self.sync = sync
        self.sparse_type = sparse_type

    def _write(self, name: str, doc: dict[str, Any]) -> None:
        tmp = self.folder / (name + ".tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(doc, f, ensure_ascii=False)
                f.flush()
                if self.sync:
                    os.fsync(f.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        tmp.replace(self.folder / name)
        self._sync_dir()

    def _sync_dir(self) -> None:
        if self.sync:
            fd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def begin(self, forward: Change, undo: Change) -> None:
        """Record a batch and its undo before the batch is applied."""
        self._write(JOURNAL, {"redo": _encode(forward), "undo": _encode(undo)})

    def fail(self, undo: Change, *, journaled: bool) -> bool:
        """Record that the current batch failed and must be undone; return whether that is on disk."""
        if journaled and (self.folder / JOURNAL).exists():
            (self.folder / JOURNAL).replace(self.folder / UNDO)
            self._sync_dir()
            return True
        try:
            self._write(UNDO, {"undo": _encode(undo)})
        except OSError:
            return False  # e.g. a full disk: the rollback below still runs
        return True

    def end(self) -> None:
        """Forget the batch: it was applied, or its undo was."""
        for name in (JOURNAL, UNDO):
            (self.folder / name).unlink(missing_ok=True)

    def pending(self) -> tuple[Literal["redo", "undo"], Change] | None:
        """What an interrupted batch left to do: roll the batch forward, or apply its undo."""
        for name in (JOURNAL, UNDO):
            (self.folder / (name + ".tmp")).unlink(missing_ok=True)  # never committed
        for name, kind in ((UNDO, "undo"), (JOURNAL, "redo")):
            path = self.folder / name
            if path.exists():
                change = json.loads(path.read_text(encoding="utf-8"))[kind]
                return kind, Change(self._decode(change["upserts"]), list(change["deletes"]))  # type: ignore[return-value]
        return None

    def _decode(self, rows: list[dict[str, Any]]) -> list[PointData]:
        return [
            PointData(
                r["id"],
                r["payload"],
                r["dense"],
                self.sparse_type(indices=r["sparse"][0], values=r["sparse"][1]) if r["sparse"] else None,
            )
            for r in rows
        ]
