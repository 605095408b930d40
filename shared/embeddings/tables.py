"""The vectors of items and proposals (pgvector), one row per thing, with the model and the dimension
they were made with and the hash of the text they were made from."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Column, DateTime, ForeignKey, Index, LargeBinary, SmallInteger, String, Table, cast, func
from sqlalchemy.types import UserDefinedType

from shared.tables import metadata

# Every model's vectors have this many dimensions: Vertex AI's text embeddings are asked for
# this many (outputDimensionality), the local model makes them natively.
DIMENSIONS = 256


class Vector(UserDefinedType[list[float]]):
    """pgvector's ``vector(n)``, bound as its text form ('[1,2,3]') and cast by PostgreSQL."""

    cache_ok = True

    def __init__(self, dimensions: int | None = None) -> None:
        self.dimensions = dimensions

    def get_col_spec(self, **kw: Any) -> str:
        return f"vector({self.dimensions})" if self.dimensions else "vector"

    def bind_expression(self, bindvalue: Any) -> Any:
        return cast(bindvalue, self)

    def bind_processor(self, dialect: Any):
        return lambda value: None if value is None else literal(value)

    def result_processor(self, dialect: Any, coltype: Any):
        return lambda value: None if value is None else [float(x) for x in value.strip("[]").split(",")]


def literal(vector: list[float]) -> str:
    """A vector as pgvector reads it."""
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"


def _vectors(name: str, of: str) -> Table:
    return Table(
        name,
        metadata,
        Column("id", ForeignKey(f"{of}.id", ondelete="CASCADE"), primary_key=True),
        Column("model", String(64), nullable=False),
        Column("dimensions", SmallInteger, nullable=False),
        # sha256 of the model and the text: an event that changed nothing the text says embeds nothing.
        Column("content_hash", LargeBinary(32), nullable=False),
        Column("embedding", Vector(DIMENSIONS), nullable=False),
        Column("embedded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        # Cosine distance, the query's order (shared/embeddings/search.py).
        Index(f"ix_{name}_hnsw", "embedding", postgresql_using="hnsw",
              postgresql_ops={"embedding": "vector_cosine_ops"}),
    )


item_vectors = _vectors("item_vectors", "items")
proposal_vectors = _vectors("proposal_vectors", "proposals")


def _reflect_vectors() -> None:
    """Reflection (the schema test, Alembic's comparison) knows the type by name."""
    from sqlalchemy.dialects.postgresql.base import ischema_names

    ischema_names.setdefault("vector", Vector)


_reflect_vectors()
