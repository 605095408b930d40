"""Embed what has no vector of the platform's current model: after EMBEDDING_MODEL changed, or
data moved in without events (decision 0032). Run with the embeddings function's settings.

    python -m infra.vectors            # every item and proposal missing one, in batches
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    from shared.db import get_engine
    from shared.embeddings.embedder import get_embedder
    from shared.embeddings.store import VECTORS, backfill

    embedder, engine = get_embedder(), get_engine()
    for kind in VECTORS:
        total = 0
        while True:
            with engine.begin() as conn:  # a batch per transaction: a stop keeps what was done
                made = backfill(conn, embedder, kind)
            if not made:
                break
            total += made
        print(f"{kind}: {total} embedded with {embedder.model}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
