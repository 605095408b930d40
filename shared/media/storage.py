"""Cloud Storage: the client, signed upload URLs, and public URLs of media variants.

google-cloud-storage is imported on first use only. Against the emulator
(STORAGE_EMULATOR_HOST) calls use anonymous credentials; signing uses a key file
there, and the function's service account (IAM signBlob) in the cloud.
"""
from __future__ import annotations

import os
from datetime import timedelta
from functools import lru_cache
from typing import Any

from shared.config import get_settings


@lru_cache(maxsize=1)
def client() -> Any:
    from google.cloud import storage

    project = get_settings().google_cloud_project
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(project=project, credentials=AnonymousCredentials())
    return storage.Client(project=project)


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
    """A V4 signed PUT URL bound to this content type and size range; returns (url, headers to send)."""
    headers = {"Content-Type": content_type, "x-goog-content-length-range": f"0,{max_bytes}"}
    settings = get_settings()
    extra = {"api_access_endpoint": settings.signed_url_endpoint} if settings.signed_url_endpoint else {}
    url = client().bucket(bucket).blob(name).generate_signed_url(
        version="v4", method="PUT", expiration=expires, content_type=content_type,
        headers={"x-goog-content-length-range": headers["x-goog-content-length-range"]},
        **extra, **_signing_arguments(),
    )
    return url, headers


def signed_download_url(bucket: str, name: str, *, filename: str, expires: timedelta) -> str:
    """A V4 signed GET URL for one private object, saved under ``filename`` by browsers."""
    settings = get_settings()
    extra = {"api_access_endpoint": settings.signed_url_endpoint} if settings.signed_url_endpoint else {}
    return client().bucket(bucket).blob(name).generate_signed_url(
        version="v4", method="GET", expiration=expires,
        response_disposition=f'attachment; filename="{filename}"', **extra, **_signing_arguments(),
    )


def public_url(name: str) -> str:
    settings = get_settings()
    base = settings.media_public_url or f"https://storage.googleapis.com/{settings.media_bucket}"
    return f"{base.rstrip('/')}/{name}"
