"""What the run-time rules claim about Alembic, checked by running Alembic on the real servers,
next to what the linter says about the same files.

Each case is a small Alembic project on a scratch database (mlint_rt_<hex>, one per dialect, emptied
for each project and dropped at the end), run in-process with ``alembic.command``; the linter
reads the same folder.
"""

from __future__ import annotations

import io
import textwrap
import uuid
from pathlib import Path

import pytest

from conftest import MYSQL_URL, PG_URL, require_server, with_driver
from migration_lint import api
from migration_lint.catalogue import env_snippet
from migration_lint.config import config_from_mapping

ENV_PY = '''from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config


def run_migrations_online():
    connectable = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=None{options})
        with context.begin_transaction():
            context.run_migrations(){after}


def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''


def env_py(options: str = "", after: str = "") -> str:
    return ENV_PY.replace("{options}", options).replace("{after}", after)


def table(name: str) -> str:
    return f'op.create_table("{name}", sa.Column("id", sa.Integer(), primary_key=True))'


class Scratch:
    """One scratch database per dialect for the module (mlint_rt_<hex>), emptied for each project
    and dropped at the end."""

    def __init__(self, dialect: str):
        import sqlalchemy as sa
        from sqlalchemy.pool import NullPool

        server = PG_URL if dialect == "postgresql" else MYSQL_URL
        require_server(server, "MIGRATION_LINT_TEST_PG_URL" if dialect == "postgresql" else "MIGRATION_LINT_TEST_MYSQL_URL")
        self.dialect = dialect
        self.name = f"mlint_rt_{uuid.uuid4().hex[:12]}"
        self.admin = sa.create_engine(with_driver(server), poolclass=NullPool, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {self.name}")
        self.url = sa.engine.make_url(with_driver(server)).set(database=self.name).render_as_string(hide_password=False)

    def empty(self):
        import sqlalchemy as sa
        from sqlalchemy.pool import NullPool

        if self.dialect == "postgresql":
            engine = sa.create_engine(self.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
            try:
                with engine.connect() as conn:
                    conn.exec_driver_sql("DROP SCHEMA public CASCADE")
                    conn.exec_driver_sql("CREATE SCHEMA public")
            finally:
                engine.dispose()
        else:
            with self.admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE {self.name}")
                conn.exec_driver_sql(f"CREATE DATABASE {self.name}")

    def drop(self):
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {self.name}" + (" WITH (FORCE)" if self.dialect == "postgresql" else ""))
        self.admin.dispose()


class Project:
    """An Alembic project on an emptied scratch database: revisions r000, r001, ... in order."""

    def __init__(self, root: Path, scratch: Scratch, env: str, revisions: list):
        scratch.empty()
        self.root, self.dialect, self.url = root, scratch.dialect, scratch.url
        versions = root / "migrations" / "versions"
        versions.mkdir(parents=True)
        (root / "migrations" / "env.py").write_text(env)
        previous = None
        for index, (upgrade, downgrade) in enumerate(revisions):
            revision = f"r{index:03d}"
            (versions / f"{revision}.py").write_text(
                "from alembic import context, op\nimport sqlalchemy as sa\nfrom sqlalchemy.dialects import postgresql\n\n"
                f"revision = {revision!r}\ndown_revision = {previous!r}\n\n\n"
                f"def upgrade():\n{textwrap.indent(textwrap.dedent(upgrade).strip() or 'pass', '    ')}\n\n\n"
                f"def downgrade():\n{textwrap.indent(textwrap.dedent(downgrade or '').strip() or 'pass', '    ')}\n"
            )
            previous = revision

    def alembic(self, command: str, *args, **kwargs):
        """(None, output) when the command succeeds, else (the error, output)."""
        from alembic import command as commands
        from alembic.config import Config

        output = io.StringIO()
        config = Config(output_buffer=output)
        config.set_main_option("script_location", str(self.root / "migrations"))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        try:
            getattr(commands, command)(config, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - what Alembic raises is what the test looks at
            return f"{type(exc).__name__}: {exc}", output.getvalue()
        return None, output.getvalue()

    def state(self):
        """(tables, stamped revisions) of the database now."""
        import sqlalchemy as sa
        from sqlalchemy.pool import NullPool

        engine = sa.create_engine(self.url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                tables = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
                stamped = set()
                if sa.inspect(conn).has_table("alembic_version"):
                    stamped = {row[0] for row in conn.exec_driver_sql("SELECT version_num FROM alembic_version")}
                return tables, stamped
        finally:
            engine.dispose()

    def execute(self, sql: str):
        import sqlalchemy as sa
        from sqlalchemy.pool import NullPool

        engine = sa.create_engine(self.url, poolclass=NullPool)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(sql)
        finally:
            engine.dispose()

    def lint(self, rule: str, **config):
        result = api.check([self.root / "migrations"], dialect=self.dialect, use_cache=False, config=config_from_mapping({**config, "select": [rule]}))
        return [f for f in result.findings if f.rule == rule]


@pytest.fixture(scope="module")
def scratch():
    made = {}

    def get(dialect: str) -> Scratch:
        if dialect not in made:
            made[dialect] = Scratch(dialect)
        return made[dialect]

    yield get
    for each in made.values():
        each.drop()


@pytest.fixture
def project(tmp_path, scratch):
    count = [0]

    def make(env: str, revisions: list, dialect: str = "postgresql") -> Project:
        count[0] += 1
        return Project(tmp_path / f"p{count[0]}", scratch(dialect), env, revisions)

    return make


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


# -- env-open-transaction --------------------------------------------------------------------------

def test_a_statement_before_configure_commits_nothing_and_is_reported(project):
    """rules/env/lock_timeout_commit.py is silent and its migrations are committed; without its
    connection.commit() line, `alembic upgrade head` succeeds, commits nothing, and the linter
    reports the SET's line."""
    fixed = env_snippet("lock_timeout_commit").read_text(encoding="utf-8")
    trap = fixed.replace("        connection.commit()\n", "")
    assert trap != fixed
    good = project(fixed, [(table("t1"), None)])
    assert good.alembic("upgrade", "head")[0] is None
    assert good.state() == ({"t1"}, {"r000"})
    assert good.lint("env-open-transaction") == []
    bad = project(trap, [(table("t1"), None)])
    assert bad.alembic("upgrade", "head")[0] is None  # no error ...
    assert bad.state() == (set(), set())  # ... and nothing committed
    (finding,) = bad.lint("env-open-transaction")
    env = bad.root / "migrations" / "env.py"
    assert Path(finding.path).name == "env.py" and finding.line == line_of(env, 'connection.execute(sa.text("SET lock_timeout')
    assert "commits nothing" in finding.message


def test_on_mariadb_the_open_transaction_loses_the_last_stamp(project):
    """MySQL commits DDL by itself, so the tables stay; the last version stamp does not."""
    trap = env_py().replace(
        "    with connectable.connect() as connection:\n",
        "    with connectable.connect() as connection:\n        connection.exec_driver_sql(\"SET SESSION lock_wait_timeout = 5\")\n",
    )
    p = project(trap, [(table("t1"), None), (table("t2"), None)], dialect="mysql")
    assert p.alembic("upgrade", "head")[0] is None
    assert p.state() == ({"t1", "t2"}, {"r000"})
    error, _ = p.alembic("upgrade", "head")
    assert error is not None and "already exists" in error  # r001 runs again
    assert len(p.lint("env-open-transaction")) == 1


def test_env_py_committing_itself_saves_the_work_but_autocommit_blocks_assert(project):
    env = env_py(", transaction_per_migration=True", "\n            connection.commit()").replace(
        "    with connectable.connect() as connection:\n",
        "    with connectable.connect() as connection:\n        connection.exec_driver_sql(\"SET statement_timeout = 50000\")\n",
    )
    plain = project(env, [(table("t1"), None), (table("t2"), None)])
    assert plain.alembic("upgrade", "head")[0] is None and plain.state() == ({"t1", "t2"}, {"r001"})
    (finding,) = plain.lint("env-open-transaction")
    assert "transaction_per_migration=True is ignored" in finding.message
    block = 'with op.get_context().autocommit_block():\n    op.create_index("ix_t2_id", "t2", ["id"], postgresql_concurrently=True)'
    blocked = project(env, [(table("t1"), None), (table("t2") + "\n" + block, None)])
    error, _ = blocked.alembic("upgrade", "head")
    assert error is not None and error.startswith("AssertionError")
    assert "autocommit_block() fails" in blocked.lint("env-open-transaction")[0].message
    quiet = project(env.replace(", transaction_per_migration=True", ""), [(table("t1"), None)])
    assert quiet.alembic("upgrade", "head")[0] is None and quiet.state() == ({"t1"}, {"r000"})
    assert quiet.lint("env-open-transaction") == []  # one transaction, committed by env.py: as Alembic's own


# -- commit-in-migration ---------------------------------------------------------------------------

COMMIT_MIDWAY = [(table("t1"), None), (table("t2") + "\nop.get_bind().commit()\n" + table("t3"), None), (table("t4"), None)]


def test_a_commit_midway_loses_the_rest_of_the_run_with_alembics_default_transaction(project):
    p = project(env_py(), COMMIT_MIDWAY)
    assert p.alembic("upgrade", "head")[0] is None  # exit 0
    assert p.state() == ({"t1", "t2"}, {"r000"})  # everything after the commit rolled back; r001 and r002 not stamped
    error, _ = p.alembic("upgrade", "head")
    assert error is not None and "already exists" in error  # the next upgrade runs r001 again
    (finding,) = p.lint("commit-in-migration")
    assert finding.line == line_of(p.root / "migrations" / "versions" / "r001.py", ".commit()")
    assert "every later revision" in finding.message


def test_with_a_transaction_per_migration_only_the_last_revision_loses_its_tail(project):
    through = project(env_py(", transaction_per_migration=True"), COMMIT_MIDWAY)
    assert through.alembic("upgrade", "head")[0] is None and through.state() == ({"t1", "t2", "t3", "t4"}, {"r002"})
    last = project(env_py(", transaction_per_migration=True"), COMMIT_MIDWAY[:2])
    assert last.alembic("upgrade", "head")[0] is None
    assert last.state() == ({"t1", "t2"}, {"r000"})  # r001's tail and stamp lost
    error, _ = last.alembic("upgrade", "head")
    assert error is not None and "already exists" in error  # the next upgrade runs r001 again
    assert "last one" in last.lint("commit-in-migration")[0].message


def test_a_commit_midway_on_mariadb_loses_the_stamp_of_the_last_revision(project):
    p = project(env_py(), COMMIT_MIDWAY[:2], dialect="mysql")
    assert p.alembic("upgrade", "head")[0] is None
    assert p.state() == ({"t1", "t2", "t3"}, {"r000"})  # DDL commits itself; the stamp does not
    assert "last one" in p.lint("commit-in-migration")[0].message


def test_env_py_committing_after_the_run_saves_the_tail_and_only_splits_the_revision(project):
    p = project(env_py(after="\n        connection.commit()"), COMMIT_MIDWAY)
    assert p.alembic("upgrade", "head")[0] is None and p.state() == ({"t1", "t2", "t3", "t4"}, {"r002"})
    assert "half-applied" in p.lint("commit-in-migration")[0].message


def test_sql_commit_keeps_the_work_and_is_reported_as_a_split(project):
    p = project(env_py(), [(table("t1"), None), (table("t2") + '\nop.execute("COMMIT")\n' + table("t3"), None)])
    assert p.alembic("upgrade", "head")[0] is None and p.state() == ({"t1", "t2", "t3"}, {"r001"})
    assert "half-applied" in p.lint("commit-in-migration")[0].message


def test_a_session_on_the_connection_joins_alembics_transaction_and_its_commit_is_harmless(project):
    body = table("t2") + '\nfrom sqlalchemy import orm\nsession = orm.Session(bind=op.get_bind())\nsession.execute(sa.text("INSERT INTO t2 (id) VALUES (1)"))\nsession.commit()\n' + table("t3")
    p = project(env_py(), [(table("t1"), None), (body, None), (table("t4"), None)])
    assert p.alembic("upgrade", "head")[0] is None and p.state() == ({"t1", "t2", "t3", "t4"}, {"r002"})
    assert p.lint("commit-in-migration") == []


def test_commit_inside_an_autocommit_block_fails_and_before_one_loses_the_tail(project):
    inside = 'with op.get_context().autocommit_block():\n    op.get_bind().commit()\n    op.create_index("ix_t1_id", "t1", ["id"], postgresql_concurrently=True)'
    p = project(env_py(), [(table("t1"), None), (inside, None)])
    error, _ = p.alembic("upgrade", "head")
    assert error is not None and "inactive" in error
    assert "inside autocommit_block() fails" in p.lint("commit-in-migration")[0].message
    before = 'op.get_bind().commit()\nwith op.get_context().autocommit_block():\n    op.create_index("ix_t1_id", "t1", ["id"], postgresql_concurrently=True)\n' + table("t2")
    q = project(env_py(), [(table("t1"), None), (before, None)])
    assert q.alembic("upgrade", "head")[0] is None and q.state() == ({"t1"}, {"r000"})
    assert "drop this line" in q.lint("commit-in-migration")[0].message
    block = 'with op.get_context().autocommit_block():\n    op.create_index("ix_t1_id", "t1", ["id"], postgresql_concurrently=True)\n' + table("t2")
    r = project(env_py(), [(table("t1"), None), (block, None)])
    assert r.alembic("upgrade", "head")[0] is None and r.state() == ({"t1", "t2"}, {"r001"})
    assert r.lint("commit-in-migration") == []


# -- enum-type-not-created -------------------------------------------------------------------------

def test_add_column_does_not_create_the_enum_type(project):
    column = 'op.add_column("t1", sa.Column("status", sa.Enum("draft", "done", name="status_kind")))'
    p = project(env_py(), [(table("t1"), None), (column, 'op.drop_column("t1", "status")\nsa.Enum(name="status_kind").drop(op.get_bind())')])
    error, _ = p.alembic("upgrade", "head")
    assert error is not None and 'type "status_kind" does not exist' in error
    (finding,) = p.lint("enum-type-not-created")
    assert finding.line == line_of(p.root / "migrations" / "versions" / "r001.py", "op.add_column")
    assert p.lint("enum-type-leak") == []  # the type is dropped in downgrade(): that rule is content, the upgrade still fails
    created = f'sa.Enum("draft", "done", name="status_kind").create(op.get_bind(), checkfirst=True)\n{column}'
    q = project(env_py(), [(table("t1"), None), (created, None)])
    assert q.alembic("upgrade", "head")[0] is None and q.lint("enum-type-not-created") == []
    # a type an earlier revision created (with its table) exists: a second column of it is fine
    first = 'op.create_table("t1", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("s", sa.Enum("draft", "done", name="status_kind")))'
    r = project(env_py(), [(first, None), (column, None)])
    assert r.alembic("upgrade", "head")[0] is None and r.lint("enum-type-not-created") == []


def test_the_bundled_example_is_reported_where_its_upgrade_fails(tmp_path):
    from conftest import REPO

    result = api.check([REPO / "examples" / "blog"], use_cache=False, config=config_from_mapping({"select": ["enum-type-not-created", "enum-type-leak"]}))
    found = {(Path(f.path).name, f.rule) for f in result.findings}
    assert ("2b3c4d5e6f70_add_post_status.py", "enum-type-not-created") in found
    assert ("2b3c4d5e6f70_add_post_status.py", "enum-type-leak") not in found


# -- argument mistakes -----------------------------------------------------------------------------

def test_drop_constraint_without_type_fails_on_mariadb(project):
    setup = table("p") + '\nop.create_table("t", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("p_id", sa.Integer()))\nop.create_foreign_key("fk_t_p", "t", "p", ["p_id"], ["id"])'
    p = project(env_py(), [(setup, None), ('op.drop_constraint("fk_t_p", "t")', None)], dialect="mysql")
    error, _ = p.alembic("upgrade", "head")
    assert error is not None and "No generic 'DROP CONSTRAINT' in MySQL" in error
    assert len(p.lint("drop-constraint-without-type")) == 1
    q = project(env_py(), [(setup, None), ('op.drop_constraint("fk_t_p", "t", type_="foreignkey")', None)], dialect="mysql")
    assert q.alembic("upgrade", "head")[0] is None and q.lint("drop-constraint-without-type") == []


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_wrong_kinds_of_arguments_fail_when_alembic_runs_them(project, dialect):
    setup = 'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("email", sa.String(50)))'
    for mistake, message in (
        ('op.drop_column("t", sa.Column("email", sa.String(50)))', "TypeError"),
        ('op.create_index("ix_t_email", "t", "email")', ""),
        ('op.create_foreign_key("fk_t_t", "t", "t", "email", "id")', "number of constrained columns"),
    ):
        p = project(env_py(), [(setup, None), (mistake, None)], dialect=dialect)
        error, _ = p.alembic("upgrade", "head")
        assert error is not None and message in error, mistake
        assert len(p.lint("invalid-operation-argument")) == 1, mistake


# -- offline-sql-incompatible ----------------------------------------------------------------------

def test_reading_the_database_breaks_upgrade_sql(project):
    read = 'rows = op.get_bind().execute(sa.text("SELECT id FROM t1")).fetchall()'
    p = project(env_py(), [(table("t1"), None), (read, None)])
    error, _ = p.alembic("upgrade", "head", sql=True)
    assert error is not None and "fetchall" in error
    assert p.lint("offline-sql-incompatible") == []  # off unless the project says it uses --sql
    assert len(p.lint("offline-sql-incompatible", **{"offline-sql": True})) == 1
    guarded = "if not context.is_offline_mode():\n    " + read
    q = project(env_py(), [(table("t1"), None), (guarded, None)])
    error, script = q.alembic("upgrade", "head", sql=True)
    assert error is None and "CREATE TABLE t1" in script
    assert q.lint("offline-sql-incompatible", **{"offline-sql": True}) == []
    inspect = project(env_py(), [(table("t1"), None), ('sa.inspect(op.get_bind()).has_table("t1")', None)])
    error, _ = inspect.alembic("upgrade", "head", sql=True)
    assert error is not None and "NoInspectionAvailable" in error
    assert len(inspect.lint("offline-sql-incompatible", **{"offline-sql": True})) == 1


# -- downgrade-restores-unique ---------------------------------------------------------------------

def test_a_downgrade_restoring_a_unique_fails_on_rows_written_since(project):
    setup = 'op.create_table("account", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("email", sa.String(50)), sa.UniqueConstraint("email", name="uq_account_email"))'
    p = project(env_py(), [(setup, None), ('op.drop_constraint("uq_account_email", "account", type_="unique")', 'op.create_unique_constraint("uq_account_email", "account", ["email"])')])
    assert p.alembic("upgrade", "head")[0] is None
    p.execute("INSERT INTO account (id, email) VALUES (1, 'a@example.com'), (2, 'a@example.com')")
    error, _ = p.alembic("downgrade", "r000")
    assert error is not None and "IntegrityError" in error
    (finding,) = p.lint("downgrade-restores-unique")
    assert finding.severity == "info" and finding.phase == "downgrade"


def test_an_autocommit_block_commits_the_run_so_far_and_alembic_carries_on_after_it(project):
    """What commit-in-migration's docs say of autocommit_block(): Alembic commits the transaction
    it owns before the block (with the default: earlier revisions too), and begins a new one after
    it; a failure after the block leaves what came before it applied, the revision unstamped."""
    block = 'with op.get_context().autocommit_block():\n    op.create_index("ix_t2_id", "t2", ["id"], postgresql_concurrently=True)\n'
    failing = table("t2") + "\n" + block + 'op.execute("SELECT 1 / 0")'
    p = project(env_py(), [(table("t1"), None), (failing, None)])
    error, _ = p.alembic("upgrade", "head")
    assert error is not None and "division by zero" in error
    assert p.state() == ({"t1", "t2"}, {"r000"})
    q = project(env_py(", transaction_per_migration=True"), [(table("t1"), None), (table("t2") + "\n" + block + table("t3"), None)])
    assert q.alembic("upgrade", "head")[0] is None and q.state() == ({"t1", "t2", "t3"}, {"r001"})
