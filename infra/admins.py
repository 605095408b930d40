"""Who administers the platform: no API grants it (an administrator could otherwise make
more), so an operator does, with the migration job's settings and access, like a downgrade
(docs/deploy.md); `make dev` makes its demo moderator one.

    python -m infra.admins grant EMAIL     # the registered person who signed in with EMAIL
    python -m infra.admins revoke EMAIL
    python -m infra.admins list
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

if TYPE_CHECKING:
    from sqlalchemy import Connection


def set_admin(conn: Connection, email: str, admin: bool) -> bool:
    """Make the active person with this sign-in email an administrator (or not), audited;
    False if there is no such person."""
    from sqlalchemy import text

    found = conn.execute(text("UPDATE users SET is_admin = :admin WHERE lower(email) = lower(:email) "
                              "AND deleted_at IS NULL RETURNING id"), {"admin": admin, "email": email}).scalars().all()
    for user_id in found:
        conn.execute(text("INSERT INTO audit_log (actor_id, action, entity_type, entity_id, details) "
                          "VALUES (NULL, :action, 'user', :id, '{\"by\": \"operator\"}')"),
                     {"action": "user.admin_granted" if admin else "user.admin_revoked", "id": str(user_id)})
    return bool(found)


def main(argv: list[str] | None = None) -> int:
    from sqlalchemy import text

    from shared.db import get_engine

    parser = argparse.ArgumentParser(prog="python -m infra.admins", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("grant", "revoke", "list"))
    parser.add_argument("email", nargs="?")
    args = parser.parse_args(argv)
    with get_engine().begin() as conn:
        if args.command == "list":
            for row in conn.execute(text("SELECT id, email, display_name FROM users WHERE is_admin "
                                         "AND deleted_at IS NULL ORDER BY created_at")):
                print(row.id, row.email, row.display_name or "")
            return 0
        if not args.email:
            parser.error(f"{args.command} needs the person's sign-in email")
        if not set_admin(conn, args.email, args.command == "grant"):
            print(f"no registered person signed in with {args.email}", file=sys.stderr)
            return 1
    print(f"{args.email}: {'an administrator' if args.command == 'grant' else 'no longer an administrator'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
