"""functions.yaml, the single description of which functions exist and how they run."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MANIFEST = REPO / "functions.yaml"


@dataclass(frozen=True)
class Function:
    name: str
    source: str
    entry_point: str
    http_paths: tuple[str, ...] = ()
    topic: str | None = None
    schedule: str | None = None
    region: str = "europe-west1"
    runtime: str = "python311"
    memory: str = "512Mi"
    timeout: str = "60s"
    max_instances: int = 10
    min_instances: int = 0
    concurrency: int = 1
    # The settings of its own, beyond those its groups give (infra/deployed_config.py).
    env: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    database: bool = True
    # Bucket role (uploads, media) -> the storage role its account holds on it (objectAdmin, ...).
    buckets: dict[str, str] = field(default_factory=dict)
    publishes: tuple[str, ...] = ()
    filter: str | None = None
    # Environment -> caps on the resources above (max_instances), e.g. a small dev database.
    environments: dict[str, dict[str, int]] = field(default_factory=dict)
    # Pub/Sub deliveries of one message before it moves to the dead-letter topic, and the
    # backoff between them (min_backoff, max_backoff: durations such as "10s").
    max_delivery_attempts: int = 10
    retry: dict[str, str] = field(default_factory=lambda: {"min_backoff": "10s", "max_backoff": "600s"})
    # "admin" for a function that deletes Firebase Auth accounts; every HTTP function may read
    # them (the revocation check), and so may an event function with "viewer". Terraform
    # grants the matching role.
    firebase_auth: str | None = None

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.name}-dead-letter"

    @property
    def main(self) -> Path:
        return REPO / self.source / "main.py"

    def serves(self, path: str) -> bool:
        return any(glob_matches(pattern, path) for pattern in self.http_paths)


@dataclass(frozen=True)
class Manifest:
    functions: tuple[Function, ...]
    static_rewrites: dict[str, str]
    # Setting groups (name -> setting names) and the sources of each setting per environment.
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    settings: dict[str, dict] = field(default_factory=dict)
    # Cloud Run jobs (the migration job): configured like functions, without a trigger.
    jobs: tuple[Function, ...] = ()

    def http_functions(self) -> list[Function]:
        return [f for f in self.functions if f.http_paths]

    def function_for(self, path: str) -> Function | None:
        for function in self.http_functions():
            if function.serves(path):
                return function
        return None

    def by_name(self, name: str) -> Function:
        return next(f for f in self.functions if f.name == name)

    def event_functions(self) -> list[Function]:
        return [f for f in self.functions if f.topic]

    def topics(self) -> list[str]:
        """Every topic a function consumes or publishes, and each consumer's dead-letter topic."""
        names = {t for f in self.functions for t in f.publishes}
        for function in self.event_functions():
            names |= {function.topic, function.dead_letter_topic}
        return sorted(names)


_NAME = re.compile(r"^[a-z][a-z0-9-]{0,48}[a-z0-9]$")


@lru_cache(maxsize=4)
def load(path: Path = MANIFEST) -> Manifest:
    import yaml

    raw = yaml.safe_load(path.read_text())
    defaults = raw.get("defaults", {})
    functions = tuple(_function(_merged(defaults, entry)) for entry in raw["functions"])
    names = [f.name for f in functions]
    if len(set(names)) != len(names):
        raise ValueError("function names in functions.yaml must be unique")
    groups = {name: tuple(members) for name, members in raw.get("groups", {}).items()}
    jobs = tuple(_function(_merged(defaults, {"trigger": {}, **entry})) for entry in raw.get("jobs", ()))
    return Manifest(functions, dict(raw.get("static_rewrites", {})), groups, dict(raw.get("settings", {})), jobs)


def _merged(defaults: dict, entry: dict) -> dict:
    """The entry over the defaults; a mapping (retry, environments) merges key by key, so an
    entry that sets one backoff or one environment keeps the defaults' others."""
    merged = {**defaults, **entry}
    for key, value in entry.items():
        if isinstance(value, dict) and isinstance(defaults.get(key), dict) and key != "trigger":
            merged[key] = {**defaults[key], **value}
    return merged


def _function(merged: dict) -> Function:
    if not _NAME.match(merged["name"]):
        raise ValueError(f"function name {merged['name']!r} is not a valid Cloud Run service id")
    trigger = merged.pop("trigger")
    return Function(
        http_paths=tuple(trigger.get("http", ())),
        topic=trigger.get("topic"),
        schedule=trigger.get("schedule"),
        filter=trigger.get("filter"),
        env=tuple(merged.pop("env", ())),
        uses=tuple(merged.pop("uses", ())),
        publishes=tuple(merged.pop("publishes", ())),
        **merged,
    )


def glob_regex(pattern: str) -> str:
    """Firebase Hosting's glob semantics for a rewrite source (``*`` is one path segment,
    ``**`` any number of them) as an anchored regular expression in the syntax both Python
    and Hosting's RE2 read. firebase.json routes by these: a glob, as the Hosting emulator
    matches it, skips path segments that begin with a dot."""
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("/**", i):
            regex += "(?:/.*)?"
            i += 3
        elif pattern[i] == "*":
            regex += "[^/]*"
            i += 1
        else:
            regex += re.escape(pattern[i])
            i += 1
    return f"^{regex}$"


def glob_matches(pattern: str, path: str) -> bool:
    return re.fullmatch(glob_regex(pattern), path, flags=re.DOTALL) is not None
