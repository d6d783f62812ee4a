"""Labeled data for compiling and scoring memspy's own pipeline steps, as JSON Lines.

One JSON object per line (blank lines are skipped). Keys of every task: ``task`` (``"extract"``, ``"episode"``
or ``"reflection"``), optional ``id`` (default ``"line-N"``, unique per file), ``split`` (``"train"``/``"dev"``)
and ``note``. No other keys are allowed.

``extract`` — the memory manager (:func:`memspy.pipelines.create_memory_manager`)::

    {"task": "extract", "split": "train",
     "messages": [{"role": "user", "content": "I moved to Lyon last month."}],
     "existing": [{"id": "m1", "kind": "Memory", "content": "Sam lives in Paris.", "importance": 0.6}],
     "expected": [{"action": "update", "id": "m1", "content": "Sam lives in Lyon, since last month."}]}

- ``messages``: a non-empty list of ``{"role", "content"}`` chat messages (role: user, assistant, system, tool).
- ``existing`` (optional): memories already stored; ``id`` and ``content`` required, ids unique, ``kind``
  defaults to ``"Memory"``, ``importance`` in [0, 1].
- ``expected``: the operations a perfect manager returns; ``[]`` when nothing is worth remembering. Each has
  ``action`` (insert | update | delete); ``kind`` (default ``"Memory"``, or the existing memory's kind);
  ``content`` (a string or an object of the kind's fields; required for insert and update); ``id`` (required
  for update and delete, and must be an ``existing`` id; not allowed for insert).
- ``expected_memories`` may replace ``expected``: the full memory collection afterwards, as contents
  (strings or objects). Exactly one of the two is required.

``episode`` — a trajectory and the episode worth recording from it::

    {"task": "episode", "messages": [...], "expected": {"situation": "...", "intent": "...",
     "goal_achieved": false, "reflection": "..."}}

``expected`` is an object with at least one field, or ``null`` when the trajectory holds nothing worth
recording. Its fields are those of LangMem's ``Episode`` (``observation``, ``thoughts``, ``action``,
``result``) or of memspy's episodic pipeline (``situation``, ``intent``, ``assessment``, ``justification``,
``reflection``: strings; ``goal_achieved``: a bool); a label may give only the fields it cares about.

``reflection`` — episodes and the lessons drawn from them::

    {"task": "reflection", "episodes": [{"situation": "...", "reflection": "..."}],
     "expected": ["Show a worked example before the theory.", {"title": "...", "hints": "..."}]}

``episodes`` is a non-empty list of episode objects (fields as above); ``expected`` lists the lessons
(``[]`` when there is nothing to learn): strings, or objects with any of ``title``, ``use_cases``, ``hints``.

Errors name the file, line and field: ``data.jsonl line 7, field 'expected[1].id': ...``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import dspy

from memspy.pipelines.errors import ConfigError

__all__ = ["TASKS", "LabeledDataError", "LabeledRecord", "bundled_dataset", "load_labeled", "split_records"]

TASKS = ("extract", "episode", "reflection")
# The fields a pipeline is called with; the rest of a record is the label.
_INPUTS = {"extract": ("messages", "existing"), "episode": ("messages",), "reflection": ("episodes",)}
_KEYS = {
    "extract": {"messages", "existing", "expected", "expected_memories"},
    "episode": {"messages", "expected"},
    "reflection": {"episodes", "expected"},
}
_COMMON = {"task", "id", "split", "note"}
_ROLES = ("user", "assistant", "system", "tool")
_ACTIONS = ("insert", "update", "delete")
_EPISODE_FIELDS = (
    *("observation", "thoughts", "action", "result"),  # LangMem's Episode
    *("situation", "intent", "assessment", "goal_achieved", "justification", "reflection"),  # memspy's episodes
)
_LESSON_FIELDS = ("title", "use_cases", "hints")
_Problems = list[tuple[str, str]]


class LabeledDataError(ConfigError):
    """A labeled-data file is invalid. ``problems`` lists ``(line, field, message)``; all are in the message."""

    def __init__(self, path: str, problems: list[tuple[int, str, str]]) -> None:
        self.path, self.problems = path, problems
        lines = [f"{path} line {ln}" + (f", field {fld!r}" if fld else "") + f": {msg}" for ln, fld, msg in problems]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class LabeledRecord:
    """One validated labeled example: its task, id, split, line number and normalized fields."""

    task: str
    id: str
    line: int
    split: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)

    def to_example(self) -> dspy.Example:
        """A ``dspy.Example`` whose inputs are the pipeline's call arguments and whose labels are the rest."""
        return dspy.Example(id=self.id, task=self.task, **self.fields).with_inputs(*_INPUTS[self.task])


def _check_messages(value: Any, where: str, out: _Problems) -> None:
    if not isinstance(value, list) or not value:
        out.append((where, "must be a non-empty list of chat messages"))
        return
    for i, m in enumerate(value):
        if not isinstance(m, dict) or m.get("role") not in _ROLES:
            out.append((f"{where}[{i}].role", f"must be one of {list(_ROLES)}"))
        elif not isinstance(m.get("content"), str):
            out.append((f"{where}[{i}].content", "must be a string"))


def _is_content(value: Any) -> bool:
    return (isinstance(value, str) and bool(value.strip())) or (isinstance(value, dict) and bool(value))


def _check_existing(value: Any, out: _Problems) -> dict[str, str]:
    """Validate ``existing``; return ``{id: kind}``."""
    kinds: dict[str, str] = {}
    if not isinstance(value, list):
        out.append(("existing", "must be a list of {id, kind, content} objects"))
        return kinds
    for i, m in enumerate(value):
        where = f"existing[{i}]"
        if not isinstance(m, dict):
            out.append((where, "must be an object with id and content"))
            continue
        mid = m.get("id")
        if not isinstance(mid, str) or not mid:
            out.append((f"{where}.id", "must be a non-empty string"))
        elif mid in kinds:
            out.append((f"{where}.id", f"{mid!r} is used twice"))
        else:
            kinds[mid] = str(m.get("kind") or "Memory")
        if not _is_content(m.get("content")):
            out.append((f"{where}.content", "must be a non-empty string or object"))
        imp = m.get("importance", 0.5)
        if not isinstance(imp, int | float) or not 0 <= imp <= 1:
            out.append((f"{where}.importance", "must be a number from 0 to 1"))
        if extra := set(m) - {"id", "kind", "content", "importance"}:
            out.append((where, f"unknown keys {sorted(extra)}"))
    return kinds


def _check_operation(op: Any, where: str, existing: dict[str, str], out: _Problems) -> dict[str, Any] | None:
    if not isinstance(op, dict):
        out.append((where, "must be an object with an action"))
        return None
    action, mid = op.get("action"), op.get("id")
    if action not in _ACTIONS:
        out.append((f"{where}.action", f"must be one of {list(_ACTIONS)}, got {action!r}"))
        return None
    if extra := set(op) - {"action", "id", "kind", "content"}:
        out.append((where, f"unknown keys {sorted(extra)}"))
    if action == "insert" and mid is not None:
        out.append((f"{where}.id", "an insert has no id"))
    if action != "insert" and mid not in existing:
        out.append((f"{where}.id", f"must be the id of an existing memory, one of {sorted(existing)}; got {mid!r}"))
    if action != "delete" and not _is_content(op.get("content")):
        out.append((f"{where}.content", f"an {action} needs a non-empty string or object"))
    kind = op.get("kind") or existing.get(str(mid)) or "Memory"
    return {"action": action, "id": mid, "kind": kind, "content": op.get("content")}


def _check_episode(value: Any, where: str, out: _Problems) -> None:
    if not isinstance(value, dict) or not value:
        out.append((where, f"must be an object with some of {list(_EPISODE_FIELDS)}"))
        return
    if extra := set(value) - set(_EPISODE_FIELDS):
        out.append((where, f"unknown keys {sorted(extra)}; the fields are {list(_EPISODE_FIELDS)}"))
    for key, v in value.items():
        flag = key == "goal_achieved"
        if key in _EPISODE_FIELDS and not (isinstance(v, bool) if flag else isinstance(v, str) and v.strip()):
            out.append((f"{where}.{key}", "must be true or false" if flag else "must be a non-empty string"))


def _is_lesson(value: Any) -> bool:
    if isinstance(value, dict):
        return bool(value) and set(value) <= set(_LESSON_FIELDS) and all(isinstance(v, str) for v in value.values())
    return isinstance(value, str) and bool(value.strip())


def _check_extract(obj: dict[str, Any], out: _Problems) -> dict[str, Any]:
    _check_messages(obj.get("messages"), "messages", out)
    existing = _check_existing(obj.get("existing", []), out)
    fields: dict[str, Any] = {"messages": obj.get("messages"), "existing": obj.get("existing", [])}
    if ("expected" in obj) == ("expected_memories" in obj):
        out.append(("expected", "give exactly one of 'expected' (operations) and 'expected_memories'"))
    elif "expected" in obj:
        ops = obj["expected"]
        if not isinstance(ops, list):
            out.append(("expected", "must be a list of operations ([] when nothing is worth remembering)"))
        else:
            checked = [_check_operation(op, f"expected[{i}]", existing, out) for i, op in enumerate(ops)]
            fields["expected"] = [op for op in checked if op is not None]
    else:
        mems = obj["expected_memories"]
        if not isinstance(mems, list) or not all(_is_content(m) for m in mems):
            out.append(("expected_memories", "must be a list of non-empty strings or objects"))
        fields["expected_memories"] = mems
    return fields


def _check_record(obj: Any) -> tuple[_Problems, dict[str, Any]]:
    """Validate one decoded line; return ``([(field, message)], normalized fields)``."""
    out: _Problems = []
    if not isinstance(obj, dict):
        return [("", "each line must be a JSON object")], {}
    task = obj.get("task")
    if task not in TASKS:
        return [("task", f"must be one of {list(TASKS)}, got {task!r}")], {}
    if extra := set(obj) - _COMMON - _KEYS[task]:
        out.append(("", f"unknown keys {sorted(extra)} for task {task!r}"))
    if obj.get("split") not in (None, "train", "dev"):
        out.append(("split", f"must be 'train' or 'dev', got {obj['split']!r}"))
    if "id" in obj and not (isinstance(obj["id"], str | int) and str(obj["id"])):
        out.append(("id", "must be a non-empty string"))
    if task == "extract":
        return out, _check_extract(obj, out)
    if task == "episode":
        _check_messages(obj.get("messages"), "messages", out)
        if "expected" not in obj:
            out.append(("expected", "is required (an episode object, or null)"))
        elif obj["expected"] is not None:
            _check_episode(obj["expected"], "expected", out)
        return out, {"messages": obj.get("messages"), "expected": obj.get("expected")}
    episodes = obj.get("episodes")
    if not isinstance(episodes, list) or not episodes:
        out.append(("episodes", "must be a non-empty list of episode objects"))
    else:
        for i, ep in enumerate(episodes):
            _check_episode(ep, f"episodes[{i}]", out)
    lessons = obj.get("expected")
    if not isinstance(lessons, list):
        out.append(("expected", "must be a list of lessons ([] when there is nothing to learn)"))
    else:
        for i, lesson in enumerate(lessons):
            if not _is_lesson(lesson):
                out.append((f"expected[{i}]", f"must be a non-empty string or an object of {list(_LESSON_FIELDS)}"))
    return out, {"episodes": episodes, "expected": lessons}


def load_labeled(path: str | Path, *, task: str | None = None, split: str | None = None) -> list[LabeledRecord]:
    """Read and validate a labeled JSONL file (format in the module docstring).

    Args:
        path: The file.
        task: Keep only records of this task.
        split: Keep only records of this split (``"train"`` or ``"dev"``).

    Returns:
        The records in file order.

    Raises:
        LabeledDataError: Any record is invalid (every problem in the file is listed, with line and field).
        FileNotFoundError: ``path`` does not exist.
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    records: list[LabeledRecord] = []
    problems: list[tuple[int, str, str]] = []
    seen: dict[str, int] = {}
    for line, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as e:
            problems.append((line, "", f"not valid JSON ({e.msg} at column {e.colno})"))
            continue
        found, fields = _check_record(obj)
        rid = str(obj.get("id") or f"line-{line}") if isinstance(obj, dict) else f"line-{line}"
        if rid in seen:
            found.append(("id", f"{rid!r} is also the id on line {seen[rid]}"))
        seen.setdefault(rid, line)
        problems += [(line, fld, msg) for fld, msg in found]
        if not found:
            records.append(LabeledRecord(obj["task"], rid, line, obj.get("split"), fields))
    if problems:
        raise LabeledDataError(str(path), problems)
    return [r for r in records if (task is None or r.task == task) and (split is None or r.split == split)]


def split_records(
    records: list[LabeledRecord], dev_fraction: float = 0.3
) -> tuple[list[LabeledRecord], list[LabeledRecord]]:
    """``(train, dev)`` by each record's ``split``; unmarked records go to train, except that when no record is
    marked ``dev``, the last ``dev_fraction`` of them (at least one when there are two or more) become dev."""
    dev = [r for r in records if r.split == "dev"]
    train = [r for r in records if r.split != "dev"]
    if dev or len(train) < 2:
        return train, dev
    cut = len(train) - max(1, round(len(train) * dev_fraction))
    return train[:cut], train[cut:]


def bundled_dataset(name: str = "semantic_extraction") -> Path:
    """The path of a labeled set shipped with memspy (``memspy/evals/_data/<name>.jsonl``)."""
    path = Path(str(files("memspy.evals").joinpath("_data", f"{name}.jsonl")))
    if not path.is_file():
        raise FileNotFoundError(f"no bundled labeled set {name!r} at {path}")
    return path
