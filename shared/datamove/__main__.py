"""python -m shared.datamove {plan,copy,verify}: move a SQLite database into PostgreSQL."""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

from shared.datamove.load import Options, Refused, copy_sqlite, print_progress
from shared.datamove.types import DATE_RULES


def _dates(values: list[str]) -> dict[str, str]:
    rules = {}
    for value in values:
        column, _, rule = value.partition("=")
        if "." not in column or rule not in DATE_RULES:
            raise SystemExit(f"--dates {value!r}: expected TABLE.COLUMN=RULE with RULE one of {', '.join(DATE_RULES)}")
        rules[column] = rule
    return rules


def _source(path: str) -> sqlite3.Connection:
    if not Path(path).is_file():
        raise SystemExit(f"--source {path!r}: no such SQLite file")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _engine(url: str | None):
    """--target, else the configured database (DATABASE_URL, or Cloud SQL through the connector)."""
    from sqlalchemy import create_engine

    if url:
        return create_engine(url)
    from shared.db import get_engine

    return get_engine()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.datamove", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def common(command: argparse.ArgumentParser, target: bool = True) -> None:
        command.add_argument("--source", required=True, help="the SQLite database file (opened read-only)")
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
    mode = copy.add_mutually_exclusive_group()
    mode.add_argument("--truncate", action="store_true", help="replace the rows of non-empty target tables")
    mode.add_argument("--resume", action="store_true", help="continue an interrupted copy")
    verify = commands.add_parser("verify", help="row counts and content checksums on both sides")
    common(verify)
    verify.add_argument("--json", type=Path, help="also write the report as JSON here")

    args = parser.parse_args(argv)
    options = Options(truncate=getattr(args, "truncate", False), resume=getattr(args, "resume", False),
                      dates=_dates(args.dates), nul=args.nul)
    source = _source(args.source)
    if args.command == "plan":
        from shared.datamove.plan import plan

        print(plan(source, options))
        return 0
    engine = _engine(args.target)
    if args.command == "copy":
        try:
            counts = copy_sqlite(source, engine, options, progress=print_progress)
        except Refused as refused:
            print(f"refused: {refused}", file=sys.stderr)
            return 2
        except ValueError as misfits:
            print(f"stopped: {misfits}", file=sys.stderr)
            return 1
        print(f"copied {sum(counts.values()):,} rows in {len(counts)} tables")
        return 0
    from shared.datamove.verify import as_json, report
    from shared.datamove.verify import verify as run_verify

    checks = run_verify(source, engine, options)
    print(report(checks))
    if args.json:
        args.json.write_text(json.dumps(as_json(checks), indent=2))
    return 0 if all(check.equal for check in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
