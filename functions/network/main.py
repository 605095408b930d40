"""network: graph reads for people and proposals: suggestions, ego network, paths, insights."""
from __future__ import annotations

import shared.startup  # noqa: F401  (first, before anything heavy: see shared/startup.py)

from collections.abc import Callable
from typing import Any, TypeVar

from shared import errors
from shared.graph import network
from shared.http.api import Api, Call
from shared.identity.access import require_admin

api = Api("network")
T = TypeVar("T")
RETRY_AFTER_SECONDS = "30"


def _read(query: Callable[..., T], *args: Any) -> T:
    """Run a graph read; an unreachable graph is a 503 the client may retry, never a 500."""
    from shared.graph.port import GraphUnavailable, get_graph

    try:
        return query(get_graph(), *args)
    except GraphUnavailable as error:
        get_graph.cache_clear()  # reconnect on the next request
        raise errors.ServiceUnavailable("the graph store is unreachable",
                                          headers={"Retry-After": RETRY_AFTER_SECONDS}) from error


@api.route("GET", "/api/network/people-you-may-know", summary="People you may know (co-backers, followers), with the reasons",
           auth="user", query=network.SuggestionQuery, response=network.PeoplePage, errors=(503,), expensive=True)
def people(call: Call) -> network.PeoplePage:
    return _read(network.people_you_may_know, call.caller.id, call.query.limit)


@api.route("GET", "/api/network/proposals-for-you", summary="Open proposals backed by people who back what you back",
           auth="user", query=network.SuggestionQuery, response=network.ProposalSuggestions, errors=(503,), expensive=True)
def proposals(call: Call) -> network.ProposalSuggestions:
    return _read(network.proposals_for_you, call.caller.id, call.query.limit)


@api.route("GET", "/api/network/ego", summary="Your network to depth 1 or 2 (public relationships and your own), capped",
           auth="user", query=network.EgoQuery, response=network.Network, errors=(503,), expensive=True)
def ego(call: Call) -> network.Network:
    return _read(network.ego, call.caller.id, call.query.depth)


@api.route("GET", "/api/network/path", summary="Shortest connection from you (admins: from anyone) to a user",
           auth="user", query=network.PathQuery, response=network.ConnectionPath, errors=(404, 503), expensive=True)
def path(call: Call) -> network.ConnectionPath:
    start = call.query.from_ or call.caller.id
    if start != call.caller.id:
        require_admin(call.caller)
    found = _read(network.connection_path, start, call.query.to, call.caller.id)
    if found is None:
        raise errors.NotFound(f"no connection within {network.PATH_MAX_DEPTH} steps")
    return found


@api.route("GET", "/api/network/insights", summary="Top connectors, most-backed artists, communities (admins)",
           auth="user", response=network.Insights, errors=(503,), expensive=True)
def insights(call: Call) -> network.Insights:
    require_admin(call.caller)
    return _read(network.insights)


def handle(request):
    """functions-framework entry point."""
    return api(request)
