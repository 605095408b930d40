"""Cloud Storage's client (signed URLs: signing.py).

google-cloud-storage is imported on first use only. Against the emulator
(STORAGE_EMULATOR_HOST) calls use anonymous credentials.
"""
from __future__ import annotations

import os
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
