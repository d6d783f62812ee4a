"""Answering from memories and judging the answer, as DSPy modules over the QA signatures."""

from __future__ import annotations

import dspy
from dspy.utils import DummyLM

from memspy.pipelines.semantic import AnswerJudge, MemoryAnswerer


def test_answerer_strips_and_judge_reads_the_verdict() -> None:
    lm = DummyLM([{"answer": "  Oslo  "}, {"verdict": "WRONG"}, {"verdict": "CORRECT"}], adapter=dspy.JSONAdapter())
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        pred = MemoryAnswerer()(memories="[5 March 2024] Cara moved to Oslo.", question="Where did Cara move?")
        wrong = AnswerJudge()(question="Where?", gold_answer="Bergen", answer=pred.answer)
        right = AnswerJudge()(question="Where?", gold_answer="Oslo", answer=pred.answer)
    assert pred.answer == "Oslo"
    assert (wrong.verdict, wrong.correct, right.correct) == ("WRONG", False, True)
    assert "Cara moved to Oslo" in lm.history[0]["messages"][-1]["content"]


def test_predictors_are_named_for_saved_programs() -> None:
    assert [n for n, _ in MemoryAnswerer().named_predictors()] == ["answer"]
    assert [n for n, _ in AnswerJudge().named_predictors()] == ["judge"]
