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


# Consumers whose whole path is SQLAlchemy Core: the ORM (~70 ms) is not theirs to load.
CORE_ONLY = ("graph-etl", "graph-reconcile", "popularity")


@pytest.mark.parametrize("name", CORE_ONLY)
def test_core_only_functions_do_not_import_the_orm(name):
    function = next(f for f in load().functions if f.name == name)
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('main', {str(function.main)!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "import shared.consumer, shared.events, shared.graph_etl, shared.graph_reconcile\n"
        "print('sqlalchemy.orm' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                            env={"PYTHONPATH": str(REPO)})
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("function", load().functions, ids=lambda f: f.name)
def test_the_garbage_collector_waits_for_the_first_call(function):
    """Import pauses the collector (shared/startup.py); the first call, even a failing one, resumes it."""
    if function.http_paths:
        first_call = (
            "from werkzeug.test import EnvironBuilder\n"
            "from werkzeug.wrappers import Request\n"
            "response = module.handle(Request(EnvironBuilder(path='/api/no-such-route').get_environ()))\n"
            "assert response.status_code == 404, response.status_code\n"
        )
    else:
        # Not a real event: the handler fails at once, which must end the pause all the same.
        first_call = (
            "try:\n"
            "    module.handle(None)\n"
            "except Exception:\n"
            "    pass\n"
        )
    code = (
        "import gc, importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('main', {str(function.main)!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "paused = not gc.isenabled()\n"
        f"{first_call}"
        "print(paused, gc.isenabled(), gc.get_freeze_count() > 0)\n"
    )
    env = {"PYTHONPATH": str(REPO), "GOOGLE_CLOUD_PROJECT": "demo-test",
           "DATABASE_URL": "postgresql+pg8000://nobody@127.0.0.1:9/none"}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True"]
