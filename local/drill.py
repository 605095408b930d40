"""`python -m local.drill`: prove on a running `make dev` stack that nothing is lost between
functions (issue 28), by breaking the stack as an operator could and checking what survives.

It talks to the stack only as an operator would: the API through Hosting with the Auth
emulator's ID tokens of the demo accounts (local/seed.py), the push broker's HTTP API, signals
to the processes whose pids `status.json` lists (local/status.py), FalkorDB, and PostgreSQL as
the graph-reconcile function's own role. The steps, each printed with its checks:

1. Steady writes through Hosting (follow/unfollow, like/unlike, favorite/unfavorite as the demo
   users, now and then a published proposal or a listed item by an artist) for the whole outage
   phase (steps 2 and 3): every one of them must succeed.
2. graph-etl down for 60 s. Its process group is killed once (SIGKILL: a crashed instance); the
   supervisor restarts it within seconds, which status.json must show, and it must answer again.
   Since it would then be up at once, the restarted process group is held down (SIGSTOP) for the
   rest of the 60 s and then let go (SIGCONT): a hung instance, whose pushes the broker waits on
   and redelivers.
3. The graph engine hung for a while (SIGSTOP of the FalkorDB server, then SIGCONT): graph-etl
   cannot write, answers 500 (its log shows GraphUnavailable), and the broker retries.
4. Within a bounded wait, the graph equals PostgreSQL label by label (shared/graph/reconcile.py's
   COMPARISONS: users, proposals, items, favorites, likes, follows, fundings), graph-etl has
   recorded every event emitted since the drill began, and its dead-letter topic got nothing.
5. A failure that outlasts the retry window. functions.yaml gives about 40 minutes (10 s..600 s,
   10 attempts), so the drill shortens the graph-etl subscription's policy (1 s..2 s, 5 attempts:
   Pub/Sub's minimum) through the broker's subscription PATCH, as `gcloud pubsub subscriptions
   update` would in the cloud, stops FalkorDB, makes a follow, a like and a favorite, waits until
   the broker parks those events in graph-etl-dead-letter, restores FalkorDB and the policy, runs
   `python -m infra.replay graph-etl --local`, and checks equality again.
6. The network function's process group killed: it must answer through Hosting again within
   30 s, and status.json must count the restart.
7. Erasure: a new account with a linked wallet (Sign-In with Ethereum), a like, a favorite and
   follows both ways erases itself (DELETE /api/me); once graph-etl has taken the events, the
   full reconcile (shared.graph.reconcile.full, what graph-reconcile runs hourly) runs twice and
   the second run repairs nothing; neither the graph nor PostgreSQL keeps anything personal of it.

Whatever the drill stops it lets go again, and it restores the subscription's policy, also
when it fails or is interrupted (Ctrl-C, SIGTERM; only a SIGKILL of the drill itself could leave
a process stopped: `kill -CONT -PID` it, or restart `make dev`). It leaves demo-looking data
behind (the created proposals and items, toggled reactions); `make reset` forgets it. Exit code 0
only if every check holds.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from sqlalchemy import Engine, create_engine, text

from infra.manifest import REPO, Function, load
from local.config import StackConfig
from local.firebase import AuthEmulator
from local.postgres import EmbeddedPostgres
from local.seed import ARTISTS, BACKERS, Client
from shared.graph.port import Graph, connect
from shared.graph.reconcile import COMPARISONS, full

DEMO_EMAILS = [email for email, *_ in ARTISTS] + [email for email, *_ in BACKERS]
RECONCILER_ROLE = "fn-graph-reconcile"  # the drill reads PostgreSQL as graph-reconcile does
# Pub/Sub's smallest dead-letter policy and a short backoff: a window the drill can outlast.
SHORT_RETRY = ("1s", "2s", 5)
REACTIONS = ("follow", "like", "favorite")
CREATE_EVERY = 20  # one write in CREATE_EVERY publishes a proposal, one lists an item


# -- results ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    step: str
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class LabelDiff:
    label: str
    postgres: int
    graph: int
    drifted: int


@dataclass(frozen=True)
class Write:
    kind: str  # follow, like, favorite, proposal, item
    actor: int  # index into the people
    target: str | None = None  # a user id (follow) or an item id; None for a creation


@dataclass
class Person:
    email: str
    id: str
    role: str
    client: Client


@dataclass
class Drill:
    config: StackConfig
    hosting: str
    engine: Engine
    graph: Graph
    auth: AuthEmulator
    etl: Function
    people: list[Person] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    numbers: dict[str, str] = field(default_factory=dict)
    parked_before: int = 0  # what the dead-letter topic held when the drill began
    held: set[int] = field(default_factory=set)  # process groups this drill holds stopped
    restore_policy: dict[str, Any] | None = None  # the subscription's policy to put back


def check(drill: Drill, step: str, name: str, ok: bool, detail: str) -> bool:
    drill.checks.append(Check(step, name, ok, detail))
    print(f"  [{'ok' if ok else 'FAIL'}] {name}: {detail}", flush=True)
    return ok


def note(message: str) -> None:
    print(f"  {message}", flush=True)


def summary(checks: Sequence[Check]) -> str:
    """The final table: one row per check."""
    widths = [max([len(header)] + [len(getattr(c, attr)) for c in checks]) for header, attr in
              (("step", "step"), ("check", "name"))]
    lines = [f"{'step':<{widths[0]}}  {'check':<{widths[1]}}  result  detail",
             f"{'-' * widths[0]}  {'-' * widths[1]}  ------  ------"]
    lines += [f"{c.step:<{widths[0]}}  {c.name:<{widths[1]}}  {'ok' if c.ok else 'FAIL':<6}  {c.detail}"
              for c in sorted(checks, key=lambda c: c.step)]
    passed = sum(c.ok for c in checks)
    lines.append(f"{passed}/{len(checks)} checks hold" + ("" if passed == len(checks) else ": THE DRILL FAILED"))
    return "\n".join(lines)


# -- the stack, as an operator reaches it --------------------------------------------------------

def poll(condition: Callable[[], bool], timeout: float, interval: float = 0.5) -> float | None:
    """Seconds until ``condition`` held, or None if it did not within ``timeout``."""
    start = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            return None
        time.sleep(interval)


def function_status(config: StackConfig, name: str) -> dict[str, Any]:
    rows = json.loads((config.state_dir / "status.json").read_text())["functions"]
    return next(row for row in rows if row["name"] == name)


def database_url(config: StackConfig, role: str) -> str:
    """The running stack's PostgreSQL as ``role``: its socket directory is the fifth line of the
    server's postmaster.pid (as PostgreSQL documents it)."""
    lines = (config.state_dir / "pgdata" / "postmaster.pid").read_text().splitlines()
    return EmbeddedPostgres(server=None, socket_dir=lines[4]).url(config.database, role)


def falkordb_pid(config: StackConfig) -> int:
    import redis

    client = redis.Redis(host="127.0.0.1", port=config.graph_port, socket_timeout=5)
    try:
        return int(client.info("server")["process_id"])
    finally:
        client.close()


def hold(drill: Drill, group: int) -> None:
    """Stop a process group (a function's gunicorn master and worker, or the graph server)."""
    os.killpg(group, signal.SIGSTOP)
    drill.held.add(group)


def release(drill: Drill, group: int) -> None:
    try:
        os.killpg(group, signal.SIGCONT)
    except ProcessLookupError:
        pass
    drill.held.discard(group)


def subscription_url(config: StackConfig, name: str) -> str:
    return f"http://127.0.0.1:{config.pubsub_port}/v1/projects/{config.project}/subscriptions/{name}"


def get_policy(config: StackConfig, name: str) -> dict[str, Any]:
    answer = requests.get(subscription_url(config, name), timeout=10)
    if answer.status_code == 404 and "no subscription" not in answer.text:
        raise RuntimeError("the broker has no subscription API: restart `make dev` (local/broker.py is newer)")
    answer.raise_for_status()
    return answer.json()


def set_policy(config: StackConfig, name: str, minimum: str, maximum: str, attempts: int) -> dict[str, Any]:
    body = {"subscription": {"retryPolicy": {"minimumBackoff": minimum, "maximumBackoff": maximum},
                             "deadLetterPolicy": {"maxDeliveryAttempts": attempts}},
            "updateMask": "retryPolicy,deadLetterPolicy"}
    answer = requests.patch(subscription_url(config, name), json=body, timeout=10)
    answer.raise_for_status()
    return answer.json()


def policy_text(resource: dict[str, Any]) -> str:
    retry = resource["retryPolicy"]
    return (f"retry {retry['minimumBackoff']}..{retry['maximumBackoff']}, "
            f"{resource['deadLetterPolicy']['maxDeliveryAttempts']} attempts")


def parked(config: StackConfig, topic: str) -> list[dict[str, Any]]:
    """What the broker holds in ``topic`` (a dead-letter topic): its dead-letter file."""
    path = config.state_dir / "dead-letters.jsonl"
    records = []
    for line in (path.read_text().splitlines() if path.exists() else []):
        try:
            record = json.loads(line)
        except ValueError:  # being rewritten (a replay) as we read
            continue
        if record.get("topic") == topic:
            records.append(record)
    return records


def replayed_count(output: str) -> int | None:
    """The number `python -m infra.replay FUNCTION --local` printed (``...: replayed N ...``)."""
    words = output.split()
    for before, after in itertools.pairwise(words):
        if before == "replayed" and after.isdigit():
            return int(after)
    return None


def graph_failures(log: str) -> int:
    """Pushes a graph function failed because the graph could not be reached: its log (one JSON
    object a line, shared/log.py) has the request's error with the GraphUnavailable it raised
    (shared/graph/port.py) in the stack trace."""
    failures = 0
    for line in log.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("severity") == "ERROR" and "GraphUnavailable" in str(
                entry.get("stack_trace", "")):
            failures += 1
    return failures


# -- PostgreSQL and the graph ---------------------------------------------------------------------

def drift(postgres: dict[Any, Any], graph: dict[Any, Any]) -> list[Any]:
    """The keys whose content differs between the two sides (missing on one side included)."""
    return [key for key in postgres.keys() | graph.keys() if postgres.get(key) != graph.get(key)]


def compare(engine: Engine, graph: Graph) -> list[LabelDiff]:
    """Each label's content in PostgreSQL and in the graph, as the full reconcile compares it."""
    diffs = []
    with engine.connect() as conn:
        for comparison in COMPARISONS:
            pg = {comparison.key(r): comparison.value(r)
                  for r in (dict(row._mapping) for row in conn.execute(text(comparison.postgres_sql)))}
            seen = {comparison.key(r): comparison.value(r) for r in graph.read(comparison.graph_cypher)}
            diffs.append(LabelDiff(comparison.name, len(pg), len(seen), len(drift(pg, seen))))
    return diffs


def equal(diffs: Iterable[LabelDiff]) -> bool:
    return all(d.drifted == 0 for d in diffs)


def diff_text(diffs: Iterable[LabelDiff]) -> str:
    return ", ".join(f"{d.label} {d.postgres}" + (f"/graph {d.graph} ({d.drifted} differ)" if d.drifted else "")
                     for d in diffs)


def last_outbox_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT coalesce(max(id), 0) FROM outbox")).scalar_one()


def delivery(engine: Engine, etl: Function, after: int) -> tuple[int, int]:
    """Events emitted to graph-etl's topic since outbox id ``after``, and how many of them
    graph-etl recorded as applied."""
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT count(*) AS emitted, count(p.event_id) AS applied FROM outbox o "
            "LEFT JOIN processed_events p ON p.consumer = :consumer AND p.event_id = o.event_id "
            "WHERE o.id > :after AND o.topic = :topic"),
            {"consumer": etl.name, "after": after, "topic": etl.topic}).one()
    return row.emitted, row.applied


def applied(engine: Engine, etl: Function, event_ids: Iterable[str]) -> set[str]:
    ids = sorted(event_ids)
    if not ids:
        return set()
    with engine.connect() as conn:
        return {str(r[0]) for r in conn.execute(text(
            "SELECT event_id FROM processed_events WHERE consumer = :consumer "
            "AND event_id = ANY(CAST(string_to_array(:ids, ',') AS uuid[]))"),
            {"consumer": etl.name, "ids": ",".join(ids)})}


def present_state(engine: Engine) -> set[tuple[str, str, str]]:
    """Which follows, likes and favorites exist now: (kind, user id, target id)."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT 'follow', follower_id::text, followee_id::text FROM follows UNION ALL "
            "SELECT 'like', user_id::text, item_id::text FROM likes UNION ALL "
            "SELECT 'favorite', user_id::text, item_id::text FROM favorites")).all()
    return {(kind, user, target) for kind, user, target in rows}


# -- the writes ------------------------------------------------------------------------------------

def planned_write(n: int, user_ids: Sequence[str], artists: Sequence[int], item_ids: Sequence[str]) -> Write:
    """The n-th write of the steady stream: mostly reactions that rotate over every (person,
    target) pair, now and then a proposal or an item by an artist."""
    block, position = divmod(n, CREATE_EVERY)
    proposal_at, item_at = CREATE_EVERY // 2 - 1, CREATE_EVERY - 1
    if position in (proposal_at, item_at):
        return Write("proposal" if position == proposal_at else "item", artists[block % len(artists)])
    # The reactions are numbered on their own, so that every (person, target) pair comes round.
    reaction = block * (CREATE_EVERY - 2) + position - (position > proposal_at)
    kind, turn = REACTIONS[reaction % len(REACTIONS)], reaction // len(REACTIONS)
    actor, round_ = turn % len(user_ids), turn // len(user_ids)
    if kind == "follow":
        others = [i for i in range(len(user_ids)) if i != actor]
        return Write(kind, actor, user_ids[others[round_ % len(others)]])
    return Write(kind, actor, item_ids[round_ % len(item_ids)])


def reaction_call(write: Write, present: bool) -> tuple[str, str]:
    """The request that toggles a reaction: add it when it is not there, remove it when it is."""
    if write.kind == "follow":
        return ("DELETE" if present else "POST"), f"/api/users/{write.target}/follow"
    return ("DELETE" if present else "PUT"), f"/api/items/{write.target}/{write.kind}"


def perform(drill: Drill, write: Write, present: set[tuple[str, str, str]], label: str) -> None:
    """One write through Hosting; raises if the API refused it."""
    person = drill.people[write.actor]
    if write.kind in REACTIONS:
        key = (write.kind, person.id, write.target or "")
        method, path = reaction_call(write, key in present)
        person.client.call(method, path)
        present.symmetric_difference_update({key})
        return
    deadline = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    if write.kind == "proposal":
        body = {"title": f"Drill proposal {label}", "description": "Written by python -m local.drill.",
                "category": "textile", "tags": ["drill"], "goal": "100000", "currency": "EUR", "deadline": deadline}
        created = person.client.call("POST", "/api/proposals", json=body).json()
        person.client.call("POST", f"/api/proposals/{created['id']}/publish")
        return
    body = {"title": f"Drill item {label}", "description": "Written by python -m local.drill.", "kind": "physical",
            "price": "1000", "currency": "EUR", "inventory": 1, "shipping_regions": ["DE"], "category": "textile",
            "tags": ["drill"]}
    created = person.client.call("POST", "/api/items", json=body).json()
    person.client.call("POST", f"/api/items/{created['id']}/list")


class Writer:
    """The steady stream of writes, on a thread, counting what succeeded."""

    def __init__(self, drill: Drill, per_second: float) -> None:
        self.drill, self.interval = drill, 1.0 / per_second
        self.present = present_state(drill.engine)
        self.ok: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drill-writer", daemon=True)
        self._stamp = datetime.now(UTC).strftime("%H%M%S")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        ids = [p.id for p in self.drill.people]
        artists = [i for i, p in enumerate(self.drill.people) if p.role == "artist"]
        n, next_at = 0, time.monotonic()
        while not self._stop.is_set():
            write = planned_write(n, ids, artists, self.drill.items)
            try:
                perform(self.drill, write, self.present, f"{self._stamp}-{n}")
                self.ok[write.kind] += 1
            except Exception as error:  # counted and shown: a write must not fail during an outage
                self.failed[write.kind] += 1
                if len(self.errors) < 5:
                    self.errors.append(f"{write.kind}: {error}"[:300])
            n += 1
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def text(self) -> str:
        return (f"{sum(self.ok.values())} ok ({', '.join(f'{k} {v}' for k, v in sorted(self.ok.items()))}), "
                f"{sum(self.failed.values())} failed")


# -- the steps -------------------------------------------------------------------------------------

def sign_in(drill: Drill) -> None:
    for email in DEMO_EMAILS:
        client = Client(drill.hosting, drill.auth.sign_in(email))
        me = client.call("GET", "/api/me").json()
        drill.people.append(Person(email, me["id"], me["role"], client))
    listed = requests.get(f"{drill.hosting}/api/items", params={"status": "listed", "limit": 4}, timeout=30).json()
    drill.items = [item["id"] for item in listed["items"]]
    if not drill.items:
        raise RuntimeError("no listed items: is the demo data loaded (make seed)?")


def baseline(drill: Drill, wait: float) -> None:
    print("\n== 0. before: the graph equals PostgreSQL, nothing parked", flush=True)
    diffs: list[LabelDiff] = []

    def settled() -> bool:
        nonlocal diffs
        diffs = compare(drill.engine, drill.graph)
        return equal(diffs)

    took = poll(settled, wait, 2.0)
    check(drill, "0 before", "graph equals PostgreSQL at the start", took is not None,
          diff_text(diffs) + (f" (after {took:.0f} s)" if took else ""))
    drill.parked_before = len(parked(drill.config, drill.etl.dead_letter_topic))
    note(f"{drill.etl.dead_letter_topic} holds {drill.parked_before} message(s) from before the drill")


def graph_etl_outage(drill: Drill, seconds: float) -> None:
    config, name = drill.config, drill.etl.name
    print(f"\n== 2. {name} down for {seconds:.0f} s: killed once, then its restart held down", flush=True)
    before = function_status(config, name)
    started = time.monotonic()
    os.killpg(before["pid"], signal.SIGKILL)
    note(f"killed {name} (process group {before['pid']}, restarts {before['restarts']})")

    def restarted() -> bool:
        now = function_status(config, name)
        return now["pid"] not in (None, before["pid"]) and now["restarts"] > before["restarts"]

    took = poll(restarted, 30, 0.1)
    after = function_status(config, name)
    check(drill, "2 graph-etl down", "the supervisor restarted it (status.json)", took is not None,
          f"new pid {after['pid']} after {took or 0:.1f} s, restarts {before['restarts']} -> {after['restarts']}, "
          f"last exit {after['last_exit']}")
    if took is None:
        return

    def answers() -> bool:
        try:
            requests.get(f"http://127.0.0.1:{after['port']}/", timeout=2)  # any HTTP answer: it is serving
            return True
        except requests.RequestException:
            return False

    back = poll(answers, 30, 0.1)
    since_kill = time.monotonic() - started
    check(drill, "2 graph-etl down", "it came back by itself", back is not None,
          f"answering {since_kill:.1f} s after the kill")
    drill.numbers["graph-etl restart (kill -> answering)"] = f"{since_kill:.1f} s"
    hold(drill, after["pid"])
    held_from, (emitted, done) = time.monotonic(), delivery(drill.engine, drill.etl, 0)
    time.sleep(max(0.0, started + seconds - time.monotonic()))
    emitted_then, done_then = delivery(drill.engine, drill.etl, 0)
    release(drill, after["pid"])
    down = time.monotonic() - started
    check(drill, "2 graph-etl down", "held down (SIGSTOP) until the outage's end",
          down >= seconds and done_then == done,
          f"stopped {time.monotonic() - held_from:.1f} s ({down:.1f} s since the kill): applied {done_then - done} "
          f"of the {emitted_then - emitted} events emitted meanwhile; {emitted_then - done_then} waiting in all")


def graph_down(drill: Drill, seconds: float) -> float:
    """Returns when the graph was let go (time.monotonic())."""
    print(f"\n== 3. FalkorDB hung for {seconds:.0f} s: {drill.etl.name} fails its pushes", flush=True)
    log = drill.config.state_dir / "logs" / f"{drill.etl.name}.log"
    offset = log.stat().st_size
    pid = falkordb_pid(drill.config)
    hold(drill, pid)
    note(f"FalkorDB (pid {pid}) stopped")
    time.sleep(seconds)
    release(drill, pid)
    restored = time.monotonic()
    note("FalkorDB continued")
    time.sleep(2)  # the attempts that were waiting on it end
    with log.open("rb") as handle:
        handle.seek(offset)
        failures = graph_failures(handle.read().decode(errors="replace"))
    drill.numbers["graph-etl pushes failed (graph down)"] = str(failures)
    check(drill, "3 graph down", f"{drill.etl.name} answered 500 while the graph was down", failures > 0,
          f"{failures} push(es) failed with GraphUnavailable ({log.name})")
    return restored


def converge(drill: Drill, step: str, after: int, wait: float, since: float, what: str) -> float | None:
    """Wait until the graph equals PostgreSQL and graph-etl applied every event since ``after``;
    the seconds from ``since`` (``what``: the outage's end, the replay) until they did, or None."""
    diffs: list[LabelDiff] = []
    counts = (0, 0)

    def done() -> bool:
        nonlocal diffs, counts
        counts = delivery(drill.engine, drill.etl, after)
        if counts[0] != counts[1]:
            return False
        diffs = compare(drill.engine, drill.graph)
        return equal(diffs) and delivery(drill.engine, drill.etl, after) == counts

    took = poll(done, wait, 2.0)
    if took is None:
        diffs = compare(drill.engine, drill.graph)
    total = time.monotonic() - since
    check(drill, step, "every event emitted was applied by graph-etl", counts[0] == counts[1],
          f"{counts[1]} of {counts[0]} events")
    check(drill, step, f"graph equals PostgreSQL within {wait:.0f} s", took is not None and equal(diffs),
          f"{diff_text(diffs)}; {total:.0f} s after {what}")
    return total if took is not None else None


def long_failure(drill: Drill, wait: float) -> None:
    config, etl = drill.config, drill.etl
    subscription = f"{etl.topic}-{etl.name}"
    print(f"\n== 5. a failure past the retry window, then python -m infra.replay {etl.name} --local", flush=True)
    original = get_policy(config, subscription)
    note(f"{subscription}: {policy_text(original)} (functions.yaml)")
    drill.restore_policy = original
    short = set_policy(config, subscription, *SHORT_RETRY)
    note(f"{subscription}: now {policy_text(short)}")
    people = {p.email: p for p in drill.people}
    mina, bela = people["mina@demo.kalakrut.dev"], people["bela@demo.kalakrut.dev"]
    actor = drill.people.index(mina)
    writes = [Write("follow", actor, bela.id), Write("like", actor, drill.items[0]),
              Write("favorite", actor, drill.items[-1])]
    already = {r["attributes"].get("event_id") for r in parked(config, etl.dead_letter_topic)}
    pid = falkordb_pid(config)
    start = last_outbox_id(drill.engine)
    hold(drill, pid)
    note(f"FalkorDB (pid {pid}) stopped")
    stopped_at = time.monotonic()
    try:
        present = present_state(drill.engine)
        for write in writes:
            perform(drill, write, present, "long-failure")
        with drill.engine.connect() as conn:
            events = {str(r[0]): r[1] for r in conn.execute(text(
                "SELECT event_id, type FROM outbox WHERE id > :after AND topic = :topic"),
                {"after": start, "topic": etl.topic})}
        note(f"{len(events)} event(s) written while the graph is down: {', '.join(sorted(events.values()))}")

        def all_parked() -> bool:
            return set(events) <= {r["attributes"].get("event_id") for r in parked(config, etl.dead_letter_topic)}

        took = poll(all_parked, 600, 1.0)
    finally:
        release(drill, pid)
        set_policy(config, subscription, original["retryPolicy"]["minimumBackoff"],
                   original["retryPolicy"]["maximumBackoff"], original["deadLetterPolicy"]["maxDeliveryAttempts"])
    drill.restore_policy = None
    restored = get_policy(config, subscription)
    note(f"FalkorDB continued after {time.monotonic() - stopped_at:.0f} s; {subscription}: {policy_text(restored)}")
    new = [r for r in parked(config, etl.dead_letter_topic) if r["attributes"].get("event_id") not in already]
    counts = Counter(r["attributes"].get("CloudPubSubDeadLetterSourceDeliveryCount") for r in new)
    drill.numbers["dead-lettered (past the retry window)"] = str(len(new))
    check(drill, "5 past the window", "the events were parked, not lost", took is not None and bool(events),
          f"{len(new)} message(s) in {etl.dead_letter_topic} after {took or 0:.0f} s, "
          f"delivery counts {dict(counts)}")
    check(drill, "5 past the window", "the policy is back as functions.yaml has it",
          all(restored[key] == original[key] for key in ("retryPolicy", "deadLetterPolicy")),
          policy_text(restored))
    not_yet = set(events) - applied(drill.engine, etl, events)
    check(drill, "5 past the window", "graph-etl had not applied them", not_yet == set(events),
          f"{len(not_yet)} of {len(events)} unapplied before the replay; "
          f"graph now: {diff_text(compare(drill.engine, drill.graph))}")
    run = subprocess.run([sys.executable, "-m", "infra.replay", etl.name, "--local"], cwd=REPO, capture_output=True,
                         text=True, timeout=120, check=False)
    output = (run.stdout + run.stderr).strip()
    note(f"$ python -m infra.replay {etl.name} --local\n    {output}")
    replayed = replayed_count(output)
    drill.numbers["replayed"] = str(replayed)
    check(drill, "5 past the window", "the replay moved every parked message back", run.returncode == 0 and
          replayed is not None and replayed >= len(new), f"replayed {replayed} (parked by this step: {len(new)})")
    since = time.monotonic()
    took = poll(lambda: not (set(events) - applied(drill.engine, etl, events)), wait, 1.0)
    check(drill, "5 past the window", "graph-etl applied the replayed events", took is not None,
          f"{len(events) - len(set(events) - applied(drill.engine, etl, events))} of {len(events)} "
          f"after {time.monotonic() - since:.0f} s")
    took = converge(drill, "5 past the window", start, wait, since, "the replay")
    drill.numbers["time to equality after the replay"] = "-" if took is None else f"{took:.0f} s"
    left = len(parked(config, etl.dead_letter_topic))
    check(drill, "5 past the window", f"nothing left in {etl.dead_letter_topic}", left == 0, f"{left} message(s)")


def network_restart(drill: Drill, within: float = 30.0) -> None:
    print("\n== 6. the network function killed: back through Hosting", flush=True)
    config = drill.config
    ivan = next(p for p in drill.people if p.email.startswith("ivan@"))
    url = f"{drill.hosting}/api/network/ego?depth=1"
    headers = dict(ivan.client.session.headers)

    def answers() -> bool:
        try:
            return requests.get(url, headers=headers, timeout=5).status_code == 200
        except requests.RequestException:
            return False

    check(drill, "6 network killed", "it answers before", answers(), f"GET {url.removeprefix(drill.hosting)}")
    before = function_status(config, "network")
    started = time.monotonic()
    os.killpg(before["pid"], signal.SIGKILL)
    note(f"killed network (process group {before['pid']})")
    time.sleep(0.2)
    took = poll(answers, within, 0.2)
    since = time.monotonic() - started
    after = function_status(config, "network")
    drill.numbers["network restart (kill -> 200 through Hosting)"] = f"{since:.1f} s" if took is not None else "-"
    check(drill, "6 network killed", f"answering through Hosting within {within:.0f} s", took is not None,
          f"200 after {since:.1f} s")
    check(drill, "6 network killed", "status.json counts the restart",
          after["restarts"] >= 1 and after["restarts"] > before["restarts"] and after["pid"] != before["pid"],
          f"restarts {before['restarts']} -> {after['restarts']}, pid {before['pid']} -> {after['pid']}, "
          f"last exit {after['last_exit']}")


def person_in_graph(graph: Graph, user_id: str) -> tuple[int, int]:
    nodes = graph.read("MATCH (n {id: $id}) RETURN count(n) AS n", {"id": user_id})[0]["n"]
    edges = graph.read("MATCH (n {id: $id})-[r]-() RETURN count(r) AS n", {"id": user_id})[0]["n"]
    return nodes, edges


PERSONAL = text(
    "SELECT (SELECT count(*) FROM likes WHERE user_id = :u) AS likes, "
    "(SELECT count(*) FROM favorites WHERE user_id = :u) AS favorites, "
    "(SELECT count(*) FROM follows WHERE follower_id = :u OR followee_id = :u) AS follows, "
    "(SELECT count(*) FROM wallet_challenges WHERE user_id = :u) AS wallet_challenges, "
    "(SELECT count(*) FROM users WHERE wallet_address = :wallet) AS wallet_links, "
    "(SELECT count(*) FROM users WHERE id = :u AND (email IS NOT NULL OR firebase_uid IS NOT NULL "
    "  OR display_name IS NOT NULL OR bio IS NOT NULL OR avatar_url IS NOT NULL)) AS profile")


def link_wallet(client: Client) -> str:
    from eth_account import Account
    from eth_account.messages import encode_defunct

    wallet = Account.create()
    message = client.call("POST", "/api/me/wallet/challenge", json={"address": wallet.address}).json()["message"]
    signature = "0x" + wallet.sign_message(encode_defunct(text=message)).signature.hex().removeprefix("0x")
    linked = client.call("POST", "/api/me/wallet", json={"message": message, "signature": signature}).json()
    return linked["wallet_address"]


def erasure(drill: Drill, wait: float) -> None:
    print("\n== 7. erasure: DELETE /api/me, then the full reconcile twice", flush=True)
    email = f"drill-{int(time.time())}@drill.kalakrut.dev"
    _, token = drill.auth.sign_up(email, display_name="Drill Erasure")
    client = Client(drill.hosting, token)
    me = client.call("POST", "/api/register", json={"role": "collector", "display_name": "Drill Erasure"}).json()
    wallet = link_wallet(client)
    people = {p.email: p for p in drill.people}
    for item in drill.items[:2]:
        client.call("PUT", f"/api/items/{item}/like")
        client.call("PUT", f"/api/items/{item}/favorite")
    for fan in ("ada@demo.kalakrut.dev", "ivan@demo.kalakrut.dev"):
        client.call("POST", f"/api/users/{people[fan].id}/follow")
        people[fan].client.call("POST", f"/api/users/{me['id']}/follow")
    note(f"{email} ({me['id']}): wallet {wallet}, 2 likes, 2 favorites, follows 2 and is followed by 2")
    shown = poll(lambda: person_in_graph(drill.graph, me["id"]) == (1, 8), wait, 1.0)
    check(drill, "7 erasure", "the graph showed the person first", shown is not None,
          f"node and edges {person_in_graph(drill.graph, me['id'])} (expected (1, 8))")
    client.call("DELETE", "/api/me")
    note("DELETE /api/me: 204")
    gone = poll(lambda: person_in_graph(drill.graph, me["id"]) == (0, 0), wait, 1.0)
    note(f"graph-etl took the erasure after {gone or 0:.1f} s" if gone is not None else "graph-etl did not take it")
    reconciler = create_engine(database_url(drill.config, RECONCILER_ROLE))
    try:
        first, second = full(reconciler, drill.graph), full(reconciler, drill.graph)
    finally:
        reconciler.dispose()
    by_label = {label: report.repaired for label, report in first.labels.items() if report.repaired}
    note(f"full reconcile 1: repaired {first.repaired} {by_label or ''}".rstrip())
    check(drill, "7 erasure", "the second full reconcile repairs nothing", second.repaired == 0,
          f"repaired {first.repaired}, then {second.repaired}")
    nodes, edges = person_in_graph(drill.graph, me["id"])
    check(drill, "7 erasure", "no node or edge of the person in the graph", (nodes, edges) == (0, 0),
          f"{nodes} node(s), {edges} edge(s)")
    with drill.engine.connect() as conn:
        rows = dict(conn.execute(PERSONAL, {"u": me["id"], "wallet": wallet}).one()._mapping)
    check(drill, "7 erasure", "no personal row of the person in PostgreSQL", not any(rows.values()),
          ", ".join(f"{k} {v}" for k, v in rows.items()))
    try:
        drill.auth.sign_in(email)
        signed_in = True
    except requests.HTTPError:
        signed_in = False
    check(drill, "7 erasure", "the sign-in account is gone", not signed_in,
          "sign-in refused" if not signed_in else "sign-in still works")


# -- the drill ---------------------------------------------------------------------------------------

def run(drill: Drill, args: argparse.Namespace) -> None:
    sign_in(drill)
    note(f"{len(drill.people)} demo people signed in, {len(drill.items)} listed items to react to")
    baseline(drill, args.wait)
    start = last_outbox_id(drill.engine)

    print(f"\n== 1. steady writes through Hosting, {args.rate:g}/s, for the whole outage phase", flush=True)
    writer = Writer(drill, args.rate)
    writer.start()
    try:
        graph_etl_outage(drill, args.outage)
        ended = graph_down(drill, args.graph_down)
    finally:
        writer.stop()
    print("\n== 1. (the writes)", flush=True)
    drill.numbers["writes through Hosting"] = writer.text()
    check(drill, "1 writes", "every write during the outages succeeded", not writer.failed and bool(writer.ok),
          writer.text() + (f"; first errors: {writer.errors}" if writer.errors else ""))

    print(f"\n== 4. bounded wait ({args.wait:.0f} s): the graph equals PostgreSQL", flush=True)
    took = converge(drill, "4 converged", start, args.wait, ended, "the outages ended")
    emitted, done = delivery(drill.engine, drill.etl, start)
    drill.numbers["events emitted / applied by graph-etl (steps 1-4)"] = f"{emitted} / {done}"
    drill.numbers["time to equality after the outages"] = "-" if took is None else f"{took:.0f} s"
    holds = len(parked(drill.config, drill.etl.dead_letter_topic))
    check(drill, "4 converged", f"{drill.etl.dead_letter_topic}: nothing new (no poison expected)",
          holds == drill.parked_before, f"holds {holds} message(s), {holds - drill.parked_before} new")

    long_failure(drill, args.wait)
    network_restart(drill)
    erasure(drill, 60)


def clean_up(drill: Drill) -> None:
    """Let go of whatever is still stopped and put the subscription's policy back."""
    for group in list(drill.held):
        release(drill, group)
        print(f"  (let process group {group} continue)", flush=True)
    if drill.restore_policy:
        original, etl = drill.restore_policy, drill.etl
        set_policy(drill.config, f"{etl.topic}-{etl.name}", original["retryPolicy"]["minimumBackoff"],
                   original["retryPolicy"]["maximumBackoff"], original["deadLetterPolicy"]["maxDeliveryAttempts"])
        print("  (put the graph-etl subscription's policy back)", flush=True)


def _interrupted(*_: object) -> None:
    raise KeyboardInterrupt  # SIGTERM as Ctrl-C: the clean-up runs either way


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.drill", description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, default=60.0, help="seconds graph-etl is down (step 2)")
    parser.add_argument("--graph-down", type=float, default=30.0, help="seconds FalkorDB is hung (step 3)")
    parser.add_argument("--rate", type=float, default=3.0, help="writes per second during the outages")
    parser.add_argument("--wait", type=float, default=180.0, help="longest wait for the graph to converge")
    args = parser.parse_args(argv)

    config = StackConfig.from_env()
    if not (config.state_dir / "status.json").exists():
        print(f"no stack status at {config.state_dir / 'status.json'}: is `make dev` running?", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupted)
    engine = create_engine(database_url(config, RECONCILER_ROLE))
    graph = connect(f"falkordb://127.0.0.1:{config.graph_port}/kalakrut")
    drill = Drill(config, f"http://127.0.0.1:{config.hosting_port}", engine, graph,
                  AuthEmulator(f"127.0.0.1:{config.auth_port}", config.project), load().by_name("graph-etl"))
    print(f"drill against the stack in {config.state_dir} (Hosting {drill.hosting}, broker :{config.pubsub_port}, "
          f"FalkorDB :{config.graph_port})", flush=True)
    started = time.monotonic()
    try:
        run(drill, args)
    except KeyboardInterrupt:
        check(drill, "-", "the drill ran to its end", False, "interrupted")
    except Exception as error:
        check(drill, "-", "the drill ran to its end", False, f"{type(error).__name__}: {error}")
    finally:
        clean_up(drill)
        engine.dispose()
    print("\n== numbers", flush=True)
    for name, value in drill.numbers.items():
        print(f"  {name}: {value}")
    print(f"  drill duration: {time.monotonic() - started:.0f} s")
    print("\n== summary\n" + summary(drill.checks), flush=True)
    return 0 if drill.checks and all(c.ok for c in drill.checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
