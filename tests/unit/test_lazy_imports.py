"""Cold start: importing a function must not import the heavy clients it may never use,
nor the ORM, which only writes load (decision 0016)."""
import json
import subprocess
import sys

import pytest

from infra.manifest import REPO, Function, load

HEAVY = ("firebase_admin", "jwt", "cryptography", "google.auth", "google.cloud.sql.connector", "google.cloud.storage", "google.cloud.pubsub", "eth_account", "web3",
         "neo4j", "falkordb", "redis", "PIL", "requests", "sqlalchemy.orm")


def _after_import(function: Function, then: str, env: dict[str, str] | None = None) -> str:
    """What ``then`` prints in a fresh interpreter that has just imported the function's module."""
    code = (
        "import gc, importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('main', {str(function.main)!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        f"{then}"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                            env={"PYTHONPATH": str(REPO), **(env or {})})
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("function", load().functions, ids=lambda f: f.name)
def test_importing_a_function_loads_no_heavy_module(function):
    printed = _after_import(function, f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({HEAVY!r}))))\n")
    assert json.loads(printed) == []


def test_verifying_a_token_loads_no_admin_sdk():
    """A signed-in request pays for PyJWT, not for firebase-admin, google-auth or requests
    (decision 0018); here with an Auth emulator token and the revocation check off, so
    that nothing needs a server."""
    code = (
        "import json, sys, time, jwt\n"
        "from shared.identity.auth import FirebaseAuth\n"
        "now = int(time.time())\n"
        "claims = {'iss': 'https://securetoken.google.com/demo-x', 'aud': 'demo-x', 'sub': 'u1',\n"
        "          'iat': now, 'auth_time': now, 'exp': now + 60}\n"
        "token = jwt.encode(claims, None, algorithm='none')\n"
        "auth = FirebaseAuth('demo-x', check_revoked=False, emulator_host='127.0.0.1:9')\n"
        "assert auth.verify(token).uid == 'u1'\n"
        "print(json.dumps(sorted(m for m in sys.modules\n"
        "                        if m.startswith(('firebase_admin', 'google.auth', 'requests', 'httpx')))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                            env={"PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


# Consumers whose whole path is SQLAlchemy Core: the ORM (~70 ms) is not theirs to load.
CORE_ONLY = ("graph-etl", "graph-reconcile", "popularity")


@pytest.mark.parametrize("name", CORE_ONLY)
def test_core_only_functions_do_not_import_the_orm(name):
    function = next(f for f in load().functions if f.name == name)
    # Also what graph-etl and graph-reconcile import only when an event arrives.
    printed = _after_import(function, "import shared.events.consumer, shared.events.envelope, shared.graph.etl, shared.graph.reconcile\n"
                                      "print('sqlalchemy.orm' in sys.modules)\n")
    assert printed.strip() == "False"


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
    printed = _after_import(
        function,
        "paused = not gc.isenabled()\n" + first_call + "print(paused, gc.isenabled(), gc.get_freeze_count() > 0)\n",
        env={"GOOGLE_CLOUD_PROJECT": "demo-test", "DATABASE_URL": "postgresql+pg8000://nobody@127.0.0.1:9/none"},
    )
    assert printed.split() == ["True", "True", "True"]
