"""The embedding port: texts in, unit vectors of DIMENSIONS out, named by the model that made them.

Documents (an item's or a proposal's text) and queries (what someone typed) are embedded as
their task: retrieval models treat the two sides differently. In the cloud the model is
Vertex AI's text embeddings (``vertex.py``); locally and in the tests a packaged CPU model
(``local.py``); which one is a setting (EMBEDDING_BACKEND). Vectors are only ever compared
with vectors of the same model: each row records its model, and a search asks for its own.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

Task = Literal["document", "query"]


class EmbeddingUnavailable(Exception):
    """The model could not answer now (its service is down, refused, or answered nonsense)."""


class Embedder(Protocol):
    model: str

    def embed(self, texts: Sequence[str], task: Task) -> list[list[float]]:
        """One unit vector of DIMENSIONS per text, in order."""
        ...


@dataclass(frozen=True)
class QueryVector:
    model: str
    values: list[float]


def normalized(vector: Sequence[float]) -> list[float]:
    """The vector scaled to length 1 (cosine distance then orders as the dot product does)."""
    norm = math.sqrt(sum(x * x for x in vector))
    if not norm or not math.isfinite(norm):
        raise EmbeddingUnavailable("the model answered a zero or non-finite vector")
    return [x / norm for x in vector]
