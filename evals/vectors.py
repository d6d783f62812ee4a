"""Unit-length text vectors, embedded once per text: what every text matcher of the metrics compares."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from memspy.stores import Embedder, MiniLMEmbedder

__all__ = ["UnitVectors", "VectorMatcher"]


class UnitVectors:
    """Embeds texts with ``embedder`` (MiniLM when None, loaded on first use) and keeps each unit vector."""

    def __init__(self, embedder: Embedder | None = None) -> None:
        self.embedder = embedder
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str]) -> list[np.ndarray]:
        """One unit vector per text, in order."""
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
            if missing:
                if self.embedder is None:
                    self.embedder = MiniLMEmbedder()
                for t, v in zip(missing, self.embedder.embed_documents(missing), strict=True):
                    arr = np.asarray(v, dtype=np.float32)
                    self._cache[t] = arr / (float(np.linalg.norm(arr)) or 1.0)
            return [self._cache[t] for t in texts]

    def matrix(self, texts: Sequence[str]) -> np.ndarray:
        """The vectors stacked as rows (an empty ``(0, dim)`` matrix for no texts)."""
        rows = self(texts)
        if rows:
            return np.stack(rows)
        dim = next(iter(self._cache.values())).shape[0] if self._cache else 1
        return np.zeros((0, dim), dtype=np.float32)


class VectorMatcher:
    """Base of the metrics' text matchers: their :class:`UnitVectors` and the ``embedder`` behind them."""

    def __init__(self, embedder: Embedder | None = None) -> None:
        self._vectors = UnitVectors(embedder)

    @property
    def embedder(self) -> Embedder | None:
        return self._vectors.embedder

    @embedder.setter
    def embedder(self, embedder: Embedder | None) -> None:
        self._vectors.embedder = embedder
