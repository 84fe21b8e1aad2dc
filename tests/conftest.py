import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def revision_file(revision, down_revision=None, upgrade="pass", downgrade="pass", extra_header="", imports=""):
    down = repr(down_revision) if not isinstance(down_revision, (tuple, list)) else repr(tuple(down_revision))
    body = f'''"""revision {revision}"""
from alembic import op
import sqlalchemy as sa
{imports}
revision = {revision!r}
down_revision = {down}
branch_labels = None
depends_on = None
{extra_header}

def upgrade():
{textwrap.indent(textwrap.dedent(upgrade).strip() or "pass", "    ")}


def downgrade():
{textwrap.indent(textwrap.dedent(downgrade).strip() or "pass", "    ")}
'''
    return body


ENV_PY = '''from alembic import context

config = context.config


def run_migrations_online():
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
'''


def write_tree(root: Path, files: dict) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MIGRATION_LINT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


# A runnable history for the round trip and the pytest plugin: env.py and revision files.
RUNNABLE_ENV_PY = '''from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config


def run_migrations_online():
    connectable = config.attributes.get("connection")
    if connectable is None:
        connectable = engine_from_config(config.get_section(config.config_ini_section), prefix="sqlalchemy.", poolclass=pool.NullPool).connect()
    with connectable as connection:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
'''


def runnable_revision(revision, down, upgrade, downgrade, imports=""):
    def body(text):
        return "\n".join("    " + line for line in text.strip().splitlines())

    return f'''from alembic import op
import sqlalchemy as sa
{imports}
revision = {revision!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
{body(upgrade)}


def downgrade():
{body(downgrade)}
'''
