# env.py -- Alembic's generic template, with lock_timeout set for every migration (PostgreSQL) by a
# statement on the connection. Under SQLAlchemy 2.x that statement begins a transaction; left
# open, Alembic takes it for the caller's and commits nothing (`alembic upgrade head` exits 0 and
# creates no tables). So commit it before context.configure(). A plain SET lasts for the session.
from logging.config import fileConfig

import sqlalchemy as sa
from sqlalchemy import engine_from_config
from sqlalchemy import pool

from alembic import context

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

target_metadata = None  # your models' MetaData, for autogenerate


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.execute("SET lock_timeout = '5s'")  # first line of the --sql script
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        connection.execute(sa.text("SET lock_timeout = '5s'"))
        connection.commit()
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
