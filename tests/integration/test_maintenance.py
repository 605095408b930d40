"""Maintenance mode: while an operator moves data in, every write through the API answers 503
with Retry-After and changes nothing, reads go on; the switch is the operator's command."""
from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from infra.manifest import REPO
from shared import maintenance
from tests.integration.conftest import snapshot


def _switch(db, until: datetime | None, reason: str | None = "moving Fonana in") -> None:
    db.execute(text("UPDATE platform_state SET maintenance_until = :u, maintenance_reason = :r"),
               {"u": until, "r": reason})
    db.commit()
    maintenance.forget()  # this process's instances read it at once (others within CACHE_SECONDS)


def test_writes_wait_and_reads_go_on(api, people, make_item, db):
    ada = people("artist")
    item = make_item(ada, listed=True, title="Indigo Loom")
    _switch(db, datetime.now(UTC) + timedelta(minutes=10))
    before = snapshot(db)
    for method, path, body in (("patch", "/api/me", {"bio": "new"}), ("post", "/api/items", {"title": "x"}),
                               ("put", f"/api/items/{item['id']}/favorite", None)):
        response = getattr(api, method)(path, token=ada.token, **({"json": body} if body else {}))
        assert response.status_code == 503 and response.content_type == "application/problem+json"
        problem = response.get_json()
        assert problem["code"] == "maintenance" and problem["detail"].endswith(": moving Fonana in")
        assert 500 <= int(response.headers["Retry-After"]) <= 600
    assert snapshot(db) == before
    assert api.get(f"/api/items/{item['id']}").status_code == 200  # reads go on
    assert api.get("/api/me", token=ada.token).status_code == 200

    _switch(db, datetime.now(UTC) - timedelta(seconds=1))  # a switch past its time is off
    assert api.patch("/api/me", token=ada.token, json={"bio": "after"}).status_code == 200


def test_a_database_without_the_switch_takes_writes(api, people, db):
    """Before migration 0022 there is no switch: maintenance is off, not every write a 500."""
    ada = people("artist")
    db.execute(text("ALTER TABLE platform_state RENAME TO platform_state_away"))
    db.commit()
    try:
        maintenance.forget()
        assert api.patch("/api/me", token=ada.token, json={"bio": "still here"}).status_code == 200
    finally:
        db.execute(text("ALTER TABLE platform_state_away RENAME TO platform_state"))
        db.commit()
        maintenance.forget()


def test_the_operator_switches_it_from_the_command_line(db):
    url = db.engine.url.render_as_string(hide_password=False)

    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "infra.datamove", "maintenance", *args, "--target", url],
                              cwd=REPO, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert run("status") == "off\n"
    assert run("on", "--minutes", "5", "--reason", "Fonana").startswith("on: writes answer 503 until ")
    assert run("status").startswith("on until ") and "Fonana" in run("status")
    until = db.execute(text("SELECT maintenance_until FROM platform_state")).scalar_one()
    assert timedelta(minutes=4) < until - datetime.now(UTC) <= timedelta(minutes=5)
    assert run("off") == "off: writes accepted\n" and run("status") == "off\n"
