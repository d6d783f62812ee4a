"""Opening the embedded engine's shard: atomic first creation, recovery of an interrupted one, filters.

A store directory holds ``shard/`` (the engine's files) and ``memspy.json`` (the vector size). First
creation builds the shard in ``shard.creating/``, renames it to ``shard/`` once it is complete, and
writes ``memspy.json`` last. A store object is returned only after that, so no write can have been
acknowledged in a directory without ``memspy.json``: a kill at any point of the creation leaves either
``shard.creating/`` or a ``shard/`` without ``memspy.json``, and the next open discards it and
creates the store again. A ``shard/`` without ``memspy.json`` that does hold points was not left by
memspy; it is reported, never deleted.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as qe

from memspy.stores._engine import check_free_space, engine_errors, is_memory_backed, is_panic, load_reserve
from memspy.stores._filters import CompiledFilter, Condition
from memspy.stores.errors import StoreCorruptedError, StoreError

__all__ = ["META", "SHARD_DIR", "STAGING_DIR", "edge_filter", "open_shard"]

SHARD_DIR = "shard"
STAGING_DIR = "shard.creating"
META = "memspy.json"
_INDEXES = (
    ("ns", qe.PayloadSchemaType.Keyword),
    ("ns_path", qe.PayloadSchemaType.Keyword),
    ("updated_ts", qe.PayloadSchemaType.Float),
)


def _condition(c: Condition) -> Any:
    if c.kind == "match":
        # The binding reads a Python bool as the integer 1 (bool is an int), which never equals a stored
        # true; numpy's bool is not an int, so it reaches the engine as a boolean.
        value: Any = np.bool_(c.arg) if isinstance(c.arg, bool) else c.arg
        return qe.FieldCondition(key=c.key, match=qe.MatchValue(value=value))
    if c.kind == "any":
        return qe.FieldCondition(key=c.key, match=qe.MatchAny(any=c.arg))
    if c.kind == "range":
        return qe.FieldCondition(key=c.key, range=qe.RangeFloat(**c.arg))
    return qe.IsEmptyCondition(key=c.key)


def edge_filter(cf: CompiledFilter) -> Any:
    """The engine filter for compiled conditions (None when there are none)."""
    if not cf.must and not cf.must_not:
        return None
    with engine_errors("building a filter"):
        return qe.Filter(
            must=[_condition(c) for c in cf.must] or None, must_not=[_condition(c) for c in cf.must_not] or None
        )


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _load(shard_dir: Path) -> Any:
    try:
        return qe.EdgeShard.load(str(shard_dir))
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except BaseException as e:
        kind = "the storage engine panicked" if is_panic(e) else "the storage engine failed"
        raise StoreCorruptedError(
            f"{shard_dir.parent} cannot be opened ({kind}: {e}): restore the directory from a copy, or move it "
            "away and start a new store"
        ) from e


def _discard_unfinished(shard_dir: Path) -> None:
    """Remove a shard whose first creation was interrupted (there is no ``memspy.json``)."""
    try:
        shard = qe.EdgeShard.load(str(shard_dir))
    except Exception:
        shard = None  # half-written engine files: certainly an interrupted creation
    if shard is not None:
        try:
            points = int(shard.count(qe.CountRequest(exact=True)))
        finally:
            shard.close()
        if points:
            raise StoreCorruptedError(
                f"{shard_dir} holds {points} points but {shard_dir.parent / META} is missing: restore that file "
                '(e.g. {"dim": 384}) with the dimension of the embedder the store was built with'
            )
    shutil.rmtree(shard_dir)


def _create(path: Path, dim: int, embedder_name: str) -> None:
    staging = path / STAGING_DIR
    cfg = qe.EdgeConfig(
        vectors={"dense": qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine)},
        sparse_vectors={"bm25": qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
    )
    with engine_errors(f"creating a store in {path}"):
        shard = qe.EdgeShard.create(str(staging), cfg)
        try:
            for field, schema in _INDEXES:
                shard.update(qe.UpdateOperation.create_field_index(field, schema))
            shard.flush()
        finally:
            shard.close()
        os.replace(staging, path / SHARD_DIR)
        _sync_dir(path)
        tmp = path / (META + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"dim": dim, "embedder": embedder_name}, f)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path / META)
        _sync_dir(path)


def open_shard(path: Path, dim: int, embedder_name: str, min_free_bytes: int) -> Any:
    """Open the store's shard in ``path``, creating it on first use; return the engine's shard.

    Raises:
        StoreError: the store holds vectors of another dimension.
        StoreCorruptedError: the engine cannot read the shard.
        StoreFullError: the disk is too full to open or create it without risking SIGBUS.
    """
    meta, shard_dir = path / META, path / SHARD_DIR
    with engine_errors(f"preparing {path}"):
        if (path / STAGING_DIR).exists():
            shutil.rmtree(path / STAGING_DIR)  # a first creation killed part-way: nothing was acknowledged
        (path / (META + ".tmp")).unlink(missing_ok=True)
    if not meta.exists():
        if shard_dir.exists():
            with engine_errors(f"discarding an unfinished store in {path}"):
                _discard_unfinished(shard_dir)
        check_free_space(path, min_free_bytes, f"creating a store in {path}")
        _create(path, dim, embedder_name)
    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise StoreCorruptedError(f"{meta} cannot be read ({e}): restore it, e.g. {{'dim': {dim}}}") from e
    if info.get("dim") != dim:
        raise StoreError(
            f"{path} holds {info.get('dim')}-dim vectors but the embedder makes {dim}: "
            "open it with the embedder it was built with, or use a new path"
        )
    if not shard_dir.is_dir():
        raise StoreCorruptedError(f"{path} has {META} but no {SHARD_DIR}/ directory: restore it from a copy")
    reserve = load_reserve(shard_dir) if is_memory_backed(path) else 0
    check_free_space(path, min_free_bytes + reserve, f"opening {path}")
    return _load(shard_dir)
