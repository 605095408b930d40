"""Conditional requests: caching of GET responses (validators for clients, freshness for
the Hosting CDN). If-Match on writes is shared/versioning.py.

Every 200 to a GET carries an ETag (the handler's own, or a hash of the body), and
``If-None-Match`` with a current one is answered 304 without the body. Anonymous
answers are the same for everyone: the CDN may keep them ``public_cache_seconds``
(``s-maxage``) while browsers revalidate (``max-age=0``). Answers to a signed-in caller
may differ per caller and may hold their private data (``/api/me`` has the email):
``private, no-store``, kept by no cache at all.
"""
from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from werkzeug.wrappers import Response

if TYPE_CHECKING:
    from flask import Request


def body_etag(body: bytes) -> str:
    return f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'


def matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag.removeprefix("W/") in candidates


def cache_control(request: Request, public_seconds: int) -> str:
    if request.headers.get("Authorization") or not public_seconds:
        return "private, no-store"
    return f"public, max-age=0, s-maxage={public_seconds}"


def conditional(request: Request, response: Response, public_seconds: int) -> Response:
    """Add ETag and Cache-Control; turn a repeat into 304 Not Modified."""
    etag = response.headers.get("ETag") or body_etag(response.get_data())
    headers = {"ETag": etag, "Cache-Control": cache_control(request, public_seconds)}
    response.vary.add("Authorization")
    if matches(request.headers.get("If-None-Match"), etag):
        not_modified = Response(status=304, headers=headers)
        not_modified.vary.add("Authorization")
        return not_modified
    response.headers.update(headers)
    return response

