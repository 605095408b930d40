"""Values remembered per key for a short window, in this instance's memory.

For what is read on every request and changes rarely (an account's revocation state, the
caller's authorization row): one load per key per window instead of one per request. The
price is the window: a change made elsewhere is seen up to ``seconds`` late; what this
instance changes itself it ``forget``s at once. Bounded: the oldest keys go first.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Recent(Generic[K, V]):
    def __init__(self, seconds: float, *, capacity: int = 10_000, clock: Callable[[], float] = time.monotonic,
                 keep: Callable[[V], bool] = lambda _: True) -> None:
        self._seconds = seconds
        self._capacity = capacity
        self._clock = clock
        self._keep = keep  # which loaded values are worth remembering
        self._lock = threading.Lock()
        self._seen: OrderedDict[K, tuple[float, V]] = OrderedDict()
        # Counts forgets: a value loaded while one happened may predate it, and is not kept.
        self._forgets = 0

    def get(self, key: K, load: Callable[[], V]) -> V:
        now = self._clock()
        with self._lock:
            remembered = self._seen.get(key)
            if remembered is not None and now - remembered[0] < self._seconds:
                return remembered[1]
            forgets = self._forgets
        value = load()  # outside the lock: other keys need not wait
        if self._seconds > 0 and self._keep(value):
            with self._lock:
                if self._forgets != forgets:
                    return value
                self._seen[key] = (now, value)
                self._seen.move_to_end(key)
                while len(self._seen) > self._capacity:
                    self._seen.popitem(last=False)
        return value

    def forget(self, key: K) -> None:
        with self._lock:
            self._seen.pop(key, None)
            self._forgets += 1
