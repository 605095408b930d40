"""Helper threads that overlap database and network round trips need the GIL back
quickly after each one: the default 5 ms switch interval makes every hand-over wait
behind whichever thread is busy decoding or encoding (measured in bench/indexer.py and
bench/graph_etl.py).

Bulk jobs that parse and build hundreds of thousands of short-lived objects (a node's
JSON answer, COPY text) also pay Python's cycle collector, which walks them again and
again as they age though reference counting frees them all (``no_cycle_collection``)."""
from __future__ import annotations

import gc
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


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """For the duration of a bulk job that makes little cyclic garbage: the chain indexer's tick
    leaves about 80 objects in cycles per 20k events (collected once it ends), while the
    collector's passes over its parsed logs cost a tenth of its throughput (bench/indexer.py)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
