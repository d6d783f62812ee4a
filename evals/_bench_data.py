"""Synthetic data and the brute-force baseline for ``memspy.evals.bench``.

Items are template sentences about a user with a varied suffix; their vectors are real embeddings of
the base sentences plus seeded noise, so filling a store costs no embedding time.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Sequence

import numpy as np

__all__ = ["NumpyIndex", "SyntheticCorpus", "item_texts", "make_sentences"]

_SLOTS: dict[str, tuple[str, ...]] = {
    "name": ("Alice", "Bob", "Chen", "Dana", "Emeka", "Farah", "Goran", "Hana", "Ivan", "Jun", "Kofi", "Lena"),
    "rel": ("sister", "brother", "manager", "dentist", "neighbour", "daughter", "landlord", "coach", "partner"),
    "city": ("Lisbon", "Osaka", "Denver", "Nairobi", "Montreal", "Krakow", "Lima", "Hanoi", "Oslo", "Austin"),
    "food": ("sushi", "oat milk", "spicy curry", "peanuts", "gluten", "dark chocolate", "cilantro", "shellfish"),
    "topic": ("the quarterly budget", "a kitchen remodel", "the marathon plan", "tax filing", "a job offer"),
    "skill": ("Spanish", "the cello", "rock climbing", "Rust", "watercolor painting", "chess", "sourdough baking"),
    "thing": ("dark mode", "short emails", "morning meetings", "window seats", "paper notebooks", "podcasts"),
    "day": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "month": ("January", "March", "May", "July", "September", "November"),
    "job": ("nurse", "data engineer", "teacher", "architect", "chef", "pilot", "lawyer", "carpenter"),
    "pet": ("a beagle", "two cats", "a parrot", "a rescue greyhound", "an aquarium of tetras"),
    "adj": ("stressful", "relaxing", "confusing", "exciting", "tedious", "rewarding"),
    "c": ("high", "medium", "low"),
}
_TEMPLATES = (
    "{name} prefers {thing} and finds the alternative {adj}.",
    "The user's {rel} lives in {city} and visits every {month}.",
    "{name} is allergic to {food}, so avoid recommending it.",
    "Meeting with the {rel} about {topic} is planned for {day}.",
    "{name} works as a {job} in {city} and commutes by bike.",
    "The user is learning {skill} and practices every {day}.",
    "{name} has {pet} and needs a sitter when travelling to {city}.",
    "Talking about {topic} with the {rel} was {adj} for {name}.",
    "Remind {name} to call the {rel} on {day} about {topic}.",
    "{name} booked a trip to {city} in {month} to practice {skill}.",
    "The user dislikes {food} but loves {thing}.",
    "{name} said working as a {job} is {adj} lately.",
)
_SUFFIXES = (
    "(noted in session {n})",
    "Mentioned again on {month} {d}.",
    "Confidence {c}, source: chat #{n}.",
    "Said on a {day} evening, turn {n}.",
    "Updated {d} {month}; importance {c}.",
)


def _slots(rng: random.Random) -> dict[str, str]:
    return {k: rng.choice(v) for k, v in _SLOTS.items()}


def make_sentences(n: int, seed: int = 0) -> list[str]:
    """Return ``n`` distinct synthetic memory sentences (deterministic for ``seed``).

    Raises:
        ValueError: the templates cannot supply ``n`` distinct sentences.

    Example:
        >>> len(set(make_sentences(100)))
        100
    """
    rng, out = random.Random(seed), dict[str, None]()
    for _ in range(max(n, 1) * 50):
        if len(out) >= n:
            return list(out)
        out[rng.choice(_TEMPLATES).format(**_slots(rng))] = None
    raise ValueError(f"the templates cannot make {n} distinct sentences")


def item_texts(pool: Sequence[str], pids: Sequence[int], seed: int) -> list[str]:
    """Return one item text per pool index: the pool sentence plus a varied suffix (never equal to a pool text)."""
    rng = random.Random(seed)
    return [
        f"{pool[p]} " + rng.choice(_SUFFIXES).format(n=rng.randint(1, 999), d=rng.randint(1, 28), **_slots(rng))
        for p in pids
    ]


class SyntheticCorpus:
    """``n`` items whose vectors are pool vectors plus seeded noise, renormalized.

    Calling it maps texts to vectors (item texts, pool texts, else a hash-seeded random vector), so a
    ``CallableEmbedder`` over it serves item and query embeddings without running a model.

    Args:
        pool: Distinct base sentences.
        pool_vecs: Their real embeddings, one normalized row each.
        n: Number of items.
        seed: Seed of the pool choice, the suffixes and the noise.
        noise: Norm of the Gaussian noise added to a pool vector.
    """

    def __init__(self, pool: Sequence[str], pool_vecs: np.ndarray, n: int, seed: int, noise: float) -> None:
        nrng = np.random.default_rng(seed)
        pids = nrng.integers(0, len(pool), n)
        self.dim = int(pool_vecs.shape[1])
        self.texts = item_texts(pool, [int(p) for p in pids], seed)
        vecs = pool_vecs[pids] + nrng.standard_normal((n, self.dim), dtype=np.float32) * (noise / math.sqrt(self.dim))
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        self.vecs, self.pool_vecs, self.pool = vecs, pool_vecs, {t: i for i, t in enumerate(pool)}
        self.items: dict[str, int] = {}
        for i, t in enumerate(self.texts):
            self.items.setdefault(t, i)  # the same text always gets the same vector

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Return the vectors of ``texts`` as a float32 matrix."""
        out = []
        for t in texts:
            if t in self.items:
                out.append(self.vecs[self.items[t]])
            elif t in self.pool:
                out.append(self.pool_vecs[self.pool[t]])
            else:
                v = np.random.default_rng(zlib.crc32(t.encode())).standard_normal(self.dim).astype(np.float32)
                out.append(v / np.linalg.norm(v))
        return np.stack(out)

    def __call__(self, texts: list[str]) -> list[list[float]]:
        return self.vectors(texts).tolist()


class NumpyIndex:
    """The brute-force baseline: normalized vectors in RAM, a namespace id per row, ``argpartition`` top-k.

    Args:
        n: Capacity (rows).
        dim: Vector dimension.
    """

    def __init__(self, n: int, dim: int) -> None:
        self.m = np.empty((n, dim), np.float32)
        self.ns = np.empty(n, np.int32)
        self.size = 0

    def add(self, vecs: np.ndarray, ns: np.ndarray) -> None:
        """Append vectors (normalized here) with their namespace ids."""
        end = self.size + len(vecs)
        self.m[self.size : end] = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
        self.ns[self.size : end] = ns
        self.size = end

    def search(self, q: np.ndarray, ns_id: int, k: int = 10) -> np.ndarray:
        """Return the row numbers of the ``k`` best cosine matches within namespace ``ns_id``, best first."""
        rows = np.flatnonzero(self.ns[: self.size] == ns_id)
        if not len(rows):
            return rows
        # einsum, not `@`: multi-threaded OpenBLAS gemv on a ~2k x 384 slice spends milliseconds syncing threads
        # on a busy 2-core machine, where a single-threaded loop takes ~0.1 ms.
        scores = np.einsum("ij,j->i", self.m[rows], q)
        k = min(k, len(rows))
        top = np.argpartition(-scores, k - 1)[:k]
        return rows[top[np.argsort(-scores[top])]]
