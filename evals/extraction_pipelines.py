"""The extraction pipelines under test: any callable ``pipeline(messages, store)``, built fresh per case.

A pipeline reads a conversation and writes memories into the store it is given (a fresh ``EdgeStore`` per
case, already holding the case's ``existing`` memories under :data:`NAMESPACE`, keyed by their ids). The
evaluator then reads every active item of the store back (any namespace; soft-deleted items, those with
``invalid_at``, are ignored), taking ``value["text"]`` (else the rendered ``content``) as the memory and
``provenance.message_ids`` (or ``dia_ids``) as the messages that support it. A message's id is its ``id``
field, else its index as a string (as the store manager records it).

If the pipeline returns something with a ``usage`` attribute (a :class:`memspy.pipelines.Usage`, as memspy's
modules do), that is its cost; otherwise LM calls and tokens are read from DSPy's global call history.

Built in (:data:`BUILTIN`): ``raw`` (every non-system message stored verbatim as ``"speaker: text"``, the
baseline of every run), ``semantic`` (memspy's store manager, as ``create_memory_store_manager`` builds it) and
``semantic-single`` (its one-step design). ``compiled`` is the store manager with a saved compiled program
(``program=``, what ``memspy optimize extract --out`` saves), so a run can score a program against the
uncompiled pipeline and the raw baseline on the same cases. ``module:attr`` names your own: a pipeline
``f(messages, store)``, or a factory ``f(lm)`` / ``f()`` returning one.

Example:
    >>> def mine(messages, store):                                                    # doctest: +SKIP
    ...     store.put(NAMESPACE, "k1", {"text": "Maya has a cat.", "provenance": {"message_ids": ["D1:2"]}})
    >>> evaluate_extraction({"mine": lambda: mine}, cases)
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from memspy.evals.extraction_cases import content_text
from memspy.evals.extraction_score import StoredMemory
from memspy.pipelines import create_memory_store_manager
from memspy.stores import BaseStore, PutOp

__all__ = [
    "BUILTIN",
    "COMPILED",
    "NAMESPACE",
    "ExtractionPipeline",
    "PipelineFactory",
    "message_id",
    "raw_turns",
    "read_memories",
    "resolve_pipeline",
    "seed_existing",
    "store_manager_pipeline",
]

NAMESPACE: tuple[str, ...] = ("memories", "eval")
COMPILED = "compiled"
ExtractionPipeline = Callable[[list[dict[str, Any]], BaseStore], Any]
PipelineFactory = Callable[[], ExtractionPipeline]
_ACTIVE: dict[str, Any] = {"invalid_at": {"$exists": False}}


def message_id(message: dict[str, Any], index: int) -> str:
    """A message's id: its ``id`` field, else its index."""
    return str(message.get("id") or index)


def seed_existing(store: BaseStore, existing: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Write a case's existing memories in memspy's record format; return ``{key: text}``."""
    now = datetime.now(UTC).isoformat()
    ops, seeded = [], {}
    for m in existing:
        content = m["content"] if isinstance(m["content"], dict) else {"content": m["content"]}
        text = content_text(content)
        value: dict[str, Any] = {
            "kind": m.get("kind") or "Memory",
            "content": content,
            "text": text,
            "importance": float(m.get("importance", 0.5)),
            "provenance": {"source": "seed", "message_ids": []},
            "created_at": now,
            "updated_at": now,
            "last_accessed_at": None,
            "access_count": 0,
            "history": [],
        }
        ops.append(PutOp(NAMESPACE, str(m["id"]), value, ["text"]))
        seeded[str(m["id"])] = text
    if ops:
        store.put_many(ops)
    return seeded


def read_memories(store: BaseStore, seeded: dict[str, str]) -> list[StoredMemory]:
    """Every active item of the store, as :class:`StoredMemory` (``written`` False for untouched seeds)."""
    items = store.search((), filter=_ACTIVE, limit=100_000)
    return [StoredMemory.from_value(it.key, it.value, seeded) for it in sorted(items, key=lambda i: i.key)]


def raw_turns(messages: list[dict[str, Any]], store: BaseStore) -> None:
    """The baseline: every non-system message stored verbatim as ``"speaker: text"`` (speaker: name, else role)."""
    ops = []
    for i, m in enumerate(messages):
        if m.get("role") == "system":
            continue
        mid = message_id(m, i)
        text = f"{m.get('name') or m.get('role')}: {content_text(m.get('content'))}"
        ops.append(PutOp(NAMESPACE, f"turn-{mid}", {"kind": "Turn", "text": text, "dia_ids": [mid]}, ["text"]))
    for start in range(0, len(ops), 256):
        store.put_many(ops[start : start + 256])


def store_manager_pipeline(lm: Any = None, **options: Any) -> PipelineFactory:
    """memspy's store manager (``create_memory_store_manager``) as a pipeline factory; ``options`` go to it."""

    def factory() -> ExtractionPipeline:
        def run(messages: list[dict[str, Any]], store: BaseStore) -> Any:
            manager = create_memory_store_manager(lm, namespace=NAMESPACE, store=store, **options)
            return manager(messages=messages, config={"configurable": {}})

        return run

    return factory


BUILTIN: dict[str, Callable[[Any], PipelineFactory]] = {
    "raw": lambda lm: lambda: raw_turns,
    "semantic": store_manager_pipeline,
    "semantic-single": lambda lm: store_manager_pipeline(lm, design="single"),
}


def _required_params(obj: Any) -> int:
    try:
        params = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):
        return 0
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in params if p.kind in kinds and p.default is inspect.Parameter.empty)


def resolve_pipeline(spec: str, lm: Any = None, *, program: str | Path | None = None) -> tuple[str, PipelineFactory]:
    """``(name, factory)`` for a built-in name, ``compiled`` (with ``program``) or ``module:attr`` (see the
    module docstring).

    Raises:
        ValueError: An unknown name, a malformed path, an attribute that is not callable, or ``compiled``
            without a ``program``.
        FileNotFoundError: ``program`` names no file.
    """
    if spec == COMPILED:
        if program is None:
            raise ValueError(
                "pipeline 'compiled' needs a saved program: pass --program PATH (memspy optimize extract --out PATH)"
            )
        if not Path(program).is_file():
            raise FileNotFoundError(f"--program {program}: no such file; save one with memspy optimize extract --out")
        return spec, store_manager_pipeline(lm, program=str(program))
    if spec in BUILTIN:
        return spec, BUILTIN[spec](lm)
    if ":" not in spec:
        raise ValueError(f"unknown pipeline {spec!r}: use one of {sorted([*BUILTIN, COMPILED])} or module:attr")
    module_name, _, attr = spec.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"pipeline {spec!r} is not callable: give f(messages, store), or a factory f(lm) or f()")
    name = str(getattr(obj, "name", None) or attr.split(".")[-1])
    required = _required_params(obj)
    if required >= 2:
        return name, lambda: obj
    if required == 1:
        return name, lambda: obj(lm)
    return name, obj
