"""Keeping the vectors: an item's or a proposal's text embedded again when it changed.

What is embedded is what the search shows and people describe: the title, the tags, the
category and the description (its first DOCUMENT_CHARS characters; models truncate anyway).
A row keeps the sha256 of its model and text, so an event that changed nothing the text says
(a price, a state) costs no model call; a row of another model is made again. Every row has
one (a draft's too: publishing it changes nothing here), and a deleted thing's vector goes with
it (the foreign key). Visibility is the search's business, not this table's.
"""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Table, func, select, text
from sqlalchemy.dialects.postgresql import insert

from shared.embeddings.tables import DIMENSIONS, item_vectors, proposal_vectors

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from shared.embeddings.models import Embedder

DOCUMENT_CHARS = 2_000
# The events whose thing's text may have changed, and its kind (functions.yaml's filter names them).
EVENT_TYPES = {"item.created": "item", "item.updated": "item", "proposal.created": "proposal",
               "proposal.updated": "proposal"}
# Each kind's table (by name: the market and proposals read this package, not the other way)
# and its vectors' table. Both tables have the columns a document is made of.
VECTORS: dict[str, tuple[str, Table]] = {"item": ("items", item_vectors), "proposal": ("proposals", proposal_vectors)}


def document(title: str, tags: Sequence[str], category: str | None, description: str) -> str:
    """The text a thing is found by meaning with."""
    parts = [title, ", ".join(tags), (category or "").replace("-", " "), description[:DOCUMENT_CHARS]]
    return ". ".join(part.strip() for part in parts if part and part.strip())


def _hash(model: str, content: str) -> bytes:
    return hashlib.sha256(f"{model}\0{content}".encode()).digest()


def refresh(conn: Connection, embedder: Embedder, kind: str, ids: Iterable[uuid.UUID | str]) -> int:
    """Embed those of ``ids`` whose text (or model) changed since; how many were embedded."""
    source, vectors = VECTORS[kind]
    keys = [uuid.UUID(str(key)) for key in ids]
    rows = conn.execute(text(f"SELECT id, title, tags, category, description FROM {source} "
                             "WHERE id = ANY(CAST(:ids AS uuid[]))"), {"ids": [str(key) for key in keys]}).all()
    texts = {row.id: document(row.title, row.tags, row.category, row.description) for row in rows}
    stored = dict(conn.execute(select(vectors.c.id, vectors.c.content_hash).where(vectors.c.id.in_(list(texts)))).all())
    todo = [key for key, content in texts.items() if stored.get(key) != _hash(embedder.model, content)]
    if not todo:
        return 0
    made = embedder.embed([texts[key] for key in todo], "document")
    statement = insert(vectors)
    conn.execute(statement.on_conflict_do_update(index_elements=[vectors.c.id], set_={
        name: statement.excluded[name] for name in ("model", "dimensions", "content_hash", "embedding")
    } | {"embedded_at": func.now()}), [
        {"id": key, "model": embedder.model, "dimensions": DIMENSIONS, "content_hash": _hash(embedder.model, texts[key]),
         "embedding": vector} for key, vector in zip(todo, made, strict=True)])
    return len(todo)


def backfill(conn: Connection, embedder: Embedder, kind: str, *, batch: int = 256) -> int:
    """Embed up to ``batch`` things that have no vector of the current model (a new model, data
    moved in without events); how many. Call until it answers 0."""
    source, vectors = VECTORS[kind]
    missing = conn.execute(text(f"""
        SELECT s.id FROM {source} s LEFT JOIN {vectors.name} v ON v.id = s.id AND v.model = :model
        WHERE v.id IS NULL LIMIT :batch"""), {"model": embedder.model, "batch": batch}).scalars().all()
    return refresh(conn, embedder, kind, missing) if missing else 0
