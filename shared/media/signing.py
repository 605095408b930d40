"""V4 signed URLs for single objects: uploads (PUT) and digital items' downloads (GET).

Locally they are signed with a key file (SIGNING_KEY_FILE) and point at the stack's
storage front (SIGNED_URL_ENDPOINT); in the cloud the function's own service account
signs through IAM signBlob and the URLs point at Cloud Storage.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared.config import get_settings
from shared.media.storage import client


def _signing_arguments() -> dict[str, Any]:
    settings = get_settings()
    if settings.signing_key_file:
        from google.oauth2 import service_account

        return {"credentials": service_account.Credentials.from_service_account_file(settings.signing_key_file)}
    import google.auth
    from google.auth.transport.requests import Request

    credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    credentials.refresh(Request())
    return {"service_account_email": credentials.service_account_email, "access_token": credentials.token}


def signed_upload_url(bucket: str, name: str, *, content_type: str, max_bytes: int,
                      expires: timedelta) -> tuple[str, dict[str, str]]:
    """A V4 signed PUT URL bound to this content type and size range, good for one write (the
    object must not exist yet: a checked upload cannot be replaced through it, nor the bucket
    filled with versions); returns (url, headers to send)."""
    headers = {"Content-Type": content_type, "x-goog-content-length-range": f"0,{max_bytes}",
               "x-goog-if-generation-match": "0"}
    settings = get_settings()
    extra = {"api_access_endpoint": settings.signed_url_endpoint} if settings.signed_url_endpoint else {}
    url = client().bucket(bucket).blob(name).generate_signed_url(
        version="v4", method="PUT", expiration=expires, content_type=content_type,
        headers={key: value for key, value in headers.items() if key.startswith("x-goog-")},
        **extra, **_signing_arguments(),
    )
    return url, headers


def signed_download_url(bucket: str, name: str, *, generation: int, filename: str, expires: timedelta) -> str:
    """A V4 signed GET URL for one generation of a private object (a later write to the
    same name is not what it serves), saved under ``filename`` by browsers."""
    settings = get_settings()
    extra = {"api_access_endpoint": settings.signed_url_endpoint} if settings.signed_url_endpoint else {}
    return client().bucket(bucket).blob(name, generation=generation).generate_signed_url(
        version="v4", method="GET", expiration=expires, generation=generation,
        response_disposition=f'attachment; filename="{filename}"', **extra, **_signing_arguments(),
    )
