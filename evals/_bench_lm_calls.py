"""The fixed set of real memspy LM calls that ``memspy bench lm`` times: extraction (uncompiled and with a
compiled program's demos), turn episodes, reflections, and one LoCoMo session through the semantic pipeline.

Each call is a function of nothing that runs one memspy module with the LM configured by the caller and returns
its result in a comparable form (JSON text without random ids), so the old and new runtime paths can be checked
for identical parsed outputs.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import dspy

from memspy.evals.compile import build_pipeline, labeled_demos, make_examples
from memspy.evals.labeled import LabeledRecord, bundled_dataset, load_labeled, split_records
from memspy.evals.locomo import load_locomo
from memspy.pipelines import Reflector, TurnEpisodeExtractor, create_memory_store_manager
from memspy.stores import EdgeStore

__all__ = ["EPISODES", "BenchCall", "extraction_calls", "locomo_calls", "reflection_calls", "turn_episode_calls"]

# Benchmark inputs for the reflection step (no labeled set holds episodes yet): short agent episodes.
EPISODES = (
    "Situation: a user asked to move flight ABC123 to Friday 14 March. The agent called change_booking with "
    "new_date='Friday 14 March'; the tool rejected it (expected YYYY-MM-DD). The agent retried with 2025-03-14 "
    "and the booking moved. Assessment: succeeded after one failed tool call.",
    "Situation: a user asked for a refund of booking XYZ9. The agent called refund() with the flight number "
    "instead of the booking reference and got 'unknown booking'; it asked the user and retried with XYZ9. "
    "Assessment: succeeded, one wasted call.",
    "Situation: a user wanted a window seat on flight LH400. The agent called change_seat with seat='window'; "
    "the tool needs a seat number, so the agent listed free seats first and booked 23A. Assessment: succeeded.",
    "Situation: a user asked to add a checked bag. The agent answered from memory that bags cost 30 EUR without "
    "calling get_fees; the real fee was 45 EUR and the user complained. Assessment: failed.",
)


@dataclass(frozen=True)
class BenchCall:
    """One benchmark call: its kind (``extract``, ``extract_demos``, ``episode``, ``reflect``, ``locomo``), a label,
    the function that runs it and returns the comparable output, and the module it calls (for ``--warm``)."""

    kind: str
    label: str
    run: Callable[[], str]
    program: dspy.Module | None = None


def _ops_text(prediction: Any) -> str:
    """Applied operations without the random ids of inserts."""
    ops = []
    for op in prediction.operations:
        content = op.content.model_dump() if op.content is not None else None
        ops.append([op.action, op.id if op.action != "insert" else None, op.kind, content, op.importance])
    return json.dumps(ops, sort_keys=True, default=str)


def _records(n: int) -> tuple[list[LabeledRecord], list[LabeledRecord]]:
    """The train records, and ``n`` dev records: half with existing memories (updates, deletes), half without."""
    train, dev = split_records(load_labeled(bundled_dataset(), task="extract"))
    with_existing = [r for r in dev if r.fields.get("existing")]
    without = [r for r in dev if not r.fields.get("existing")]
    picked = [r for pair in zip(without, with_existing, strict=False) for r in pair]
    return train, (picked + [r for r in dev if r not in picked])[:n]


def extraction_calls(n: int, demos: int = 0) -> list[BenchCall]:
    """Extraction on ``n`` dev records of the bundled labeled set, alternating records with and without existing
    memories.

    Args:
        n: How many calls.
        demos: With > 0, the program is compiled first with ``demos`` labeled demos per predictor from the train
            records (:func:`~memspy.evals.compile.labeled_demos`, memspy's LabeledFewShot), so its demos are in
            every prompt (kind ``extract_demos``).
    """
    train, dev = _records(n)
    program = build_pipeline("extract")
    if demos:
        program = labeled_demos(program, make_examples("extract", train, program), demos)
    kind = "extract_demos" if demos else "extract"
    calls = []
    for record in dev:
        inputs = record.to_example().inputs().toDict()

        def run(inputs: dict[str, Any] = inputs) -> str:
            return _ops_text(program(messages=inputs["messages"], existing=inputs.get("existing")))

        calls.append(BenchCall(kind, record.id, run, program))
    return calls


def turn_episode_calls(n: int) -> list[BenchCall]:
    """Turn summaries (``TurnEpisodeExtractor``) of the first ``n`` multi-message dev conversations."""
    extractor = TurnEpisodeExtractor()
    _, dev = _records(10 * n)
    chats = [r for r in dev if len(r.fields["messages"]) >= 2][:n]

    def call(record: LabeledRecord) -> BenchCall:
        def run() -> str:
            return json.dumps(extractor(messages=record.fields["messages"]).turns, sort_keys=True, default=str)

        return BenchCall("episode", record.id, run, extractor)

    return [call(r) for r in chats]


def reflection_calls(n: int) -> list[BenchCall]:
    """Reflections (``Reflector``) on the first ``n`` of :data:`EPISODES`, each with the others as context."""
    reflector = Reflector()

    def call(i: int) -> BenchCall:
        def run() -> str:
            others = [e for j, e in enumerate(EPISODES) if j != i][:2]
            changes = reflector(episode=EPISODES[i], relevant_episodes=others).changes
            return json.dumps([{**asdict(c), "id": None} for c in changes], sort_keys=True, default=str)

        return BenchCall("reflect", f"episode-{i + 1}", run, reflector)

    return [call(i) for i in range(min(n, len(EPISODES)))]


def locomo_calls(
    path: str | Path, turns: int, chunk: int, workdir: Path | None = None
) -> tuple[list[BenchCall], list[EdgeStore]]:
    """The first ``turns`` turns of LoCoMo's first session through the store manager, ``chunk`` turns per call.

    Each LM (old path, new path) writes to its own EdgeStore, so each keeps the memories it wrote.

    Returns:
        The calls, and the stores they open (close them when done).
    """
    conversation = load_locomo(path)[0]
    session = conversation.sessions[0]
    picked = session.turns[:turns]
    root = Path(workdir or tempfile.mkdtemp(prefix="memspy-bench-lm-"))
    managers: dict[int, Any] = {}
    stores: list[EdgeStore] = []

    def manager() -> Any:
        key = id(dspy.settings.lm)  # one store per LM: the old and the new path
        if key not in managers:
            stores.append(EdgeStore(root / f"store-{len(managers)}"))
            managers[key] = create_memory_store_manager(namespace=("bench", "locomo"), store=stores[-1])
        return managers[key]

    def call(start: int) -> BenchCall:
        def run() -> str:
            msgs: list[dict[str, Any]] = [{"role": "system", "content": f"[session date: {session.date}]"}]
            for t in picked[start : start + chunk]:
                msgs.append({"role": "user", "name": t.speaker, "content": t.text, "id": t.dia_id})
            events = manager()(messages=msgs, config={"configurable": {}}).events
            return json.dumps(sorted(str(e.get("event")) for e in events))

        return BenchCall("locomo", f"turns {start + 1}-{min(start + chunk, len(picked))}", run)

    return [call(s) for s in range(0, len(picked), chunk)], stores
