"""The local EVM chain: anvil (npm @foundry-rs/anvil) and the contracts from
contracts/artifacts, deployed over plain JSON-RPC."""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from local.processes import Child, port_open, spawn
from shared.manifest import REPO

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


class RpcError(RuntimeError):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message", str(error)))
        self.error = error


@dataclass
class Rpc:
    url: str

    def call(self, method: str, *params: Any) -> Any:
        body = requests.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)},
                             timeout=30).json()
        if "error" in body:
            raise RpcError(body["error"])
        return body["result"]

    def transact(self, sender: str, to: str | None, data: str, value: int = 0) -> dict[str, Any]:
        """Send from an unlocked account and return the mined receipt; raise if it reverted."""
        tx = {"from": sender, "data": data, "value": hex(value), "gas": hex(5_000_000)}
        if to:
            tx["to"] = to
        tx_hash = self.call("eth_sendTransaction", tx)
        receipt = self.wait_for_receipt(tx_hash)
        if int(receipt["status"], 16) != 1:
            raise RpcError({"message": f"transaction reverted: {receipt['transactionHash']}"})
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


def selector(signature: str) -> str:
    from eth_utils import keccak

    return "0x" + keccak(text=signature)[:4].hex()


def encode_call(signature: str, *args: Any) -> str:
    """Calldata for ``name(type,...)`` with ``args``."""
    from eth_abi import encode

    types = signature[signature.index("(") + 1:-1]
    return selector(signature) + encode([t for t in types.split(",") if t], list(args)).hex()


def deploy(rpc: Rpc, name: str, sender: str, constructor_types: list[str], args: list[Any]) -> str:
    from eth_abi import encode

    data = artifact(name)["bytecode"] + encode(constructor_types, args).hex()
    return rpc.transact(sender, None, data)["contractAddress"]


@dataclass(frozen=True)
class Deployment:
    funding: str
    artwork: str
    operator: str


def deploy_platform(rpc: Rpc) -> Deployment:
    """ProposalFunding and ArtworkToken, with the first unlocked account as the platform."""
    operator = rpc.call("eth_accounts")[0]
    funding = deploy(rpc, "ProposalFunding", operator, ["address"], [operator])
    artwork = deploy(rpc, "ArtworkToken", operator, ["address"], [operator])
    return Deployment(funding, artwork, operator)
