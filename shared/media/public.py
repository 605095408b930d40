"""Where clients load the media bucket's objects (processed variants) from.

Apart from storage.py: only the functions that write variants, and the migration tools,
read the media bucket's settings.
"""
from __future__ import annotations

from urllib.parse import quote

from shared.config import get_settings


def public_base() -> str:
    """MEDIA_PUBLIC_URL, else the bucket's public URL; ends in "/"."""
    settings = get_settings()
    base = settings.media_public_url or f"https://storage.googleapis.com/{settings.media_bucket}"
    return base.rstrip("/") + "/"


def public_url(name: str, base: str | None = None) -> str:
    """The public URL of an object of the media bucket (its name percent-encoded, "/" kept),
    under ``base`` (ending in "/"; default: this platform's)."""
    return (base or public_base()) + quote(name, safe="/")
