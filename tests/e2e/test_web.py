"""The web app in real Chromium (Playwright), against the stack `make dev` runs, through
the Hosting emulator: sign-up and roles, a proposal with a cover image, wallet linking
with Sign-In with Ethereum and with Solana, funding from the wallet and the indexer's totals, the
network drawing, marketplace search with a typo, favorites and bids backed by a card
(localstripe's Stripe.js), an auction between two bidders through to the winner's payment,
an artist's shop and a buy-now order through shipping to its receipt, error states, the
keyboard and a phone-sized screen. Every test saves screenshots and fails on any console
error, page error, failed request or error response it did not provoke."""
from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from local.chain import Platform, Rpc
from local.seed import seed
from local.stack import Stack, StackConfig
from local.stripe import SECRET_KEY as STRIPE_SECRET_KEY
from tests.support.browser import AnvilWallet, SolanaWallet, Watch, chromium_path, screenshot
from tests.support.images import png
from tests.support.waiting import wait_for

PASSWORD = "password123"
GOAL_ETH = 2
# localstripe's test cards: one authorises, one is declined when its payment is confirmed.
VISA, DECLINED = "4242424242424242", "4000000000000341"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = Stack(StackConfig.ephemeral(tmp_path_factory.mktemp("web-stack"), schedule_interval=2))
    with stack:
        seed(stack.hosting_url, stack.auth(), Platform(Rpc(stack.chain_url), stack.contracts))
        yield stack
    assert stack.children == []


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser, stack, request):
    """A fresh browser profile (its own sign-in) per call; every page is watched."""
    opened: list[tuple[object, object, Watch]] = []

    def make(*, wallet: AnvilWallet | SolanaWallet | None = None, viewport=(1280, 900)):
        context = browser.new_context(base_url=stack.hosting_url,
                                      viewport={"width": viewport[0], "height": viewport[1]})
        context.set_default_timeout(20_000)
        if wallet:
            wallet.install(context)
        page = context.new_page()
        watch = Watch()
        watch.attach(page)
        opened.append((context, page, watch))
        return page, watch

    yield make
    try:
        for _, page, watch in opened:
            watch.settle(page)
            watch.check()
    finally:  # closing aborts what is still in flight: that is the test's doing, not the page's
        for context, _, _ in opened:
            context.close()


def _shot(request, page, step: str) -> None:
    screenshot(page, request.node.name, step)


def sign_up(page, email: str, name: str, role: str) -> None:
    page.goto("/")
    page.get_by_role("link", name="Sign in").click()
    page.get_by_role("tab", name="Sign up").click()
    page.get_by_label("Display name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up", exact=True).click()
    page.locator(f"input[name=role][value={role}]").check()
    page.get_by_role("button", name=f"Register as {role}").click()
    expect(page.get_by_test_id("role")).to_have_text(role)
    expect(page.get_by_test_id("account-link")).to_have_text(name)


def upload_image(page, size: tuple[int, int]) -> None:
    """Choose a PNG in the page's image field; the pipeline processes it (Pub/Sub -> image-processing)."""
    page.locator("input[type=file]").set_input_files(
        files=[{"name": "image.png", "mimeType": "image/png", "buffer": png(size)}])
    expect(page.get_by_text("Image ready.")).to_be_visible(timeout=60_000)


def fill_card(panel, number: str) -> None:
    """The card step of a bid. Locally Stripe.js is localstripe's, whose card element is
    plain inputs named by their placeholders (the number as 16 digits, a two-digit year)."""
    card = panel.get_by_role("group", name="Card")
    card.get_by_placeholder("number", exact=True).fill(number)
    card.get_by_placeholder("exp_month", exact=True).fill("12")
    card.get_by_placeholder("exp_year", exact=True).fill(f"{(datetime.now(UTC).year + 3) % 100:02d}")
    card.get_by_placeholder("cvc", exact=True).fill("123")
    card.get_by_placeholder("postal_code", exact=True).fill("10115")


def bid(panel, amount: str, card: str = VISA) -> None:
    panel.get_by_label("Your bid (EUR)").fill(amount)  # starting a bid loads Stripe.js
    fill_card(panel, card)
    panel.get_by_role("button", name="Place bid").click()


def until(check, *, timeout: float = 90, between=None) -> None:
    """Poll a page-level condition (the indexer and the graph are asynchronous)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the page never showed it")
        if between:
            between()
        time.sleep(1)


def test_artist_publishes_investor_funds_from_wallet_and_sees_the_artist_in_the_network(stack, open_page, request):
    rpc = Rpc(stack.chain_url)
    accounts = rpc.call("eth_accounts")
    run = uuid.uuid4().hex[:8]

    # An artist signs up, registers, links the wallet the campaign will pay, writes a proposal
    # with a cover image and publishes it.
    artist, artist_watch = open_page(wallet=AnvilWallet(stack.chain_url, accounts[3]))
    sign_up(artist, f"artist-{run}@example.test", f"Wren {run}", "artist")
    artist.get_by_role("button", name="Connect and link Ethereum wallet").click()
    expect(artist.get_by_test_id("wallet-address")).to_have_text(accounts[3], ignore_case=True)
    _shot(request, artist, "1-artist-registered")
    artist.get_by_role("link", name="New proposal").click()
    artist.get_by_label("Title", exact=True).fill(f"Tidal Looms {run}")
    artist.get_by_label("Description").fill("Weaving the shoreline's colours, one tide at a time.")
    artist.get_by_label("Goal").fill(str(GOAL_ETH))
    upload_image(artist, (900, 600))
    expect(artist.get_by_test_id("picture")).to_be_visible()
    _shot(request, artist, "2-cover-processed")
    artist.get_by_role("button", name="Create draft").click()
    expect(artist.get_by_test_id("status")).to_have_text("draft")
    expect(artist.locator(".hero img")).to_have_class("loaded", timeout=30_000)
    artist.get_by_role("button", name="Publish").click()
    expect(artist.get_by_test_id("status")).to_have_text("open")
    proposal_id = artist.url.rsplit("/", 1)[1]
    # Published: the title can change (If-Match), the terms cannot.
    artist.get_by_role("link", name="Edit").click()
    expect(artist.get_by_label("Goal")).to_be_disabled()
    artist.get_by_label("Title", exact=True).fill(f"Tidal Looms {run}")
    artist.get_by_label("Description").fill("Weaving the shoreline's colours, one tide at a time. Now with dyes from kelp.")
    artist.get_by_role("button", name="Save changes").click()
    expect(artist.get_by_text("Now with dyes from kelp.")).to_be_visible()
    expect(artist.get_by_test_id("status")).to_have_text("open")
    _shot(request, artist, "3-published")

    # The campaign-operator function (Scheduler -> Pub/Sub -> its tick) opens the on-chain
    # campaign, paying the artist's linked wallet.
    chain = Platform(rpc, stack.contracts)
    until(lambda: chain.has_campaign(uuid.UUID(proposal_id).int), timeout=30)
    campaign = chain.campaign(uuid.UUID(proposal_id).int)
    assert (campaign[0].lower(), campaign[3]) == (accounts[3].lower(), GOAL_ETH * 10**18)

    # An investor signs up, links a wallet (EIP-1193 on an anvil account) with SIWE and funds.
    wallet = AnvilWallet(stack.chain_url, accounts[7])
    investor, investor_watch = open_page(wallet=wallet)
    sign_up(investor, f"investor-{run}@example.test", f"Iris {run}", "investor")
    investor.get_by_role("button", name="Connect and link Ethereum wallet").click()
    expect(investor.get_by_test_id("wallet-address")).to_have_text(accounts[7], ignore_case=True)
    assert "personal_sign" in wallet.calls
    _shot(request, investor, "4-wallet-linked")

    investor.get_by_role("link", name="Proposals").click()
    investor.get_by_role("link", name=f"Tidal Looms {run}", exact=True).click()
    investor.get_by_label("Amount (ETH)").fill("0.5")
    investor.get_by_role("button", name="Fund from wallet").click()
    expect(investor.get_by_text("Sent:")).to_be_visible(timeout=30_000)
    assert "eth_sendTransaction" in wallet.calls

    # The indexer (Scheduler -> Pub/Sub -> chain-indexer) moves the total and the history;
    # the page looks again by itself until it has.
    expect(investor.get_by_test_id("raised")).to_have_text("0.5 ETH", timeout=60_000)
    history = investor.get_by_test_id("funding-history")
    expect(history).to_contain_text(f"Iris {run}")
    expect(history).to_contain_text("0.5 ETH")
    _shot(request, investor, "5-funded-and-indexed")

    # chain.funded -> graph-etl -> the graph: the artist is in the investor's network.
    investor.get_by_role("link", name="Network").click()
    investor.get_by_label("Depth").select_option("2")

    def artist_in_network() -> bool:
        listing = investor.get_by_test_id("ego-list")
        return listing.count() == 1 and f"Wren {run}" in listing.text_content()

    until(artist_in_network, between=lambda: investor_watch.reload(investor))
    expect(investor.locator("figure.graph a.node").first).to_be_visible()
    assert investor.locator("figure.graph a.node").count() >= 3  # the investor, the proposal, the artist
    _shot(request, investor, "6-network")

    # The artist's page shows the new total too.
    artist_watch.reload(artist)
    expect(artist.get_by_test_id("raised")).to_have_text("0.5 ETH")
    artist_watch.check()


def test_a_collector_links_a_solana_wallet_with_sign_in_with_solana(open_page, request):
    """Sign-In with Solana from the profile page: the wallet (Phantom's interface) signs the
    server's one-time message with its ed25519 key, and the account keeps the address whole
    (a 32-byte key in base58, up to 44 characters, where an EVM address has 42)."""
    wallet = SolanaWallet()
    page, watch = open_page(wallet=wallet)
    sign_up(page, f"sol-{uuid.uuid4().hex[:8]}@example.test", "Sol Collector", "collector")
    expect(page.get_by_text("No Ethereum browser wallet was found.")).to_be_visible()
    page.get_by_role("button", name="Connect and link Solana wallet").click()
    expect(page.get_by_test_id("solana-address")).to_have_text(wallet.address)
    assert len(wallet.signed) == 1 and wallet.address in wallet.signed[0]
    _shot(request, page, "1-solana-linked")
    watch.reload(page)  # the address as the API has it, not as the page remembered it
    expect(page.get_by_test_id("solana-address")).to_have_text(wallet.address)


def test_marketplace_search_with_a_typo_favorite_and_bid(open_page, request):
    page, watch = open_page()
    sign_up(page, f"collector-{uuid.uuid4().hex[:8]}@example.test", "Cora Collector", "collector")
    # An avatar: upload with progress, processing, then the processed image.
    upload_image(page, (400, 400))
    expect(page.get_by_test_id("avatar")).to_be_visible()
    _shot(request, page, "0-avatar")
    page.get_by_role("link", name="Marketplace").click()
    page.get_by_label("Search works").fill("indgo lom")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_test_id("fuzzy")).to_be_visible()
    results = page.get_by_test_id("search-results")
    expect(results).to_contain_text("Indigo Loom Study")
    expect(results.locator("mark").first).to_be_visible()
    _shot(request, page, "1-typo-search")

    results.get_by_role("link", name="Indigo Loom Study").click()
    favorite = page.get_by_test_id("favorite")
    expect(favorite).to_have_attribute("aria-pressed", "false")
    before = int(favorite.inner_text().rsplit("(", 1)[1].rstrip(")"))
    favorite.click()
    expect(favorite).to_have_attribute("aria-pressed", "true")
    expect(favorite).to_contain_text(f"({before + 1})")

    # The auction: current bid, the minimum, time left; a low bid is refused with the API's words.
    auction = page.get_by_test_id("auction")
    expect(auction.get_by_test_id("time-left")).to_contain_text("left")
    minimum = auction.get_by_test_id("minimum-bid").inner_text().split()[0].replace(",", "")
    watch.expect(409, "/bids")
    bid(auction, "1")
    expect(auction.get_by_role("alert")).to_contain_text("the lowest acceptable bid is")
    _shot(request, page, "2-bid-refused")
    # A card the bank declines: the API's 402 problem, as it words it.
    watch.expect(402, "/bids")
    bid(auction, minimum, DECLINED)
    alert = auction.get_by_role("alert")
    expect(alert).to_contain_text("The payment was not authorised")
    expect(alert).to_contain_text("card_declined")
    _shot(request, page, "3-card-declined")
    bid(auction, minimum)
    expect(auction.get_by_test_id("current-bid")).to_have_text(f"{minimum} EUR")
    expect(auction).to_contain_text("are the highest bidder")
    expect(auction.get_by_role("alert")).to_have_count(0)
    _shot(request, page, "4-bid-placed")


# Long enough for two people to open the item and bid through their pages on a loaded
# machine (about 2 s on an idle one), short enough that the test waits little for the end.
AUCTION_SECONDS = 15
# Issue 25: another person's bid shows on an open auction page within a second.
LIVE_UPDATE_MS = 1_000


def _api(stack, method: str, path: str, headers: dict, body: dict | None = None) -> dict:
    response = requests.request(method, f"{stack.hosting_url}{path}", json=body, headers=headers, timeout=30)
    assert response.ok, f"{method} {path}: {response.status_code} {response.text}"
    return response.json() if response.content else {}


def test_two_bidders_the_outbid_card_is_released_and_the_winner_pays(stack, open_page, request):
    """Bids backed by cards, through the browser: Ada bids, Bo outbids and Ada's authorisation
    is released at once; the auction ends, the close job (every 2 s in this stack) captures
    Bo's, the order is paid and the item sold; both pages show the auction closed, won by Bo."""
    import stripe
    from sqlalchemy import create_engine, text

    run = uuid.uuid4().hex[:8]
    # The seller through the API, with an address the provider verified (it is mailed the result).
    seller_uid, token = stack.auth().sign_up(f"seller-{run}@example.test", PASSWORD, display_name=f"Sela {run}")
    stack.auth().verify_email(seller_uid)
    seller = {"Authorization": f"Bearer {token}"}
    _api(stack, "POST", "/api/register", seller, {"role": "artist"})
    item = _api(stack, "POST", "/api/items", seller, {
        "title": f"Kiln Bowl {run}", "kind": "physical", "price": "9000", "currency": "EUR", "inventory": 1,
        "shipping_regions": ["DE"]})
    _api(stack, "POST", f"/api/items/{item['id']}/list", seller)

    ada, ada_watch = open_page()
    sign_up(ada, f"ada-{run}@example.test", f"Ada {run}", "collector")
    bo, bo_watch = open_page()
    sign_up(bo, f"bo-{run}@example.test", f"Bo {run}", "collector")

    # The auction opens once both bidders are ready: a short one, and a late bid extends nothing.
    ends_at = datetime.now(UTC) + timedelta(seconds=AUCTION_SECONDS)
    auction = _api(stack, "POST", f"/api/items/{item['id']}/auctions", seller, {
        "ends_at": ends_at.isoformat(), "starting_price": "5000", "min_increment": "500", "extension_seconds": 0})
    for page in (ada, bo):
        page.goto(f"/#/items/{item['id']}")
    ada_panel, bo_panel = ada.get_by_test_id("auction"), bo.get_by_test_id("auction")
    bid(ada_panel, "50")
    expect(ada_panel.get_by_test_id("current-bid")).to_have_text("50.00 EUR")
    expect(ada_panel).to_contain_text("are the highest bidder")
    # Bo's page, open all along, shows Ada's bid by itself within a second of her page
    # showing it accepted: the auction's live document (Firestore) moved, and the page read again.
    shown = time.monotonic()
    expect(bo_panel.get_by_test_id("current-bid")).to_have_text("50.00 EUR", timeout=LIVE_UPDATE_MS)
    print(f"live update: Ada's bid on Bo's page {1000 * (time.monotonic() - shown):.0f} ms after hers")
    bid(bo_panel, "60")
    expect(bo_panel.get_by_test_id("current-bid")).to_have_text("60.00 EUR")
    expect(bo_panel).to_contain_text("are the highest bidder")
    expect(ada_panel.get_by_test_id("current-bid")).to_have_text("60.00 EUR", timeout=LIVE_UPDATE_MS)
    expect(ada_panel).not_to_contain_text("are the highest bidder")
    left = (ends_at - datetime.now(UTC)).total_seconds()
    assert left > 0, f"the bids took {AUCTION_SECONDS - left:.1f} s, longer than the auction ran: raise AUCTION_SECONDS"
    _shot(request, bo, "1-outbid")

    engine = create_engine(stack.database_url)
    client = stripe.StripeClient(STRIPE_SECRET_KEY, base_addresses={"api": stack.stripe_url})

    def holds() -> dict[str, tuple[str, str]]:
        """Each bidder's authorisations for this auction: (PaymentIntent id, hold status)."""
        with engine.begin() as conn:
            rows = conn.execute(text(
                "SELECT u.email, h.provider_ref, h.status FROM payment_holds h JOIN users u ON u.id = h.user_id "
                "WHERE h.auction_id = :auction ORDER BY h.created_at"), {"auction": auction["id"]}).all()
        assert len(rows) == 2, rows  # one card authorisation per bid
        return {email.split("-")[0]: (ref, status) for email, ref, status in rows}

    def intent(ref: str) -> str:
        return client.v1.payment_intents.retrieve(ref).status

    def orders() -> list[tuple]:
        with engine.begin() as conn:
            return [(status, int(amount), email) for status, amount, email in conn.execute(text(
                "SELECT o.status, o.amount, u.email FROM orders o JOIN users u ON u.id = o.buyer_id "
                "WHERE o.auction_id = :auction"), {"auction": auction["id"]})]

    try:
        # Outbid: Ada's authorisation is let go right after Bo's bid; Bo's is held.
        assert wait_for(lambda: holds()["ada"][1] == "released", timeout=30), holds()
        (ada_ref, _), (bo_ref, bo_status) = holds()["ada"], holds()["bo"]
        assert bo_status == "authorised"
        assert (intent(ada_ref), intent(bo_ref)) == ("canceled", "requires_capture")

        # The end passes; the close job closes the auction and captures the winner's money.
        # The pages look again by themselves around the end.
        expect(bo_panel.get_by_test_id("outcome")).to_have_text("You won this auction",
                                                                timeout=(AUCTION_SECONDS + 60) * 1000)
        expect(bo_panel.get_by_test_id("auction-status")).to_have_text("closed")
        expect(bo_panel.get_by_test_id("current-bid")).to_have_text("60.00 EUR")
        expect(ada_panel.get_by_test_id("outcome")).to_have_text(f"Won by Bo {run}", timeout=30_000)
        expect(ada_panel.get_by_test_id("auction-status")).to_have_text("closed")
        expect(ada_panel.get_by_role("form", name="Place a bid")).to_have_count(0)
        _shot(request, ada, "2-closed-for-the-outbid")
        _shot(request, bo, "3-closed-for-the-winner")
        assert wait_for(lambda: orders() == [("paid", 6000, f"bo-{run}@example.test")], timeout=30), orders()
        assert holds() == {"ada": (ada_ref, "released"), "bo": (bo_ref, "captured")}
        assert (intent(ada_ref), intent(bo_ref)) == ("canceled", "succeeded")
        # Paid, the item's one unit is handed over: sold.
        bo_watch.reload(bo)
        expect(bo.get_by_test_id("item-status")).to_have_text("sold")
        expect(bo.get_by_test_id("outcome")).to_have_text("You won this auction")

        # Each party heard of its part through the notifications function: Ada's bell counts
        # her three notices (outbid, ending soon: the auction is short, lost) and her inbox lists
        # them; the seller's verified address got the result.
        ada.goto("/#/notifications")
        until(lambda: f"“Kiln Bowl {run}” went to another bidder" in ada.locator("main").inner_text(),
              timeout=60, between=lambda: ada_watch.reload(ada))
        inbox = ada.get_by_test_id("notifications")
        expect(inbox).to_contain_text(f"You were outbid on “Kiln Bowl {run}”")
        expect(inbox).to_contain_text(f"Bidding on “Kiln Bowl {run}” ends soon")
        expect(ada.get_by_test_id("bell")).to_have_attribute("aria-label", "Notifications, 3 unread")
        _shot(request, ada, "4-notifications")
        ada.get_by_role("button", name="Mark all read").click()
        expect(ada.get_by_test_id("bell")).to_have_attribute("aria-label", "Notifications")
        # Bo's own lists: his bid, won.
        bo.goto("/#/lists?tab=bids")
        expect(bo.get_by_test_id("my-bids")).to_contain_text(f"Kiln Bowl {run}")
        expect(bo.get_by_test_id("my-bids")).to_contain_text("won")
        until(lambda: f"Your auction of “Kiln Bowl {run}” sold" in [
            m["Subject"] for m in stack.mail.messages() if m["To"] == f"seller-{run}@example.test"], timeout=60)
    finally:
        engine.dispose()


def test_artist_sells_from_the_shop_a_collector_buys_now_and_the_parcel_is_shipped_and_received(open_page, request):
    """Issue 24, point 7: an artist creates a physical item with an image in My shop and lists
    it (the catalog goes out and in as CSV too); a collector buys one with a card and a
    shipping address (a declined card first: the API's 402, as it words it), the order is
    paid; the artist sees the sale and the balance less the platform's 10 % fee, ships it;
    the collector confirms it arrived: fulfilled."""
    run = uuid.uuid4().hex[:8]
    title, mug = f"Salt Glaze Jug {run}", f"Ash Mug {run}"

    artist, artist_watch = open_page()
    sign_up(artist, f"potter-{run}@example.test", f"Pia {run}", "artist")
    artist.get_by_role("link", name="My shop").click()
    expect(artist.get_by_text("No items yet")).to_be_visible()
    artist.get_by_role("button", name="New item").click()
    form = artist.get_by_role("form", name="New item")
    form.get_by_label("Title", exact=True).fill(title)
    form.get_by_label("Description").fill("Wood-fired stoneware, salt-glazed.")
    form.get_by_label("Price", exact=True).fill("25")
    form.get_by_label("Inventory").fill("2")
    form.get_by_label("Ships to").fill("de, fr")
    form.locator("input[type=file]").set_input_files(
        files=[{"name": "jug.png", "mimeType": "image/png", "buffer": png((800, 600))}])
    expect(form.get_by_text("Image ready.")).to_be_visible(timeout=60_000)
    expect(form.get_by_test_id("item-images").get_by_test_id("picture")).to_be_visible()
    form.get_by_role("button", name="Create draft").click()
    expect(form).to_have_count(0)
    row = artist.get_by_test_id("shop-item").filter(has_text=title)
    expect(row.get_by_test_id("shop-item-status")).to_have_text("draft")
    expect(row).to_contain_text("25.00 EUR")
    expect(row).to_contain_text("2 in stock · ships to DE, FR")
    row.get_by_role("button", name="List", exact=True).click()
    expect(row.get_by_test_id("shop-item-status")).to_have_text("listed")
    row.scroll_into_view_if_needed()  # the thumbnail loads lazily
    expect(row.locator(".thumb img")).to_have_class("loaded", timeout=30_000)
    item_id = row.get_by_role("link", name=title).get_attribute("href").rsplit("/", 1)[1]
    _shot(request, artist, "1-listed-in-the-shop")

    # The catalog as CSV: a row imported by SKU (prices in minor units), then all of it exported.
    artist.get_by_role("button", name="Import CSV").click()
    importing = artist.get_by_role("form", name="Import CSV")
    importing.get_by_label("CSV", exact=True).fill(
        f"sku,title,kind,price,currency,inventory,shipping_regions\r\nMUG-{run},{mug},physical,1200,EUR,5,DE;FR\r\n")
    importing.get_by_role("button", name="Import", exact=True).click()
    expect(importing.get_by_test_id("import-report")).to_contain_text("1 created · 0 updated · 0 unchanged · 0 rejected")
    expect(artist.get_by_test_id("shop-item").filter(has_text=mug)).to_contain_text("12.00 EUR")
    with artist.expect_download() as exported:
        artist.get_by_role("button", name="Export CSV").click()
    assert exported.value.suggested_filename == "catalog.csv"
    csv_text = Path(exported.value.path()).read_text(encoding="utf-8")
    assert title in csv_text and f"MUG-{run},{mug}" in csv_text, csv_text

    # A collector buys one: a declined card first, then one that pays.
    buyer, buyer_watch = open_page()
    sign_up(buyer, f"cleo-{run}@example.test", f"Cleo {run}", "collector")
    buyer.goto(f"/#/items/{item_id}")
    expect(buyer.get_by_test_id("item-status")).to_have_text("listed")
    panel = buyer.get_by_test_id("buy")
    panel.get_by_label("Quantity").fill("1")  # starting the order loads Stripe.js
    panel.get_by_label("Name", exact=True).fill(f"Cleo {run}")
    panel.get_by_label("Address line 1").fill("Torstraße 1")
    panel.get_by_label("Postal code").fill("10115")
    panel.get_by_label("City").fill("Berlin")
    panel.get_by_label("Country").select_option("DE")
    expect(panel.get_by_test_id("buy-total")).to_have_text("25.00 EUR")
    buyer_watch.expect(402, "/api/orders")
    fill_card(panel, DECLINED)
    panel.get_by_role("button", name="Buy now").click()
    alert = panel.get_by_role("alert")
    expect(alert).to_contain_text("The payment was not authorised")
    expect(alert).to_contain_text("card_declined")
    fill_card(panel, VISA)
    panel.get_by_role("button", name="Buy now").click()
    bought = buyer.get_by_test_id("bought")
    expect(bought).to_contain_text("Bought: your order is paid.")
    expect(bought).to_contain_text("25.00 EUR for 1")
    expect(buyer.get_by_text("1 available · ships to DE, FR")).to_be_visible()  # the stock the order took
    _shot(request, buyer, "2-bought")
    bought.get_by_role("link", name="See your order").click()
    order = buyer.get_by_test_id("order").filter(has_text=title)
    expect(order.get_by_test_id("order-status")).to_have_text("paid")
    expect(order.get_by_test_id("order-amount")).to_have_text("25.00 EUR")
    expect(order.get_by_role("button", name="Confirm received")).to_have_count(0)  # not shipped yet

    # The artist's sale: the balance is the price less the 10 % fee; they ship it.
    artist.get_by_role("link", name="Orders", exact=True).click()
    artist.get_by_role("tab", name="Sold", exact=True).click()
    sold = artist.get_by_test_id("order").filter(has_text=title)
    expect(sold.get_by_test_id("order-status")).to_have_text("paid")
    expect(sold).to_contain_text("fee 2.50 EUR · you receive 22.50 EUR")
    expect(sold.get_by_test_id("ship-to")).to_contain_text("Torstraße 1, 10115 Berlin, DE")
    expect(artist.get_by_test_id("balance")).to_have_text("22.50 EUR")
    sold.get_by_label("Carrier").fill("DHL")
    sold.get_by_label("Tracking (optional)").fill("JJD000123")
    sold.get_by_role("button", name="Mark shipped").click()
    expect(sold.get_by_test_id("order-status")).to_have_text("shipped")
    expect(sold.get_by_test_id("shipment")).to_have_text("Shipped with DHL, tracking JJD000123")
    _shot(request, artist, "3-shipped")

    # The collector sees it on its way and confirms it arrived.
    buyer_watch.reload(buyer)
    expect(order.get_by_test_id("order-status")).to_have_text("shipped")
    expect(order.get_by_test_id("shipment")).to_have_text("Shipped with DHL, tracking JJD000123")
    order.get_by_role("button", name="Confirm received").click()
    expect(order.get_by_test_id("order-status")).to_have_text("fulfilled")
    expect(order.get_by_role("button", name="Confirm received")).to_have_count(0)
    _shot(request, buyer, "4-received")

    artist_watch.reload(artist)
    expect(sold.get_by_test_id("order-status")).to_have_text("fulfilled")
    expect(artist.get_by_test_id("balance")).to_have_text("22.50 EUR")
    for watch in (artist_watch, buyer_watch):
        watch.check()


def test_sign_in_errors_and_keyboard_only_use(open_page, request):
    page, watch = open_page()
    page.goto("/#/signin")
    watch.expect(400, "accounts:signInWithPassword")
    page.get_by_label("Email").fill("ivan@demo.kalakrut.dev")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("The email or password is not right.")
    _shot(request, page, "1-wrong-password")

    # Keyboard only: the skip link comes first, then Tab reaches the form, Enter submits.
    page.goto("/#/signin")
    page.reload()
    expect(page.get_by_label("Email")).to_be_visible()  # the app has rendered
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    email = page.get_by_label("Email")
    for _ in range(20):
        if email.evaluate("e => e === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(email).to_be_focused()
    page.keyboard.type("ivan@demo.kalakrut.dev")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("account-link")).to_have_text("Ivan Petrov", timeout=20_000)
    _shot(request, page, "2-signed-in-by-keyboard")


def test_works_on_a_phone_sized_screen_with_empty_and_api_reference_pages(open_page, request):
    page, _ = open_page(viewport=(390, 844))
    for step, path, heading in [("1-proposals", "/#/proposals", "Proposals"), ("2-market", "/#/market", "Marketplace"),
                                ("3-api", "/#/api-reference", "KalaKrut Creative API")]:
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        page.wait_for_load_state("networkidle")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than the screen"
        _shot(request, page, step)
    # The API reference lists every operation of the OpenAPI document.
    assert page.get_by_test_id("operations").locator("details").count() >= 50
    # An empty state says so.
    page.goto("/#/market?q=zzqqxxnothing")
    expect(page.get_by_text("Nothing matches.")).to_be_visible()
    _shot(request, page, "4-empty")


def create_and_publish(page, title: str, goal_eth: str) -> str:
    """Through the editor: a draft with the default deadline (30 days), published; its id."""
    page.goto("/#/me")
    page.get_by_role("link", name="New proposal").click()
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Goal").fill(goal_eth)
    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_test_id("status")).to_have_text("draft")
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_test_id("status")).to_have_text("open")
    return page.url.rsplit("/", 1)[1]


def fund(page, title: str, amount_eth: str) -> None:
    page.get_by_role("link", name="Proposals").click()
    page.get_by_role("link", name=title, exact=True).click()
    page.get_by_label("Amount (ETH)").fill(amount_eth)
    page.get_by_role("button", name="Fund from wallet").click()
    expect(page.get_by_text("Sent:")).to_be_visible(timeout=30_000)


def shows_status(page, watch, status: str) -> None:
    until(lambda: page.get_by_test_id("status").text_content() == status, between=lambda: watch.reload(page))


def test_funding_completes_the_artist_withdraws_and_a_backer_of_a_failed_proposal_is_refunded(stack, open_page,
                                                                                              request):
    """Issue 23, point 5: publish -> the operator opens the campaign -> two investors fund from
    their wallets -> funded -> the artist withdraws; a second proposal misses its deadline on
    chain -> failed -> a backer takes the refund. Every move is the chain's, read back by the
    indexer (Scheduler -> chain-indexer); the browser wallet sends what the API prepared."""
    rpc = Rpc(stack.chain_url)
    accounts = rpc.call("eth_accounts")
    run = uuid.uuid4().hex[:8]
    chain = Platform(rpc, stack.contracts)

    artist, artist_watch = open_page(wallet=AnvilWallet(stack.chain_url, accounts[4]))
    sign_up(artist, f"artist2-{run}@example.test", f"Odile {run}", "artist")
    artist.get_by_role("button", name="Connect and link Ethereum wallet").click()
    expect(artist.get_by_test_id("wallet-address")).to_have_text(accounts[4], ignore_case=True)
    backed, missed = f"Salt Prints {run}", f"Fog Studies {run}"
    backed_id = create_and_publish(artist, backed, "1")
    missed_id = create_and_publish(artist, missed, "1")
    until(lambda: all(chain.has_campaign(uuid.UUID(p).int) for p in (backed_id, missed_id)), timeout=60)

    investors = []
    for account, name in ((accounts[5], f"Bo {run}"), (accounts[6], f"Cy {run}")):
        page, watch = open_page(wallet=AnvilWallet(stack.chain_url, account))
        sign_up(page, f"{name.split()[0].lower()}-{run}@example.test", name, "investor")
        page.get_by_role("button", name="Connect and link Ethereum wallet").click()
        expect(page.get_by_test_id("wallet-address")).to_have_text(account, ignore_case=True)
        investors.append((page, watch))
    (bo, bo_watch), (cy, cy_watch) = investors
    fund(bo, backed, "0.6")
    fund(cy, backed, "0.4")
    fund(cy, missed, "0.3")
    shows_status(cy, cy_watch, "open")  # the missed one, still before its deadline
    _shot(request, cy, "1-funded-both")

    # The goal is met on chain: funded; the artist withdraws to the campaign's wallet.
    artist_watch.goto(artist, f"/#/proposals/{backed_id}")
    shows_status(artist, artist_watch, "funded")
    expect(artist.get_by_test_id("backers")).to_have_text("2 backers")
    before = int(rpc.call("eth_getBalance", accounts[4], "latest"), 16)
    withdrawal = artist.get_by_test_id("withdrawal")
    expect(withdrawal).to_contain_text("1 ETH")
    withdrawal.get_by_role("button", name="Withdraw to my wallet").click()
    expect(withdrawal.get_by_text("Sent:")).to_be_visible(timeout=30_000)
    expect(artist.get_by_test_id("status")).to_have_text("withdrawn", timeout=60_000)
    assert int(rpc.call("eth_getBalance", accounts[4], "latest"), 16) > before + 99 * 10**16  # 1 ETH less gas
    _shot(request, artist, "2-withdrawn")

    # The other one's deadline passes on chain (a month on), below its goal: failed, refunds open.
    rpc.call("evm_increaseTime", 31 * 86_400)
    rpc.call("anvil_mine", "0x1")
    cy_watch.goto(cy, f"/#/proposals/{missed_id}")
    shows_status(cy, cy_watch, "failed")
    refund = cy.get_by_test_id("refund")
    expect(refund).to_contain_text("0.3 ETH")
    refund.get_by_role("button", name="Refund to my wallet").click()
    expect(refund.get_by_text("Sent:")).to_be_visible(timeout=30_000)
    _shot(request, cy, "3-refunded")

    # Cy's portfolio: both positions, the failed one refunded once the indexer has read it.
    cy.get_by_role("link", name="Portfolio").click()
    table = cy.get_by_test_id("backed")
    expect(table).to_contain_text(backed)
    expect(table).to_contain_text(missed)

    def refunded() -> bool:
        row = table.locator("tr", has_text=missed)
        return row.count() == 1 and "0.3 ETH" in row.locator("td").nth(3).text_content()

    until(refunded, between=lambda: cy_watch.reload(cy))
    _shot(request, cy, "4-portfolio")
    # The artist's portfolio lists both proposals with their states.
    artist.get_by_role("link", name="Portfolio").click()
    created = artist.get_by_test_id("created")
    expect(created).to_contain_text(backed)
    expect(created.locator("li", has_text=backed)).to_contain_text("withdrawn")
    expect(created.locator("li", has_text=missed)).to_contain_text("failed")
    for watch in (artist_watch, bo_watch, cy_watch):
        watch.check()


def test_an_artwork_sold_for_eth_from_the_wallets_and_the_proceeds_withdrawn(stack, open_page, request):
    """Issue 24, the ETH half in the browser: the holder of an artwork token puts it on sale from
    the item's page (the wallet approves the market contract and opens the sale); a collector
    buys it from their wallet; the indexer shows it sold and makes the order; the seller reads
    the proceeds the contract holds for them and withdraws them to the wallet."""
    from tests.support import images

    rpc = Rpc(stack.chain_url)
    accounts = rpc.call("eth_accounts")
    chain = Platform(rpc, stack.contracts)
    # Wallets no other test of this module links (a wallet is linked to one account).
    seller_wallet, buyer_wallet = accounts[9], accounts[2]
    run = uuid.uuid4().hex[:8]
    title = f"Ink Study {run}"

    seller, seller_watch = open_page(wallet=AnvilWallet(stack.chain_url, seller_wallet))
    sign_up(seller, f"inker-{run}@example.test", f"Ines {run}", "artist")
    seller.get_by_role("button", name="Connect and link Ethereum wallet").click()
    expect(seller.get_by_test_id("wallet-address")).to_have_text(seller_wallet, ignore_case=True)
    # The item through the API (a digital item's file is uploaded and checked first), linked to a
    # token minted to the seller's wallet once the indexer knows its owner.
    token = stack.auth().sign_in(f"inker-{run}@example.test", PASSWORD)
    signed_in = {"Authorization": f"Bearer {token}"}
    token_id = uuid.uuid4().int
    chain.mint(seller_wallet, token_id)
    photo = images.jpeg((64, 48))
    ticket = _api(stack, "POST", "/api/media/uploads", signed_in,
                  {"purpose": "artwork", "content_type": "image/jpeg", "size": len(photo)})
    assert requests.put(ticket["upload_url"], data=photo, headers=ticket["headers"], timeout=30).ok
    until(lambda: _api(stack, "GET", f"/api/media/{ticket['media']['id']}", signed_in)["status"] == "ready")
    body = {"title": title, "kind": "digital", "price": str(5 * 10**17), "currency": "ETH", "license": "Personal use",
            "file_media_id": ticket["media"]["id"],
            "token": {"chain_id": 31337, "contract": stack.contracts.artwork, "token_id": str(token_id)}}

    made: list[dict] = []

    def created() -> bool:
        response = requests.post(f"{stack.hosting_url}/api/items", json=body, headers=signed_in, timeout=30)
        assert response.status_code in (201, 409), response.text  # 409 until the indexer has seen the token
        if response.status_code == 201:
            made.append(response.json())
        return bool(made)

    until(created)
    item = made[0]
    _api(stack, "POST", f"/api/items/{item['id']}/list", signed_in)

    seller_watch.goto(seller, f"/#/items/{item['id']}")
    panel = seller.get_by_test_id("chain-sales")
    expect(panel).to_contain_text("Not on sale on chain")
    form = panel.get_by_role("form", name="Sell for ETH")
    form.get_by_label("Price (ETH)").fill("0.5")
    form.get_by_role("button", name="Put it on sale").click()
    expect(panel.get_by_role("status")).to_contain_text("Sent", timeout=30_000)
    until(lambda: panel.get_by_test_id("chain-sale-status").count() == 1, between=lambda: seller_watch.reload(seller))
    expect(panel.get_by_test_id("chain-sale-status")).to_have_text("open")
    _shot(request, seller, "1-on-sale")

    buyer_provider = AnvilWallet(stack.chain_url, buyer_wallet)
    buyer, buyer_watch = open_page(wallet=buyer_provider)
    sign_up(buyer, f"collector-{run}@example.test", f"Col {run}", "collector")
    buyer.get_by_role("button", name="Connect and link Ethereum wallet").click()
    expect(buyer.get_by_test_id("wallet-address")).to_have_text(buyer_wallet, ignore_case=True)
    buyer_watch.goto(buyer, f"/#/items/{item['id']}")
    sale = buyer.get_by_test_id("chain-sale")
    expect(sale).to_contain_text("0.5 ETH")
    before = int(rpc.call("eth_getBalance", buyer_wallet, "latest"), 16)
    sale.get_by_role("button", name="Buy with your wallet").click()
    # The page asks the API for the transaction, then the wallet sends it: reloading before the
    # wallet has it would cancel the purchase (a run under load once did). Waiting in the page lets
    # Playwright answer the wallet's calls meanwhile.
    until(lambda: "eth_sendTransaction" in buyer_provider.calls, between=lambda: buyer.wait_for_timeout(200))
    until(lambda: buyer.get_by_test_id("chain-sale-status").text_content() == "sold",
          between=lambda: buyer_watch.reload(buyer))
    assert int(rpc.call("eth_getBalance", buyer_wallet, "latest"), 16) < before - 5 * 10**17  # paid, and gas
    _shot(request, buyer, "2-sold")
    buyer.get_by_role("link", name="Orders").click()
    order = buyer.get_by_test_id("order").filter(has_text=title)
    expect(order.get_by_test_id("order-status")).to_have_text("fulfilled")
    expect(order.get_by_test_id("order-amount")).to_have_text("0.5 ETH")

    # The seller's proceeds, less the platform's 10 %, wait in the contract for the wallet.
    seller.get_by_role("link", name="Orders").click()
    seller.get_by_role("tab", name="Sold", exact=True).click()
    sold = seller.get_by_test_id("order").filter(has_text=title)
    expect(sold).to_contain_text("fee 0.05 ETH · you receive 0.45 ETH")
    proceeds = seller.get_by_test_id("chain-proceeds")
    proceeds.get_by_role("button", name="Check with your wallet").click()
    expect(proceeds.get_by_test_id("chain-credits")).to_have_text("0.45 ETH")
    proceeds.get_by_role("button", name="Withdraw to your wallet").click()
    expect(proceeds.get_by_test_id("chain-credits")).to_have_text("0 ETH", timeout=30_000)
    assert chain.credits(seller_wallet) == 0
    _shot(request, seller, "3-withdrawn")
    for watch in (seller_watch, buyer_watch):
        watch.check()


def sign_in(page, email: str, name: str) -> None:
    page.goto("/#/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_test_id("account-link")).to_have_text(name, timeout=20_000)


def test_a_collector_reports_an_item_and_the_administrator_hides_and_restores_it(stack, open_page, request):
    from infra.admins import set_admin
    from local.seed import MODERATOR

    with stack.owner_engine().begin() as conn:
        set_admin(conn, MODERATOR[0], True)
    reporter, reporter_watch = open_page()
    sign_up(reporter, f"reporter-{uuid.uuid4().hex[:8]}@example.test", "Rae Reporter", "collector")
    expect(reporter.get_by_role("link", name="Admin")).to_have_count(0)
    reporter.goto("/#/admin")
    expect(reporter.get_by_text("Only administrators see this page.")).to_be_visible()
    reporter.get_by_role("link", name="Marketplace").click()
    reporter.get_by_label("Search works").fill("tape loop box")
    reporter.get_by_role("button", name="Search").click()
    reporter.get_by_test_id("search-results").get_by_role("link", name="Tape Loop Box").click()
    item_url = reporter.url
    reporter.get_by_role("button", name="Report").click()
    form = reporter.get_by_role("form", name="Report")
    form.get_by_label("Why").select_option("copyright")
    form.get_by_label("What should the administrators know?").fill("This loop machine is a copy of my design.")
    form.get_by_role("button", name="Send the report").click()
    expect(reporter.get_by_role("status")).to_contain_text("Reported. Thank you")
    _shot(request, reporter, "1-reported")

    admin, _ = open_page()
    sign_in(admin, MODERATOR[0], MODERATOR[1])
    admin.get_by_role("link", name="Admin").click()
    reports = admin.get_by_test_id("reports")
    row = reports.get_by_role("row").filter(has_text="Tape Loop Box")
    expect(row).to_contain_text("Someone else's work")
    expect(row).to_contain_text("This loop machine is a copy of my design.")
    expect(admin.get_by_test_id("stats")).to_contain_text("open reports")
    _shot(request, admin, "2-queue")
    row.get_by_role("button", name="Hide").click()
    expect(admin.get_by_text("No open reports.")).to_be_visible()

    # Hidden: gone for the reporter (the item is a 404).
    reporter_watch.expect(404, "/api/items/")
    reporter_watch.expect(404, "/api/analytics/track")  # the view the page counts as it opens
    reporter.goto(item_url)
    reporter.reload()
    expect(reporter.get_by_role("alert")).to_contain_text("No such resource")
    _shot(request, reporter, "3-hidden")

    admin.get_by_label("Show").select_option("actioned")
    actioned = admin.get_by_test_id("reports").get_by_role("row").filter(has_text="Tape Loop Box")
    expect(actioned).to_contain_text("hidden (moderation)")
    actioned.get_by_role("button", name="Restore").click()
    expect(admin.get_by_test_id("reports").get_by_role("row").filter(has_text="Tape Loop Box")).not_to_contain_text(
        "hidden (moderation)")
    expect(admin.get_by_test_id("audit")).to_contain_text("moderation.restored")
    _shot(request, admin, "4-restored")
    reporter.reload()
    expect(reporter.get_by_role("heading", name="Tape Loop Box")).to_be_visible()


def test_the_marketplace_finds_works_by_meaning(open_page, request):
    page, _ = open_page()
    page.goto("/#/market")
    page.get_by_label("Search works").fill("ambient noise machine")
    page.get_by_label("Match").select_option("meaning")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_test_id("by-meaning")).to_be_visible()
    # A solar sound sculpture: none of the words, all of the meaning (the seed's vectors, made by
    # the embeddings function from the items' events).
    expect(page.get_by_test_id("search-results")).to_contain_text("Beech Resonator No. 4")
    _shot(request, page, "1-by-meaning")
