"""Vertex AI's text embeddings over their REST API (``…/publishers/google/models/{model}:predict``),
with the standard library and the function's own token: the client library would cost the cold
start more than the call.

A request embeds up to BATCH texts, each with its task type (RETRIEVAL_DOCUMENT for what is
searched, RETRIEVAL_QUERY for what is asked), truncated by the service when too long, at
DIMENSIONS dimensions (``outputDimensionality``). Answers are checked: a count or a dimension
that is not what was asked is an error, never a row.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence

from shared.embeddings.models import EmbeddingUnavailable, Task, normalized
from shared.embeddings.tables import DIMENSIONS

# The service takes up to 250 texts a request (and 20,000 tokens); items' texts are short.
BATCH = 100
TIMEOUT_SECONDS = 20
TASK_TYPES = {"document": "RETRIEVAL_DOCUMENT", "query": "RETRIEVAL_QUERY"}


class VertexEmbedder:
    def __init__(self, project: str, location: str, model: str, *, token: Callable[[], str],
                 endpoint: str | None = None) -> None:
        self.model = model
        self._url = (f"{endpoint or f'https://{location}-aiplatform.googleapis.com'}/v1/projects/{project}"
                     f"/locations/{location}/publishers/google/models/{model}:predict")
        self._token = token

    def embed(self, texts: Sequence[str], task: Task) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            vectors += self._predict(texts[start:start + BATCH], task)
        return vectors

    def _predict(self, texts: Sequence[str], task: Task) -> list[list[float]]:
        body = {"instances": [{"content": text, "task_type": TASK_TYPES[task]} for text in texts],
                "parameters": {"outputDimensionality": DIMENSIONS, "autoTruncate": True}}
        request = urllib.request.Request(self._url, data=json.dumps(body).encode(), method="POST", headers={
            "Authorization": f"Bearer {self._token()}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as error:
            # The status only: the URL names the project, and an error body may echo the texts.
            raise EmbeddingUnavailable(f"Vertex AI answered {error.code}") from None
        except (OSError, ValueError) as error:
            raise EmbeddingUnavailable(f"Vertex AI did not answer: {type(error).__name__}") from None
        try:
            vectors = [prediction["embeddings"]["values"] for prediction in answer["predictions"]]
        except (KeyError, TypeError):
            raise EmbeddingUnavailable("Vertex AI's answer has no embeddings") from None
        if len(vectors) != len(texts) or any(len(v) != DIMENSIONS for v in vectors):
            raise EmbeddingUnavailable("Vertex AI answered other counts or dimensions than asked")
        return [normalized(vector) for vector in vectors]
