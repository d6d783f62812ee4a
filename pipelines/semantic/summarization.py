"""Short-term memory: keep a long conversation within a token budget by folding its oldest messages into a summary.

LangMem's ``summarize_messages`` / ``SummarizationNode`` / ``RunningSummary``. When the messages not yet
summarized exceed ``max_tokens_before_summary`` (default ``max_tokens``), the oldest of them are summarized (one
LM call, signature ``SummarizeConversation``, predictor ``summarize``, extending the running summary) so that
the summary (at most ``max_summary_tokens``) plus the newest messages fit in ``max_tokens``. The result is the
leading system message (if any), a system message ``"Summary of the conversation so far: ..."``, then the kept
messages; a tool result is never kept without the call it answers. The :class:`RunningSummary` remembers which
message ids it covers, so the next call only summarizes what is new.

Tokens are counted with LiteLLM's tokenizer for the LM's model (a real BPE tokenizer, offline; OpenAI's for
models it does not know), or any ``token_counter(messages) -> int``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import dspy

from memspy.pipelines.runtime.messages import message_ids, normalize_messages, render_transcript
from memspy.pipelines.runtime.steps import predictor, resolve_lm, run_step
from memspy.pipelines.runtime.usage import Usage
from memspy.signatures.summaries import SummarizeConversation

__all__ = ["RunningSummary", "SummarizationNode", "SummarizationResult", "asummarize_messages", "summarize_messages"]

SUMMARY_PREFIX = "Summary of the conversation so far: "
TokenCounter = Callable[[Sequence[Any]], int]


@dataclass
class RunningSummary:
    """The summary so far and the ids of the messages it covers."""

    summary: str
    summarized_message_ids: set[str] = field(default_factory=set)
    last_summarized_message_id: str | None = None


@dataclass
class SummarizationResult:
    """The messages to send to the model, and the running summary to keep for the next call."""

    messages: list[Any]
    running_summary: RunningSummary | None = None
    usage: Usage = field(default_factory=Usage)


def litellm_counter(model: str | None) -> TokenCounter:
    """Count tokens as LiteLLM's tokenizer for ``model`` does (chat formatting overhead included)."""
    name = model or "gpt-4o"

    def count(messages: Sequence[Any]) -> int:
        import litellm  # takes seconds to import: only once something is counted (DSPy's LM calls import it too)

        norm = normalize_messages(list(messages))
        plain = [{"role": str(m.get("role")), "content": render_transcript([m])} for m in norm]
        return int(litellm.token_counter(model=name, messages=plain)) if plain else 0

    return count


def _summary_message(like: Any, summary: str) -> Any:
    if isinstance(like, dict) or not hasattr(like, "content"):
        return {"role": "system", "content": SUMMARY_PREFIX + summary}
    from langchain_core.messages import SystemMessage  # the caller's messages are LangChain's, so it is installed

    return SystemMessage(content=SUMMARY_PREFIX + summary)


class _Summarizer(dspy.Module):
    def __init__(self, lm: Any = None, max_retries: int = 1) -> None:
        super().__init__()
        self.summarize = predictor(SummarizeConversation, lm)
        self.max_retries = max_retries

    def forward(self, existing: str, transcript: str, max_words: int, usage: Usage) -> str:
        def validate(pred: dspy.Prediction) -> tuple[str, list[str]]:
            text = str(pred.summary or "").strip()
            if not text:
                return text, ["the summary is empty: summarize the messages"]
            words = len(text.split())
            if words > 2 * max_words:
                return text, [f"the summary has {words} words; the budget is {max_words}: shorten it"]
            return text, []

        return run_step(
            self.summarize,
            "summarize",
            usage,
            validate,
            self.max_retries,
            existing_summary=existing,
            messages=transcript,
            max_words=max_words,
        )


def _cut(tokens: list[int], roles: list[str], budget: int) -> int:
    """Index of the first kept message: the newest messages that fit in ``budget`` (at least the last one)."""
    cut, used = len(tokens) - 1, tokens[-1]
    while cut > 0 and used + tokens[cut - 1] <= budget:
        cut -= 1
        used += tokens[cut]
    while cut < len(tokens) - 1 and roles[cut] == "tool":  # its call goes into the summary: so does the result
        cut += 1
    return cut


def summarize_messages(
    messages: Sequence[Any],
    *,
    running_summary: RunningSummary | None = None,
    lm: Any = None,
    model: Any = None,
    max_tokens: int = 1024,
    max_tokens_before_summary: int | None = None,
    max_summary_tokens: int = 256,
    token_counter: TokenCounter | None = None,
    summarizer: Any = None,
) -> SummarizationResult:
    """Summarize the oldest messages when the conversation is over budget (see the module docstring).

    Args:
        messages: The whole conversation (dicts or LangChain messages), oldest first.
        running_summary: What the previous call returned, if any.
        lm: The LM that writes the summary (``model`` is LangMem's name for it); default: the configured one.
        max_tokens: The budget of the returned messages.
        max_tokens_before_summary: Summarize once the unsummarized messages exceed this (default ``max_tokens``).
        max_summary_tokens: The budget of the summary itself.
        token_counter: ``f(messages) -> int``; default: LiteLLM's tokenizer for the LM's model.
        summarizer: A module with ``forward(existing, transcript, max_words, usage)`` (to reuse a compiled one).
    """
    if max_summary_tokens >= max_tokens:
        raise ValueError(f"max_summary_tokens ({max_summary_tokens}) must be below max_tokens ({max_tokens})")
    resolved = resolve_lm(lm if lm is not None else model)
    count = token_counter or litellm_counter(getattr(resolved or dspy.settings.lm, "model", None))
    items, norm = list(messages), normalize_messages(list(messages))
    ids = message_ids(norm)
    head = [items[0]] if norm and norm[0].get("role") == "system" else []
    done = running_summary.summarized_message_ids if running_summary else set()
    rest = [(i, m, n) for i, m, n in list(zip(ids, items, norm, strict=True))[len(head) :] if i not in done]
    prefix = [_summary_message(items[0] if items else {}, running_summary.summary)] if running_summary else []
    tokens = [count([n]) for _, _, n in rest]
    if not rest or sum(tokens) <= (max_tokens_before_summary or max_tokens):
        return SummarizationResult(head + prefix + [m for _, m, _ in rest], running_summary)
    cut = max(1, _cut(tokens, [str(n.get("role")) for _, _, n in rest], max_tokens - max_summary_tokens))
    old, kept = rest[:cut], rest[cut:]
    usage = Usage()
    writer = summarizer or _Summarizer(resolved)
    summary = writer(
        running_summary.summary if running_summary else "",
        render_transcript([n for _, _, n in old]),
        max(10, int(max_summary_tokens * 0.75)),
        usage,
    )
    new = RunningSummary(summary, set(done) | {i for i, _, _ in old}, old[-1][0])
    out = head + [_summary_message(items[0], summary)] + [m for _, m, _ in kept]
    return SummarizationResult(out, new, usage)


async def asummarize_messages(messages: Sequence[Any], **kwargs: Any) -> SummarizationResult:
    """:func:`summarize_messages` on a worker thread."""
    return await asyncio.to_thread(lambda: summarize_messages(messages, **kwargs))


class SummarizationNode:
    """A LangGraph node (any callable of the state) that keeps the messages it passes on within budget.

    Reads ``state[input_messages_key]`` and ``state["context"]["running_summary"]``; returns
    ``{output_messages_key: messages, "context": {"running_summary": ...}}``. Keep the default output key
    (``"summarized_messages"``) so the full history stays in ``"messages"``, as LangMem does.

    Args:
        **kwargs: ``lm``/``model``, ``max_tokens``, ``max_tokens_before_summary``, ``max_summary_tokens``,
            ``token_counter`` (see :func:`summarize_messages`).
    """

    def __init__(
        self,
        *,
        input_messages_key: str = "messages",
        output_messages_key: str = "summarized_messages",
        max_retries: int = 1,
        **kwargs: Any,
    ) -> None:
        self.input_messages_key, self.output_messages_key = input_messages_key, output_messages_key
        lm = resolve_lm(kwargs.pop("lm", None) or kwargs.pop("model", None))  # once: "local" loads a model
        self.kwargs = {**kwargs, "lm": lm}
        self.summarizer = _Summarizer(lm, max_retries)
        self.__name__ = "summarization"

    def __call__(self, state: Any) -> dict[str, Any]:
        get = state.get if isinstance(state, dict) else lambda k, d=None: getattr(state, k, d)
        context = dict(get("context") or {})
        result = summarize_messages(
            get(self.input_messages_key) or [],
            running_summary=context.get("running_summary"),
            summarizer=self.summarizer,
            **self.kwargs,
        )
        context["running_summary"] = result.running_summary
        return {self.output_messages_key: result.messages, "context": context}
