"""The backup's encryption and keys: round trips, every kind of damage refused, and the key read
from Secret Manager (a loopback server answering as its REST API does: Secret Manager cannot
run offline, so this edge is a fake; decision 0035)."""
from __future__ import annotations

import base64
import io
import os

import pytest

from infra.datamove import backup
from infra.datamove.backup import BackupError
from tests.support.loopback_api import LoopbackApi

KEY = os.urandom(32)


def _sealed(chunks: list[bytes], key: bytes = KEY) -> bytes:
    out = io.BytesIO()
    backup.encrypt(iter(chunks), key, out)
    return out.getvalue()


def _opened(data: bytes, key: bytes = KEY) -> bytes:
    return b"".join(backup.decrypt(io.BytesIO(data), key))


def _frames(data: bytes) -> tuple[bytes, list[bytes]]:
    header, frames, at = data[:18], [], 18
    while at < len(data):
        size = int.from_bytes(data[at:at + 4], "big")
        frames.append(data[at:at + 4 + size])
        at += 4 + size
    return header, frames


@pytest.mark.parametrize("chunks", [[b""], [b"one"], [b"a" * 1000, b"b" * 10, b"c"]])
def test_round_trip(chunks):
    assert _opened(_sealed(chunks)) == b"".join(chunks)


def test_every_damage_is_refused():
    data = _sealed([b"first", b"second", b"third"])
    header, frames = _frames(data)
    damaged = {
        "swapped": header + frames[1] + frames[0] + frames[2],
        "dropped": header + frames[0] + frames[2],
        "repeated": header + frames[0] + frames[0] + frames[1] + frames[2],
        "cut": header + frames[0] + frames[1],
        "flipped": data[:-1] + bytes([data[-1] ^ 1]),
    }
    for bad in damaged.values():
        with pytest.raises(BackupError, match="altered or cut short"):
            _opened(bad)
    with pytest.raises(BackupError, match="does not decrypt with this key"):
        _opened(data, os.urandom(32))
    with pytest.raises(BackupError, match="not a backup this tool wrote"):
        _opened(b"PGDMP" + data)


def test_a_backup_is_never_replaced_and_needs_a_database_to_dump(tmp_path):
    from sqlalchemy.engine import make_url

    existing = tmp_path / "before.dump"
    existing.write_bytes(b"the first backup")
    with pytest.raises(BackupError, match="never replaced"):
        backup.backup(make_url("postgresql+pg8000://u:p@localhost/kalakrut"), existing, KEY)
    with pytest.raises(BackupError, match="give --target URL"):  # Cloud SQL through the connector
        backup.backup(make_url("postgresql+pg8000://"), tmp_path / "new.dump", KEY)
    assert existing.read_bytes() == b"the first backup" and not (tmp_path / "new.dump").exists()


def test_key_files(tmp_path):
    path = tmp_path / "k"
    backup.keygen(path)
    assert len(backup.load_key(f"file:{path}")) == 32 and path.stat().st_mode & 0o777 == 0o600
    (tmp_path / "short").write_text("c2hvcnQ=")
    for source, problem in ((f"file:{tmp_path / 'short'}", "holds no 32-byte key"),
                            (f"file:{tmp_path / 'missing'}", "keygen --out"),
                            ("kms:whatever", "file:PATH or secret:"), ("secret:not/a/name", "file:PATH or secret:")):
        with pytest.raises(BackupError, match=problem):
            backup.load_key(source)


def test_the_key_from_a_secret_version():
    name = "projects/kk-prod/secrets/backup-key/versions/3"
    payload = base64.b64encode(base64.b64encode(KEY)).decode()
    fake = LoopbackApi(lambda _: (200, {"name": name, "payload": {"data": payload, "dataCrc32c": "1"}}))
    assert backup.secret_key(name, token=lambda: "tok", endpoint=fake.url) == KEY
    assert [(path, headers["Authorization"]) for path, headers, _ in fake.requests] == [
        (f"/v1/{name}:access", "Bearer tok")]
    fake.close()


def test_a_refused_secret_names_the_status_only():
    fake = LoopbackApi(lambda _: (403, {"error": {"message": "Permission denied on projects/kk-prod ... token tok"}}))
    with pytest.raises(BackupError) as refused:
        backup.secret_key("projects/p/secrets/s/versions/1", token=lambda: "tok", endpoint=fake.url)
    assert str(refused.value) == "Secret Manager answered 403 for the backup key"
    fake.close()
