# env.py -- Alembic's generic template, with lock_timeout set for every migration (PostgreSQL).
# The setting is part of how the connection is made, so no statement runs before
# context.configure() and Alembic's transaction handling is untouched.
# (libpq drivers: psycopg2 and psycopg take "options"; asyncpg takes
#  connect_args={"server_settings": {"lock_timeout": "5s"}}.)
from logging.config import fileConfig

from sqlalchemy import engine_from_config
from sqlalchemy import pool

from alembic import context

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

target_metadata = None  # your models' MetaData, for autogenerate

LOCK_TIMEOUT = "5s"


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")  # first line of the --sql script
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
        connect_args={"options": f"-c lock_timeout={LOCK_TIMEOUT}"},
    )
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
