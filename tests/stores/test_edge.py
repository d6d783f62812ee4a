"""EdgeStore specifics: crash safety, the directory lock, embedder/dimension checks."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from memspy.stores import EdgeStore, MiniLMEmbedder, PutOp, StoreError, StoreLockedError

U1 = ("memories", "u1")


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)


def _seed(path: Path, embedder: MiniLMEmbedder) -> None:
    with EdgeStore(path, embedder=embedder) as s:
        s.put(U1, "old", {"content": "to be deleted"})
        s.put(U1, "keep", {"content": "original"})


def test_crash_mid_batch_then_reopen_applies_all_or_nothing(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    path = tmp_path / "s"
    _seed(path, embedder)
    # The child writes the upserts of a mixed batch, then dies (SIGKILL-like) before the delete.
    proc = _run(f"""
        import os
        from memspy.stores import EdgeStore, PutOp
        s = EdgeStore({str(path)!r})
        s._delete_ids = lambda ids: os._exit(9)
        s.batch(puts=[PutOp(("memories", "u1"), "keep", {{"content": "changed"}}),
                      PutOp(("memories", "u1"), "new", {{"content": "fresh"}})],
                deletes=[(("memories", "u1"), "old")])
    """)
    assert proc.returncode == 9, proc.stderr
    with EdgeStore(path, embedder=embedder) as s:
        state = {i.key: i.value["content"] for i in s.search(U1)}
    assert state == {"keep": "changed", "new": "fresh"}  # the journal rolled the whole batch forward


def test_crash_before_journal_commit_leaves_store_as_before(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    path = tmp_path / "s"
    _seed(path, embedder)
    proc = _run(f"""
        import os
        from memspy.stores import EdgeStore, PutOp
        s = EdgeStore({str(path)!r})
        s._journal_begin = lambda ups, dels: os._exit(9)
        s.batch(puts=[PutOp(("memories", "u1"), "keep", {{"content": "changed"}})],
                deletes=[(("memories", "u1"), "old")])
    """)
    assert proc.returncode == 9, proc.stderr
    with EdgeStore(path, embedder=embedder) as s:
        state = {i.key: i.value["content"] for i in s.search(U1)}
    assert state == {"keep": "original", "old": "to be deleted"}


def test_unflushed_writes_survive_kill(tmp_path: Path) -> None:
    path = tmp_path / "s"
    proc = _run(f"""
        import os
        from memspy.stores import EdgeStore
        s = EdgeStore({str(path)!r})
        s.put(("memories", "u1"), "k", {{"content": "written before the crash"}})
        os._exit(0)  # no close(), no flush at exit
    """)
    assert proc.returncode == 0, proc.stderr
    with EdgeStore(path) as s:
        item = s.get(U1, "k")
    assert item is not None and item.value["content"] == "written before the crash"


def test_second_process_gets_store_locked_error(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    path = tmp_path / "s"
    with EdgeStore(path, embedder=embedder):
        proc = _run(f"""
            from memspy.stores import EdgeStore, StoreLockedError
            try:
                EdgeStore({str(path)!r})
            except StoreLockedError as e:
                print("LOCKED", e)
        """)
        assert "LOCKED" in proc.stdout and "another process" in proc.stdout, proc.stderr
        with pytest.raises(StoreLockedError, match="already open in this process"):
            EdgeStore(path, embedder=embedder)
    with EdgeStore(path, embedder=embedder) as again:  # released on close
        assert again.count() == 0


def test_custom_callable_embedder_and_dimension_guard(tmp_path: Path) -> None:
    def toy(texts: list[str]) -> list[list[float]]:
        return [[float(len(t)), 1.0, float(t.count("a"))] for t in texts]

    with pytest.raises(ValueError, match="dim"):
        EdgeStore(tmp_path / "x", embedder=toy)
    with EdgeStore(tmp_path / "s", embedder=toy, dim=3) as s:
        s.put_many([PutOp(U1, "a", {"content": "banana"}), PutOp(U1, "b", {"content": "kiwi"})])
        assert {i.key for i in s.search(U1, query="banana")} == {"a", "b"}
        assert s.search(U1, query="banana")[0].key == "a"
    with pytest.raises(StoreError, match="3-dim"):
        EdgeStore(tmp_path / "s")  # default MiniLM is 384-dim


def test_wal_durability_survives_a_kill(tmp_path: Path) -> None:
    path = tmp_path / "s"
    proc = _run(f"""
        import os
        from memspy.stores import EdgeStore, PutOp
        s = EdgeStore({str(path)!r}, durability="wal", flush_interval_s=3600)
        s.put_many([PutOp(("memories", "u1"), f"k{{i}}", {{"content": f"fact {{i}}"}}) for i in range(20)])
        os._exit(0)
    """)
    assert proc.returncode == 0, proc.stderr
    with EdgeStore(path) as s:
        assert s.count() == 20
        assert s.search(U1, query="fact 7", limit=1)[0].value == {"content": "fact 7"}
    with pytest.raises(ValueError, match="durability"):
        EdgeStore(tmp_path / "x", durability="sometimes")  # type: ignore[arg-type]
