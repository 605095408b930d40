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
    memory: str = "512Mi"
    timeout: str = "60s"
    max_instances: int = 10
    min_instances: int = 0
    concurrency: int = 1
    env: tuple[str, ...] = ()
    secrets: tuple[str, ...] = field(default_factory=tuple)
    publishes: tuple[str, ...] = ()
    # Pub/Sub deliveries of one message before it moves to the dead-letter topic.
    max_delivery_attempts: int = 5
    # "admin" for a function that deletes Firebase Auth accounts; every HTTP function
    # may read them (the revocation check). Terraform grants the matching role.
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
    functions = []
    for entry in raw["functions"]:
        merged = {**defaults, **entry}
        if not _NAME.match(merged["name"]):
            raise ValueError(f"function name {merged['name']!r} is not a valid Cloud Run service id")
        trigger = merged.pop("trigger")
        merged.pop("runtime", None)
        functions.append(
            Function(
                http_paths=tuple(trigger.get("http", ())),
                topic=trigger.get("topic"),
                schedule=trigger.get("schedule"),
                env=tuple(merged.pop("env", ())),
                secrets=tuple(merged.pop("secrets", ())),
                publishes=tuple(merged.pop("publishes", ())),
                **merged,
            )
        )
    names = [f.name for f in functions]
    if len(set(names)) != len(names):
        raise ValueError("function names in functions.yaml must be unique")
    return Manifest(tuple(functions), dict(raw.get("static_rewrites", {})))


def glob_matches(pattern: str, path: str) -> bool:
    """Firebase Hosting's glob semantics for rewrite sources: ``*`` is one path
    segment, ``**`` any number of segments."""
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
    return re.fullmatch(regex, path) is not None
