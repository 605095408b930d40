"""Build each function's deployable source archive, deterministically.

An archive holds the function's ``main.py`` (and any other file of its folder), its
own ``requirements.txt`` and the modules of the ``shared/`` library that the function
imports (with their packages' ``__init__``), at the root where Cloud Functions' Python
build expects them. Which modules those are is computed from the import statements,
followed from ``main.py`` through every module they reach, lazy imports inside functions
included and imports only for type checkers (``if TYPE_CHECKING:``) left out. The function's requirements pin only what it imports; the
archive adds the repository's ``constraints.txt`` and a ``-c`` line naming it, so the
build installs every transitive dependency at the version CI tested, not the newest.
Entries are sorted and carry a fixed timestamp and mode, so the same sources give
byte-identical archives: Terraform names the uploaded object by the archive's hash, and
an unchanged function is not redeployed.

    python -m infra.bundle [--out build/bundles] [function ...]
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from infra.manifest import load  # noqa: E402

EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
MODE = 0o100644 << 16  # a regular file, rw-r--r--
SKIPPED = {"__pycache__", ".pytest_cache", ".ruff_cache"}
LIBRARY = "shared"
VENVS = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kalakrut" / "venvs"


def _files(root: Path, prefix: str) -> Iterable[tuple[str, Path]]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not SKIPPED & set(path.relative_to(root).parts) and path.suffix != ".pyc":
            yield f"{prefix}{path.relative_to(root).as_posix()}", path


CONSTRAINTS = "constraints.txt"
# pip reads a -c path inside a requirements file relative to that file: both sit at the root.
PINNED_TRANSITIVELY = f"\n# Everything else at the repository's pins (infra/bundle.py).\n-c {CONSTRAINTS}\n".encode()


def _module_file(module: str) -> Path | None:
    """The file of a module of the library (a package's ``__init__.py``), None if it is none."""
    base = REPO.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported(tree: ast.AST) -> Iterable[str]:
    """Every library module an import statement of ``tree`` names, outside TYPE_CHECKING blocks."""
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            # ``from shared.pkg import name``: name may be a submodule (a file) or an attribute.
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        pending.extend(ast.iter_child_nodes(node))


def library_modules(main: Path) -> list[Path]:
    """The library's files that ``main`` needs at run time, with every enclosing package."""
    seen: dict[str, Path] = {}
    queue = [main]
    while queue:
        source = queue.pop()
        for name in _imported(ast.parse(source.read_text(), str(source))):
            if name.split(".")[0] != LIBRARY:
                continue
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):
                module = ".".join(parts[:depth])
                if module in seen:
                    continue
                path = _module_file(module)
                if path is not None:
                    seen[module] = path
                    queue.append(path)
    return sorted(seen.values())


def entries(function_source: Path) -> list[tuple[str, bytes]]:
    """(name in the archive, content) for one function, sorted by name."""
    chosen = {name: path.read_bytes() for name, path in _files(REPO / function_source, "")}
    chosen.update((path.relative_to(REPO).as_posix(), path.read_bytes())
                  for path in library_modules(REPO / function_source / "main.py"))
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


def unpack(function_source: Path, target: Path) -> Path:
    """The archive's entries as files under ``target`` (emptied first), as Cloud Build
    unpacks the uploaded source: what the local stack runs."""
    shutil.rmtree(target, ignore_errors=True)
    for name, content in entries(function_source):
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return target


def venv_for(requirements: Path, constraints: Path = REPO / CONSTRAINTS) -> Path:
    """The bin directory of a venv with exactly ``requirements`` (transitive pins from
    ``constraints``), as a deployed build installs them; built on first use and kept.

    Several processes may ask at once (the stack, an e2e test, the bench): one builds under a
    lock while the others wait for it. (A venv cannot be built aside and renamed into place:
    its scripts name their interpreter by absolute path.)
    """
    import fcntl

    identity = requirements.read_bytes() + constraints.read_bytes() + sys.version.encode()
    venv = VENVS / hashlib.sha256(identity).hexdigest()[:16]
    VENVS.mkdir(parents=True, exist_ok=True)
    with (VENVS / f"{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / "complete").exists():
            print(f"building a venv for {requirements} in {venv}", flush=True)
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                            "-r", str(requirements), "-c", str(constraints)], check=True)
            (venv / "complete").touch()
    return venv / "bin"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "build" / "bundles", help="where the archives go")
    parser.add_argument("--venvs", action="store_true",
                        help="instead: build (or find) the venv each function's bundle installs into, as the "
                             "local stack runs it (make install does, so no test waits for pip)")
    parser.add_argument("functions", nargs="*", help="function names (default: all in functions.yaml)")
    args = parser.parse_args(argv)
    manifest = load()
    names = args.functions or [f.name for f in manifest.functions]
    unknown = sorted(set(names) - {f.name for f in manifest.functions})
    if unknown:
        parser.error(f"not in functions.yaml: {', '.join(unknown)}")
    for name in names:
        if args.venvs:
            bundle = unpack(Path(manifest.by_name(name).source), args.out / "unpacked" / name)
            print(f"{name:<20} {venv_for(bundle / 'requirements.txt', bundle / 'constraints.txt')}")
            continue
        digest = build(Path(manifest.by_name(name).source), args.out / f"{name}.zip")
        print(f"{name:<20} {digest[:16]}  {args.out / f'{name}.zip'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
