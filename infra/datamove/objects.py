"""Media references: the stored objects a database's rows name, checked against the
buckets (``verify --media``) and brought in from a legacy store (``copy --media``).

This platform's rows name objects in two buckets (``platform_references``): an upload and a sale's
cleaned original in the uploads bucket; each processed variant in the media bucket, by
name and by public URL; a profile's avatar by public URL. A reference resolves when its
object is in its bucket; an object no row names is an orphan. An upload a person asked for
through the API and has not sent (yet, or ever: its URL expires) is "not uploaded", not
missing: its row names an object that was never promised to exist.

A mapping declares which legacy columns are references (``media:`` in mapping.py): the
load writes each as the name (or public URL) the object gets in the target, and
``copy_referenced`` then copies exactly the objects the target's rows now name, so a row
set aside leaves no orphan behind and copying again copies only what is not there yet.
An object copied into the uploads bucket is announced by GCS like any upload, and the
image-processing function turns it into variants as it does a person's own upload.
"""
from __future__ import annotations

import functools
import mimetypes
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import unquote

from sqlalchemy import text

from infra.datamove.schema import q
from infra.datamove.stream import cursor_rows
from infra.datamove.types import Misfit
from shared.media.public import public_url

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

Role = Literal["uploads", "media"]
ROLES: tuple[Role, ...] = ("uploads", "media")
SHOWN = 20
COPY_THREADS = 8  # copies wait on the network, not the CPU


@dataclass(frozen=True)
class Buckets:
    """The target's two buckets, and the URL prefix clients load the media bucket from."""
    uploads: str
    media: str
    public_base: str  # ends in "/"

    @classmethod
    def configured(cls) -> Buckets:
        from shared.config import get_settings
        from shared.media.public import public_base

        settings = get_settings()
        settings.require("uploads_bucket", "media_bucket")
        return cls(settings.uploads_bucket, settings.media_bucket, public_base())

    def of(self, role: Role) -> str:
        return self.uploads if role == "uploads" else self.media

    def url(self, name: str) -> str:
        return public_url(name, self.public_base)

    def object_of_url(self, url: str) -> str | None:
        """The media bucket's object a public URL names; None for a URL elsewhere."""
        if not url.startswith(self.public_base):
            return None
        return unquote(url[len(self.public_base):].split("?", 1)[0]) or None

    def named(self, value: str | None, url: bool) -> str | None:
        """The object a stored reference names: the value itself, or the object of its public URL."""
        return self.object_of_url(value) if url and value is not None else value


@dataclass(frozen=True)
class Reference:
    """Where rows name objects of one bucket: ``sql`` yields (row key, reference, whether the
    object may never have been sent)."""
    label: str
    role: Role
    sql: str
    url: bool = False  # the reference is the object's public URL, not its name


# Media the API's upload URLs name (shared/media/uploads.py); a migration names its own elsewhere.
API_UPLOADS = "uploads/"
# The prefixes the platform writes under itself: no migration's objects go there.
PLATFORM_PREFIXES = (API_UPLOADS, "originals/", "media/")


def platform_references() -> tuple[Reference, ...]:
    # A pending API upload may never be sent (its URL expires): the object is not owed.
    unsent = f"status = 'pending' AND object_name LIKE '{API_UPLOADS}%'"
    variants = "FROM media m CROSS JOIN LATERAL jsonb_array_elements(m.variants) v"
    return (
        Reference("media.object_name", "uploads",
                  f"SELECT id::text, object_name, {unsent} FROM media WHERE status <> 'rejected'"),
        Reference("media.original_object", "uploads",
                  "SELECT id::text, original_object, false FROM media WHERE original_object IS NOT NULL"),
        Reference("media.variants[].object", "media", f"SELECT m.id::text, v->>'object', false {variants}"),
        Reference("media.variants[].url", "media", f"SELECT m.id::text, v->>'url', false {variants}", url=True),
        Reference("users.avatar_url", "media",
                  "SELECT id::text, avatar_url, false FROM users WHERE avatar_url IS NOT NULL", url=True),
    )


def column_reference(conn: Connection, table: str, column: str, role: Role, url: bool) -> Reference:
    """A mapped column that names objects (``media:`` in a mapping), keyed by the table's primary key."""
    from sqlalchemy import inspect

    key = " || ',' || ".join(f"{q(c)}::text" for c in inspect(conn).get_pk_constraint(table)["constrained_columns"])
    return Reference(f"{table}.{column}", role,
                     f"SELECT {key or 'ctid::text'}, {q(column)}, false FROM {q(table)} WHERE {q(column)} IS NOT NULL",
                     url=url)


def stored_names(client: Any, bucket: str, prefix: str | None = None) -> set[str]:
    return {blob.name for blob in client.list_blobs(bucket, prefix=prefix, fields="items(name),nextPageToken")}


@dataclass(frozen=True)
class Unresolved:
    what: str  # the reference's label
    key: str  # the row's primary key (text)
    reference: str
    problem: str


@dataclass
class MediaCheck:
    counts: dict[str, Counter] = field(default_factory=dict)  # label -> references, resolved, missing, not uploaded
    unresolved: list[Unresolved] = field(default_factory=list)
    objects: dict[str, int] = field(default_factory=dict)
    orphaned: dict[str, list[str]] = field(default_factory=dict)

    @property
    def resolved(self) -> bool:
        return not self.unresolved


def verify_media(engine: Engine, client: Any, buckets: Buckets, extra: Iterable[Reference] = ()) -> MediaCheck:
    """Every reference the rows hold, looked up in its bucket; every object, looked up in the
    references. Memory holds both buckets' names and the names referenced (about 100 bytes
    each: a million pictures with their variants, a few GB): an operator's machine, not a function."""
    stored = {role: stored_names(client, buckets.of(role)) for role in ROLES}
    referenced: dict[Role, set[str]] = {role: set() for role in ROLES}
    check = MediaCheck()
    with engine.begin() as conn:
        for reference in [*platform_references(), *extra]:
            counts = check.counts.setdefault(reference.label, Counter())
            for key, value, unsent in cursor_rows(conn, reference.sql):
                counts["references"] += 1
                name = buckets.named(value, reference.url)
                if name is None:
                    counts["missing"] += 1
                    check.unresolved.append(Unresolved(reference.label, key, value or "",
                                                       f"not a URL of the media bucket ({buckets.public_base})"))
                    continue
                referenced[reference.role].add(name)
                if name in stored[reference.role]:
                    counts["resolved"] += 1
                elif unsent:
                    counts["not uploaded"] += 1
                elif client.bucket(buckets.of(reference.role)).get_blob(name) is not None:
                    counts["resolved"] += 1  # written since the bucket was listed (the platform is live)
                else:
                    counts["missing"] += 1
                    check.unresolved.append(Unresolved(reference.label, key, value,
                                                       f"no object {name!r} in {buckets.of(reference.role)}"))
    for role in ROLES:
        check.objects[role] = len(stored[role])
        check.orphaned[role] = sorted(stored[role] - referenced[role])
    return check


def media_report(check: MediaCheck, buckets: Buckets) -> str:
    lines = [f"{'reference':<28}{'rows':>10}{'resolved':>10}{'missing':>10}{'not uploaded':>14}"]
    for label, counts in check.counts.items():
        lines.append(f"{label:<28}{counts['references']:>10,}{counts['resolved']:>10,}{counts['missing']:>10,}"
                     f"{counts['not uploaded']:>14,}")
    for role in ROLES:
        lines.append(f"bucket {buckets.of(role)} ({role}): {check.objects[role]:,} objects, "
                     f"{len(check.orphaned[role]):,} named by no row")
        lines += [f"  orphaned: {name}" for name in check.orphaned[role][:SHOWN]]
    lines += [f"  missing: {u.what} of {u.key}: {u.problem}" for u in check.unresolved[:SHOWN]]
    if len(check.unresolved) > SHOWN:
        lines.append(f"  ... and {len(check.unresolved) - SHOWN:,} more (--json lists every one)")
    return "\n".join(lines)


def media_json(check: MediaCheck) -> dict:
    return {"resolved": check.resolved, "references": {k: dict(v) for k, v in check.counts.items()},
            "unresolved": [asdict(u) for u in check.unresolved], "objects": check.objects,
            "orphaned": check.orphaned}


# --- bringing objects in ------------------------------------------------------------------

def source_path(reference: str, strip: Iterable[str] = ()) -> str:
    """The path a legacy reference names in the source store: a prefix in ``strip`` (a URL's
    origin, say) taken off, then a relative path with no way out of the store."""
    for prefix in strip:
        if reference.startswith(prefix):
            reference = unquote(reference[len(prefix):].split("?", 1)[0].split("#", 1)[0])
            break
    parts = PurePosixPath(reference).parts
    if (not parts or reference.startswith("/") or "\\" in reference or "://" in reference
            or any(part in (".", "..") for part in parts) or reference != "/".join(parts)
            or any(ord(c) < 32 or c == "\x7f" for c in reference)):
        raise Misfit(f"{reference[:200]!r} is not a relative path in the media source")
    return reference


class Source(Protocol):
    """Where legacy objects are read from: a directory or a bucket."""

    def has(self, path: str) -> bool: ...

    def copy_to(self, path: str, bucket: Any, name: str) -> None: ...


@dataclass(frozen=True)
class DirectorySource:
    root: Path

    def _file(self, path: str) -> Path:
        return self.root / path  # source_path has refused ".." and absolute paths

    def has(self, path: str) -> bool:
        file = self._file(path)  # and a link may not lead out of the directory either
        return file.is_file() and file.resolve().is_relative_to(self.root.resolve())

    def copy_to(self, path: str, bucket: Any, name: str) -> None:
        content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        bucket.blob(name).upload_from_filename(str(self._file(path)), content_type=content_type)


class BucketSource:
    def __init__(self, bucket: Any, prefix: str) -> None:  # bucket: google.cloud.storage.Bucket
        self.bucket, self.prefix = bucket, prefix

    @functools.cached_property
    def _names(self) -> set[str]:
        """Listed once: a lookup per object would be a request per object."""
        return stored_names(self.bucket.client, self.bucket.name, prefix=self.prefix or None)

    def has(self, path: str) -> bool:
        return self.prefix + path in self._names

    def copy_to(self, path: str, bucket: Any, name: str) -> None:
        self.bucket.copy_blob(self.bucket.blob(self.prefix + path), bucket, name)


def open_source(spec: str, client: Any) -> Source:
    """``gs://BUCKET[/PREFIX]`` or a directory."""
    if spec.startswith("gs://"):
        bucket, _, prefix = spec.removeprefix("gs://").partition("/")
        if not bucket:
            raise SystemExit(f"--media {spec!r}: gs://BUCKET[/PREFIX]")
        return BucketSource(client.bucket(bucket), prefix.strip("/") + "/" if prefix.strip("/") else "")
    root = Path(spec)
    if not root.is_dir():
        raise SystemExit(f"--media {spec!r}: no such directory (or give gs://BUCKET[/PREFIX])")
    return DirectorySource(root)


@dataclass(frozen=True)
class MediaColumn:
    """A mapped column whose values name objects: where they go, and the prefix of their names."""
    table: str
    column: str
    role: Role
    url: bool
    under: str

    def stored_prefix(self, buckets: Buckets) -> str:
        return buckets.url(self.under) if self.url else self.under


@dataclass
class Copied:
    copied: int = 0
    there: int = 0  # in the target already
    missing: list[str] = field(default_factory=list)  # referenced, not in the source
    failed: list[str] = field(default_factory=list)  # "path: why", for copies that did not happen


def referenced_values(conn: Connection, column: MediaColumn, buckets: Buckets) -> Iterator[str]:
    """The distinct values of ``column`` that name an object it brought in."""
    prefix = column.stored_prefix(buckets).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    for (value,) in conn.execute(text(f"SELECT DISTINCT {q(column.column)} FROM {q(column.table)} "
                                      f"WHERE {q(column.column)} LIKE :prefix"), {"prefix": prefix + "%"}):
        yield value


def copy_referenced(values: dict[MediaColumn, Iterable[str]], source: Source, client: Any, buckets: Buckets, *,
                    dry_run: bool = False) -> Copied:
    """Each object the values name, copied from ``source`` unless its bucket has it already."""
    wanted: dict[tuple[Role, str], str] = {}  # (role, target name) -> source path
    outcome = Copied()
    for column, column_values in values.items():
        for value in column_values:
            name = buckets.named(value, column.url)
            if name is None or not name.startswith(column.under):
                continue
            try:  # read back from the target, where anyone may have written it since
                wanted[(column.role, name)] = source_path(name[len(column.under):])
            except Misfit as misfit:
                outcome.failed.append(str(misfit))
    there = {role: stored_names(client, buckets.of(role), prefix=_common_prefix(values, role)) for role in ROLES
             if any(r == role for r, _ in wanted)}
    to_copy = []
    for (role, name), path in wanted.items():
        if name in there[role]:
            outcome.there += 1
        elif not source.has(path):
            outcome.missing.append(path)
        else:
            to_copy.append((role, name, path))
    outcome.missing.sort()
    if dry_run:
        outcome.copied = len(to_copy)
        return outcome
    target = {role: client.bucket(buckets.of(role)) for role in ROLES}

    def copy(job: tuple[Role, str, str]) -> str | None:
        role, name, path = job
        try:
            source.copy_to(path, target[role], name)
        except Exception as error:
            return f"{path}: {type(error).__name__}: {str(error)[:200]}"
        return None

    with ThreadPoolExecutor(COPY_THREADS) as pool:
        for failure in pool.map(copy, to_copy):
            if failure is None:
                outcome.copied += 1
            else:
                outcome.failed.append(failure)
    return outcome


def _common_prefix(values: dict[MediaColumn, Any], role: Role) -> str | None:
    """The listing's prefix: what every column into ``role`` names its objects under (a bucket
    lists by string prefix, so a string's common prefix, not a path's)."""
    return os.path.commonprefix([column.under for column in values if column.role == role]) or None  # noqa: RUF071
