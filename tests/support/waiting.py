"""Polling for effects that arrive asynchronously (Pub/Sub deliveries, scheduled jobs)."""
import time


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
