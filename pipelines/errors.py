"""The errors memspy's pipelines raise: one family under :class:`~memspy.stores.MemspyError`.

``except MemspyError`` catches everything memspy raises on purpose. Under it:

- :class:`ConfigError` (also a ``ValueError``): the caller gave something memspy cannot use (messages, schemas,
  a namespace template's values, a memory tool call, labeled data). The message names the field and the fix.
- :class:`LMStepError` (also a ``RuntimeError``): an LM kept answering badly after every retry; nothing was
  stored. It carries ``step``, ``errors`` (the problems in the last answer) and ``attempts``.
- :class:`LMRuntimeError` (also a ``RuntimeError``): the offline LM cannot run here (model file, chunk
  packages, llama-cpp-python).
- :class:`ReflectionError`: a background memory task failed (kept in ``ReflectionExecutor.errors``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from memspy.stores.errors import InvalidNamespaceError, MemspyError

__all__ = [
    "ConfigError",
    "EpisodicStepError",
    "LMRuntimeError",
    "LMStepError",
    "LocalModelUnavailableError",
    "MemoryExtractionError",
    "MemoryToolError",
    "MessageError",
    "MissingChunkError",
    "ModelIntegrityError",
    "NamespaceConfigError",
    "PromptOptimizationError",
    "ReflectionError",
    "SchemaError",
    "StepError",
]


class ConfigError(MemspyError, ValueError):
    """Something the caller passed cannot be used; the message names the field and the fix."""


class MessageError(ConfigError):
    """A message is not in a shape memspy understands."""


class SchemaError(ConfigError):
    """A schema is malformed, or content does not validate against its schema."""


class NamespaceConfigError(ConfigError, InvalidNamespaceError):
    """A namespace template cannot be filled safely from the configuration."""


class MemoryToolError(ConfigError):
    """A memory tool call cannot be carried out; the message is what the agent sees."""


class LMStepError(MemspyError, RuntimeError):
    """An LM step's answers stayed unusable after every retry; nothing was stored.

    Attributes:
        step: The predictor that failed (``extract``, ``extract_turns``, ``consolidate``, ``reflect``, ...).
        errors: The problems found in the last answer.
        attempts: How many LM answers were tried.
    """

    def __init__(self, message: str, *, step: str, errors: list[str], attempts: int) -> None:
        super().__init__(message)
        self.step, self.errors, self.attempts = step, errors, attempts


class StepError(LMStepError):
    """A step run by the shared predict-validate-retry loop stayed invalid (episodic and semantic steps)."""

    def __init__(self, step: str, errors: list[str], attempts: int) -> None:
        super().__init__(
            f"the LM's {step} output was still invalid after {attempts} attempts; nothing was stored. "
            "Last problems: " + "; ".join(errors) + ". Try a stronger model or fewer turns per call.",
            step=step,
            errors=errors,
            attempts=attempts,
        )


EpisodicStepError = StepError  # the public name episodic callers know


class MemoryExtractionError(LMStepError):
    """The LM kept returning invalid memory operations; nothing was applied."""

    def __init__(self, errors: list[str], attempts: int) -> None:
        super().__init__(
            f"the LM's memory operations were still invalid after {attempts} attempts; nothing was changed. "
            "Last problems: " + "; ".join(errors) + ". Try a stronger model, simpler schemas or clearer instructions.",
            step="extract",
            errors=errors,
            attempts=attempts,
        )


class PromptOptimizationError(LMStepError):
    """The LM kept giving unusable answers (unparseable output, or prompt names that do not exist)."""

    def __init__(self, step: str, errors: list[str], attempts: int) -> None:
        super().__init__(
            f"prompt optimization step {step!r} still failed after {attempts} attempts: " + "; ".join(errors),
            step=step,
            errors=errors,
            attempts=attempts,
        )


class LMRuntimeError(MemspyError, RuntimeError):
    """The offline LM runtime cannot work here."""


class LocalModelUnavailableError(LMRuntimeError):
    """The offline default LM cannot run here: its model file or llama-cpp-python is missing."""


class ModelIntegrityError(LMRuntimeError):
    """The assembled model file does not have the expected size or SHA-256."""


class MissingChunkError(LMRuntimeError, FileNotFoundError):
    """A model chunk package or file is missing."""


class ReflectionError(MemspyError):
    """A background memory task that failed: its thread key, payload, config and exception.

    ``ReflectionExecutor.errors`` keeps one per failure; the task's own exception is also ``__cause__``.
    """

    def __init__(
        self,
        thread_key: str,
        payload: dict[str, Any],
        config: dict[str, Any] | None,
        exception: BaseException,
        at: datetime | None = None,
    ) -> None:
        super().__init__(f"memory task for thread {thread_key!r} failed: {exception!r}")
        self.thread_key, self.payload, self.config, self.exception = thread_key, payload, config, exception
        self.at = at if at is not None else datetime.now(UTC)
        self.__cause__ = exception
