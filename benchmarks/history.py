"""A realistic, runnable linear Alembic history for benchmarks (about 55 lines per revision).

Each revision does what real projects do: create a table with columns, an index and an enum;
add columns; alter a column; run some SQL; and reverses all of it in downgrade().  The result also
works with `alembic upgrade head --sql` (offline mode) and against a real database.
"""

from __future__ import annotations

from pathlib import Path

ALEMBIC_INI = """[alembic]
script_location = %(here)s/migrations
sqlalchemy.url = postgresql://postgres@127.0.0.1/postgres

[loggers]
keys = root

[handlers]
keys =

[formatters]
keys =

[logger_root]
level = WARN
handlers =
"""

ENV_PY = '''from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config


def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    # A Connection (Alembic's cookbook), an Engine (pytest-alembic) or nothing (the URL).
    connectable = config.attributes.get("connection")
    if connectable is None:
        connectable = engine_from_config(config.get_section(config.config_ini_section), prefix="sqlalchemy.", poolclass=pool.NullPool)
    if hasattr(connectable, "begin_nested") and not hasattr(connectable, "raw_connection"):
        run(connectable)  # already a Connection
        return
    with connectable.connect() as connection:
        run(connection)


def run(connection):
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''

TEMPLATE = '''"""{title}

Revision ID: {rev}
Revises: {down}
Create Date: 2026-01-01 00:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "{rev}"
down_revision = {down_repr}
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "item_{n}",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.Enum("small", "large", name="item_{n}_kind"), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("now()"), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_item_{n}_name"), "item_{n}", ["name"], unique=False)
    op.add_column("item_{p}", sa.Column("note_{n}", sa.Text(), nullable=True))
    op.alter_column("item_{p}", "name", existing_type=sa.String(length=120), nullable=True)
    op.create_index("ix_item_{p}_note_{n}", "item_{p}", ["note_{n}"])
    op.execute("UPDATE item_{p} SET note_{n} = 'x' WHERE id < 0")


def downgrade():
    op.execute("UPDATE item_{p} SET note_{n} = NULL WHERE id < 0")
    op.drop_index("ix_item_{p}_note_{n}", table_name="item_{p}")
    op.alter_column("item_{p}", "name", existing_type=sa.String(length=120), nullable=False)
    op.drop_column("item_{p}", "note_{n}")
    op.drop_index(op.f("ix_item_{n}_name"), table_name="item_{n}")
    op.drop_table("item_{n}")
    sa.Enum(name="item_{n}_kind").drop(op.get_bind(), checkfirst=False)
'''

FIRST = '''"""base

Revision ID: {rev}
Revises:
Create Date: 2026-01-01 00:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

revision = "{rev}"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "item_0",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade():
    op.drop_table("item_0")
'''


def rev_id(n: int) -> str:
    return f"{n:04d}{(n * 2654435761) % (16 ** 8):08x}"


def generate_history(root: Path, count: int) -> Path:
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    (root / "alembic.ini").write_text(ALEMBIC_INI)
    (root / "migrations" / "env.py").write_text(ENV_PY)
    (root / "migrations" / "script.py.mako").write_text("")
    (versions / f"{rev_id(0)}_base.py").write_text(FIRST.format(rev=rev_id(0)))
    for n in range(1, count):
        rev, down = rev_id(n), rev_id(n - 1)
        text = TEMPLATE.format(title=f"item {n}", rev=rev, down=down, down_repr=repr(down), n=n, p=n - 1)
        (versions / f"{rev}_item_{n}.py").write_text(text)
    return root
