import functools
import os
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# The database servers the suite talks to: one pair of variables for every test (README, "Tests").
# Tests that need a server skip, saying why, when it does not answer; with
# MIGRATION_LINT_TEST_REQUIRE_SERVERS=1 (.ci/run sets it) they fail instead, so CI cannot go green
# by skipping them.
PG_URL = os.environ.get("MIGRATION_LINT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MYSQL_URL = os.environ.get("MIGRATION_LINT_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/")
REQUIRE_SERVERS = os.environ.get("MIGRATION_LINT_TEST_REQUIRE_SERVERS", "") not in ("", "0")


def with_driver(url: str) -> str:
    """The tests' own connections name a driver (SQLAlchemy 2.1 defaults postgresql:// to psycopg 3)."""
    scheme, rest = url.split("://", 1)
    if "+" in scheme:
        return url
    return f"{scheme}+{'psycopg2' if scheme.startswith('postgres') else 'pymysql'}://{rest}"


@functools.lru_cache(maxsize=None)
def server_down(url: str):
    """None when the server at url answers, else why not (one line, no password)."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    try:
        engine = sa.create_engine(with_driver(url), poolclass=NullPool, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return f"{make_url(url).render_as_string(hide_password=True)} does not answer: {first}"


def server_answers(url: str) -> bool:
    return server_down(url) is None


def _needs(url: str, variable: str):
    down = server_down(url)
    if down is not None and REQUIRE_SERVERS:
        raise RuntimeError(f"{down} (MIGRATION_LINT_TEST_REQUIRE_SERVERS is set; set {variable} or start the server)")
    return pytest.mark.skipif(down is not None, reason=f"{down} (set {variable}; .ci/run starts it)")


def require_server(url: str, variable: str) -> None:
    """In a test body: skip (or fail, under MIGRATION_LINT_TEST_REQUIRE_SERVERS) when url does not answer."""
    down = server_down(url)
    if down is None:
        return
    if REQUIRE_SERVERS:
        pytest.fail(f"{down} (MIGRATION_LINT_TEST_REQUIRE_SERVERS is set)")
    pytest.skip(f"{down} (set {variable}; .ci/run starts it)")


def needs_pg():
    return _needs(PG_URL, "MIGRATION_LINT_TEST_PG_URL")


def needs_mysql():
    return _needs(MYSQL_URL, "MIGRATION_LINT_TEST_MYSQL_URL")


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
