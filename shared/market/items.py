"""Marketplace items: create, edit, the lifecycle and holders (downloads: delivery.py)."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import and_, literal_column, select
from sqlalchemy.dialects.postgresql import UUID as PG_UUID

from shared import audit
from shared.config import ADDRESS_PATTERN
from shared.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from shared.events import outbox
from shared.identity.access import require_owner, require_role
from shared.market import popularity, taxonomy
from shared.market.holders import ITEM_HOLDER_SQL
from shared.market.tables import auctions, items
from shared.market.taxonomy import Tags
from shared.tables import readable_columns, users
from shared.types import (
    AmountIn,
    AmountOut,
    ApiModel,
    Currency,
    Description,
    HiddenBy,
    PositiveAmountIn,
    Slug,
    Title,
    left_out,
)
from shared.versioning import change_state, check_editable, require_version, save_changes, versioned_etag

if TYPE_CHECKING:
    from sqlalchemy import Connection, Row
    from sqlalchemy.orm import Session

    from shared.identity.access import Viewer
    from shared.market.models import Item
    from shared.models import User

Kind = Literal["physical", "digital"]
Status = Literal["draft", "listed", "sold", "archived"]
License = Annotated[str, Field(min_length=1, max_length=10_000)]
# ISO 3166-1 alpha-2 codes, or WW for worldwide shipping.
Region = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Z]{2}$")]
Regions = Annotated[list[Region], Field(max_length=250)]
MediaIds = Annotated[list[uuid.UUID], Field(max_length=10)]
# The seller's stock-keeping unit: unique among their items, the key of a CSV import.
Sku = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
Threshold = Annotated[int, Field(ge=0, le=1_000_000)]
# What may change in each status; a sold or archived item is a record.
EDITABLE = {
    "draft": frozenset({"title", "description", "price", "currency", "inventory", "shipping_regions", "license",
                        "file_media_id", "media_ids", "category", "tags", "token", "sku", "low_stock_threshold"}),
    "listed": frozenset({"title", "description", "price", "inventory", "shipping_regions", "license",
                         "media_ids", "category", "tags", "sku", "low_stock_threshold"}),
}
# action -> (statuses it starts from, the status it leads to)
TRANSITIONS = {
    "list": (frozenset({"draft"}), "listed"),
    "unlist": (frozenset({"listed"}), "draft"),
    "archive": (frozenset({"draft", "listed", "sold"}), "archived"),
}


class TokenRef(ApiModel):
    model_config = ConfigDict(extra="forbid")

    chain_id: Annotated[int, Field(ge=1)]
    contract: Annotated[str, Field(pattern=ADDRESS_PATTERN)]
    token_id: AmountIn


class TokenOut(ApiModel):
    chain_id: int
    contract: str
    token_id: AmountOut


def _check_kind(kind: str, fields: dict[str, Any]) -> None:
    if kind == "physical":
        wrong = [name for name in ("license", "file_media_id") if fields.get(name) is not None]
        if wrong:
            raise ValueError(f"a physical item has no {' or '.join(wrong)}")
    elif (fields.get("inventory") is not None or fields.get("shipping_regions")
          or fields.get("low_stock_threshold") is not None):
        raise ValueError("a digital item has no inventory, shipping regions or low-stock threshold")


class ItemIn(ApiModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description = ""
    kind: Kind
    price: PositiveAmountIn
    currency: Currency
    inventory: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    shipping_regions: Regions = []
    license: License | None = None
    file_media_id: uuid.UUID | None = Field(default=None, description="digital: the file buyers receive (an artwork upload)")
    media_ids: MediaIds = Field(default=[], description="processed item uploads, in display order")
    category: Slug | None = None
    tags: Tags = []
    token: TokenRef | None = Field(default=None, description="an artwork token of yours; its owner becomes the holder")
    sku: Sku | None = Field(default=None, description="your stock-keeping unit, unique among your items")
    low_stock_threshold: Threshold | None = Field(
        default=None, description="physical: item.low_stock is emitted when inventory falls to or below it")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind == "physical" and self.inventory is None:
            raise ValueError("a physical item needs an inventory count")
        _check_kind(self.kind, self.model_dump())
        return self


class ItemPatch(ApiModel):
    """Fields left out stay as they are; null clears the optional ones."""

    model_config = ConfigDict(extra="forbid")

    title: Title = left_out()
    description: Description = left_out()
    price: PositiveAmountIn = left_out()
    currency: Currency = left_out()
    inventory: Annotated[int, Field(ge=0, le=1_000_000)] | None = Field(default=None,
                                                                        description="null: unlimited (digital items)")
    shipping_regions: Regions = left_out()
    license: License | None = None
    file_media_id: uuid.UUID | None = None
    media_ids: MediaIds = left_out()
    category: Slug | None = None
    tags: Tags = left_out()
    token: TokenRef | None = None
    sku: Sku | None = None
    low_stock_threshold: Threshold | None = None


class ItemOut(ApiModel):
    id: uuid.UUID
    owner_id: uuid.UUID
    owner_name: str | None
    holder_id: uuid.UUID | None = Field(description="who holds it now: the token owner for linked items, "
                                                    "else the artist or the auction winner")
    title: str
    description: str
    kind: Kind
    price: AmountOut
    currency: str
    status: Status
    inventory: int | None
    shipping_regions: list[str]
    license: str | None
    has_file: bool
    media_ids: list[uuid.UUID]
    category: str | None
    tags: list[str]
    token: TokenOut | None
    favorite_count: int
    like_count: int
    view_count: int
    copy_count: int
    popularity: float = Field(description="time-decayed interaction score (half-life in docs/decisions)")
    version: int
    created_at: AwareDatetime
    updated_at: AwareDatetime
    listed_at: AwareDatetime | None
    sold_at: AwareDatetime | None
    sku: str | None = Field(default=None, description="the owner's (and admins') view only; null for others")
    low_stock_threshold: int | None = Field(default=None,
                                            description="the owner's (and admins') view only; null for others")
    hidden: HiddenBy | None = Field(default=None, description="why it is out of public sight: an administrator "
                                    "hid it, or its author is suspended (only the author and admins see it then)")


# -- reading -----------------------------------------------------------------------------

def holder_expression():
    """The current holder (shared/market/holders.py)."""
    return literal_column(f"({ITEM_HOLDER_SQL})", type_=PG_UUID(as_uuid=True))


def rows_query():
    """Item rows with their owner's name and current holder (one round trip for a page)."""
    return (select(*readable_columns(items), users.c.display_name.label("owner_name"),
                   holder_expression().label("current_holder_id"))
            .join(users, users.c.id == items.c.owner_id))


def row_out(row: Row) -> ItemOut:
    return to_out(row, row.owner_name, row.current_holder_id)


# The seller's own bookkeeping: shown to the owner (and admins), never to the public.
PRIVATE_FIELDS = frozenset({"sku", "low_stock_threshold"})


def to_out(item: Item | Row, owner_name: str | None, holder_id: uuid.UUID | None, *,
           private: bool = False) -> ItemOut:
    token = (TokenOut(chain_id=item.token_chain_id, contract=item.token_contract, token_id=item.token_id)
             if item.token_id is not None else None)
    hidden = {"owner_name", "holder_id", "has_file", "token", "popularity"} | (set() if private else PRIVATE_FIELDS)
    values = {name: getattr(item, name) for name in ItemOut.model_fields if name not in hidden}
    return ItemOut.model_validate({**values, "owner_name": owner_name, "holder_id": holder_id,
                                   "has_file": item.file_media_id is not None, "token": token,
                                   "popularity": popularity.current(item.popularity)})


def etag(item: Item | Row) -> str:
    counters = f"{item.favorite_count}.{item.like_count}.{item.view_count}.{item.copy_count}.{item.popularity}"
    return versioned_etag(item.version, counters)


def may_see_private(viewer: Viewer | None, owner_id: uuid.UUID | None) -> bool:
    return viewer is not None and (viewer.is_admin or viewer.id == owner_id)


def _check_visible(item: Item | Row | None, viewer: Viewer | None, *, hidden_too: bool = False) -> None:
    private = item is not None and (item.status in ("draft", "archived") or (item.hidden is not None and not hidden_too))
    if item is None or (private and not may_see_private(viewer, item.owner_id)):
        raise NotFound("no such item")


def read(db: Connection | Session, item_id: uuid.UUID, viewer: Viewer | None, *, hidden_too: bool = False) -> Row:
    """One item as a row of rows_query(), if the viewer may see it (``hidden_too``: hidden or not)."""
    row = db.execute(rows_query().where(items.c.id == item_id)).one_or_none()
    _check_visible(row, viewer, hidden_too=hidden_too)
    return row


def get(session: Session, item_id: uuid.UUID, viewer: Viewer | None, *,
        for_update: bool = False) -> tuple[Item, str | None, uuid.UUID | None]:
    """One item as an ORM object to change, with its owner's name and holder."""
    from shared.market.models import Item

    query = (select(Item, users.c.display_name, holder_expression())
             .join(users, users.c.id == Item.owner_id).where(Item.id == item_id))
    if for_update:
        query = query.with_for_update(of=Item)
    row = session.execute(query).one_or_none()
    _check_visible(row and row[0], viewer)
    return row[0], row[1], row[2]


def payload(item: Item) -> dict[str, Any]:
    """The event view of an item (amounts as decimal strings, like the API)."""
    return {"id": str(item.id), "owner_id": str(item.owner_id), "title": item.title, "kind": item.kind,
            "status": item.status, "price": str(item.price), "currency": item.currency,
            "category": item.category, "tags": list(item.tags), "version": item.version}


# -- writing -----------------------------------------------------------------------------

def _attach(session: Session, user: User, fields: dict[str, Any]) -> dict[str, Any]:
    """Check referenced uploads and tokens; returns the column values they become."""
    from shared.media import media

    values = dict(fields)
    for media_id in fields.get("media_ids") or []:
        media.attachable(session, user, media_id, "item")
    if fields.get("file_media_id"):
        media.attachable(session, user, fields["file_media_id"], "artwork")
    if "category" in fields:
        taxonomy.require_category(session, fields["category"])
    if "token" in fields:
        token = fields.pop("token") or {}
        values.pop("token", None)
        values.update(_token_columns(session, user, token))
    return values


def _token_columns(session: Session, user: User, token: dict[str, Any]) -> dict[str, Any]:
    from shared.chain.abi import checksum
    from shared.chain.tables import artwork_tokens as tokens

    if not token:
        return {"token_chain_id": None, "token_contract": None, "token_id": None}
    contract = checksum(token["contract"])
    owner = session.scalar(select(tokens.c.owner).where(
        tokens.c.chain_id == token["chain_id"], tokens.c.contract == contract,
        tokens.c.token_id == token["token_id"]))
    if owner is None:
        raise Conflict("that token is not indexed yet: mint it and wait for the confirmations")
    if user.wallet_address is None or owner != user.wallet_address:
        raise Forbidden("only the token's current owner may link it (link your wallet first)")
    taken = session.scalar(select(items.c.id).where(items.c.token_chain_id == token["chain_id"],
                                                    items.c.token_contract == contract,
                                                    items.c.token_id == token["token_id"]))
    if taken is not None:
        raise Conflict("another item is linked to that token")
    return {"token_chain_id": token["chain_id"], "token_contract": contract, "token_id": token["token_id"]}


def _check_sku(session: Session, owner_id: uuid.UUID, sku: str | None, item_id: uuid.UUID | None = None) -> None:
    """A SKU names one item of its seller (another seller may use the same SKU)."""
    if sku is None:
        return
    taken = session.scalar(select(items.c.id).where(items.c.owner_id == owner_id, items.c.sku == sku))
    if taken is not None and taken != item_id:
        raise Conflict(f"another item of yours has the SKU {sku}")


def is_low(item: Item) -> bool:
    """Whether a physical item's stock is at or below its seller's threshold."""
    return (item.low_stock_threshold is not None and item.inventory is not None
            and item.inventory <= item.low_stock_threshold)


def alert_low_stock(session: Session, item: Item, *, was_low: bool) -> None:
    """The one low-stock rule: emit item.low_stock, in the caller's transaction, when a change
    (an edit, an import, a sale) took the item from above its threshold to at or below it.
    Once low, it is announced again only after it rose above the threshold."""
    if not was_low and is_low(item):
        outbox.emit(session, "item.low_stock", "item", item.id,
                    {"id": str(item.id), "owner_id": str(item.owner_id), "title": item.title, "sku": item.sku,
                     "inventory": item.inventory, "low_stock_threshold": item.low_stock_threshold})


def create(session: Session, owner: User, data: ItemIn) -> Item:
    from shared.market.models import Item

    require_role(owner, "artist")
    _check_sku(session, owner.id, data.sku)
    values = _attach(session, owner, data.model_dump(exclude_unset=False))
    item = Item(owner_id=owner.id, holder_id=owner.id, **values)
    session.add(item)
    taxonomy.retag(session, [], item.tags)
    session.flush()
    session.refresh(item)
    audit.record(session, owner, "item.created", "item", item.id)
    outbox.emit(session, "item.created", "item", item.id, payload(item))
    return item


def update(session: Session, user: User, item: Item, patch: ItemPatch) -> Item:
    require_owner(user, item.owner_id)
    changes = patch.model_dump(exclude_unset=True)
    if "inventory" in changes and changes["inventory"] is None and item.kind == "physical":
        raise ValidationFailed("a physical item's inventory cannot be cleared")
    check_editable("item", item.status, changes, EDITABLE)
    if not changes:
        return item
    try:
        _check_kind(item.kind, {**{"inventory": item.inventory, "shipping_regions": item.shipping_regions,
                                   "license": item.license, "file_media_id": item.file_media_id,
                                   "low_stock_threshold": item.low_stock_threshold}, **changes})
    except ValueError as error:
        raise ValidationFailed(str(error)) from None
    if "sku" in changes:
        _check_sku(session, item.owner_id, changes["sku"], item.id)
    values = _attach(session, user, changes)
    if "tags" in values:
        taxonomy.retag(session, item.tags, values["tags"])
    was_low = is_low(item)
    save_changes(session, user, item, "item", values, payload, changed=list(changes))
    alert_low_stock(session, item, was_low=was_low)
    return item


def transition(session: Session, user: User, item: Item, action: str) -> Item:
    require_owner(user, item.owner_id)
    sources, target = TRANSITIONS[action]
    if item.status not in sources:
        raise InvalidTransition(f"cannot {action} an item that is {item.status}")
    if action == "list":
        if item.kind == "digital" and item.file_media_id is None and item.token_id is None:
            raise InvalidTransition("a digital item needs its file (or a linked token) before it is listed")
        if item.kind == "physical" and not item.inventory:
            raise InvalidTransition("a physical item needs inventory before it is listed")
    elif open_auction(session, item.id) is not None:
        raise InvalidTransition(f"cannot {action} an item while its auction runs")
    change_state(session, user, item, "item", action, target, payload,
                 also={"listed_at": datetime.now(UTC)} if target == "listed" else None)
    return item


def open_auction(db: Connection | Session, item_id: uuid.UUID) -> uuid.UUID | None:
    """The id of the item's running auction, if any."""
    return db.scalar(select(auctions.c.id).where(and_(auctions.c.item_id == item_id, auctions.c.status == "open")))


def check_if_match(item: Item, if_match: str | None) -> None:
    require_version(item.version, if_match)
