"""marketplace: items, categories, tags, favorites, likes, views, search and auctions."""
from __future__ import annotations

import shared.startup  # noqa: F401  (first, before anything heavy: see shared/startup.py)

from shared import errors
from shared.config import get_settings
from shared.http.api import Api, Call, Reply, caller_address
from shared.market import analytics, auctions, catalog, delivery, eth_sales, items, listing, reactions, search, taxonomy
from shared.payments import cards

api = Api("marketplace")
ITEM = "/api/items/<uuid:item_id>"
AUCTION = "/api/auctions/<uuid:auction_id>"


def _item(item, name, holder, status: int = 200, *, private: bool = True, **headers: str) -> Reply:
    """An item as its owner (the writes' callers) or, private=False, anyone else sees it."""
    return Reply(items.to_out(item, name, holder, private=private), status=status,
                 headers={"ETag": items.etag(item), **headers})


# -- items ---------------------------------------------------------------------------------

@api.route("POST", "/api/items", summary="Create a draft item (artists only)", auth="user",
           body=items.ItemIn, response=items.ItemOut, status=201, errors=(404, 409))
def create_item(call: Call) -> Reply:
    item = items.create(call.session, call.user, call.body)
    _, name, holder = items.get(call.session, item.id, call.user)
    return _item(item, name, holder, 201, Location=f"/api/items/{item.id}")


@api.route("GET", "/api/items", summary="Browse items: filters, sort, cursor", auth="public",
           query=listing.ItemQuery, response=listing.ItemPage)
def list_items(call: Call) -> listing.ItemPage:
    return listing.list_page(call.conn, call.viewer, call.query)


@api.route("GET", ITEM, summary="One item", auth="public", response=items.ItemOut)
def item_detail(call: Call) -> Reply:
    row = items.read(call.conn, call.path["item_id"], call.viewer)
    return _item(row, row.owner_name, row.current_holder_id,
                 private=items.may_see_private(call.viewer, row.owner_id))


@api.route("PATCH", ITEM, summary="Edit an item (owner only, If-Match)", auth="user", body=items.ItemPatch,
           response=items.ItemOut, errors=(409, 412, 428))
def update_item(call: Call) -> Reply:
    item, _, _ = items.get(call.session, call.path["item_id"], call.user, for_update=True)
    items.check_if_match(item, call.request.headers.get("If-Match"))
    items.update(call.session, call.user, item, call.body)
    return _item(*items.get(call.session, item.id, call.user))


@api.route("POST", "/api/items/import", summary="Import your catalog from CSV: create or update by SKU, "
           "row by row (artists only)", auth="user", body=catalog.CatalogImport, response=catalog.ImportReport)
def import_catalog(call: Call) -> catalog.ImportReport:
    return catalog.import_csv(call.session, call.user, call.body.csv)


@api.route("GET", "/api/items/export", summary="Your items as a CSV file, in the import's columns",
           auth="user", response=catalog.CatalogCsv, expensive=True)
def export_catalog(call: Call) -> Reply:
    return Reply(catalog.export(call.conn, call.caller),
                 headers={"Content-Disposition": 'attachment; filename="catalog.csv"', "Cache-Control": "private, no-store"})


def _transition_route(action: str) -> None:
    @api.route("POST", f"{ITEM}/{action}", summary=f"{action.capitalize()} an item (owner only)", auth="user",
               response=items.ItemOut, errors=(409, 412))
    def change_state(call: Call) -> Reply:
        item, _, _ = items.get(call.session, call.path["item_id"], call.user, for_update=True)
        if call.request.headers.get("If-Match"):
            items.check_if_match(item, call.request.headers["If-Match"])
        items.transition(call.session, call.user, item, action)
        return _item(*items.get(call.session, item.id, call.user))


for _action in items.TRANSITIONS:
    _transition_route(_action)


def _reaction_routes(kind: str) -> None:
    for method, active in (("PUT", True), ("DELETE", False)):
        @api.route(method, f"{ITEM}/{kind}", summary=f"{'Add' if active else 'Remove'} your {kind} (idempotent)",
                   auth="user", response=reactions.ReactionOut)
        def react(call: Call, active: bool = active) -> reactions.ReactionOut:
            return reactions.set_reaction(call.session, call.user, call.path["item_id"], kind, active)


for _kind in reactions.SPECS:
    _reaction_routes(_kind)


@api.route("GET", f"{ITEM}/reactions", summary="Whether you favorited and liked an item", auth="user",
           response=reactions.MyReactions)
def my_reactions(call: Call) -> reactions.MyReactions:
    return reactions.mine(call.conn, call.caller, call.path["item_id"])


@api.route("GET", f"{ITEM}/download", summary="A short-lived link to a digital item's file (artist and holder; "
           "a buyer's downloads count against their order)", auth="user", response=delivery.Download, errors=(409,))
def download(call: Call) -> delivery.Download:
    return delivery.item_download(call.session, call.user, call.path["item_id"])


# -- sales for ETH, through the market contract: the answers are what the wallet signs ------------

SALES = f"{ITEM}/sales"


@api.route("GET", SALES, summary="An item's sales for ETH on chain, newest first", auth="public",
           response=eth_sales.SaleList)
def item_sales(call: Call) -> eth_sales.SaleList:
    return eth_sales.of_item(call.conn, call.path["item_id"], call.viewer, get_settings().chain_id)


@api.route("POST", SALES, summary="Sell your artwork token for ETH: the transactions your wallet sends "
           "(approve, then open the sale)", auth="user", body=eth_sales.SaleIn, response=eth_sales.SaleCalls,
           errors=(403, 409))
def open_sale(call: Call) -> eth_sales.SaleCalls:
    settings = get_settings()
    return eth_sales.open_sale(call.conn, call.path["item_id"], call.caller, call.body,
                               chain_id=settings.chain_id, market=settings.market_contract)


def _sale_route(action: str) -> None:
    @api.route("POST", f"{SALES}/<uuid:sale_id>/{action}", summary=f"{action.capitalize()}: the transaction your "
               "wallet sends", auth="user", body=eth_sales.BidIn if action == "bid" else None,
               response=eth_sales.SaleCalls, errors=(403, 409))
    def sale_action(call: Call) -> eth_sales.SaleCalls:
        settings = get_settings()
        return eth_sales.act(call.conn, call.path["item_id"], call.path["sale_id"], call.caller, action,
                             call.body.amount if call.body else None, chain_id=settings.chain_id,
                             market=settings.market_contract)


for _action in eth_sales.ACTIONS:
    _sale_route(_action)


# -- auctions --------------------------------------------------------------------------------

@api.route("POST", f"{ITEM}/auctions", summary="Auction a listed item (owner only)", auth="user",
           body=auctions.AuctionIn, response=auctions.AuctionOut, status=201, errors=(409,))
def create_auction(call: Call) -> Reply:
    auction = auctions.create(call.session, call.user, call.path["item_id"], call.body)
    return Reply(auctions.to_out(auction), status=201, headers={"Location": f"/api/auctions/{auction.id}"})


@api.route("GET", f"{ITEM}/auctions", summary="An item's auctions, newest first", auth="public",
           response=auctions.AuctionList)
def item_auctions(call: Call) -> auctions.AuctionList:
    items.read(call.conn, call.path["item_id"], call.viewer)
    return auctions.of_item(call.conn, call.path["item_id"])


@api.route("GET", AUCTION, summary="One auction", auth="public", response=auctions.AuctionOut)
def auction_detail(call: Call) -> auctions.AuctionOut:
    return auctions.to_out(auctions.read_visible(call.conn, call.path["auction_id"], call.viewer))


@api.route("POST", f"{AUCTION}/bids", summary="Bid with a card: its amount is authorised, released when you are "
           "outbid, captured if you win (not on your own item; at least the minimum bid)", auth="user",
           body=auctions.BidIn, response=auctions.BidAccepted, status=201, errors=(402, 409, 503), transaction=False)
def place_bid(call: Call) -> auctions.BidAccepted:
    from shared.market import bidding
    from shared.payments.stripe_gateway import get_gateway

    return bidding.place_bid(call.caller.id, call.path["auction_id"], call.body, get_gateway())


@api.route("POST", "/api/payments/setup-intents", summary="Start adding a card: a SetupIntent's client secret "
           "for Stripe.js, which gives the PaymentMethod id a bid names", auth="user", response=cards.CardSetup,
           status=201, errors=(503,))
def card_setup(call: Call) -> Reply:
    from shared.payments.stripe_gateway import get_gateway

    return Reply(cards.start_setup(call.user.id, get_gateway()), status=201)


@api.route("GET", f"{AUCTION}/bids", summary="The bid log, newest first", auth="public",
           query=auctions.BidQuery, response=auctions.BidPage)
def bids(call: Call) -> auctions.BidPage:
    return auctions.bids_page(call.conn, call.path["auction_id"], call.query, call.viewer)


@api.route("POST", f"{AUCTION}/cancel", summary="Cancel an auction without bids (seller only)", auth="user",
           response=auctions.AuctionOut, errors=(409,))
def cancel_auction(call: Call) -> auctions.AuctionOut:
    return auctions.to_out(auctions.cancel(call.session, call.user, call.path["auction_id"]))


# -- search, categories, tags, analytics ---------------------------------------------------------

@api.route("GET", "/api/search", summary="Search items, proposals and artists", auth="public",
           query=search.SearchQuery, response=search.SearchPage, expensive=True)
def search_all(call: Call) -> search.SearchPage:
    return search.search(call.conn, call.query, _embed_query)


def _embed_query(text: str) -> search.QueryVector:
    from shared.embeddings.embedder import embed_query
    from shared.embeddings.models import EmbeddingUnavailable

    try:
        return embed_query(text)
    except EmbeddingUnavailable:
        raise errors.ServiceUnavailable("search by meaning is unavailable; search by words meanwhile",
                                        headers={"Retry-After": "5"}) from None


@api.route("GET", "/api/categories", summary="Every category, in display order", auth="public",
           response=taxonomy.CategoryList)
def categories(call: Call) -> taxonomy.CategoryList:
    return taxonomy.list_categories(call.conn)


@api.route("POST", "/api/categories", summary="Create a category (admins only)", auth="user",
           body=taxonomy.CategoryIn, response=taxonomy.CategoryOut, status=201, errors=(409,))
def create_category(call: Call) -> Reply:
    category = taxonomy.create_category(call.session, call.user, call.body)
    return Reply(category, status=201, headers={"Location": f"/api/categories/{category.slug}"})


@api.route("PATCH", "/api/categories/<string:slug>", summary="Rename or reorder a category (admins only)",
           auth="user", body=taxonomy.CategoryPatch, response=taxonomy.CategoryOut, errors=(409,))
def update_category(call: Call) -> taxonomy.CategoryOut:
    return taxonomy.update_category(call.session, call.user, call.path["slug"], call.body)


@api.route("DELETE", "/api/categories/<string:slug>", summary="Delete a category (admins only)", auth="user",
           status=204)
def delete_category(call: Call) -> Reply:
    taxonomy.delete_category(call.session, call.user, call.path["slug"])
    return Reply(status=204)


@api.route("GET", "/api/tags", summary="Tags in use, most used first (prefix for autocomplete)", auth="public",
           query=taxonomy.TagQuery, response=taxonomy.TagList)
def tags(call: Call) -> taxonomy.TagList:
    return taxonomy.popular_tags(call.conn, call.query)


@api.route("POST", "/api/analytics/track", summary="Count a view or copy (once per viewer and half hour)",
           auth="public", body=analytics.TrackIn, response=analytics.TrackOut, errors=(404,))
def track(call: Call) -> analytics.TrackOut:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    address = caller_address(call.request, get_settings())
    viewer = analytics.viewer_key(call.optional_user, address, call.request.headers.get("User-Agent", ""), now)
    return analytics.track(call.session, viewer, call.body, now)


def handle(request):
    """functions-framework entry point."""
    return api(request)
