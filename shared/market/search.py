"""GET /api/search: one query over items, proposals and artists.

Matching is PostgreSQL full-text search over a weighted document (title A, tags B,
description C; GIN-indexed generated columns), ranked by ts_rank_cd. When the words
match nothing, each is corrected against a dictionary of the words of titles, tags and
names (pg_trgm similarity on a small table, not on a million titles) and the
corrections are searched the same way: a typo still finds the item. The mode is part
of the cursor.

Each kind is one branch that filters, orders and limits on its own (index-backed),
and the page is merged from the branches' heads: keyset pagination on
(key, kind, id) throughout, never OFFSET.

``mode=semantic`` orders items and proposals by the cosine distance of their vectors to the
query's (pgvector's HNSW index, shared/embeddings); ``mode=hybrid`` fuses the text ranking
(typo-corrected when the words match nothing) and the semantic one by reciprocal rank over
their first CANDIDATES each (decision 0032).
"""
from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, StringConstraints
from sqlalchemy import text

from shared.embeddings.models import QueryVector
from shared.embeddings.tables import literal
from shared.errors import InvalidCursor, ValidationFailed
from shared.market.listing import PriceFilter
from shared.market.tables import PUBLIC_ITEM_STATUSES, PUBLIC_SQL
from shared.market.taxonomy import TagSlug
from shared.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, decode_cursor, encode_cursor
from shared.tables import ACTIVE_USER, HEADING, PROPOSAL_STATUSES, PUBLIC_PROPOSAL
from shared.types import AmountOut, ApiModel, Slug

if TYPE_CHECKING:
    from sqlalchemy import Connection

Kind = Literal["item", "proposal", "artist"]
KINDS: tuple[Kind, ...] = ("item", "proposal", "artist")
Sort = Literal["relevance", "newest", "popular", "price_asc", "price_desc"]
SearchStatus = Literal["listed", "sold", "open", "funded", "closed", "cancelled"]
# Below this trigram similarity a dictionary word is not offered as what a typo meant.
FUZZY_THRESHOLD = 0.3
MAX_FUZZY_WORDS = 8
SNIPPET_WORDS = "MaxWords=24, MinWords=8, MaxFragments=1"
# Semantic and hybrid search: the HNSW scan's candidate list, each ranking's depth in a hybrid
# search (its pages go this deep), and reciprocal rank fusion's constant (Cormack et al., 2009).
EF_SEARCH = 100
CANDIDATES = 100
RRF_K = 60
# Highlight markers no text contains; replaced by <mark> once the snippet is HTML-escaped.
START, STOP = "\x02", "\x03"


class SearchQuery(PriceFilter):
    model_config = ConfigDict(extra="forbid")

    q: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    mode: Literal["keyword", "semantic", "hybrid"] = Field(
        default="keyword", description="keyword: by the words (typo-tolerant); semantic: by meaning (items and "
                                       "proposals); hybrid: both, fused. Meaning ranks q's results by relevance: "
                                       "without q, in another order or for artists, the search is by words (the "
                                       "answer's mode says which)")
    type: Kind | None = None
    category: Slug | None = None
    tags: Annotated[list[TagSlug], Field(max_length=10, description="comma-separated; all must match"),
                    BeforeValidator(lambda v: v.split(",") if isinstance(v, str) else v)] = []
    artist: uuid.UUID | None = None
    status: SearchStatus | None = None
    sort: Sort = "relevance"
    cursor: Annotated[str, Field(max_length=512)] | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE


class SearchHit(ApiModel):
    type: Kind
    id: uuid.UUID
    title: str
    snippet_html: str = Field(description="an HTML-escaped excerpt; matched words in <mark>")
    owner_id: uuid.UUID
    status: str | None
    price: AmountOut | None
    currency: str | None
    created_at: datetime
    score: float | None = Field(description="relevance or similarity, for the relevance order")


class SearchPage(ApiModel):
    items: list[SearchHit]
    next_cursor: str | None
    mode: Literal["text", "fuzzy", "browse", "semantic", "hybrid"] = Field(
        description="how q matched: its words, typo-tolerant, no q, by meaning, or words and meaning fused")


@dataclass(frozen=True)
class _Branch:
    kind: Kind
    table: str
    title: str
    body: str
    owner: str
    status: str
    price: str
    currency: str
    visible: str
    vectors: str | None = None  # its table of vectors (shared/embeddings/tables.py)


_BRANCHES = {
    "item": _Branch("item", "items", "title", "description", "owner_id", "status", "price", "currency",
                    PUBLIC_SQL, "item_vectors"),
    "proposal": _Branch("proposal", "proposals", "title", "description", "owner_id", "status", "NULL::numeric",
                        "currency", PUBLIC_PROPOSAL, "proposal_vectors"),
    "artist": _Branch("artist", "users", "coalesce(display_name, '')", "coalesce(bio, '')", "id", "NULL",
                      "NULL::numeric", "NULL", f"role = 'artist' AND {ACTIVE_USER} AND display_name IS NOT NULL"),
}
_ITEM_STATUSES = set(PUBLIC_ITEM_STATUSES)
_PROPOSAL_STATUSES = set(PROPOSAL_STATUSES) - {"draft"}


def _kinds(q: SearchQuery) -> list[Kind]:
    """The kinds the filters can apply to."""
    kinds = [q.type] if q.type else list(KINDS)
    item_only = q.sort in ("popular", "price_asc", "price_desc") or q.min_price is not None \
        or q.max_price is not None or q.currency is not None
    if item_only:
        if q.type not in (None, "item"):
            raise ValidationFailed("price filters and the popular and price orders apply to items only")
        kinds = ["item"]
    if q.status in _ITEM_STATUSES:
        kinds = [k for k in kinds if k == "item"]
    elif q.status in _PROPOSAL_STATUSES:
        kinds = [k for k in kinds if k == "proposal"]
    if q.category or q.tags or q.artist:  # work of an artist, in a category, with tags: not people
        kinds = [k for k in kinds if k != "artist"]
    return kinds


# The text query of each mode, in the English configuration (stemmed) and the simple one
# (names are indexed unstemmed). Fuzzy mode searches the dictionary's corrections (:fq).
_TSQUERIES = {
    "text": ("websearch_to_tsquery('english', :q)", "websearch_to_tsquery('simple', :q)"),
    "fuzzy": ("to_tsquery('english', :fq)", "to_tsquery('simple', :fq)"),
}


# The query vector's distance: the HNSW index's order (shared/embeddings/tables.py).
DISTANCE = "(v.embedding <=> CAST(:vector AS vector))"


def _tsquery(branch: _Branch, mode: str) -> str:
    english, simple = _TSQUERIES[mode]
    return f"({english} || {simple})" if branch.kind == "artist" else english


def _match(branch: _Branch, mode: str, sort: str) -> tuple[list[str], str]:
    """(the WHERE condition of each tier, best first; the score expression) of one branch.

    A match in the HEADING (title and tags, an artist's name) outranks any match in the body
    alone: the relevance order is the heading's matches, then the body's, each in ts_rank_cd
    order normalised to [0, 1) (flag 32), so a score is 1 and more in the heading. A common
    word's first page ranks only its heading's matches, found by their own index (decision 0033).
    """
    if mode == "browse":
        return ["true"], "CAST(NULL AS float8)"
    if mode == "semantic":
        return ["v.model = :model"], f"CAST(1 - {DISTANCE} AS float8)"
    query = _tsquery(branch, mode)
    heading = f"{HEADING} @@ {query}"
    score = f"CAST((CASE WHEN {heading} THEN 1 ELSE 0 END) + ts_rank_cd(search, {query}, 32) AS float8)"
    if sort != "relevance":  # another order: one set of matches
        return [f"search @@ {query}"], score
    return [heading, f"search @@ {query} AND NOT ({heading})"], score


def _key(sort: str, branch: _Branch, score: str, mode: str = "text") -> tuple[str, bool]:
    """(sort key expression, descending)."""
    if mode == "semantic":
        return DISTANCE, False  # nearest first: the index's own order
    return {
        "relevance": (score, True),
        "newest": ("created_at", True),
        "popular": ("popularity", True),
        "price_asc": (branch.price, False),
        "price_desc": (branch.price, True),
    }[sort]


def _branch_sql(branch: _Branch, q: SearchQuery, mode: str, sort: str, cursor: list | None) -> str:
    index = KINDS.index(branch.kind)
    tiers, score = _match(branch, mode, sort)
    key, descending = _key(sort, branch, score, mode)
    source = branch.table
    if mode == "semantic":  # the vectors' id under another name: the branch's columns stay unqualified
        source += f" JOIN (SELECT id AS vector_of, model, embedding FROM {branch.vectors}) v ON v.vector_of = id"
    where = [branch.visible]
    if q.status:
        where.append(f"{branch.status} = :status")
    if q.category:
        where.append("category = :category")
    if q.tags:
        where.append("tags @> CAST(string_to_array(:tags, ',') AS varchar[])")
    if q.artist:
        where.append(f"{branch.owner} = :artist")
    if q.currency:
        where.append("currency = :currency")
    if q.min_price is not None:
        where.append("price >= :min_price")
    if q.max_price is not None:
        where.append("price <= :max_price")
    if cursor is not None:
        where.append(_after(key, descending, index, cursor[1]))
    if cursor is not None and len(tiers) > 1 and float(cursor[0]) < 1:
        tiers = tiers[1:]  # past the heading's matches (their scores are 1 and more)
    direction = "DESC" if descending else "ASC"
    selects = [f"""(SELECT {index} AS kind, id, {branch.title} AS title, {branch.body} AS body, {branch.owner} AS owner_id,
               {branch.status} AS status, {branch.price} AS price, {branch.currency} AS currency, created_at,
               {score} AS score, {key} AS key
        FROM {source} WHERE {' AND '.join([*where, tier])}
        ORDER BY {key} {direction}, id {direction} LIMIT :fetch)""" for tier in tiers]
    if len(selects) == 1:
        return selects[0]
    # Without an order of its own the append reads its tiers in turn and stops once the page is
    # full: the body's matches are only ranked when the heading's are too few.
    return f"(SELECT * FROM ({' UNION ALL '.join(selects)}) tiers LIMIT :fetch)"


def _after(key: str, descending: bool, kind: int, cursor_kind: int) -> str:
    """Rows after the cursor in (key, kind, id) order, for a branch whose kind is fixed."""
    op = "<" if descending else ">"
    if kind == cursor_kind:
        return f"({key}, id) {op} (:cursor_key, :cursor_id)"
    ties_follow = kind < cursor_kind if descending else kind > cursor_kind
    return f"{key} {op}{'=' if ties_follow else ''} :cursor_key"


def _effective_sort(q: SearchQuery, mode: str) -> str:
    """Without words there is no relevance: newest first."""
    return "newest" if q.sort == "relevance" and mode == "browse" else q.sort


_KEY_PARSERS = {"relevance": float, "newest": datetime.fromisoformat, "popular": float,
                "price_asc": int, "price_desc": int}


def _mode(q: SearchQuery, cursor_mode: str | None) -> str:
    if cursor_mode:
        return cursor_mode
    return "text" if q.q else "browse"


def _run(conn: Connection, q: SearchQuery, mode: str, cursor: list | None, *, fetch: int | None = None,
         query_vector: QueryVector | None = None, candidates: bool = False, corrected: str | None = None) -> list[Any]:
    """The rows of one mode's search. ``candidates``: a hybrid search's, of the kinds that have
    vectors and without snippets (the page's are made once the rankings are fused)."""
    sort = _effective_sort(q, mode)
    if mode == "fuzzy" and corrected is None:
        corrected = corrections(conn, q.q)
    if mode == "fuzzy" and not corrected:
        return []
    params: dict[str, Any] = {
        "q": q.q, "fq": corrected or "", "status": q.status, "category": q.category, "tags": ",".join(q.tags),
        "artist": q.artist, "currency": q.currency, "min_price": q.min_price, "max_price": q.max_price,
        "fetch": fetch or q.limit + 1,
    }
    if mode == "semantic":
        assert query_vector is not None
        params.update(vector=literal(query_vector.values), model=query_vector.model)
        # Filters drop rows the index returned: it goes on scanning, in order, until the page is full.
        conn.execute(text("SELECT set_config('hnsw.ef_search', :ef, true), "
                          "set_config('hnsw.iterative_scan', 'strict_order', true)"), {"ef": str(EF_SEARCH)})
    if cursor is not None:
        try:
            key = _KEY_PARSERS[sort](cursor[0])
        except (TypeError, ValueError):
            raise InvalidCursor("the cursor is not one this API issued") from None
        params.update(cursor_key=key, cursor_id=uuid.UUID(cursor[2]))
    kinds = [kind for kind in _kinds(q) if (mode != "semantic" and not candidates) or _BRANCHES[kind].vectors]
    branches = [_branch_sql(_BRANCHES[kind], q, mode, sort, cursor) for kind in kinds]
    if not branches:
        return []
    _, descending = _key(sort, _BRANCHES["item"], "score", mode)
    direction = "DESC" if descending else "ASC"
    sql = f"""
        SELECT page.*, {"NULL" if candidates else _headline(mode)} AS snippet FROM (
            SELECT * FROM ({' UNION ALL '.join(branches)}) merged
            ORDER BY key {direction}, kind {direction}, id {direction} LIMIT :fetch
        ) page ORDER BY key {direction}, kind {direction}, id {direction}
    """
    return conn.execute(text(sql), params).all()


def _headline(mode: str) -> str:
    """The snippet of a row (its body and title): the words a text search matched, marked."""
    if mode not in _TSQUERIES:
        return "left(body, 200)"
    return (f"ts_headline('english', coalesce(nullif(body, ''), title), {_TSQUERIES[mode][0]}, "
            f"'{SNIPPET_WORDS}, StartSel=\"{START}\", StopSel=\"{STOP}\"')")


_WORD = re.compile(r"^\w+$")
_CANDIDATES = text("""
    SELECT q.n, c.word, c.score FROM unnest(string_to_array(:words, ' ')) WITH ORDINALITY AS q(word, n)
    CROSS JOIN LATERAL (
        SELECT word, similarity(word, q.word) AS score FROM search_words WHERE word %% q.word
        ORDER BY word <-> q.word LIMIT :per_word
    ) c
""")  # "%%": pg8000's paramstyle would read a lone % as a parameter
# Spellings this close to the best one are kept as alternatives: further ones only widen
# the search (and cost ranking) without being what was meant.
CLOSE_ENOUGH = 0.05


def corrections(conn: Connection, q: str, *, per_word: int = 3) -> str:
    """The query's words as a tsquery of their nearest dictionary words: each word
    becomes (c1 | c2) of its closest spellings, and all must match. Empty when no word
    resembles anything the platform has."""
    words = [w for w in re.findall(r"\w+", q.lower()) if len(w) >= 3][:MAX_FUZZY_WORDS]
    if not words:
        return ""
    conn.execute(text("SELECT set_config('pg_trgm.similarity_threshold', :t, true)"), {"t": str(FUZZY_THRESHOLD)})
    found: dict[int, list[tuple[float, str]]] = {}
    for n, word, score in conn.execute(_CANDIDATES, {"words": " ".join(words), "per_word": per_word}):
        if _WORD.match(word):
            found.setdefault(n, []).append((score, word))
    groups = []
    for n in sorted(found):
        best = max(score for score, _ in found[n])
        groups.append(" | ".join(word for score, word in found[n] if score >= best - CLOSE_ENOUGH))
    return " & ".join(f"({group})" for group in groups)


def _snippet(raw: str | None) -> str:
    escaped = html.escape(raw or "", quote=False)
    return escaped.replace(START, "<mark>").replace(STOP, "</mark>")


# Embeds what was asked, as a query, with the platform's model (shared/embeddings/models.py).
EmbedQuery = Callable[[str], QueryVector]


def search(conn: Connection, q: SearchQuery, embed_query: EmbedQuery | None = None) -> SearchPage:
    cursor_mode, cursor = None, None
    if q.cursor:
        cursor_mode, key, kind, last_id = decode_cursor(q.cursor, f"search:{q.sort}", [_mode_of, _any, _kind, _uuid])
        cursor = [key, kind, last_id]
    meaning = _by_meaning(q)
    if (cursor_mode is not None and (cursor_mode in ("semantic", "hybrid")) != meaning) \
            or (meaning and cursor_mode not in (None, q.mode)):
        raise InvalidCursor("the cursor is not one this API issued for this search")
    if meaning:
        assert embed_query is not None, "semantic search needs the query's embedding"
        vector = embed_query(q.q)
        if q.mode == "hybrid":
            return _hybrid(conn, q, vector, cursor)
        return _page(q, _run(conn, q, "semantic", cursor, query_vector=vector), "semantic")
    mode = _mode(q, cursor_mode)
    rows = _run(conn, q, mode, cursor)
    if not rows and mode == "text" and cursor is None:
        mode = "fuzzy"  # the words matched nothing: try them as typos
        rows = _run(conn, q, mode, None)
    return _page(q, rows, mode)


def _hit(row: Any, score: float | None, snippet: str | None) -> SearchHit:
    return SearchHit(type=KINDS[row.kind], id=row.id, title=row.title, snippet_html=_snippet(snippet),
                     owner_id=row.owner_id, status=row.status, price=int(row.price) if row.price is not None else None,
                     currency=row.currency, created_at=row.created_at, score=score)


def _page(q: SearchQuery, rows: list[Any], mode: str) -> SearchPage:
    next_cursor = None
    if len(rows) > q.limit:
        last = rows[q.limit - 1]
        key = last.key.isoformat() if isinstance(last.key, datetime) else \
            str(last.key) if not isinstance(last.key, float) else last.key
        next_cursor = encode_cursor(f"search:{q.sort}", [mode, key, last.kind, str(last.id)])
    return SearchPage(items=[_hit(row, row.score, row.snippet) for row in rows[: q.limit]], next_cursor=next_cursor, mode=mode)


def _by_meaning(q: SearchQuery) -> bool:
    """Meaning ranks the results of words by relevance; anything else (no words, another order,
    artists, who have no vectors) is the words' search, as every request the schema allows is
    answered rather than refused."""
    return q.mode != "keyword" and bool(q.q) and q.sort == "relevance" and q.type != "artist"


def _hybrid(conn: Connection, q: SearchQuery, vector: QueryVector, cursor: list | None) -> SearchPage:
    """The text and the semantic rankings' first CANDIDATES each, fused by reciprocal rank (RRF);
    a page continues after the cursor's (fused score, kind, id), so pages go CANDIDATES deep."""
    mode, corrected = "text", ""
    words = _run(conn, q, mode, None, fetch=CANDIDATES, candidates=True)
    if not words and (corrected := corrections(conn, q.q)):  # the words matched nothing: as typos
        mode = "fuzzy"
        words = _run(conn, q, mode, None, fetch=CANDIDATES, candidates=True, corrected=corrected)
    meaning = _run(conn, q, "semantic", None, fetch=CANDIDATES, query_vector=vector, candidates=True)
    fused: dict[tuple[int, Any], float] = {}
    rows: dict[tuple[int, Any], Any] = {}
    for ranking in (meaning, words):
        for rank, row in enumerate(ranking, start=1):
            key = (row.kind, row.id)
            fused[key] = fused.get(key, 0.0) + 1.0 / (RRF_K + rank)
            rows[key] = row
    order = sorted(fused, key=lambda k: (-fused[k], -k[0], str(k[1])))
    if cursor is not None:
        after = (-float(cursor[0]), -int(cursor[1]), str(cursor[2]))
        order = [k for k in order if (-fused[k], -k[0], str(k[1])) > after]
    page = order[: q.limit]
    next_cursor = None
    if len(order) > q.limit:
        last = page[-1]
        next_cursor = encode_cursor(f"search:{q.sort}", ["hybrid", fused[last], last[0], str(last[1])])
    snippets = _snippets(conn, [rows[k] for k in page], mode, q.q, corrected)
    return SearchPage(items=[_hit(rows[k], fused[k], snippet) for k, snippet in zip(page, snippets, strict=True)],
                      next_cursor=next_cursor, mode="hybrid")


def _snippets(conn: Connection, rows: list[Any], mode: str, q: str, corrected: str) -> list[str]:
    """The page's snippets, in its order: the words the text search matched, marked."""
    if not rows:
        return []
    return list(conn.execute(text(
        f"SELECT {_headline(mode)} FROM unnest(CAST(:bodies AS text[]), CAST(:titles AS text[])) "
        "WITH ORDINALITY AS page(body, title, n) ORDER BY n"),
        {"bodies": [row.body for row in rows], "titles": [row.title for row in rows], "q": q,
         "fq": corrected}).scalars())


def _mode_of(value: Any) -> str:
    if value not in ("text", "fuzzy", "browse", "semantic", "hybrid"):
        raise ValueError("unknown mode")
    return value


def _any(value: Any) -> Any:
    if not isinstance(value, str | int | float):
        raise ValueError("bad key")
    return value


def _kind(value: Any) -> int:
    if not isinstance(value, int) or not 0 <= value < len(KINDS):
        raise ValueError("bad kind")
    return value


def _uuid(value: Any) -> str:
    return str(uuid.UUID(value))
