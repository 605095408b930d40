"""Mapping mode: a legacy prototype's tables onto this platform's Alembic schema, declared
in YAML (renames, value maps, defaults, constants, date rules, ids), no code edits.

    tables:
      users:                          # a table of ours (it must exist: run the migrations)
        from: accounts                # the prototype's table
        columns:
          id: {uuid_from: id}         # a stable UUID for the legacy key (uuid5)
          email: email                # a plain rename
          role: {from: kind, map: {creator: artist, backer: investor}, default: collector}
          created_at: {from: signup_ms, dates: epoch_ms}
          links: {value: []}          # a constant
      proposals:
        from: projects
        columns:
          owner_id: {uuid_from: owner, table: accounts}   # a foreign key: the same UUID as that row's id
      media:
        from: pictures
        columns:
          object_name: {from: path, media: {to: uploads, under: imported/}}   # an object: see below

The target is the live schema, constraints active (infra/datamove/into.py): tables load in
their foreign keys' order, whatever the order written; a row that breaks a rule of the target
(a missing parent, a repeated key, a check, a missing value) is set aside and reported with its
reason, the others go in. ``--truncate`` empties the tables first. Every mapped value is
checked by PostgreSQL's own types on the way in.

A column with ``media:`` names a stored object (infra/datamove/objects.py): the legacy value is
a path in the media source (``strip`` takes a URL's origin off first), and the row stores the
name the object gets in the target, ``under`` that prefix, in the uploads bucket (``to:
uploads``: image-processing makes it a picture), the media bucket (``media``), or as its
public URL (``public``); into ``media.object_name``, image-processing makes an upload a picture.
``copy --media SOURCE`` then copies the objects the rows name. An empty value is no object.
"""
from __future__ import annotations

import functools
import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import inspect, text

from infra.datamove.into import Incoming, Outcome, Progress, Report, copy_into, counted_to_way
from infra.datamove.load import CHUNK_ROWS, Refused
from infra.datamove.objects import PLATFORM_PREFIXES, Buckets, MediaColumn, source_path
from infra.datamove.schema import q
from infra.datamove.types import DATE_RULES, Misfit, copy_text, to_datetime

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

# uuid5 namespace of legacy keys: the same legacy row always gets the same UUID.
LEGACY = uuid.UUID("6b616c61-6b72-7574-0000-6c6567616379")


class MediaRule(BaseModel):
    """The column names a stored object: where it goes in the target, and how its name is made."""
    model_config = ConfigDict(extra="forbid")

    to: Literal["uploads", "media", "public"]
    under: str = Field(default="imported/", description="the prefix of the names the objects get")
    strip: list[str] = Field(default_factory=list, description="prefixes taken off a legacy value (a URL's origin)")

    @field_validator("under")
    @classmethod
    def _a_folder(cls, under: str) -> str:
        try:
            source_path(under.removesuffix("/"))
        except Misfit:
            raise ValueError("under must be a relative folder such as imported/") from None
        if not under.endswith("/") or len(under) > 200:
            raise ValueError("under must end in / (at most 200 characters)")
        if under.startswith(PLATFORM_PREFIXES):
            raise ValueError(f"under: the platform writes its own objects under {', '.join(PLATFORM_PREFIXES)}")
        return under

    def rewrite(self, value: str, buckets: Buckets | None) -> str:
        """The legacy reference as the target stores it."""
        name = self.under + source_path(value, self.strip)
        if self.to != "public":
            return name
        if buckets is None:
            raise Misfit("to: public needs the media bucket's settings")
        return buckets.url(name)


class ColumnRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str | None = Field(default=None, alias="from")
    uuid_from: str | None = None
    table: str | None = Field(default=None, description="uuid_from of another legacy table (a foreign key)")
    value: Any = None
    map: dict[str, Any] | None = None
    default: Any = None
    dates: str | None = None
    media: MediaRule | None = None

    @model_validator(mode="after")
    def _one_origin(self) -> ColumnRule:
        origins = [self.source is not None, self.uuid_from is not None, "value" in self.model_fields_set]
        if sum(origins) != 1:
            raise ValueError("give exactly one of from, uuid_from or value")
        if self.media is not None and (self.source is None or self.dates is not None):
            raise ValueError("media: with from, and no dates")
        if self.dates is not None and self.dates not in DATE_RULES:
            raise ValueError(f"dates must be one of {', '.join(DATE_RULES)}")
        return self


class TableRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(alias="from")
    where: str | None = Field(default=None, description="an SQLite condition selecting the rows")
    columns: dict[str, ColumnRule]


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tables: dict[str, TableRule]


def load_mapping(path: Path) -> Mapping:
    import yaml

    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise SystemExit(f"--mapping {path}: {error}") from None
    if isinstance(raw, dict):  # a plain string is a rename
        for table in (raw.get("tables") or {}).values():
            if isinstance(table, dict) and isinstance(table.get("columns"), dict):
                table["columns"] = {k: {"from": v} if isinstance(v, str) else v for k, v in table["columns"].items()}
    try:
        return Mapping.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise SystemExit(f"--mapping {path}: {problems}") from None


def legacy_uuid(table: str, key: Any) -> uuid.UUID:
    return uuid.uuid5(LEGACY, f"{table}:{key}")


def media_columns(mapping: Mapping) -> dict[tuple[str, str], MediaColumn]:
    """The mapped columns that name stored objects."""
    return {(table, name): MediaColumn(table, name, "uploads" if rule.media.to == "uploads" else "media",
                                       rule.media.to == "public", rule.media.under)
            for table, table_rule in mapping.tables.items()
            for name, rule in table_rule.columns.items() if rule.media is not None}


def _value(rule: ColumnRule, row: sqlite3.Row, legacy_table: str, buckets: Buckets | None) -> Any:
    if rule.uuid_from is not None:
        key = row[rule.uuid_from]
        return None if key is None else legacy_uuid(rule.table or legacy_table, key)
    if rule.source is None:
        return rule.value
    value = row[rule.source]
    if rule.map is not None:
        value = rule.map.get(str(value), rule.default) if value is not None else rule.default
    elif value is None:
        value = rule.default
    if rule.dates is not None and value is not None:
        value = to_datetime(value, rule.dates)
    if rule.media is not None and value is not None:
        value = rule.media.rewrite(str(value), buckets) if str(value).strip() else None
    return value


# COPY's marker for "the column's default" (PostgreSQL 16+): a NULL mapped into a NOT NULL
# column that has a default takes the default, as an INSERT leaving the column out would.
USE_DEFAULT = "\\D"


def _encode(value: Any, udt: str, defaulted: bool) -> str:
    """A mapped value in COPY text for a target column of PostgreSQL type ``udt``."""
    if value is None:
        return USE_DEFAULT if defaulted else "\\N"
    if udt.startswith("_"):  # an array: a literal of quoted elements
        items = ",".join('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in value)
        return copy_text("{" + items + "}")
    if udt in ("json", "jsonb"):
        return copy_text(json.dumps(value))
    if isinstance(value, float) and udt == "numeric":
        value = Decimal(repr(value))
    if isinstance(value, uuid.UUID | Decimal | datetime):
        return copy_text(str(value) if not isinstance(value, datetime) else value)
    return copy_text(value)


def copy_mapped(source: sqlite3.Connection, engine: Engine, mapping: Mapping, *, truncate: bool = False,
                dry_run: bool = False, report: Report | None = None, progress: Progress | None = None,
                buckets: Buckets | None = None, then: Callable[[Connection], object] | None = None,
                ) -> dict[str, Outcome]:
    """Every mapped table into the target; what each took and set aside (each conflict to ``report``).
    ``buckets`` places ``media:`` columns' objects; ``then`` reads the target once all is in."""
    source.row_factory = sqlite3.Row
    existing = set(inspect(engine).get_table_names())
    missing = [name for name in mapping.tables if name not in existing]
    if missing:
        raise Refused(f"the target has no table {', '.join(missing)}: run the migrations first")
    incoming = {}
    for name, rule in mapping.tables.items():
        types = _udts(engine, name)
        unknown = sorted(set(rule.columns) - set(types))
        if unknown:
            raise Refused(f"{name} has no column {', '.join(unknown)}")
        incoming[name] = Incoming(list(rule.columns), functools.partial(_lines, source, name, rule, types, buckets),
                                  copy_options=f"DEFAULT '{USE_DEFAULT}'",
                                  rows=source.execute(counted_to_way(q(rule.source), _where(rule))).fetchone()[0])
    return copy_into(engine, incoming, empty_first=truncate, dry_run=dry_run, report=report, progress=progress,
                     then=then)


def _where(rule: TableRule) -> str:
    return f" WHERE ({rule.where}\n)" if rule.where else ""  # a comment at its end stays its own


def _lines(source: sqlite3.Connection, name: str, rule: TableRule, types: dict[str, tuple[str, bool]],
           buckets: Buckets | None, _: list[BaseException]) -> Iterator[bytes]:
    """The mapped rows of one table as COPY text, a chunk at a time (a value that does not map
    stops the table at once)."""
    cursor = source.execute(f"SELECT * FROM {q(rule.source)}{_where(rule)}")
    while batch := cursor.fetchmany(CHUNK_ROWS):
        chunk = []
        for row in batch:
            try:
                chunk.append("\t".join(_encode(_value(rule.columns[c], row, rule.source, buckets), *types[c])
                                       for c in rule.columns))
            except (Misfit, IndexError, KeyError) as error:
                raise ValueError(f"{rule.source} -> {name}: {error}") from None
        yield ("\n".join(chunk) + "\n").encode()


def _udts(engine: Engine, table: str) -> dict[str, tuple[str, bool]]:
    """Column -> (PostgreSQL type name (arrays start with "_"), whether NULL means its default)."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT column_name, udt_name, is_nullable = 'NO' AND column_default IS NOT NULL "
                                 "FROM information_schema.columns WHERE table_schema = current_schema() "
                                 "AND table_name = :t"), {"t": table}).all()
    return {name: (udt, defaulted) for name, udt, defaulted in rows}
