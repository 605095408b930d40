"""Seller catalog (issue 24, point 5): CSV import by SKU, export, low-stock alerts."""
import csv
import io

import pytest
from sqlalchemy import text

from shared.market.catalog import MAX_ROWS, escape, unescape
from tests.integration.conftest import snapshot

HEADER = "sku,title,description,kind,price,currency,inventory,shipping_regions,license,low_stock_threshold"


@pytest.fixture
def ada(people):
    return people("artist", name="Ada")


def _csv(*rows: str, header: str = HEADER) -> str:
    return "\r\n".join([header, *rows]) + "\r\n"


def _import(api, person, body: str):
    return api.post("/api/items/import", token=person.token, json={"csv": body})


def _report(api, person, body: str) -> dict:
    response = _import(api, person, body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    return response.get_json()


def _mine(db, owner_id: str) -> dict[str, dict]:
    db.rollback()
    rows = db.execute(text("SELECT * FROM items WHERE owner_id = :id"), {"id": owner_id}).mappings().all()
    return {row["sku"]: dict(row) for row in rows}


def _low_stock_events(db) -> list[dict]:
    db.rollback()
    return [row[0]["payload"] for row in
            db.execute(text("SELECT envelope FROM outbox WHERE type = 'item.low_stock' ORDER BY id"))]


ROWS = (
    'LOOM-1,Indigo Loom Study,"Hand-dyed, on a backstrap loom",physical,45000,EUR,3,NG;GB,,1',
    "LOOM-2,Second Study,,physical,not-a-price,EUR,1,NG,,",
    "SONG-1,Night Song,A recording,digital,900,USD,,,Personal use,",
    "SONG-2,Bad Song,,digital,900,USD,4,,Personal use,",
    "BOWL-1,Clay Bowl,,physical,12000,GBP,10,WW,,2",
)


def test_import_creates_then_updates_and_reports_rejected_rows(api, ada, db):
    report = _report(api, ada, _csv(*ROWS))
    assert (report["created"], report["updated"], report["unchanged"]) == (3, 0, 0)
    assert [(r["line"], r["sku"]) for r in report["rejected"]] == [(3, "LOOM-2"), (5, "SONG-2")]
    assert any("price" in error for error in report["rejected"][0]["errors"])
    assert any("digital item has no inventory" in error for error in report["rejected"][1]["errors"])
    mine = _mine(db, ada.id)
    assert set(mine) == {"LOOM-1", "SONG-1", "BOWL-1"}
    loom = mine["LOOM-1"]
    assert (loom["status"], loom["inventory"], loom["shipping_regions"], loom["low_stock_threshold"]) == \
        ("draft", 3, ["NG", "GB"], 1)
    assert loom["description"] == "Hand-dyed, on a backstrap loom"
    # The same code path as the API: an audit entry and an item.created event per item.
    assert db.execute(text("SELECT count(*) FROM audit_log WHERE action = 'item.created'")).scalar() == 3
    assert db.execute(text("SELECT count(*) FROM outbox WHERE type = 'item.created'")).scalar() == 3

    # Idempotent: the same file again changes nothing.
    before = snapshot(db)
    again = _report(api, ada, _csv(*ROWS))
    assert (again["created"], again["updated"], again["unchanged"], len(again["rejected"])) == (0, 0, 3, 2)
    assert snapshot(db) == before

    # A changed row updates its item (and only its fields); the item keeps its id.
    changed = _report(api, ada, _csv(ROWS[0].replace("Indigo Loom Study", "Indigo Loom Revised"), ROWS[2]))
    assert (changed["created"], changed["updated"], changed["unchanged"]) == (0, 1, 1)
    after = _mine(db, ada.id)
    assert after["LOOM-1"]["id"] == loom["id"] and after["LOOM-1"]["title"] == "Indigo Loom Revised"
    assert after["LOOM-1"]["version"] == loom["version"] + 1
    assert db.execute(text("SELECT count(*) FROM outbox WHERE type = 'item.updated'")).scalar() == 1


def test_a_row_cannot_change_kind_or_what_its_status_freezes(api, ada, db):
    _report(api, ada, _csv(ROWS[0]))
    item_id = _mine(db, ada.id)["LOOM-1"]["id"]
    assert api.post(f"/api/items/{item_id}/list", token=ada.token).status_code == 200
    report = _report(api, ada, _csv(ROWS[0].replace(",EUR,", ",USD,"),
                                    ROWS[0]))
    assert report["created"] == 0 and [r["line"] for r in report["rejected"]] == [2, 3]
    assert "cannot change currency" in report["rejected"][0]["errors"][0]
    assert "line 2 names the same item" in report["rejected"][1]["errors"][0]
    kind = _report(api, ada, _csv(ROWS[0].replace("physical,45000,EUR,3,NG;GB,,1", "digital,45000,EUR,,,CC,")))
    assert "kind cannot change" in kind["rejected"][0]["errors"][0]


def test_another_sellers_sku_is_another_item(api, ada, people, db):
    bea = people("artist")
    _report(api, ada, _csv(ROWS[0]))
    report = _report(api, bea, _csv(ROWS[0].replace("Indigo Loom Study", "Bea's Loom")))
    assert report["created"] == 1
    assert _mine(db, ada.id)["LOOM-1"]["title"] == "Indigo Loom Study"
    assert _mine(db, bea.id)["LOOM-1"]["title"] == "Bea's Loom"


def test_rejected_rows_change_nothing(api, ada, db):
    _report(api, ada, _csv(ROWS[0]))
    before = snapshot(db)
    report = _report(api, ada, _csv(ROWS[1], ROWS[3], "LOOM-1,,,physical,45000,EUR,3,NG,,1",
                                    "LOOM-1,Too many,,physical,45000,EUR,3,NG,,1,extra",
                                    "bad sku!,T,,physical,1,EUR,1,,,", "LOOM-1,T,,physical,1,EUR,-1,,,",
                                    "LOOM-1,T,,physical,1,EUR,1,,,-5", "LOOM-1,T,,physical,1,XYZ,1,,,",
                                    "LOOM-1,T,,physical,1,EUR,1,NOWHERE,,", "LOOM-1,T,,physical,1.5,EUR,1.5,,,",
                                    "LOOM-1," + "x" * 10_000 + ",,physical,1,EUR,1,,,"))
    assert (report["created"], report["updated"], report["unchanged"]) == (0, 0, 0)
    assert [r["line"] for r in report["rejected"]] == list(range(2, 13))
    assert all(r["errors"] for r in report["rejected"])
    assert snapshot(db) == before


@pytest.mark.parametrize(("body", "status"), [
    ("LOOM-1,Indigo,,physical,1,EUR,1,,,\r\n", 422),  # no header: the first row is data
    ("", 422),
    ("sku,title\r\n", 422),  # required columns missing
    ("sku,title,kind,price,currency,title\r\n", 422),  # a column twice
    (HEADER + ',"' + "x" * 10_000 + '"\r\n', 422),  # a 10k-character column name
    (HEADER + '\r\nA,"unterminated,physical,1,EUR,1,,,\r\n', 422),  # not CSV
    (HEADER + '\r\nA,"T"x,,physical,1,EUR,1,,,\r\n', 422),  # a quote in the middle of a cell
    (HEADER + "\r\nA,T\x00,,physical,1,EUR,1,,,\r\n", 422),  # NUL
    (_csv(*[f"S{n},T,,physical,1,EUR,1,,," for n in range(MAX_ROWS + 1)]), 413),
])
def test_hostile_files_are_problems_and_change_nothing(body, status, api, ada, db):
    before = snapshot(db)
    _problem(_import(api, ada, body), status)
    assert snapshot(db) == before


def test_hostile_bodies(api, ada, people, db):
    collector = people("collector")
    before = snapshot(db)
    _problem(api.post("/api/items/import", token=ada.token, json={"csv": 12}), 422)
    _problem(api.post("/api/items/import", token=ada.token, json={"csv": HEADER, "extra": 1}), 422)
    _problem(api.post("/api/items/import", token=ada.token, data=_csv(ROWS[0]), content_type="text/csv"), 415)
    _problem(api.post("/api/items/import", json={"csv": _csv(ROWS[0])}), 401)
    _problem(_import(api, collector, _csv(ROWS[0])), 403)  # only artists sell
    assert snapshot(db) == before


def test_the_most_rows_fit(api, ada, db):
    report = _report(api, ada, _csv(*[f"S{n},T,,physical,1,EUR,1,,," for n in range(MAX_ROWS)]))
    assert report["created"] == MAX_ROWS and not report["rejected"]


def test_export_round_trips_and_neutralizes_formulas(api, ada, people, make_item, db):
    bea = people("artist")
    make_item(bea, title="Not Ada's")
    _report(api, ada, _csv(*ROWS))
    formula = make_item(ada, title="=HYPERLINK(\"http://evil.example\")", description="+1 and more",
                        shipping_regions=["NG"])  # no SKU: the export's id names it
    _report(api, ada, _csv('QUOTE-1,\'=already quoted,"@cmd",physical,5,EUR,1,,,'))
    response = api.get("/api/items/export", token=ada.token)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="catalog.csv"'
    assert response.headers["Cache-Control"] == "private, no-store"
    exported = response.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(exported, newline="")))
    assert [row["sku"] for row in rows] == ["BOWL-1", "LOOM-1", "QUOTE-1", "SONG-1", ""]
    assert "Not Ada's" not in exported  # only the caller's items
    by_id = {row["id"]: row for row in rows}
    assert by_id[formula["id"]]["title"].startswith("'=HYPERLINK")
    assert by_id[formula["id"]]["description"] == "'+1 and more"
    # The import took the spreadsheet's apostrophe off; the export puts it back.
    assert (_mine(db, ada.id)["QUOTE-1"]["title"], _mine(db, ada.id)["QUOTE-1"]["description"]) == \
        ("=already quoted", "@cmd")
    quoted = next(row for row in rows if row["sku"] == "QUOTE-1")
    assert (quoted["title"], quoted["description"]) == ("'=already quoted", "'@cmd")
    assert next(row for row in rows if row["sku"] == "LOOM-1")["shipping_regions"] == "NG;GB"

    before = snapshot(db)
    again = _report(api, ada, exported)
    assert again == {"created": 0, "updated": 0, "unchanged": 5, "rejected": []}
    assert snapshot(db) == before
    # Another seller cannot reach Ada's items by their ids.
    stolen = _report(api, bea, exported)
    assert stolen["created"] == 0 and len(stolen["rejected"]) == 5
    assert "no item of yours" in stolen["rejected"][0]["errors"][0]


def test_export_of_nothing_is_a_header(api, people):
    exported = api.get("/api/items/export", token=people("collector").token).get_data(as_text=True)
    assert exported.splitlines() == [exported.splitlines()[0]] and exported.startswith("id,sku,title")
    assert api.get("/api/items/export").status_code == 401


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@x", "\tx", "\rx", "'=x", "''=x", "'x", "''", "x", "", "'"])
def test_formula_escaping_is_reversible(value):
    assert unescape(escape(value)) == value
    assert escape(value)[:1] not in {"=", "+", "-", "@", "\t", "\r"}


def test_sku_and_threshold_are_the_owners(api, ada, people, make_item):
    item = make_item(ada, sku="LOOM-9", low_stock_threshold=1, listed=True)
    assert (item["sku"], item["low_stock_threshold"]) == ("LOOM-9", 1)
    public = api.get(f"/api/items/{item['id']}").get_json()
    assert public["sku"] is None and public["low_stock_threshold"] is None
    assert api.get(f"/api/items/{item['id']}", token=ada.token).get_json()["sku"] == "LOOM-9"
    other = make_item(ada, sku="LOOM-8")
    clash = api.patch(f"/api/items/{other['id']}", token=ada.token, json={"sku": "LOOM-9"},
                      headers={"If-Match": f'"{other["version"]}"'})
    assert _problem(clash, 409)["detail"] == "another item of yours has the SKU LOOM-9"
    assert make_item(people("artist"), sku="LOOM-9")["sku"] == "LOOM-9"
    digital = api.post("/api/items", token=ada.token, json={
        "title": "Song", "kind": "digital", "price": "1", "currency": "EUR", "low_stock_threshold": 1})
    _problem(digital, 422)


def test_low_stock_is_announced_once_per_crossing(api, ada, make_item, db):
    item = make_item(ada, inventory=5, low_stock_threshold=2)

    def set_inventory(count: int) -> None:
        nonlocal item
        response = api.patch(f"/api/items/{item['id']}", token=ada.token, json={"inventory": count},
                             headers={"If-Match": f'"{item["version"]}"'})
        assert response.status_code == 200, response.get_data(as_text=True)
        item = response.get_json()

    set_inventory(3)
    assert _low_stock_events(db) == []
    set_inventory(2)  # at the threshold: announced
    set_inventory(1)  # still low: not again
    set_inventory(2)
    assert [(e["inventory"], e["low_stock_threshold"]) for e in _low_stock_events(db)] == [(2, 2)]
    event = _low_stock_events(db)[0]
    assert (event["id"], event["owner_id"]) == (item["id"], ada.id)
    set_inventory(3)  # above again
    set_inventory(0)
    assert [e["inventory"] for e in _low_stock_events(db)] == [2, 0]


def test_low_stock_from_an_import(api, ada, db):
    _report(api, ada, _csv("BOWL-1,Clay Bowl,,physical,12000,GBP,10,WW,,2"))
    assert _low_stock_events(db) == []  # created above its threshold
    _report(api, ada, _csv("BOWL-1,Clay Bowl,,physical,12000,GBP,1,WW,,2"))
    _report(api, ada, _csv("BOWL-1,Clay Bowl,,physical,12000,GBP,0,WW,,2"))
    assert [(e["sku"], e["inventory"]) for e in _low_stock_events(db)] == [("BOWL-1", 1)]


def test_low_stock_from_an_auction_sale(api, people, make_item, db):
    import time
    from datetime import UTC, datetime, timedelta

    from tests.integration.test_auctions import close_due

    seller, buyer = people("artist"), people("collector")
    item = make_item(seller, listed=True, inventory=2, low_stock_threshold=1)
    ends_at = datetime.now(UTC) + timedelta(seconds=3)
    response = api.post(f"/api/items/{item['id']}/auctions", token=seller.token,
                        json={"ends_at": ends_at.isoformat(), "starting_price": "1000", "min_increment": "100",
                              "extension_seconds": 0})
    assert response.status_code == 201, response.get_data(as_text=True)
    auction = response.get_json()
    assert api.post(f"/api/auctions/{auction['id']}/bids", token=buyer.token,
                    json={"amount": "1000", "payment_method": "pm_card_visa"}).status_code == 201
    time.sleep(max(0.0, (ends_at - datetime.now(UTC)).total_seconds()) + 0.2)
    assert [c["outcome"] for c in close_due()] == ["sold"]
    assert [(e["id"], e["inventory"]) for e in _low_stock_events(db)] == [(item["id"], 1)]
