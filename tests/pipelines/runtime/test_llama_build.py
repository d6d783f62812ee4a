"""A llama.cpp build with AMX kernels is refused before it can crash the process; other builds load."""

from __future__ import annotations

import importlib.util

import pytest

from memspy.pipelines.errors import LocalModelUnavailableError
from memspy.pipelines.runtime.llama_build import REBUILD, check_build, system_info

__all__: list[str] = []

AMX = "CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 1 | AVX512_VNNI = 1 | AMX_INT8 = 1 | OPENMP = 1 | REPACK = 1 | "
PLAIN = "CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 1 | AVX512_VNNI = 1 | OPENMP = 1 | REPACK = 1 | "


def test_an_amx_build_is_refused_with_the_command_that_rebuilds_it() -> None:
    with pytest.raises(LocalModelUnavailableError) as caught:
        check_build(AMX)
    assert REBUILD in str(caught.value)
    assert "-mno-amx-int8" in REBUILD and "--no-cache-dir" in REBUILD  # a cached AMX wheel would come back


def test_a_build_without_amx_kernels_passes() -> None:
    check_build(PLAIN)
    check_build("CPU : NEON = 1 | ARM_FMA = 1 | ")


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed")
def test_the_installed_build_reports_its_cpu_features() -> None:
    assert system_info().startswith("CPU :")
