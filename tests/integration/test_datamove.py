"""infra.datamove against the real embedded PostgreSQL: exact round trips of generated
schemas and rows, keys and constraints, dates, refusals, resume after a kill, verify."""
from __future__ import annotations

import itertools
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, inspect, text

from infra.datamove.load import Options, Refused, copy_sqlite
from infra.datamove.verify import verify
from infra.manifest import REPO

_databases = itertools.count()


@pytest.fixture
def target(postgres_server):
    url = postgres_server.ensure_database(f"datamove_{next(_databases)}")
    engine = create_engine(url)
    yield engine
    engine.dispose()


def _reset(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


def _sqlite(tmp_path, script: str, rows: dict[str, list[tuple]] | None = None) -> sqlite3.Connection:
    path = tmp_path / f"source{next(_databases)}.db"
    conn = sqlite3.connect(path)
    conn.executescript(script)
    for table, values in (rows or {}).items():
        if values:
            marks = ", ".join("?" * len(values[0]))
            conn.executemany(f'INSERT INTO "{table}" VALUES ({marks})', values)
    conn.commit()
    return conn


# -- generated schemas and rows -------------------------------------------------------------

COLUMN_TYPES = {
    "INTEGER": st.integers(-2**63, 2**63 - 1),
    "REAL": st.floats(allow_nan=False) | st.sampled_from([math.inf, -math.inf, 5e-324, 1.7976931348623157e308, -0.0]),
    "TEXT": st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40),
    "BLOB": st.binary(max_size=40),
    "BOOLEAN": st.sampled_from([0, 1]),
    "NUMERIC(30,6)": st.decimals(min_value=-10**20, max_value=10**20, places=6, allow_nan=False).map(str),
    "DATETIME": st.integers(0, 4_102_444_800_000),  # epoch milliseconds up to 2100
}


@st.composite
def databases(draw):
    types = draw(st.lists(st.sampled_from(sorted(COLUMN_TYPES)), min_size=1, max_size=6))
    columns = [f"c{i}_{t.split('(')[0].lower()}" for i, t in enumerate(types)]
    count = draw(st.integers(0, 25))
    rows = []
    for key in range(1, count + 1):
        values = [draw(st.none() | COLUMN_TYPES[t]) for t in types]
        rows.append((key, *values))
    # A child table: a foreign key to the generated table and one to itself.
    children = []
    for key in range(1, draw(st.integers(0, 10)) + 1):
        parent = draw(st.none() | st.sampled_from(range(1, count + 1))) if count else None
        previous = draw(st.none() | st.sampled_from(range(1, key))) if key > 1 else None
        children.append((key, parent, previous))
    return types, columns, rows, children


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(databases())
def test_generated_tables_round_trip_exactly(target, tmp_path, monkeypatch, generated):
    from infra.datamove import load

    # Batches of four rows: a table's texts to escape fall in some batches and not others.
    monkeypatch.setattr(load, "CHUNK_ROWS", 4)
    engine = target
    _reset(engine)
    types, columns, rows, children = generated
    definitions = ", ".join(f'"{name}" {kind}' for name, kind in zip(columns, types, strict=True))
    source = _sqlite(tmp_path, f'CREATE TABLE "Mixed Case" (id INTEGER PRIMARY KEY, {definitions});'
                               'CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES "Mixed Case"(id), '
                               'previous INTEGER REFERENCES child(id));',
                     {"Mixed Case": rows, "child": children})
    datetimes = {f"Mixed Case.{c}": "epoch_ms" for c, t in zip(columns, types, strict=True) if t == "DATETIME"}
    options = Options(dates=datetimes)
    copy_sqlite(source, engine, options)
    assert all(check.equal for check in verify(source, engine, options))
    with engine.connect() as conn:
        copied = {row[0]: row[1:] for row in conn.execute(text(
            f'SELECT id, {", ".join(chr(34) + c + chr(34) for c in columns)} FROM "Mixed Case"'))}
    # What SQLite holds is the truth (it keeps -0.0 as 0.0, for one).
    held = source.execute(f'SELECT id, {", ".join(chr(34) + c + chr(34) for c in columns)} FROM "Mixed Case"')
    assert len(copied) == len(rows)
    assert len(inspect(engine).get_foreign_keys("child")) == 2  # added after the data, and it holds
    for key, *values in held:
        for kind, expected, got in zip(types, values, copied[key], strict=True):
            if expected is None:
                assert got is None
            elif kind == "REAL":
                assert math.copysign(1, got) == math.copysign(1, expected) and (got == expected)  # bit-exact
            elif kind == "DATETIME":
                assert got == datetime.fromtimestamp(expected / 1000, UTC)
            elif kind == "BOOLEAN":
                assert got is bool(expected)
            elif kind == "NUMERIC(30,6)":  # SQLite may hold it as an integer, a double or text
                assert got == Decimal(repr(expected) if isinstance(expected, float) else str(expected))
            else:
                assert got == expected


def test_keys_indexes_and_self_referencing_foreign_keys(target, tmp_path):
    engine = target
    source = _sqlite(tmp_path, """
        PRAGMA foreign_keys = ON;
        CREATE TABLE "Artists" ("ArtistId" INTEGER PRIMARY KEY, "Name" TEXT NOT NULL UNIQUE,
                                "MentorId" INTEGER REFERENCES "Artists"("ArtistId") ON DELETE SET NULL,
                                created TEXT DEFAULT CURRENT_TIMESTAMP, score REAL DEFAULT 1.5);
        CREATE TABLE works (id INTEGER PRIMARY KEY, artist INTEGER NOT NULL REFERENCES "Artists" ON DELETE CASCADE,
                            title TEXT);
        CREATE INDEX ix_works_title ON works (title);
        CREATE TABLE empty_table (code TEXT PRIMARY KEY, note TEXT);
    """, {"Artists": [(1, "Ada", None, "2026-01-01", 2.0), (2, "Bo", 1, "2026-01-02", 0.5)],
          "works": [(10, 1, "Loom"), (11, 2, "Glass")]})
    counts = copy_sqlite(source, engine, Options())
    assert counts == {"Artists": 2, "works": 2, "empty_table": 0}
    schema = inspect(engine)
    assert schema.get_pk_constraint("Artists")["constrained_columns"] == ["ArtistId"]
    assert {(fk["referred_table"], tuple(fk["referred_columns"])) for fk in schema.get_foreign_keys("Artists")} == \
        {("Artists", ("ArtistId",))}
    assert {i["name"] for i in schema.get_indexes("works")} >= {"ix_works_title"}
    assert any(u["column_names"] == ["Name"] for u in schema.get_indexes("Artists") if u["unique"])
    with engine.begin() as conn:
        # Identities continue past the largest id; defaults carried over.
        new_id = conn.execute(text('INSERT INTO "Artists" ("Name") VALUES (\'Cy\') RETURNING "ArtistId"')).scalar()
        assert new_id == 3
        assert conn.execute(text('SELECT score FROM "Artists" WHERE "ArtistId" = 3')).scalar() == 1.5
        conn.execute(text('DELETE FROM "Artists" WHERE "ArtistId" = 1'))  # cascades and sets null as declared
        assert conn.execute(text("SELECT count(*) FROM works")).scalar() == 1
        assert conn.execute(text('SELECT "MentorId" FROM "Artists" WHERE "ArtistId" = 2')).scalar() is None


def test_values_that_do_not_fit_are_reported_not_coerced(target, tmp_path):
    engine = target
    source = _sqlite(tmp_path, "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, s TEXT);",
                     {"t": [(1, 5, "ok"), (2, "five", "ok"), (3, 7, "nul\x00byte")]})
    with pytest.raises(ValueError, match=r"t rowid 2 column n: not a 64-bit integer \('five'\)") as stopped:
        copy_sqlite(source, engine, Options())
    assert "rowid 3 column s: text with a NUL byte" in str(stopped.value)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0  # the table's transaction rolled back


def test_dates_by_rule(target, tmp_path):
    engine = target
    source = _sqlite(tmp_path, "CREATE TABLE e (id INTEGER PRIMARY KEY, iso DATETIME, s TIMESTAMP, ms DATETIME);",
                     {"e": [(1, "2026-11-22 10:30:00", 1_790_000_000, 1_790_000_000_123),
                            (2, "2026-11-22T10:30:00+02:00", None, None)]})
    copy_sqlite(source, engine, Options(dates={"e.s": "epoch_s"}))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT iso, s, ms FROM e ORDER BY id")).all()
    assert rows[0][0] == datetime(2026, 11, 22, 10, 30, tzinfo=UTC)  # no zone: UTC
    assert rows[1][0] == datetime(2026, 11, 22, 8, 30, tzinfo=UTC)
    assert rows[0][1] == datetime.fromtimestamp(1_790_000_000, UTC)
    assert rows[0][2] == datetime.fromtimestamp(1_790_000_000.123, UTC)  # auto: large numbers are milliseconds


def test_a_non_empty_target_is_refused(target, tmp_path):
    engine = target
    source = _sqlite(tmp_path, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);", {"t": [(1, "a")]})
    copy_sqlite(source, engine, Options())
    with pytest.raises(Refused, match="not empty"):
        copy_sqlite(source, engine, Options())
    copy_sqlite(source, engine, Options(truncate=True))
    assert all(check.equal for check in verify(source, engine, Options()))


def test_a_key_that_failed_its_check_does_not_stop_the_next_copy(target, tmp_path):
    """A child without its parent fails the foreign key's validation; the next copy, the source
    mended, replaces the rows (--truncate, or --resume) and ends with every key valid."""
    script = ("CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);"
              "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id));")
    source = _sqlite(tmp_path, script, {"parent": [(1, "a")], "child": [(1, 1), (2, 9)]})
    with pytest.raises(Exception, match="23503"):
        copy_sqlite(source, target, Options())
    source.execute("DELETE FROM child WHERE id = 2")
    source.commit()
    for options in (Options(truncate=True), Options(resume=True)):
        copy_sqlite(source, target, options)
        assert all(check.equal for check in verify(source, target, Options()))
        with target.connect() as conn:
            assert conn.execute(text("SELECT conname, convalidated FROM pg_constraint WHERE contype = 'f'")).all() == [
                ("fk_child_0", True)]


def test_verify_finds_one_changed_cell(target, tmp_path):
    engine = target
    source = _sqlite(tmp_path, "CREATE TABLE t (id INTEGER PRIMARY KEY, v REAL, s TEXT);",
                     {"t": [(i, i / 3, f"row {i}") for i in range(1, 500)]})
    copy_sqlite(source, engine, Options())
    assert all(check.equal for check in verify(source, engine, Options()))
    with engine.begin() as conn:  # one bit of one double
        conn.execute(text("UPDATE t SET v = :v WHERE id = 250"), {"v": math.nextafter(250 / 3, math.inf)})
    [check] = verify(source, engine, Options())
    assert not check.equal and check.source_rows == check.target_rows == 499


def _cli(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "infra.datamove", *args], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def _running(pid: str) -> bool:
    """Alive and not a zombie (an orphan's exit status waits for a reaper that may not come)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_killed_copy_resumes_to_the_same_end(target, tmp_path):
    engine = target
    url = engine.url.render_as_string(hide_password=False)
    rng = random.Random(5)
    script = "".join(f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, v TEXT, n REAL);" for i in range(4))
    rows = 200_000  # a table takes a good fraction of a second: the kill lands inside the copy
    source = _sqlite(tmp_path, script, {f"t{i}": [(k, f"value {k}", k * 0.5) for k in range(1, rows + 1)]
                                        for i in range(4)})
    path = source.execute("PRAGMA database_list").fetchone()[2]
    child = _cli("copy", "--source", path, "--target", url)
    while "done" not in child.stderr.readline():  # one table is done...
        pass
    time.sleep(rng.uniform(0.0, 0.05))  # ...and the next ones somewhere under way
    workers = subprocess.run(["pgrep", "-P", str(child.pid)], capture_output=True, text=True).stdout.split()
    assert workers  # the tables load in worker processes
    child.send_signal(signal.SIGKILL)
    child.wait()
    time.sleep(0.5)  # the workers go with it: none may finish a table after the kill
    assert [pid for pid in workers if _running(pid)] == []
    with engine.connect() as conn:
        done = conn.execute(text("SELECT count(*) FROM _datamove_progress WHERE finished_at IS NOT NULL")).scalar()
    assert 1 <= done < 4
    refused = _cli("copy", "--source", path, "--target", url)
    assert refused.wait(60) == 2 and "--resume" in refused.stderr.read()
    resumed = _cli("copy", "--source", path, "--target", url, "--resume")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    checked = _cli("verify", "--source", path, "--target", url, "--json", str(tmp_path / "report.json"))
    out, err = checked.communicate(timeout=300)
    assert checked.returncode == 0, out + err
    import json

    report = json.loads((tmp_path / "report.json").read_text())
    assert report["equal"] and [t["target_rows"] for t in report["tables"]] == [rows] * 4


def test_plan_writes_nothing_and_warns(target, tmp_path):
    engine = target
    source = _sqlite(tmp_path, "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, d DATETIME);",
                     {"t": [(1, 5, "2026-01-01"), (2, "x", "yesterday")]})
    path = source.execute("PRAGMA database_list").fetchone()[2]
    child = _cli("plan", "--source", path)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert "n: INTEGER -> bigint" in out and "d: DATETIME -> timestamptz, dates auto" in out
    assert "! n: 1 sampled values not a 64-bit integer, e.g. rowid 2: 'x'" in out
    assert "! d: 1 sampled values not an ISO 8601 date" in out
    assert inspect(engine).get_table_names() == []


@pytest.mark.parametrize("args", [["copy"], ["copy", "--source", "/nonexistent.db"],
                                  ["plan", "--source", "x", "--dates", "nodot=iso"]])
def test_bad_invocations_name_the_problem(args):
    child = _cli(*args)
    _, err = child.communicate(timeout=60)
    assert child.returncode != 0 and err.strip()


# -- PostgreSQL -> PostgreSQL -----------------------------------------------------------------

PG_SOURCE = """
    CREATE TABLE "Owners" (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "Name" varchar(80) NOT NULL UNIQUE,
                           mentor bigint REFERENCES "Owners"(id) ON DELETE SET NULL);
    CREATE TABLE pieces (id uuid PRIMARY KEY, owner bigint NOT NULL REFERENCES "Owners"(id) ON DELETE CASCADE,
                         price numeric(78,0) NOT NULL, tags varchar(32)[] NOT NULL DEFAULT '{}', meta jsonb,
                         made timestamptz, ratio double precision, raw bytea, title text,
                         title_length int GENERATED ALWAYS AS (length(title)) STORED);
    CREATE INDEX ix_pieces_made ON pieces (made);
    INSERT INTO "Owners" ("Name") SELECT 'owner ' || n FROM generate_series(1, 500) n;
    UPDATE "Owners" SET mentor = id - 1 WHERE id > 1;
    INSERT INTO pieces (id, owner, price, tags, meta, made, ratio, raw, title)
    SELECT gen_random_uuid(), 1 + mod(n, 500), (10::numeric ^ 60) + n, ARRAY['t' || mod(n, 7)],
           jsonb_build_object('n', n, 'odd', mod(n, 2) = 1), now() - make_interval(secs => n), n / 7.0,
           decode(md5(n::text), 'hex'), 'piece ' || n
    FROM generate_series(1, 20000) n;
"""


@pytest.fixture
def pg_source(postgres_server):
    url = postgres_server.ensure_database(f"datamove_src_{next(_databases)}")
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in filter(str.strip, PG_SOURCE.split(";")):
            conn.execute(text(statement))
    yield engine
    engine.dispose()


def test_postgres_to_postgres_keeps_types_keys_and_content(pg_source, target):
    from infra.datamove.load import copy_postgres
    from infra.datamove.verify import verify_postgres

    counts = copy_postgres(pg_source, target, Options(parallel=2))
    assert counts == {"Owners": 500, "pieces": 20_000}
    checks = verify_postgres(pg_source, target)
    assert all(check.equal for check in checks) and [c.target_rows for c in checks] == [500, 20_000]
    source_types = {c["name"]: str(c["type"]) for c in inspect(pg_source).get_columns("pieces")}
    assert {c["name"]: str(c["type"]) for c in inspect(target).get_columns("pieces")} == source_types
    with target.begin() as conn:
        assert conn.execute(text('INSERT INTO "Owners" ("Name") VALUES (\'new\') RETURNING id')).scalar() == 501
        assert conn.execute(text("SELECT title_length FROM pieces WHERE title = 'piece 12345'")).scalar() == 11
        with pytest.raises(Exception, match="unique"), conn.begin_nested():
            conn.execute(text('INSERT INTO "Owners" ("Name") VALUES (\'owner 1\')'))
    with target.begin() as conn:  # one cell of 20,000 rows
        conn.execute(text("UPDATE pieces SET meta = meta || '{\"n\": 0}' WHERE title = 'piece 7'"))
    assert not all(check.equal for check in verify_postgres(pg_source, target))


def test_the_backup_is_encrypted_and_one_command_restores_it(pg_source, target, tmp_path):
    """copy --backup dumps the target first, encrypted with the key; restore brings it back,
    and refuses a wrong key or a file altered or cut short, applying nothing."""
    source_url = pg_source.url.render_as_string(hide_password=False)
    target_url = target.url.render_as_string(hide_password=False)
    with target.begin() as conn:
        conn.execute(text("CREATE TABLE keep_me (v text)"))
        conn.execute(text("INSERT INTO keep_me VALUES ('a secret row')"))

    def run(*args: str) -> tuple[int, str, str]:
        child = _cli(*args)
        out, err = child.communicate(timeout=300)
        return child.returncode, out, err

    key, dump = tmp_path / "backup.key", tmp_path / "before.dump"
    assert run("copy", "--source", source_url, "--target", target_url, "--backup", str(dump))[0] != 0  # no key
    assert run("keygen", "--out", str(key))[0] == 0 and oct(key.stat().st_mode & 0o777) == "0o600"
    assert run("keygen", "--out", str(key))[0] != 0  # never replaced
    code, _, err = run("copy", "--source", source_url, "--target", target_url, "--backup", str(dump),
                       "--backup-key", f"file:{key}")
    assert code == 0, err
    assert "copying: 2/2 tables" in err and "pieces" in err  # the one live view, and each table's line
    sealed = dump.read_bytes()
    assert sealed.startswith(b"KKBACKUP1") and b"PGDMP" not in sealed and b"a secret row" not in sealed
    code, out, err = run("verify", "--source", source_url, "--target", target_url)
    assert code == 0, out + err

    with target.begin() as conn:
        conn.execute(text("UPDATE keep_me SET v = 'changed'"))
    other = tmp_path / "other.key"
    run("keygen", "--out", str(other))
    code, _, err = run("restore", "--backup", str(dump), "--backup-key", f"file:{other}", "--target", target_url)
    assert code == 1 and "does not decrypt with this key" in err
    middle = len(sealed) // 2
    for damaged in (sealed[:-10], sealed[:middle] + bytes([sealed[middle] ^ 1]) + sealed[middle + 1:]):
        (tmp_path / "damaged.dump").write_bytes(damaged)
        code, _, err = run("restore", "--backup", str(tmp_path / "damaged.dump"), "--backup-key", f"file:{key}",
                           "--target", target_url)
        assert code == 1 and "altered or cut short" in err
    with target.connect() as conn:
        assert conn.execute(text("SELECT v FROM keep_me")).scalar_one() == "changed"  # nothing applied
    code, _, err = run("restore", "--backup", str(dump), "--backup-key", f"file:{key}", "--target", target_url)
    assert code == 0, err
    with target.connect() as conn:
        assert conn.execute(text("SELECT v FROM keep_me")).scalar_one() == "a secret row"
        # What the dump held is as it was; a table made after the dump is not the backup's to drop.
        assert inspect(target).has_table("pieces")


# -- mapping mode ---------------------------------------------------------------------------------

PROTOTYPE = """
    CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT, full_name TEXT, kind TEXT, uid TEXT, signup_ms INTEGER);
    CREATE TABLE projects (id INTEGER PRIMARY KEY, owner INTEGER REFERENCES accounts(id), name TEXT, blurb TEXT,
                           goal_cents INTEGER, state TEXT, ends TEXT);
    CREATE TABLE products (id INTEGER PRIMARY KEY, maker INTEGER, name TEXT, price_cents INTEGER, stock INTEGER,
                           tag TEXT);
"""


def test_a_prototype_maps_onto_the_platform_schema(postgres_server, tmp_path):
    from infra.datamove.mapping import copy_mapped, legacy_uuid, load_mapping
    from local import postgres

    url = postgres_server.ensure_database(f"datamove_mapped_{next(_databases)}")
    postgres.migrate(url)
    engine = create_engine(url)
    source = _sqlite(tmp_path, PROTOTYPE, {
        "accounts": [(1, "ada@example.test", "Ada", "creator", "uid-ada", 1_767_225_600_000),
                     (2, "bo@example.test", "Bo", "backer", "uid-bo", 1_767_225_700_000),
                     (3, "cy@example.test", "Cy", "someone", "uid-cy", None)],
        "projects": [(10, 1, "Woven Cities", None, 250000, "live", "2027-01-01"),
                     (11, 1, "Old", "gone", 1000, "deleted", "2026-01-01")],
        "products": [(20, 1, "Indigo Loom Study", 45000, 3, None)],
    })
    mapping = load_mapping(REPO / "docs" / "examples" / "prototype-mapping.yaml")
    copied = copy_mapped(source, engine, mapping)
    assert {name: (o.rows, o.inserted, o.set_aside) for name, o in copied.items()} == {
        "users": (3, 3, 0), "proposals": (1, 1, 0), "items": (1, 1, 0)}
    with engine.connect() as conn:
        users = {r.email: r for r in conn.execute(text("SELECT id, email, role, created_at, links FROM users"))}
        assert users["ada@example.test"].role == "artist" and users["cy@example.test"].role == "collector"
        assert users["ada@example.test"].id == legacy_uuid("accounts", 1)
        assert users["ada@example.test"].created_at == datetime(2026, 1, 1, tzinfo=UTC) and users["ada@example.test"].links == []
        proposal = conn.execute(text("SELECT owner_id, status, goal, currency, description, deadline FROM proposals")).one()
        assert proposal.owner_id == legacy_uuid("accounts", 1) and proposal.status == "open"
        assert (int(proposal.goal), proposal.currency, proposal.description) == (250000, "EUR", "")
        assert proposal.deadline == datetime(2027, 1, 1, tzinfo=UTC)
        item = conn.execute(text("SELECT owner_id, inventory, status, price, search IS NOT NULL FROM items")).one()
        assert item.owner_id == legacy_uuid("accounts", 1) and item.inventory == 3 and item.status == "draft"
    # Into a schema that holds them already: each row reported, none doubled (tests/integration/
    # test_datamove_into.py has the rest); --truncate empties the tables first.
    again = copy_mapped(source, engine, mapping)
    assert [(o.inserted, o.set_aside) for o in again.values()] == [(0, 3), (0, 1), (0, 1)]
    assert copy_mapped(source, engine, mapping, truncate=True)["users"].inserted == 3
    engine.dispose()


@pytest.mark.parametrize(("yaml_text", "problem"), [
    ("tables: {users: {from: accounts, columns: {email: {from: email, value: x}}}}", "exactly one of"),
    ("tables: {users: {columns: {email: email}}}", "tables.users.from"),
    ("tables: {users: {from: a, columns: {created_at: {from: t, dates: weekly}}}}", "dates must be one of"),
    ("tables: [", "--mapping"),
])
def test_a_bad_mapping_file_names_the_problem(tmp_path, yaml_text, problem):
    from infra.datamove.mapping import load_mapping

    path = tmp_path / "mapping.yaml"
    path.write_text(yaml_text)
    with pytest.raises(SystemExit, match=problem):
        load_mapping(path)


def test_every_double_arrives_bit_for_bit(target, tmp_path):
    """Random bit patterns (subnormals, extremes, infinities): SQLite's own float text is
    not exact, so the copy must not use it."""
    import struct

    rng = random.Random(1)
    values = [v for v in (struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0] for _ in range(50_000))
              if not math.isnan(v)] + [5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, math.inf]
    source = _sqlite(tmp_path, "CREATE TABLE f (id INTEGER PRIMARY KEY, v REAL, n INTEGER, s TEXT)",
                     {"f": [(i, v, i, "x\ty\\z") for i, v in enumerate(values, 1)]})
    copy_sqlite(source, target, Options())
    with target.connect() as conn:
        copied = dict(conn.execute(text("SELECT id, v FROM f")).all())
    held = dict(source.execute("SELECT id, v FROM f"))  # SQLite keeps -0.0 as 0.0
    assert all(struct.pack("<d", held[i]) == struct.pack("<d", copied[i]) for i in held)
    assert all(check.equal for check in verify(source, target, Options()))


def test_text_copy_must_escape_arrives_as_it_was_whichever_batch_holds_it(target, tmp_path, monkeypatch):
    """Each batch of rows looks for what COPY must escape in its own text columns: a tab or a
    line break only in a later batch, a value that reads like COPY's NULL marker, NULL beside
    each; a column that needs none beside one that does, in batches where one, the other or
    both do."""
    from infra.datamove import load
    from infra.datamove.schema import reflect_sqlite

    monkeypatch.setattr(load, "CHUNK_ROWS", 2)
    # Two rows a batch: each character to escape alone in its batch.
    values = ["plain", None, "also plain", "\\N", "tab\there", None, "new\nline", "N", "carriage\rreturn", "", None,
              "back\\slash"]
    # c: clean but in the first batch (a backslash, s clean) and the third (a tab beside s's).
    others = {2: "c\\c", 5: "c\tc"}
    rows = [(i, value, others.get(i, f"clean {i}" if i % 3 else None), i) for i, value in enumerate(values, 1)]
    source = _sqlite(tmp_path, "CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, c TEXT, n INTEGER)", {"t": rows})
    assert load._sqlite_row_text(source, reflect_sqlite(source)[0]) is not None  # the SQLite way, not Python's
    copy_sqlite(source, target, Options())
    with target.connect() as conn:
        assert sorted(conn.execute(text("SELECT id, s, c, n FROM t")).all()) == rows
    assert all(check.equal for check in verify(source, target, Options()))


def test_a_foreign_key_cycle_loads_because_constraints_come_last(target, tmp_path):
    source = _sqlite(tmp_path, """
        CREATE TABLE artist (id INTEGER PRIMARY KEY, best_work INTEGER REFERENCES work(id));
        CREATE TABLE work (id INTEGER PRIMARY KEY, artist INTEGER NOT NULL REFERENCES artist(id));
    """, {"artist": [(1, 10), (2, None)], "work": [(10, 1), (11, 2)]})
    copy_sqlite(source, target, Options(parallel=2))
    assert {fk["referred_table"] for t in ("artist", "work") for fk in inspect(target).get_foreign_keys(t)} == \
        {"artist", "work"}
    assert all(check.equal for check in verify(source, target, Options()))


# -- exact types ----------------------------------------------------------------------------------

def _types(engine, table: str) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(text(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = CAST(:t AS regclass) AND attnum > 0 AND NOT attisdropped"), {"t": table}).all())


SIZED = """CREATE TABLE p (id INTEGER PRIMARY KEY, name VARCHAR(70), code CHAR(3), price DECIMAL(10,2),
                           qty NUMERIC(4), note TEXT(5), loose DECIMAL)"""


def test_declared_sizes_are_kept_and_every_value_checked_against_them(target, tmp_path):
    source = _sqlite(tmp_path, SIZED, {"p": [(1, "Loom", "ABC", 12.5, 12, "longer than five", "3.14159"),
                                             (2, "x" * 70, "XYZ", "99999999.99", 9999, None, 1)]})
    copy_sqlite(source, target, Options())
    assert _types(target, "p") == {"id": "bigint", "name": "character varying(70)", "code": "character varying(3)",
                                   "price": "numeric(10,2)", "qty": "numeric(4,0)", "note": "text", "loose": "numeric"}
    assert all(check.equal for check in verify(source, target, Options()))
    with target.connect() as conn:
        assert conn.execute(text("SELECT price FROM p WHERE id = 2")).scalar_one() == Decimal("99999999.99")

    _reset(target)
    misfits = _sqlite(tmp_path, SIZED, {"p": [(1, "y" * 71, "ABCD", 1.234, 12345, None, None)]})
    with pytest.raises(ValueError, match="4 values") as stopped:
        copy_sqlite(misfits, target, Options())
    for reason in ("name: longer than 70 characters", "code: longer than 3 characters",
                   "price: more than 2 decimal places", "qty: more than 4 digits before the point"):
        assert reason in str(stopped.value)


def test_the_plan_says_what_each_loose_type_became_and_why(tmp_path):
    source = _sqlite(tmp_path, SIZED + "; CREATE TABLE q (id INTEGER PRIMARY KEY, anything, flag BOOLEAN, n INT(11))")
    child = _cli("plan", "--source", source.execute("PRAGMA database_list").fetchone()[2])
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    for line in ("name: VARCHAR(70) -> varchar(70)  (its length kept; longer values are reported)",
                 "code: CHAR(3) -> varchar(3)  (its length kept (varchar: SQLite never pads)",
                 "price: DECIMAL(10,2) -> numeric(10,2)  (its digits and decimals kept",
                 "note: TEXT(5) -> text  (a size SQLite ignores on this type: text)",
                 "loose: DECIMAL -> numeric  (no precision declared: numeric of any size)",
                 "anything: (none) -> text  (no declared type: text)",
                 "n: INT(11) -> bigint  (SQLite's INTEGER affinity holds 64 bits)"):
        assert line in out, line


def test_postgres_types_arrive_exactly_enums_included(postgres_server, target):
    from infra.datamove.load import copy_postgres
    from infra.datamove.verify import verify_postgres

    source = create_engine(postgres_server.ensure_database(f"datamove_types_{next(_databases)}"))
    with source.begin() as conn:
        conn.execute(text("CREATE TYPE mood AS ENUM ('calm', 'wild', 'it''s')"))
        conn.execute(text("""CREATE TABLE t (id int PRIMARY KEY, code varchar(7), price numeric(10,2), ok boolean,
                             doc json, docb jsonb, at timestamp, at_tz timestamptz, day date, raw bytea, nums int[],
                             words text[], feel mood, feels mood[], small smallint, fixed char(4))"""))
        conn.execute(text("""INSERT INTO t VALUES
            (1, 'abc', 12.50, true, '{"a": [1, 2]}', '{"b": null}', '2026-01-01 10:00', '2026-01-01 10:00+02',
             '2026-01-02', '\\x00ff', '{1,2,3}', '{"x y", "z"}', 'it''s', '{calm,wild}', 7, 'ab'),
            (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"""))
    copy_postgres(source, target, Options())
    assert _types(target, "t") == _types(source, "t")
    assert _types(target, "t")["feels"] == "mood[]" and _types(target, "t")["price"] == "numeric(10,2)"
    assert all(check.equal for check in verify_postgres(source, target))
    with target.connect() as conn:
        assert conn.execute(text("SELECT feel::text, at::text, fixed FROM t WHERE id = 1")).one() == (
            "it's", "2026-01-01 10:00:00", "ab  ")
    source.dispose()


# -- the COPY streams (infra/datamove/stream.py) ----------------------------------------------


@pytest.mark.parametrize("format", ["binary", "text"])
def test_copy_out_gives_the_bytes_the_server_wrote_whatever_the_row_sizes(target, format):
    """The CopyData messages taken straight from pg8000's read buffer are the server's bytes,
    in order: rows smaller than a message header, rows across the 8 KiB buffer, rows larger
    than a 1 MiB frame, and an empty table."""
    import io

    from infra.datamove.stream import copy_out

    rng = random.Random(7)
    sizes = [0, 1, 3, 5000, 8187, 8192, 9000, 1 << 20, (1 << 20) + 17] + [rng.randrange(0, 300) for _ in range(20_000)]
    with target.begin() as conn:
        conn.execute(text("CREATE TABLE blobs (id int, body text); CREATE TABLE nothing (id int)"))
        conn.execute(text("INSERT INTO blobs SELECT n, repeat('ab\tc', s / 4) FROM unnest(CAST(:s AS int[])) "
                          "WITH ORDINALITY AS t(s, n)"), {"s": sizes})
    for table in ("blobs", "nothing"):
        with target.connect() as conn:
            expected = io.BytesIO()  # pg8000's own reading, a message at a time
            cursor = conn.connection.dbapi_connection.cursor()
            cursor.execute(f"COPY {table} TO STDOUT (FORMAT {format})", stream=expected)
            failures: list[BaseException] = []
            frames = list(copy_out(conn, table, _columns(conn, table), failures, format=format))
            assert not failures
            assert b"".join(frames) == expected.getvalue()
            assert max(map(len, frames), default=0) < (1 << 20) * 3  # a frame is about a MiB, never the table
            assert conn.execute(text("SELECT 1")).scalar_one() == 1  # the connection reads on as before


def test_copy_out_takes_many_rows_a_call_and_leaves_notices_to_pg8000(target):
    """The writer takes the buffered rows itself (pg8000 calls it about once an 8 KiB buffer,
    not once a row), and a NoticeResponse between rows stops it there: pg8000 reads the
    notice, then the rows after it arrive in order."""
    import queue

    from infra.datamove import stream

    with target.begin() as conn:
        conn.execute(text("CREATE FUNCTION noisy(n int) RETURNS int LANGUAGE plpgsql AS "
                          "'BEGIN IF n % 1000 = 0 THEN RAISE NOTICE ''row %'', n; END IF; RETURN n; END'"))
    calls = []

    class Counted(stream._QueueWriter):
        def write(self, data: bytes) -> None:
            calls.append(len(data))
            super().write(data)

    with target.connect() as conn:
        driver = conn.connection.dbapi_connection
        frames: queue.Queue = queue.Queue()
        writer = Counted(frames, driver._sock)
        driver.cursor().execute("COPY (SELECT noisy(n) FROM generate_series(1, 20000) n) TO STDOUT", stream=writer)
        writer.flush()
        out = b"".join(frames.get_nowait() for _ in range(frames.qsize()))
        assert out == "".join(f"{n}\n" for n in range(1, 20001)).encode()
        assert len(calls) < 20000 / 50
        said = [notice.get(b"M", b"").decode() for notice in driver.notices]
        assert [m for m in said if m.startswith("row ")] == [f"row {n}" for n in range(1000, 20001, 1000)]


def _columns(conn, table: str) -> list[str]:
    return list(conn.execute(text("SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) "
                                  "AND attnum > 0 ORDER BY attnum"), {"t": table}).scalars())


def test_copy_in_stops_whole_on_either_side(target):
    """A failure while making the chunks ends the COPY and is raised, and the transaction undoes
    what was sent; a row the server refuses is raised as the server's error (pg8000 reads it
    once all is sent: the server discards the rest)."""
    from infra.datamove.stream import copy_in

    with target.begin() as conn:
        conn.execute(text("CREATE TABLE numbers (n int NOT NULL)"))

    def failing():
        yield b"1\n2\n"
        raise RuntimeError("the source went away")

    with pytest.raises(RuntimeError, match="the source went away"), target.begin() as conn:
        copy_in(conn, "numbers", ["n"], failing())

    def refused():
        for n in range(1000):
            yield b"\\N\n" if n == 3 else f"{n}\n".encode()

    with pytest.raises(Exception, match="23502"), target.begin() as conn:
        copy_in(conn, "numbers", ["n"], refused())
    with target.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM numbers")).scalar_one() == 0
        assert copy_in(conn, "numbers", ["n"], iter([b"5\n6\n", b"7\n"])) == 3
        assert conn.execute(text("SELECT sum(n) FROM numbers")).scalar_one() == 18
