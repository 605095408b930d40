"""The platform's embedding model, as the settings choose it (EMBEDDING_BACKEND), and queries'
vectors: apart from the port (models.py) that its adapters implement."""
from __future__ import annotations

import functools

from shared.embeddings.models import Embedder, QueryVector

# A query asked again (the next page, a popular search) is not embedded again.
QUERY_MEMORY = 1_024


@functools.lru_cache(maxsize=QUERY_MEMORY)
def embed_query(text: str) -> QueryVector:
    """What someone asked, as a query vector of the platform's model."""
    embedder = get_embedder()
    return QueryVector(embedder.model, embedder.embed([text], "query")[0])


@functools.cache
def get_embedder() -> Embedder:
    from shared.config import get_settings

    settings = get_settings()
    if settings.embedding_backend == "vertex":
        from shared.embeddings.vertex import VertexEmbedder
        from shared.identity.gcp_metadata import AccessToken

        settings.require("vertex_location")
        return VertexEmbedder(settings.google_cloud_project, settings.vertex_location, settings.embedding_model,
                              token=AccessToken())
    from shared.embeddings.local import LocalEmbedder

    return LocalEmbedder()
