"""Dead letters are not the end: `python -m infra.replay FUNCTION` moves a consumer's parked
messages back to its topic, attributes intact, and leaves nothing parked."""
from __future__ import annotations

import subprocess
import sys

from infra.manifest import REPO, load
from tests.conftest import PROJECT
from tests.support.pubsub import Observer, envelope, publish

DEAD = {"CloudPubSubDeadLetterSourceDeliveryCount": "10",
        "CloudPubSubDeadLetterSourceSubscription": "domain-events-graph-etl"}


def test_replay_moves_dead_letters_back_to_their_topic(pubsub_emulator):
    function = load().by_name("graph-etl")
    parked = [envelope(n=n) for n in range(3)]
    for event in parked:
        publish(pubsub_emulator, function.dead_letter_topic, event.model_dump_json().encode(),
                event_id=str(event.event_id), type=event.type, **DEAD)
    topic = Observer(pubsub_emulator, function.topic)
    try:
        env = {"PATH": "/usr/bin:/bin", "PUBSUB_EMULATOR_HOST": pubsub_emulator, "PYTHONPATH": str(REPO)}
        run = [sys.executable, "-m", "infra.replay", function.name, "--project", PROJECT]
        assert "found 3" in subprocess.run([*run, "--dry-run"], env=env, capture_output=True, text=True,
                                           check=True).stdout
        assert "replayed 3" in subprocess.run(run, env=env, capture_output=True, text=True, check=True).stdout
        back = topic.pull(expect=3)
        assert sorted(m.data for m in back) == sorted(e.model_dump_json().encode() for e in parked)
        for message in back:
            assert message.attributes["event_id"] and message.attributes["type"] == "test.happened"
            assert not set(DEAD) & set(message.attributes)
        # Nothing stays parked: a second replay finds nothing.
        assert "replayed 0" in subprocess.run(run, env=env, capture_output=True, text=True, check=True).stdout
    finally:
        topic.close()
