"""SQLite's declared types -> PostgreSQL types, and each value checked and converted.

SQLite types are *affinities* decided from the declared type's text (sqlite.org
datatype3, section 3.1): INT -> bigint; CHAR, CLOB, TEXT -> text; BLOB -> bytea;
REAL, FLOA, DOUB -> double precision; the rest numeric, except BOOL* -> boolean and
DATE*/TIME* -> timestamptz. A size SQLite records but never enforces is kept:
VARCHAR(70) -> varchar(70), DECIMAL(10,2) -> numeric(10,2) (``Size``). SQLite stores
whatever it is given, so every value is checked against the column's type, its size
included: one that does not fit is reported (table, rowid, value), never coerced or
rounded.

Dates, by rule (per column, ``--dates table.column=RULE``): ``iso`` text
(``2026-11-22``, ``2026-11-22 10:00:00``, with or without zone; none means UTC),
``epoch_s``, ``epoch_ms``; ``auto`` (the default) reads text as ISO and numbers as
epoch seconds below 10^11 (the year 5138), milliseconds above.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation, localcontext
from enum import StrEnum
from typing import Any

DATE_RULES = ("auto", "iso", "epoch_s", "epoch_ms")
EPOCH_MS_ABOVE = 10**11


class PgType(StrEnum):
    BIGINT = "bigint"
    DOUBLE = "double precision"
    TEXT = "text"
    BYTEA = "bytea"
    BOOLEAN = "boolean"
    NUMERIC = "numeric"
    TIMESTAMPTZ = "timestamptz"


def sqlite_pg_type(declared: str) -> PgType:
    upper = declared.upper()
    if "INT" in upper:
        return PgType.BIGINT
    if any(word in upper for word in ("CHAR", "CLOB", "TEXT")):
        return PgType.TEXT
    if "BLOB" in upper or not upper:
        return PgType.BYTEA if upper else PgType.TEXT
    if any(word in upper for word in ("REAL", "FLOA", "DOUB")):
        return PgType.DOUBLE
    if upper.startswith("BOOL"):
        return PgType.BOOLEAN
    if upper.startswith(("DATE", "TIME")):
        return PgType.TIMESTAMPTZ
    return PgType.NUMERIC


@dataclass(frozen=True)
class Size:
    """A declared size: a text's most characters, or a number's digits and decimals."""
    length: int | None = None
    precision: int | None = None
    scale: int = 0

    def sql_type(self, pg: PgType) -> str:
        if self.length is not None:
            return f"varchar({self.length})"
        return f"numeric({self.precision},{self.scale})"


_SIZED = re.compile(r"^\s*([A-Za-z][A-Za-z ]*?)\s*\(\s*(\d{1,8})\s*(?:,\s*(\d{1,4})\s*)?\)\s*$")
# PostgreSQL's own bounds: varchar(n) up to 10,485,760 characters; numeric up to 1,000 digits.
MAX_LENGTH, MAX_PRECISION = 10_485_760, 1000


def declared_size(declared: str, pg: PgType) -> Size | None:
    """The size a declared type states, when PostgreSQL can keep it: CHAR/VARCHAR(n) of text,
    DECIMAL/NUMERIC(p[,s]) of numbers. Anything else (TEXT(5), INT(11)) is SQLite's
    decoration of an affinity and gives no size."""
    match = _SIZED.match(declared)
    if match is None:
        return None
    name, first, second = match[1].upper(), int(match[2]), match[3]
    if pg is PgType.TEXT and "CHAR" in name and 1 <= first <= MAX_LENGTH:
        return Size(length=first)
    if pg is PgType.NUMERIC and name in ("DECIMAL", "NUMERIC", "DEC", "NUMBER") and 1 <= first <= MAX_PRECISION:
        return Size(precision=first, scale=int(second) if second is not None else 0)
    return None


def choice(declared: str, pg: PgType, size: Size | None) -> str:
    """Why a declared type became the PostgreSQL one: what the plan shows beside each column."""
    upper = declared.upper()
    if size is not None and size.length is not None:
        padded = "VARCHAR" not in upper and "VARYING" not in upper
        return f"its length kept{' (varchar: SQLite never pads)' if padded else ''}; longer values are reported"
    if size is not None:
        return "its digits and decimals kept; a value that would be rounded is reported"
    if not upper:
        return "no declared type: text"
    if pg is PgType.TEXT and "(" in upper:
        return "a size SQLite ignores on this type: text"
    if pg is PgType.TEXT and "CHAR" in upper:
        return "no length declared: text"
    if pg is PgType.NUMERIC and upper.startswith(("DECIMAL", "NUMERIC", "DEC", "NUMBER")):
        return "no precision declared: numeric of any size"
    if pg is PgType.NUMERIC:
        return "SQLite's NUMERIC affinity (an unknown type name): numeric of any size"
    if pg is PgType.BIGINT:
        return "SQLite's INTEGER affinity holds 64 bits" if upper != "INTEGER" else "64-bit"
    if pg is PgType.DOUBLE:
        return "SQLite's REAL affinity: 8-byte floating point, bit-exact"
    if pg is PgType.BOOLEAN:
        return "0/1, true/false"
    if pg is PgType.TIMESTAMPTZ:
        return "instants in UTC, read by the column's date rule"
    return "bytes"


class Misfit(ValueError):
    """A value that does not fit its column's type."""


_TRUE, _FALSE = {"1", "true", "t", "yes"}, {"0", "false", "f", "no"}


def to_datetime(value: Any, rule: str) -> datetime:
    if isinstance(value, str) and rule in ("auto", "iso"):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise Misfit("not an ISO 8601 date") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool) and rule != "iso":
        millis = rule == "epoch_ms" or (rule == "auto" and abs(value) >= EPOCH_MS_ABOVE)
        try:
            return datetime.fromtimestamp(value / 1000 if millis else value, UTC)
        except (OverflowError, OSError, ValueError):
            raise Misfit("an epoch out of range") from None
    raise Misfit(f"not a date under rule {rule!r}")


def convert(value: Any, pg: PgType, *, date_rule: str = "auto", nul: str = "error", size: Size | None = None) -> Any:
    """The value as PostgreSQL should hold it (None for NULL), or Misfit."""
    if value is None:
        return None
    if size is not None:
        return _sized(convert(value, pg, date_rule=date_rule, nul=nul), size)
    if pg is PgType.BIGINT:
        if isinstance(value, int) and not isinstance(value, bool) and -2**63 <= value < 2**63:
            return value
        raise Misfit("not a 64-bit integer")
    if pg is PgType.DOUBLE:
        if isinstance(value, float):
            return value
        if isinstance(value, int) and abs(value) <= 2**53:
            return float(value)
        raise Misfit("not a number that a double holds exactly")
    if pg is PgType.TEXT:
        if not isinstance(value, str):
            raise Misfit(f"a {type(value).__name__} in a text column")
        if "\x00" in value:
            if nul == "strip":
                return value.replace("\x00", "")
            raise Misfit("text with a NUL byte (PostgreSQL text cannot hold it; see --nul strip)")
        return value
    if pg is PgType.BYTEA:
        if isinstance(value, bytes):
            return value
        raise Misfit(f"a {type(value).__name__} in a blob column")
    if pg is PgType.BOOLEAN:
        text = str(value).strip().lower() if not isinstance(value, bytes) else ""
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise Misfit("not a boolean (0/1, true/false)")
    if pg is PgType.NUMERIC:
        if isinstance(value, bool | bytes):
            raise Misfit("not a number")
        try:
            number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
        except InvalidOperation:
            raise Misfit("not a number") from None
        if not number.is_finite():
            raise Misfit("not a finite number")
        return number
    return to_datetime(value, date_rule)


def _sized(value: Any, size: Size) -> Any:
    """The converted value, if it fits the declared size."""
    if size.length is not None:
        if len(value) > size.length:
            raise Misfit(f"longer than {size.length} characters")
        return value
    with localcontext(prec=MAX_PRECISION + 20):  # the default 28 digits would fail numeric(78,0)
        rounded = value.quantize(Decimal(1).scaleb(-size.scale))
    if value != rounded:
        raise Misfit(f"more than {size.scale} decimal places (PostgreSQL would round it)")
    if value and value.adjusted() >= size.precision - size.scale:
        raise Misfit(f"more than {size.precision - size.scale} digits before the point")
    return value


def escaped(text: str) -> str:
    """A text as a field of COPY's text format: backslash first, so no escape is escaped twice."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


def copy_text(value: Any) -> str:
    """One converted value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)  # the shortest text that reads back as the same double
    if isinstance(value, bytes):
        return "\\\\x" + value.hex()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return escaped(value)
    return str(value)


def canonical(value: Any) -> str:
    """One value's comparable form, the same for what the source and the target hold."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, float):
        return value.hex()
    if isinstance(value, memoryview | bytearray):
        value = bytes(value)
    if isinstance(value, bytes):
        return "x" + value.hex()
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value else "0"
    return str(value)


_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})
_INT64 = range(-2**63, 2**63)


def copy_encoder(pg: PgType, *, date_rule: str = "auto", nul: str = "error", size: Size | None = None):
    """value -> its COPY text, for one column: the common cases without the general
    path's checks (the bulk of a copy's time is here), the rest through ``convert``."""
    def general(value: Any) -> str:
        return copy_text(convert(value, pg, date_rule=date_rule, nul=nul, size=size))

    if size is not None:
        return general

    if pg is PgType.BIGINT:
        def encode_int(value: Any) -> str:
            if value is None:
                return "\\N"
            if type(value) is int and value in _INT64:
                return str(value)
            return general(value)
        return encode_int
    if pg is PgType.TEXT:
        def encode_text(value: Any) -> str:
            if type(value) is str and "\x00" not in value:
                return value.translate(_ESCAPES)
            return "\\N" if value is None else general(value)
        return encode_text
    if pg is PgType.DOUBLE:
        def encode_double(value: Any) -> str:
            if type(value) is float and math.isfinite(value):
                return repr(value)
            return "\\N" if value is None else general(value)
        return encode_double
    if pg is PgType.BYTEA:
        def encode_bytes(value: Any) -> str:
            if type(value) is bytes:
                return "\\\\x" + value.hex()
            return "\\N" if value is None else general(value)
        return encode_bytes
    return general
