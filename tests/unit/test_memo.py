"""Short per-key memory (shared/memo.py): the account lookups of the revocation check and
the caller's row on reads (decision 0024)."""
from shared.memo import Recent


class Loads:
    def __init__(self) -> None:
        self.keys: list[str] = []
        self.value = 0

    def __call__(self, key: str):
        def load():
            self.keys.append(key)
            return None if key == "gone" else self.value
        return load


def test_one_load_per_key_per_window_then_a_fresh_one():
    now = [100.0]
    loads = Loads()
    recent: Recent[str, int | None] = Recent(30, clock=lambda: now[0])
    assert recent.get("a", loads("a")) == 0
    loads.value = 500  # changed elsewhere
    now[0] += 29.9
    assert recent.get("a", loads("a")) == 0 and recent.get("gone", loads("gone")) is None
    assert loads.keys == ["a", "gone"]
    now[0] += 0.1
    assert recent.get("a", loads("a")) == 500
    assert recent.get("gone", loads("gone")) is None  # remembered as gone
    assert loads.keys == ["a", "gone", "a"]


def test_forget_a_zero_window_and_values_not_kept_load_again():
    loads = Loads()
    recent: Recent[str, int | None] = Recent(30)
    recent.get("a", loads("a"))
    recent.forget("a")
    recent.get("a", loads("a"))
    uncached: Recent[str, int | None] = Recent(0)
    uncached.get("b", loads("b"))
    uncached.get("b", loads("b"))
    found_only: Recent[str, int | None] = Recent(30, keep=lambda value: value is not None)
    found_only.get("gone", loads("gone"))
    found_only.get("gone", loads("gone"))
    assert loads.keys == ["a", "a", "b", "b", "gone", "gone"]


def test_memory_is_bounded_oldest_first():
    loads = Loads()
    recent: Recent[str, int | None] = Recent(30, capacity=2)
    for key in ("a", "b", "c", "b", "a"):
        recent.get(key, loads(key))
    assert loads.keys == ["a", "b", "c", "a"]  # c pushed a out; b was still there


def test_a_value_loaded_while_it_was_forgotten_is_not_kept():
    """A load that started before a forget may hold what the forget was about (the account
    before its revocation): it is answered, not remembered."""
    loads = Loads()
    recent: Recent[str, int | None] = Recent(30)

    def load_then_forgotten():
        value = loads("a")()
        recent.forget("a")  # sign out everywhere, on another thread, mid-load
        return value

    assert recent.get("a", load_then_forgotten) == 0
    loads.value = 500
    assert recent.get("a", loads("a")) == 500
    assert loads.keys == ["a", "a"]
