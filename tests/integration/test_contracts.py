"""The contracts on a real local chain (anvil): funding, withdrawal, refunds, tokens,
and the events the indexer will read, decoded with eth-abi as the indexer will."""
from __future__ import annotations

import uuid

import pytest
from eth_abi import decode
from eth_utils import keccak

from local.chain import Rpc, RpcError, deploy_platform, encode_call, start_anvil
from local.processes import free_port

ETHER = 10**18
UINT256_MAX = 2**256 - 1


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    port = free_port()
    child = start_anvil(port, tmp_path_factory.mktemp("anvil"))
    rpc = Rpc(f"http://127.0.0.1:{port}")
    yield rpc, deploy_platform(rpc), rpc.call("eth_accounts")
    child.stop()


def topic(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()


def events(rpc: Rpc, address: str, signature: str, receipt: dict) -> list[tuple]:
    """Decode ``signature`` logs of one receipt: indexed args from topics, the rest from data."""
    args = signature[signature.index("(") + 1:-1].split(",")
    decoded = []
    for log in receipt["logs"]:
        if log["address"].lower() != address.lower() or log["topics"][0] != topic(signature.replace(" indexed", "")):
            continue
        indexed = [a.split()[0] for a in args if " indexed" in a]
        plain = [a for a in args if " indexed" not in a]
        values = [decode([t], bytes.fromhex(h[2:]))[0] for t, h in zip(indexed, log["topics"][1:], strict=True)]
        decoded.append((*values, *decode(plain, bytes.fromhex(log["data"][2:]))))
    return decoded


def chain_now(rpc: Rpc) -> int:
    return int(rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16)


def open_campaign(rpc, platform, artist, goal, seconds=86_400) -> int:
    proposal_id = uuid.uuid4().int
    rpc.transact(platform.operator, platform.funding,
                 encode_call("openCampaign(uint256,address,uint256,uint64)", proposal_id, artist, goal,
                             chain_now(rpc) + seconds))
    return proposal_id


def test_fund_then_withdraw(chain):
    rpc, platform, accounts = chain
    artist, alice, bob = accounts[1], accounts[2], accounts[3]
    pid = open_campaign(rpc, platform, artist, ETHER)
    funded = [rpc.transact(backer, platform.funding, encode_call("fund(uint256)", pid), value)
              for backer, value in ((alice, 6 * ETHER // 10), (bob, 5 * ETHER // 10))]
    signature = "Funded(uint256 indexed,address indexed,uint256)"
    assert [events(rpc, platform.funding, signature, r)[0] for r in funded] == [
        (pid, alice.lower(), 6 * ETHER // 10), (pid, bob.lower(), 5 * ETHER // 10)]
    campaign = decode(["address", "uint64", "bool", "uint256", "uint256"],
                      bytes.fromhex(rpc.call("eth_call", {"to": platform.funding,
                                                          "data": encode_call("campaigns(uint256)", pid)}, "latest")[2:]))
    assert campaign[3:] == (ETHER, 11 * ETHER // 10)

    with pytest.raises(RpcError):
        rpc.transact(alice, platform.funding, encode_call("withdraw(uint256)", pid))  # not the artist
    receipt = rpc.transact(artist, platform.funding, encode_call("withdraw(uint256)", pid))
    assert events(rpc, platform.funding, "Withdrawn(uint256 indexed,address indexed,uint256)", receipt) == [
        (pid, artist.lower(), 11 * ETHER // 10)]
    with pytest.raises(RpcError):
        rpc.transact(artist, platform.funding, encode_call("withdraw(uint256)", pid))
    with pytest.raises(RpcError):
        rpc.transact(bob, platform.funding, encode_call("fund(uint256)", pid), ETHER)  # closed once withdrawn


def test_missed_goal_refunds_backers_after_the_deadline(chain):
    rpc, platform, accounts = chain
    artist, carol = accounts[4], accounts[5]
    pid = open_campaign(rpc, platform, artist, 10 * ETHER, seconds=3600)
    rpc.transact(carol, platform.funding, encode_call("fund(uint256)", pid), ETHER)
    with pytest.raises(RpcError):
        rpc.transact(carol, platform.funding, encode_call("refund(uint256)", pid))  # deadline not passed
    rpc.call("evm_increaseTime", 3601)
    rpc.call("evm_mine")
    with pytest.raises(RpcError):
        rpc.transact(carol, platform.funding, encode_call("fund(uint256)", pid), ETHER)  # too late to fund
    with pytest.raises(RpcError):
        rpc.transact(artist, platform.funding, encode_call("withdraw(uint256)", pid))  # goal missed
    receipt = rpc.transact(carol, platform.funding, encode_call("refund(uint256)", pid))
    assert events(rpc, platform.funding, "Refunded(uint256 indexed,address indexed,uint256)", receipt) == [
        (pid, carol.lower(), ETHER)]
    with pytest.raises(RpcError):
        rpc.transact(carol, platform.funding, encode_call("refund(uint256)", pid))  # only once


def test_only_the_operator_opens_campaigns_and_ids_span_uint256(chain):
    rpc, platform, accounts = chain
    deadline = chain_now(rpc) + 600
    with pytest.raises(RpcError):
        rpc.transact(accounts[6], platform.funding,
                     encode_call("openCampaign(uint256,address,uint256,uint64)", 1, accounts[6], ETHER, deadline))
    rpc.transact(platform.operator, platform.funding,
                 encode_call("openCampaign(uint256,address,uint256,uint64)", UINT256_MAX, accounts[6], UINT256_MAX,
                             deadline))
    receipt = rpc.transact(accounts[7], platform.funding, encode_call("fund(uint256)", UINT256_MAX), 1)
    assert events(rpc, platform.funding, "Funded(uint256 indexed,address indexed,uint256)", receipt) == [
        (UINT256_MAX, accounts[7].lower(), 1)]


def test_artwork_tokens_transfer_ownership(chain):
    rpc, platform, accounts = chain
    item = uuid.uuid4().int
    minted = rpc.transact(platform.operator, platform.artwork,
                          encode_call("mint(address,uint256,string)", accounts[8], item, "ipfs://artwork"))
    transfer = "Transfer(address indexed,address indexed,uint256 indexed)"
    assert events(rpc, platform.artwork, transfer, minted) == [("0x" + "0" * 40, accounts[8].lower(), item)]
    moved = rpc.transact(accounts[8], platform.artwork,
                         encode_call("transferFrom(address,address,uint256)", accounts[8], accounts[9], item))
    assert events(rpc, platform.artwork, transfer, moved) == [(accounts[8].lower(), accounts[9].lower(), item)]
    with pytest.raises(RpcError):
        rpc.transact(accounts[9], platform.artwork, encode_call("mint(address,uint256,string)", accounts[9], 1, ""))

