"""Matching stored memories to gold facts: MiniLM cosine after normalizing how people are named.

A memory may name its person in many ways: "Priya is vegetarian", "The user is vegetarian", "I'm vegetarian",
"Priya: I'm vegetarian" (a raw turn). MiniLM puts the first two at 0.52 apart, so a plain cosine punishes a
memory for naming someone. :func:`normalize_person` first rewrites every reference to a person of the
conversation (their name or first name, "the user", first-person pronouns, a leading ``"speaker:"``) as one
placeholder, so all of these read alike; :class:`FactMatcher` then compares the normalized texts.

Because the placeholder is shared, a memory about one speaker could match a fact about the other; so when both
texts name people of the conversation explicitly and they name no one in common, they do not match
(``speaker_check``).

:class:`FactJudge` is the optional LM opinion: for each gold fact, the LM picks which of the ``k`` most similar
memories state it (:class:`~memspy.pipelines.semantic.FactJudge`, signature ``JudgeFactMatch``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from memspy.evals.vectors import VectorMatcher
from memspy.pipelines.semantic import FactJudge
from memspy.stores import Embedder

__all__ = ["PLACEHOLDER", "FactJudge", "FactMatcher", "mentioned_people", "normalize_person"]

# A name, not a noun: MiniLM reads "Alex is vegetarian" and "Alex's dog" like any person's facts.
PLACEHOLDER = "Alex"
_FIRST_PERSON = [
    (re.compile(r"\bI\s*'\s*m\b|\bI am\b"), f"{PLACEHOLDER} is"),
    (re.compile(r"\bI\s*'\s*ve\b"), f"{PLACEHOLDER} has"),
    (re.compile(r"\bI\s*'\s*ll\b"), f"{PLACEHOLDER} will"),
    (re.compile(r"\bI\s*'\s*d\b"), f"{PLACEHOLDER} would"),
    (re.compile(r"\bI\b"), PLACEHOLDER),
    (re.compile(r"\b(?:[Mm]y|MY|[Mm]ine)\b"), f"{PLACEHOLDER}'s"),
    (re.compile(r"\b(?:[Mm]e|[Mm]yself)\b"), PLACEHOLDER),
]
_USER = re.compile(r"\b(?:the\s+|this\s+|a\s+)?(?:user|speaker)\b", re.IGNORECASE)
_LEAD = re.compile(rf"^\s*(?:\[[^\]]*\]\s*)?{PLACEHOLDER}\s*:\s*")
_SPACES = re.compile(r"\s+")


def _name_forms(names: Sequence[str]) -> list[str]:
    """Full names and first names, longest first (so "Maya Chen" is replaced before "Maya")."""
    forms = {n.strip() for n in names if n and n.strip()}
    forms |= {n.split()[0] for n in list(forms) if len(n.split()) > 1}
    return sorted(forms, key=len, reverse=True)


def _name_pattern(names: Sequence[str]) -> re.Pattern[str] | None:
    forms = _name_forms(names)
    return re.compile(r"\b(?:" + "|".join(re.escape(f) for f in forms) + r")\b") if forms else None


def mentioned_people(text: str, names: Sequence[str]) -> set[str]:
    """The people of ``names`` that ``text`` names explicitly (by full or first name)."""
    out = set()
    for name in names:
        forms = _name_forms([name])
        if forms and re.search(r"\b(?:" + "|".join(re.escape(f) for f in forms) + r")\b", text):
            out.add(name)
    return out


def normalize_person(text: str, names: Sequence[str] = ()) -> str:
    """Rewrite references to the conversation's people as one placeholder name.

    Args:
        text: A memory or a gold fact.
        names: The people of the conversation.

    Example:
        >>> normalize_person("Priya is vegetarian", ["Priya"]) == normalize_person("The user is vegetarian")
        True
        >>> normalize_person("Priya: I'm training for my first marathon", ["Priya"])
        "Alex is training for Alex's first marathon"
    """
    out = text.replace("\u2019", "'").replace("\u2018", "'")
    if (pattern := _name_pattern(names)) is not None:
        out = pattern.sub(PLACEHOLDER, out)
    out = _USER.sub(PLACEHOLDER, out)
    for first_person, replacement in _FIRST_PERSON:
        out = first_person.sub(replacement, out)
    out = _LEAD.sub("", out)
    return _SPACES.sub(" ", out).strip()


class FactMatcher(VectorMatcher):
    """Which memories state which gold facts: cosine of normalized texts at ``threshold`` or above.

    Args:
        embedder: The embedder (default: the offline MiniLM); vectors are cached per text.
        threshold: The cosine a match needs (0.70).
        normalize: Apply :func:`normalize_person` first.
        speaker_check: Refuse a match when both texts name people of the conversation and none in common.
    """

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        threshold: float = 0.70,
        normalize: bool = True,
        speaker_check: bool = True,
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
        super().__init__(embedder)
        self.threshold, self.normalize, self.speaker_check = threshold, normalize, speaker_check

    def prepare(self, texts: Sequence[str], names: Sequence[str] = ()) -> list[str]:
        """The texts as they are compared (normalized when ``normalize`` is on)."""
        return [normalize_person(t, names) for t in texts] if self.normalize else list(texts)

    def similarity(self, a: Sequence[str], b: Sequence[str], names: Sequence[str] = ()) -> np.ndarray:
        """``len(a) x len(b)`` cosines of the (normalized) texts; 1.0 where they are equal."""
        pa, pb = self.prepare(a, names), self.prepare(b, names)
        sims = self._vectors.matrix(pa) @ self._vectors.matrix(pb).T if pa and pb else np.zeros((len(pa), len(pb)))
        for i, x in enumerate(pa):
            for j, y in enumerate(pb):
                if x.lower() == y.lower():
                    sims[i, j] = 1.0
        return np.asarray(sims, dtype=np.float64)

    def matches(
        self, memories: Sequence[str], facts: Sequence[str], names: Sequence[str] = ()
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(ok, sims)``: ``ok[i, j]`` is True when memory i states fact j (threshold and speaker check)."""
        sims = self.similarity(memories, facts, names)
        ok = sims >= self.threshold
        if self.speaker_check and names and ok.any():
            people_m = [mentioned_people(m, names) for m in memories]
            people_f = [mentioned_people(f, names) for f in facts]
            for i, j in zip(*np.nonzero(ok), strict=True):
                if people_m[i] and people_f[j] and not people_m[i] & people_f[j]:
                    ok[i, j] = False
        return ok, sims
