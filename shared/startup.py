"""Cold start: no cyclic garbage collection until the first request has been answered.

Importing a function and serving its first request builds a few hundred thousand
long-lived objects (modules, classes, SQLAlchemy and pydantic schemas) and almost no
garbage, yet every 700 allocations CPython's collector runs, and each older-generation
pass walks everything built so far: measured here, half of what a function's cold start
cost beyond the database floor (docs/decisions/0015-cold-start-gc.md). So every entry
module imports this module first; the first request or event ends the pause and freezes
what start-up built into the permanent generation, which later collections skip (the
pattern the ``gc`` module's documentation gives for pre-fork servers: functions-framework's
gunicorn forks its worker after the import).

In a process that imports several functions (tests, the local stack) the pause happens
once, at the first import, and ends at the first call of any of them.
"""
from __future__ import annotations

import gc
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_paused = gc.isenabled()
if _paused:
    gc.disable()


def resume() -> None:
    """End the start-up pause (idempotent and cheap: every request calls it)."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
