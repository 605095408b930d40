"""The migration job (Cloud Run job, infra/terraform/migrations.tf): Alembic to head on the
database the configuration names, then read/write grants for the functions' IAM users.

    python -m infra.migrate
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from sqlalchemy import text

REPO = Path(__file__).resolve().parent.parent
# An IAM database user is the service account's email without its domain (locally, the
# function's role has the account's name alone: fn-<function>).
_USER = re.compile(r"^[a-z][a-z0-9-]*(@[a-z0-9-]+\.iam)?$")


def app_users(value: str) -> list[str]:
    users = [user.strip() for user in value.split(",") if user.strip()]
    bad = [user for user in users if not _USER.match(user)]
    if bad:
        raise SystemExit(f"DB_APP_USERS: not database users of functions: {', '.join(bad)}")
    return users


def main() -> int:
    from alembic import command
    from alembic.config import Config

    from shared.db import get_engine

    users = app_users(os.environ.get("DB_APP_USERS", ""))
    engine = get_engine()
    config = Config(str(REPO / "alembic.ini"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        for user in users:  # validated above: safe to quote into DDL
            quoted = f'"{user}"'
            connection.execute(text(f"GRANT USAGE ON SCHEMA public TO {quoted}"))
            connection.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}"))
            connection.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}"))
    print(f"migrated to head; granted to {len(users)} users")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
