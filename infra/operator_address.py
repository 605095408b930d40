"""The campaign operator's Ethereum address, read from its Cloud KMS key (with your gcloud
application-default credentials): the address ProposalFunding must be deployed with as its
operator (docs/deploy.md).

    python -m infra.operator_address projects/P/locations/R/keyRings/kalakrut-ENV-chain/cryptoKeys/proposal-funding-operator/cryptoKeyVersions/1
"""
from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    from shared.chain.signing import KmsSigner

    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    print(KmsSigner(argv[0]).address)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
