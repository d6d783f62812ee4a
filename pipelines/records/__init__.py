"""The one stored record format, namespace templates, and ranked recall: what every memory kind writes and
reads. Imports only ``runtime`` (and ``memspy.stores``)."""

from memspy.pipelines.records.format import (
    ACTIVE,
    INDEX_FIELDS,
    MAX_HISTORY,
    RecordChange,
    apply_changes,
    is_active,
    new_record,
    now_iso,
    render_content,
    retired_record,
    updated_record,
)
from memspy.pipelines.records.namespaces import NamespaceTemplate, configurable, get_config
from memspy.pipelines.records.recall import RankedMemory, RankingWeights, rank, search_memories

__all__ = [
    "ACTIVE",
    "INDEX_FIELDS",
    "MAX_HISTORY",
    "NamespaceTemplate",
    "RankedMemory",
    "RankingWeights",
    "RecordChange",
    "apply_changes",
    "configurable",
    "get_config",
    "is_active",
    "new_record",
    "now_iso",
    "rank",
    "render_content",
    "retired_record",
    "search_memories",
    "updated_record",
]
