"""Evaluation: LoCoMo and JSONL datasets, retrieval and QA metrics, the eval harness, benchmarks."""

from memspy.evals.harness import EvalConfig, run_eval
from memspy.evals.jsonl import load_dataset
from memspy.evals.labeled import LabeledDataError, LabeledRecord, bundled_dataset, load_labeled
from memspy.evals.locomo import Conversation, Question, Session, Turn, load_locomo
from memspy.evals.metrics import locomo_f1, qa_score, recall_at_k, token_f1
from memspy.evals.metrics_memory import EpisodeMetric, ExtractionMetric, ReflectionMetric, float_metric
from memspy.evals.pipelines import Hit, MemoryPipeline, PipelineContext

__all__ = [
    "Conversation",
    "EpisodeMetric",
    "EvalConfig",
    "ExtractionMetric",
    "Hit",
    "LabeledDataError",
    "LabeledRecord",
    "MemoryPipeline",
    "PipelineContext",
    "Question",
    "ReflectionMetric",
    "Session",
    "Turn",
    "bundled_dataset",
    "float_metric",
    "load_dataset",
    "load_labeled",
    "load_locomo",
    "locomo_f1",
    "qa_score",
    "recall_at_k",
    "run_eval",
    "token_f1",
]
