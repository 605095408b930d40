"""The local EVM chain: anvil (npm @foundry-rs/anvil) and the contracts from
contracts/artifacts, deployed over plain JSON-RPC."""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.manifest import REPO
from local.processes import Child, port_open, spawn
from shared.chain.abi import encode_call
from shared.chain.rpc import JsonRpc, RpcError

ARTIFACTS = REPO / "contracts" / "artifacts"


def anvil_binary() -> Path:
    found = sorted((REPO / "node_modules" / "@foundry-rs").glob("anvil-*/bin/anvil"))
    if not found:
        raise RuntimeError("anvil is not installed: run `npm ci` (make install does)")
    binary = found[0]
    binary.chmod(binary.stat().st_mode | 0o111)
    return binary


def start_anvil(port: int, workdir: Path, *, chain_id: int = 31337) -> Child:
    # The binary itself: `npx anvil` would leave an orphan when stopped.
    child = spawn("anvil", [str(anvil_binary()), "--host", "127.0.0.1", "--port", str(port),
                            "--chain-id", str(chain_id), "--silent"], env={**os.environ}, log_dir=workdir)
    child.wait_until(lambda: port_open(port), 30)
    return child


class Rpc(JsonRpc):
    """The node client of shared/, plus what development and tests do: send transactions."""

    def transact(self, sender: str, to: str | None, data: str, value: int = 0,
                 gas: int = 5_000_000) -> dict[str, Any]:
        """Send from an unlocked account and return the mined receipt; raise if it reverted."""
        tx = {"from": sender, "data": data, "value": hex(value), "gas": hex(gas)}
        if to:
            tx["to"] = to
        tx_hash = self.call("eth_sendTransaction", tx)
        receipt = self.wait_for_receipt(tx_hash)
        if int(receipt["status"], 16) != 1:
            raise RpcError({"message": f"transaction reverted: {receipt['transactionHash']}"}, "eth_sendTransaction")
        return receipt

    def wait_for_receipt(self, tx_hash: str, timeout: float = 15.0) -> dict[str, Any]:
        """Automine usually has it at once, but not always (a reverted call, a busy node)."""
        deadline = time.monotonic() + timeout
        while (receipt := self.call("eth_getTransactionReceipt", tx_hash)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no receipt for {tx_hash} after {timeout:.0f}s")
            time.sleep(0.01)
        return receipt


def artifact(name: str) -> dict[str, Any]:
    return json.loads((ARTIFACTS / f"{name}.json").read_text())


def deploy(rpc: Rpc, name: str, sender: str, constructor_types: list[str], args: list[Any]) -> str:
    from eth_abi import encode

    data = artifact(name)["bytecode"] + encode(constructor_types, args).hex()
    return rpc.transact(sender, None, data)["contractAddress"]


@dataclass(frozen=True)
class Deployment:
    funding: str
    artwork: str
    operator: str
    market: str


# The private key of anvil's first account (its well-known test mnemonic): the deployer, hence
# the contracts' operator; the campaign-operator function signs with it locally (no KMS offline).
ANVIL_OPERATOR_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


# The platform's share of a sale on the local chain, as PLATFORM_FEE_BPS is locally (functions.yaml).
MARKET_FEE_BPS = 1000


def deploy_platform(rpc: Rpc) -> Deployment:
    """ProposalFunding, ArtworkToken and ArtworkMarket, with the first unlocked account as the
    platform (the market's treasury too)."""
    operator = rpc.call("eth_accounts")[0]
    funding = deploy(rpc, "ProposalFunding", operator, ["address"], [operator])
    artwork = deploy(rpc, "ArtworkToken", operator, ["address"], [operator])
    market = deploy(rpc, "ArtworkMarket", operator, ["address", "address", "uint16"],
                    [artwork, operator, MARKET_FEE_BPS])
    return Deployment(funding, artwork, operator, market)


def chain_time(rpc: Rpc) -> int:
    return int(rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16)


@dataclass(frozen=True)
class Platform:
    """What the platform and its users do on chain, as development and tests need it."""

    rpc: Rpc
    deployment: Deployment

    def open_campaign(self, proposal_id: int, artist: str, goal: int, seconds: int = 86_400) -> dict[str, Any]:
        return self.rpc.transact(self.deployment.operator, self.deployment.funding,
                                 encode_call("openCampaign(uint256,address,uint256,uint64)", proposal_id, artist,
                                             goal, chain_time(self.rpc) + seconds))

    def campaign(self, proposal_id: int) -> tuple[str, int, bool, int, int]:
        """(artist, deadline, withdrawn, goal, raised); the artist is the zero address if there is none."""
        return self.read(self.deployment.funding, "campaigns(uint256)",
                         ["address", "uint64", "bool", "uint256", "uint256"], proposal_id)

    def has_campaign(self, proposal_id: int) -> bool:
        return int(self.campaign(proposal_id)[0], 16) != 0

    def ensure_campaign(self, proposal_id: int, artist: str, goal: int, seconds: int) -> bool:
        """Open the campaign unless it exists (whoever opens it first wins); True if this call opened it."""
        if self.has_campaign(proposal_id):
            return False
        try:
            self.open_campaign(proposal_id, artist, goal, seconds)
        except RpcError:
            if self.has_campaign(proposal_id):
                return False
            raise
        return True

    def fund(self, backer: str, proposal_id: int, amount: int) -> dict[str, Any]:
        return self.rpc.transact(backer, self.deployment.funding, encode_call("fund(uint256)", proposal_id), amount)

    def fund_many(self, backer: str, pledges: list[tuple[int, int]], gas: int = 29_000_000) -> dict[str, Any]:
        """One transaction, one Funded event per (proposal id, amount)."""
        ids, amounts = [p for p, _ in pledges], [a for _, a in pledges]
        return self.rpc.transact(backer, self.deployment.funding,
                                 encode_call("fundMany(uint256[],uint256[])", ids, amounts), sum(amounts), gas=gas)

    def refund(self, backer: str, proposal_id: int) -> dict[str, Any]:
        return self.rpc.transact(backer, self.deployment.funding, encode_call("refund(uint256)", proposal_id))

    def withdraw(self, artist: str, proposal_id: int) -> dict[str, Any]:
        return self.rpc.transact(artist, self.deployment.funding, encode_call("withdraw(uint256)", proposal_id))

    def mint(self, to: str, token_id: int, uri: str = "") -> dict[str, Any]:
        return self.rpc.transact(self.deployment.operator, self.deployment.artwork,
                                 encode_call("mint(address,uint256,string)", to, token_id, uri))

    def transfer(self, owner: str, to: str, token_id: int) -> dict[str, Any]:
        return self.rpc.transact(owner, self.deployment.artwork,
                                 encode_call("transferFrom(address,address,uint256)", owner, to, token_id))

    # -- the market (contracts/ArtworkMarket.sol) --

    def open_sale(self, seller: str, sale_id: int, token_id: int, price: int, seconds: int = 0) -> dict[str, Any]:
        """Approve the market for the token, then put it on sale: an auction of ``seconds``, or
        (0) at a fixed price."""
        self.rpc.transact(seller, self.deployment.artwork,
                          encode_call("approve(address,uint256)", self.deployment.market, token_id))
        return self.rpc.transact(seller, self.deployment.market,
                                 encode_call("openSale(uint256,uint256,uint256,uint64)", sale_id, token_id, price,
                                             seconds))

    def buy(self, buyer: str, sale_id: int, price: int) -> dict[str, Any]:
        return self.rpc.transact(buyer, self.deployment.market, encode_call("buy(uint256)", sale_id), price)

    def bid(self, bidder: str, sale_id: int, amount: int) -> dict[str, Any]:
        return self.rpc.transact(bidder, self.deployment.market, encode_call("bid(uint256)", sale_id), amount)

    def settle(self, sender: str, sale_id: int) -> dict[str, Any]:
        return self.rpc.transact(sender, self.deployment.market, encode_call("settle(uint256)", sale_id))

    def cancel_sale(self, seller: str, sale_id: int) -> dict[str, Any]:
        return self.rpc.transact(seller, self.deployment.market, encode_call("cancel(uint256)", sale_id))

    def withdraw_credits(self, account: str) -> dict[str, Any]:
        return self.rpc.transact(account, self.deployment.market, encode_call("withdraw()"))

    def credits(self, account: str) -> int:
        return self.read(self.deployment.market, "credits(address)", ["uint256"], account)[0]

    def read(self, contract: str, signature: str, types: list[str], *args: Any) -> tuple[Any, ...]:
        from eth_abi import decode

        answer = self.rpc.call("eth_call", {"to": contract, "data": encode_call(signature, *args)}, "latest")
        return decode(types, bytes.fromhex(answer[2:]))
