"""The store contract runs over every implementation: ``store_factory(path)`` opens one at ``path``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from memspy.stores import BaseStore, EdgeStore, MiniLMEmbedder, QdrantStore

StoreFactory = Callable[..., BaseStore]


@pytest.fixture(params=["edge", "qdrant-local"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_factory(store_kind: str, embedder: MiniLMEmbedder) -> Iterator[StoreFactory]:
    opened: list[BaseStore] = []

    def make(path: Path, **kw: Any) -> BaseStore:
        kw.setdefault("embedder", embedder)
        store: BaseStore
        if store_kind == "edge":
            store = EdgeStore(path, **kw)
        else:
            os.makedirs(path, exist_ok=True)
            store = QdrantStore(path=str(path), **kw)
        opened.append(store)
        return store

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def store(store_factory: StoreFactory, tmp_path: Path) -> BaseStore:
    return store_factory(tmp_path / "store")
