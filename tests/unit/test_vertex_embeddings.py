"""The Vertex AI adapter against a loopback server that answers as the text embeddings API does
(request and response shapes of publishers/google/models/{model}:predict): Vertex AI itself
cannot run offline, so this edge is the one fake (decision 0032)."""
from __future__ import annotations

import math

import pytest

from shared.embeddings.models import EmbeddingUnavailable
from shared.embeddings.tables import DIMENSIONS
from shared.embeddings.vertex import VertexEmbedder
from tests.support.loopback_api import LoopbackApi


def _predictions(body: dict) -> tuple[int, dict]:
    return 200, {"predictions": [
        {"embeddings": {"values": [float(i + 1)] + [0.0] * (DIMENSIONS - 1),
                        "statistics": {"token_count": 3, "truncated": False}}}
        for i, _ in enumerate(body["instances"])], "metadata": {"billableCharacterCount": 12}}


@pytest.fixture
def vertex():
    server = LoopbackApi(_predictions)
    yield server
    server.close()


def embedder(vertex: LoopbackApi) -> VertexEmbedder:
    return VertexEmbedder("demo-project", "europe-west1", "text-embedding-005", token=lambda: "ya29.token",
                          endpoint=vertex.url)


def test_texts_go_in_batches_as_their_task_and_come_back_as_unit_vectors(vertex):
    vectors = embedder(vertex).embed([f"text {i}" for i in range(150)], "document")
    assert len(vectors) == 150 and all(len(v) == DIMENSIONS for v in vectors)
    assert all(math.isclose(sum(x * x for x in v), 1.0) for v in vectors)
    assert [len(body["instances"]) for _, _, body in vertex.requests] == [100, 50]
    path, headers, body = vertex.requests[0]
    assert path == ("/v1/projects/demo-project/locations/europe-west1/publishers/google/models/"
                    "text-embedding-005:predict")
    assert headers["Authorization"] == "Bearer ya29.token"
    assert body["instances"][0] == {"content": "text 0", "task_type": "RETRIEVAL_DOCUMENT"}
    assert body["parameters"] == {"outputDimensionality": DIMENSIONS, "autoTruncate": True}
    embedder(vertex).embed(["warm ochre textile"], "query")
    assert vertex.requests[-1][2]["instances"][0]["task_type"] == "RETRIEVAL_QUERY"


@pytest.mark.parametrize("answer", [
    (429, {"error": {"code": 429, "message": "Quota exceeded for text-embedding-005 in demo-project"}}),
    (200, {"predictions": []}),  # fewer vectors than texts
    (200, {"predictions": [{"embeddings": {"values": [1.0] * 768}}]}),  # not the dimensions asked
    (200, {"predictions": [{"embeddings": {"values": [0.0] * DIMENSIONS}}]}),  # no direction at all
    (200, {"unexpected": True}),
])
def test_an_answer_that_is_not_what_was_asked_is_an_error_that_names_no_secret(vertex, answer):
    vertex.answer = lambda body: answer
    with pytest.raises(EmbeddingUnavailable) as raised:
        embedder(vertex).embed(["text"], "document")
    assert "ya29" not in str(raised.value) and "demo-project" not in str(raised.value)


def test_an_unreachable_service_is_an_error_too():
    gone = VertexEmbedder("p", "europe-west1", "m", token=lambda: "t", endpoint="http://127.0.0.1:9")
    with pytest.raises(EmbeddingUnavailable):
        gone.embed(["text"], "query")
