# The migration job's image: Alembic, the shared library and infra/migrate.py; nothing of the functions.
FROM python:3.11-slim-bookworm
WORKDIR /app
COPY infra/migrate-requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt
COPY alembic.ini ./
COPY migrations ./migrations
COPY shared ./shared
COPY infra/__init__.py infra/migrate.py ./infra/
USER nobody
ENTRYPOINT ["python", "-m", "infra.migrate"]
