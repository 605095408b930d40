"""The order a load into an existing schema takes: parents first, cycles broken at nullable keys."""
import pytest

from infra.datamove.into import order
from infra.datamove.load import Refused
from infra.datamove.schema import Column, ForeignKey, Table


def _table(name: str, *refs: tuple[str, str, bool]) -> Table:
    """A table with an id and, per (column, target, nullable), a foreign key."""
    columns = [Column("id", "bigint", None, False, None)]
    keys = []
    for column, target, nullable in refs:
        columns.append(Column(column, "bigint", None, nullable, None))
        keys.append(ForeignKey(f"fk_{name}_{column}", [column], target, ["id"]))
    return Table(name, columns, ["id"], keys)


def test_parents_come_first_and_a_self_reference_needs_no_pass():
    tables = [_table("bids", ("auction", "auctions", False), ("bidder", "users", False)),
              _table("auctions", ("item", "items", False)), _table("items", ("owner", "users", False)),
              _table("users", ("invited_by", "users", True))]
    ordered, deferred = order(tables)
    names = [t.name for t in ordered]
    assert names.index("users") < names.index("items") < names.index("auctions") < names.index("bids")
    assert deferred == {}


def test_a_cycle_is_broken_at_its_nullable_keys():
    users = _table("users", ("avatar", "media", True))
    media = _table("media", ("owner", "users", False))
    ordered, deferred = order([users, media])
    assert [t.name for t in ordered] == ["users", "media"]  # media needs its owner; the avatar waits
    assert [fk.name for fk in deferred["users"]] == ["fk_users_avatar"]


def test_a_cycle_of_required_keys_is_refused_by_name():
    with pytest.raises(Refused, match="a, b form a cycle through NOT NULL columns"):
        order([_table("a", ("b_id", "b", False)), _table("b", ("a_id", "a", False)), _table("c")])


def test_tables_outside_the_load_are_not_waited_for():
    ordered, deferred = order([_table("items", ("owner", "users", False))])
    assert [t.name for t in ordered] == ["items"] and deferred == {}
