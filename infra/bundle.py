"""Build each function's deployable source archive, deterministically.

An archive holds the function's ``main.py`` (and any other file of its folder), its
own ``requirements.txt`` and the ``shared/`` library, at the root where Cloud Functions'
Python build expects them. The function's requirements pin only what it imports; the
archive adds the repository's ``constraints.txt`` and a ``-c`` line naming it, so the
build installs every transitive dependency at the version CI tested, not the newest.
Entries are sorted and carry a fixed timestamp and mode, so the same sources give
byte-identical archives: Terraform names the uploaded object by the archive's hash, and
an unchanged function is not redeployed.

    python -m infra.bundle [--out build/bundles] [function ...]
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from shared.manifest import load  # noqa: E402

EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
MODE = 0o100644 << 16  # a regular file, rw-r--r--
SKIPPED = {"__pycache__", ".pytest_cache", ".ruff_cache"}
# Parts of shared/ no function imports: the data-migration tool.
NOT_DEPLOYED = ("shared/datamove/",)


def _files(root: Path, prefix: str) -> Iterable[tuple[str, Path]]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not SKIPPED & set(path.relative_to(root).parts) and path.suffix != ".pyc":
            yield f"{prefix}{path.relative_to(root).as_posix()}", path


CONSTRAINTS = "constraints.txt"
# pip reads a -c path inside a requirements file relative to that file: both sit at the root.
PINNED_TRANSITIVELY = f"\n# Everything else at the repository's pins (infra/bundle.py).\n-c {CONSTRAINTS}\n".encode()


def entries(function_source: Path) -> list[tuple[str, bytes]]:
    """(name in the archive, content) for one function, sorted by name."""
    chosen = {name: path.read_bytes() for name, path in _files(REPO / function_source, "")}
    chosen.update((name, path.read_bytes()) for name, path in _files(REPO / "shared", "shared/")
                  if not name.startswith(NOT_DEPLOYED))
    chosen["requirements.txt"] = chosen["requirements.txt"].rstrip(b"\n") + b"\n" + PINNED_TRANSITIVELY
    chosen[CONSTRAINTS] = (REPO / CONSTRAINTS).read_bytes()
    return sorted(chosen.items())


def build(function_source: Path, target: Path) -> str:
    """Write the archive; returns its SHA-256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w") as archive:
        for name, content in entries(function_source):
            info = zipfile.ZipInfo(name, date_time=EPOCH)
            info.external_attr = MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content, compresslevel=9)
    return hashlib.sha256(target.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "build" / "bundles", help="where the archives go")
    parser.add_argument("functions", nargs="*", help="function names (default: all in functions.yaml)")
    args = parser.parse_args(argv)
    manifest = load()
    names = args.functions or [f.name for f in manifest.functions]
    unknown = sorted(set(names) - {f.name for f in manifest.functions})
    if unknown:
        parser.error(f"not in functions.yaml: {', '.join(unknown)}")
    for name in names:
        digest = build(Path(manifest.by_name(name).source), args.out / f"{name}.zip")
        print(f"{name:<20} {digest[:16]}  {args.out / f'{name}.zip'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
