"""Row counts and content checksums, computed the same way on both sides.

Every value is put in one canonical form (infra/datamove/types.py ``canonical``: floats
by their exact bits, instants in UTC, bytes in hex...), each row's form is hashed, and
the hashes are summed modulo 2^256: the checksum does not depend on row order, so
neither side has to sort, and memory stays bounded (the target is read through a
server-side cursor). Between two PostgreSQL databases each server checksums its own
rows (``server_checksum``).
"""
from __future__ import annotations

import functools
import hashlib
import sqlite3
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from sqlalchemy import text

from infra.datamove.load import Options, _source_rows
from infra.datamove.schema import Table, load_order, q, reflect_sqlite
from infra.datamove.stream import cursor_rows
from infra.datamove.types import Misfit, canonical, convert

if TYPE_CHECKING:
    from sqlalchemy import Engine

MODULUS = 2**256


@dataclass
class TableCheck:
    table: str
    source_rows: int
    target_rows: int
    source_checksum: str
    target_checksum: str

    @property
    def equal(self) -> bool:
        return self.source_rows == self.target_rows and self.source_checksum == self.target_checksum


def _row_hash(values: list[str]) -> int:
    return int.from_bytes(hashlib.sha256("\t".join(values).encode()).digest(), "big")


def source_checksum(source: sqlite3.Connection, table: Table, options: Options) -> tuple[int, str]:
    rules = [options.dates.get(f"{table.name}.{c.name}", "auto") for c in table.columns]
    rows, total = 0, 0
    for _, *values in _source_rows(source, table):
        forms = []
        for column, rule, value in zip(table.columns, rules, values, strict=True):
            try:
                forms.append(canonical(convert(value, column.pg, date_rule=rule, nul=options.nul, size=column.size)))
            except Misfit:
                forms.append("\\N")  # what the copy would have refused
        total = (total + _row_hash(forms)) % MODULUS
        rows += 1
    return rows, f"{total:064x}"


def target_checksum(engine: Engine, table: Table) -> tuple[int, str]:
    cols = ", ".join(q(c.name) for c in table.columns)
    rows, total = 0, 0
    with engine.begin() as conn:
        for row in cursor_rows(conn, f"SELECT {cols} FROM {q(table.name)}"):
            total = (total + _row_hash([canonical(value) for value in row])) % MODULUS
            rows += 1
    return rows, f"{total:064x}"


def verify(source: sqlite3.Connection, engine: Engine, options: Options) -> list[TableCheck]:
    checks = []
    for table in load_order(reflect_sqlite(source)):
        source_rows, source_sum = source_checksum(source, table, options)
        target_rows, target_sum = target_checksum(engine, table)
        checks.append(TableCheck(table.name, source_rows, target_rows, source_sum, target_sum))
    return checks


# Both sides are PostgreSQL with the same column types: each server hashes the text
# form of its own rows (the type's output function is the canonical form) with its own
# 64-bit text hash and sums the hashes, order-independently, where the data is (half the
# time of the first 64 bits of an md5, which gave the same sums).
_SERVER_CHECKSUM = """
    SELECT count(*), coalesce(sum(hashtextextended(CAST(row({columns}) AS text), 0)), 0) FROM {table}
"""


def server_checksum(engine: Engine, table: Table) -> tuple[int, str]:
    columns = ", ".join(q(c.name) for c in table.columns)
    with engine.connect() as conn:
        rows, total = conn.execute(text(_SERVER_CHECKSUM.format(columns=columns, table=q(table.name)))).one()
    return rows, str(total)


def verify_postgres(source: Engine, engine: Engine) -> list[TableCheck]:
    """Both sides' checksums at once, a table at a time each: each is the work of its own server."""
    from concurrent.futures import ThreadPoolExecutor

    from infra.datamove.schema import reflect_postgres

    tables = load_order(reflect_postgres(source))
    with ThreadPoolExecutor(max_workers=1) as source_side, ThreadPoolExecutor(max_workers=1) as target_side:
        sources = source_side.map(functools.partial(server_checksum, source), tables)
        targets = target_side.map(functools.partial(server_checksum, engine), tables)
        return [TableCheck(table.name, source_rows, target_rows, source_sum, target_sum)
                for table, (source_rows, source_sum), (target_rows, target_sum)
                in zip(tables, sources, targets, strict=True)]


def report(checks: list[TableCheck]) -> str:
    lines = [f"{'table':<32}{'source rows':>14}{'target rows':>14}  content"]
    for check in checks:
        verdict = "equal" if check.equal else "DIFFERENT"
        lines.append(f"{check.table:<32}{check.source_rows:>14,}{check.target_rows:>14,}  {verdict}")
    return "\n".join(lines)


def as_json(checks: list[TableCheck]) -> dict:
    return {"equal": all(c.equal for c in checks),
            "tables": [{**asdict(c), "equal": c.equal} for c in checks]}
