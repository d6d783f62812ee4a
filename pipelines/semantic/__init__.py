"""Semantic memory: facts, triples and profiles extracted from conversations, their schemas, the memory and
store managers, the agent tools, the background executor, the memory searcher, thread summaries, running
summaries of long conversations (short-term memory), and answering from memories."""

from memspy.pipelines.semantic.answer import AnswerJudge, FactJudge, MemoryAnswerer
from memspy.pipelines.semantic.executor import ReflectionExecutor, ReflectionFuture
from memspy.pipelines.semantic.manager import MemoryManager, create_memory_manager
from memspy.pipelines.semantic.operations import AppliedOperation
from memspy.pipelines.semantic.schemas import (
    Episode,
    ExtractedMemory,
    Memory,
    MemorySchema,
    RemoveDoc,
    Triple,
    UserProfile,
    normalize_schemas,
)
from memspy.pipelines.semantic.searcher import MemorySearcher, create_memory_searcher
from memspy.pipelines.semantic.store_manager import MemoryStoreManager, create_memory_store_manager, default_store
from memspy.pipelines.semantic.summarization import (
    RunningSummary,
    SummarizationNode,
    SummarizationResult,
    asummarize_messages,
    summarize_messages,
)
from memspy.pipelines.semantic.threads import ThreadExtractor, ThreadSummary, create_thread_extractor
from memspy.pipelines.semantic.tools import MemoryTool, create_manage_memory_tool, create_search_memory_tool
from memspy.pipelines.semantic.validate import ExistingMemory, parse_existing, validate_operations

__all__ = [
    "AnswerJudge",
    "AppliedOperation",
    "Episode",
    "ExistingMemory",
    "ExtractedMemory",
    "FactJudge",
    "Memory",
    "MemoryAnswerer",
    "MemoryManager",
    "MemorySchema",
    "MemorySearcher",
    "MemoryStoreManager",
    "MemoryTool",
    "ReflectionExecutor",
    "ReflectionFuture",
    "RemoveDoc",
    "RunningSummary",
    "SummarizationNode",
    "SummarizationResult",
    "ThreadExtractor",
    "ThreadSummary",
    "Triple",
    "UserProfile",
    "asummarize_messages",
    "create_manage_memory_tool",
    "create_memory_manager",
    "create_memory_searcher",
    "create_memory_store_manager",
    "create_search_memory_tool",
    "create_thread_extractor",
    "default_store",
    "normalize_schemas",
    "parse_existing",
    "summarize_messages",
    "validate_operations",
]
