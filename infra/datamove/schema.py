"""A source database's schema, reflected into plain data, and the order to load it in."""
from __future__ import annotations

import sqlite3
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

from infra.datamove.types import PgType, Size, declared_size, sqlite_pg_type


@dataclass
class Column:
    name: str
    declared: str  # the source's declared type, as written
    pg: PgType | None  # SQLite sources: the type values are checked against
    nullable: bool
    default: str | None  # a portable PostgreSQL default expression, or None
    identity: bool = False  # SQLite's INTEGER PRIMARY KEY, or a PostgreSQL identity/serial
    generated: str | None = None  # a stored generated column's expression: computed, never copied
    size: Size | None = None  # SQLite sources: a declared size PostgreSQL keeps (varchar(n), numeric(p,s))

    @property
    def sql_type(self) -> str:
        """The target column's type: a PostgreSQL source's own, or SQLite's mapping."""
        if self.pg is None:
            return self.declared
        return self.size.sql_type(self.pg) if self.size else self.pg.value


@dataclass
class ForeignKey:
    name: str
    columns: list[str]
    target: str
    target_columns: list[str]
    on_delete: str = "NO ACTION"
    on_update: str = "NO ACTION"


@dataclass
class Index:
    name: str
    columns: list[str]
    unique: bool


@dataclass
class Table:
    name: str
    columns: list[Column]
    primary_key: list[str] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    indexes: list[Index] = field(default_factory=list)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def copied(self) -> list[Column]:
        """The columns data is copied into (generated ones compute themselves)."""
        return [c for c in self.columns if c.generated is None]


_PORTABLE_FUNCTIONS = {"CURRENT_TIMESTAMP": "now()", "CURRENT_DATE": "CURRENT_DATE", "CURRENT_TIME": "CURRENT_TIME"}


def _portable_default(raw: str | None) -> str | None:
    """Literal numbers and strings, NULL and the current time carry over; expressions do not."""
    if raw is None:
        return None
    value = raw.strip()
    if value.upper() in _PORTABLE_FUNCTIONS:
        return _PORTABLE_FUNCTIONS[value.upper()]
    if value.upper() == "NULL":
        return None
    try:
        float(value.strip("()"))
        return value.strip("()")
    except ValueError:
        pass
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value
    return None


def q(name: str) -> str:
    """An identifier, quoted the way SQLite and PostgreSQL both read it: mixed case and
    odd names survive exactly."""
    return '"' + name.replace('"', '""') + '"'


def reflect_sqlite(conn: sqlite3.Connection) -> list[Table]:
    tables = []
    names = [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    for name in names:
        info = conn.execute(f"PRAGMA table_info({q(name)})").fetchall()
        pk = [row[1] for row in sorted((r for r in info if r[5]), key=lambda r: r[5])]
        columns = []
        for _, column, declared, notnull, default, pk_position in info:
            pg = sqlite_pg_type(declared or "")
            # INTEGER PRIMARY KEY (exactly that type, alone) is the rowid: never NULL.
            identity = len(pk) == 1 and pk_position == 1 and (declared or "").upper() == "INTEGER"
            columns.append(Column(column, declared or "", pg, not (notnull or identity or pk_position),
                                  _portable_default(default), identity, size=declared_size(declared or "", pg)))
        foreign_keys: dict[int, ForeignKey] = {}
        for fk_id, _, target, source_column, target_column, on_update, on_delete, _ in conn.execute(
                f"PRAGMA foreign_key_list({q(name)})"):
            fk = foreign_keys.setdefault(fk_id, ForeignKey(f"fk_{name}_{fk_id}", [], target, [], on_delete, on_update))
            fk.columns.append(source_column)
            fk.target_columns.append(target_column)
        for fk in foreign_keys.values():  # REFERENCES t without columns: the target's primary key
            if not all(fk.target_columns):
                target_info = conn.execute(f"PRAGMA table_info({q(fk.target)})").fetchall()
                fk.target_columns = [r[1] for r in sorted((r for r in target_info if r[5]), key=lambda r: r[5])]
        indexes = []
        for _, index_name, unique, origin, _ in conn.execute(f"PRAGMA index_list({q(name)})"):
            if origin == "pk":
                continue
            cols = [row[2] for row in conn.execute(f"PRAGMA index_info({q(index_name)})")]
            if None in cols:  # an expression index: not portable as such
                continue
            label = index_name if not index_name.startswith("sqlite_autoindex") else f"uq_{name}_{'_'.join(cols)}"
            indexes.append(Index(label, cols, bool(unique)))
        tables.append(Table(name, columns, pk, list(foreign_keys.values()), indexes))
    return tables


def reflect_postgres(engine) -> list[Table]:
    """A PostgreSQL schema (the connection's current one), with its exact types: as the server
    writes them (``format_type``), so a type SQLAlchemy does not know (pgvector's) is kept too."""
    from sqlalchemy import inspect, text

    inspector = inspect(engine)
    with engine.connect() as conn:
        exact = {(table, column): sql_type for table, column, sql_type in conn.execute(text(
            "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid WHERE c.relnamespace = CAST(current_schema() AS regnamespace) "
            "AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped"))}
    tables = []
    for name in sorted(inspector.get_table_names()):
        if name.startswith("_datamove"):
            continue
        columns = []
        with warnings.catch_warnings():  # a type SQLAlchemy does not know: its name is read above
            warnings.filterwarnings("ignore", "Did not recognize type")
            reflected = inspector.get_columns(name)
        for info in reflected:
            default = info.get("default")
            serial = bool(default and default.startswith("nextval("))
            identity = serial or bool(info.get("identity"))
            computed = info.get("computed")
            columns.append(Column(info["name"], exact[(name, info["name"])], None, info["nullable"],
                                  None if identity or computed else default, identity,
                                  str(computed["sqltext"]) if computed else None))
        pk = inspector.get_pk_constraint(name).get("constrained_columns") or []
        foreign_keys = [ForeignKey(fk["name"], fk["constrained_columns"], fk["referred_table"], fk["referred_columns"],
                                   (fk.get("options") or {}).get("ondelete", "NO ACTION"),
                                   (fk.get("options") or {}).get("onupdate", "NO ACTION"))
                        for fk in inspector.get_foreign_keys(name)]
        indexes = [Index(index["name"], list(index["column_names"]), bool(index["unique"]))
                   for index in inspector.get_indexes(name) if None not in index["column_names"]]
        indexes += [Index(u["name"], list(u["column_names"]), True) for u in inspector.get_unique_constraints(name)
                    if u["name"] not in {i.name for i in indexes}]
        tables.append(Table(name, columns, pk, foreign_keys, indexes))
    return tables


def reflect_enums(engine) -> dict[str, list[str]]:
    """The enum types of the connection's current schema: name -> labels, in their order."""
    from sqlalchemy import text

    with engine.connect() as conn:
        return {name: list(labels) for name, labels in conn.execute(text(
            "SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_type t "
            "JOIN pg_enum e ON e.enumtypid = t.oid WHERE t.typnamespace = CAST(current_schema() AS regnamespace) "
            "GROUP BY t.typname ORDER BY t.typname"))}


def create_enums_sql(enums: dict[str, list[str]], present: set[str]) -> list[str]:
    """CREATE TYPE of each enum the target lacks (before the tables that use them)."""
    def literal(label: str) -> str:
        return "'" + label.replace("'", "''") + "'"

    return [f"CREATE TYPE {q(name)} AS ENUM ({', '.join(map(literal, labels))})"
            for name, labels in enums.items() if name not in present]


def load_order(tables: list[Table]) -> list[Table]:
    """Referenced tables before those referencing them (cycles and self-references are
    fine: constraints are added after all data is in, so this order is for readers)."""
    by_name = {t.name: t for t in tables}
    parents = {t.name: [fk.target for fk in t.foreign_keys if fk.target in by_name and fk.target != t.name]
               for t in tables}
    return [by_name[name] for name in parents_first(parents)]


def parents_first(parents: dict[str, Iterable[str]]) -> list[str]:
    """Each name after its parents (walked in the order given), names in sorted order
    otherwise; a cycle is cut where the walk meets it again."""
    ordered: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for parent in parents[name]:
            visit(parent)
        ordered.append(name)

    for name in sorted(parents):
        visit(name)
    return ordered
