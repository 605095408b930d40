"""Data migration: infra.datamove against pgloader on the same SQLite database, and PG -> PG.

A ≈2M-row FK-linked SQLite database (artists, works, sales) is moved into fresh
databases of one embedded PostgreSQL by ``infra.datamove`` and by pgloader (Debian
package, configured to be exact: REAL as double precision), both ending with keys,
indexes and foreign keys, counts checked. Then PostgreSQL -> PostgreSQL with
infra.datamove, copy plus checksum verification of both sides.

    python bench/migrate.py [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from local import postgres  # noqa: E402

TARGET_RATIO = 1.5
TARGET_PG_ROWS_PER_S = 200_000
WORDS = ["loom", "indigo", "glass", "amber", "tape", "forest", "night", "market", "river", "stone", "ember", "salt"]


def make_sqlite(path: Path, artists: int, works: int, sales: int) -> int:
    rng = random.Random(3)
    conn = sqlite3.connect(path)
    conn.executescript("""
        PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
        CREATE TABLE artists (id INTEGER PRIMARY KEY, name TEXT NOT NULL, bio TEXT, score REAL, joined TEXT);
        CREATE TABLE works (id INTEGER PRIMARY KEY, artist_id INTEGER NOT NULL REFERENCES artists(id),
                            title TEXT NOT NULL, price_cents INTEGER NOT NULL, ratio REAL, thumb BLOB);
        CREATE INDEX ix_works_artist ON works (artist_id);
        CREATE TABLE sales (id INTEGER PRIMARY KEY, work_id INTEGER NOT NULL REFERENCES works(id),
                            buyer_id INTEGER REFERENCES artists(id), amount_cents INTEGER NOT NULL, note TEXT);
        CREATE INDEX ix_sales_work ON sales (work_id);
    """)

    def words(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n))

    conn.executemany("INSERT INTO artists VALUES (?, ?, ?, ?, ?)",
                     ((i, f"Artist {i}", words(8), rng.random() * 100, f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}")
                      for i in range(1, artists + 1)))
    conn.executemany("INSERT INTO works VALUES (?, ?, ?, ?, ?, ?)",
                     ((i, 1 + i % artists, words(3), rng.randrange(100, 10**7), rng.random(), rng.randbytes(16))
                      for i in range(1, works + 1)))
    conn.executemany("INSERT INTO sales VALUES (?, ?, ?, ?, ?)",
                     ((i, 1 + i % works, None if i % 5 == 0 else 1 + (i * 7) % artists, rng.randrange(100, 10**7),
                       words(4)) for i in range(1, sales + 1)))
    conn.commit()
    conn.close()
    return artists + works + sales


def counts(engine, tables: list[str]) -> dict[str, int]:
    from sqlalchemy import text

    with engine.connect() as conn:
        return {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar() for t in tables}


def constraints(engine) -> int:
    from sqlalchemy import text

    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM pg_constraint WHERE contype IN ('p', 'f') "
                                 "AND connamespace = current_schema()::regnamespace")).scalar()


def run_pgloader(source: Path, socket_dir: str, database: str, workdir: Path) -> float:
    command = workdir / "load.pgloader"
    command.write_text(
        f"LOAD DATABASE\n  FROM sqlite://{source}\n  INTO postgresql://postgres@unix:{socket_dir}:5432/{database}\n"
        "  WITH include drop, create tables, create indexes, reset sequences, foreign keys\n"
        "  CAST type real to \"double precision\" using float-to-string\n;\n")
    started = time.perf_counter()
    result = subprocess.run(["pgloader", "--no-ssl-cert-verification", str(command)], capture_output=True, text=True,
                            cwd=workdir)
    if result.returncode:
        raise SystemExit(f"pgloader failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="≈100k rows")
    args = parser.parse_args()
    if shutil.which("pgloader") is None:
        raise SystemExit("pgloader is not installed: apt-get install -y pgloader (the baseline)")
    scale = 20 if args.quick else 1
    artists, works, sales = 100_000 // scale, 900_000 // scale, 1_000_000 // scale
    tables = ["artists", "works", "sales"]

    from sqlalchemy import create_engine, text

    from infra.datamove.into import copy_into, from_postgres, from_sqlite
    from infra.datamove.load import Options, copy_postgres, copy_sqlite
    from infra.datamove.verify import verify, verify_postgres

    with tempfile.TemporaryDirectory(prefix="kk-bench-") as tmp:
        work = Path(tmp)
        rows = make_sqlite(work / "dev.db", artists, works, sales)
        pg = postgres.start(work / "pg", keep=False)
        try:
            ours_engine = create_engine(pg.ensure_database("ours"))
            theirs_url = pg.ensure_database("pgloader")
            copied_engine = create_engine(pg.ensure_database("copied"))
            source = sqlite3.connect(work / "dev.db")

            started = time.perf_counter()
            copy_sqlite(source, ours_engine, Options(parallel=os.cpu_count() or 1))
            ours = time.perf_counter() - started
            theirs = run_pgloader(work / "dev.db", pg.socket_dir, "pgloader", work)

            ours_counts, theirs_counts = counts(ours_engine, tables), counts(create_engine(theirs_url), tables)
            expected = {"artists": artists, "works": works, "sales": sales}
            assert ours_counts == expected and theirs_counts == expected, (ours_counts, theirs_counts)
            assert all(check.equal for check in verify(source, ours_engine, Options()))
            ours_constraints, theirs_constraints = constraints(ours_engine), constraints(create_engine(theirs_url))

            started = time.perf_counter()
            copy_postgres(ours_engine, copied_engine, Options(parallel=os.cpu_count() or 1))
            checks = verify_postgres(ours_engine, copied_engine)
            pg_seconds = time.perf_counter() - started
            assert all(check.equal for check in checks)

            # Into a schema that exists already, keys and foreign keys active (infra/datamove/into.py):
            # the copies above, emptied, are the prepared targets.
            for engine in (ours_engine, copied_engine):
                with engine.begin() as conn:
                    conn.execute(text("TRUNCATE artists, works, sales"))
            started = time.perf_counter()
            outcomes = copy_into(ours_engine, from_sqlite(source, ours_engine, Options()))
            into_sqlite = time.perf_counter() - started
            assert sum(o.inserted for o in outcomes.values()) == rows
            assert all(check.equal for check in verify(source, ours_engine, Options()))
            started = time.perf_counter()
            outcomes = copy_into(copied_engine, from_postgres(ours_engine, copied_engine))
            checks = verify_postgres(ours_engine, copied_engine)
            into_pg = time.perf_counter() - started
            assert sum(o.inserted for o in outcomes.values()) == rows and all(check.equal for check in checks)
        finally:
            pg.stop()

    ours_rate, theirs_rate, pg_rate = rows / ours, rows / theirs, rows / pg_seconds
    into_sqlite_rate, into_pg_rate = rows / into_sqlite, rows / into_pg
    print(f"\nmigration: {rows:,} rows (artists {artists:,}, works {works:,}, sales {sales:,})\n")
    print(f"{'run':<44}{'seconds':>10}{'rows/s':>12}{'keys+FKs':>10}")
    print(f"{'SQLite -> PG, infra.datamove':<44}{ours:>10.1f}{ours_rate:>12,.0f}{ours_constraints:>10}")
    print(f"{'SQLite -> PG, pgloader 3.6 (exact REAL)':<44}{theirs:>10.1f}{theirs_rate:>12,.0f}{theirs_constraints:>10}")
    print(f"{'PG -> PG, infra.datamove (+ checksums)':<44}{pg_seconds:>10.1f}{pg_rate:>12,.0f}")
    print(f"{'SQLite -> existing schema, --into':<44}{into_sqlite:>10.1f}{into_sqlite_rate:>12,.0f}")
    print(f"{'PG -> existing schema, --into (+ checksums)':<44}{into_pg:>10.1f}{into_pg_rate:>12,.0f}")
    metrics = [
        {"name": "sqlite_to_pg_rows_per_s", "value": round(ours_rate), "unit": "rows/s", "baseline": round(theirs_rate),
         "ratio": round(ours_rate / theirs_rate, 3), "target": TARGET_RATIO},
        {"name": "pg_to_pg_rows_per_s_with_checksums", "value": round(pg_rate), "unit": "rows/s", "baseline": None,
         "ratio": None, "target": TARGET_PG_ROWS_PER_S},
        {"name": "sqlite_into_existing_rows_per_s", "value": round(into_sqlite_rate), "unit": "rows/s",
         "baseline": round(theirs_rate), "ratio": round(into_sqlite_rate / theirs_rate, 3), "target": TARGET_RATIO},
        {"name": "pg_into_existing_rows_per_s_with_checksums", "value": round(into_pg_rate), "unit": "rows/s",
         "baseline": None, "ratio": None, "target": TARGET_PG_ROWS_PER_S},
    ]
    print(json.dumps({"bench": "migrate", "metrics": metrics}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
