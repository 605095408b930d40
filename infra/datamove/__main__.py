"""python -m infra.datamove {plan,copy,verify}: move a SQLite or PostgreSQL database into PostgreSQL."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

from infra.datamove.load import Options, Refused, copy_postgres, copy_sqlite, read_only
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
    return read_only(path)


def _engine(url: str | None, connections: int = 1):
    """--target, else the configured database (DATABASE_URL, or Cloud SQL through the connector),
    with a pool of at least ``connections``: a load's threads each hold one at once, and a
    function's small pool (DB_POOL_SIZE) would keep one waiting until QueuePool gives up."""
    from sqlalchemy import create_engine

    if url:
        return create_engine(url, pool_size=max(5, connections))  # SQLAlchemy's default size, or more
    from shared.config import get_settings
    from shared.db import build_engine

    settings = get_settings()
    return build_engine(settings.model_copy(update={"db_pool_size": max(settings.db_pool_size, connections)}))


def _load_connections(parallel: int) -> int:
    """The target connections a copy holds at once: one a table loaded side by side; into a
    schema, the staging, the take-in and the direct attempts (infra/datamove/into.py)."""
    from infra.datamove.into import AHEAD

    return max(parallel, AHEAD + 2)


def _copy_into(args: argparse.Namespace, engine, options: Options, from_postgres: bool) -> int:
    """--mapping or --into: a summary, every conflict in --conflicts; exit 1 when a row was set aside."""
    from infra.datamove.into import Conflicts, copy_into, from_sqlite
    from infra.datamove.into import from_postgres as postgres_tables
    from infra.datamove.mapping import copy_mapped, load_mapping, media_columns

    if args.mapping and from_postgres:
        raise SystemExit("--mapping: maps a SQLite prototype (a PostgreSQL source loads --into by name)")
    conflicts = Conflicts(args.conflicts)
    mapping = load_mapping(args.mapping) if args.mapping else None
    columns = list(media_columns(mapping).values()) if mapping else []
    if args.media and not columns:
        raise SystemExit("--media: the mapping marks no column as naming objects (media:)")
    buckets = _buckets() if columns else None
    # The media source is opened before any row moves: a wrong path fails before the load.
    media = _media_source(args.media) if args.media else None
    named: dict = {}  # media column -> the values naming objects, as loaded

    def read_references(conn) -> None:
        from infra.datamove.objects import referenced_values

        named.update({column: list(referenced_values(conn, column, buckets)) for column in columns})
    with contextlib.ExitStack() as stack:
        stack.callback(conflicts.close)
        if args.maintenance and not args.dry_run:
            stack.enter_context(_in_maintenance(engine, args.maintenance))
        if args.backup:  # under maintenance: no write lands between the dump and the load
            _backup(engine, args.backup, args.backup_key)
        if mapping:
            outcomes = copy_mapped(_source(args.source), engine, mapping, truncate=args.truncate,
                                   dry_run=args.dry_run, report=conflicts, progress=_table_done, buckets=buckets,
                                   then=read_references if columns and args.media else None)
        else:
            incoming = (postgres_tables(_engine(args.source, _load_connections(options.parallel)), engine) if from_postgres
                        else from_sqlite(_source(args.source), engine, options))
            outcomes = copy_into(engine, incoming, empty_first=args.truncate, dry_run=args.dry_run, report=conflicts,
                                 progress=_table_done)
    if args.dry_run:
        print("dry run: nothing was written; what a copy would do now:")
    for line in conflicts.summary(outcomes):
        print(line)
    set_aside = sum(o.set_aside + o.unnamed for o in outcomes.values())
    left_empty = sum(o.left_empty for o in outcomes.values())
    if set_aside or left_empty:
        listed = f" (listed in {args.conflicts})" if args.conflicts else ""
        print(f"{set_aside:,} rows set aside, {left_empty:,} in with a value left empty{listed}", file=sys.stderr)
    missing = _copy_media(args, buckets, named, media) if buckets else 0
    return 1 if set_aside or left_empty or missing else 0


def _buckets():
    from infra.datamove.objects import Buckets
    from shared.config import ConfigError

    try:
        return Buckets.configured()
    except ConfigError as error:
        raise SystemExit(f"the mapping names stored objects (media:): {error} (the target's buckets)") from None


def _media_source(spec: str):
    """The store --media names, and the client the copies go through."""
    from infra.datamove.objects import open_source
    from shared.media import storage

    client = storage.client()
    return open_source(spec, client), client


def _copy_media(args: argparse.Namespace, buckets, named: dict, media) -> int:
    """--media: the objects the loaded rows name (a dry run's: those they would), from the
    source store into the target's buckets; how many the source lacks or could not give."""
    from infra.datamove.objects import copy_referenced

    if media is None:
        print("the rows name objects (media:) but no --media SOURCE was given: none were copied "
              "(verify --media lists what is missing)", file=sys.stderr)
        return 0
    source, client = media
    copied = copy_referenced(named, source, client, buckets, dry_run=args.dry_run)
    verb = "would copy" if args.dry_run else "copied"
    print(f"media: {verb} {copied.copied:,} objects, {copied.there:,} there already, "
          f"{len(copied.missing):,} not in {args.media}, {len(copied.failed):,} failed")
    for path in copied.missing[:20]:
        print(f"  not in the source: {path}", file=sys.stderr)
    for failure in copied.failed[:20]:
        print(f"  failed: {failure}", file=sys.stderr)
    return len(copied.missing) + len(copied.failed)


def _table_done(name: str, outcome, seconds: float) -> None:
    """Into a schema, tables load one after another: a line as each is in."""
    print(f"{name:<32} {outcome.rows:>12,} rows {outcome.inserted:>12,} in {seconds:>8.1f} s", file=sys.stderr,
          flush=True)


@contextlib.contextmanager
def _in_maintenance(engine, minutes: float) -> Iterator[None]:
    """The API refuses writes while the block runs (at most ``minutes``): switched on, then a
    wait until every instance has read the switch, then off again however the block ends."""
    import time

    from shared import maintenance

    with engine.begin() as conn:
        until = maintenance.switch_on(conn, minutes, "data is being moved in")
    try:
        print(f"maintenance: writes refused until {until.isoformat(timespec='seconds')} at the latest; "
              f"{maintenance.SETTLE_SECONDS:.0f} s for every instance to see it and writes under way to end",
              file=sys.stderr)
        time.sleep(maintenance.SETTLE_SECONDS)
        started = time.monotonic()
        yield
        if time.monotonic() - started > minutes * 60:
            print(f"maintenance: the load outlived its {minutes:g} minutes: writes were accepted before it ended",
                  file=sys.stderr)
    finally:
        with engine.begin() as conn:
            maintenance.switch_off(conn)
        print("maintenance: over, writes accepted", file=sys.stderr)


def _maintenance(args: argparse.Namespace) -> int:
    from shared import maintenance

    if not 0 < args.minutes <= 7 * 24 * 60:
        raise SystemExit("--minutes: more than 0, at most a week")
    with _engine(args.target).begin() as conn:
        if args.state == "on":
            until = maintenance.switch_on(conn, args.minutes, args.reason)
            print(f"on: writes answer 503 until {until.isoformat(timespec='seconds')} "
                  f"(every instance within {maintenance.CACHE_SECONDS:.0f} s)")
        elif args.state == "off":
            maintenance.switch_off(conn)
            print("off: writes accepted")
        else:
            until, reason = maintenance.status(conn)
            print(f"on until {until.isoformat(timespec='seconds')}: {reason}" if until else "off")
    return 0


def _backup(engine, path: Path, key_source: str | None) -> None:
    from infra.datamove import backup

    if not key_source:
        raise SystemExit("--backup: give --backup-key (a backup is encrypted at rest)")
    try:
        backup.backup(engine.url, path, backup.load_key(key_source))
    except backup.BackupError as error:
        raise SystemExit(f"--backup: {error}") from None
    print(f"backup: {path} (encrypted; restore with python -m infra.datamove restore --backup {path} "
          f"--backup-key {key_source} --target URL)", file=sys.stderr)


def _keys_and_restore(args: argparse.Namespace) -> int:
    from infra.datamove import backup

    try:
        if args.command == "keygen":
            backup.keygen(args.out)
            print(f"wrote {args.out} (keep it apart from the backups it opens)")
        else:
            backup.restore(_engine(args.target).url, args.backup, backup.load_key(args.backup_key))
            print(f"restored {args.backup}")
    except backup.BackupError as error:
        print(f"{args.command}: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.datamove", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def common(command: argparse.ArgumentParser, target: bool = True, source: bool = True) -> None:
        command.add_argument("--source", required=source,
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
    copy.add_argument("--backup", type=Path, help="pg_dump -Fc the target here first, encrypted (--backup-key)")
    copy.add_argument("--backup-key", metavar="SOURCE",
                      help="the backup's key: file:PATH (keygen makes one) or "
                           "secret:projects/P/secrets/S/versions/V (Secret Manager)")
    copy.add_argument("--mapping", type=Path, help="SQLite source: a YAML mapping onto this platform's tables "
                                                   "(see infra/datamove/mapping.py); the target's schema exists")
    copy.add_argument("--into", action="store_true",
                      help="the target's schema exists (its migrations ran): load the source's tables into it "
                           "by name, its constraints active; a row that would break one is set aside and reported "
                           "(see infra/datamove/into.py)")
    copy.add_argument("--media", metavar="SOURCE",
                      help="with --mapping: copy the objects its media: columns name from this directory or "
                           "gs://BUCKET[/PREFIX] into the target's buckets (UPLOADS_BUCKET, MEDIA_BUCKET)")
    copy.add_argument("--conflicts", type=Path,
                      help="with --mapping or --into: every row set aside, and why, as JSON lines here")
    copy.add_argument("--dry-run", action="store_true",
                      help="with --mapping or --into: the whole load in one transaction, rolled back: what would "
                           "go in and what would be set aside, nothing written")
    copy.add_argument("--maintenance", type=float, metavar="MINUTES",
                      help="with --mapping or --into: the API refuses writes (503, Retry-After) from before the "
                           "load until it ends, for at most MINUTES")
    keygen = commands.add_parser("keygen", help="a new key file for encrypted backups (mode 600)")
    keygen.add_argument("--out", type=Path, required=True)
    restore = commands.add_parser("restore", help="an encrypted backup back into the target (pg_restore --clean)")
    restore.add_argument("--backup", type=Path, required=True)
    restore.add_argument("--backup-key", metavar="SOURCE", required=True, help="as for copy --backup-key")
    restore.add_argument("--target", help="SQLAlchemy URL of the PostgreSQL target (default: its settings)")
    maintenance = commands.add_parser("maintenance", help="the API's maintenance mode: writes answer 503, reads go on")
    maintenance.add_argument("state", choices=("on", "off", "status"))
    maintenance.add_argument("--target", help="SQLAlchemy URL of the platform's database (default: its settings)")
    maintenance.add_argument("--minutes", type=float, default=60.0, help="on: for at most this long (default 60)")
    maintenance.add_argument("--reason", default="data is being moved in", help="on: told to refused writers")
    copy.add_argument("--parallel", type=int, default=min(4, os.cpu_count() or 1),
                      help="tables loaded at once (default: cores, at most 4)")
    mode = copy.add_mutually_exclusive_group()
    mode.add_argument("--truncate", action="store_true", help="replace the rows of non-empty target tables")
    mode.add_argument("--resume", action="store_true", help="continue an interrupted copy")
    verify = commands.add_parser("verify", help="row counts and content checksums on both sides; --media: "
                                                "the target's stored objects")
    common(verify, source=False)
    verify.add_argument("--json", type=Path, help="also write the report as JSON here")
    verify.add_argument("--media", action="store_true",
                        help="every object the target's rows name is in its bucket (UPLOADS_BUCKET, MEDIA_BUCKET); "
                             "lists the missing (exit 1) and the objects no row names")
    verify.add_argument("--mapping", type=Path, help="with --media: also check the mapping's media: columns")

    args = parser.parse_args(argv)
    if args.command == "maintenance":
        return _maintenance(args)
    if args.command in ("keygen", "restore"):
        return _keys_and_restore(args)
    parallel = getattr(args, "parallel", 1)
    if parallel < 1:
        raise SystemExit("--parallel: at least 1")
    options = Options(truncate=getattr(args, "truncate", False), resume=getattr(args, "resume", False),
                      dates=_dates(args.dates), nul=args.nul, parallel=parallel)
    if args.command == "verify" and args.mapping and not args.media:
        raise SystemExit("verify --mapping: with --media (it adds the mapping's media: columns)")
    if args.command == "verify" and not args.source:
        if not args.media:
            raise SystemExit("verify: give --source, --media, or both")
        return _verify_media(args, _engine(args.target))
    from_postgres = _is_postgres(args.source)
    if args.command == "plan":
        from infra.datamove.plan import plan, plan_postgres

        print(plan_postgres(_engine(args.source)) if from_postgres else plan(_source(args.source), options))
        return 0
    engine = _engine(args.target, _load_connections(parallel))
    if args.command == "copy":
        if (args.mapping or args.into) and args.resume:
            raise SystemExit("--resume: for a copy that creates its tables; into a schema, copy again (rows "
                             "already there are reported, never doubled)")
        for flag in ("conflicts", "dry_run", "maintenance"):
            if getattr(args, flag) and not (args.mapping or args.into):
                raise SystemExit(f"--{flag.replace('_', '-')}: with --mapping or --into")
        if args.media and not args.mapping:
            raise SystemExit("--media: with --mapping (its media: columns say which values name objects)")
        if args.maintenance is not None and not 0 < args.maintenance <= 7 * 24 * 60:
            raise SystemExit("--maintenance: minutes, more than 0 and at most a week")
        if args.dry_run and args.truncate:
            raise SystemExit("--dry-run --truncate would hold the live tables locked for the whole run: "
                             "dry-run against a restored copy of the target")
        try:
            if args.mapping or args.into:
                return _copy_into(args, engine, options, from_postgres)
            if args.backup:
                _backup(engine, args.backup, args.backup_key)
            if from_postgres:
                counts = copy_postgres(_engine(args.source, parallel), engine, options, live=True)
            else:
                counts = copy_sqlite(_source(args.source), engine, options, live=True)
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
    if args.json and not args.media:
        args.json.write_text(json.dumps(as_json(checks), indent=2))
    rows_equal = all(check.equal for check in checks)
    if args.media:
        return _verify_media(args, engine, rows=as_json(checks)) or (0 if rows_equal else 1)
    return 0 if rows_equal else 1


def _verify_media(args: argparse.Namespace, engine, rows: dict | None = None) -> int:
    from infra.datamove.mapping import load_mapping, media_columns
    from infra.datamove.objects import column_reference, media_json, media_report, platform_references, verify_media
    from shared.media import storage

    buckets = _buckets()
    extra = []
    if args.mapping:
        with engine.connect() as conn:
            extra = [column_reference(conn, c.table, c.column, c.role, c.url)
                     for c in media_columns(load_mapping(args.mapping)).values()
                     if f"{c.table}.{c.column}" not in {r.label for r in platform_references()}]
    check = verify_media(engine, storage.client(), buckets, extra)
    print(media_report(check, buckets))
    if args.json:
        args.json.write_text(json.dumps({**({"rows": rows} if rows else {}), "media": media_json(check)}, indent=2))
    return 0 if check.resolved else 1


if __name__ == "__main__":
    raise SystemExit(main())
