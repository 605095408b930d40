"""The dry run: what a copy would do, and which values would not fit, without writing."""
from __future__ import annotations

import sqlite3
from collections import Counter
from itertools import islice

from infra.datamove.load import Options, _source_rows
from infra.datamove.schema import load_order, q, reflect_sqlite
from infra.datamove.types import Misfit, PgType, choice, convert

SAMPLE_ROWS = 10_000


def plan(source: sqlite3.Connection, options: Options) -> str:
    lines = []
    warnings = 0
    for position, table in enumerate(load_order(reflect_sqlite(source)), start=1):
        count = source.execute(f"SELECT count(*) FROM {q(table.name)}").fetchone()[0]
        refs = ", ".join(sorted({fk.target for fk in table.foreign_keys})) or "-"
        lines.append(f"{position}. {table.name}: {count:,} rows; references {refs}")
        rules = {c.name: options.dates.get(f"{table.name}.{c.name}", "auto") for c in table.columns}
        for column in table.columns:
            rule = f", dates {rules[column.name]}" if column.pg is PgType.TIMESTAMPTZ else ""
            flags = " identity" if column.identity else ("" if column.nullable else " not null")
            lines.append(f"     {column.name}: {column.declared or '(none)'} -> {column.sql_type}{flags}{rule}"
                         f"  ({choice(column.declared, column.pg, column.size)})")
        misfits: Counter[tuple[str, str]] = Counter()
        examples: dict[tuple[str, str], str] = {}
        for rowid, *values in islice(_source_rows(source, table), SAMPLE_ROWS):
            for column, value in zip(table.columns, values, strict=True):
                try:
                    convert(value, column.pg, date_rule=rules[column.name], nul=options.nul, size=column.size)
                except Misfit as misfit:
                    key = (column.name, str(misfit))
                    misfits[key] += 1
                    examples.setdefault(key, f"rowid {rowid}: {value!r:.60}")
        for (column, reason), n in sorted(misfits.items()):
            warnings += 1
            lines.append(f"   ! {column}: {n} sampled values {reason}, e.g. {examples[(column, reason)]}")
    lines.append(f"{warnings} warnings (first {SAMPLE_ROWS:,} rows of each table sampled); nothing was written")
    return "\n".join(lines)


def plan_postgres(engine) -> str:
    from sqlalchemy import text

    from infra.datamove.schema import reflect_postgres

    lines = []
    with engine.connect() as conn:
        for position, table in enumerate(load_order(reflect_postgres(engine)), start=1):
            count = conn.execute(text(f"SELECT count(*) FROM {q(table.name)}")).scalar()
            refs = ", ".join(sorted({fk.target for fk in table.foreign_keys})) or "-"
            lines.append(f"{position}. {table.name}: {count:,} rows; references {refs}")
            for column in table.columns:
                flags = " identity" if column.identity else ("" if column.nullable else " not null")
                lines.append(f"     {column.name}: {column.sql_type} (kept){flags}")
    lines.append("PostgreSQL to PostgreSQL keeps every type; nothing was written")
    return "\n".join(lines)
