"""ArtworkMarket on a real local chain (anvil): every bid and purchase is paid into the contract,
outbid bidders and sellers are paid back only by withdrawing, and the token moves with the money."""
from __future__ import annotations

import uuid

import pytest

from local.chain import MARKET_FEE_BPS, Platform, Rpc, RpcError, chain_time, deploy_platform, start_anvil
from local.processes import free_port
from tests.integration.test_contracts import events

ETHER = 10**18
SETTLED = "SaleSettled(uint256 indexed,address indexed,uint256,uint256)"


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    port = free_port()
    child = start_anvil(port, tmp_path_factory.mktemp("anvil"))
    rpc = Rpc(f"http://127.0.0.1:{port}")
    yield Platform(rpc, deploy_platform(rpc)), rpc.call("eth_accounts")
    child.stop()


def token(platform: Platform, owner: str) -> int:
    token_id = uuid.uuid4().int
    platform.mint(owner, token_id)
    return token_id


def owner_of(platform: Platform, token_id: int) -> str:
    return platform.read(platform.deployment.artwork, "ownerOf(uint256)", ["address"], token_id)[0]


def balance(platform: Platform, account: str) -> int:
    return int(platform.rpc.call("eth_getBalance", account, "latest"), 16)


def later(platform: Platform, seconds: int) -> None:
    platform.rpc.call("evm_increaseTime", seconds)
    platform.rpc.call("evm_mine")


def fee(amount: int) -> int:
    return amount * MARKET_FEE_BPS // 10_000


def test_a_fixed_price_sale_takes_exactly_its_price_and_hands_over_the_token(market):
    platform, accounts = market
    seller, buyer, other = accounts[1], accounts[2], accounts[3]
    art, sale = token(platform, seller), uuid.uuid4().int
    platform.open_sale(seller, sale, art, ETHER)
    assert owner_of(platform, art).lower() == platform.deployment.market.lower()  # escrowed
    for wrong in (ETHER - 1, ETHER + 1):
        with pytest.raises(RpcError):
            platform.buy(buyer, sale, wrong)
    treasury_before, seller_before = platform.credits(platform.deployment.operator), platform.credits(seller)
    receipt = platform.buy(buyer, sale, ETHER)
    assert events(platform.rpc, platform.deployment.market, SETTLED, receipt) == [(sale, buyer, ETHER, fee(ETHER))]
    assert owner_of(platform, art) == buyer
    assert platform.credits(seller) - seller_before == ETHER - fee(ETHER)
    assert platform.credits(platform.deployment.operator) - treasury_before == fee(ETHER)
    with pytest.raises(RpcError):
        platform.buy(other, sale, ETHER)  # sold once
    # Proceeds leave only by withdrawal, once.
    before = balance(platform, seller)
    withdrawn = platform.withdraw_credits(seller)
    gas = int(withdrawn["gasUsed"], 16) * int(withdrawn["effectiveGasPrice"], 16)
    assert balance(platform, seller) == before + ETHER - fee(ETHER) + seller_before - gas
    assert platform.credits(seller) == 0
    with pytest.raises(RpcError):
        platform.withdraw_credits(seller)


def test_an_auction_escrows_each_bid_credits_the_outbid_and_settles_to_the_highest(market):
    platform, accounts = market
    seller, alice, bob = accounts[4], accounts[5], accounts[6]
    art, sale = token(platform, seller), uuid.uuid4().int
    platform.open_sale(seller, sale, art, ETHER, 3600)
    with pytest.raises(RpcError):
        platform.bid(alice, sale, ETHER - 1)  # below the lowest first bid
    with pytest.raises(RpcError):
        platform.buy(alice, sale, ETHER)  # an auction is not bought
    platform.bid(alice, sale, ETHER)
    with pytest.raises(RpcError):
        platform.bid(bob, sale, ETHER + ETHER // 20 - 1)  # a raise under 5%
    alice_credit = platform.credits(alice)
    platform.bid(bob, sale, ETHER + ETHER // 20)
    assert platform.credits(alice) == alice_credit + ETHER  # outbid: paid back, by withdrawal
    with pytest.raises(RpcError):
        platform.cancel_sale(seller, sale)  # bids bind the seller
    with pytest.raises(RpcError):
        platform.settle(alice, sale)  # still running
    later(platform, 3600)
    with pytest.raises(RpcError):
        platform.bid(alice, sale, 2 * ETHER)  # ended
    won = ETHER + ETHER // 20
    receipt = platform.settle(alice, sale)  # anyone settles
    assert events(platform.rpc, platform.deployment.market, SETTLED, receipt) == [(sale, bob, won, fee(won))]
    assert owner_of(platform, art) == bob
    with pytest.raises(RpcError):
        platform.settle(alice, sale)


def test_a_late_bid_extends_the_auction_and_an_auction_without_bids_returns_the_token(market):
    platform, accounts = market
    seller, bidder = accounts[7], accounts[8]
    art, sale = token(platform, seller), uuid.uuid4().int
    platform.open_sale(seller, sale, art, ETHER, 120)
    receipt = platform.bid(bidder, sale, ETHER)
    placed = events(platform.rpc, platform.deployment.market, "BidPlaced(uint256 indexed,address indexed,uint256,uint64)",
                    receipt)
    assert placed[0][3] >= chain_time(platform.rpc) + 599  # ten minutes from the bid, not two
    unsold_art, unsold = token(platform, seller), uuid.uuid4().int
    platform.open_sale(seller, unsold, unsold_art, ETHER, 60)
    later(platform, 61)
    receipt = platform.settle(bidder, unsold)
    assert events(platform.rpc, platform.deployment.market, SETTLED, receipt) == [(unsold, "0x" + "0" * 40, 0, 0)]
    assert owner_of(platform, unsold_art) == seller


def test_only_the_owner_sells_only_the_seller_cancels_and_an_id_is_used_once(market):
    platform, accounts = market
    seller, stranger = accounts[1], accounts[9]
    art, sale = token(platform, seller), uuid.uuid4().int
    with pytest.raises(RpcError):
        platform.open_sale(stranger, sale, art, ETHER)  # not the stranger's token
    with pytest.raises(RpcError):
        platform.open_sale(seller, sale, art, 0)  # free is not a price
    with pytest.raises(RpcError):
        platform.open_sale(seller, sale, art, ETHER, 31 * 86_400)  # too long
    platform.open_sale(seller, sale, art, ETHER)
    other = token(platform, seller)
    with pytest.raises(RpcError):
        platform.open_sale(seller, sale, other, ETHER)  # the id is taken
    with pytest.raises(RpcError):
        platform.cancel_sale(stranger, sale)
    platform.cancel_sale(seller, sale)
    assert owner_of(platform, art) == seller
    with pytest.raises(RpcError):
        platform.buy(stranger, sale, ETHER)  # cancelled


def test_no_one_bids_more_than_they_pay(market):
    """The takeover of issue 24 (a bid of 2**256-1 no one can beat) needs that much ETH, paid in."""
    platform, accounts = market
    seller, bidder = accounts[2], accounts[3]
    art, sale = token(platform, seller), uuid.uuid4().int
    platform.open_sale(seller, sale, art, 1, 3600)
    with pytest.raises(RpcError):
        platform.bid(bidder, sale, 2**256 - 1)
    assert platform.read(platform.deployment.market, "minimumBid(uint256)", ["uint256"], sale) == (1,)
