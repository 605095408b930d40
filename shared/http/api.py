"""A small declarative router for one function: routes carry their models, so the
same table drives dispatch, validation and the OpenAPI document.

A function's ``main.py`` builds an :class:`Api`, declares routes with
:meth:`Api.route`, and exposes the Api itself as the functions-framework target.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed
from werkzeug.exceptions import NotFound as WerkzeugNotFound
from werkzeug.routing import Map, PathConverter, Rule
from werkzeug.wrappers import Response

from shared import db, errors, log, maintenance, startup
from shared.config import Settings, get_settings
from shared.db import Work, work
from shared.http import caching, rate_limit
from shared.identity import access, auth
from shared.types import TextBody

if TYPE_CHECKING:
    from flask import Request
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session

    from shared.models import User

logger = logging.getLogger(__name__)

# public: a token is optional (but verified when sent); token: a valid token, the
# profile may not exist yet; user: a valid token of a registered, active profile; admin: the
# same, of an administrator.
Auth = Literal["public", "token", "user", "admin"]
JSON = "application/json"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A client's name for one request it may send again (draft-ietf-httpapi-idempotency-key-header):
# routes with ``keyed=True`` answer a repeat as they answered the first, and do nothing twice.
IDEMPOTENCY_KEY = "Idempotency-Key"
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"

# functions-framework sends every request through Flask's "/<path:path>", whose pattern stops at
# a newline: a path with %0A got Flask's HTML 404 before the API could answer with a problem.
# Widened here, on import, which functions-framework does before it adds its routes.
PathConverter.regex = "[^/](?s:.)*?"


@dataclass(frozen=True)
class Route:
    method: str
    rule: str
    handler: Callable[[Call], Any]
    summary: str
    auth: Auth
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    responses: dict[int, type[BaseModel] | None] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    # Costly to answer whoever asks (search, graph traversals): counted like writes.
    expensive: bool = False
    # False: the handler opens its own units of work (shared.db.work) and calls out between
    # them (a payment provider); no request transaction holds a connection meanwhile, so a
    # request never waits for a second connection of a pool it holds one of.
    transaction: bool = True
    # The route honours an Idempotency-Key header (Call.idempotency_key).
    keyed: bool = False

    @property
    def problem_statuses(self) -> list[int]:
        """Every error status this route can answer with, for the OpenAPI document."""
        # Any route may be sent a token (401 if it is bad, 403 if its account is suspended, 503
        # if it cannot be verified now), and any caller may be counted (429; shared/http/rate_limit.py).
        statuses = {401, 403, 429, 500, 503, *self.errors}
        if self.method in WRITES:
            statuses.add(409)  # a concurrent request made the same unique thing first
        if "<" in self.rule:
            statuses.add(404)
        if self.body is not None:
            statuses |= {400, 413, 415, 422}
        if self.query is not None:
            statuses |= {400, 422}
        return sorted(statuses)


@dataclass
class Reply:
    """A handler's answer when it needs a status or headers besides the body."""

    body: BaseModel | None = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Call:
    """Everything a handler may use: parsed input, the caller, one transaction.

    Reads use ``conn`` and ``viewer`` (SQLAlchemy Core, a row of users); writes use
    ``session`` and ``user`` (the ORM), which join the same transaction on first use.
    """

    request: Request
    work: Work | None  # None for routes that open their own units (Route.transaction)
    path: dict[str, Any]
    body: Any
    query: Any
    claims: auth.Claims | None
    viewer: access.Viewer | None = None
    _user: User | None = None  # the viewer as an ORM object, once a handler asks for it
    idempotency_key: str | None = None  # routes with keyed=True: the client's, checked

    @property
    def conn(self) -> Connection:
        return self._work().connection

    @property
    def session(self) -> Session:
        return self._work().session

    def _work(self) -> Work:
        if self.work is None:
            raise RuntimeError("this route opens its own units of work (Route.transaction=False)")
        return self.work

    @property
    def caller(self) -> access.Viewer:
        """The caller's profile as a read sees it (routes with auth='user' always have one)."""
        if self.viewer is None:
            raise errors.RegistrationRequired()
        return self.viewer

    @property
    def user(self) -> User:
        """The caller's profile as an ORM object (routes with auth='user' always have one)."""
        user = self.optional_user
        if user is None:
            raise errors.RegistrationRequired()
        return user

    @property
    def optional_user(self) -> User | None:
        if self._user is None and self.viewer is not None:
            from shared.models import User

            self._user = self.session.get(User, self.viewer.id)
        return self._user


class Api:
    def __init__(self, name: str) -> None:
        self.name = name
        self.routes: list[Route] = []
        self._map: Map | None = None

    def route(
        self,
        method: str,
        rule: str,
        *,
        summary: str,
        auth: Auth,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        also: dict[int, type[BaseModel] | None] | None = None,
        errors: tuple[int, ...] = (),
        expensive: bool = False,
        transaction: bool = True,
        keyed: bool = False,
    ) -> Callable[[Callable[[Call], Any]], Callable[[Call], Any]]:
        def register(handler: Callable[[Call], Any]) -> Callable[[Call], Any]:
            # Every GET answers If-None-Match (shared/http/caching.py).
            responses = {status: response, **({304: None} if method == "GET" else {}), **(also or {})}
            self.routes.append(
                Route(method, rule, handler, summary, auth, body, query, responses, errors, expensive, transaction,
                      keyed)
            )
            self._map = None
            return handler

        return register

    @property
    def url_map(self) -> Map:
        if self._map is None:
            rules = [Rule(r.rule, methods=[r.method], endpoint=i) for i, r in enumerate(self.routes)]
            self._map = Map(rules, strict_slashes=False, merge_slashes=False)
        return self._map

    def __call__(self, request: Request) -> Response:
        try:
            return self._answer(request)
        finally:
            startup.resume()  # the first answer ends the cold start's GC pause

    def _answer(self, request: Request) -> Response:
        settings = get_settings()
        db.limit_statements(settings.db_statement_timeout_ms)
        log.configure(settings.log_level)
        log.set_trace(
            request.headers.get("X-Cloud-Trace-Context") or request.headers.get("traceparent"),
            settings.google_cloud_project,
        )
        origin = request.headers.get("Origin")
        allowed_origin = origin if origin and origin in settings.cors_allowed_origins else None
        try:
            if request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
                response = self._preflight(allowed_origin)
            else:
                response = self._dispatch(request, settings)
        except errors.Problem as problem:
            response = problem_response(problem, request.path)
        except Exception as error:
            response = problem_response(_database_problem(error, request.path), request.path)
        # Only GETs say how they may be cached; nothing else may be (the Hosting CDN
        # would otherwise keep a 404 for ten minutes).
        response.headers.setdefault("Cache-Control", "private, no-store")
        if allowed_origin:
            response.headers["Access-Control-Allow-Origin"] = allowed_origin
            response.headers["Access-Control-Expose-Headers"] = "ETag, Location, Retry-After"
        response.vary.add("Origin")
        return response

    def _preflight(self, allowed_origin: str | None) -> Response:
        if allowed_origin is None:
            raise errors.Forbidden("this origin may not call the API")
        return Response(
            status=204,
            headers={
                "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE",
                "Access-Control-Allow-Headers": f"Authorization, Content-Type, If-Match, If-None-Match, {IDEMPOTENCY_KEY}",
                "Access-Control-Max-Age": "600",
            },
        )

    def _dispatch(self, request: Request, settings: Settings) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            index, path_args = adapter.match()
        except WerkzeugMethodNotAllowed as error:
            allow = ", ".join(sorted(error.valid_methods or []))
            raise errors.MethodNotAllowed(headers={"Allow": allow}) from None
        except WerkzeugNotFound:
            raise errors.NotFound(f"no route for {request.path}") from None
        if any(isinstance(value, str) and "\x00" in value for value in path_args.values()):
            raise errors.NotFound("nothing here has a NUL character in its name")
        route = self.routes[index]

        # Who before what: an anonymous caller learns nothing about input validation.
        claims = auth.claims_from_header(request.headers.get("Authorization"), required=route.auth != "public")
        _limit_rate(self.name, route, request, claims, settings)
        if route.method in WRITES:
            maintenance.refuse_writes()
        query = _parse_query(route.query, request) if route.query else None
        body = _parse_body(route.body, request, settings.max_body_bytes) if route.body else None
        key = _idempotency_key(request) if route.keyed else None
        if route.transaction:
            with work() as unit:
                # A write loads the caller through the ORM it is about to use; a read, on Core.
                write = route.method in WRITES
                viewer = auth.load_viewer(unit, claims, orm=write) if claims else None
                _require(route.auth, viewer)
                user = viewer if write else None
                result = route.handler(Call(request, unit, path_args, body, query, claims, viewer, user, key))
        else:
            if claims and route.method in WRITES:
                auth.forget_viewer(claims.uid)  # a write acts as the caller is now (suspended since?)
            with work() as unit:
                viewer = auth.load_viewer(unit, claims, orm=False) if claims else None
            _require(route.auth, viewer)
            result = route.handler(Call(request, None, path_args, body, query, claims, viewer, idempotency_key=key))
        response = _render(route, result)
        if route.method == "GET" and response.status_code == 200:
            return caching.conditional(request, response, settings.public_cache_seconds)
        return response


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_KEY)
    if key is not None and not re.fullmatch(IDEMPOTENCY_KEY_PATTERN, key):
        raise errors.ValidationFailed(f"{IDEMPOTENCY_KEY}: 1 to 64 letters, digits, '_', '.', ':' or '-'")
    return key


def _require(route_auth: Auth, viewer: access.Viewer | None) -> None:
    """A profile for routes that need one; an administrator's for theirs."""
    if route_auth in ("user", "admin") and viewer is None:
        raise errors.RegistrationRequired()
    if route_auth == "admin":
        access.require_admin(viewer)


_INSTANCE_LIMITER = rate_limit.InstanceLimiter()


def _limit_rate(function: str, route: Route, request: Request, claims: auth.Claims | None,
                settings: Settings) -> None:
    """Count the request in its function's bucket for its route class, per address and per
    account, before any work is done (decision 0024)."""
    if route.method in WRITES:
        kind, limit = "write", rate_limit.Limit(settings.rate_limit_per_second, settings.rate_limit_burst)
    elif route.expensive:
        kind, limit = "expensive", rate_limit.Limit(settings.rate_limit_expensive_per_second,
                                                    settings.rate_limit_expensive_burst)
    else:
        kind, limit = "read", rate_limit.Limit(settings.rate_limit_reads_per_second, settings.rate_limit_reads_burst)
    prefix = f"{function}/{kind}/"
    if kind == "read":
        # Per account when signed in (many people share an office's or a carrier's address),
        # per address when not; in this instance's memory (decision 0024).
        key = f"user:{claims.uid}" if claims else f"ip:{caller_address(request, settings)}"
        _INSTANCE_LIMITER.take([prefix + key], limit)
        return
    keys = [f"{prefix}ip:{caller_address(request, settings)}"] + ([f"{prefix}user:{claims.uid}"] if claims else [])
    with db.get_engine().begin() as conn:
        rate_limit.take(conn, keys, limit)


def caller_address(request: Request, settings: Settings) -> str:
    """The client's address as no client can choose it (shared/http/rate_limit.py)."""
    return rate_limit.client_address(request.remote_addr, request.headers.get("X-Forwarded-For"),
                                     _trusted(tuple(settings.trusted_proxies)))


@lru_cache(maxsize=4)
def _trusted(ranges: tuple[str, ...]) -> list:
    return rate_limit.parse_networks(ranges)


def _render(route: Route, result: Any) -> Response:
    reply = result if isinstance(result, Reply) else Reply(body=result)
    status = reply.status or next(iter(route.responses))
    if reply.body is None:
        return Response(status=status, headers=reply.headers)
    if isinstance(reply.body, TextBody):
        return Response(reply.body.text, status=status, headers=reply.headers, content_type=reply.body.media_type)
    return Response(reply.body.model_dump_json(), status=status, headers=reply.headers, mimetype=JSON)


def problem_response(problem: errors.Problem, path: str) -> Response:
    body = problem.details(instance=path).model_dump_json(exclude_none=True)
    headers = dict(problem.headers)
    if problem.status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="kalakrut"')
    return Response(body, status=problem.status, headers=headers, mimetype=errors.PROBLEM_JSON)


def _validation_errors(error: ValidationError, where: str) -> list[dict[str, Any]]:
    return [
        {"location": [where, *item["loc"]], "message": item["msg"], "type": item["type"]}
        for item in error.errors(include_url=False, include_input=False)
    ]


def _database_problem(error: Exception, path: str) -> errors.Problem:
    """What an unexpected error means to the caller: the database's refusals that a caller
    can meet without any bug (a race for a unique thing, a statement over its time limit)
    are theirs to hear; anything else is ours, logged, and a bare 500."""
    from shared.bulk import sqlstate

    state = sqlstate(error) if hasattr(error, "orig") else None
    # A value past what PostgreSQL (or the driver, converting a date to UTC) can hold: the
    # caller's input, which the models' bounds let through (a year-1 date at UTC+14, a huge id).
    if isinstance(getattr(error, "orig", error), OverflowError) or state in ("22003", "22008"):
        logger.warning("a value out of the database's range", extra={"path": path})
        return errors.ValidationFailed("a value is out of the range the platform can store")
    if state == "23505":  # two requests raced to make the same thing: the later one learns so
        return errors.Conflict("it exists already: another request made it first")
    if state == "57014":  # statement_timeout (DB_STATEMENT_TIMEOUT_MS) cancelled it
        logger.warning("a statement ran past its time limit", extra={"path": path})
        return errors.ServiceUnavailable("the request took too long; try again, or narrow it",
                                         headers={"Retry-After": "5"})
    logger.exception("unhandled error", extra={"path": path})
    return errors.Problem()


def _number(text: str) -> int | float:
    """A JSON number with no fraction is an integer, as JSON Schema counts them (368.0 is the
    integer 368); strict validation then takes it for an integer field."""
    value = float(text)
    return int(value) if value.is_integer() and abs(value) < 2**63 else value


# No body or query of this API nests deeper; past this, input is an attack or a mistake.
MAX_DEPTH = 32


def _screen(data: Any, where: str) -> None:
    """Refuse what no model should meet: nesting deeper than MAX_DEPTH (decided here, not by
    the interpreter's recursion limit, which differs between processes), and a NUL character
    in any string, keys too (PostgreSQL text cannot hold one: it would fail as a 500)."""
    pending = [(data, 1)]
    while pending:  # a loop, not recursion: the input decides how deep it goes
        item, depth = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise errors.ValidationFailed(f"the {where} holds a NUL character, which no text may contain")
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise errors.MalformedJson(f"the {where} is nested more than {MAX_DEPTH} levels deep")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending += [(child, depth + 1) for child in children]


def _parse_query(model: type[BaseModel], request: Request) -> BaseModel:
    raw = {key: values[0] if len(values) == 1 else values for key, values in request.args.lists()}
    _screen(raw, "query")
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise errors.ValidationFailed(
            "the query parameters are not valid", errors=_validation_errors(error, "query")
        ) from None


def _parse_body(model: type[BaseModel], request: Request, max_body: int) -> BaseModel:
    if request.content_length is not None and request.content_length > max_body:
        raise errors.PayloadTooLarge(f"the body may be at most {max_body} bytes")
    raw = request.stream.read(max_body + 1)
    if len(raw) > max_body:
        raise errors.PayloadTooLarge(f"the body may be at most {max_body} bytes")
    mimetype = request.mimetype or ""
    if raw and not (mimetype == JSON or mimetype.endswith("+json")):
        raise errors.UnsupportedMediaType(f"got {mimetype or 'no content type'}")
    try:
        data = json.loads(raw, parse_float=_number) if raw else None
    except (ValueError, UnicodeDecodeError):
        raise errors.MalformedJson() from None
    except RecursionError:  # the decoder's own limit on nesting (about a thousand levels)
        raise errors.MalformedJson("the JSON body is nested too deeply") from None
    if data is None:
        raise errors.MalformedJson("this request needs a JSON object body")
    _screen(data, "body")
    try:
        # Strict, as JSON: a string is not a number and true is not 1 (the schema says what each
        # field is); JSON's strings still become the UUIDs, times and URLs they describe.
        return model.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as error:
        raise errors.ValidationFailed(
            "the request body is not valid", errors=_validation_errors(error, "body")
        ) from None
