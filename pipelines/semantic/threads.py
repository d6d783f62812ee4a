"""The thread extractor (LangMem's ``create_thread_extractor``): one structured summary of a whole conversation.

One LM call (signature ``ExtractThread``, predictor ``extract``) fills the schema: by default
``ThreadSummary(title, summary)``, or any pydantic model or JSON-schema dict, which becomes the output type so
constrained decoding produces exactly its fields. An answer that does not parse is retried.
"""

from __future__ import annotations

import asyncio
from typing import Any

import dspy
from pydantic import BaseModel

from memspy.pipelines.runtime.messages import normalize_messages, render_transcript
from memspy.pipelines.runtime.steps import accept, predictor, run_step
from memspy.pipelines.runtime.usage import Usage, UsageMeter
from memspy.pipelines.semantic.schemas import normalize_schemas
from memspy.signatures.summaries import ExtractThread, ThreadSummary

__all__ = ["ThreadExtractor", "ThreadSummary", "create_thread_extractor"]


class ThreadExtractor(dspy.Module):
    """Summarizes a conversation thread into a schema (see the module docstring).

    Args:
        lm: A ``dspy.LM``, a model string, or None for the configured LM.
        schema: A pydantic model or a JSON-schema dict with a ``title`` (default :class:`ThreadSummary`).
        instructions: Replaces the extraction instructions.
        max_retries: Extra attempts after an answer that does not parse.

    Example:
        >>> extractor = create_thread_extractor("local")  # doctest: +SKIP
        >>> extractor.invoke({"messages": msgs}).title
    """

    def __init__(
        self, lm: Any = None, *, schema: Any = None, instructions: str | None = None, max_retries: int = 1
    ) -> None:
        super().__init__()
        model = ThreadSummary if schema is None else normalize_schemas(schema)[0].model
        self.schema: type[BaseModel] = model
        signature = ExtractThread.with_updated_fields("thread", type_=model)
        self.extract = predictor(signature.with_instructions(instructions) if instructions else signature, lm)
        self.max_retries = max_retries
        self.usage = UsageMeter()

    def forward(self, messages: Any) -> dspy.Prediction:
        """Return ``Prediction(thread=<schema instance>, usage=Usage)``."""
        usage = Usage()
        pred = run_step(
            self.extract,
            "extract",
            usage,
            accept,
            self.max_retries,
            conversation=render_transcript(normalize_messages(messages)),
        )
        thread = pred.thread if isinstance(pred.thread, self.schema) else self.schema.model_validate(pred.thread)
        self.usage.record(usage)
        return dspy.Prediction(thread=thread, usage=usage)

    def invoke(self, input: dict[str, Any] | list[Any], config: dict[str, Any] | None = None) -> BaseModel:
        """LangMem's shape: ``invoke({"messages": [...]})`` -> the schema instance."""
        return self(messages=input["messages"] if isinstance(input, dict) else input).thread

    async def ainvoke(self, input: dict[str, Any] | list[Any], config: dict[str, Any] | None = None) -> BaseModel:
        return await asyncio.to_thread(self.invoke, input, config)


def create_thread_extractor(
    lm: Any = None, schema: Any = None, instructions: str | None = None, **kwargs: Any
) -> ThreadExtractor:
    """Create a thread extractor (LangMem's ``create_thread_extractor(model, schema, instructions)``)."""
    return ThreadExtractor(lm, schema=schema, instructions=instructions, **kwargs)
