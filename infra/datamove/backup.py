"""The pre-migration backup, encrypted at rest, and its restore by one command.

``pg_dump -Fc`` of the target streams through AES-256-GCM a chunk at a time (memory stays
flat whatever the database's size). The file: MAGIC, an 8-byte random prefix, then chunks of
(4-byte length, ciphertext and tag); chunk n's nonce is the prefix and n, its associated data
the header, n and whether it is the last. A chunk altered, dropped, repeated, reordered or a
file cut short fails to decrypt: a restore never applies a damaged dump.

The key (32 bytes) comes from a local key file (``python -m infra.datamove keygen``), or in
the cloud from a Secret Manager secret version, read with the operator's Google credentials.
Restore: ``python -m infra.datamove restore --backup FILE --backup-key SOURCE --target URL``
(pg_restore --clean --if-exists into the target: what the dump holds is as it was;
a table made after it stays).
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import struct
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

MAGIC = b"KKBACKUP1\n"
CHUNK = 1 << 20
KEY_BYTES = 32
SECRET_MANAGER = "https://secretmanager.googleapis.com"


class BackupError(RuntimeError):
    """The backup or its key cannot be used: names what is wrong, never the key."""


# -- keys -------------------------------------------------------------------------------------------

def _key_bytes(raw: bytes, where: str) -> bytes:
    """32 raw bytes, or their base64 (what keygen writes and a secret usually holds)."""
    if len(raw) == KEY_BYTES:
        return raw
    try:
        decoded = base64.b64decode(raw.strip(), validate=True)
    except ValueError:
        decoded = b""
    if len(decoded) != KEY_BYTES:
        raise BackupError(f"{where} holds no {KEY_BYTES}-byte key (raw, or base64)")
    return decoded


def keygen(path: Path) -> None:
    """A new key file, readable by its owner only; never overwrites one."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BackupError(f"{path} exists: a key is not replaced (its backups would be lost)") from None
    with os.fdopen(fd, "wb") as out:
        out.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n")


def secret_key(name: str, *, token: Callable[[], str], endpoint: str = SECRET_MANAGER) -> bytes:
    """A Secret Manager secret version's payload (``projects/P/secrets/S/versions/V``) as the key."""
    request = urllib.request.Request(f"{endpoint}/v1/{name}:access", headers={"Authorization": f"Bearer {token()}"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            payload = json.load(response)["payload"]["data"]
    except urllib.error.HTTPError as error:
        raise BackupError(f"Secret Manager answered {error.code} for the backup key") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BackupError(f"Secret Manager did not give the backup key: {type(error).__name__}") from None
    return _key_bytes(base64.b64decode(payload), "the secret")


def _google_token() -> str:
    import google.auth
    import google.auth.transport.requests

    credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    credentials.refresh(google.auth.transport.requests.Request())
    return credentials.token


def load_key(source: str) -> bytes:
    """``file:PATH`` or ``secret:projects/P/secrets/S/versions/V``."""
    kind, _, where = source.partition(":")
    if kind == "file" and where:
        try:
            return _key_bytes(Path(where).read_bytes(), where)
        except OSError as error:
            raise BackupError(f"{where}: {error.strerror} (python -m infra.datamove keygen --out {where} makes one)") \
                from None
    if kind == "secret" and where.startswith("projects/") and "/secrets/" in where and "/versions/" in where:
        return secret_key(where, token=_google_token)
    raise BackupError("--backup-key: file:PATH or secret:projects/P/secrets/S/versions/V")


# -- the stream -----------------------------------------------------------------------------------

def _aad(header: bytes, index: int, last: bool) -> bytes:
    return header + struct.pack(">I?", index, last)


def encrypt(chunks: Iterator[bytes], key: bytes, out: IO[bytes]) -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    cipher, prefix = AESGCM(key), secrets.token_bytes(8)
    header = MAGIC + prefix
    out.write(header)
    index, pending = 0, next(chunks, b"")
    while True:
        following = next(chunks, None)
        last = following is None
        sealed = cipher.encrypt(prefix + struct.pack(">I", index), pending, _aad(header, index, last))
        out.write(struct.pack(">I", len(sealed)) + sealed)
        if last:
            return
        index, pending = index + 1, following


def decrypt(source: IO[bytes], key: bytes) -> Iterator[bytes]:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    header = source.read(len(MAGIC) + 8)
    if not header.startswith(MAGIC) or len(header) != len(MAGIC) + 8:
        raise BackupError("not a backup this tool wrote")
    cipher, prefix, index = AESGCM(key), header[len(MAGIC):], 0
    size = source.read(4)
    while size:
        length = struct.unpack(">I", size)[0] if len(size) == 4 else 0
        if not 16 <= length <= CHUNK + 16:  # a tag at least, a chunk and its tag at most
            raise BackupError("the backup was altered or cut short")
        sealed = source.read(length)
        following = source.read(4)
        try:
            yield cipher.decrypt(prefix + struct.pack(">I", index), sealed, _aad(header, index, not following))
        except InvalidTag:
            raise BackupError("the backup does not decrypt with this key, or was altered or cut short") from None
        index, size = index + 1, following
    if index == 0:
        raise BackupError("the backup is empty")


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk


# -- pg_dump and pg_restore ------------------------------------------------------------------------

def _program(name: str) -> str:
    """The embedded PostgreSQL's own client program (its version matches the local server, which
    an older system one refuses), else the system's."""
    try:
        import pgserver

        bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / name
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"no {name} found (install the PostgreSQL client programs)")
    return found


def _connection(url: URL) -> tuple[list[str], dict[str, str]]:
    """pg_dump's and pg_restore's arguments for the database at ``url`` (its password in the
    environment, never in argv)."""
    if not url.database:
        raise BackupError("pg_dump connects directly: give --target URL (for Cloud SQL, through the Cloud SQL "
                          "Auth Proxy); the connector's settings are not a URL it can use")
    socket = url.query.get("unix_sock")
    host = str(socket).rsplit("/", 1)[0] if socket else url.host or "localhost"
    args = ["-h", host, "-U", url.username or "postgres", "-d", url.database]
    if url.port:
        args += ["-p", str(url.port)]
    # The client's own settings go along (TLS: PGSSLMODE and its files; ~/.pgpass through HOME).
    passed = {name: value for name, value in os.environ.items() if name.startswith("PGSSL") or name == "HOME"}
    return args, {**passed, "PGPASSWORD": url.password or "", "PATH": "/usr/bin:/bin"}


def _said(stderr: IO[bytes]) -> str:
    stderr.seek(0)
    return stderr.read().decode(errors="replace").strip()[-2000:]


def backup(url: URL, path: Path, key: bytes) -> None:
    """pg_dump -Fc of the database at ``url`` into ``path``, encrypted; a failed dump leaves no
    file, and an existing backup is never replaced (a rerun after a failed load would otherwise
    keep the half-loaded state as "before")."""
    if path.exists():
        raise BackupError(f"{path} exists: a backup is never replaced; name another file")
    args, env = _connection(url)
    partial = path.with_name(path.name + ".partial")
    # stderr to a file: a pipe nobody reads while stdout streams could fill and stall pg_dump.
    with tempfile.TemporaryFile() as stderr:
        dump = subprocess.Popen([_program("pg_dump"), "-Fc", *args], stdout=subprocess.PIPE, stderr=stderr, env=env)
        try:
            with partial.open("wb") as out:
                encrypt(_chunks(dump.stdout), key, out)
            if dump.wait():
                raise BackupError(f"pg_dump failed: {_said(stderr)}")
            partial.replace(path)
        finally:
            dump.kill()
            dump.wait()
            partial.unlink(missing_ok=True)


def restore(url: URL, path: Path, key: bytes) -> None:
    """The backup at ``path`` back into the database at ``url`` (its objects dropped and made
    again); nothing is applied unless the whole file decrypts."""
    with path.open("rb") as source:  # a first pass: pg_restore reads a stream it cannot take back
        for _ in decrypt(source, key):
            pass
    args, env = _connection(url)
    with tempfile.TemporaryFile() as stderr:
        # One transaction: a restore that fails halfway has dropped nothing.
        restoring = subprocess.Popen([_program("pg_restore"), "--clean", "--if-exists", "--no-owner",
                                      "--single-transaction", "--exit-on-error", *args],
                                     stdin=subprocess.PIPE, stderr=stderr, env=env)
        try:
            with path.open("rb") as source:
                for chunk in decrypt(source, key):
                    restoring.stdin.write(chunk)
            restoring.stdin.close()
        except BrokenPipeError:  # pg_restore stopped reading: its own error says why
            pass
        except BaseException:
            restoring.kill()
            raise
        finally:
            code = restoring.wait()
        if code:
            raise BackupError(f"pg_restore failed: {_said(stderr)}")
