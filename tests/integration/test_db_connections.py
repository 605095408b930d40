"""The engine over the embedded PostgreSQL's unix socket: pg8000 negotiates no TLS there
(PostgreSQL never offers it on a Unix-domain socket), so no connection builds an SSL
context, which costs ~20 ms of CPU each (docs/decisions/0019-driver-tls.md)."""
import ssl

from sqlalchemy import text

from shared.config import Settings
from shared.db import build_engine


def test_a_unix_socket_connection_builds_no_ssl_context(database_url, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("an SSL context was built for a unix-socket connection")

    monkeypatch.setattr(ssl, "create_default_context", refuse)
    engine = build_engine(Settings(google_cloud_project="p", database_url=database_url))
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()
