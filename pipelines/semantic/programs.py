"""The compiled programs memspy ships, and loading a saved program into a memory manager."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

import dspy

from memspy.pipelines.runtime.lm import is_local_lm
from memspy.pipelines.semantic.schemas import Memory

__all__ = ["SHIPPED_PROGRAM", "load_program", "shipped_program"]

# Compiled with the local LM on memspy's own labeled data (``memspy optimize extract``); see the README.
SHIPPED_PROGRAM = "local_facts.json"


def shipped_program(manager: Any) -> Path | None:
    """The compiled program memspy ships for ``manager``, if one fits it: the facts design with the default
    ``Memory`` kind on the local LM — the manager's own, else the one configured when it is built (compiled on
    memspy's own labeled data; see the README)."""
    lm = manager.default_lm if manager.default_lm is not None else dspy.settings.lm
    if manager.design != "facts" or not is_local_lm(lm):
        return None
    if [s.model for s in manager.schemas] != [Memory] or not manager.enable_inserts:
        return None
    path = Path(str(files("memspy.pipelines.semantic") / "_programs" / SHIPPED_PROGRAM))
    return path if path.is_file() else None


def load_program(manager: Any, program: Any = None, *, compiled: bool = True) -> None:
    """Load ``program`` (a saved compiled program) into ``manager``; without one, the shipped program when
    ``compiled`` is true and one fits (:func:`shipped_program`). ``compiled=False`` keeps the manager uncompiled."""
    path = program if program is not None else (shipped_program(manager) if compiled else None)
    if path is not None:
        manager.load(str(path))
