"""Alembic environment: online migrations on the configured URL, batch mode for SQLite ALTERs."""

from __future__ import annotations

from alembic import context

import crm_core.models  # noqa: F401  (registers the tables for autogenerate)
from crm_core.db import Base, make_engine

config = context.config


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url") or ""
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) migrations are not supported; run `callcenter migrate`.")
run_migrations_online()
