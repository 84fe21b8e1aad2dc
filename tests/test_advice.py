"""Advice that works when followed.

Every rule's `use_instead` is run, as migrations, with Alembic on a real database of each dialect the
advice is for (SQLite, PostgreSQL and MariaDB): upgrade to the end, then downgrade as far as the
advice writes downgrades. The schema it starts from is the rule's `advice: setup`. A block is a
sequence of migrations, one per `def upgrade()`; a top-level comment that starts with "# Or" begins
an alternative, run on its own from the same starting schema; a `def downgrade()` with no upgrade
before it pairs with the upgrade of the rule's example. env.py snippets the docs show are whole
files in rules/env/, run with `alembic upgrade head` by the real command line.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from conftest import MYSQL_URL, PG_URL, require_server, with_driver

from migration_lint.catalogue import env_snippet, load_catalogue

ALL = ("sqlite", "postgresql", "mysql")
CATALOGUE = load_catalogue()
RULES_WITH_ADVICE = sorted(r.name for r in CATALOGUE if r.docs.get("use_instead"))


def advice_dialects(rule) -> tuple:
    return tuple(rule.advice.get("dialects") or rule.dialects or ALL)


def runs(rule) -> bool:
    return rule.advice.get("runs", True) is not False


# --- reading a use_instead block ------------------------------------------------------------------


def alternatives(text: str) -> list:
    """The block cut at top-level comments that start with "# Or"."""
    parts, current = [], []
    for line in text.splitlines():
        if re.match(r"#\s*Or\b", line) and any(l.strip() and not l.startswith("#") for l in current):
            parts.append("\n".join(current))
            current = []
        current.append(line)
    parts.append("\n".join(current))
    # an "Or ..." that is prose only (no code) belongs to the alternative before it
    merged = []
    for part in parts:
        if merged and not any(l.strip() and not l.lstrip().startswith("#") for l in part.splitlines()):
            merged[-1] += "\n" + part
        else:
            merged.append(part)
    return merged


def migrations(text: str, example: str = "") -> tuple:
    """(module-level code, [(upgrade source, downgrade source or None)]) of one alternative."""
    tree = ast.parse(text)
    context, steps = [], []
    for node in tree.body:
        source = ast.get_source_segment(text, node)
        if isinstance(node, ast.FunctionDef) and node.name == "upgrade":
            steps.append([source, None])
        elif isinstance(node, ast.FunctionDef) and node.name == "downgrade":
            if steps and steps[-1][1] is None:
                steps[-1][1] = source
            else:  # a downgrade on its own fixes the example's
                upgrades = [n for n in ast.parse(example).body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"]
                # no upgrade in the example either: the advice's setup made what the downgrade undoes
                steps.append([ast.get_source_segment(example, upgrades[0]) if upgrades else "def upgrade():\n    pass", source])
        else:
            context.append(source)
    return "\n".join(context), [tuple(s) for s in steps]


HEADER = '''import datetime

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, mysql
'''

ENV_PY = '''from alembic import context

config = context.config
connection = config.attributes["connection"]
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
'''


def write_history(root: Path, setup: str, context: str, steps: list, files: dict) -> list:
    versions = root / "versions"
    versions.mkdir(parents=True)
    (root / "env.py").write_text(ENV_PY)
    revisions = ["a000setup"]
    (versions / "a000setup.py").write_text(
        f'{HEADER}\nrevision = "a000setup"\ndown_revision = None\n\n\ndef upgrade():\n{textwrap.indent(setup.strip() or "pass", "    ")}\n\n\ndef downgrade():\n    pass\n'
    )
    for index, (upgrade, downgrade) in enumerate(steps, 1):
        revision = f"a{index:03d}advice"
        body = f'{HEADER}\n{context}\n\nrevision = "{revision}"\ndown_revision = "{revisions[-1]}"\n\n\n{upgrade}\n\n\n'
        body += downgrade if downgrade else "def downgrade():\n    raise NotImplementedError('the advice writes no downgrade for this step')\n"
        (versions / f"{revision}.py").write_text(body + "\n")
        revisions.append(revision)
    for name, text in files.items():
        path = versions / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return revisions


class Scratch:
    """A database of its own on the test server (mlint_advice_<hex>), dropped afterwards."""

    def __init__(self, dialect: str, tmp_path: Path):
        import sqlalchemy as sa
        from sqlalchemy.pool import NullPool

        self.dialect = dialect
        self.name = f"mlint_advice_{uuid.uuid4().hex[:12]}"
        if dialect == "sqlite":
            self.url, self.server = f"sqlite:///{tmp_path / 'advice.db'}", None
            return
        server = PG_URL if dialect == "postgresql" else MYSQL_URL
        require_server(server, "MIGRATION_LINT_TEST_PG_URL" if dialect == "postgresql" else "MIGRATION_LINT_TEST_MYSQL_URL")
        self.server = sa.create_engine(with_driver(server), poolclass=NullPool, isolation_level="AUTOCOMMIT")
        with self.server.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {self.name}")
        self.url = str(sa.engine.make_url(with_driver(server)).set(database=self.name).render_as_string(hide_password=False))

    def drop(self):
        if self.server is None:
            return
        with self.server.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {self.name}" + (" WITH (FORCE)" if self.dialect == "postgresql" else ""))
        self.server.dispose()


def run_alembic(root: Path, url: str, revisions: list, steps: list, expect: tuple = ()):
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config
    from sqlalchemy.pool import NullPool

    config = Config()
    config.set_main_option("script_location", str(root))
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
            for query in expect:  # what the advice promises, checked on the data
                rows = connection.exec_driver_sql(query).fetchall()
                connection.commit()
                assert not rows, f"after the advice, {query!r} returned {len(rows)} rows"
            # downgrade through the trailing steps that have a downgrade
            keep = len(steps)
            while keep > 0 and steps[keep - 1][1] is not None:
                keep -= 1
            if keep < len(steps):
                command.downgrade(config, revisions[keep])
                connection.commit()
    finally:
        engine.dispose()


CASES = [
    pytest.param(name, dialect, id=f"{name}-{dialect}")
    for name in RULES_WITH_ADVICE
    if runs(CATALOGUE.get(name))
    for dialect in advice_dialects(CATALOGUE.get(name))
]


@pytest.mark.parametrize("name,dialect", CASES)
def test_use_instead_runs_on_a_real_database(name, dialect, tmp_path):
    rule = CATALOGUE.get(name)
    blocks = alternatives(rule.docs["use_instead"])
    assert blocks
    for number, block in enumerate(blocks):
        context, steps = migrations(block, rule.docs.get("example", ""))
        assert steps, f"{name}: alternative {number + 1} holds no migration:\n{block}"
        root = tmp_path / f"alt{number}"
        revisions = write_history(root, rule.advice.get("setup", ""), context, steps, rule.advice.get("files") or {})
        scratch = Scratch(dialect, root)
        try:
            run_alembic(root, scratch.url, revisions, steps, tuple(rule.advice.get("expect") or ()))
        except Exception as exc:
            pytest.fail(f"{name} on {dialect}, alternative {number + 1} fails: {type(exc).__name__}: {str(exc).splitlines()[0]}\n{block}")
        finally:
            scratch.drop()


def test_every_use_instead_runs_or_says_why_not():
    for rule in CATALOGUE:
        text = rule.docs.get("use_instead")
        if not text:
            continue
        compile(text, f"{rule.name}: use_instead", "exec")  # advice is valid Python, runnable or not
        if not runs(rule):
            assert rule.advice.get("why"), rule.name
            continue
        for block in alternatives(text):
            assert migrations(block, rule.docs.get("example", ""))[1], f"{rule.name}: an alternative with no migration"


def test_narrower_advice_says_so_in_its_docs():
    """Advice for fewer dialects than the rule's names them in the advice itself."""
    names = {"postgresql": "PostgreSQL", "mysql": "MySQL", "sqlite": "SQLite"}
    for rule in CATALOGUE:
        narrowed = rule.advice.get("dialects")
        if narrowed and set(narrowed) != set(rule.dialects or ALL):
            text = rule.docs["use_instead"]
            assert all(names[d] in text for d in narrowed), f"{rule.name}: its use_instead does not say it is for {narrowed}"


# --- env.py snippets ---------------------------------------------------------------------------

SNIPPETS = sorted({name for rule in CATALOGUE for name in rule.advice.get("env_py") or []})
LOCK_TIMEOUT_SNIPPETS = [name for name in SNIPPETS if name.startswith("lock_timeout")]

# what `alembic init` writes below [alembic]: the snippets call fileConfig() like the template
LOGGING_INI = """
[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
datefmt = %H:%M:%S
"""


def test_every_snippet_is_run_by_a_test():
    assert set(SNIPPETS) == set(LOCK_TIMEOUT_SNIPPETS) | {"render_as_batch"}, "a new env.py snippet needs a test that runs it"

PROBE = '''from alembic import op

revision = "b000probe"
down_revision = None


def upgrade():
    # committed only if env.py lets Alembic commit; records what the session had set
    op.execute("CREATE TABLE mlint_probe AS SELECT current_setting('lock_timeout') AS lock_timeout")


def downgrade():
    op.execute("DROP TABLE mlint_probe")
'''


def alembic_project(root: Path, env_py: str, url: str) -> Path:
    (root / "migrations" / "versions").mkdir(parents=True)
    (root / "alembic.ini").write_text(f"[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = {url}\n" + LOGGING_INI)
    (root / "migrations" / "env.py").write_text(env_py)
    (root / "migrations" / "versions" / "b000probe.py").write_text(PROBE)
    return root


def alembic_cli(root: Path, *args, pythonpath: str = ""):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return subprocess.run([sys.executable, "-m", "alembic", *args], cwd=root, capture_output=True, text=True, env=env, timeout=120)


def probe(scratch):
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    engine = sa.create_engine(scratch.url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("mlint_probe"):
                return None
            return conn.exec_driver_sql("SELECT lock_timeout FROM mlint_probe").scalar()
    finally:
        engine.dispose()


@pytest.mark.parametrize("snippet", LOCK_TIMEOUT_SNIPPETS)
def test_env_py_snippet_runs_and_commits(snippet, tmp_path):
    """The snippet, used as a project's env.py: `alembic upgrade head` commits the migration and
    the migration runs with lock_timeout set."""
    text = env_snippet(snippet).read_text(encoding="utf-8")
    scratch = Scratch("postgresql", tmp_path)
    try:
        root = alembic_project(tmp_path / "project", text, scratch.url)
        proc = alembic_cli(root, "upgrade", "head")
        assert proc.returncode == 0, proc.stderr
        assert probe(scratch) == "5s", f"{snippet}: the migration's table is missing or lock_timeout was not 5s"
        proc = alembic_cli(root, "downgrade", "base")
        assert proc.returncode == 0 and probe(scratch) is None, proc.stderr
    finally:
        scratch.drop()


def test_the_env_py_trap_the_docs_warn_about(tmp_path):
    """Why the snippets commit first: under SQLAlchemy 2.x a statement before context.configure()
    leaves a transaction open that Alembic takes as the caller's, and nothing is committed."""
    import sqlalchemy

    if int(sqlalchemy.__version__.split(".")[0]) < 2:
        pytest.skip("SQLAlchemy 1.x autocommits the SET")
    text = env_snippet("lock_timeout_commit").read_text(encoding="utf-8")
    trap = text.replace("        connection.commit()\n", "")
    assert trap != text
    scratch = Scratch("postgresql", tmp_path)
    try:
        root = alembic_project(tmp_path / "project", trap, scratch.url)
        proc = alembic_cli(root, "upgrade", "head")
        assert proc.returncode == 0, proc.stderr  # exits 0 ...
        assert probe(scratch) is None  # ... and created nothing
    finally:
        scratch.drop()


MODELS = """import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


user = sa.Table("user", Base.metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("email", sa.String(255), nullable=False))
"""


def test_render_as_batch_snippet_makes_autogenerate_write_batch_operations(tmp_path):
    """The sqlite-alter-outside-batch advice: with the snippet as env.py, `alembic revision
    --autogenerate` writes the change as a batch operation, SQLite runs it, and the linter is quiet."""
    import shutil

    import alembic
    import sqlalchemy as sa

    from migration_lint import api

    root = tmp_path / "project"
    url = f"sqlite:///{root / 'app.db'}"
    alembic_project(root, env_snippet("render_as_batch").read_text(encoding="utf-8"), url)
    (root / "migrations" / "versions" / "b000probe.py").unlink()
    shutil.copy(Path(alembic.__file__).parent / "templates" / "generic" / "script.py.mako", root / "migrations")
    (root / "myapp").mkdir()
    (root / "myapp" / "__init__.py").write_text("")
    (root / "myapp" / "models.py").write_text(MODELS)
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # the database as it is: email still nullable
        conn.exec_driver_sql('CREATE TABLE "user" (id INTEGER PRIMARY KEY, email VARCHAR(255))')
        conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
    engine.dispose()
    proc = alembic_cli(root, "revision", "--autogenerate", "-m", "email not null", "--rev-id", "c000batch", pythonpath=str(root))
    assert proc.returncode == 0, proc.stderr
    (generated,) = (root / "migrations" / "versions").glob("c000batch_*.py")
    text = generated.read_text()
    assert re.search(r"with op\.batch_alter_table\(['\"]user['\"]", text) and re.search(r"batch_op\.alter_column\(['\"]email['\"]", text), text
    assert not re.search(r"^\s+op\.alter_column", text, re.M), text
    proc = alembic_cli(root, "upgrade", "head", pythonpath=str(root))
    assert proc.returncode == 0, proc.stderr
    result = api.check([root], dialect="sqlite", use_cache=False)
    assert not [f for f in result.findings if f.rule == "sqlite-alter-outside-batch"]
