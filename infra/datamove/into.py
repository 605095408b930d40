"""Copy into an existing schema: a target already at Alembic head (or another prepared schema)
whose constraints and foreign keys stay active throughout.

Each table goes in through a stage: its rows are COPYed into an unlogged twin of the target
table that has the target's columns and defaults but none of its constraints; the rows that
would break one are set aside and reported, a line per row and reason, and the rest go in
with one ``INSERT … SELECT``. One bad row neither aborts its table nor disappears unreported.

The order is the foreign keys' among the tables loaded: parents first. A foreign key in a cycle
(users -> media -> users) is loaded in a second pass: its column goes in empty with the row
and is set once every table of the load is in, so it must be nullable. A self-reference needs
no pass: an insert checks its foreign keys at the end of its statement, its own rows included.
Identity and serial sequences are moved past the largest id the load brought.
"""
from __future__ import annotations

import contextlib
import functools
import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from infra.datamove.load import Options, Refused, copy_lines, holds_rows, read_only
from infra.datamove.schema import ForeignKey, Table, parents_first, q, reflect_postgres, reflect_sqlite
from infra.datamove.stream import copy_in, offer
from shared.bulk import sqlstate

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy import Connection, Engine

STAGE = "_datamove_stage_"
# The stage's own columns: the source row's number, and what it breaks.
ROW, REASONS = "_datamove_row", "_datamove_reasons"
# Conflicts listed in the summary; the report (--conflicts) holds every one.
SHOWN = 20
BATCH = 10_000
LEFT_EMPTY = ": left empty"  # the end of a second pass's reason: the row went in, that value did not
# From this many rows, a load may leave out PostgreSQL's own per-row checks of what it checked
# itself (_way): below it, they cost little, and the load locks no table against writers.
SET_BASED_KEYS = 50_000


@dataclass(frozen=True)
class Conflict:
    """A source row that did not go in (or went in with a value left empty), and why."""
    table: str
    row: int  # its place in the table's source rows, from 1
    key: dict[str, str | None]  # its primary key as given (text)
    reason: str

    @property
    def went_in(self) -> bool:
        return self.reason.endswith(LEFT_EMPTY)


@dataclass(frozen=True)
class Incoming:
    """One target table's rows: the columns the source gives, and their COPY text. ``lines``
    puts what went wrong while reading into the list it is given, raised once the COPY ends."""
    columns: list[str]
    lines: Callable[[list[BaseException]], Iterable[bytes]]
    copy_options: str = ""  # e.g. mapping mode's DEFAULT marker
    rows: int = 0  # how many the source holds, counted up to SET_BASED_KEYS (0: unknown, taken as few)
    concurrent: bool = False  # ``lines`` may run on several threads at once (each reads on its own connection)


@dataclass
class Outcome:
    rows: int = 0
    inserted: int = 0
    set_aside: int = 0  # rows that did not go in
    left_empty: int = 0  # rows that went in with a key of a cycle left empty
    unnamed: int = 0  # rows a unique index refused in a table without a primary key to name them by


Report = Callable[[Conflict], None]
Progress = Callable[[str, Outcome, float], None]


def order(tables: list[Table]) -> tuple[list[Table], dict[str, list[ForeignKey]]]:
    """Parents first, and the foreign keys loaded in the second pass (table -> keys): in a cycle
    among the tables, each nullable key whose target is in the cycle. Refused when a cycle has
    no nullable key to break it."""
    names = {t.name for t in tables}
    edges = {t.name: {fk.target for fk in t.foreign_keys if fk.target in names and fk.target != t.name}
             for t in tables}
    cycles = _cycles(edges)
    deferred: dict[str, list[ForeignKey]] = {}
    for table in tables:
        cycle = next((c for c in cycles if table.name in c), None)
        if cycle is None:
            continue
        for fk in table.foreign_keys:
            # A second pass finds its rows again by their primary key: a table without one keeps its keys.
            if fk.target in cycle and fk.target != table.name and table.primary_key \
                    and all(table.column(c).nullable for c in fk.columns):
                deferred.setdefault(table.name, []).append(fk)
                edges[table.name].discard(fk.target)
    remaining = _cycles(edges)
    if remaining:
        raise Refused(f"the foreign keys of {', '.join(sorted(remaining[0]))} form a cycle through NOT NULL columns: "
                      "no order loads them with their keys active")
    by_name = {t.name: t for t in tables}
    return [by_name[name] for name in parents_first({name: sorted(edges[name]) for name in edges})], deferred


def _cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one table (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for after in edges[node]:
            if after not in index:
                connect(after)
                low[node] = min(low[node], low[after])
            elif after in stack:
                low[node] = min(low[node], index[after])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return found


def _referencing_outside(conn: Connection, names: list[str]) -> list[str]:
    """Tables outside the load that refer to one in it, or to such a table (TRUNCATE needs them all)."""
    found: list[str] = []
    while True:
        referring = conn.execute(text("""
            SELECT DISTINCT child.relname FROM pg_constraint c
            JOIN pg_class child ON child.oid = c.conrelid JOIN pg_class parent ON parent.oid = c.confrelid
            WHERE c.contype = 'f' AND parent.relname = ANY(:names) AND NOT child.relname = ANY(:names)
              AND child.relnamespace = CAST(current_schema() AS regnamespace)
        """), {"names": [*names, *found]}).scalars().all()
        if not referring:
            return found
        found += sorted(referring)


def truncate(conn: Connection, names: list[str]) -> None:
    """Empty the tables of the load with their foreign keys active: tables outside it that refer
    to them go too when empty (PostgreSQL asks for them); refused when one holds rows. Locked
    first, so no row arrives between the look and the TRUNCATE."""
    outside = _referencing_outside(conn, names)
    conn.execute(text(f"LOCK TABLE {', '.join(map(q, [*names, *outside]))} IN ACCESS EXCLUSIVE MODE"))
    holding = [name for name in outside if holds_rows(conn, name)]
    if holding:
        raise Refused(f"--truncate would also empty {', '.join(holding)}, which refer to the tables loaded: "
                      "load them too, or empty them first")
    conn.execute(text(f"TRUNCATE {', '.join(map(q, [*names, *outside]))}"))


def _catalogue(sql: str) -> str:
    """Text from the catalogue (a condition, a predicate, a default) as SQLAlchemy's text() must
    receive it: a colon in it is the SQL's own, never a parameter. (The statements that carry it
    have no parameters, so pg8000 passes a "%" in it through as it is.)"""
    return sql.replace(":", "\\:")


def _defaults(conn: Connection, table: str) -> dict[str, str]:
    """Column -> what fills it when the source gives nothing: its default, or its identity's
    next value (generated columns compute themselves in the target)."""
    return dict(conn.execute(text("""
        SELECT a.attname, CASE WHEN a.attidentity <> '' THEN
                   format('nextval(%L)', pg_get_serial_sequence(CAST(:t AS text), a.attname))
               ELSE pg_get_expr(d.adbin, d.adrelid) END
        FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = CAST(:t AS regclass) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
          AND (d.adbin IS NOT NULL OR a.attidentity <> '')
    """), {"t": q(table)}).all())


def _checks(conn: Connection, table: str, staged: set[str]) -> list[tuple[str, str]]:
    """(name, condition) of the table's CHECK constraints over staged columns (one over a
    generated column is the target's to apply: a row that breaks it stops the table)."""
    rows = conn.execute(text("""
        SELECT c.conname, pg_get_constraintdef(c.oid),
               ARRAY(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey))
        FROM pg_constraint c WHERE c.conrelid = CAST(:t AS regclass) AND c.contype = 'c'
    """), {"t": q(table)}).all()
    return [(name, definition.removeprefix("CHECK ").removesuffix(" NOT VALID").removesuffix(" NO INHERIT"))
            for name, definition, columns in rows if set(columns) <= staged]


def _uniques(conn: Connection, table: str) -> list[tuple[str, list[str], str | None]]:
    """(name, key columns, predicate) of the table's unique indexes on plain columns."""
    rows = conn.execute(text("""
        SELECT c.relname,
               ARRAY(SELECT a.attname FROM unnest(CAST(i.indkey AS int2[])) WITH ORDINALITY AS k(attnum, n)
                     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                     WHERE k.n <= i.indnkeyatts ORDER BY k.n),
               pg_get_expr(i.indpred, i.indrelid)
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = CAST(:t AS regclass) AND i.indisunique AND 0 <> ALL (i.indkey)
        ORDER BY i.indisprimary DESC, c.relname
    """), {"t": q(table)}).all()
    return [(name, list(columns), predicate) for name, columns, predicate in rows]


def _stage_name(conn: Connection, table: Table) -> str:
    """The stage of a table, named by its oid: any table name fits in 63 bytes, and two long ones
    never share a stage."""
    return q(f"{STAGE}{conn.execute(text('SELECT CAST(CAST(:t AS regclass) AS oid)'), {'t': q(table.name)}).scalar()}")


def _stage(conn: Connection, table: Table, staged: list[str], *, dry_run: bool = False) -> str:
    """An unlogged twin of the table: its columns and what fills them when the source gives
    nothing, no constraints, and the source row's number and reasons. A dry run draws new ids
    from a temporary sequence past the table's largest: the live one never moves for it."""
    stage = _stage_name(conn, table)
    conn.execute(text(f"DROP TABLE IF EXISTS {stage}"))
    conn.execute(text(f"CREATE UNLOGGED TABLE {stage} AS SELECT {', '.join(map(q, staged))} "
                      f"FROM {q(table.name)} WITH NO DATA"))
    for position, (column, default) in enumerate(_defaults(conn, table.name).items()):
        if column not in staged:
            continue
        if dry_run and default.startswith("nextval("):
            sequence = f"{stage[:-1]}_{position}\""
            start = conn.execute(text(f"SELECT coalesce(max({q(column)}), 0) + 1 FROM {q(table.name)}")).scalar()
            conn.execute(text(f"CREATE TEMPORARY SEQUENCE {sequence} START {int(start)}"))
            default = f"nextval('pg_temp.{sequence}')"
        conn.execute(text(f"ALTER TABLE {stage} ALTER COLUMN {q(column)} SET DEFAULT {_catalogue(default)}"))
    conn.execute(text(f"ALTER TABLE {stage} ADD COLUMN {ROW} bigint GENERATED ALWAYS AS IDENTITY, "
                      f"ADD COLUMN {REASONS} text[] NOT NULL DEFAULT '{{}}'"))
    return stage


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _mark(conn: Connection, stage: str, rules: list[tuple[str, str]]) -> int:
    """Each (condition over the staged row ``s``, reason) in one pass over the stage: a row
    that meets conditions gets their reasons. How many rows were marked."""
    if not rules:
        return 0
    reasons = ", ".join(f"CASE WHEN {condition} THEN {_literal(reason)} END" for condition, reason in rules)
    return conn.execute(text(
        f"UPDATE {stage} s SET {REASONS} = {REASONS} || array_remove(ARRAY[{reasons}], NULL) "
        f"WHERE {' OR '.join(f'({condition})' for condition, _ in rules)}")).rowcount


def _key_match(columns: list[str], left: str, right: str) -> str:
    return " AND ".join(f"{left}.{q(c)} = {right}.{q(c)}" for c in columns)


def _fk_match(fk: ForeignKey) -> tuple[str, str]:
    """(the staged row gives every column of the key, the parent row ``p`` is the one it names)."""
    given = " AND ".join(f"s.{q(c)} IS NOT NULL" for c in fk.columns)
    match = " AND ".join(f"p.{q(t)} = s.{q(c)}" for c, t in zip(fk.columns, fk.target_columns, strict=True))
    return given, match


def _no_parent(fk: ForeignKey) -> tuple[str, str]:
    """(the staged row ``s`` names a parent that is not there, the reason it is told)."""
    given, match = _fk_match(fk)
    return (f"{given} AND NOT EXISTS (SELECT 1 FROM {q(fk.target)} p WHERE {match})",
            f"no {fk.target} row for {', '.join(fk.columns)} ({fk.name})")


def _check_rows(conn: Connection, table: Table, stage: str, staged: list[str], deferred: list[ForeignKey]) -> None:
    """Every rule of the target the staged rows would break, marked on them. Unqualified names
    in a condition are the nearest table's: the staged row's, or the target's or the earlier
    staged row's inside an EXISTS."""
    name = q(table.name)
    rules = [(f"s.{q(c.name)} IS NULL", f"no value for {c.name}") for c in table.columns
             if c.name in staged and not c.nullable]
    # A CHECK passes on NULL: only a false condition breaks it.
    rules += [(f"({_catalogue(condition)}) IS FALSE", f"breaks {constraint}")
              for constraint, condition in _checks(conn, table.name, set(staged))]
    others = [fk for fk in table.foreign_keys if fk not in deferred and fk.target != table.name
              and set(fk.columns) <= set(staged)]
    rules += [_no_parent(fk) for fk in others]
    _mark(conn, stage, rules)
    conn.execute(text(f"ANALYZE {stage}"))
    for index, columns, predicate in _uniques(conn, table.name):
        if not set(columns) <= set(staged):
            continue
        where = f" AND ({_catalogue(predicate)})" if predicate else ""  # a partial index: the rows it holds
        _mark(conn, stage, [(f"EXISTS (SELECT 1 FROM {name} t WHERE {_key_match(columns, 't', 's')}{where}){where}",
                             f"already in {table.name} ({index})")])
        # An earlier row that goes in; one set aside leaves the key free.
        _mark(conn, stage, [(f"EXISTS (SELECT 1 FROM {stage} e WHERE {_key_match(columns, 'e', 's')} "
                             f"AND e.{ROW} < s.{ROW} AND e.{REASONS} = '{{}}'{where}){where}",
                             f"repeats an earlier row's {', '.join(columns)} ({index})")])
    # A self-reference last, until nothing changes: a row whose parent was set aside follows it.
    for fk in table.foreign_keys:
        if fk.target == table.name and set(fk.columns) <= set(staged):
            given, match = _fk_match(fk)
            condition = (f"s.{REASONS} = '{{}}' AND {given} AND NOT EXISTS (SELECT 1 FROM {name} p WHERE {match}) "
                         f"AND NOT EXISTS (SELECT 1 FROM {stage} p WHERE {match} AND p.{REASONS} = '{{}}')")
            while _mark(conn, stage, [(condition, _no_parent(fk)[1])]):
                pass


@dataclass(frozen=True)
class Way:
    """How a large load inserts (``_way``); a small one, or a dry run, as PostgreSQL checks by default."""
    set_based_keys: bool = False  # the load's own foreign-key check stands in for the per-row triggers
    alone: bool = False  # no other writer, every unique rule checked: no ON CONFLICT arbiter needed


def _way(conn: Connection, table: Table, rows: int, staged: list[str], deferred: list[ForeignKey], *,
         lock_parents: bool = True) -> Way:
    """For a load of ``rows`` (SET_BASED_KEYS or more), what PostgreSQL need not check again, and the
    locks that make it so, held until the table's transaction ends (readers go on throughout).
    Only for a table the checks fully describe: no trigger or rule of its own, no deferrable
    constraint, no cycle's key inserted empty, every unique rule one ``_check_rows`` reads as
    PostgreSQL does (plain staged columns, default operator classes and collations, NULLs
    distinct, no exclusion constraint). Then:

    - ``alone``: the table is locked against other writers (SHARE ROW EXCLUSIVE), so no key can
      arrive between the check and the insert, and the insert needs no ON CONFLICT arbiter
      (30% of its time); a row that still broke a rule would stop the table, never slip in;
    - ``set_based_keys``: the foreign keys, checked once set-based, are not checked again per
      row by PostgreSQL's triggers (replica mode), when every key is MATCH SIMPLE over staged
      columns (what the check reads) and the role may set session_replication_role (a
      superuser; on PostgreSQL 15 and later, one granted ``SET ON PARAMETER
      session_replication_role``). The parents are locked against writes (SHARE), so no
      parent the check found can go before the rows that need it are in.

    A lock the role may not take leaves that part to PostgreSQL. ``lock_parents=False``: the
    caller locks the parents itself, later (``_direct``)."""
    if deferred or rows < SET_BASED_KEYS:
        return Way()
    described, keys_described = _described(conn, table, staged)
    if not described:
        return Way()
    if not _locked(conn, [table.name], "SHARE ROW EXCLUSIVE"):
        return Way()
    parents = sorted({fk.target for fk in table.foreign_keys} - {table.name})
    keys = (bool(table.foreign_keys) and keys_described and _may_skip_triggers(conn)
            and (_locked(conn, parents, "SHARE") if lock_parents else _may_lock(conn, parents)))
    return Way(set_based_keys=keys, alone=True)


# What makes a table's own rules other than those the stage's checks read as PostgreSQL does:
# (anything at all, anything about its foreign keys).
_UNLIKE = """
    SELECT (SELECT count(*) FROM pg_trigger WHERE tgrelid = CAST(:t AS regclass) AND NOT tgisinternal)
         + (SELECT count(*) FROM pg_rewrite WHERE ev_class = CAST(:t AS regclass))
         + (SELECT count(*) FROM pg_constraint WHERE conrelid = CAST(:t AS regclass)
            AND (condeferrable OR contype = 'x'))
         + (SELECT count(*) FROM pg_index i WHERE i.indrelid = CAST(:t AS regclass) AND i.indisunique
            AND (0 = ANY (i.indkey) OR i.indnullsnotdistinct OR EXISTS (
                SELECT 1 FROM unnest(CAST(i.indkey AS int2[]), CAST(i.indclass AS oid[]),
                                     CAST(i.indcollation AS oid[])) AS k(attnum, opclass, coll)
                JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                JOIN pg_opclass o ON o.oid = k.opclass
                WHERE NOT o.opcdefault OR k.coll <> a.attcollation))),
           (SELECT count(*) FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) AND contype = 'f'
            AND confmatchtype <> 's')
"""


def _described(conn: Connection, table: Table, staged: list[str]) -> tuple[bool, bool]:
    """Whether the stage's checks describe the table's own rules fully (``_way``), and its
    foreign keys (every one MATCH SIMPLE over staged columns, what the check reads)."""
    unlike, unlike_keys = conn.execute(text(_UNLIKE), {"t": q(table.name)}).one()
    uniques = _uniques(conn, table.name)
    return (not unlike and all(set(columns) <= set(staged) for _, columns, _ in uniques),
            not unlike_keys and all(set(fk.columns) <= set(staged) for fk in table.foreign_keys))


def _may_lock(conn: Connection, tables: list[str]) -> bool:
    """Whether the role may lock the tables IN SHARE MODE later (UPDATE, DELETE or TRUNCATE on
    each), without waiting for a lock now."""
    return all(conn.execute(text("SELECT has_table_privilege(CAST(:t AS regclass), 'UPDATE, DELETE, TRUNCATE')"),
                            {"t": q(name)}).scalar_one() for name in tables)


def _may_skip_triggers(conn: Connection) -> bool:
    """Whether the role may set session_replication_role (otherwise the triggers check, row by row)."""
    return _tried(conn, "SET LOCAL session_replication_role = replica", "SET LOCAL session_replication_role = origin")


def _locked(conn: Connection, tables: list[str], mode: str) -> bool:
    """The tables locked in ``mode`` (nothing to lock: True); False when the role may not."""
    return not tables or _tried(conn, f"LOCK TABLE {', '.join(map(q, tables))} IN {mode} MODE")


def _tried(conn: Connection, *statements: str) -> bool:
    """The statements run in a savepoint; False, and nothing done, when the role may not."""
    try:
        with conn.begin_nested():
            for statement in statements:
                conn.execute(text(statement))
    except DBAPIError:
        return False
    return True


def _insert(conn: Connection, table: Table, stage: str, staged: list[str], deferred: list[ForeignKey], *,
            way: Way = Way()) -> Outcome:
    """The staged rows that broke nothing, in. A row a unique index these checks do not read
    (an expression's) still refused is marked by its key; a table without one counts them.
    ``way``: what need not be checked again (``_way``): 2.9x faster on 500k rows with both."""
    later = {c for fk in deferred for c in fk.columns}
    values = ", ".join(f"NULL::{table.column(c).sql_type}" if c in later else f"s.{q(c)}" for c in staged)
    overriding = " OVERRIDING SYSTEM VALUE" if any(table.column(c).identity for c in staged) else ""
    rows, eligible = conn.execute(text(
        f"SELECT count(*), count(*) FILTER (WHERE {REASONS} = '{{}}') FROM {stage}")).one()
    if way.set_based_keys:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
    # With an arbiter, in the source's order: of two rows a rule the checks do not read refuses,
    # the first goes in. Alone, no row is refused: no sort. PostgreSQL takes no deferrable
    # unique rule as an arbiter: beside one, a row the checks missed stops the table.
    # Alone means no deferrable constraint (``_UNLIKE``): no need to ask.
    deferrable = not way.alone and conn.execute(text(
        "SELECT count(*) FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) AND condeferrable "
        "AND contype IN ('p', 'u', 'x')"), {"t": q(table.name)}).scalar_one()
    tail = "" if way.alone or deferrable else f" ORDER BY s.{ROW} ON CONFLICT DO NOTHING"
    inserted = conn.execute(text(
        f"INSERT INTO {q(table.name)} ({', '.join(map(q, staged))}){overriding} "
        f"SELECT {values} FROM {stage} s WHERE s.{REASONS} = '{{}}'{tail}")).rowcount
    if way.set_based_keys:
        conn.execute(text("SET LOCAL session_replication_role = origin"))
    outcome = Outcome(rows=rows, inserted=inserted)
    if inserted < eligible:  # primary keys were checked: a refused row's key is not in the table
        if table.primary_key:
            _mark(conn, stage, [(f"s.{REASONS} = '{{}}' AND NOT EXISTS (SELECT 1 FROM {q(table.name)} t "
                                 f"WHERE {_key_match(table.primary_key, 't', 's')})",
                                 f"refused by a unique index of {table.name}")])
        else:
            outcome.unnamed = eligible - inserted
    return outcome


def _second_pass(conn: Connection, table: Table, stage: str, fks: list[ForeignKey]) -> None:
    """The deferred keys' values, now that every table is in: for the rows that went in, and
    for rows already there from an earlier copy whose value is still empty. A value whose
    parent never arrived stays empty and is reported."""
    there = f"NOT EXISTS (SELECT 1 FROM unnest(s.{REASONS}) AS r WHERE r NOT LIKE 'already in %')"
    for fk in fks:
        given, match = _fk_match(fk)
        missing, reason = _no_parent(fk)
        _mark(conn, stage, [(f"s.{REASONS} = '{{}}' AND {missing}", f"{reason}{LEFT_EMPTY}")])
        sets = ", ".join(f"{q(c)} = s.{q(c)}" for c in fk.columns)
        empty = " AND ".join(f"t.{q(c)} IS NULL" for c in fk.columns)
        conn.execute(text(
            f"UPDATE {q(table.name)} t SET {sets} FROM {stage} s WHERE {_key_match(table.primary_key, 't', 's')} "
            f"AND {given} AND (s.{REASONS} = '{{}}' OR ({there} AND {empty} "
            f"AND EXISTS (SELECT 1 FROM {q(fk.target)} p WHERE {match})))"))


def _sequences(conn: Connection, table: Table) -> None:
    """Each identity or serial sequence of the table past its largest value, never back."""
    for column in table.columns:
        sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                {"t": q(table.name), "c": column.name}).scalar_one()
        if sequence is None:
            continue
        conn.execute(text(f"SELECT setval(:s, m) FROM (SELECT max({q(column.name)}) AS m FROM {q(table.name)}) top "
                          "WHERE m IS NOT NULL AND m > coalesce(pg_sequence_last_value(CAST(:s AS regclass)), 0)"),
                     {"s": sequence})


def _report(conn: Connection, table: Table, stage: str, outcome: Outcome, report: Report | None) -> None:
    """Count the table's set-aside and left-empty rows; hand each conflict to ``report``, a
    batch of rows at a time (memory stays flat whatever their number)."""
    outcome.set_aside, outcome.left_empty = conn.execute(text(
        f"SELECT count(*) FILTER (WHERE NOT {REASONS}[1] LIKE :empty), count(*) FILTER (WHERE {REASONS}[1] LIKE :empty) "
        f"FROM {stage} WHERE {REASONS} <> '{{}}'"), {"empty": f"%{LEFT_EMPTY}"}).one()
    if report is None:
        return
    key = table.primary_key
    columns = "".join(f", CAST(s.{q(c)} AS text)" for c in key)
    last = 0
    while batch := conn.execute(text(
            f"SELECT {ROW}, {REASONS}{columns} FROM {stage} s WHERE {REASONS} <> '{{}}' AND {ROW} > :last "
            f"ORDER BY {ROW} LIMIT {BATCH}"), {"last": last}).all():
        for row, reasons, *values in batch:
            for reason in reasons:
                report(Conflict(table.name, row, dict(zip(key, values, strict=True)), reason))
        last = batch[-1][0]


def copy_into(engine: Engine, incoming: dict[str, Incoming], *, empty_first: bool = False, dry_run: bool = False,
              report: Report | None = None, progress: Progress | None = None,
              then: Callable[[Connection], object] | None = None) -> dict[str, Outcome]:
    """Load each target table of ``incoming`` in the foreign keys' order, each in its own
    transaction (its sequences moved in it); then the cycles' second pass. Every conflict goes
    to ``report``; returns the counts per table. ``empty_first`` truncates in a transaction of
    its own before anything loads. ``dry_run``: all of it in one transaction, rolled back at
    the end: the same counts and conflicts, nothing written. ``then`` reads the loaded tables
    once all is in (a dry run's, before they are rolled back)."""
    schema = {t.name: t for t in reflect_postgres(engine) if not t.name.startswith(STAGE)}
    missing = sorted(set(incoming) - set(schema))
    if missing:
        raise Refused(f"the target has no table {', '.join(missing)}: run its migrations first")
    tables, deferred = order([schema[name] for name in incoming])
    plans = {}
    for table in tables:
        given = incoming[table.name].columns
        unknown = sorted(set(given) - {c.name for c in table.columns})
        generated = sorted(c.name for c in table.columns if c.generated is not None and c.name in given)
        if unknown or generated:
            raise Refused(f"{table.name} has no column {', '.join(unknown)}" if unknown else
                          f"{table.name}.{', '.join(generated)} is computed by the target: leave it out")
        # The source's columns, and the others with what fills them here (generated ones compute themselves).
        plans[table.name] = given + [c.name for c in table.copied if c.name not in given]
    with contextlib.ExitStack() as stack:
        step = _steps(engine, stack, dry_run)
        if empty_first:
            with step() as conn:
                truncate(conn, [t.name for t in tables])
        outcomes = _load(step, tables, incoming, plans, deferred, report, progress, dry_run=dry_run)
        if then is not None:
            with step() as conn:
                then(conn)
        return outcomes


def _steps(engine: Engine, stack: contextlib.ExitStack,
           dry_run: bool) -> Callable[[], contextlib.AbstractContextManager[Connection]]:
    """Each step's transaction: its own, or (a dry run) one for all, rolled back at the end."""
    if not dry_run:
        return engine.begin
    conn = stack.enter_context(engine.connect())  # never committed: closing it rolls everything back
    return lambda: contextlib.nullcontext(conn)


def _fill_stage(conn: Connection, table: Table, source: Incoming, staged: list[str], *, dry_run: bool) -> str:
    """The table's stage, with the source's rows in it."""
    stage = _stage(conn, table, staged, dry_run=dry_run)
    _copy_source(conn, stage, source)
    return stage


def _copy_source(conn: Connection, into: str, source: Incoming) -> int:
    """The source's rows COPYed into ``into``; a failure while reading raised once the COPY ends.
    The rows the server took."""
    failures: list[BaseException] = []
    rows = copy_in(conn, into, tuple(map(q, source.columns)), source.lines(failures), with_options=source.copy_options)
    if failures:
        raise failures[0]
    return rows


def _orphaned(conn: Connection, table: Table) -> bool:
    """Whether a row of the table names a parent that is not there: a query of its own for each
    key, each one anti-join (under OR, a lookup a row)."""
    return any(conn.execute(text(f"SELECT EXISTS (SELECT 1 FROM {q(table.name)} s WHERE {_no_parent(fk)[0]})"))
               .scalar_one() for fk in table.foreign_keys)


class NotNow(Exception):
    """A direct attempt that cannot be made beside the parents' own: it waits for them."""


def _direct(conn: Connection, table: Table, source: Incoming, staged: list[str], deferred: list[ForeignKey],
            ahead: bool = False) -> Outcome | None:
    """A large load that the table's own rules (unique indexes, NOT NULL, CHECK) and a set-based
    look at its foreign keys can check whole, COPYed straight into the table (decision 0038):
    no stage, no second reading. Only where ``_way`` finds it may go alone; its locks stay to
    the end of the transaction. The parents are locked after the COPY: ``ahead``, beside a
    parent's own attempt, that waits for the parent's transaction, and the check then sees
    what it brought. None, with nothing written, when a row breaks a rule: the caller then
    loads the table through a stage, which names each such row."""
    if deferred or source.rows < SET_BASED_KEYS:
        return None
    way = _way(conn, table, source.rows, staged, deferred, lock_parents=False)
    # Into rows already there (a load copied again to continue) a key would likely repeat, found
    # only once all is sent: the stage names it at once.
    if not way.alone or holds_rows(conn, table.name):
        return None
    if ahead and table.foreign_keys and not way.set_based_keys:
        raise NotNow  # the per-row triggers would look for parents not yet in
    parents = sorted({fk.target for fk in table.foreign_keys} - {table.name})
    attempt = conn.begin_nested()
    try:
        if way.set_based_keys:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        rows = _copy_source(conn, q(table.name), source)
        if way.set_based_keys:
            conn.execute(text("SET LOCAL session_replication_role = origin"))
            if not _locked(conn, parents, "SHARE") or _orphaned(conn, table):
                attempt.rollback()
                return None
    except Exception as error:
        if attempt.is_active:
            attempt.rollback()
        if (sqlstate(error) or "").startswith("23"):  # integrity constraint violation: a row to name
            return None
        raise
    attempt.commit()
    _sequences(conn, table)
    return Outcome(rows=rows, inserted=rows)


def _take_in(conn: Connection, table: Table, stage: str, staged: list[str], deferred: list[ForeignKey], *,
             dry_run: bool) -> Outcome:
    """The staged rows checked against the target as it is now, and those that break nothing in."""
    # A dry run takes no locks: it would hold them to its end.
    way = Way() if dry_run else _way(conn, table, conn.execute(text(counted_to_way(stage))).scalar_one(),
                                     staged, deferred)
    _check_rows(conn, table, stage, staged, deferred)
    outcome = _insert(conn, table, stage, staged, deferred, way=way)
    if not dry_run:  # setval is not undone by a rollback
        _sequences(conn, table)
    return outcome


def _load(step: Callable[[], contextlib.AbstractContextManager[Connection]], tables: list[Table],
          incoming: dict[str, Incoming], plans: dict[str, list[str]], deferred: dict[str, list[ForeignKey]],
          report: Report | None, progress: Progress | None, *, dry_run: bool) -> dict[str, Outcome]:
    """Each table staged, then taken in, in the keys' order. Outside a dry run the two overlap:
    this thread reads the source into the next table's stage (its own transaction: a stage
    depends on no other table) while a worker checks and inserts the one before, so the
    source's reading and the target's checking use a core each; a large table is first tried
    straight into its target (``_direct``). A dry run's single transaction takes one table
    after another."""
    outcomes: dict[str, Outcome] = {}
    stages: dict[str, str] = {}
    started: dict[str, float] = {}

    def done(table: Table) -> None:
        if progress:
            progress(table.name, outcomes[table.name], time.monotonic() - started[table.name])

    def take_in(table: Table) -> None:
        with step() as conn:
            outcomes[table.name] = _take_in(conn, table, stages[table.name], plans[table.name],
                                            deferred.get(table.name, []), dry_run=dry_run)
        done(table)

    def may_go_direct(table: Table, beside: bool = False) -> bool:
        """Without a lock: what ``_direct`` would refuse before any waiting for the tables before
        it; ``beside`` a parent, its foreign keys must be ones the load checks set-based too."""
        with step() as conn:
            described, keys = _described(conn, table, plans[table.name])
            return (table.name not in deferred and described and (keys or not beside)
                    and not holds_rows(conn, table.name))

    def direct(table: Table, ahead: bool = False) -> bool | None:
        """Whether the table went straight in; None: not tried yet (``NotNow``)."""
        started[table.name] = time.monotonic()
        try:
            with step() as conn:
                outcome = _direct(conn, table, incoming[table.name], plans[table.name], deferred.get(table.name, []),
                                  ahead=ahead)
        except NotNow:
            return None
        if outcome is not None:
            outcomes[table.name] = outcome
            done(table)
        return outcome is not None

    try:
        if dry_run:
            for table in tables:
                started[table.name] = time.monotonic()
                with step() as conn:
                    stages[table.name] = _fill_stage(conn, table, incoming[table.name], plans[table.name],
                                                     dry_run=True)
                take_in(table)
        else:
            with step() as conn:
                may_skip_triggers = _may_skip_triggers(conn)
            ahead = _ahead(tables, incoming, functools.partial(may_go_direct, beside=True)) if may_skip_triggers else set()
            _pipelined(step, tables, incoming, plans, stages, started, take_in, direct, may_go_direct, ahead)
        with step() as conn:
            for table in tables:
                if table.name in deferred:
                    _second_pass(conn, table, stages[table.name], deferred[table.name])
                if table.name in stages:  # a table that went in directly broke nothing
                    _report(conn, table, stages[table.name], outcomes[table.name], report)
    finally:
        if not dry_run:  # a dry run's stages go with its transaction
            with step() as conn:
                for stage in stages.values():
                    conn.execute(text(f"DROP TABLE IF EXISTS {stage}"))
    return {table.name: outcomes[table.name] for table in tables}  # in the keys' order, however they ended


def _ahead(tables: list[Table], incoming: dict[str, Incoming], may: Callable[[Table], bool]) -> set[str]:
    """The large tables tried straight into their target beside their parents' own attempts
    (the role may skip the per-row triggers): each the checks without locks let through
    (``may``) whose parents in the load are all tried so too. A parent loaded through its
    stage would not be in when the child looks."""
    ahead: set[str] = set()
    names = {t.name for t in tables}
    for table in tables:  # parents first
        source = incoming[table.name]
        parents = {fk.target for fk in table.foreign_keys if fk.target in names and fk.target != table.name}
        if source.concurrent and source.rows >= SET_BASED_KEYS and parents <= ahead and may(table):
            ahead.add(table.name)
    return ahead


# Direct attempts at once: one a core of the machine the bench runs on (two), each a reading
# here and a COPY on the server.
AHEAD = 2


def _pipelined(step: Callable[[], contextlib.AbstractContextManager[Connection]], tables: list[Table],
               incoming: dict[str, Incoming], plans: dict[str, list[str]], stages: dict[str, str],
               started: dict[str, float], take_in: Callable[[Table], None],
               direct: Callable[[Table, bool], bool | None], may_go_direct: Callable[[Table], bool],
               ahead: set[str]) -> None:
    """Stage here, take in on a worker, in order, one table ahead at most (a stage waits for
    the worker to take the one before). The tables ``ahead`` are tried straight into their
    target from the start, AHEAD at a time in the keys' order, a child beside its parent;
    another large table (or one that could not be tried beside its parents) waits for the
    worker to take in every table before it, then is tried.
    A table whose attempt fails is staged in its turn. A failure on either side stops the
    staging; the table staged before it is still taken in (each commits on its own, as
    before), then the first failure is raised."""
    ready: queue.Queue[tuple[Table, threading.Event] | None] = queue.Queue(maxsize=1)

    def worker() -> None:
        while (item := ready.get()) is not None:
            table, taken = item
            take_in(table)
            taken.set()  # only once in: a failure is seen by all_taken through the worker's end

    def hand_over(item: tuple[Table, threading.Event] | None) -> bool:
        """Into the worker's queue, unless it has stopped."""
        return offer(ready, item, lambda: not taking.done())

    def all_taken(last: threading.Event) -> bool:
        """Whether the worker took in every table handed to it (False: it stopped)."""
        while not last.wait(0.2):
            if taking.done():
                return False
        return not taking.done() or taking.exception() is None

    last = threading.Event()
    last.set()
    with ThreadPoolExecutor(AHEAD, thread_name_prefix="datamove-direct") as early, \
            ThreadPoolExecutor(1, thread_name_prefix="datamove-take-in") as pool:
        attempts = {}
        for table in tables:
            if table.name in ahead:
                attempts[table.name] = early.submit(direct, table, True)
        taking = pool.submit(worker)
        try:
            for table in tables:
                if taking.done():  # the worker failed: no more staging
                    break
                went_in = attempts[table.name].result() if table.name in attempts else None
                if went_in:
                    continue
                started[table.name] = time.monotonic()  # its own time from here: waiting, trying, staging
                if went_in is None and incoming[table.name].rows >= SET_BASED_KEYS and may_go_direct(table):
                    if not all_taken(last):
                        break
                    if direct(table, False):
                        continue
                with step() as conn:
                    stages[table.name] = _fill_stage(conn, table, incoming[table.name], plans[table.name],
                                                     dry_run=False)
                last = threading.Event()
                if not hand_over((table, last)):
                    break
        except BaseException as failure:
            early.shutdown(cancel_futures=True)
            hand_over(None)
            if taking.exception() is not None:
                raise failure from taking.exception()
            raise
        early.shutdown(cancel_futures=True)  # the loop stopped early: attempts not begun are dropped
        hand_over(None)
        try:
            taking.result()
        except BaseException as failure:  # an attempt the loop did not reach: its failure told too
            for attempt in attempts.values():
                if attempt.done() and not attempt.cancelled() and attempt.exception() is not None:
                    failure.add_note(f"and straight into {attempt.exception()!r}")
            raise


class Conflicts:
    """What an operator is told: every conflict as a line of JSON in a file (when given one),
    the first SHOWN kept for the summary."""

    def __init__(self, path: Path | None = None) -> None:
        self.first: list[Conflict] = []
        self.count = 0
        self._out = path.open("w") if path else None

    def __call__(self, conflict: Conflict) -> None:
        self.count += 1
        if len(self.first) < SHOWN:
            self.first.append(conflict)
        if self._out:
            self._out.write(json.dumps({"table": conflict.table, "row": conflict.row, "key": conflict.key,
                                        "reason": conflict.reason, "went_in": conflict.went_in}) + "\n")

    def close(self) -> None:
        if self._out:
            self._out.close()

    def summary(self, outcomes: dict[str, Outcome]) -> Iterator[str]:
        """Per table: rows, in, set aside, left empty; then the first conflicts."""
        for name, o in outcomes.items():
            empty = f"  {o.left_empty:>8,} with a value left empty" if o.left_empty else ""
            unnamed = f"  ({o.unnamed:,} refused by a unique index, unnamed: no primary key)" if o.unnamed else ""
            yield f"{name:<32} {o.rows:>10,} rows  {o.inserted:>10,} in  {o.set_aside:>8,} set aside{empty}{unnamed}"
        for conflict in self.first:
            key = ", ".join(f"{k}={v}" for k, v in conflict.key.items())
            yield f"  {conflict.table} row {conflict.row} ({key}): {conflict.reason}"
        if self.count > len(self.first):
            yield f"  … and {self.count - len(self.first):,} more (--conflicts FILE lists every one)"


# Tables of a platform database that are the schema's own bookkeeping, not data to move.
NOT_DATA = ("alembic_version", "platform_state")


def _loadable(names: Iterable[str], target: Engine) -> list[str]:
    """The source's tables to load: every one the target has (refused when it lacks one)."""
    from sqlalchemy import inspect

    present = set(inspect(target).get_table_names())
    names = [n for n in names if n not in NOT_DATA and not n.startswith("_datamove")]
    missing = sorted(set(names) - present)
    if missing:
        raise Refused(f"the target has no table {', '.join(missing)}: map them (--mapping) or leave them out")
    return names


def counted_to_way(relation: str, where: str = "") -> str:
    """A count of a table's rows (``relation``, quoted; those ``where`` holds) up to
    SET_BASED_KEYS, what decides a load's way: a whole count of a large table would read all
    of it, and statistics may be missing after a load."""
    return f"SELECT count(*) FROM (SELECT 1 FROM {relation}{where} LIMIT {SET_BASED_KEYS}) AS first"


def from_sqlite(source: sqlite3.Connection, target: Engine, options: Options) -> dict[str, Incoming]:
    """A SQLite database's tables, by name, as COPY text of their declared types' values."""
    tables = {t.name: t for t in reflect_sqlite(source)}
    path = source.execute("PRAGMA database_list").fetchone()[2]  # '' for a database in memory

    def lines(table: Table, failures: list[BaseException]) -> Iterator[bytes]:
        misfits: list[str] = []
        # A file is read on a connection of each reading's own, so two tables can be read at once.
        reading = read_only(path) if path else source
        try:
            yield from copy_lines(reading, table, options, misfits)
        finally:
            if reading is not source:
                reading.close()
        if misfits:
            shown = "\n  ".join(misfits[:SHOWN])
            failures.append(ValueError(f"{len(misfits)} values do not fit their column's type:\n  {shown}"))

    return {name: Incoming([c.name for c in tables[name].columns], functools.partial(lines, tables[name]),
                           rows=source.execute(counted_to_way(q(name))).fetchone()[0], concurrent=bool(path))
            for name in _loadable(tables, target)}


def from_postgres(source: Engine, target: Engine) -> dict[str, Incoming]:
    """A PostgreSQL database's tables, by name, streamed as COPY text (the target's types may
    differ from the source's where the text of a value reads the same: varchar(42) into text)."""
    from infra.datamove.stream import copy_out

    tables = {t.name: t for t in reflect_postgres(source)}
    names = _loadable(tables, target)
    with source.connect() as conn:
        rows = {name: conn.execute(text(counted_to_way(q(name)))).scalar_one() for name in names}

    def lines(table: Table, failures: list[BaseException]) -> Iterator[bytes]:
        with source.connect() as reading:
            yield from copy_out(reading, q(table.name), [q(c.name) for c in table.copied], failures, format="text")

    return {name: Incoming([c.name for c in tables[name].copied], functools.partial(lines, tables[name]),
                           rows=rows[name], concurrent=True)
            for name in names}
