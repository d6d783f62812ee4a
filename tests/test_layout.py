"""The package layout STYLE.md fixes: one `memspy` namespace over the card's folders."""

from __future__ import annotations

import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = ["pipelines", "signatures", "stores", "evals", "cli"]
# Every package with a public face (its __init__), nested ones included.
PACKAGES = [
    *SUBPACKAGES,
    *(f"pipelines.{kind}" for kind in ("runtime", "records", "semantic", "episodic", "procedural")),
]


def test_every_source_folder_is_a_mapped_package() -> None:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    found = set()
    for top in SUBPACKAGES:
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT)
            found.add("memspy." + ".".join(rel.parts))
    assert found == listed
    assert all(cfg["package-dir"][f"memspy.{top}"] == top for top in SUBPACKAGES)
    assert not (ROOT / "memspy").exists()


@pytest.mark.parametrize("top", SUBPACKAGES)
def test_no_bare_top_level_package(top: str, tmp_path: Path) -> None:
    # Run outside the checkout: only what is installed can be imported there.
    code = f"import importlib.util as u; print(u.find_spec({top!r}) is None, u.find_spec('memspy.{top}') is not None)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]


@pytest.mark.parametrize("top", PACKAGES)
def test_public_names_are_exactly_all(top: str) -> None:
    mod = importlib.import_module(f"memspy.{top}")
    public = {n for n, v in vars(mod).items() if not n.startswith("_") and not getattr(v, "__file__", None)}
    public -= {"annotations"}
    assert sorted(mod.__all__) == mod.__all__
    assert set(mod.__all__) == public
