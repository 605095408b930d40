"""Database engine and transactions.

The engine is built on first use, never at import: a function's cold start pays
for it only when a request needs the database. Locally the URL points at the
embedded PostgreSQL's unix socket; in the cloud the Cloud SQL connector (IAM
database auth, lazy refresh) hands pg8000 its connections.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from shared.config import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy import URL, Connection, Engine
    from sqlalchemy.orm import Session


def build_engine(settings: Settings) -> Engine:
    from sqlalchemy import create_engine, make_url

    settings.require_database()

    # Serverless: each instance serves few concurrent requests; a small pool keeps
    # max_instances x pool within Cloud SQL's connection limit.
    pool = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_pre_ping": True,
        "pool_recycle": 1800,
    }
    from sqlalchemy import event

    if settings.database_url:
        url = make_url(settings.database_url)
        engine = create_engine(url, connect_args=_driver_tls(url), **pool)
        # Read as each connection is made, as the connector's creator below does.
        event.listen(engine, "do_connect", lambda _dialect, _record, _args, params: params.update(_session_limits()))
    else:
        engine = create_engine("postgresql+pg8000://", creator=_cloud_sql_creator(settings), **pool)
    event.listen(engine, "handle_error", _drop_half_sent)
    return engine


def _drop_half_sent(context: Any) -> None:
    """A connection whose driver failed in the middle of a statement is closed, never reused.

    pg8000 converts parameters while it writes the extended-query messages: a value it cannot
    convert (a year-1 date at UTC+14 turned to UTC: OverflowError) leaves a Parse sent with no
    Sync, and the connection then answers each later statement with the previous one's rows.
    Any error that is not the server's (a DBAPI error) may have done so: the pool discards it.
    """
    dbapi_error = getattr(context.engine.dialect.loaded_dbapi, "Error", ())
    if context.execution_context is not None and not isinstance(context.original_exception, dbapi_error):
        context.is_disconnect = True


# Set by the HTTP layer before a request's first connection (shared/http/api.py): a
# request's statements are cut; jobs and consumers are bounded by their own budgets.
_statement_timeout_ms = 0


def limit_statements(milliseconds: int) -> None:
    """Connections made from now on cancel any statement after ``milliseconds`` (0: never)."""
    global _statement_timeout_ms
    _statement_timeout_ms = milliseconds


def _session_limits() -> dict[str, object]:
    # In the startup packet, so a limit costs no round trip on a new connection.
    timeout = _statement_timeout_ms
    return {"startup_params": {"statement_timeout": str(timeout)}} if timeout else {}


def _driver_tls(url: URL) -> dict[str, object]:
    # pg8000 asks every server for TLS unless told not to, building a default SSL context
    # (the system CA store: ~20 ms of CPU) for each new connection. PostgreSQL never offers
    # TLS on a Unix-domain socket (libpq ignores sslmode there), so over one the answer is
    # known; over TCP the driver keeps its default. (docs/decisions/0019-driver-tls.md)
    return {"ssl_context": False} if url.query.get("unix_sock") else {}


def _cloud_sql_creator(settings: Settings):
    from google.cloud.sql.connector import Connector, IPTypes

    connector = Connector(refresh_strategy="lazy")
    ip_type = IPTypes.PRIVATE if settings.db_private_ip else IPTypes.PUBLIC

    def connect():
        return connector.connect(
            settings.cloud_sql_instance,
            "pg8000",
            user=settings.db_iam_user,
            db=settings.db_name,
            enable_iam_auth=True,
            ip_type=ip_type,
            **_session_limits(),
            # The connector's socket is already TLS to the instance (its own ephemeral
            # certificate): the driver's TLS negotiation on top would be wasted work.
            ssl_context=False,
        )

    return connect


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    return build_engine(get_settings())


class Work:
    """One transaction on one connection. Reads query it with SQLAlchemy Core; an ORM
    session joins the same transaction the first time a write asks for one, so a
    request that only reads never imports the ORM."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            from sqlalchemy.orm import Session

            # rollback_only: the connection's transaction stays ours to commit (work()).
            self._session = Session(bind=self.connection, expire_on_commit=False,
                                    join_transaction_mode="rollback_only")
        return self._session


# Session.info entry of the callbacks that wait for the unit of work's commit.
_AFTER_COMMIT = "shared.db:after_commit"


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the unit of work that owns ``session`` has committed; never
    if it rolls back (the outbox's fast path publishes there)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


@contextmanager
def work() -> Iterator[Work]:
    """One unit of work: commit on success, roll back on any exception; then the
    ``after_commit`` callbacks of a committed unit run, in the order they were added."""
    callbacks: list[Callable[[], None]] = []
    with get_engine().begin() as connection:
        unit = Work(connection)
        try:
            yield unit
            if unit._session is not None:
                unit._session.flush()
        finally:
            if unit._session is not None:
                callbacks = unit._session.info.pop(_AFTER_COMMIT, [])
                unit._session.close()
    for callback in callbacks:
        callback()


@contextmanager
def transaction() -> Iterator[Session]:
    """A unit of work through the ORM."""
    with work() as unit:
        yield unit.session


def reset() -> None:
    """Forget the engine (tests and the local stack switch databases)."""
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()
