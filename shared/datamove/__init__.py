"""Moving data into this platform's PostgreSQL: SQLite prototypes and other PostgreSQL
databases. ``python -m shared.datamove --help`` (docs: README, "Moving data in")."""
