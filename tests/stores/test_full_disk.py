"""A full disk: typed ``StoreFullError``, never SIGBUS, and the store reopens with every acknowledged write.

The engine writes through memory maps, and a write into a mapped file on a full disk kills the process
with SIGBUS; the store refuses such writes up front. Each scenario runs in a child process on a small
tmpfs mounted by the test (root only; skipped otherwise), so that a SIGBUS fails the test instead of
killing the test process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

_COMMON = """
import hashlib, os, sys
from pathlib import Path
from memspy.stores import EdgeStore, PutOp, StoreFullError
root = Path(sys.argv[1])
embed = lambda texts: [[1.0, float(len(t)), 2.0] for t in texts]
def blob(key):  # deterministic and incompressible: what a real value costs on disk
    return hashlib.shake_256(key.encode()).hexdigest(50_000)
def open_store():
    return EdgeStore(root / "s", embedder=embed, dim=3)
"""

_FILL_UNTIL_FULL = """
store = open_store()
acked = 0
def ops(i):
    return [PutOp(("disk",), f"k{i}_{j}", {"blob": blob(f"k{i}_{j}")}) for j in range(10)]
for i in range(400):  # far more than the disk holds
    try:
        store.put_many(ops(i))
    except StoreFullError as e:
        print("FULL", i, e)
        break
    acked = i + 1
    (root / "acked").write_text(str(acked))
try:
    store.put_many(ops(acked))
except StoreFullError:
    print("FULL AGAIN")
print("READ", store.get(("disk",), "k0_0") is not None)
os._exit(0)  # no close(): the reopen must recover from the write-ahead log
"""

_REOPEN_AND_CHECK = """
acked = int((root / "acked").read_text())
with open_store() as store:
    for i in range(acked):
        for j in range(10):
            item = store.get(("disk",), f"k{i}_{j}")
            assert item is not None and item.value["blob"] == blob(f"k{i}_{j}"), (i, j)
    print("CHECKED", acked, store.count())
"""

_ALREADY_FULL = """
store = open_store()
store.put(("disk",), "before", {"blob": blob("before")})
with open(root / "filler", "wb") as f:  # another program fills the disk
    try:
        while True:
            f.write(os.urandom(1 << 16))
            f.flush()
    except OSError:
        pass
for attempt in ("put", "batch"):
    try:
        if attempt == "put":
            store.put(("disk",), "late", {"blob": blob("late")})
        else:
            store.batch([PutOp(("disk",), "late", {"blob": "x"})], [(("disk",), "before")])
    except StoreFullError as e:
        print("FULL", attempt, e)
print("READ", store.get(("disk",), "before").value["blob"] == blob("before"))
try:
    store.close()  # may fail to flush on a full disk (the log has every write); it releases the store anyway
except StoreFullError as e:
    print("FULL close", e)
try:
    open_store()
except StoreFullError as e:
    print("FULL open", e)
(root / "filler").unlink()
with open_store() as store:
    store.put(("disk",), "late", {"blob": blob("late")})
    print("AFTER", sorted(i.key for i in store.search(("disk",))))
"""


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _child(script: str, root: Path) -> subprocess.CompletedProcess[str]:
    code = textwrap.dedent(_COMMON) + textwrap.dedent(script)
    return subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, timeout=300)


def _alive(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode != -signal.SIGBUS, "the process died of SIGBUS on the full disk"
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_filling_the_disk_gives_store_full_error_and_loses_nothing(small_tmpfs: Path) -> None:
    proc = _child(_FILL_UNTIL_FULL, small_tmpfs)
    _alive(proc)
    assert "FULL " in proc.stdout and "FULL AGAIN" in proc.stdout and "READ True" in proc.stdout
    acked = int((small_tmpfs / "acked").read_text())
    assert acked >= 5  # the margin is not so large that a small disk takes nothing
    check = _child(_REOPEN_AND_CHECK, small_tmpfs)
    _alive(check)
    assert f"CHECKED {acked} {acked * 10}" in check.stdout


def test_a_disk_filled_by_someone_else(small_tmpfs: Path) -> None:
    proc = _child(_ALREADY_FULL, small_tmpfs)
    _alive(proc)
    assert "FULL put" in proc.stdout and "FULL batch" in proc.stdout and "READ True" in proc.stdout
    assert "FULL open" in proc.stdout  # opening is refused too: a load maps files that may grow
    assert "AFTER ['before', 'late']" in proc.stdout  # the failed batch deleted nothing
