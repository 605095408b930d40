"""A seller's catalog as CSV: import (row by row, keyed by the seller's SKU) and export
(decision 0026).

Each row is validated by the same ItemIn as POST /api/items and written by the same
items.create / items.update (audit, events, low-stock alerts); a row that fails is
reported with its line and reasons and rolled back alone (a savepoint), never stopping
the others. Importing a file twice changes nothing the second time.
"""
from __future__ import annotations

import csv
import io
import uuid
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import ConfigDict, Field, ValidationError
from sqlalchemy import select

from shared.errors import PayloadTooLarge, Problem, ValidationFailed
from shared.identity.access import require_role
from shared.market import items
from shared.market.tables import items as items_table
from shared.types import ApiModel, TextBody

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session

    from shared.identity.access import Viewer
    from shared.market.models import Item
    from shared.models import User

# The item fields a CSV carries, in export order (the export adds "id" first).
COLUMNS = ("sku", "title", "description", "kind", "price", "currency", "inventory", "shipping_regions", "license",
           "low_stock_threshold")
REQUIRED = frozenset({"title", "kind", "price", "currency"})
KNOWN = frozenset({"id", *COLUMNS})
MAX_ROWS = 500
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = frozenset("=+-@\t\r")
REGION_SEPARATOR = ";"


class CatalogImport(ApiModel):
    model_config = ConfigDict(extra="forbid")

    csv: Annotated[str, Field(min_length=1, description=(
        f"CSV text (UTF-8), a header row first: {','.join(COLUMNS)} (and optionally id, as exported); "
        f"title, kind, price, currency and sku (or id) are required; shipping regions separated by "
        f"'{REGION_SEPARATOR}'; at most {MAX_ROWS} rows"))]


class RejectedRow(ApiModel):
    line: int = Field(description="the row's line in the CSV (the header is line 1)")
    sku: str | None
    errors: list[str]


class ImportReport(ApiModel):
    created: int
    updated: int
    unchanged: int
    rejected: list[RejectedRow]


class CatalogCsv(TextBody):
    """The caller's items, in the import's columns (plus id); cells a spreadsheet would run as
    formulas start with an apostrophe."""

    media_type: ClassVar[str] = "text/csv; charset=utf-8"


# -- formula neutralising -------------------------------------------------------------------------

def _dangerous(value: str) -> bool:
    """A value that (after any leading apostrophes) starts like a formula."""
    rest = value.lstrip("'")
    return bool(rest) and rest[0] in FORMULA_STARTS


def escape(value: str) -> str:
    """One leading apostrophe more on a formula-like value: spreadsheets show it as text."""
    return "'" + value if _dangerous(value) else value


def unescape(value: str) -> str:
    """The inverse of escape(): only a formula-like value loses its first apostrophe."""
    return value[1:] if value.startswith("'") and _dangerous(value) else value


# -- export ---------------------------------------------------------------------------------------

def _cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name == "shipping_regions":
        return REGION_SEPARATOR.join(value)
    return escape(str(value))


def export(conn: Connection, viewer: Viewer) -> CatalogCsv:
    """The viewer's own items, every status, SKUs first."""
    header = ("id", *COLUMNS)
    rows = conn.execute(select(*(items_table.c[name] for name in header))
                        .where(items_table.c.owner_id == viewer.id)
                        .order_by(items_table.c.sku.asc().nulls_last(), items_table.c.created_at, items_table.c.id))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(name, getattr(row, name)) for name in header])
    return CatalogCsv(text=buffer.getvalue())


# -- import ---------------------------------------------------------------------------------------

def _read(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the non-blank rows with the line each starts on; a 422 for what is not CSV."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    try:
        while True:
            start = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                break
            if any(cell.strip() for cell in record):
                records.append((start, record))
            if len(records) > MAX_ROWS + 1:
                raise PayloadTooLarge(f"an import may hold at most {MAX_ROWS} rows")
    except csv.Error as error:
        raise ValidationFailed(f"line {reader.line_num} is not valid CSV: {error}") from None
    if not records:
        raise ValidationFailed("the CSV needs a header row: " + ",".join(COLUMNS))
    _, header = records[0]
    return _check_header([name.strip().lower() for name in header]), records[1:]


def _check_header(header: list[str]) -> list[str]:
    unknown = [name for name in header if name not in KNOWN]
    if unknown:
        raise ValidationFailed(f"the first row must be a header of {', '.join(COLUMNS)}; unknown columns: "
                               + ", ".join(repr(name[:64]) for name in unknown[:10]))
    if len(set(header)) != len(header):
        raise ValidationFailed("a column is named twice in the header")
    missing = sorted(REQUIRED - set(header))
    if missing or not {"sku", "id"} & set(header):
        raise ValidationFailed(f"the header lacks {', '.join(missing) or 'sku'}")
    return header


def _messages(error: ValidationError) -> list[str]:
    return [f"{'.'.join(str(part) for part in problem['loc']) or 'row'}: {problem['msg']}"
            for problem in error.errors(include_url=False, include_input=False)]


def _parse_row(header: list[str], record: list[str]) -> tuple[dict[str, str], items.ItemIn]:
    """The row's cells by column, and the item it describes (ItemIn: POST /api/items' rules)."""
    if len(record) != len(header):
        raise ValueError(f"the row has {len(record)} cells, the header {len(header)}")
    cells = {name: unescape(value) for name, value in zip(header, record, strict=True)}
    data: dict[str, Any] = {}
    for name in COLUMNS:
        value = cells.get(name, "")
        if name != "description":
            value = value.strip()
        if value == "":
            continue  # the field's default: nothing, none, or no regions
        if name == "shipping_regions":
            data[name] = [region.strip() for region in value.split(REGION_SEPARATOR) if region.strip()]
        else:
            data[name] = value
    return cells, items.ItemIn.model_validate(data)


def _target(session: Session, owner: User, cells: dict[str, str], item: items.ItemIn) -> Item | None:
    """The seller's item the row names (by id, else by SKU), locked; None: a new one."""
    from shared.market.models import Item

    query = select(Item).where(Item.owner_id == owner.id).with_for_update()
    if cells.get("id", "").strip():
        try:
            item_id = uuid.UUID(cells["id"].strip())
        except ValueError:
            raise ValueError("id: not an item id") from None
        found = session.scalars(query.where(Item.id == item_id)).one_or_none()
        if found is None:
            raise ValueError("id: no item of yours has this id")
        return found
    if item.sku is None:
        raise ValueError("sku: a row needs a SKU (or the id of an item of yours)")
    return session.scalars(query.where(Item.sku == item.sku)).one_or_none()


def _changes(header: list[str], existing: Item, item: items.ItemIn) -> dict[str, Any]:
    """The row's columns whose value differs from the item's (columns left out stay as they are)."""
    if item.kind != existing.kind:
        raise ValueError(f"kind: the item is {existing.kind}; an item's kind cannot change")
    return {name: getattr(item, name) for name in COLUMNS
            if name in header and name != "kind" and getattr(item, name) != getattr(existing, name)}


def import_csv(session: Session, owner: User, text: str) -> ImportReport:
    require_role(owner, "artist")
    header, records = _read(text)
    if len(records) > MAX_ROWS:
        raise PayloadTooLarge(f"an import may hold at most {MAX_ROWS} rows")
    report = ImportReport(created=0, updated=0, unchanged=0, rejected=[])
    seen: dict[str, int] = {}
    for line, record in records:
        sku = None
        try:
            cells, item = _parse_row(header, record)
            sku = item.sku
            key = cells.get("id", "").strip().lower() or f"sku:{item.sku}"
            if key in seen:
                raise ValueError(f"line {seen[key]} names the same item")
            seen[key] = line
            outcome = _apply(session, owner, header, cells, item)
        except ValidationError as error:
            sku = sku or _raw_sku(header, record)
            report.rejected.append(RejectedRow(line=line, sku=sku, errors=_messages(error)))
        except (ValueError, Problem) as error:
            message = error.detail if isinstance(error, Problem) and error.detail else str(error)
            report.rejected.append(RejectedRow(line=line, sku=sku or _raw_sku(header, record), errors=[message]))
        else:
            setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def _apply(session: Session, owner: User, header: list[str], cells: dict[str, str], item: items.ItemIn) -> str:
    """Create or update one row's item in a savepoint of its own: a failure undoes this row only."""
    from sqlalchemy.exc import IntegrityError

    try:
        with session.begin_nested():
            existing = _target(session, owner, cells, item)
            if existing is None:
                items.create(session, owner, item)
                return "created"
            changes = _changes(header, existing, item)
            if not changes:
                return "unchanged"
            items.update(session, owner, existing, items.ItemPatch(**changes))
            return "updated"
    except IntegrityError:  # another request took the SKU meanwhile (ix_items_owner_sku)
        raise ValueError("sku: another request gave this SKU to an item meanwhile") from None


def _raw_sku(header: list[str], record: list[str]) -> str | None:
    """The row's SKU cell as sent (for the report), if it is a plausible one."""
    if "sku" not in header or header.index("sku") >= len(record):
        return None
    value = record[header.index("sku")].strip()
    return value if 0 < len(value) <= 64 and value.isprintable() else None
