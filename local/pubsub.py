"""Pub/Sub locally: the Cloud SDK emulator, provisioned from functions.yaml exactly as
Terraform provisions the cloud (topics, push subscriptions with retry and dead-letter
policies, a pull subscription on each dead-letter topic to inspect it)."""
from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from infra.manifest import Manifest
from local.processes import Child, port_open, spawn

_SDK_EMULATOR = "platform/pubsub-emulator/bin/cloud-pubsub-emulator"


def push_body(data: dict, **attributes: str) -> dict:
    """A JSON message as a Pub/Sub push subscription delivers it to an event function."""
    return {"subscription": "projects/local/subscriptions/push",
            "message": {"data": base64.b64encode(json.dumps(data).encode()).decode(), "messageId": "1",
                        "publishTime": "2026-11-22T00:00:00Z", "attributes": attributes}}


def sdk_file(relative: str) -> Path | None:
    """A file of the installed Cloud SDK (an emulator's launcher), if there is one."""
    roots = [os.environ.get("CLOUDSDK_ROOT_DIR"), "/usr/lib/google-cloud-sdk"]
    gcloud = shutil.which("gcloud")
    if gcloud:
        roots.append(str(Path(os.path.realpath(gcloud)).parent.parent))
    for root in filter(None, roots):
        candidate = Path(root) / relative
        if candidate.exists():
            return candidate
    return None


def emulator_binary() -> Path | None:
    """The Pub/Sub emulator script of the installed Cloud SDK, if there is one."""
    return sdk_file(_SDK_EMULATOR)


def start_emulator(port: int, workdir: Path) -> Child:
    binary = emulator_binary()
    if binary is None:
        raise RuntimeError("the Cloud SDK Pub/Sub emulator is not installed")
    # Started directly: killing a `gcloud beta emulators` wrapper would orphan the JVM.
    child = spawn("pubsub-emulator", [str(binary), "--host=127.0.0.1", f"--port={port}"],
                  env={**os.environ}, log_dir=workdir)
    child.wait_until(lambda: port_open(port), 30)
    return child


def inspect_subscription(dead_letter_topic: str) -> str:
    """The pull subscription on a dead-letter topic: named like the topic, as Terraform names it
    (pubsub.tf), so `python -m infra.replay` finds it in both places."""
    return dead_letter_topic


@contextmanager
def emulator_env(host: str) -> Iterator[None]:
    """google-cloud-pubsub finds the emulator through this variable at client creation."""
    saved = os.environ.get("PUBSUB_EMULATOR_HOST")
    os.environ["PUBSUB_EMULATOR_HOST"] = host
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PUBSUB_EMULATOR_HOST", None)
        else:
            os.environ["PUBSUB_EMULATOR_HOST"] = saved


def create_push_subscription(host: str, project: str, *, topic: str, name: str, push_url: str,
                             dead_letter_topic: str, max_delivery_attempts: int,
                             min_backoff: int = 1, max_backoff: int = 10) -> None:
    """A push subscription with retry backoff and a dead-letter policy, as in the cloud."""
    from google.cloud import pubsub_v1
    from google.protobuf import duration_pb2
    from google.pubsub_v1.types import DeadLetterPolicy, PushConfig, RetryPolicy

    with emulator_env(host):
        subscriber = pubsub_v1.SubscriberClient()
    _create(
        subscriber.create_subscription,
        name=subscriber.subscription_path(project, name),
        topic=f"projects/{project}/topics/{topic}",
        push_config=PushConfig(push_endpoint=push_url),
        ack_deadline_seconds=60,
        dead_letter_policy=DeadLetterPolicy(dead_letter_topic=f"projects/{project}/topics/{dead_letter_topic}",
                                            max_delivery_attempts=max_delivery_attempts),
        retry_policy=RetryPolicy(minimum_backoff=duration_pb2.Duration(seconds=min_backoff),
                                 maximum_backoff=duration_pb2.Duration(seconds=max_backoff)),
    )


def _create(call, **request) -> None:
    from google.api_core.exceptions import AlreadyExists

    try:
        call(request=request)
    except AlreadyExists:
        pass


def create_topics(host: str, project: str, topics: list[str]) -> None:
    """Topics, and for each ``*-dead-letter`` topic a pull subscription to inspect it."""
    from google.cloud import pubsub_v1

    with emulator_env(host):
        publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    for topic in topics:
        _create(publisher.create_topic, name=publisher.topic_path(project, topic))
        if topic.endswith("-dead-letter"):
            _create(subscriber.create_subscription, topic=publisher.topic_path(project, topic),
                    name=subscriber.subscription_path(project, inspect_subscription(topic)))


def emulator_publish(host: str, project: str) -> Callable[..., None]:
    """A plain publish(topic, data, attributes) against the emulator."""
    from google.cloud import pubsub_v1

    with emulator_env(host):
        publisher = pubsub_v1.PublisherClient()

    def publish(topic: str, data: bytes, attributes: dict[str, str] | None = None) -> None:
        publisher.publish(publisher.topic_path(project, topic), data, **(attributes or {})).result(timeout=10)

    return publish


def provision(host: str, project: str, manifest: Manifest, push_urls: dict[str, str]) -> None:
    """Every topic of the manifest and, for each event function with a URL, its push subscription."""
    create_topics(host, project, manifest.topics())
    for function in manifest.event_functions():
        if function.name in push_urls:
            create_push_subscription(host, project, topic=function.topic, name=f"{function.topic}-{function.name}",
                                     push_url=push_urls[function.name], dead_letter_topic=function.dead_letter_topic,
                                     max_delivery_attempts=function.max_delivery_attempts)
