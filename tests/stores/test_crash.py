"""Crash safety of EdgeStore: real child processes killed with SIGKILL at seeded random points.

One helper process imports memspy once and forks a fresh child per run (a fork before any store is
open, so no engine thread is copied). The child acknowledges each batch in a file after the call
returns; the test kills it, reopens the store and checks that it opens, that every acknowledged batch
is there, and that the batch in flight is there whole or not at all. ``MEMSPY_CRASH_ROUNDS`` runs more.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import qdrant_edge as qe

from memspy.stores import EdgeStore

NS = ("crash", "u1")
ROUNDS = int(os.environ.get("MEMSPY_CRASH_ROUNDS", "8"))

_SERVER = textwrap.dedent(
    """
    import os, sys
    from memspy.stores import EdgeStore, PutOp, StoreEngineError

    NS = ("crash", "u1")
    embed = lambda texts: [[1.0, float(len(t)), 2.0] for t in texts]

    def ack(path, text):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, (text + "\\n").encode())
        os.close(fd)

    def writes(path, acks):
        store = EdgeStore(path, embedder=embed, dim=3)
        a = store.get(NS, "a")
        i = a.value["v"] if a else 0
        ack(acks, str(i))  # the state found on open is on disk
        while True:
            i += 1
            puts = [PutOp(NS, "a", {"v": i}), PutOp(NS, "b", {"v": i}), PutOp(NS, f"d{i}", {"v": i})]
            store.batch(puts=puts, deletes=[(NS, f"d{i - 1}")])
            ack(acks, str(i))

    def creation_dies_at(path, call):
        import memspy.stores._edge_shard as edge_shard

        calls = []
        real = edge_shard.os.replace
        def replace(src, dst):
            calls.append(dst)
            if len(calls) == call:
                os._exit(9)
            real(src, dst)
        edge_shard.os.replace = replace
        EdgeStore(path, embedder=embed, dim=3)

    def fail_then_die(path, acks):
        store = EdgeStore(path, embedder=embed, dim=3)
        store.put(NS, "a", {"v": 1})
        store.put(NS, "d1", {"v": 1})
        ack(acks, "1")
        def broken():
            raise StoreEngineError("I/O error")
        store._flush = broken
        try:
            store.batch(puts=[PutOp(NS, "a", {"v": 2})], deletes=[(NS, "d1")])
        except StoreEngineError:
            os._exit(7)  # told it failed, then died before anything else

    print("ready", flush=True)
    for line in sys.stdin:
        mode, path, arg = line.rstrip("\\n").split("\\t")
        pid = os.fork()
        if pid == 0:
            try:
                if mode == "writes":
                    writes(path, arg)
                elif mode == "creation":
                    creation_dies_at(path, int(arg))
                else:
                    fail_then_die(path, arg)
            finally:
                os._exit(0)
        print(f"pid {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"exit {status}", flush=True)
    """
)


class ForkServer:
    """Starts children on request; ``run`` kills the child after ``kill_after`` seconds (None: let it exit)."""

    def __init__(self) -> None:
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        assert self._line() == "ready"

    def _line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def run(self, mode: str, path: Path, arg: str, kill_after: float | None) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{mode}\t{path}\t{arg}\n")
        self.proc.stdin.flush()
        pid = int(self._line().split()[1])
        if kill_after is not None:
            time.sleep(kill_after)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:  # pragma: no cover - the child already exited
                pass
        return int(self._line().split()[1])

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="module")
def server() -> Iterator[ForkServer]:
    s = ForkServer()
    yield s
    s.close()


def _embed(texts: list[str]) -> list[list[float]]:
    return [[1.0, float(len(t)), 2.0] for t in texts]


def _open(path: Path) -> EdgeStore:
    return EdgeStore(path, embedder=_embed, dim=3)


def _check(path: Path, acks: Path) -> int:
    """Open the store and check it against the acknowledgements; return the batch number it holds."""
    acked = [int(x) for x in acks.read_text().split()] if acks.exists() else []
    with _open(path) as store:
        state = {i.key: i.value["v"] for i in store.search(NS, limit=100)}
    if not acked:
        assert state == {}, "nothing was acknowledged, yet the store holds data"
        return 0
    last = max(acked)
    n = state.get("a", 0)
    assert n in (last, last + 1), f"acknowledged batch {last}, store holds {n}"
    expected = {"a": n, "b": n, f"d{n}": n} if n else {}
    assert state == expected, "a batch was applied in part"
    return n


def test_kills_at_random_points_lose_no_acknowledged_batch(server: ForkServer, tmp_path: Path) -> None:
    rng = random.Random(20241201)
    reached_writes = 0
    for r in range(ROUNDS):
        path, acks = tmp_path / f"r{r}", tmp_path / f"r{r}.acks"
        if r % 2 == 0:  # first creation takes ~0.1-0.3 s: aim inside it
            status = server.run("writes", path, str(acks), kill_after=rng.uniform(0.0, 0.25))
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
            _check(path, acks)
            continue
        status = server.run("writes", path, str(acks), kill_after=rng.uniform(0.3, 1.2))
        assert os.WIFSIGNALED(status)
        reached_writes += _check(path, acks) > 0
        # a second kill, often during the reopen (journal replay included), then more writes
        server.run("writes", path, str(acks), kill_after=rng.uniform(0.0, 0.4))
        _check(path, acks)
    assert reached_writes >= 1  # the seeded delays reach the write loop, not only the creation


@pytest.mark.parametrize("call", [1, 2])
def test_kill_at_each_step_of_creation_leaves_an_openable_store(server: ForkServer, tmp_path: Path, call: int) -> None:
    path = tmp_path / "s"
    status = server.run("creation", path, str(call), kill_after=None)  # dies at the 1st / 2nd rename
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 9
    with _open(path) as store:
        store.put(NS, "a", {"v": 1})
    with _open(path) as store:
        assert store.count() == 1


def test_a_shard_left_without_memspy_json_is_recreated(tmp_path: Path) -> None:
    path = tmp_path / "s"
    cfg = qe.EdgeConfig(vectors={"dense": qe.EdgeVectorParams(size=3, distance=qe.Distance.Cosine)})
    shard = qe.EdgeShard.create(str(path / "shard"), cfg)  # what a creation killed before memspy.json left
    shard.close()
    with _open(path) as store:  # used to raise "path already contains segment data" forever
        store.put(NS, "a", {"v": 1})
        assert store.count() == 1


def test_failed_batch_then_kill_reopens_as_before(server: ForkServer, tmp_path: Path) -> None:
    path, acks = tmp_path / "s", tmp_path / "acks"
    status = server.run("fail", path, str(acks), kill_after=None)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 7
    with _open(path) as store:
        state: dict[str, Any] = {i.key: i.value["v"] for i in store.search(NS)}
    assert state == {"a": 1, "d1": 1}  # the failed batch is not applied on reopen
