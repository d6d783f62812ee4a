"""Memory pipelines: DSPy modules that compose signatures with a store."""

from memspy.pipelines.episodes import EpisodeConsolidator, EpisodicStepError, TurnEpisodeExtractor
from memspy.pipelines.episodic import EpisodicMemory
from memspy.pipelines.executor import ReflectionError, ReflectionExecutor, ReflectionFuture
from memspy.pipelines.lm import LocalModelUnavailableError, build_lm, configure_lm, resolve_model_name
from memspy.pipelines.manager import (
    AppliedOperation,
    MemoryExtractionError,
    MemoryManager,
    create_memory_manager,
)
from memspy.pipelines.messages import MessageError, render_transcript
from memspy.pipelines.multi_prompt_optimizer import MultiPromptOptimizer, create_multi_prompt_optimizer
from memspy.pipelines.namespaces import NamespaceConfigError, NamespaceTemplate, configurable, get_config
from memspy.pipelines.privacy import PiiRedactor, redact_patterns
from memspy.pipelines.prompt_optimizer import Prompt, PromptOptimizationError, PromptOptimizer, create_prompt_optimizer
from memspy.pipelines.reflection import Reflector
from memspy.pipelines.retrieval import RankedMemory, RankingWeights, search_memories
from memspy.pipelines.schemas import (
    Episode,
    ExtractedMemory,
    Memory,
    RemoveDoc,
    SchemaError,
    Triple,
    UserProfile,
)
from memspy.pipelines.store_manager import MemoryStoreManager, create_memory_store_manager, default_store
from memspy.pipelines.tools import MemoryTool, MemoryToolError, create_manage_memory_tool, create_search_memory_tool
from memspy.pipelines.usage import Usage

__all__ = [
    "AppliedOperation",
    "Episode",
    "EpisodeConsolidator",
    "EpisodicMemory",
    "EpisodicStepError",
    "ExtractedMemory",
    "LocalModelUnavailableError",
    "Memory",
    "MemoryExtractionError",
    "MemoryManager",
    "MemoryStoreManager",
    "MemoryTool",
    "MemoryToolError",
    "MessageError",
    "MultiPromptOptimizer",
    "NamespaceConfigError",
    "NamespaceTemplate",
    "PiiRedactor",
    "Prompt",
    "PromptOptimizationError",
    "PromptOptimizer",
    "RankedMemory",
    "RankingWeights",
    "ReflectionError",
    "ReflectionExecutor",
    "ReflectionFuture",
    "Reflector",
    "RemoveDoc",
    "SchemaError",
    "Triple",
    "TurnEpisodeExtractor",
    "Usage",
    "UserProfile",
    "build_lm",
    "configurable",
    "configure_lm",
    "create_manage_memory_tool",
    "create_memory_manager",
    "create_memory_store_manager",
    "create_multi_prompt_optimizer",
    "create_prompt_optimizer",
    "create_search_memory_tool",
    "default_store",
    "get_config",
    "redact_patterns",
    "render_transcript",
    "resolve_model_name",
    "search_memories",
]
