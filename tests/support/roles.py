"""In-process functions connect as their own database roles.

The integration tests serve every function in this one process (functions-framework's test
clients) over one engine, whose login role (``app-tests``) is a member of every function's
role. While a function handles a request, each connection it checks out runs ``SET ROLE
"fn-<function>"``: its statements run with exactly the privileges the migration job granted
that function's role, as in the deployed shape (decision 0021). Outside a request (tests
calling the library directly, set-up) the connection stays ``app-tests``.
"""
from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.pool import Pool

LOGIN_ROLE = "app-tests"
_function: contextvars.ContextVar[str | None] = contextvars.ContextVar("function", default=None)


def role_of(function: str) -> str:
    return f"fn-{function}"


@contextmanager
def acting_as(function: str) -> Iterator[None]:
    token = _function.set(function)
    try:
        yield
    finally:
        _function.reset(token)


class AsFunction:
    """A test client whose every request runs as ``function``'s database role."""

    def __init__(self, function: str, client: Any) -> None:
        self._function, self._client = function, client

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name not in ("open", "get", "post", "put", "patch", "delete", "head", "options"):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            with acting_as(self._function):
                return attribute(*args, **kwargs)

        return call


def _session_user(dbapi_connection: Any) -> str:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SELECT session_user")
        return cursor.fetchone()[0]
    finally:
        cursor.close()


@event.listens_for(Pool, "connect")
def _remember_login(dbapi_connection: Any, record: Any) -> None:
    record.info["login"] = _session_user(dbapi_connection)


@event.listens_for(Pool, "checkout")
def _take_the_function_role(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    if record.info.get("login") != LOGIN_ROLE:
        return
    function = _function.get()
    cursor = dbapi_connection.cursor()
    try:
        # Role names are fn-<function name>: validated Cloud Run ids (infra/manifest.py).
        cursor.execute(f'SET ROLE "{role_of(function)}"' if function else "RESET ROLE")
    finally:
        cursor.close()
    dbapi_connection.commit()
