"""Memory stores: the ``Store`` protocol, the embedded Qdrant engine store, the Qdrant server store, embedders."""

from memspy.stores._types import DeleteOp, Item, Namespace, PutOp, SearchItem, validate_namespace
from memspy.stores.base import BaseStore, Store
from memspy.stores.edge import EdgeStore
from memspy.stores.embeddings import (
    Bm25Embedder,
    CallableEmbedder,
    Embedder,
    EmbedderUnavailableError,
    MiniLMEmbedder,
    as_embedder,
    memspy_home,
)
from memspy.stores.errors import (
    InvalidFilterError,
    InvalidNamespaceError,
    InvalidValueError,
    MemspyError,
    StoreClosedError,
    StoreCorruptedError,
    StoreEngineError,
    StoreError,
    StoreFullError,
    StoreLockedError,
)
from memspy.stores.qdrant import QdrantStore

__all__ = [
    "BaseStore",
    "Bm25Embedder",
    "CallableEmbedder",
    "DeleteOp",
    "EdgeStore",
    "Embedder",
    "EmbedderUnavailableError",
    "InvalidFilterError",
    "InvalidNamespaceError",
    "InvalidValueError",
    "Item",
    "MemspyError",
    "MiniLMEmbedder",
    "Namespace",
    "PutOp",
    "QdrantStore",
    "SearchItem",
    "Store",
    "StoreClosedError",
    "StoreCorruptedError",
    "StoreEngineError",
    "StoreError",
    "StoreFullError",
    "StoreLockedError",
    "as_embedder",
    "memspy_home",
    "validate_namespace",
]
