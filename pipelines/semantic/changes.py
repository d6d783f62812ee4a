"""The record changes a memory manager's operations make, built on the records as they are stored now.

The store manager shows the LM some records, the LM decides, and only then the changes are built. They are
built on the records re-read under the namespace's write lock (:func:`memspy.pipelines.records.writes.rewrite`),
not on the versions the LM was shown: a change another worker or a hot-path tool wrote meanwhile stays, in
the record and in its history. Operations on one id apply in order, each on the previous one's result, so an
update followed by a delete retires the updated record (and the update is in its history).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from memspy.pipelines.records.format import RecordChange, new_record, retired_record, updated_record
from memspy.pipelines.semantic.operations import AppliedOperation
from memspy.pipelines.semantic.scopes import Scopes

__all__ = ["ChangePlan"]


@dataclass
class ChangePlan:
    """The operations of one manager call and what every record it writes carries.

    Attributes:
        operations: The validated operations, each with its provenance (None for deletes).
        shown: The keys of the records the LM was shown (an update of one deleted since is dropped).
        provenance: The provenance of the call (deletes record it as ``deleted_by``).
        scopes: The manager's scopes; ``scoped``/``metadata``: what new records are stamped with.
    """

    operations: list[tuple[AppliedOperation, dict[str, Any] | None]]
    shown: set[str]
    provenance: dict[str, Any]
    scopes: Scopes
    scoped: dict[str, str]
    metadata: dict[str, Any] | None
    hard_delete: bool = False

    def rereads(self) -> list[str]:
        """The keys to re-read before building: every id an operation changes that it did not create."""
        return [op.id for op, _ in self.operations if op.action != "insert"]

    def build(self, current: dict[str, dict[str, Any] | None]) -> list[RecordChange]:
        """The changes, from ``current`` (each re-read key's stored value, None when it is not stored)."""
        working = dict(current)
        changes: list[RecordChange] = []
        for op, support in self.operations:
            old = working.get(op.id)
            if op.action == "delete":
                if old is None or "invalid_at" in old:
                    continue  # already gone
                if self.hard_delete:
                    working[op.id] = None
                    changes.append(RecordChange("delete", op.id))
                else:
                    working[op.id] = retired_record(old, provenance=self.provenance)
                    changes.append(RecordChange("put", op.id, working[op.id], "delete"))
                continue
            assert op.content is not None  # inserts and updates always carry content
            if op.id in self.shown and (old is None or "invalid_at" in old):
                continue  # deleted since the LM saw it: a delete acknowledged first is not undone
            if old is None or op.action == "insert":
                rec = new_record(op.kind, op.content, importance=op.importance, provenance=support)
                self.scopes.stamp(rec, self.scoped, self.metadata)
                event = "insert"
            else:
                rec = updated_record(old, op.content, importance=op.importance, provenance=support)
                self.scopes.stamp(rec, self.scoped or old.get("scope", {}), self.metadata or old.get("metadata"))
                event = "update"
            working[op.id] = rec
            changes.append(RecordChange("put", op.id, rec, event))
        return changes
