"""Reference: the floor of any database-backed function — functions-framework +
SQLAlchemy/pg8000 answering one SELECT 1 (engine built on the first request)."""
import os

from sqlalchemy import create_engine, text

_engine = None


def handle(request):
    global _engine
    if _engine is None:
        _engine = create_engine(os.environ["DATABASE_URL"], pool_size=1)
    with _engine.connect() as connection:
        return str(connection.execute(text("SELECT 1")).scalar())
