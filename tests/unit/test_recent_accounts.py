"""The per-uid memory of account lookups that bounds Identity Toolkit calls (decision 0024)."""
from shared.identity.accounts import Account, RecentAccounts


class Counting:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.valid_since = 0

    def lookup(self, uid: str) -> Account | None:
        self.calls.append(uid)
        return None if uid == "gone" else Account(disabled=False, valid_since=self.valid_since)


def test_one_lookup_per_uid_per_window_then_a_fresh_one():
    now = [100.0]
    source = Counting()
    recent = RecentAccounts(source, 30, clock=lambda: now[0])
    assert recent.lookup("a").valid_since == 0
    source.valid_since = 500  # revoked elsewhere
    now[0] += 29.9
    assert recent.lookup("a").valid_since == 0 and recent.lookup("gone") is None
    assert source.calls == ["a", "gone"]
    now[0] += 0.1
    assert recent.lookup("a").valid_since == 500
    assert recent.lookup("gone") is None  # a deleted account is remembered as deleted
    assert source.calls == ["a", "gone", "a"]


def test_forget_and_a_zero_window_look_again():
    source = Counting()
    recent = RecentAccounts(source, 30)
    recent.lookup("a")
    recent.forget("a")
    recent.lookup("a")
    uncached = RecentAccounts(source, 0)
    uncached.lookup("b")
    uncached.lookup("b")
    assert source.calls == ["a", "a", "b", "b"]


def test_memory_is_bounded_oldest_first():
    source = Counting()
    recent = RecentAccounts(source, 30, capacity=2)
    for uid in ("a", "b", "c", "b", "a"):
        recent.lookup(uid)
    assert source.calls == ["a", "b", "c", "a"]  # c pushed a out; b stayed
