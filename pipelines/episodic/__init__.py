"""Episodic memory: turn summaries, episode boundaries and consolidation, reflections with enforced rules,
PII redaction, open sessions, and :class:`EpisodicMemory` which runs them over a store."""

from memspy.pipelines.episodic.episodes import EpisodeConsolidator, TurnEpisodeExtractor
from memspy.pipelines.episodic.memory import EpisodicMemory
from memspy.pipelines.episodic.privacy import PiiRedactor, redact_patterns
from memspy.pipelines.episodic.records import format_episodes, format_reflections, render_episode
from memspy.pipelines.episodic.reflection import ReflectionChange, Reflector

__all__ = [
    "EpisodeConsolidator",
    "EpisodicMemory",
    "PiiRedactor",
    "ReflectionChange",
    "Reflector",
    "TurnEpisodeExtractor",
    "format_episodes",
    "format_reflections",
    "redact_patterns",
    "render_episode",
]
