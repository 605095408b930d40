"""No credential-bearing URL reaches a message that is stored, logged or served."""
from __future__ import annotations

from shared.chain.rpc import JsonRpc, RpcUnavailable
from shared.redact import origin, redact

KEYED = "https://user:pa55@eth-mainnet.example.test:8443/v2/AbCdEf123?key=QwErTy&x=1#frag"


def test_origin_keeps_scheme_host_and_port_only():
    assert origin(KEYED) == "https://eth-mainnet.example.test:8443"
    assert origin("http://127.0.0.1/") == "http://127.0.0.1"


def test_every_url_is_cut_to_its_origin_and_known_secrets_go_wherever_they_appear():
    text = (f"HTTPSConnectionPool(host='eth-mainnet.example.test', port=8443): Max retries exceeded with url: "
            f"/v2/AbCdEf123?key=QwErTy&x=1 (caused by {KEYED})")
    cleaned = redact(text, KEYED)
    for secret in ("AbCdEf123", "QwErTy", "pa55", "user:"):
        assert secret not in cleaned
    assert "https://eth-mainnet.example.test:8443" in cleaned
    assert redact("no url here") == "no url here"


def test_a_json_rpc_client_never_shows_its_url():
    rpc = JsonRpc("http://127.0.0.1:9/v2/AbCdEf123?key=QwErTy", timeout=0.5, attempts=1)
    assert "AbCdEf123" not in repr(rpc)
    try:
        rpc.call("eth_blockNumber")
    except RpcUnavailable as error:
        message = str(error)
        assert error.__cause__ is None and error.__suppress_context__  # the library's text is not chained
    assert message.startswith("cannot reach http://127.0.0.1:9") and "AbCdEf123" not in message and "QwErTy" not in message
