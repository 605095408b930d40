"""infra.datamove into this platform's own migrated schema, its foreign keys and checks active:
a legacy prototype through a mapping, loaded in the keys' order (a cycle through users and
media included), each row that breaks a rule set aside with its reason, sequences moved past
the copied ids, and --truncate that knows the tables referring to those it empties."""
from __future__ import annotations

import itertools
import json

import pytest
from sqlalchemy import create_engine, text

from infra.datamove.into import Conflicts
from infra.datamove.load import Refused
from infra.datamove.mapping import copy_mapped, legacy_uuid, load_mapping
from tests.integration.test_datamove import _sqlite

_databases = itertools.count()

LEGACY = """
    CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT, full_name TEXT, kind TEXT, uid TEXT,
                           signup_ms INTEGER, avatar INTEGER REFERENCES pictures(id));
    CREATE TABLE pictures (id INTEGER PRIMARY KEY, owner INTEGER REFERENCES accounts(id), path TEXT, mime TEXT);
    CREATE TABLE projects (id INTEGER PRIMARY KEY, owner INTEGER, name TEXT, blurb TEXT, goal_cents INTEGER,
                           state TEXT, ends TEXT);
    CREATE TABLE products (id INTEGER PRIMARY KEY, maker INTEGER, name TEXT, price_cents INTEGER, stock INTEGER);
    CREATE TABLE events (id INTEGER PRIMARY KEY, who INTEGER, what TEXT);
"""
ROWS = {
    "accounts": [(1, "ada@example.test", "Ada", "creator", "uid-ada", 1_767_225_600_000, 30),
                 (2, "bo@example.test", "Bo", "backer", "uid-bo", 1_767_225_700_000, None),
                 (3, "cy@example.test", "Cy", "creator", "uid-cy", None, 31),      # its avatar repeats a path
                 (4, "ada2@example.test", "Ada again", "creator", "uid-ada", None, None),  # uid of row 1
                 (5, "zed@example.test", "Zed", "buyer", "uid-zed", None, None)],  # already in the target
    "pictures": [(30, 1, "avatars/ada.webp", "image/webp"), (31, 3, "avatars/ada.webp", "image/webp"),
                 (32, 9, "avatars/nobody.webp", "image/webp")],               # no account 9
    "projects": [(10, 1, "Woven Cities", None, 250000, "live", "2027-01-01"),
                 (11, 1, "Negative", "x", -5, "live", "2027-01-01")],         # breaks goal > 0
    "products": [(20, 1, "Indigo Loom Study", 45000, 3), (21, 99, "Orphan", 100, 1),  # no account 99
                 (22, 2, None, 100, 1)],                                       # no title
    "events": [(1, 1, "signed_up"), (2, 2, "signed_up"), (3, 1, "published")],
}
# Children first on purpose: the load orders the tables by their foreign keys, not as written.
MAPPING = """
tables:
  audit_log:
    from: events
    columns: {id: id, actor_id: {uuid_from: who, table: accounts}, action: what,
              entity_type: {value: user}, entity_id: who}
  items:
    from: products
    columns: {id: {uuid_from: id}, owner_id: {uuid_from: maker, table: accounts}, title: name,
              kind: {value: physical}, price: price_cents, currency: {value: EUR}, inventory: stock}
  proposals:
    from: projects
    columns: {id: {uuid_from: id}, owner_id: {uuid_from: owner, table: accounts}, title: name,
              description: {from: blurb, default: ""}, goal: goal_cents, currency: {value: EUR},
              status: {from: state, map: {live: open}, default: draft}, deadline: {from: ends, dates: iso}}
  media:
    from: pictures
    columns: {id: {uuid_from: id}, owner_id: {uuid_from: owner, table: accounts}, purpose: {value: avatar},
              object_name: path, declared_type: mime, max_bytes: {value: 5000000}}
  users:
    from: accounts
    columns: {id: {uuid_from: id}, firebase_uid: uid, email: email, display_name: full_name,
              role: {from: kind, map: {creator: artist, backer: investor, buyer: collector}, default: collector},
              created_at: {from: signup_ms, dates: epoch_ms}, avatar_media_id: {uuid_from: avatar, table: pictures}}
"""


@pytest.fixture
def platform(postgres_server):
    from local import postgres

    url = postgres_server.ensure_database(f"datamove_into_{next(_databases)}")
    postgres.migrate(url)
    engine = create_engine(url)
    with engine.begin() as conn:  # someone already on the live platform, by the same sign-in uid
        conn.execute(text("INSERT INTO users (firebase_uid, role, display_name) VALUES ('uid-zed', 'collector', 'Zed')"))
    yield engine
    engine.dispose()


@pytest.fixture(params=["per-row", "set-based"])
def key_checks(request, monkeypatch) -> set[str]:
    """Both ways a load may check what it checked itself (infra/datamove/into.py ``_way``):
    PostgreSQL's per-row triggers and ON CONFLICT, or nothing more with the tables locked, from
    the first row on (and a table tried straight into its target first). Yields the tables
    whose foreign keys took the set-based way."""
    from infra.datamove import into

    monkeypatch.setattr(into, "SET_BASED_KEYS", 1 if request.param == "set-based" else 10**12)
    return _record_ways(monkeypatch)["keys"]


def _record_ways(monkeypatch) -> dict[str, set[str]]:
    """The tables each large-load way was taken for: "keys" (set-based foreign keys), "alone",
    and "direct" (those that went straight into their target, no stage)."""
    from infra.datamove import into

    taken: dict[str, set[str]] = {"keys": set(), "alone": set(), "direct": set()}
    chooses, tries = into._way, into._direct

    def recorded(conn, table, rows, staged, deferred, lock_parents=True):
        way = chooses(conn, table, rows, staged, deferred, lock_parents=lock_parents)
        locks = set(conn.execute(text("SELECT relation::regclass::text || ' ' || mode FROM pg_locks "
                                      "WHERE pid = pg_backend_pid() AND relation IS NOT NULL")).scalars())
        if way.set_based_keys:
            taken["keys"].add(table.name)
            # A direct attempt locks them itself, after its COPY.
            assert not lock_parents or \
                {f"{fk.target} ShareLock" for fk in table.foreign_keys if fk.target != table.name} <= locks
        if way.alone:
            taken["alone"].add(table.name)
            assert f"{table.name} ShareRowExclusiveLock" in locks
        return way

    def direct(conn, table, source, staged, deferred, ahead=False):
        outcome = tries(conn, table, source, staged, deferred, ahead=ahead)
        if outcome is not None:
            taken["direct"].add(table.name)
        return outcome

    monkeypatch.setattr(into, "_way", recorded)
    monkeypatch.setattr(into, "_direct", direct)
    return taken


def _schema_as(postgres_server, schema: list[str], role: str):
    """An engine, as ``role``, on a new database the role owns, holding ``schema``."""
    database = f"datamove_schema_{next(_databases)}"
    postgres_server.ensure_database(database)
    postgres_server.provision(database, [])
    engine = create_engine(postgres_server.url(database, role))
    with engine.begin() as conn:
        for statement in schema:
            conn.execute(text(statement))
    return engine


def _copy(source, engine, mapping_file, **options):
    """copy_mapped, and every conflict it reported."""
    conflicts = []
    outcomes = copy_mapped(source, engine, load_mapping(mapping_file), report=conflicts.append, **options)
    return outcomes, conflicts


def _reasons(conflicts) -> dict[tuple[str, int], list[str]]:
    found: dict[tuple[str, int], list[str]] = {}
    for conflict in conflicts:
        found.setdefault((conflict.table, conflict.row), []).append(conflict.reason)
    return found


def test_a_legacy_database_moves_into_the_live_schema_row_by_row(platform, tmp_path, key_checks, request):
    mapping_file = tmp_path / "mapping.yaml"
    mapping_file.write_text(MAPPING)
    outcomes, conflicts = _copy(_sqlite(tmp_path, LEGACY, ROWS), platform, mapping_file)

    assert {name: (o.rows, o.inserted, o.set_aside, o.left_empty) for name, o in outcomes.items()} == {
        "users": (5, 3, 2, 1), "media": (3, 1, 2, 0), "proposals": (2, 1, 1, 0), "items": (3, 1, 2, 0),
        "audit_log": (3, 3, 0, 0)}
    assert list(outcomes).index("users") < list(outcomes).index("media") < list(outcomes).index("items")
    reasons = _reasons(conflicts)
    assert reasons == {
        ("users", 4): ["repeats an earlier row's firebase_uid (uq_users_firebase_uid)"],
        ("users", 5): ["already in users (uq_users_firebase_uid)"],
        ("media", 2): ["repeats an earlier row's object_name (uq_media_object_name)"],
        ("media", 3): ["no users row for owner_id (fk_media_owner_id_users)"],
        ("proposals", 2): ["breaks ck_proposals_goal_positive"],
        ("items", 2): ["no users row for owner_id (fk_items_owner_id_users)"],
        ("items", 3): ["no value for title"],
        # The second pass: Cy's avatar was the repeated picture, so it stays empty.
        ("users", 3): ["no media row for avatar_media_id (fk_users_avatar_media_id_media): left empty"],
    }
    conflict = next(c for c in conflicts if (c.table, c.row) == ("users", 5))
    assert conflict.key == {"id": str(legacy_uuid("accounts", 5))} and not conflict.went_in
    assert next(c for c in conflicts if (c.table, c.row) == ("users", 3)).went_in
    with platform.connect() as conn:
        avatars = dict(conn.execute(text("SELECT firebase_uid, avatar_media_id FROM users")).all())
        assert avatars["uid-ada"] == legacy_uuid("pictures", 30)  # the cycle, closed in the second pass
        assert avatars["uid-cy"] is None
        # The audit log's identity goes on after the copied ids.
        next_id = conn.execute(text("INSERT INTO audit_log (action, entity_type, entity_id) "
                                    "VALUES ('test', 'user', 'x') RETURNING id")).scalar_one()
        assert next_id == 4
    written = Conflicts(tmp_path / "conflicts.jsonl")
    for conflict in conflicts:
        written(conflict)
    written.close()
    assert len((tmp_path / "conflicts.jsonl").read_text().splitlines()) == written.count == 8
    assert "users row 4 (id=" in "\n".join(written.summary(outcomes))
    # The same outcome either way. Users, proposals and items keep the per-row checks: a trigger
    # of their own (search's words) must run, and the set-based way would skip it.
    set_based = request.node.callspec.params["key_checks"] == "set-based"
    assert key_checks == ({"media"} if set_based else set())


def test_a_second_copy_reports_every_row_as_there_already(platform, tmp_path):
    mapping_file = tmp_path / "mapping.yaml"
    mapping_file.write_text(MAPPING)
    source = _sqlite(tmp_path, LEGACY, ROWS)
    _copy(source, platform, mapping_file)
    again, conflicts = _copy(source, platform, mapping_file)
    assert sum(o.inserted for o in again.values()) == 0
    assert _reasons(conflicts)[("items", 1)] == ["already in items (pk_items)"]


def test_truncate_empties_the_load_and_refuses_to_empty_what_else_refers_to_it(platform, tmp_path):
    mapping_file = tmp_path / "mapping.yaml"
    mapping_file.write_text(MAPPING)
    source = _sqlite(tmp_path, LEGACY, ROWS)
    _copy(source, platform, mapping_file)
    again, _ = _copy(source, platform, mapping_file, truncate=True)
    assert again["users"].inserted == 4  # Zed was emptied with the rest: now Zed's row is the source's
    with platform.begin() as conn:
        ada, bo = (legacy_uuid("accounts", n) for n in (1, 2))
        conn.execute(text("INSERT INTO follows (follower_id, followee_id) VALUES (:a, :b)"), {"a": ada, "b": bo})
    with pytest.raises(Refused, match="would also empty follows"):
        copy_mapped(source, platform, load_mapping(mapping_file), truncate=True)
    with platform.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 4  # nothing emptied


def test_a_platform_database_moves_into_another_by_name(postgres_server, platform, tmp_path):
    """Both at Alembic head: every table by name (the schema's bookkeeping left out), the
    whole schema's foreign keys ordered, cycles and all; the CLI reports and lists conflicts."""
    import subprocess
    import sys

    from infra.datamove.into import copy_into, from_postgres
    from infra.manifest import REPO
    from local import postgres

    url = postgres_server.ensure_database(f"datamove_into_source_{next(_databases)}")
    postgres.migrate(url)
    source = create_engine(url)
    with source.begin() as conn:
        ada = conn.execute(text("INSERT INTO users (firebase_uid, role, display_name) VALUES ('uid-ada', 'artist', "
                                "'Ada') RETURNING id")).scalar_one()
        conn.execute(text("INSERT INTO users (firebase_uid, role, display_name) VALUES ('uid-zed', 'collector', 'Z')"))
        picture = conn.execute(text(
            "INSERT INTO media (owner_id, purpose, object_name, declared_type, max_bytes) "
            "VALUES (:o, 'avatar', 'avatars/a.webp', 'image/webp', 1000) RETURNING id"), {"o": ada}).scalar_one()
        conn.execute(text("UPDATE users SET avatar_media_id = :m WHERE id = :o"), {"m": picture, "o": ada})
        conn.execute(text("INSERT INTO items (owner_id, title, kind, price, currency, inventory) "
                          "VALUES (:o, 'Loom', 'physical', 100, 'EUR', 1)"), {"o": ada})
        conn.execute(text("INSERT INTO audit_log (action, entity_type, entity_id) VALUES ('a', 'user', '1'), "
                          "('b', 'user', '2')"))
    conflicts = []
    outcomes = copy_into(platform, from_postgres(source, platform), report=conflicts.append)
    assert "alembic_version" not in outcomes
    assert (outcomes["users"].rows, outcomes["users"].inserted) == (2, 1)
    assert [c.reason for c in conflicts if c.table == "users"] == ["already in users (uq_users_firebase_uid)"]
    assert (outcomes["media"].inserted, outcomes["items"].inserted, outcomes["audit_log"].inserted) == (1, 1, 2)
    with platform.connect() as conn:
        assert conn.execute(text("SELECT avatar_media_id FROM users WHERE id = :o"), {"o": ada}).scalar_one() == picture
    # Again through the command line: everything is there already, so every row is set aside.
    conflicts = tmp_path / "conflicts.jsonl"
    target_url = platform.url.render_as_string(hide_password=False)
    done = subprocess.run([sys.executable, "-m", "infra.datamove", "copy", "--source", url, "--target", target_url,
                           "--into", "--conflicts", str(conflicts)], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 1, done.stderr
    listed = [json.loads(line) for line in conflicts.read_text().splitlines()]
    # Every row of the source, the migrations' own reference rows (categories, tags) included.
    with source.connect() as conn:
        rows = sum(conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one() for name in outcomes)
    assert f"{rows} rows set aside" in done.stderr and len({(c["table"], c["row"]) for c in listed}) == rows > 5
    assert any(c["table"] == "users" and c["key"] == {"id": str(ada)} and c["reason"] == "already in users (pk_users)"
               for c in listed)
    assert "SAWarning" not in done.stderr
    source.dispose()


LONG = "a_table_name_long_enough_that_a_prefix_cuts_it_"  # + "1": 49 bytes
HOSTILE_TARGET = f"""
    CREATE TABLE node (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, parent bigint REFERENCES node(id),
                       label text NOT NULL, n int CHECK (n % 2 = 0 AND label <> ' :x'), doubled int GENERATED ALWAYS AS (n * 2) STORED);
    CREATE TABLE tag (code text NOT NULL, extra int);
    CREATE UNIQUE INDEX uq_tag_code ON tag (code) INCLUDE (extra);
    CREATE TABLE "{LONG}_1" (id int PRIMARY KEY, v int NOT NULL);
    CREATE TABLE "{LONG}_2" (id int PRIMARY KEY, v int NOT NULL);
    CREATE TABLE log (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, what text NOT NULL)
"""
HOSTILE_SOURCE = f"""
    CREATE TABLE node (id INTEGER PRIMARY KEY, parent INTEGER, label TEXT, n INTEGER);
    CREATE TABLE tag (code TEXT, extra INTEGER);
    CREATE TABLE "{LONG}_1" (id INTEGER PRIMARY KEY, v INTEGER);
    CREATE TABLE "{LONG}_2" (id INTEGER PRIMARY KEY, v INTEGER);
    CREATE TABLE log (what TEXT)
"""


def test_a_hostile_schema_sets_rows_aside_and_never_stops(postgres_server, tmp_path, key_checks, request):
    """Edge cases of a prepared schema: an ALWAYS identity given by the source, an identity the
    source leaves out, a self-reference whose parent is set aside (its child follows, then the
    grandchild), a check with a colon and a modulo, a generated column computed by the target,
    a unique index with INCLUDE, a row that repeats one set aside (it goes in), and
    two tables whose names are cut to the same 63 bytes."""
    from infra.datamove.into import copy_into, from_sqlite
    from infra.datamove.load import Options

    engine = create_engine(postgres_server.ensure_database(f"datamove_hostile_{next(_databases)}"))
    with engine.begin() as conn:
        for statement in filter(str.strip, HOSTILE_TARGET.split(";")):
            conn.execute(text(statement.replace(":", "\\:")))
    source = _sqlite(tmp_path, HOSTILE_SOURCE, {
        "node": [(1, None, "root", 2), (2, 1, None, 4), (3, 2, "child of a row set aside", 6),
                 (4, 3, "grandchild", 8), (5, 1, "odd", 3), (6, 1, "fine", 10)],
        "tag": [("a", None), ("a", 1), ("b", 2)],
        f"{LONG}_1": [(1, 1)], f"{LONG}_2": [(1, None), (2, 2)],
        "log": [("first",), (None,), ("second",)],
    })
    conflicts = []
    outcomes = copy_into(engine, from_sqlite(source, engine, Options()), report=conflicts.append)
    reasons = {(c.table, c.row): c.reason for c in conflicts}
    assert reasons == {
        ("node", 2): "no value for label",
        ("node", 3): "no node row for parent (node_parent_fkey)",
        ("node", 4): "no node row for parent (node_parent_fkey)",
        ("node", 5): "breaks node_check",
        ("tag", 2): "repeats an earlier row's code (uq_tag_code)",
        (f"{LONG}_2", 1): "no value for v",
        ("log", 2): "no value for what",
    }
    assert {name: o.inserted for name, o in outcomes.items()} == {
        "node": 2, "tag": 2, f"{LONG}_1": 1, f"{LONG}_2": 1, "log": 2}
    with engine.begin() as conn:
        assert conn.execute(text("SELECT id, doubled FROM node ORDER BY id")).all() == [(1, 4), (6, 20)]
        assert conn.execute(text("SELECT what FROM log ORDER BY id")).scalars().all() == ["first", "second"]
        assert conn.execute(text("INSERT INTO node (label, n) VALUES ('next', 0) RETURNING id")).scalar_one() == 7
        assert conn.execute(text("SELECT count(*) FROM pg_class WHERE relname LIKE '_datamove%'")).scalar_one() == 0
    assert key_checks == ({"node"} if request.node.callspec.params["key_checks"] == "set-based" else set())
    engine.dispose()


def test_the_set_based_way_is_taken_only_where_it_changes_nothing_but_speed(postgres_server, tmp_path, monkeypatch):
    """A table with a trigger of its own keeps the per-row checks (the trigger runs), a role
    that may not set session_replication_role (the migrator, as in Cloud SQL) loads the same
    rows the per-row way, and a unique rule the load does not check (an expression's, a
    deferred one) keeps PostgreSQL's arbiter. Meanwhile the parents and the table take no
    other write."""
    from infra.datamove import into
    from infra.datamove.into import copy_into, from_sqlite
    from infra.datamove.load import Options
    from local.postgres import MIGRATOR

    monkeypatch.setattr(into, "SET_BASED_KEYS", 1)
    schema = [
        "CREATE TABLE parent (id int PRIMARY KEY)",
        "CREATE TABLE plain (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent(id))",
        "CREATE TABLE stamped (id int PRIMARY KEY, parent_id int REFERENCES parent(id), stamp text)",
        "CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN NEW.stamp = ''seen''; RETURN NEW; END'",
        "CREATE TRIGGER stamp BEFORE INSERT ON stamped FOR EACH ROW EXECUTE FUNCTION stamp()",
        "CREATE TABLE coded (id int PRIMARY KEY, code text)",
        "CREATE UNIQUE INDEX uq_coded_code ON coded (lower(code))",
        # A unique rule PostgreSQL checks at commit, and a key over a column the target computes.
        "CREATE TABLE later (id int PRIMARY KEY, parent_id int REFERENCES parent(id), "
        "code text CONSTRAINT uq_later_code UNIQUE DEFERRABLE INITIALLY DEFERRED)",
        "CREATE TABLE derived (id int PRIMARY KEY, n int, "
        "parent_id int GENERATED ALWAYS AS (n) STORED REFERENCES parent(id))",
    ]
    rows = {"parent": [(1,), (2,)], "plain": [(10, 1), (11, 3), (12, 2)], "stamped": [(20, 2, None), (21, 9, None)],
            "coded": [(30, "Loom"), (31, "loom")], "later": [(40, 1, "x"), (41, 2, "y")], "derived": [(50, 1)]}
    source = _sqlite(tmp_path, "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
                               "CREATE TABLE plain (id INTEGER PRIMARY KEY, parent_id INTEGER);"
                               "CREATE TABLE stamped (id INTEGER PRIMARY KEY, parent_id INTEGER, stamp TEXT);"
                               "CREATE TABLE coded (id INTEGER PRIMARY KEY, code TEXT);"
                               "CREATE TABLE later (id INTEGER PRIMARY KEY, parent_id INTEGER, code TEXT);"
                               "CREATE TABLE derived (id INTEGER PRIMARY KEY, n INTEGER);", rows)
    for role in ("postgres", MIGRATOR):
        engine = _schema_as(postgres_server, schema, role)
        taken = _record_ways(monkeypatch)
        conflicts = []
        outcomes = copy_into(engine, from_sqlite(source, engine, Options()), report=conflicts.append)
        assert {(c.table, c.row): c.reason for c in conflicts} == {
            ("plain", 2): "no parent row for parent_id (plain_parent_id_fkey)",
            ("stamped", 2): "no parent row for parent_id (stamped_parent_id_fkey)",
            ("coded", 2): "refused by a unique index of coded"}
        assert {name: o.inserted for name, o in outcomes.items()} == {"parent": 2, "plain": 2, "stamped": 1,
                                                                     "coded": 1, "later": 2, "derived": 1}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT id, stamp FROM stamped")).all() == [(20, "seen")]
            assert conn.execute(text("SELECT count(*) FROM plain p LEFT JOIN parent q ON q.id = p.parent_id "
                                     "WHERE q.id IS NULL")).scalar_one() == 0
        assert taken["keys"] == ({"plain"} if role == "postgres" else set())
        # Alone, without ON CONFLICT, only where the checks read every rule as PostgreSQL does:
        # not beside a trigger, an expression's unique index (its refusal is PostgreSQL's, found
        # after the insert) or a deferred unique rule; a key over a computed column stays per row.
        assert taken["alone"] == {"derived", "parent", "plain"}
        # The tables that break nothing went straight in; "plain", whose second row has no
        # parent, was loaded again through its stage, which named that row.
        assert taken["direct"] == {"derived", "parent"}
        monkeypatch.undo()  # the next role's load is recorded afresh
        monkeypatch.setattr(into, "SET_BASED_KEYS", 1)
        engine.dispose()


DIRECT_SCHEMA = ["CREATE TABLE parent (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name text NOT NULL)",
                 "CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent(id), "
                 "note text CHECK (note <> 'bad'))"]
DIRECT_SOURCE = "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT); " \
                "CREATE TABLE child (id INTEGER, parent_id INTEGER, note TEXT);"
PARENTS = [(1, "a"), (2, "b")]
# (the child's rows, the conflicts the stage names): each breaks one rule the direct way meets
# only as the rows arrive (a CHECK, a repeated key) or after (a missing parent).
BROKEN_CHILDREN = {
    "check": ([(12, 1, "ok"), (14, 2, "bad")], {("child", 2): "breaks child_note_check"}),
    "orphan": ([(12, 1, "ok"), (13, 9, "x")], {("child", 2): "no parent row for parent_id (child_parent_id_fkey)"}),
    "repeat": ([(12, 1, "ok"), (12, 2, "again")], {("child", 2): "repeats an earlier row's id (child_pkey)"}),
}


@pytest.mark.parametrize("role", ["postgres", "db-migrator"])
def test_a_large_load_that_breaks_nothing_goes_straight_in_and_one_that_does_is_staged(postgres_server, tmp_path,
                                                                                       monkeypatch, role):
    """A large table the load may take alone is COPYed straight into its empty target; when a
    row breaks a rule that attempt leaves nothing and the table loads through its stage, which
    names the row. The same for a role that may not skip the per-row triggers (the migrator).
    A table that holds rows already goes through its stage."""
    from infra.datamove import into
    from infra.datamove.into import copy_into, from_sqlite
    from infra.datamove.load import Options
    from local.postgres import MIGRATOR

    assert MIGRATOR == "db-migrator"
    monkeypatch.setattr(into, "SET_BASED_KEYS", 1)
    clean = _sqlite(tmp_path, DIRECT_SOURCE, {"parent": PARENTS, "child": [(10, 1, "x"), (11, 2, "y")]})
    engine = _schema_as(postgres_server, DIRECT_SCHEMA, role)
    taken = _record_ways(monkeypatch)
    conflicts = []
    outcomes = copy_into(engine, from_sqlite(clean, engine, Options()), report=conflicts.append)
    assert taken["direct"] == {"parent", "child"} and conflicts == []
    assert {name: (o.rows, o.inserted) for name, o in outcomes.items()} == {"parent": (2, 2), "child": (2, 2)}
    with engine.connect() as conn:  # the identity moved past the ids that came
        assert conn.execute(text("SELECT nextval(pg_get_serial_sequence('parent', 'id'))")).scalar_one() == 3
    taken = _record_ways(monkeypatch)
    again = copy_into(engine, from_sqlite(clean, engine, Options()), report=conflicts.append)
    assert taken["direct"] == set() and {o.inserted for o in again.values()} == {0} and len(conflicts) == 4
    engine.dispose()

    for children, named in BROKEN_CHILDREN.values():
        source = _sqlite(tmp_path, DIRECT_SOURCE, {"parent": PARENTS, "child": children})
        engine = _schema_as(postgres_server, DIRECT_SCHEMA, role)
        taken = _record_ways(monkeypatch)
        conflicts = []
        outcomes = copy_into(engine, from_sqlite(source, engine, Options()), report=conflicts.append)
        assert taken["direct"] == {"parent"}
        assert {(c.table, c.row): c.reason for c in conflicts} == named
        assert {name: o.inserted for name, o in outcomes.items()} == {"parent": 2, "child": 1}
        with engine.connect() as conn:  # the failed attempt left nothing behind
            assert conn.execute(text("SELECT id, note FROM child")).all() == [(12, "ok")]
            assert conn.execute(text("SELECT count(*) FROM pg_class WHERE relname LIKE '_datamove%'")).scalar_one() == 0
        with engine.begin() as conn:  # a failed attempt puts back what it set, in its transaction
            conn.execute(text("TRUNCATE child"))
            child = next(t for t in into.reflect_postgres(engine) if t.name == "child")
            assert into._direct(conn, child, from_sqlite(source, engine, Options())["child"],
                                ["id", "parent_id", "note"], []) is None
            assert conn.execute(text("SHOW session_replication_role")).scalar_one() == "origin"
            assert conn.execute(text("SELECT count(*) FROM child")).scalar_one() == 0
        engine.dispose()

    # The parent's attempt fails (a name missing): its child, tried beside it, cannot find row 7
    # then, or finds it once the parent's stage is in; either way all of the child goes in.
    late_parent = _sqlite(tmp_path, DIRECT_SOURCE, {"parent": [(7, "g"), (8, None)],
                                                    "child": [(20, 7, "k"), (21, 7, "l")]})
    engine = _schema_as(postgres_server, DIRECT_SCHEMA, role)
    conflicts = []
    outcomes = copy_into(engine, from_sqlite(late_parent, engine, Options()), report=conflicts.append)
    assert {(c.table, c.row): c.reason for c in conflicts} == {("parent", 2): "no value for name"}
    assert {name: o.inserted for name, o in outcomes.items()} == {"parent": 1, "child": 2}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM child WHERE parent_id = 7 ORDER BY id")).scalars().all() == [20, 21]
    engine.dispose()


def test_a_child_beside_a_parent_the_role_may_not_lock_goes_in_with_its_triggers(postgres_server, tmp_path,
                                                                              monkeypatch):
    """A role that may skip the per-row triggers but not lock a parent against writes (INSERT
    and SELECT on it only) does not try the child straight in beside the parent with set-based
    keys: that COPY would be thrown away once the lock was refused. The parent, which it may
    not lock alone, goes through its stage; the child then goes straight in, checked by the
    triggers, and nothing is set aside."""
    from infra.datamove import into
    from infra.datamove.into import copy_into, from_sqlite
    from infra.datamove.load import Options

    monkeypatch.setattr(into, "SET_BASED_KEYS", 1)
    database = f"datamove_schema_{next(_databases)}"
    with create_engine(postgres_server.ensure_database(database)).begin() as conn:  # as the superuser
        for statement in DIRECT_SCHEMA:
            conn.execute(text(statement))
        conn.execute(text("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'datamove_loader') "
                          "THEN CREATE ROLE datamove_loader LOGIN; END IF; END $$"))
        conn.execute(text("GRANT SET ON PARAMETER session_replication_role TO datamove_loader"))
        conn.execute(text("GRANT CREATE ON SCHEMA public TO datamove_loader"))
        conn.execute(text("GRANT SELECT, INSERT ON parent TO datamove_loader"))
        conn.execute(text("GRANT USAGE, UPDATE ON SEQUENCE parent_id_seq TO datamove_loader"))
        conn.execute(text("GRANT ALL ON child TO datamove_loader"))
    engine = create_engine(postgres_server.url(database, "datamove_loader"))
    with engine.begin() as conn:  # what makes the child a candidate beside its parent at all
        assert into._may_skip_triggers(conn) and not into._may_lock(conn, ["parent"])
    source = _sqlite(tmp_path, DIRECT_SOURCE, {"parent": PARENTS, "child": [(10, 1, "x"), (11, 2, "y")]})
    taken = _record_ways(monkeypatch)
    conflicts = []
    outcomes = copy_into(engine, from_sqlite(source, engine, Options()), report=conflicts.append)
    assert conflicts == [] and {name: o.inserted for name, o in outcomes.items()} == {"parent": 2, "child": 2}
    assert taken == {"keys": set(), "alone": {"child"}, "direct": {"child"}}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, parent_id FROM child ORDER BY id")).all() == [(10, 1), (11, 2)]
    engine.dispose()


def test_copying_again_fills_a_cycle_left_empty_by_an_interrupted_load(platform, tmp_path):
    """A first load that stopped before the second pass (simulated: Ada's avatar emptied); the
    second copy sets every row aside as there already, and fills the empty key of the cycle."""
    mapping_file = tmp_path / "mapping.yaml"
    mapping_file.write_text(MAPPING)
    source = _sqlite(tmp_path, LEGACY, ROWS)
    _copy(source, platform, mapping_file)
    with platform.begin() as conn:
        conn.execute(text("UPDATE users SET avatar_media_id = NULL WHERE firebase_uid = 'uid-ada'"))
    again, _ = _copy(source, platform, mapping_file)
    assert again["users"].inserted == 0
    with platform.connect() as conn:
        assert conn.execute(text("SELECT avatar_media_id FROM users WHERE firebase_uid = 'uid-ada'")).scalar_one() == \
            legacy_uuid("pictures", 30)


def test_a_dry_run_reports_the_same_and_writes_nothing(platform, tmp_path):
    mapping_file = tmp_path / "mapping.yaml"
    mapping_file.write_text(MAPPING)
    source = _sqlite(tmp_path, LEGACY, ROWS)
    sequence = "SELECT pg_sequence_last_value(pg_get_serial_sequence('audit_log', 'id'))"
    with platform.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM users")).scalar_one(), conn.execute(text(sequence)).scalar()
    dry, dry_conflicts = _copy(source, platform, mapping_file, dry_run=True)
    with platform.connect() as conn:
        # Zed alone, as before; the audit log's sequence where it was (setval is not rolled back).
        assert (conn.execute(text("SELECT count(*) FROM users")).scalar_one(),
                conn.execute(text(sequence)).scalar()) == before and before[0] == 1
        assert conn.execute(text("SELECT count(*) FROM pg_class WHERE relname LIKE '_datamove%'")).scalar_one() == 0
    real, real_conflicts = _copy(source, platform, mapping_file)
    assert dry == real and _reasons(dry_conflicts) == _reasons(real_conflicts)


def test_solana_wallets_arrive_whole(platform, tmp_path):
    """Fonana's accounts hold Solana wallets: 44 characters kept, never cut to an EVM column's
    42; something else in that column is set aside by the schema's own check."""
    import os

    from shared.people import base58

    address = next(a for a in (base58.encode(os.urandom(32)) for _ in range(1000)) if len(a) == 44)
    source = _sqlite(tmp_path, "CREATE TABLE fans (id INTEGER PRIMARY KEY, wallet TEXT)",
                     {"fans": [(1, address), (2, "0x" + "ab" * 20)]})
    mapping_file = tmp_path / "fans.yaml"
    mapping_file.write_text("tables:\n  users:\n    from: fans\n    columns: {id: {uuid_from: id}, "
                            "role: {value: collector}, solana_address: wallet}\n")
    outcomes, conflicts = _copy(source, platform, mapping_file)
    assert (outcomes["users"].inserted, [(c.row, c.reason) for c in conflicts]) == (
        1, [(2, "breaks ck_users_solana_address")])
    with platform.connect() as conn:
        assert conn.execute(text("SELECT solana_address FROM users WHERE id = :id"),
                            {"id": legacy_uuid("fans", 1)}).scalar_one() == address


@pytest.mark.parametrize("failing", ["reading the source", "taking a table in"])
def test_a_table_that_stops_keeps_those_before_it_and_leaves_no_stage(postgres_server, tmp_path, failing):
    """Reading the next table's source and taking the last one in overlap: a value that does
    not fit its column (found while staging), or a rule only PostgreSQL applies (a CHECK over a
    generated column, found by the insert), stops the load there; the tables before it stay,
    nothing after it is loaded, and no stage is left behind."""
    from infra.datamove.into import copy_into, from_sqlite
    from infra.datamove.load import Options

    engine = create_engine(postgres_server.ensure_database(f"datamove_stops_{next(_databases)}"))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE a (id int PRIMARY KEY)"))
        conn.execute(text("CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a(id), n int, "
                          "doubled int GENERATED ALWAYS AS (n * 2) STORED CHECK (doubled < 100))"))
        conn.execute(text("CREATE TABLE c (id int PRIMARY KEY, b_id int REFERENCES b(id))"))
    bad = "many" if failing == "reading the source" else 70
    source = _sqlite(tmp_path, "CREATE TABLE a (id INTEGER PRIMARY KEY);"
                               "CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER, n INTEGER);"
                               "CREATE TABLE c (id INTEGER PRIMARY KEY, b_id INTEGER);",
                     {"a": [(1,), (2,)], "b": [(10, 1, 3), (11, 2, bad)], "c": [(20, 10)]})
    with pytest.raises(Exception) as stopped:
        copy_into(engine, from_sqlite(source, engine, Options()))
    assert ("do not fit" if failing == "reading the source" else "b_doubled_check") in str(stopped.value)
    with engine.connect() as conn:
        assert [conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in "abc"] == [2, 0, 0]
        assert conn.execute(text("SELECT count(*) FROM pg_class WHERE relname LIKE '_datamove%'")).scalar_one() == 0
    engine.dispose()
