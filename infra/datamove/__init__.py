"""Moving data into this platform's PostgreSQL: SQLite prototypes and other PostgreSQL
databases. ``python -m infra.datamove --help`` (docs: README, "Moving data in")."""
