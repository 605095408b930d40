"""Cold start: importing a function must not import the heavy clients it may never use."""
import json
import subprocess
import sys

import pytest

from shared.manifest import REPO, load

HEAVY = ("firebase_admin", "google.cloud.sql.connector", "google.cloud.storage", "google.cloud.pubsub", "eth_account", "web3",
         "neo4j", "falkordb", "redis", "PIL", "requests")


@pytest.mark.parametrize("function", load().functions, ids=lambda f: f.name)
def test_importing_a_function_loads_no_heavy_module(function):
    code = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('main', {str(function.main)!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({HEAVY!r}))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                            env={"PYTHONPATH": str(REPO)})
    assert json.loads(result.stdout) == []
