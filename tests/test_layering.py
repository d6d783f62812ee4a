"""The layers point one way, and private names stay in their package: checked on every import, parsed from source.

Packages, bottom to top: ``signatures`` and ``stores``; ``pipelines`` (inside it ``errors`` <- ``runtime`` <-
``records`` <- {``semantic``, ``episodic``, ``procedural``}, the three kinds independent of each other, and the
package's own ``__init__`` on top); ``evals`` (which reaches prompts through pipelines, not ``signatures``);
``cli`` above everything. Every import counts: module level or inside a function, ``import x``, ``from x import
y``, relative imports, and ``importlib.import_module("literal")``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOPS = ("pipelines", "signatures", "stores", "evals", "cli")
KINDS = ("semantic", "episodic", "procedural")
# What each room inside pipelines may import from pipelines (besides itself).
PIPELINE_ROOMS: dict[str, set[str]] = {
    "errors": set(),
    "runtime": {"errors"},
    "records": {"errors", "runtime"},
    **{kind: {"errors", "runtime", "records"} for kind in KINDS},
}


@dataclass(frozen=True)
class Import:
    """One import found in a source file: the importing module, the imported module and, if any, the name."""

    path: Path
    line: int
    importer: str
    module: str
    name: str | None = None


def module_name(root: Path, path: Path) -> tuple[str, bool]:
    """The ``memspy.*`` name of a source file, and whether it is a package's ``__init__``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return "memspy." + ".".join(parts), is_package


def source_files(root: Path) -> Iterator[Path]:
    for top in TOPS:
        if (root / top).is_dir():
            yield from sorted((root / top).rglob("*.py"))


def _resolve_relative(importer: str, is_package: bool, module: str | None, level: int) -> str:
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, module] if module else base)


def imports_of(root: Path, path: Path) -> Iterator[Import]:
    """Every import in ``path``, wherever it sits in the file."""
    importer, is_package = module_name(root, path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, node.lineno, importer, alias.name)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                module = _resolve_relative(importer, is_package, node.module, node.level)
            for alias in node.names:
                yield Import(path, node.lineno, importer, module, alias.name)
        elif isinstance(node, ast.Call) and _is_import_module(node.func) and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                yield Import(path, node.lineno, importer, arg.value)


def _is_import_module(func: ast.expr) -> bool:
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module" and isinstance(func.value, ast.Name) and func.value.id == "importlib"
    return isinstance(func, ast.Name) and func.id == "import_module"


def _target(imp: Import, modules: set[str]) -> str:
    """The module an import reaches: ``from memspy.pipelines import errors`` reaches ``memspy.pipelines.errors``."""
    if imp.name is not None and f"{imp.module}.{imp.name}" in modules:
        return f"{imp.module}.{imp.name}"
    return imp.module


def _is_private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _room(module: str) -> str | None:
    """The room inside pipelines: ``errors``, ``runtime``, ... or None for the package's own ``__init__``."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 else None


def layer_problem(importer: str, target: str) -> str | None:
    """Why ``importer`` may not import ``target`` (both ``memspy.*``), or None when the arrow is allowed."""
    src, dst = importer.split(".")[1], target.split(".")[1] if target.count(".") else ""
    if not dst or src == "cli":
        return None
    if dst == "cli":
        return "only the command line imports memspy.cli"
    if src in ("signatures", "stores") and dst != src:
        return f"memspy.{src} is a bottom layer: it imports nothing else from memspy"
    if src == "pipelines" and dst in ("evals", "cli"):
        return "pipelines sits below evals and the command line"
    if src == "evals" and dst == "signatures":
        return "evals reaches prompts through memspy.pipelines, not memspy.signatures"
    if src == "pipelines" and dst == "pipelines":
        room, other = _room(importer), _room(target)
        if room is None or room == other:
            return None
        if other is None:
            return f"{importer} imports the memspy.pipelines face; import the room's module instead"
        if other not in PIPELINE_ROOMS.get(room, set()):
            allowed = sorted(PIPELINE_ROOMS.get(room, set()))
            return f"pipelines.{room} may import only pipelines.{allowed}, not pipelines.{other}"
    return None


def private_problem(importer: str, imp: Import, target: str, packages: set[str]) -> str | None:
    """Why an import of a ``_private`` module or name breaks encapsulation, or None."""
    parts = target.split(".")
    for i, part in enumerate(parts):
        if _is_private(part):
            owner = ".".join(parts[:i])
            if not _within(importer, owner):
                return f"{target} is private to {owner}"
            break
    if imp.name is not None and target == imp.module and _is_private(imp.name):
        owner = target if target in packages else target.rsplit(".", 1)[0]
        if not _within(importer, owner):
            return f"{imp.module}.{imp.name} is private to {owner}"
    return None


def check(root: Path) -> list[str]:
    """Every forbidden arrow and cross-package private import under ``root``, as readable lines."""
    files = list(source_files(root))
    names = [module_name(root, f) for f in files]
    modules = {m for m, _ in names}
    packages = {m for m, is_package in names if is_package}
    problems = []
    for path in files:
        for imp in imports_of(root, path):
            target = _target(imp, modules)
            if not _within(target, "memspy"):
                continue
            why = layer_problem(imp.importer, target) or private_problem(imp.importer, imp, target, packages)
            if why:
                where = f"{path.relative_to(root)}:{imp.line}"
                label = f"{target}.{imp.name}" if imp.name and target == imp.module else target
                problems.append(f"{where}: {imp.importer} -> {label}: {why}")
    return problems


def test_the_house_has_no_forbidden_import() -> None:
    problems = check(ROOT)
    assert not problems, "forbidden imports:\n" + "\n".join(problems)


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_checker_finds_each_kind_of_forbidden_import(tmp_path: Path) -> None:
    for pkg in ("pipelines", "pipelines/runtime", "pipelines/semantic", "pipelines/episodic", "evals", "stores", "cli"):
        _write(tmp_path, f"{pkg}/__init__.py", "")
    _write(tmp_path, "stores/_types.py", "X = 1\n")
    _write(tmp_path, "stores/edge.py", "from memspy.stores._types import X\nfrom ._types import X as Y\n")
    _write(tmp_path, "pipelines/runtime/steps.py", "def f():\n    from memspy.evals import metrics\n")
    _write(tmp_path, "pipelines/runtime/lm.py", "from memspy.pipelines.semantic import manager\n")
    _write(tmp_path, "pipelines/semantic/manager.py", "from ..episodic import memory\nfrom ..runtime import steps\n")
    _write(tmp_path, "pipelines/episodic/memory.py", "from memspy.stores import _types, edge\n")
    _write(tmp_path, "evals/qa.py", "import importlib\nimportlib.import_module('memspy.cli.main')\n")
    _write(tmp_path, "evals/judge.py", "from memspy.signatures.qa import JudgeAnswer\n")
    _write(tmp_path, "cli/main.py", "from memspy.evals import qa\nfrom memspy.pipelines.runtime import _helper\n")
    found = check(tmp_path)
    assert sorted(line.split(":")[0] for line in found) == [
        "cli/main.py",  # cli may import anything, but not another package's private name
        "evals/judge.py",
        "evals/qa.py",
        "pipelines/episodic/memory.py",
        "pipelines/runtime/lm.py",
        "pipelines/runtime/steps.py",
        "pipelines/semantic/manager.py",
    ]
    text = "\n".join(found)
    assert "memspy.pipelines.runtime.steps -> memspy.evals.metrics: pipelines sits below evals" in text
    assert "semantic may import only pipelines.['errors', 'records', 'runtime'], not pipelines.episodic" in text
    assert "pipelines.runtime may import only pipelines.['errors'], not pipelines.semantic" in text
    assert "memspy.stores._types is private to memspy.stores" in text
    assert "memspy.pipelines.runtime._helper is private to memspy.pipelines.runtime" in text
    assert "only the command line imports memspy.cli" in text
    assert "evals reaches prompts through memspy.pipelines" in text
