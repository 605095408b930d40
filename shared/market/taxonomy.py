"""Categories (admin-managed) and tags (normalized, with usage counts) for items and proposals."""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints
from sqlalchemy import select, text

from shared import audit
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.events import outbox
from shared.identity.access import require_admin
from shared.tables import categories, tags
from shared.types import ApiModel, Line, Slug

if TYPE_CHECKING:
    from sqlalchemy import Connection, Row
    from sqlalchemy.orm import Session

    from shared.models import Category, User

_SEPARATORS = re.compile(r"[\s_./-]+")
# A tag as people type it: ASCII words joined by spaces, hyphens, underscores, dots or
# slashes, maybe after a '#'. The schema says exactly this; the server then folds it to a slug.
TAG_INPUT = r"^#?[A-Za-z0-9]+([ _./-]+[A-Za-z0-9]+)*$"
MAX_TAGS = 10


def normalize_tag(value: str) -> str:
    """'#Street Art', 'street_art' and 'Street-Art' are one tag: street-art."""
    return _SEPARATORS.sub("-", value.lstrip("#").casefold())


def _unique(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


TagSlug = Annotated[str, StringConstraints(pattern=TAG_INPUT, min_length=1, max_length=32),
                    AfterValidator(normalize_tag)]
Tags = Annotated[list[TagSlug], Field(max_length=MAX_TAGS), AfterValidator(_unique)]


# -- tags ------------------------------------------------------------------------------

_ADD = text("""
    INSERT INTO tags AS t (slug, usage_count)
    SELECT slug, delta FROM unnest(string_to_array(:slugs, ','), CAST(string_to_array(:deltas, ',') AS int[]))
        AS d(slug, delta)
    ON CONFLICT (slug) DO UPDATE SET usage_count = t.usage_count + excluded.usage_count
""")
# Separate: a CHECK applies to an INSERT's row before ON CONFLICT is considered.
_REMOVE = text("""
    UPDATE tags AS t SET usage_count = t.usage_count + d.delta
    FROM unnest(string_to_array(:slugs, ','), CAST(string_to_array(:deltas, ',') AS int[])) AS d(slug, delta)
    WHERE t.slug = d.slug
""")


def retag(session: Session, before: Iterable[str], after: Iterable[str]) -> None:
    """Keep usage counts equal to how many items and proposals carry each tag.

    Slugs are applied in sorted order, so two transactions touching the same tags
    lock them in the same order and cannot deadlock.
    """
    deltas = Counter(after)
    deltas.subtract(Counter(before))
    for statement, changed in ((_REMOVE, sorted((s, d) for s, d in deltas.items() if d < 0)),
                               (_ADD, sorted((s, d) for s, d in deltas.items() if d > 0))):
        if changed:
            session.execute(statement, {"slugs": ",".join(s for s, _ in changed),
                                        "deltas": ",".join(str(d) for _, d in changed)})


class TagOut(ApiModel):
    slug: str
    usage_count: int


class TagQuery(ApiModel):
    model_config = ConfigDict(extra="forbid")

    prefix: Annotated[str, StringConstraints(max_length=32)] = ""
    limit: Annotated[int, Field(ge=1, le=100)] = 20


class TagList(ApiModel):
    items: list[TagOut]


def popular_tags(conn: Connection, query: TagQuery) -> TagList:
    prefix = normalize_tag(query.prefix)
    statement = select(tags.c.slug, tags.c.usage_count).where(tags.c.usage_count > 0)
    if prefix:
        # Prefix match on the primary key's btree: LIKE with escaped wildcards.
        escaped = str(prefix).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = statement.where(tags.c.slug.like(f"{escaped}%", escape="\\"))
    rows = conn.execute(statement.order_by(tags.c.usage_count.desc(), tags.c.slug).limit(query.limit))
    return TagList(items=[TagOut(slug=t.slug, usage_count=t.usage_count) for t in rows])


# -- categories --------------------------------------------------------------------------

CategoryName = Annotated[Line, Field(max_length=80)]


class CategoryIn(ApiModel):
    model_config = ConfigDict(extra="forbid")

    slug: Slug
    name: CategoryName
    sort_order: Annotated[int, Field(ge=-1000, le=1000)] = 0


class CategoryPatch(ApiModel):
    model_config = ConfigDict(extra="forbid")

    slug: Slug | None = Field(default=None, description="renaming moves every item and proposal along")
    name: CategoryName | None = None
    sort_order: Annotated[int, Field(ge=-1000, le=1000)] | None = None


class CategoryOut(ApiModel):
    slug: str
    name: str
    sort_order: int


class CategoryList(ApiModel):
    items: list[CategoryOut]


def _out(category: Category | Row) -> CategoryOut:
    return CategoryOut(slug=category.slug, name=category.name, sort_order=category.sort_order)


def list_categories(conn: Connection) -> CategoryList:
    rows = conn.execute(select(categories).order_by(categories.c.sort_order, categories.c.name))
    return CategoryList(items=[_out(c) for c in rows])


def _exists(db: Connection | Session, slug: str) -> bool:
    return db.scalar(select(categories.c.slug).where(categories.c.slug == slug)) is not None


def require_category(db: Connection | Session, slug: str | None) -> None:
    if slug is not None and not _exists(db, slug):
        raise ValidationFailed(f"there is no category {slug!r}",
                               errors=[{"location": ["body", "category"], "message": "unknown category",
                                        "type": "unknown_category"}])


def _get(session: Session, slug: str) -> Category:
    from shared.models import Category

    category = session.get(Category, slug, with_for_update=True)
    if category is None:
        raise NotFound("no such category")
    return category


def create_category(session: Session, admin: User, data: CategoryIn) -> CategoryOut:
    from shared.models import Category

    require_admin(admin)
    if _exists(session, data.slug):
        raise Conflict(f"the category {data.slug!r} exists")
    category = Category(**data.model_dump())
    session.add(category)
    session.flush()
    audit.record(session, admin, "category.created", "category", category.slug)
    return _out(category)


def update_category(session: Session, admin: User, slug: str, patch: CategoryPatch) -> CategoryOut:
    require_admin(admin)
    category = _get(session, slug)
    changes = {k: v for k, v in patch.model_dump(exclude_unset=True).items() if v is not None}
    if changes.get("slug", slug) != slug and _exists(session, changes["slug"]):
        raise Conflict(f"the category {changes['slug']!r} exists")
    for field, value in changes.items():
        setattr(category, field, value)
    session.flush()  # a new slug cascades to items and proposals (ON UPDATE CASCADE)
    audit.record(session, admin, "category.updated", "category", category.slug, previous=slug, fields=sorted(changes))
    outbox.emit(session, "category.updated", "category", category.slug,
                {"slug": category.slug, "previous_slug": slug, "name": category.name})
    return _out(category)


def delete_category(session: Session, admin: User, slug: str) -> None:
    require_admin(admin)
    category = _get(session, slug)
    session.delete(category)
    session.flush()  # items and proposals in it become uncategorized (ON DELETE SET NULL)
    audit.record(session, admin, "category.deleted", "category", slug)
    outbox.emit(session, "category.deleted", "category", slug, {"slug": slug})
