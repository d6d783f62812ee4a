"""Which messages support a memory: word overlap, and the store's embedder where it has one.

A memory written by the facts design paraphrases its source ("Priya adopted a beagle" from "I just adopted a
beagle puppy"), so word overlap alone often misses the turn. With an embedder, each memory also cites the
messages most similar to it (cosine within ``margin`` of the best and at least ``floor``), at most ``max_ids``;
when nothing stands out it cites every spoken message (never a system line such as a session date).
"""

from __future__ import annotations

from typing import Any

from memspy.pipelines.runtime.messages import supporting_messages

__all__ = ["supporting_ids"]


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    return content if isinstance(content, str) else ""


def supporting_ids(
    embedder: Any,
    texts: list[str],
    messages: list[dict[str, Any]],
    ids: list[str],
    *,
    max_ids: int = 3,
    floor: float = 0.3,
    margin: float = 0.1,
) -> list[list[str]]:
    """For each memory text, the ids of the messages that most likely support it (see the module docstring)."""
    by_words = [supporting_messages(t, messages, ids, max_ids=max_ids) for t in texts]
    spoken = [i for i, m in enumerate(messages) if m.get("role") not in ("system", "tool") and _text(m).strip()]
    if embedder is None or not hasattr(embedder, "embed_documents") or not texts or not spoken:
        return by_words
    msg_vecs = embedder.embed_documents([_text(messages[i]) for i in spoken])
    mem_vecs = embedder.embed_documents(texts)
    out = []
    for words, mv in zip(by_words, mem_vecs, strict=True):
        sims = [float(sum(a * b for a, b in zip(mv, v, strict=True))) for v in msg_vecs]
        best = max(sims)
        ranked = sorted(range(len(spoken)), key=lambda j: -sims[j])
        near = [ids[spoken[j]] for j in ranked if sims[j] >= max(floor, best - margin)][:max_ids]
        spoken_ids = {ids[i] for i in spoken}
        # "all ids" means word overlap found nothing; a system line (a session date) is context, not evidence
        precise = [w for w in words if len(words) < len(ids) and w in spoken_ids]
        out.append(list(dict.fromkeys(near + precise))[:max_ids] or [ids[i] for i in spoken])
    return out
