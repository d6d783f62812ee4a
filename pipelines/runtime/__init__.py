"""The machinery every memory kind shares: building LMs, the llama.cpp engine, model files, usage metering,
transcripts, and the one predict-validate-retry loop. Imports no other pipelines sub-package."""

from memspy.pipelines.runtime.llama_engine import AsyncLlamaEngine, LlamaEngine
from memspy.pipelines.runtime.lm import (
    build_lm,
    check_lm,
    configure_lm,
    default_adapter,
    is_local_lm,
    resolve_model_name,
)
from memspy.pipelines.runtime.messages import message_ids, normalize_messages, render_transcript, supporting_messages
from memspy.pipelines.runtime.model_files import assemble_local_model, local_model_path, model_home
from memspy.pipelines.runtime.steps import accept, predictor, rejected, resolve_lm, run_step
from memspy.pipelines.runtime.strict_json import StrictJSONAdapter
from memspy.pipelines.runtime.usage import Usage, UsageMeter, measure

__all__ = [
    "AsyncLlamaEngine",
    "LlamaEngine",
    "StrictJSONAdapter",
    "Usage",
    "UsageMeter",
    "accept",
    "assemble_local_model",
    "build_lm",
    "check_lm",
    "configure_lm",
    "default_adapter",
    "is_local_lm",
    "local_model_path",
    "measure",
    "message_ids",
    "model_home",
    "normalize_messages",
    "predictor",
    "rejected",
    "render_transcript",
    "resolve_lm",
    "resolve_model_name",
    "run_step",
    "supporting_messages",
]
