"""The async twin of the llama.cpp engine: the same model and lock, each call run in a worker thread."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from dspy.lm15 import Request, Response, response_to_events

from memspy.pipelines.runtime.llama_prefix import CallStats

if TYPE_CHECKING:
    from memspy.pipelines.runtime.llama_engine import LlamaEngine

__all__ = ["AsyncLlamaEngine"]


class AsyncLlamaEngine:
    """Async twin of :class:`LlamaEngine`: the same model and lock, run in a worker thread."""

    def __init__(self, sync: LlamaEngine) -> None:
        """Wrap ``sync``, the engine that does the work."""
        self.sync = sync

    async def complete(self, request: Request) -> Response:
        """Run one completion off the event loop (its counters recorded for the calling thread too)."""
        response = await asyncio.to_thread(self.sync.complete, request)
        data = (response.provider_data or {}).get("llama_cpp")
        if isinstance(data, dict):
            self.sync.remember(CallStats.from_dict(data))
        return response

    async def stream(self, request: Request) -> AsyncIterator[Any]:
        """Stream events of one completion."""
        response = await self.complete(request)
        for event in response_to_events(response):
            yield event

    async def aclose(self) -> None:
        """Nothing to release; the sync engine owns the model."""
