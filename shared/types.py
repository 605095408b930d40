"""The base of the API models, and field types they share."""
from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

UINT256_MAX = 2**256 - 1
# Why an administrator took content out of public sight (shared/tables.py HIDDEN_BY).
HiddenBy = Literal["moderation", "suspension"]
# Every string of this many digits fits a uint256 (2**256 has 78): the schema and the parser
# agree on one length, so no schema-valid amount is refused for its size.
AMOUNT_DIGITS = 77

# Minor-unit exponent of each accepted currency: amounts are integers in these units.
CURRENCY_EXPONENTS = {"ETH": 18, "USD": 2, "EUR": 2, "GBP": 2}


def _parse_amount(value: object) -> int:
    # Strings only: JSON numbers lose precision past 2**53 in browsers, wei amounts do not fit.
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > AMOUNT_DIGITS:
        raise ValueError(f"amounts are strings of at most {AMOUNT_DIGITS} decimal digits in minor units "
                         "(e.g. wei or cents)")
    amount = int(value)
    if amount > UINT256_MAX:
        raise ValueError("amount exceeds uint256")
    return amount


_AMOUNT_SCHEMA = WithJsonSchema({
    "type": "string",
    "pattern": f"^[0-9]{{1,{AMOUNT_DIGITS}}}$",
    "description": "Integer amount in minor units (wei for ETH, cents for fiat), as a decimal string.",
})
_POSITIVE_AMOUNT_SCHEMA = WithJsonSchema({
    "type": "string",
    "pattern": "^0*[1-9][0-9]*$",
    "maxLength": AMOUNT_DIGITS,
    "description": "Integer amount greater than zero in minor units (wei for ETH, cents for fiat), as a decimal "
                   "string.",
})

# What clients send: a digit string, checked. What the API returns: an int from the
# database, written as a digit string.
AmountIn = Annotated[int, BeforeValidator(_parse_amount), _AMOUNT_SCHEMA]
AmountOut = Annotated[int, PlainSerializer(str, return_type=str), _AMOUNT_SCHEMA]


def _positive(amount: int) -> int:
    if amount <= 0:
        raise ValueError("must be greater than zero")
    return amount


# Goals, prices, increments and bids: never zero (the tables' CHECK constraints agree).
PositiveAmountIn = Annotated[int, BeforeValidator(_parse_amount), AfterValidator(_positive), _POSITIVE_AMOUNT_SCHEMA]

# One line of human text: no control characters, trimmed. The pattern also asks for one character
# that is not a space: the schema then says what trimming leaves (" " is no title).
LINE_PATTERN = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, pattern=LINE_PATTERN)]
Currency = Literal[tuple(CURRENCY_EXPONENTS)]  # type: ignore[valid-type]
Slug = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=32)]


def left_out() -> Any:
    """A PATCH field that may be left out (unchanged) but not cleared: its schema is not nullable."""
    return Field(default=None)


class ApiModel(BaseModel):
    """Base of request/response models: validators are built on first use, not at import,
    so a cold start pays only for the models its first request touches."""

    model_config = ConfigDict(defer_build=True)

# What artists write about their work: a title line and a description.
Title = Annotated[Line, Field(max_length=140)]
Description = Annotated[str, Field(max_length=10_000)]


class TextBody(BaseModel):
    """A response that is a document rather than JSON (a CSV export): a subclass names its
    media type; shared/http/api.py answers with its text, and the OpenAPI document
    describes it as a string of that type."""

    media_type: ClassVar[str] = "text/plain; charset=utf-8"
    text: str
