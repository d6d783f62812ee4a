"""Compiling the episodic pipelines (``episode``: turn extraction + consolidation; ``reflection``) on labeled data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dspy
import pytest
from dspy.utils import DummyLM

from memspy.cli.optimize import main as optimize_main
from memspy.evals.compile import build_pipeline, compile_program, evaluate_program, make_examples, make_metric
from memspy.evals.compile_episodic import EpisodeRecorder, EpisodesReflector
from memspy.evals.labeled import bundled_dataset, load_labeled, split_records
from memspy.evals.metrics_memory import TextMatcher
from memspy.pipelines.episodic import EpisodicMemory, Reflector
from memspy.stores import EdgeStore, MiniLMEmbedder


def chat(*pairs: str) -> list[dict[str, str]]:
    roles = ("user", "assistant")
    return [{"role": roles[i % 2], "content": text} for i, text in enumerate(pairs)]


def label(situation: str, intent: str, achieved: bool, reflection: str) -> dict[str, Any]:
    return {"situation": situation, "intent": intent, "goal_achieved": achieved, "reflection": reflection}


FLIGHT = label("The user had to move a flight.", "Move a flight to Friday.", True, "Pass dates as YYYY-MM-DD.")
REFUND = label("The user's trip was cancelled.", "Get a refund for the trip.", True, "Ask for the booking reference.")
BAG = label("The user asked about luggage.", "Find the checked bag fee.", False, "Look fees up with get_fees.")
SEAT = label("The user wanted a better seat.", "Get a window seat.", True, "List free seats before change_seat.")
EPISODE_ROWS = [
    {"task": "episode", "id": "flight", "split": "train", "expected": FLIGHT,
     "messages": chat("Move my flight to Friday.", "Moved to 2025-03-14.", "Thanks.", "You're welcome.")},
    {"task": "episode", "id": "refund", "split": "train", "expected": REFUND,
     "messages": chat("My trip was cancelled, refund please.", "Refund issued.")},
    {"task": "episode", "id": "bag", "split": "train", "expected": BAG,
     "messages": chat("What does a checked bag cost?", "30 EUR.")},
    {"task": "episode", "id": "seat", "split": "dev", "expected": SEAT,
     "messages": chat("Can I get a window seat?", "Seat 23A is yours.")},
]  # fmt: skip


def turn(tid: str, case: str, ended: bool) -> dict[str, str]:
    return {
        "turn_id": tid,
        "situation": f"summary of the {case} case, turn {tid}",
        "intent": "help the user",
        "action": "called a booking tool",
        "thought": "the user asked for it",
        "assessment_assistant": "Yes - it worked",
        "assessment_user": "Yes - done" if ended else "No - more to come",
    }


def consolidated(ep: dict[str, Any]) -> dict[str, str]:
    verdict = "Yes - it worked" if ep["goal_achieved"] else "No - it failed"
    return {"situation": ep["situation"], "intent": ep["intent"], "assessment": verdict,
            "justification": "the tool answered", "reflection": ep["reflection"]}  # fmt: skip


# Turn extraction is answered by a phrase of the conversation, consolidation by the turn summaries it is shown.
# The "bag" episode is consolidated wrongly (another intent, the wrong verdict, another lesson).
EPISODE_ANSWERS: dict[str, dict[str, Any]] = {
    "Move my flight": {"turns": [turn("0", "flight", False), turn("1", "flight", True)]},
    "refund please": {"turns": [turn("0", "refund", True)]},
    "checked bag cost": {"turns": [turn("0", "bag", True)]},
    "window seat?": {"turns": [turn("0", "seat", True)]},
    "summary of the flight case": consolidated(FLIGHT),
    "summary of the refund case": consolidated(REFUND),
    "summary of the bag case": consolidated(label("Luggage.", "Book a hotel room.", True, "Use dark mode.")),
    "summary of the seat case": consolidated(SEAT),
}


def lesson(title: str, use: str, hints: str) -> dict[str, str]:
    return {"title": title, "use_cases": use, "hints": hints}


def past(situation: str, reflection: str) -> dict[str, Any]:
    return {"situation": situation, "intent": "help the user", "goal_achieved": True, "reflection": reflection}


DATES = lesson("Dates as YYYY-MM-DD", "Booking tools that take a date.", "Convert spoken dates to YYYY-MM-DD first.")
IDS = lesson("Look up booking references", "Refunds given a flight number.", "Ask for the booking reference.")
FEES = lesson("Look fees up", "Questions about prices.", "Call get_fees before quoting a price.")
UNITS = lesson("Convert units first", "Thermostats given Fahrenheit.", "Convert to Celsius before set_thermostat.")
REFLECTION_ROWS = [
    {"task": "reflection", "id": "dates", "split": "train", "expected": [DATES],
     "episodes": [past("A flight date was refused.", "Spoken dates fail."), past("A train date failed.", "ISO ok.")]},
    {"task": "reflection", "id": "ids", "split": "train", "expected": [IDS],
     "episodes": [past("A refund used a flight number.", "Booking references are needed.")]},
    {"task": "reflection", "id": "fees", "split": "train", "expected": [FEES],
     "episodes": [past("A bag fee was quoted from memory.", "The quote was wrong.")]},
    {"task": "reflection", "id": "free-text", "split": "train", "expected": ["Check before retrying."],
     "episodes": [past("A ticket was created twice.", "A timeout was retried.")]},
    {"task": "reflection", "id": "units", "split": "dev", "expected": [UNITS],
     "episodes": [past("72 degrees was rejected.", "The thermostat takes Celsius.")]},
]  # fmt: skip


def op(x: dict[str, str], confidence: float = 0.7) -> dict[str, Any]:
    return {"operator": "add", "id": None, **x, "confidence": confidence}


WRONG = lesson("Use dark mode", "Reading at night.", "Switch the theme to dark.")
REFLECTION_ANSWERS: dict[str, dict[str, Any]] = {
    "A flight date was refused": {"reflections": [op(DATES)]},
    "A refund used a flight number": {"reflections": [op(IDS)]},
    "A bag fee was quoted": {"reflections": [op(WRONG)]},  # wrong: fails the metric
    "A ticket was created twice": {"reflections": [op(lesson("Check first", "Timeouts.", "Check before retrying."))]},
    "72 degrees was rejected": {"reflections": [op(UNITS)]},
}
ACTOR = {"configurable": {"actor_id": "a"}}


def dummy(answers: dict[str, dict[str, Any]]) -> DummyLM:
    return DummyLM(answers, adapter=dspy.JSONAdapter())


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def first_situation(demo: Any) -> str:  # a pydantic list in a trace, dicts once loaded
    first = getattr(demo["turns"], "root", demo["turns"])[0]
    return str(first["situation"] if isinstance(first, dict) else first.situation).split(",")[0]


@pytest.fixture
def store(tmp_path: Path, embedder: MiniLMEmbedder) -> Any:
    s = EdgeStore(tmp_path / "store", embedder=embedder)
    yield s
    s.close()


@pytest.fixture
def matcher(embedder: MiniLMEmbedder) -> TextMatcher:
    return TextMatcher(embedder)


def examples(task: str, program: Any, tmp_path: Path, split: str | None = None) -> list[dspy.Example]:
    rows = EPISODE_ROWS if task == "episode" else REFLECTION_ROWS
    return make_examples(task, load_labeled(write(tmp_path / f"{task}.jsonl", rows), task=task, split=split), program)


def test_bundled_sets_load_split_and_make_examples(store: EdgeStore) -> None:
    for task, name in (("episode", "episodes"), ("reflection", "reflections")):
        recs = load_labeled(bundled_dataset(name), task=task)
        train, dev = split_records(recs)
        assert len(train) >= 12 and len(dev) >= 4 and len(recs) == len(train) + len(dev)
        program = build_pipeline(task, store=store) if task == "episode" else build_pipeline(task)
        made = make_examples(task, recs, program)
        assert [e.id for e in made] == [r.id for r in recs]
    # Every bundled reflection record labels whole lessons, so each is a complete demo of the reflect step.
    assert all(e.reflections and e.reflections[0]["operator"] == "add" for e in made)


def test_examples_carry_the_inputs_and_the_reflect_steps_labeled_answer(tmp_path: Path, store: EdgeStore) -> None:
    recorder = build_pipeline("episode", store=store)
    assert isinstance(recorder, EpisodeRecorder) and not recorder.generate_reflections
    flight = examples("episode", recorder, tmp_path)[0]
    assert set(flight.inputs().keys()) == {"messages"} and flight.expected == FLIGHT
    reflector = build_pipeline("reflection")
    dates, ids, _fees, free, _units = examples("reflection", reflector, tmp_path)
    assert set(dates.inputs().keys()) == {"episodes"}
    assert dates.episode.startswith("Goal: help the user\nSituation: A flight date was refused.\nOutcome: Yes")
    assert "A train date failed." in dates.relevant_episodes and ids.relevant_episodes == "(none)"
    assert dates.reflections == [op(DATES, 0.5)]  # confidence is not labeled: the pipeline's default
    assert free.get("reflections") is None  # a bare-text lesson is scored, never shown as a demo
    # The labeled inputs are exactly what the reflect step is shown when the reflector is called on the record.
    with dspy.context(lm=dummy(REFLECTION_ANSWERS), trace=[]):
        reflector(**dates.inputs())
        [(_, shown, _)] = dspy.settings.trace
    assert set(shown) == set(reflector.reflect.signature.input_fields)
    assert shown == {k: dates[k] for k in shown}
    with pytest.raises(ValueError, match="takes 'episode' records"):
        make_examples("episode", load_labeled(write(tmp_path / "r.jsonl", REFLECTION_ROWS)), recorder)


def test_metrics_score_a_right_episode_and_lessons_above_wrong_ones(
    tmp_path: Path, store: EdgeStore, matcher: TextMatcher
) -> None:
    recorder = build_pipeline("episode", store=store)
    flight, _refund, bag = examples("episode", recorder, tmp_path, "train")
    metric = make_metric("episode", matcher)
    with dspy.context(lm=dummy(EPISODE_ANSWERS)):
        right, wrong = recorder(**flight.inputs()), recorder(**bag.inputs())
    assert right.episode["goal_achieved"] is True and len(right.episodes) == 1  # the two turns are one episode
    assert metric(flight, right).score == 1.0
    scored = metric(bag, wrong)
    assert scored.score < 0.5 and "Field 'intent' disagrees" in scored.feedback
    assert metric(flight, right, trace=[]) is True and metric(bag, wrong, trace=[]) is False  # bootstrapping
    reflector = build_pipeline("reflection")
    dates, _ids, fees, _free, _units = examples("reflection", reflector, tmp_path)
    metric = make_metric("reflection", matcher)
    with dspy.context(lm=dummy(REFLECTION_ANSWERS)):
        good, bad = reflector(**dates.inputs()), reflector(**fees.inputs())
    assert metric(dates, good).score == 1.0
    assert metric(fees, bad).score == 0.0 and "Missed: Look fees up" in metric(fees, bad).feedback


def test_bootstrap_keeps_passing_traces_of_both_steps_and_they_load_into_episodic_memory(
    tmp_path: Path, store: EdgeStore, matcher: TextMatcher, embedder: MiniLMEmbedder
) -> None:
    recorder = build_pipeline("episode", store=store)
    train = examples("episode", recorder, tmp_path, "train")
    with dspy.context(lm=dummy(EPISODE_ANSWERS)):
        compiled = compile_program(recorder, train, optimizer="bootstrap", metric=make_metric("episode", matcher))
    turns, steps = compiled.turn_extractor.extract_turns.demos, compiled.consolidator.consolidate.demos
    # The wrongly consolidated "bag" trajectory failed the metric; labels are no demos here.
    assert sorted(first_situation(d) for d in turns) == ["summary of the flight case", "summary of the refund case"]
    assert all(d.get("augmented") for d in [*turns, *steps]) and len(steps) == 2
    assert compiled.reflector.reflect.demos == [] and recorder.consolidator.consolidate.demos == []
    path = tmp_path / "episode.json"
    compiled.save(str(path))
    with EdgeStore(tmp_path / "other", embedder=embedder) as other:
        memory = EpisodicMemory(other, redact_with_lm=False, generate_reflections=False)
        memory.load(str(path))
        assert [d["situation"] for d in memory.consolidator.consolidate.demos] == [d["situation"] for d in steps]
        lm = dummy(EPISODE_ANSWERS)
        with dspy.context(lm=lm):
            memory.process(chat("Can I get a window seat?", "Seat 23A is yours."), session_id="s", config=ACTOR)
        sent = " ".join(str(m["content"]) for h in lm.history for m in h["messages"])
        assert "Move my flight to Friday." in sent and FLIGHT["reflection"] in sent  # both steps' demos are shown
    reloaded = build_pipeline("episode", store=store, program=path)
    assert sorted(first_situation(d) for d in reloaded.turn_extractor.extract_turns.demos) == sorted(
        first_situation(d) for d in turns
    )


def test_labeled_gives_the_reflect_step_complete_demos_and_the_episode_none(
    tmp_path: Path, store: EdgeStore, matcher: TextMatcher
) -> None:
    reflector = build_pipeline("reflection")
    train = examples("reflection", reflector, tmp_path, "train")
    compiled = compile_program(reflector, train, optimizer="labeled", metric=make_metric("reflection"), max_demos=5)
    demos = compiled.reflect.demos
    assert sorted(d["id"] for d in demos) == ["dates", "fees", "ids"]  # the bare-text lesson is left out
    path = tmp_path / "reflection.json"
    compiled.save(str(path))
    loaded = Reflector()
    loaded.load(str(path))
    assert [d["reflections"] for d in loaded.reflect.demos] == [d["reflections"] for d in demos]
    lm = dummy(REFLECTION_ANSWERS)
    with dspy.context(lm=lm):
        pred = loaded("Goal: heat a room\nSituation: 72 degrees was rejected.")
    assert [c.title for c in pred.changes] == ["Convert units first"]
    assert "Convert spoken dates to YYYY-MM-DD first." in str(lm.history[-1]["messages"])  # a demo's answer
    recorder = build_pipeline("episode", store=store)
    episodes = examples("episode", recorder, tmp_path, "train")
    plain = compile_program(recorder, episodes, optimizer="labeled", metric=make_metric("episode", matcher))
    assert all(p.demos == [] for p in plain.predictors())


def test_bootstrap_tops_reflection_demos_up_with_labeled_ones(tmp_path: Path, matcher: TextMatcher) -> None:
    reflector = build_pipeline("reflection")
    train = examples("reflection", reflector, tmp_path, "train")
    metric = make_metric("reflection", matcher)
    with dspy.context(lm=dummy(REFLECTION_ANSWERS)):
        compiled = compile_program(reflector, train, optimizer="bootstrap", metric=metric, max_demos=4)
        dev = examples("reflection", reflector, tmp_path, "dev")
        assert evaluate_program(compiled, dev, metric) == 1.0
    traced = [d for d in compiled.reflect.demos if d.get("augmented")]
    # The bare-text lesson's trace passes too: a traced answer is a complete demo even where the label is not.
    assert sorted(d["reflections"][0].title for d in traced) == [
        "Check first", "Dates as YYYY-MM-DD", "Look up booking references",
    ]  # fmt: skip
    # The wrongly answered "fees" record tops them up with its labeled answer, not the LM's.
    [topped] = [d for d in compiled.reflect.demos if not d.get("augmented")]
    assert topped["id"] == "fees" and topped["reflections"] == [op(FEES, 0.5)]


def test_optimize_cli_compiles_episode_and_reflection(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write(tmp_path / "episodes.jsonl", EPISODE_ROWS)
    out = tmp_path / "out" / "episode.json"
    with dspy.context(lm=dummy(EPISODE_ANSWERS)):
        code = optimize_main(["episode", "--train", str(data), "--optimizer", "labeled", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and "3 train, 1 dev" in text
    assert "dev score before: 1.000" in text and "dev score after:  1.000" in text
    assert "(0 demos)" in text and "use --optimizer bootstrap" in text
    assert isinstance(build_pipeline("episode", program=out), EpisodeRecorder)
    out = tmp_path / "bootstrapped.json"
    with dspy.context(lm=dummy(EPISODE_ANSWERS)):
        code = optimize_main(["episode", "--train", str(data), "--optimizer", "bootstrap", "--out", str(out)])
    assert code == 0 and "(4 demos)" in capsys.readouterr().out  # two passing traces, two steps each
    # Without --train, reflection compiles on the bundled set; one answer for every call.
    lm = dummy({"": {"reflections": [op(DATES)]}})
    out = tmp_path / "reflection.json"
    with dspy.context(lm=lm):
        code = optimize_main(["reflection", "--optimizer", "labeled", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and "13 train, 5 dev" in text and "(3 demos)" in text
    loaded = build_pipeline("reflection", program=out)
    assert isinstance(loaded, EpisodesReflector) and len(loaded.reflect.demos) == 3
