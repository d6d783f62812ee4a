"""An engine that answers from a script of raw texts, each with its finish reason (``"stop"``, ``"length"``).

Tests import it by name (``from scripted_engine import scripted``): pytest puts this folder, which holds the
root ``conftest.py``, on ``sys.path``.
"""

from __future__ import annotations

from typing import Any

import dspy
from dspy.lm15 import Message, Response, TextPart, Usage

__all__ = ["ScriptedEngine", "scripted"]


class ScriptedEngine:
    """An engine that returns scripted raw texts with the finish reason each one had."""

    supports_response_schema = False
    supports_function_calling = False
    supports_reasoning = False

    def __init__(self, answers: list[tuple[str, str]]) -> None:
        self.answers = list(answers)
        self.calls = 0

    def complete(self, request: Any) -> Response:
        text, finish = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        return Response(
            id=None,
            model="scripted",
            message=Message.assistant([TextPart(text)]),
            finish_reason=finish,  # type: ignore[arg-type]
            usage=Usage(input_tokens=10, output_tokens=5, total_tokens=15),
        )


def scripted(*answers: tuple[str, str]) -> tuple[dspy.LM, ScriptedEngine]:
    engine = ScriptedEngine(list(answers))
    return dspy.LM("scripted/test", engine=engine, cache=False, num_retries=0), engine
