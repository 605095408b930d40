"""`python -m local.status`: each function of a running `make dev` stack, its port, pid,
restarts and last exit code (written by local/supervisor.py)."""
from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

from local.config import StackConfig


def main() -> int:
    path = StackConfig.from_env().state_dir / "status.json"
    if not path.exists():
        print(f"no stack status at {path}: is `make dev` running?", file=sys.stderr)
        return 1
    status = json.loads(path.read_text())
    print(f"as of {datetime.fromtimestamp(status['updated'], UTC):%H:%M:%S} UTC\n")
    print(f"{'function':<18}{'port':>7}{'pid':>9}  {'state':<11}{'restarts':>9}{'last exit':>11}")
    for row in status["functions"]:
        print(f"{row['name']:<18}{row['port']:>7}{row['pid'] or '-':>9}  {row['state']:<11}{row['restarts']:>9}"
              f"{'-' if row['last_exit'] is None else row['last_exit']:>11}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
