"""Cold start: reads answer on SQLAlchemy Core, and a fresh instance serving only reads
never imports the ORM (decision 0016). Each function runs in a fresh interpreter, as
a new Cloud Run instance would, against the real database and Auth emulator."""
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from infra.manifest import REPO, load


def _in_fresh_instance(function: str, script: str, token: str | None) -> object:
    """What ``script`` prints (JSON) after a fresh interpreter imported the function; ``get(path)`` and
    ``post(path, body)`` call its entry point, signed in with ``token`` if one is given."""
    main = next(f.main for f in load().functions if f.name == function)
    code = (
        "import importlib.util, json, sys\n"
        "from werkzeug.test import EnvironBuilder\n"
        "from werkzeug.wrappers import Request\n"
        f"spec = importlib.util.spec_from_file_location('main', {str(main)!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        f"headers = {({'Authorization': f'Bearer {token}'} if token else {})!r}\n"
        "def get(path):\n"
        "    return module.handle(Request(EnvironBuilder(path=path, headers=headers).get_environ())).status_code\n"
        "def post(path, body):\n"
        "    builder = EnvironBuilder(path=path, method='POST', json=body, headers=headers)\n"
        "    return module.handle(Request(builder.get_environ())).status_code\n"
        f"{script}"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@pytest.fixture
def world(api, people, make_proposal, make_item, db):
    """One of each thing a read can show: a published proposal, a listed item with an
    auction, a processed image."""
    artist = people("artist", name="Ada")
    proposal = make_proposal(artist, publish=True)
    item = make_item(artist, listed=True)
    response = api.post(f"/api/items/{item['id']}/auctions", token=artist.token,
                        json={"ends_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
                              "starting_price": "1000", "min_increment": "100"})
    assert response.status_code == 201, response.get_data(as_text=True)
    media_id = uuid.uuid4()
    db.execute(text("INSERT INTO media (id, owner_id, purpose, object_name, declared_type, max_bytes, status) "
                    "VALUES (:id, :owner, 'avatar', :name, 'image/png', 1, 'ready')"),
               {"id": media_id, "owner": artist.id, "name": f"uploads/{media_id}"})
    db.commit()
    return {"artist": artist, "proposal": proposal["id"], "item": item["id"],
            "auction": response.get_json()["id"], "media": media_id}


READS = {
    "registration": ["/api/users/{artist.id}", "/api/me"],
    "proposals": ["/api/proposals?limit=5", "/api/proposals/{proposal}", "/api/proposals/{proposal}/fundings",
                  "/api/chain/status"],
    "marketplace": ["/api/items?limit=5", "/api/items/{item}", "/api/items/{item}/auctions",
                    "/api/auctions/{auction}", "/api/auctions/{auction}/bids", "/api/categories", "/api/tags",
                    "/api/search?q=loom"],
    "media": ["/api/media/{media}"],
    "network": ["/api/network/ego", "/api/network/people-you-may-know"],
}
SIGNED_IN_ONLY = {"/api/me"}


CASES = [(function, signed_in) for function in READS for signed_in in (False, True)
         if signed_in or function != "network"]  # the network answers signed-in users only


@pytest.mark.parametrize(("function", "signed_in"), CASES,
                         ids=[f"{f}-{'signed-in' if s else 'anonymous'}" for f, s in CASES])
def test_reads_answer_without_the_orm(world, function, signed_in):
    paths = [path.format(**world) for path in READS[function] if signed_in or path not in SIGNED_IN_ONLY]
    statuses, orm_loaded = _in_fresh_instance(
        function, f"print(json.dumps([{{p: get(p) for p in {paths!r}}}, 'sqlalchemy.orm' in sys.modules]))\n",
        world["artist"].token if signed_in else None)
    assert statuses == dict.fromkeys(paths, 200)
    assert orm_loaded is False


def test_a_write_after_reads_still_works_through_the_orm(world, db):
    """The ORM joins the request's transaction on the first write of an instance."""
    script = (
        "read = get('/api/proposals')\n"
        "before = 'sqlalchemy.orm' in sys.modules\n"
        "body = {'title': 'Second', 'goal': '5', 'currency': 'ETH', 'deadline': '2100-01-01T00:00:00+00:00'}\n"
        "print(json.dumps([read, before, post('/api/proposals', body), 'sqlalchemy.orm' in sys.modules]))\n"
    )
    assert _in_fresh_instance("proposals", script, world["artist"].token) == [200, False, 201, True]
    assert db.execute(text("SELECT count(*) FROM proposals WHERE title = 'Second'")).scalar() == 1


def test_an_empty_auction_close_tick_loads_neither_the_orm_nor_the_api_models(app_env):
    """Nothing due, no money pending: neither the ORM, the API models nor the payment library load."""
    script = ("from shared.market.auction_close import run\n"
              "def no_gateway():\n"
              "    raise AssertionError('no payment to touch')\n"
              "print(json.dumps([run(no_gateway, 1000), 'sqlalchemy.orm' in sys.modules,\n"
              "                  'shared.market.auctions' in sys.modules, 'stripe' in sys.modules]))\n")
    assert _in_fresh_instance("auction-close", script, None) == [[], False, False, False]


def test_a_notification_with_nothing_to_process_is_recorded_without_the_orm(app_env, db):
    """image-processing's most frequent event: an object with no pending upload behind it."""
    script = (
        "import base64\n"
        "from cloudevents.http import CloudEvent\n"
        "data = {'bucket': 'uploads', 'name': 'uploads/none', 'generation': '7', 'size': '1'}\n"
        "message = {'data': base64.b64encode(json.dumps(data).encode()).decode(),\n"
        "           'attributes': {'eventType': 'OBJECT_FINALIZE'}}\n"
        "module.handle(CloudEvent({'type': 'google.cloud.pubsub.topic.v1.messagePublished', 'source': 'test'},\n"
        "                         {'message': message}))\n"
        "print(json.dumps('sqlalchemy.orm' in sys.modules))\n"
    )
    try:
        assert _in_fresh_instance("image-processing", script, None) is False
        recorded = db.execute(text("SELECT count(*) FROM processed_events WHERE consumer = 'image-processing'"))
        assert recorded.scalar() == 1
    finally:
        db.execute(text("DELETE FROM processed_events WHERE consumer = 'image-processing'"))
        db.commit()
