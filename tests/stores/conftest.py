"""The store contract runs over every implementation: ``store_factory(path)`` opens one at ``path``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from memspy.stores import BaseStore, EdgeStore, MiniLMEmbedder, QdrantStore

StoreFactory = Callable[..., BaseStore]


class ToyEmbedder:
    """A fast deterministic embedder (character counts) for tests about storage, not ranking."""

    dim = 8
    name = "toy"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[1.0 + sum(ord(c) % 8 == i for c in t) for i in range(self.dim)] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def open_store(kind: str, path: Path, **kw: Any) -> BaseStore:
    """Open the store of ``kind`` ("edge" or "qdrant-local") at ``path``."""
    if kind == "edge":
        return EdgeStore(path, **kw)
    os.makedirs(path, exist_ok=True)
    return QdrantStore(path=str(path), **kw)


@pytest.fixture(params=["edge", "qdrant-local"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _factory(kind: str, default_embedder: Callable[[], Any]) -> Iterator[StoreFactory]:
    opened: list[BaseStore] = []

    def make(path: Path, **kw: Any) -> BaseStore:
        kw.setdefault("embedder", default_embedder())
        store = open_store(kind, path, **kw)
        opened.append(store)
        return store

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def store_factory(store_kind: str, embedder: MiniLMEmbedder) -> Iterator[StoreFactory]:
    yield from _factory(store_kind, lambda: embedder)


@pytest.fixture
def store(store_factory: StoreFactory, tmp_path: Path) -> BaseStore:
    return store_factory(tmp_path / "store")


@pytest.fixture
def toy_factory(store_kind: str) -> Iterator[StoreFactory]:
    """Like ``store_factory``, with the toy embedder: for tests about storage, not ranking."""
    yield from _factory(store_kind, ToyEmbedder)


@pytest.fixture
def toy_store(toy_factory: StoreFactory, tmp_path: Path) -> BaseStore:
    return toy_factory(tmp_path / "store")
