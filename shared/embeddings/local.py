"""The local model: WordLlama's static token embeddings (the ``wordllama`` package, weights in its
wheel), on CPU, offline. A text's vector is its tokens' vectors pooled: no network, a query in a
tenth of a millisecond, a million documents in about a minute. Less exact than a transformer
(decision 0032 has the comparison), which the relevance bench measures.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from shared.embeddings.models import Task
from shared.embeddings.tables import DIMENSIONS

MODEL = f"wordllama-l2-supercat-{DIMENSIONS}"


class LocalEmbedder:
    model = MODEL

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: Any = None

    def embed(self, texts: Sequence[str], task: Task) -> list[list[float]]:
        # A static model embeds queries and documents alike: the task changes nothing here.
        return [[float(x) for x in row] for row in self._model().embed(list(texts), norm=True)]

    def _model(self) -> Any:
        with self._lock:  # loaded once, on first use: a function that never embeds never pays for it
            if self._loaded is None:
                from pathlib import Path

                import wordllama

                # The weights are in the package: never look for them (or anything) on the network.
                self._loaded = wordllama.WordLlama.load(cache_dir=Path(wordllama.__file__).parent,
                                                        disable_download=True, dim=DIMENSIONS)
            return self._loaded
