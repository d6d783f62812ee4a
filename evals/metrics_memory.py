"""Metrics for memspy's pipeline steps, scored against the labeled data of :mod:`memspy.evals.labeled`.

Texts are matched one-to-one, best pair first. Two texts match when they are equal after normalization, or
when their MiniLM cosine is at least ``threshold`` (0.75) AND the expected text's key terms (capitalized words
after the first, numbers) mostly appear in the produced one: MiniLM alone puts "Sam lives in Lyon" and "Sam
lives in Paris" at 0.80.

- :class:`ExtractionMetric` (task ``extract``): operation-level F1 (action, kind and, for update/delete, id must
  agree; the content must match; of several updates/deletes of one id only the last counts), or memory-level
  F1 on the collection afterwards for ``expected_memories``.
- :class:`EpisodeMetric` (task ``episode``): the share of expected episode fields the produced episode agrees on.
- :class:`ReflectionMetric` (task ``reflection``): F1 of produced lessons against expected ones.

Each metric object is a GEPA feedback metric ``(gold, pred, trace=None, pred_name=None, pred_trace=None)``: it
returns ``dspy.Prediction(score, feedback)`` whose feedback names what was missed and what was extra, except
that with a ``trace`` and no ``pred_name`` (bootstrapping) it returns ``score >= pass_threshold``.
:func:`float_metric` wraps one for ``dspy.Evaluate`` and MIPROv2 (plain floats).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, is_dataclass
from typing import Any

import dspy
import numpy as np
from pydantic import BaseModel

from memspy.evals.vectors import VectorMatcher
from memspy.pipelines.records import render_content
from memspy.pipelines.semantic import RemoveDoc
from memspy.stores import Embedder

__all__ = ["EpisodeMetric", "ExtractionMetric", "ReflectionMetric", "TextMatcher", "f1_score", "float_metric"]

_WORD = re.compile(r"[A-Za-z0-9]+")


def _normalize(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def _key_terms(text: str) -> set[str]:
    words = re.findall(r"[A-Za-z0-9][A-Za-z0-9'-]*", text)
    keys = {w for w in words[1:] if w[0].isupper()} | {w for w in words if any(c.isdigit() for c in w)}
    return {_normalize(w.removesuffix("'s")) for w in keys}


def _text(value: Any) -> str:
    if isinstance(value, BaseModel | dict | str):
        return render_content(value)
    return "" if value is None else str(value)


def _field(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    try:
        return obj[name] if name in obj else default  # dspy.Example / Prediction
    except TypeError:
        return getattr(obj, name, default)


def f1_score(matched: int, produced: int, expected: int) -> tuple[float, float, float]:
    """``(precision, recall, f1)``; producing nothing when nothing was expected is perfect."""
    if produced == 0 and expected == 0:
        return 1.0, 1.0, 1.0
    p = matched / produced if produced else 0.0
    r = matched / expected if expected else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


class TextMatcher(VectorMatcher):
    """Decides whether a produced text says what an expected one says (see the module docstring)."""

    def __init__(self, embedder: Embedder | None = None, *, threshold: float = 0.75, key_terms: float = 0.5) -> None:
        super().__init__(embedder)
        self.threshold, self.key_terms = threshold, key_terms

    def similarity(self, produced: str, expected: str) -> float:
        """1.0 for equal normalized texts, else the cosine similarity of their embeddings."""
        if _normalize(produced) == _normalize(expected):
            return 1.0
        a, b = self._vectors([produced, expected])
        return float(a @ b)

    def agrees(self, produced: str, expected: str) -> tuple[bool, float]:
        """``(match, similarity)``."""
        sim = self.similarity(produced, expected)
        if sim >= 1.0:
            return True, sim
        keys = _key_terms(expected)
        have = set(_normalize(produced).split())
        covered = not keys or len(keys & have) / len(keys) >= self.key_terms
        return sim >= self.threshold and covered, sim

    def match(
        self, produced: Sequence[str], expected: Sequence[str], allowed: Callable[[int, int], bool] | None = None
    ) -> list[tuple[int, int, float]]:
        """One-to-one matches ``(produced index, expected index, similarity)``, best pairs first."""
        self._vectors([*produced, *expected])  # one embedding batch
        pairs = [
            (self.agrees(p, e), i, j)
            for i, p in enumerate(produced)
            for j, e in enumerate(expected)
            if allowed is None or allowed(i, j)
        ]
        used_i, used_j, out = set(), set(), []
        for (ok, sim), i, j in sorted(pairs, key=lambda x: -x[0][1]):
            if ok and i not in used_i and j not in used_j:
                used_i.add(i)
                used_j.add(j)
                out.append((i, j, sim))
        return out

    def closest(self, text: str, candidates: Sequence[str]) -> tuple[int, float] | None:
        """``(index, similarity)`` of the candidate most similar to ``text``; None when there are none."""
        sims = [self.similarity(c, text) for c in candidates]
        return (int(np.argmax(sims)), max(sims)) if sims else None


class _FeedbackMetric:
    """Shared calling convention: GEPA feedback, a bool while bootstrapping, see the module docstring."""

    name = "metric"

    def __init__(self, matcher: TextMatcher | None = None, *, pass_threshold: float = 1.0) -> None:
        self.matcher = matcher or TextMatcher()
        self.pass_threshold = pass_threshold

    def score(self, gold: Any, pred: Any) -> tuple[float, str]:
        raise NotImplementedError

    def __call__(
        self, gold: Any, pred: Any, trace: Any = None, pred_name: str | None = None, pred_trace: Any = None
    ) -> dspy.Prediction | bool:
        score, feedback = self.score(gold, pred)
        if trace is not None and pred_name is None:
            return score >= self.pass_threshold
        return dspy.Prediction(score=score, feedback=feedback)

    def _set_feedback(
        self,
        what: str,
        produced: list[str],
        expected: list[str],
        allowed: Callable[[int, int], bool] | None = None,
        labels: tuple[list[str], list[str]] | None = None,
    ) -> tuple[float, str]:
        """F1 of ``produced`` against ``expected`` texts, and feedback showing ``labels`` (default: the texts)."""
        shown_p, shown_e = labels or (produced, expected)
        matches = self.matcher.match(produced, expected, allowed)
        p, r, f = f1_score(len(matches), len(produced), len(expected))
        lines = [f"F1 {f:.2f} (precision {p:.2f}, recall {r:.2f}): {len(matches)} of {len(expected)} expected {what}."]
        hit_p, hit_e = {i for i, _, _ in matches}, {j for _, j, _ in matches}
        spare = [i for i in range(len(produced)) if i not in hit_p]
        for j in range(len(expected)):
            if j in hit_e:
                continue
            near = self.matcher.closest(expected[j], [produced[i] for i in spare])
            hint = f" (closest produced: {shown_p[spare[near[0]]]}, similarity {near[1]:.2f})" if near else ""
            lines.append(f"Missed: {shown_e[j]}{hint}")
        lines += [f"Not expected: {shown_p[i]}" for i in spare]
        if not expected and produced:
            lines.append(f"Nothing here was worth keeping, yet {len(produced)} {what} were produced.")
        return f, "\n".join(lines)


def _as_op(op: Any) -> tuple[str, str, str, str]:
    """``(action, id, kind, content text)`` of a produced ``AppliedOperation`` or an expected operation dict."""
    action, mid, kind = _field(op, "action"), _field(op, "id"), _field(op, "kind") or ""
    return str(action), str(mid or ""), str(kind), _text(_field(op, "content"))


def _net(ops: list[tuple[str, str, str, str]]) -> list[tuple[str, str, str, str]]:
    """The net effect of multi-step output: of several updates/deletes of one id, the last one."""
    return [op for op in ops if op[0] == "insert"] + list({op[1]: op for op in ops if op[0] != "insert"}.values())


def _op_label(op: tuple[str, str, str, str]) -> str:
    action, mid, _, text = op
    if action == "delete":
        return f"delete {mid}"
    return f"update {mid} {text!r}" if action == "update" else f"insert {text!r}"


class ExtractionMetric(_FeedbackMetric):
    """Scores a memory manager's ``Prediction(operations=..., memories=...)`` against an ``extract`` label."""

    name = "extraction_f1"

    def score(self, gold: Any, pred: Any) -> tuple[float, str]:
        expected = _field(gold, "expected")
        if expected is None:  # memory-level: the whole collection afterwards
            kept = [m for m in (_field(pred, "memories") or []) if not isinstance(getattr(m, "content", m), RemoveDoc)]
            produced = [_text(getattr(m, "content", m)) for m in kept]
            return self._set_feedback("memories", produced, [_text(m) for m in _field(gold, "expected_memories", [])])
        ops = _net([_as_op(o) for o in (_field(pred, "operations") or [])])
        wanted = [_as_op(o) for o in expected]

        def allowed(i: int, j: int) -> bool:
            (pa, pid, pk, _), (ga, gid, gk, _) = ops[i], wanted[j]
            return pa == ga and (not pk or not gk or pk == gk) and (ga == "insert" or pid == gid)

        # A delete has no content: give both sides the same text so that the id alone decides.
        def text(op: tuple[str, str, str, str]) -> str:
            return f"delete {op[1]}" if op[0] == "delete" else op[3]

        labels = ([_op_label(o) for o in ops], [_op_label(o) for o in wanted])
        return self._set_feedback("operations", [text(o) for o in ops], [text(o) for o in wanted], allowed, labels)


def _episode_of(pred: Any) -> dict[str, Any] | None:
    """The produced episode: ``pred.episode``, else the first of ``pred.episodes`` or ``pred.memories`` (a dict,
    a pydantic model, an ``ExtractedMemory`` or a stored ``{namespace, key, value}`` event)."""
    value = _field(pred, "episode")
    for name in ("episodes", "memories"):
        if value is None and _field(pred, name):
            value = _field(pred, name)[0]
    value = getattr(value, "content", value) if not isinstance(value, dict) else value
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict) and isinstance(value.get("value"), dict):
        value = value["value"]
    return value if isinstance(value, dict) else None


class EpisodeMetric(_FeedbackMetric):
    """The share of the expected episode's fields that the produced episode agrees on (``episode`` task)."""

    name = "episode_fields"

    def score(self, gold: Any, pred: Any) -> tuple[float, str]:
        expected, got = _field(gold, "expected"), _episode_of(pred)
        if expected is None:
            if got is None:
                return 1.0, "Correctly recorded no episode."
            return 0.0, "This trajectory held nothing worth recording, yet an episode was produced."
        if got is None:
            return 0.0, f"No episode was produced; expected one with {sorted(expected)}."
        lines, agreed = [], 0
        for key, want in expected.items():
            if isinstance(want, bool):  # goal_achieved
                ok, sim, have = got.get(key) is want, float(got.get(key) is want), str(got.get(key))
            else:
                have = _text(got.get(key))
                ok, sim = self.matcher.agrees(have, _text(want)) if have else (False, 0.0)
            agreed += ok
            if not ok:
                lines.append(f"Field {key!r} disagrees (similarity {sim:.2f}): expected {want!r}, got {have!r}.")
        score = agreed / len(expected)
        return score, "\n".join([f"{agreed} of {len(expected)} fields agree.", *lines])


def _lesson(value: Any) -> str:
    """A lesson's text: a string, or the title, use cases and hints of a reflection (dict, model or dataclass)."""
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    elif isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):
        parts = [str(value[k]) for k in ("title", "use_cases", "hints", "content") if value.get(k)]
        return ". ".join(parts) if parts else _text(value)
    return _text(value)


class ReflectionMetric(_FeedbackMetric):
    """F1 of the produced lessons (``pred.reflections``, or a reflector's ``pred.changes``) against the expected
    ones (``reflection`` task)."""

    name = "reflection_f1"

    def score(self, gold: Any, pred: Any) -> tuple[float, str]:
        produced = [_lesson(r) for r in (_field(pred, "reflections") or _field(pred, "changes") or [])]
        return self._set_feedback("lessons", produced, [_lesson(x) for x in _field(gold, "expected", [])])


def float_metric(metric: Callable[..., Any]) -> Callable[..., float | bool]:
    """Wrap a feedback metric for ``dspy.Evaluate`` / MIPROv2: a float score, or the bool it gives under a trace."""

    def scored(gold: Any, pred: Any, trace: Any = None) -> float | bool:
        result = metric(gold, pred, trace)
        return result if isinstance(result, bool) else float(_field(result, "score", result))

    scored.__name__ = getattr(metric, "name", getattr(metric, "__name__", "metric"))
    return scored
