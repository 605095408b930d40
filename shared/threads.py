"""Helper threads that overlap database and network round trips need the GIL back
quickly after each one: the default 5 ms switch interval makes every hand-over wait
behind whichever thread is busy decoding or encoding (measured in bench/indexer.py and
bench/graph_etl.py)."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

SWITCH_INTERVAL = 0.0005


@contextmanager
def fast_thread_switches() -> Iterator[None]:
    """For the duration of a pipelined job (the process does nothing else meanwhile)."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(previous, SWITCH_INTERVAL))
    try:
        yield
    finally:
        sys.setswitchinterval(previous)
