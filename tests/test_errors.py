"""One error family: every public exception memspy defines derives from MemspyError, and is defined once."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import memspy.cli
import memspy.evals
import memspy.pipelines
import memspy.signatures
import memspy.stores
from memspy.pipelines import (
    ConfigError,
    EpisodicStepError,
    LMRuntimeError,
    LMStepError,
    MemoryExtractionError,
    MissingChunkError,
    NamespaceConfigError,
    ReflectionError,
    StepError,
)
from memspy.stores import InvalidNamespaceError, MemspyError

PACKAGES = [memspy.pipelines, memspy.signatures, memspy.stores, memspy.evals, memspy.cli]


def _modules() -> list[ModuleType]:
    out = []
    for pkg in PACKAGES:
        out.append(pkg)
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            try:
                out.append(importlib.import_module(info.name))
            except ModuleNotFoundError as e:  # an optional extra that is not installed here
                if (e.name or "").startswith("memspy"):
                    raise
    return out


def _public_errors() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for mod in _modules():
        for name, obj in vars(mod).items():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__.startswith("memspy."):
                if not name.startswith("_") and not obj.__name__.startswith("_"):
                    found[f"{obj.__module__}.{obj.__name__}"] = obj
    return found


def test_every_public_error_derives_from_memspy_error() -> None:
    errors = _public_errors()
    assert len(errors) >= 20  # the walk really reached every package
    strays = sorted(name for name, cls in errors.items() if not issubclass(cls, MemspyError))
    assert not strays, f"not under MemspyError: {strays}"


def test_each_error_is_defined_once() -> None:
    by_name: dict[str, list[str]] = {}
    for qualified, cls in _public_errors().items():
        by_name.setdefault(cls.__name__, []).append(qualified)
    assert {n: q for n, q in by_name.items() if len(q) > 1} == {}


def test_the_families_keep_their_builtin_bases() -> None:
    assert issubclass(ConfigError, ValueError) and issubclass(LMStepError, RuntimeError)
    assert issubclass(NamespaceConfigError, InvalidNamespaceError) and issubclass(NamespaceConfigError, ConfigError)
    assert issubclass(MissingChunkError, FileNotFoundError) and issubclass(MissingChunkError, LMRuntimeError)
    assert EpisodicStepError is StepError and issubclass(MemoryExtractionError, LMStepError)
    from memspy.evals import LabeledDataError

    assert issubclass(LabeledDataError, ConfigError)


def test_step_errors_carry_step_problems_and_attempts() -> None:
    err = StepError("consolidate", ["no goal"], 3)
    assert (err.step, err.errors, err.attempts) == ("consolidate", ["no goal"], 3)
    assert "consolidate output was still invalid after 3 attempts" in str(err)
    with pytest.raises(LMStepError, match="memory operations were still invalid after 2"):
        raise MemoryExtractionError(["bad id"], 2)


def test_reflection_error_is_an_exception_with_the_task_fields() -> None:
    cause = KeyError("x")
    err = ReflectionError("t1", {"messages": []}, None, cause)
    assert isinstance(err, MemspyError) and err.__cause__ is cause
    assert (err.thread_key, err.payload, err.config, err.exception) == ("t1", {"messages": []}, None, cause)
    assert err.at.tzinfo is not None and "thread 't1' failed" in str(err)
