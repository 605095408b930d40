"""Notifications: the events of bids, closes, follows and orders reach the inbox of each person
they concern, once, through the notifications function as Pub/Sub pushes them; emails go
through a real SMTP server (local/smtp.py) to verified addresses only; nobody reads another's."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from shared.notifications import mail
from tests.integration.conftest import event_function_client, event_push
from tests.integration.test_auctions import _wait_past, bid, close_due, open_auction  # noqa: F401  (a fixture)


@pytest.fixture(scope="session")
def notifier(app_env):
    """The notifications function."""
    return event_function_client("notifications")


@pytest.fixture
def cast(people, auth_emulator):
    cast = {"seller": people("artist", name="Seller"), "ann": people("collector", name="Ann"),
            "ben": people("investor", name="Ben")}
    for person in cast.values():
        auth_emulator.verify_email(person.uid)
    return cast


def deliver(notifier, db) -> int:
    """Push every event in the outbox to the function, as the topic's subscription would."""
    db.rollback()
    envelopes = db.execute(text("SELECT envelope FROM outbox ORDER BY id")).scalars().all()
    for envelope in envelopes:
        response = notifier.post("/", json=event_push(envelope))
        assert response.status_code == 200, response.get_data(as_text=True)
    return len(envelopes)


def inbox(api, person, **query) -> dict:
    response = api.get("/api/me/notifications", token=person.token, query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def mail_to(smtp_sink, person) -> list[str]:
    return [message["Subject"] for message in smtp_sink.messages() if message["To"] == person.email]


def test_an_auction_tells_each_party_its_part_once(api, cast, open_auction, notifier, db, smtp_sink):
    seller, ann, ben = cast["seller"], cast["ann"], cast["ben"]
    auction = open_auction(ends_in=4, extension=0, title="Ochre textile")
    assert bid(api, ann, auction, 1000).status_code == 201
    assert bid(api, ben, auction, 1100).status_code == 201
    deliver(notifier, db)

    outbid = inbox(api, ann)
    assert [(n["kind"], n["title"], n["data"]["amount"]) for n in outbid["items"]] == [
        ("outbid", "You were outbid on “Ochre textile”", "1100")]
    assert outbid["unread_count"] == 1 and outbid["items"][0]["subject_id"] == auction["id"]
    # The seller hears of each bid's amount, never of its bidder.
    received = inbox(api, seller)["items"]
    assert sorted(n["data"]["amount"] for n in received) == ["1000", "1100"]
    assert all(n["kind"] == "bid_received" and ann.id not in str(n) and ben.id not in str(n) for n in received)
    assert inbox(api, ben)["items"] == []
    assert mail_to(smtp_sink, ann) == ["You were outbid on “Ochre textile”"]
    assert mail_to(smtp_sink, seller) == []  # bid_received emails only if the seller turns it on

    _wait_past(auction["ends_at"])
    close_due()
    deliver(notifier, db)  # every event again, the bids' too: nothing is told twice
    # The winner's card was charged at the close: the order it made is paid, and both sides hear of it.
    assert [n["title"] for n in inbox(api, ben)["items"]] == [
        "Your order of “Ochre textile” is paid", "You won “Ochre textile”"]
    assert [n["kind"] for n in inbox(api, ann)["items"]] == ["auction_lost", "outbid"]
    assert [n["title"] for n in inbox(api, seller)["items"][:2]] == [
        "“Ochre textile” sold: an order to fulfil", "Your auction of “Ochre textile” sold"]
    assert mail_to(smtp_sink, ann) == ["You were outbid on “Ochre textile”"]  # losing emails only if chosen
    assert mail_to(smtp_sink, ben) == ["You won “Ochre textile”", "Your order of “Ochre textile” is paid"]
    assert mail_to(smtp_sink, seller) == ["Your auction of “Ochre textile” sold", "“Ochre textile” sold: an order to fulfil"]
    db.rollback()
    assert db.execute(text("SELECT count(*) FROM notifications WHERE email_status = 'pending'")).scalar_one() == 0


def test_bidders_and_watchers_hear_once_that_an_auction_ends_soon(api, cast, people, open_auction, notifier, db):
    seller, ann, ben = cast["seller"], cast["ann"], cast["ben"]
    ending = open_auction(ends_in=600, title="Night Market Print")
    later = open_auction(ends_in=3600, title="Harbour Study")
    assert bid(api, ann, ending, 1000).status_code == 201
    assert bid(api, ann, later, 1000).status_code == 201
    assert api.put(f"/api/items/{ending['item_id']}/favorite", token=ben.token).status_code == 200
    assert close_due() == [] and close_due() == []  # two ticks: announced once
    deliver(notifier, db)
    for person in (ann, ben):
        told = [n for n in inbox(api, person)["items"] if n["kind"] == "auction_ending"]
        assert [(n["title"], n["subject_id"]) for n in told] == [("Bidding on “Night Market Print” ends soon", ending["id"])]
    assert all(n["kind"] == "bid_received" for n in inbox(api, seller)["items"])
    db.rollback()
    assert db.execute(text("SELECT count(*) FROM outbox WHERE type = 'auction.ending_soon'")).scalar_one() == 1


def test_marking_read_is_the_callers_own(api, cast, open_auction, notifier, db):
    seller, ann = cast["seller"], cast["ann"]
    auction = open_auction()
    for amount in (1000, 1100, 1200):
        assert bid(api, ann, auction, amount).status_code == 201
    deliver(notifier, db)
    first, *rest = inbox(api, seller)["items"]
    # Someone else's ids change nothing; the owner's own mark is idempotent.
    assert api.post("/api/me/notifications/read", token=ann.token, json={"ids": [first["id"]]}).get_json() == {
        "unread_count": 0}
    assert inbox(api, seller)["unread_count"] == 3
    for _ in range(2):
        marked = api.post("/api/me/notifications/read", token=seller.token, json={"ids": [first["id"]]})
        assert marked.status_code == 200 and marked.get_json() == {"unread_count": 2}
    unread = inbox(api, seller, unread="true")
    assert [n["id"] for n in unread["items"]] == [n["id"] for n in rest]
    page = inbox(api, seller, limit=2)
    assert len(page["items"]) == 2 and page["next_cursor"]
    assert [n["id"] for n in inbox(api, seller, limit=2, cursor=page["next_cursor"])["items"]] == [rest[-1]["id"]]
    assert api.post("/api/me/notifications/read-all", token=seller.token).get_json() == {"unread_count": 0}
    for body in ({}, {"all": True}, {"ids": []}, {"ids": ["not-an-id"]}):
        assert api.post("/api/me/notifications/read", token=seller.token, json=body).status_code == 422


def test_preferences_decide_what_is_kept_and_mailed(api, cast, people, open_auction, notifier, db, smtp_sink):
    seller, ann = cast["seller"], cast["ann"]
    unverified = people("collector", name="Una")
    defaults = api.get("/api/me/notification-preferences", token=seller.token).get_json()["items"]
    assert {p["kind"]: (p["enabled"], p["email"]) for p in defaults}["bid_received"] == (True, False)
    changed = api.put("/api/me/notification-preferences", token=seller.token,
                      json={"items": [{"kind": "bid_received", "enabled": False, "email": False}]})
    assert changed.status_code == 200
    assert {p["kind"]: p["enabled"] for p in changed.get_json()["items"]}["bid_received"] is False
    api.put("/api/me/notification-preferences", token=ann.token,
            json={"items": [{"kind": "outbid", "enabled": True, "email": False}]})
    assert api.put("/api/me/notification-preferences", token=ann.token,
                   json={"items": [{"kind": "everything", "enabled": True, "email": True}]}).status_code == 422

    auction = open_auction()
    for person, amount in ((ann, 1000), (unverified, 1100), (ann, 1200)):
        assert bid(api, person, auction, amount).status_code == 201
    deliver(notifier, db)
    assert inbox(api, seller)["items"] == []  # turned off: nothing kept
    assert [n["kind"] for n in inbox(api, ann)["items"]] == ["outbid"]
    assert mail_to(smtp_sink, ann) == []  # kept, not mailed
    assert [n["kind"] for n in inbox(api, unverified)["items"]] == ["outbid"]
    assert mail_to(smtp_sink, unverified) == []  # no verified address: never mailed
    db.rollback()
    assert db.execute(text("SELECT email_status, email_error FROM notifications n JOIN users u ON u.id = n.user_id "
                           "WHERE u.id = :id"), {"id": unverified.id}).one() == ("skipped", "no verified email address")


def test_a_mail_server_that_is_down_is_retried_until_it_takes_the_mail(api, cast, notifier, db, smtp_sink):
    from shared.config import get_settings
    from shared.identity.accounts import FirebaseAccounts

    ann, ben = cast["ann"], cast["ben"]
    assert api.post(f"/api/users/{ben.id}/follow", token=ann.token).status_code == 204
    api.put("/api/me/notification-preferences", token=ben.token,
            json={"items": [{"kind": "new_follower", "enabled": True, "email": True}]})
    db.rollback()
    event_id = db.execute(text("SELECT event_id FROM outbox WHERE type = 'follow.created'")).scalar_one()
    settings = get_settings()
    lookup = FirebaseAccounts(settings.google_cloud_project, emulator_host=settings.firebase_auth_emulator_host).lookup
    down = mail.SmtpMailer("127.0.0.1", _closed_port(), starttls=False)

    from shared.db import work
    from shared.events.envelope import EventEnvelope
    from shared.notifications.notices import record

    envelope = EventEnvelope.model_validate(db.execute(text("SELECT envelope FROM outbox WHERE event_id = :id"),
                                                       {"id": event_id}).scalar_one())
    with work() as unit:
        record(unit.connection, envelope)
    with pytest.raises(mail.MailUnavailable):
        mail.deliver(event_id, down, lookup, sender="n@kalakrut.test", app_url="https://kalakrut.test")
    assert inbox(api, ben)["items"][0]["title"] == "Ann followed you"  # the inbox does not wait for the mail
    assert mail_to(smtp_sink, ben) == []
    deliver(notifier, db)  # Pub/Sub's redelivery, the server up again
    assert mail_to(smtp_sink, ben) == ["Ann followed you"]
    deliver(notifier, db)
    assert mail_to(smtp_sink, ben) == ["Ann followed you"]


def test_a_follow_made_again_is_not_news_while_unread_and_erasure_empties_the_inbox(api, cast, people, notifier, db):
    ann, ben = cast["ann"], cast["ben"]
    cleo = people("collector", name="Cleo")
    for _ in range(2):
        assert api.post(f"/api/users/{ben.id}/follow", token=ann.token).status_code == 204
        assert api.delete(f"/api/users/{ben.id}/follow", token=ann.token).status_code == 204
    assert api.post(f"/api/users/{ben.id}/follow", token=cleo.token).status_code == 204
    deliver(notifier, db)
    told = inbox(api, ben)["items"]
    assert [(n["kind"], n["subject_id"], n["data"]) for n in told] == [
        ("new_follower", cleo.id, {"display_name": "Cleo"}), ("new_follower", ann.id, {"display_name": "Ann"})]
    # Cleo's erasure takes the notice that named her from Ben's inbox; Ben's, his whole inbox.
    assert api.delete("/api/me", token=cleo.token).status_code == 204
    deliver(notifier, db)
    assert [n["subject_id"] for n in inbox(api, ben)["items"]] == [ann.id]
    assert api.delete("/api/me", token=ben.token).status_code == 204
    deliver(notifier, db)
    db.rollback()
    assert db.execute(text("SELECT count(*) FROM notifications WHERE user_id = :id"), {"id": ben.id}).scalar_one() == 0


def test_an_event_no_one_hears_of_is_acknowledged(cast, notifier, db):
    event = {"event_id": str(uuid.uuid4()), "type": "media.processed", "occurred_at": "2026-12-04T00:00:00Z",
             "aggregate_type": "media", "aggregate_id": str(uuid.uuid4()), "schema_version": 1, "payload": {}}
    assert notifier.post("/", json=event_push(event)).status_code == 200
    db.rollback()
    assert db.execute(text("SELECT count(*) FROM notifications")).scalar_one() == 0


def _closed_port() -> int:
    from local.processes import free_port

    return free_port()
