"""The scale-out path against a real Qdrant server; runs only when QDRANT_URL is set."""

from __future__ import annotations

import os
import uuid

import pytest

from memspy.stores import MiniLMEmbedder, PutOp, QdrantStore

URL = os.environ.get("QDRANT_URL")


@pytest.mark.server
@pytest.mark.enable_socket
@pytest.mark.skipif(not URL, reason="set QDRANT_URL=http://host:6333 to run against a Qdrant server")
def test_round_trip_against_server(embedder: MiniLMEmbedder) -> None:
    collection = f"memspy-test-{uuid.uuid4().hex[:8]}"
    store = QdrantStore(URL, collection=collection, embedder=embedder)
    try:
        store.put_many(
            [
                PutOp(("m", "u1"), "a", {"content": "prefers dark mode"}),
                PutOp(("m", "u10"), "b", {"content": "prefers dark mode"}),
            ]
        )
        assert [i.key for i in store.search(("m", "u1"), query="dark theme")] == ["a"]
        assert store.list_namespaces() == [("m", "u1"), ("m", "u10")]
    finally:
        store.client.delete_collection(collection)
        store.close()
