"""The graph port: one small interface over the graph store, two adapters.

Neo4j (official driver; production, e.g. AuraDB) and FalkorDB (the local and CI
engine). Every query in shared/ is written once in the Cypher both engines accept
(no ``IF NOT EXISTS`` DDL, no ``datetime()``, no ``NOT EXISTS {}`` subqueries, no
``CALL {} IN TRANSACTIONS``, ``shortestPath`` only in WITH/RETURN); only schema set-up
differs per adapter. Any failure to reach the store is ``GraphUnavailable``: HTTP
functions answer 503, event consumers raise so that Pub/Sub retries.

GRAPH_URL selects the adapter: ``falkordb://host:port/graph`` or
``neo4j[+s]://host[:port]`` (with NEO4J_USER/NEO4J_PASSWORD, a secret).
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

# Every node label the ETL writes; each has a unique ``id`` (the PostgreSQL primary key).
LABELS = ("User", "Proposal", "Item", "Tag", "Category")
Row = dict[str, Any]


class GraphUnavailable(RuntimeError):
    """The graph store cannot be reached (or failed in a way worth retrying later)."""


class Graph(Protocol):
    def write(self, query: str, params: dict[str, Any] | None = None) -> list[Row]: ...

    def read(self, query: str, params: dict[str, Any] | None = None) -> list[Row]: ...

    def ensure_schema(self) -> None:
        """Unique ids per label (idempotent)."""

    def drop_all(self) -> None:
        """Delete every node and relationship (tests, full rebuilds)."""

    def close(self) -> None: ...


class _Adapter:
    """What both adapters share: reads and writes through their own ``_run``."""

    def _run(self, query: str, params: dict[str, Any] | None, *, read_only: bool) -> list[Row]:
        raise NotImplementedError

    def write(self, query: str, params: dict[str, Any] | None = None) -> list[Row]:
        return self._run(query, params, read_only=False)

    def read(self, query: str, params: dict[str, Any] | None = None) -> list[Row]:
        return self._run(query, params, read_only=True)

    def drop_all(self) -> None:
        self.write("MATCH (n) DETACH DELETE n")


@contextmanager
def _falkordb_reachable() -> Iterator[None]:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as error:
        raise GraphUnavailable(f"FalkorDB: {error}") from error


class FalkorGraph(_Adapter):
    def __init__(self, host: str, port: int, name: str, *, timeout: float = 10.0) -> None:
        from falkordb import FalkorDB

        with _falkordb_reachable():  # the client talks to the server as it is made
            self._db = FalkorDB(host=host, port=port, socket_timeout=timeout,
                                socket_connect_timeout=min(timeout, 3.0))
        self._graph = self._db.select_graph(name)

    def _run(self, query: str, params: dict[str, Any] | None, *, read_only: bool) -> list[Row]:
        from redis.exceptions import ResponseError

        with _falkordb_reachable():
            try:
                result = (self._graph.ro_query if read_only else self._graph.query)(query, params)
            except ResponseError as error:
                # A graph exists once something is written to it; until then a read finds nothing.
                if read_only and "empty key" in str(error):
                    return []
                raise
        names = [column[1].decode() if isinstance(column[1], bytes) else column[1] for column in result.header]
        return [dict(zip(names, row, strict=True)) for row in result.result_set]

    def ensure_schema(self) -> None:
        with _falkordb_reachable():
            existing = {(c["label"], tuple(c["properties"])) for c in self._constraints()}
            for label in LABELS:
                if (label, ("id",)) not in existing:
                    # Creates the range index it needs, then the constraint (asynchronously).
                    self._graph.create_node_unique_constraint(label, "id")

    def _constraints(self) -> list[dict[str, Any]]:
        from redis.exceptions import ResponseError

        try:
            return self._graph.list_constraints()
        except ResponseError:  # a graph that does not exist yet has no schema
            return []

    def close(self) -> None:
        self._db.connection.close()


class Neo4jGraph(_Adapter):
    def __init__(self, uri: str, user: str, password: str, *, database: str | None = None) -> None:
        import neo4j

        self._driver = neo4j.GraphDatabase.driver(uri, auth=(user, password), connection_timeout=5.0)
        self._database = database

    def _run(self, query: str, params: dict[str, Any] | None, *, read_only: bool) -> list[Row]:
        from neo4j import RoutingControl
        from neo4j.exceptions import ServiceUnavailable, SessionExpired, TransientError

        try:
            records, _, _ = self._driver.execute_query(
                query, params or {}, database_=self._database,
                routing_=RoutingControl.READ if read_only else RoutingControl.WRITE)
        except (ServiceUnavailable, SessionExpired, TransientError, OSError) as error:
            raise GraphUnavailable(f"Neo4j: {error}") from error
        return [record.data() for record in records]

    def ensure_schema(self) -> None:
        for label in LABELS:
            self.write(f"CREATE CONSTRAINT {label.lower()}_id IF NOT EXISTS FOR (n:{label}) REQUIRE n.id IS UNIQUE")

    def close(self) -> None:
        self._driver.close()


def connect(url: str, *, user: str | None = None, password: str | None = None) -> Graph:
    parts = urlsplit(url)
    if parts.scheme == "falkordb":
        return FalkorGraph(parts.hostname or "127.0.0.1", parts.port or 6379, parts.path.strip("/") or "kalakrut")
    if parts.scheme.startswith(("neo4j", "bolt")):
        if not (user and password):
            raise ValueError("a Neo4j GRAPH_URL needs NEO4J_USER and NEO4J_PASSWORD")
        return Neo4jGraph(url, user, password)
    raise ValueError(f"GRAPH_URL scheme must be falkordb:// or neo4j[+s]://, not {parts.scheme!r}")


@lru_cache(maxsize=1)
def get_graph() -> Graph:
    """This process's connection to the graph store, as readers use it: no schema work,
    which on Neo4j would be one write transaction per label on every cold start."""
    from shared.config import get_settings

    settings = get_settings()
    settings.require("graph_url")
    return connect(settings.graph_url, user=settings.neo4j_user, password=settings.neo4j_password)


@lru_cache(maxsize=1)
def get_graph_for_writes() -> Graph:
    """The same connection with the schema the writers' MERGEs rely on (unique ids)
    ensured, once per process."""
    graph = get_graph()
    graph.ensure_schema()
    return graph
