"""python -m infra.datamove {plan,copy,verify}: move a SQLite or PostgreSQL database into PostgreSQL."""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from pathlib import Path

from infra.datamove.load import Options, Refused, copy_postgres, copy_sqlite, print_progress
from infra.datamove.types import DATE_RULES


def _dates(values: list[str]) -> dict[str, str]:
    rules = {}
    for value in values:
        column, _, rule = value.partition("=")
        if "." not in column or rule not in DATE_RULES:
            raise SystemExit(f"--dates {value!r}: expected TABLE.COLUMN=RULE with RULE one of {', '.join(DATE_RULES)}")
        rules[column] = rule
    return rules


def _is_postgres(source: str) -> bool:
    return source.startswith(("postgresql:", "postgresql+"))


def _source(path: str) -> sqlite3.Connection:
    if not Path(path).is_file():
        raise SystemExit(f"--source {path!r}: no such SQLite file (or give a postgresql:// URL)")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def backup(url: str, path: Path) -> None:
    """pg_dump -Fc of the target before a PostgreSQL source overwrites anything in it."""
    import shutil
    import subprocess

    from sqlalchemy.engine import make_url

    target = make_url(url)
    pg_dump = _bundled("pg_dump") or shutil.which("pg_dump")
    if pg_dump is None:
        raise SystemExit("--backup: no pg_dump found (install the PostgreSQL client programs)")
    socket = target.query.get("unix_sock")
    host = str(socket).rsplit("/", 1)[0] if socket else target.host or "localhost"
    command = [pg_dump, "-Fc", "-f", str(path), "-h", host, "-U", target.username or "postgres",
               "-d", target.database or "postgres"]
    if target.port:
        command += ["-p", str(target.port)]
    result = subprocess.run(command, capture_output=True, text=True,
                            env={"PGPASSWORD": target.password or "", "PATH": "/usr/bin:/bin"})
    if result.returncode:
        raise SystemExit(f"--backup: pg_dump failed: {result.stderr.strip()}")


def _bundled(program: str) -> str | None:
    """The embedded PostgreSQL's own client program (its version matches the local
    server, which an older system pg_dump refuses to dump)."""
    try:
        import pgserver
    except ImportError:
        return None
    path = Path(pgserver.__file__).parent / "pginstall" / "bin" / program
    return str(path) if path.exists() else None


def _engine(url: str | None):
    """--target, else the configured database (DATABASE_URL, or Cloud SQL through the connector)."""
    from sqlalchemy import create_engine

    if url:
        return create_engine(url)
    from shared.db import get_engine

    return get_engine()


def _copy_into(args: argparse.Namespace, engine, options: Options, from_postgres: bool) -> int:
    """--mapping or --into: a summary, every conflict in --conflicts; exit 1 when a row was set aside."""
    from infra.datamove.into import Conflicts, copy_into, from_sqlite
    from infra.datamove.into import from_postgres as postgres_tables

    if args.mapping and from_postgres:
        raise SystemExit("--mapping: maps a SQLite prototype (a PostgreSQL source loads --into by name)")
    conflicts = Conflicts(args.conflicts)
    try:
        if args.mapping:
            from infra.datamove.mapping import copy_mapped, load_mapping

            outcomes = copy_mapped(_source(args.source), engine, load_mapping(args.mapping), truncate=args.truncate,
                                   report=conflicts)
        else:
            incoming = (postgres_tables(_engine(args.source), engine) if from_postgres
                        else from_sqlite(_source(args.source), engine, options))
            outcomes = copy_into(engine, incoming, empty_first=args.truncate, report=conflicts)
    finally:
        conflicts.close()
    for line in conflicts.summary(outcomes):
        print(line)
    set_aside = sum(o.set_aside + o.unnamed for o in outcomes.values())
    left_empty = sum(o.left_empty for o in outcomes.values())
    if set_aside or left_empty:
        listed = f" (listed in {args.conflicts})" if args.conflicts else ""
        print(f"{set_aside:,} rows set aside, {left_empty:,} in with a value left empty{listed}", file=sys.stderr)
    return 1 if set_aside or left_empty else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.datamove", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def common(command: argparse.ArgumentParser, target: bool = True) -> None:
        command.add_argument("--source", required=True,
                             help="a SQLite database file (opened read-only) or a postgresql:// URL")
        if target:
            command.add_argument("--target", help="SQLAlchemy URL of the PostgreSQL target "
                                                  "(default: DATABASE_URL or CLOUD_SQL_INSTANCE settings)")
        command.add_argument("--dates", action="append", default=[], metavar="TABLE.COLUMN=RULE",
                             help=f"how a date column is stored: {', '.join(DATE_RULES)} (default auto)")
        command.add_argument("--nul", choices=("error", "strip"), default="error",
                             help="text with NUL bytes: refuse (default) or strip them")

    common(commands.add_parser("plan", help="dry run: order, counts, type mapping, sampled warnings"), target=False)
    copy = commands.add_parser("copy", help="copy every table, then keys, indexes and foreign keys")
    common(copy)
    copy.add_argument("--backup", type=Path, help="pg_dump -Fc the target here first")
    copy.add_argument("--mapping", type=Path, help="SQLite source: a YAML mapping onto this platform's tables "
                                                   "(see infra/datamove/mapping.py); the target's schema exists")
    copy.add_argument("--into", action="store_true",
                      help="the target's schema exists (its migrations ran): load the source's tables into it "
                           "by name, its constraints active; a row that would break one is set aside and reported "
                           "(see infra/datamove/into.py)")
    copy.add_argument("--conflicts", type=Path,
                      help="with --mapping or --into: every row set aside, and why, as JSON lines here")
    copy.add_argument("--parallel", type=int, default=min(4, os.cpu_count() or 1),
                      help="tables loaded at once (default: cores, at most 4)")
    mode = copy.add_mutually_exclusive_group()
    mode.add_argument("--truncate", action="store_true", help="replace the rows of non-empty target tables")
    mode.add_argument("--resume", action="store_true", help="continue an interrupted copy")
    verify = commands.add_parser("verify", help="row counts and content checksums on both sides")
    common(verify)
    verify.add_argument("--json", type=Path, help="also write the report as JSON here")

    args = parser.parse_args(argv)
    parallel = getattr(args, "parallel", 1)
    if parallel < 1:
        raise SystemExit("--parallel: at least 1")
    options = Options(truncate=getattr(args, "truncate", False), resume=getattr(args, "resume", False),
                      dates=_dates(args.dates), nul=args.nul, parallel=parallel)
    from_postgres = _is_postgres(args.source)
    if args.command == "plan":
        from infra.datamove.plan import plan, plan_postgres

        print(plan_postgres(_engine(args.source)) if from_postgres else plan(_source(args.source), options))
        return 0
    engine = _engine(args.target)
    if args.command == "copy":
        if (args.mapping or args.into) and args.resume:
            raise SystemExit("--resume: for a copy that creates its tables; into a schema, copy again (rows "
                             "already there are reported, never doubled)")
        if args.conflicts and not (args.mapping or args.into):
            raise SystemExit("--conflicts: with --mapping or --into")
        try:
            if args.backup:
                backup(engine.url.render_as_string(hide_password=False), args.backup)
            if args.mapping or args.into:
                return _copy_into(args, engine, options, from_postgres)
            if from_postgres:
                counts = copy_postgres(_engine(args.source), engine, options, progress=print_progress)
            else:
                counts = copy_sqlite(_source(args.source), engine, options, progress=print_progress)
        except Refused as refused:
            print(f"refused: {refused}", file=sys.stderr)
            return 2
        except ValueError as misfits:
            print(f"stopped: {misfits}", file=sys.stderr)
            return 1
        print(f"copied {sum(counts.values()):,} rows in {len(counts)} tables")
        return 0
    from infra.datamove.verify import as_json, report, verify_postgres
    from infra.datamove.verify import verify as verify_sqlite

    checks = (verify_postgres(_engine(args.source), engine) if from_postgres
              else verify_sqlite(_source(args.source), engine, options))
    print(report(checks))
    if args.json:
        args.json.write_text(json.dumps(as_json(checks), indent=2))
    return 0 if all(check.equal for check in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
