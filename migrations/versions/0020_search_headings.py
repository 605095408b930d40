"""search: the headings of items, proposals and artists (title and tags, a name), GIN-indexed

A match in the heading outranks one in the body alone (shared/market/search.py), and the first
page of a common word ranks only the heading's matches, which this index finds.

Revision ID: 0020
Revises: 0019
"""
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# Each table's heading (shared/tables.py HEADING) over the rows its search branch may show.
HEADINGS = {
    "items": "status IN ('listed', 'sold') AND hidden IS NULL",
    "proposals": "status <> 'draft' AND hidden IS NULL",
    "users": "role = 'artist'",
}


def upgrade() -> None:
    for table, where in HEADINGS.items():
        op.execute(f"CREATE INDEX ix_{table}_heading ON {table} USING gin (ts_filter(search, '{{a,b}}')) WHERE {where}")


def downgrade() -> None:
    for table in HEADINGS:
        op.execute(f"DROP INDEX ix_{table}_heading")
