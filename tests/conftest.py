"""Shared fixtures: offline environment, a fresh DSPy configuration per test, one embedder per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.pop("MEMSPY_LM", None)

import dspy
import pytest
from hypothesis import settings

from memspy.stores import EdgeStore, MiniLMEmbedder

# The same examples on every run: CI must not pass or fail by chance.
settings.register_profile("memspy", derandomize=True, deadline=None)
settings.load_profile("memspy")


@pytest.fixture(scope="session", autouse=True)
def _memspy_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("memspy-home")
    old = os.environ.get("MEMSPY_HOME")
    os.environ["MEMSPY_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("MEMSPY_HOME", None)
    else:
        os.environ["MEMSPY_HOME"] = old


@pytest.fixture(autouse=True)
def _fresh_dspy() -> Iterator[None]:
    dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=False)
    with dspy.context(lm=None, adapter=None, track_usage=False):
        yield


@pytest.fixture(scope="session")
def embedder() -> MiniLMEmbedder:
    """The real offline MiniLM embedder, loaded once."""
    return MiniLMEmbedder()


@pytest.fixture
def edge_store(tmp_path: Path, embedder: MiniLMEmbedder) -> Iterator[EdgeStore]:
    """A fresh embedded store in ``tmp_path`` with the shared embedder, closed after the test."""
    store = EdgeStore(tmp_path / "store", embedder=embedder)
    yield store
    store.close()
