"""Memory schemas (pydantic models or JSON-schema dicts), the ready-made ones, and LangMem's result types."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from memspy.pipelines.errors import SchemaError

__all__ = [
    "Episode",
    "ExtractedMemory",
    "Memory",
    "MemorySchema",
    "RemoveDoc",
    "Triple",
    "UserProfile",
    "normalize_schemas",
]


class Memory(BaseModel):
    """A single free-text memory."""

    content: str = Field(description="the memory, a self-contained sentence")


class Triple(BaseModel):
    """A fact as subject, predicate, object, with optional context."""

    subject: str
    predicate: str
    object: str
    context: str | None = None


class UserProfile(BaseModel):
    """The full representation of a user."""

    name: str | None = Field(default=None, description="the user's name")
    location: str | None = Field(default=None, description="where the user lives: city, region or country")
    language: str | None = Field(default=None, description="the language the user speaks or wants answers in")
    timezone: str | None = None


class Episode(BaseModel):
    """An episode worth learning from: what happened, the reasoning, the action and its outcome."""

    observation: str = Field(description="the context and setup: what happened")
    thoughts: str = Field(description="the internal reasoning and observations behind the decisions")
    action: str = Field(description="what was done, how, and in what form")
    result: str = Field(description="the outcome and retrospective: what worked and what to do differently")


class RemoveDoc(BaseModel):
    """Marks the memory ``json_doc_id`` for removal."""

    json_doc_id: str


class ExtractedMemory(NamedTuple):
    """A memory produced by a manager: its id and its content (a schema instance or ``RemoveDoc``)."""

    id: str
    content: BaseModel


_JSON_TYPES: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool, "null": type(None)}


def _py_type(prop: dict[str, Any], name: str) -> Any:
    if "enum" in prop:
        return Literal[tuple(prop["enum"])]
    if "anyOf" in prop:
        types = tuple(_py_type(p, name) for p in prop["anyOf"])
        out = types[0]
        for t in types[1:]:
            out = out | t
        return out
    t = prop.get("type", "string")
    if isinstance(t, list):
        return _py_type({"anyOf": [{**prop, "type": x} for x in t]}, name)
    if t == "array":
        return list[_py_type(prop.get("items", {"type": "string"}), name)]  # type: ignore[misc]
    if t == "object":
        if "properties" in prop:
            return _model_from_json_schema({"title": name.title(), **prop})
        return dict[str, Any]
    if t not in _JSON_TYPES:
        raise SchemaError(f"schema property {name!r} has unsupported type {t!r}")
    return _JSON_TYPES[t]


def _model_from_json_schema(schema: dict[str, Any]) -> type[BaseModel]:
    title = schema.get("title")
    if not title or not isinstance(title, str):
        raise SchemaError("a JSON-schema memory schema needs a 'title' (its kind name), e.g. {'title': 'Preference'}")
    props = schema.get("properties")
    if not isinstance(props, dict) or not props:
        raise SchemaError(f"schema {title!r} needs a non-empty 'properties' object")
    required = set(schema.get("required", []))
    fields: dict[str, Any] = {}
    for key, prop in props.items():
        typ = _py_type(prop, key)
        desc = prop.get("description")
        default = ... if key in required else prop.get("default")
        if key not in required and default is None:
            typ = typ | None
        fields[key] = (typ, Field(default, description=desc))
    model = create_model(title, __config__=ConfigDict(extra="forbid"), **fields)
    model.__doc__ = schema.get("description") or f"A {title} memory."
    return model


@dataclass(frozen=True)
class MemorySchema:
    """A memory kind: its name, description and pydantic model."""

    name: str
    description: str
    model: type[BaseModel]

    def validate(self, content: Any) -> BaseModel:
        """Validate LM output against the schema; a bare string fills a single string field."""
        if isinstance(content, str):
            fields = list(self.model.model_fields)
            try:
                content = json.loads(content) if content.strip().startswith("{") else {fields[0]: content}
            except json.JSONDecodeError:
                content = {fields[0]: content}
        if isinstance(content, BaseModel):
            content = content.model_dump()
        try:
            return self.model.model_validate(content)
        except ValidationError as e:
            raise SchemaError(f"content for kind {self.name!r} is invalid: {e.errors(include_url=False)}") from None

    def describe(self) -> str:
        props = self.model.model_json_schema().get("properties", {})
        fields = ", ".join(f"{k} ({v.get('type', 'any')})" for k, v in props.items())
        return f"{self.name}: {self.description.strip()} Fields: {fields}."


def normalize_schemas(schemas: Any) -> list[MemorySchema]:
    """Accept pydantic models and JSON-schema dicts; return them with unique names.

    Raises:
        SchemaError: an unsupported schema or duplicate names.
    """
    if schemas is None:
        schemas = [Memory]
    if isinstance(schemas, type | dict):
        schemas = [schemas]
    out: list[MemorySchema] = []
    for s in schemas:
        if isinstance(s, type) and issubclass(s, BaseModel):
            model = s
        elif isinstance(s, dict):
            model = _model_from_json_schema(s)
        else:
            raise SchemaError(f"schemas must be pydantic models or JSON-schema dicts, got {s!r}")
        out.append(MemorySchema(model.__name__, (model.__doc__ or model.__name__).strip(), model))
    names = [s.name for s in out]
    if len(set(names)) != len(names) or not out:
        raise SchemaError(f"schema names must be unique and at least one is needed, got {names}")
    return out
