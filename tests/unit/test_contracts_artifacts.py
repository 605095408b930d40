"""The committed ABI + bytecode artifacts are exactly what the pinned solc makes of the sources."""
import subprocess

from infra.manifest import REPO


def test_artifacts_match_a_fresh_compile(tmp_path):
    subprocess.run(["node", str(REPO / "contracts" / "compile.js"), str(tmp_path)], check=True, capture_output=True)
    committed = sorted(p.name for p in (REPO / "contracts" / "artifacts").glob("*.json"))
    fresh = sorted(p.name for p in tmp_path.glob("*.json"))
    assert committed == fresh == ["ArtworkMarket.json", "ArtworkToken.json", "ProposalFunding.json"]
    for name in committed:
        assert (tmp_path / name).read_text() == (REPO / "contracts" / "artifacts" / name).read_text(), (
            f"{name} is stale: run `node contracts/compile.js` and commit contracts/artifacts")
