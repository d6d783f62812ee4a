"""Whether the installed llama.cpp build can run the offline model, checked before the model is loaded.

llama.cpp's native build on a CPU with AMX (Intel Sapphire Rapids and later) repacks Q4_K weights for its AMX
kernels, and on some of these machines the first call then crashes the whole process in
``ggml_backend_amx_mul_mat`` (llama.cpp issue #20824; seen here with the Qwen2.5-Coder-1.5B Q4_K_M file). A
segmentation fault cannot be caught, so a build that reports ``AMX_INT8 = 1`` is refused with the command that
rebuilds it without those kernels (``make local`` builds it that way).
"""

from __future__ import annotations

from memspy.pipelines.errors import LocalModelUnavailableError

__all__ = ["REBUILD", "check_build", "system_info"]

_FLAGS = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
REBUILD = (
    f'CFLAGS="{_FLAGS}" CXXFLAGS="{_FLAGS}" pip install --no-cache-dir --force-reinstall --no-deps '
    '"llama-cpp-python==0.3.36"'
)


def system_info() -> str:
    """llama.cpp's own line of the CPU features it was built with (``llama_print_system_info``)."""
    import llama_cpp

    raw = llama_cpp.llama_print_system_info()
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def check_build(info: str | None = None) -> None:
    """Raise when the llama.cpp build (``info``: its system-info line, read when None) has AMX kernels.

    Raises:
        LocalModelUnavailableError: The build would crash on the first call; the message says how to rebuild.
    """
    line = system_info() if info is None else info
    if "AMX_INT8 = 1" in line:
        raise LocalModelUnavailableError(
            "llama-cpp-python was built with llama.cpp's AMX kernels, which crash this process on the offline "
            f"model's Q4_K weights (llama.cpp #20824). Rebuild it without them: {REBUILD} (`make local` does)."
        )
