"""Keeping credentials out of messages: what an error names of a URL is its origin only.

A provider's RPC URL carries its key in the path or the query (and sometimes user:password);
an exception's text is stored (indexer_checkpoints.last_error), logged and served
(GET /api/chain/status). So every URL in such a text is cut to scheme://host[:port], and
the secret parts of a known URL (its path, query, user info) are removed wherever they
appear alone, as client libraries print them ("... url: /v2/KEY").
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)(?:[^/\s@'\"]*@)?([^/\s?#'\"]+)[^\s'\"]*")
HIDDEN = "…"


def origin(url: str) -> str:
    """scheme://host[:port] of ``url``, without user info, path, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}"


def redact(text: str, *known_urls: str) -> str:
    """``text`` with every URL cut to its origin and the secret parts of ``known_urls`` gone."""
    for url in known_urls:
        parts = urlsplit(url)
        secrets = [parts.path.strip("/"), parts.query, parts.username or "", parts.password or ""]
        for secret in sorted(filter(None, secrets), key=len, reverse=True):
            text = text.replace(secret, HIDDEN)
    return _URL.sub(lambda m: f"{m.group(1)}{m.group(2)}", text)
