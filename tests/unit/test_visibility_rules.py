"""Who and what others may see is written twice: as SQL text for the raw queries (search, the
graph, analytics, the partial indexes) and in Core for the queries built on the tables. The two
forms must say the same, for the tables and for aliases of them."""
from __future__ import annotations

import pytest
from sqlalchemy.dialects import postgresql

from shared.market.tables import PUBLIC_SQL, items, public_item, public_items
from shared.tables import ACTIVE_USER, active_user, active_user_row, users


def _sql(condition) -> str:
    compiled = condition.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    return " ".join(str(compiled).split())


def _unqualified(sql: str, alias: str) -> str:
    return sql.replace(f"{alias}.", "")


@pytest.mark.parametrize("alias", ["items", "i"])
def test_public_items_in_core_is_the_sql_of_the_partial_indexes(alias):
    table = items if alias == "items" else items.alias(alias)
    assert _sql(public_items(table)) == public_item(alias)
    assert _unqualified(public_item(alias), alias) == PUBLIC_SQL


@pytest.mark.parametrize("alias", ["users", "u"])
def test_active_user_in_core_is_the_sql_of_the_raw_queries(alias):
    table = users if alias == "users" else users.alias(alias)
    assert _sql(active_user(table)) == active_user_row(alias)
    assert _unqualified(active_user_row(alias), alias) == ACTIVE_USER
