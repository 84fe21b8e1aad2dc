"""The lock and rewrite trace (migration_lint/roundtrip/trace.py, locks.py) on a real PostgreSQL.

A tiny Alembic environment in tmp_path (alembic.ini, an env.py that takes
``config.attributes['connection']`` when given and otherwise makes its own engine, versions/) is
run with Alembic's own API: one revision per step through ``EnvironmentContext`` +
``MigrationStep`` as the round trip's runner does, or ``alembic.command.upgrade`` for a whole run.
Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust), or MIGRATION_LINT_TEST_PG.
"""

import json
import os
import pickle
import uuid
from pathlib import Path

import pytest

from conftest import runnable_revision
from migration_lint import model as m
from migration_lint.roundtrip import locks as lk
from migration_lint.roundtrip.trace import (
    PER_MIGRATION,
    SINGLE,
    TRACE_STRONG_LOCK,
    TRACE_TABLE_REWRITE,
    Tracer,
    check_prediction,
    markdown_timeline,
)

PG_URL = os.environ.get("MIGRATION_LINT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _with_driver(url):
    scheme, rest = url.split("://", 1)
    return url if "+" in scheme else f"{scheme}+psycopg2://{rest}"


def _answers(url):
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(_with_driver(url), connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


needs_pg = pytest.mark.skipif(not _answers(PG_URL), reason=f"PostgreSQL does not answer at {PG_URL}")


# --- the database and the Alembic environment --------------------------------------------------


@pytest.fixture(scope="module")
def scratch():
    """A scratch database on the shared server, always dropped."""
    import sqlalchemy as sa

    admin = sa.create_engine(_with_driver(PG_URL), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    name = f"migration_lint_trace_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin, sa.engine.make_url(_with_driver(PG_URL)).set(database=name)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def db(scratch):
    """The scratch database with an empty public schema; returns its URL."""
    import sqlalchemy as sa

    admin, url = scratch
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    engine.dispose()
    return url


ENV_PY = '''from alembic import context
from sqlalchemy import create_engine, pool

config = context.config
per_migration = config.attributes.get("transaction_per_migration", True)


def run(connection):
    context.configure(connection=connection, transaction_per_migration=per_migration)
    with context.begin_transaction():
        context.run_migrations()


given = config.attributes.get("connection")
if given is not None:
    run(given)
else:  # an engine of its own, created while the tracer listens
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        run(connection)
    engine.dispose()
'''

BASE = runnable_revision(
    "a0",
    None,
    """
op.create_table("author", sa.Column("id", sa.Integer(), primary_key=True))
op.create_table("post", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("title", sa.String(50)), sa.Column("author_id", sa.Integer()))
op.execute("INSERT INTO author (id) SELECT g FROM generate_series(1, 10) g")
op.execute("INSERT INTO post (title, author_id) SELECT 't' || g, 1 + g % 10 FROM generate_series(1, 200) g")
""",
    'op.drop_table("post")\nop.drop_table("author")',
)


class Project:
    def __init__(self, root: Path, url, base: str = BASE):
        from alembic.config import Config

        self.root = root
        versions = root / "migrations" / "versions"
        versions.mkdir(parents=True)
        (root / "migrations" / "env.py").write_text(ENV_PY)
        url_text = url.render_as_string(hide_password=False)
        (root / "alembic.ini").write_text(f"[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = {url_text}\n")
        self.cfg = Config(str(root / "alembic.ini"))
        self.url = url
        self.paths = {}
        self.add("a0", base)

    def add(self, revision: str, text: str) -> Path:
        path = self.root / "migrations" / "versions" / f"{revision}.py"
        path.write_text(text)
        self.paths[revision] = path
        return path

    def revision(self, revision, down, upgrade, imports=""):
        return self.add(revision, runnable_revision(revision, down, upgrade, "pass", imports))

    def line(self, revision: str, marker: str) -> int:
        """The line of the revision file with ``# marker`` on it."""
        for number, text in enumerate(self.paths[revision].read_text().splitlines(), 1):
            if text.rstrip().endswith(f"# {marker}"):
                return number
        raise AssertionError(f"no line marked {marker} in {revision}")

    def step(self, revision: str, tracer=None, connection=None):
        """Upgrade exactly ``revision`` as the round trip's runner does; its trace if traced."""
        from alembic.runtime.environment import EnvironmentContext
        from alembic.runtime.migration import MigrationStep
        from alembic.script import ScriptDirectory

        script = ScriptDirectory.from_config(self.cfg)

        def steps(heads, context):
            return [MigrationStep.upgrade_from_script(script.revision_map, script.get_revision(revision))]

        if connection is not None:
            self.cfg.attributes["connection"] = connection
        if tracer is not None:
            tracer.begin(revision, script.get_revision(revision).path)
        try:
            with EnvironmentContext(self.cfg, script, fn=steps, as_sql=False, starting_rev=None, destination_rev=None, tag=None):
                script.run_env()
            if connection is not None and connection.in_transaction():
                connection.commit()
        finally:
            self.cfg.attributes.pop("connection", None)
            trace = tracer.end() if tracer is not None else None
        return trace


@pytest.fixture
def project(tmp_path, db):
    project = Project(tmp_path, db)
    project.step("a0")  # untraced: the tables every test starts from
    return project


def at(trace, line):
    statements = trace.at_lines(line)
    assert statements, f"nothing traced at line {line}: {[(s.line, s.sql) for s in trace.statements]}"
    return statements


def locks_at(trace, line, table=None):
    return [(lock.table, lock.mode, lock.blocks, lock.inferred) for s in at(trace, line) for lock in s.locks if table is None or lock.table == table]


def strongest_at(trace, line, table):
    """(mode, blocks, inferred) of the strongest lock the statements at ``line`` took on ``table``."""
    found = sorted(locks_at(trace, line, table), key=lambda lock: -lk.strength(lock[1]))
    assert found, f"no lock on {table} at line {line}: {locks_at(trace, line)}"
    return found[0][1:]


# --- what PostgreSQL documents (no database) ----------------------------------------------------


def test_what_each_mode_blocks():
    assert [lk.blocks(mode) for mode in lk.MODES] == ["nothing"] * 4 + ["writes"] * 3 + ["reads and writes"]
    assert lk.mode_name("ShareUpdateExclusiveLock") == lk.SHARE_UPDATE_EXCLUSIVE
    assert lk.mode_name("access exclusive") == lk.mode_name(8) == lk.ACCESS_EXCLUSIVE
    assert lk.mode_name("ExclusiveLock") == lk.EXCLUSIVE and lk.mode_name("nonsense") is None
    # every mode conflicts with ACCESS EXCLUSIVE; only ACCESS EXCLUSIVE conflicts with plain reads
    assert all(lk.ACCESS_EXCLUSIVE in lk.CONFLICTS[mode] for mode in lk.MODES)
    assert [mode for mode in lk.MODES if lk.ACCESS_SHARE in lk.CONFLICTS[mode]] == [lk.ACCESS_EXCLUSIVE]
    assert [mode for mode in lk.MODES if lk.ROW_EXCLUSIVE in lk.CONFLICTS[mode]] == [lk.SHARE, lk.SHARE_ROW_EXCLUSIVE, lk.EXCLUSIVE, lk.ACCESS_EXCLUSIVE]


@pytest.mark.parametrize(
    "sql, expected",
    [
        ("CREATE INDEX ix ON post (title)", [("post", "SHARE")]),
        ("CREATE INDEX CONCURRENTLY ix ON s.post (title)", [("s.post", "SHARE UPDATE EXCLUSIVE")]),
        ("DROP INDEX ix", [("ix", "ACCESS EXCLUSIVE")]),
        ("DROP INDEX CONCURRENTLY ix", [("ix", "SHARE UPDATE EXCLUSIVE")]),
        ("ALTER TABLE post ALTER COLUMN id TYPE bigint", [("post", "ACCESS EXCLUSIVE")]),
        ("ALTER TABLE post ADD CONSTRAINT fk FOREIGN KEY (author_id) REFERENCES author (id) NOT VALID", [("post", "SHARE ROW EXCLUSIVE"), ("author", "SHARE ROW EXCLUSIVE")]),
        ("ALTER TABLE post VALIDATE CONSTRAINT fk", [("post", "SHARE UPDATE EXCLUSIVE")]),
        ("ALTER TABLE post ALTER COLUMN title SET STATISTICS 500", [("post", "SHARE UPDATE EXCLUSIVE")]),
        ("ALTER TABLE post SET (fillfactor = 70)", [("post", "SHARE UPDATE EXCLUSIVE")]),
        ("ALTER TABLE post DISABLE TRIGGER ALL", [("post", "SHARE ROW EXCLUSIVE")]),
        ("REINDEX TABLE post", [("post", "SHARE")]),
        ("REINDEX INDEX CONCURRENTLY ix", [("ix", "SHARE UPDATE EXCLUSIVE")]),
        ("VACUUM post", [("post", "SHARE UPDATE EXCLUSIVE")]),
        ("VACUUM FULL post", [("post", "ACCESS EXCLUSIVE")]),
        ("CREATE TRIGGER t AFTER INSERT ON post FOR EACH ROW EXECUTE FUNCTION f()", [("post", "SHARE ROW EXCLUSIVE")]),
        ("REFRESH MATERIALIZED VIEW mv", [("mv", "ACCESS EXCLUSIVE")]),
        ("REFRESH MATERIALIZED VIEW CONCURRENTLY mv", [("mv", "EXCLUSIVE")]),
        ("LOCK TABLE post IN SHARE MODE", [("post", "SHARE")]),
        ("CREATE TABLE tag (id int, post_id int REFERENCES post (id))", [("post", "SHARE ROW EXCLUSIVE")]),
        ("CREATE TYPE mood AS ENUM ('a')", []),
        ("DO $$ BEGIN END $$", None),
        ("this is not SQL", None),
    ],
)
def test_documented_locks(sql, expected):
    found = lk.documented_locks(sql)
    assert (None if found is None else [(d.relation, d.mode) for d in found]) == expected


def test_is_strong_from_a_kind_an_operation_a_mode_or_sql():
    assert lk.is_strong(m.CREATE_INDEX) is True
    assert lk.is_strong(m.CREATE_INDEX, concurrently=True) is False
    assert lk.is_strong(m.VALIDATE_CONSTRAINT) is False and lk.is_strong(m.CREATE_FOREIGN_KEY) is True
    assert lk.is_strong(m.CREATE_TABLE) is False
    new_with_fk = m.Operation(kind=m.CREATE_TABLE, phase=m.UPGRADE, line=1, table="tag", table_columns=(m.ColumnSpec("post_id", foreign_key="post.id"),))
    assert lk.is_strong(new_with_fk) is True  # SHARE ROW EXCLUSIVE on the referenced table
    concurrent = m.Operation(kind=m.CREATE_INDEX, phase=m.UPGRADE, line=1, attrs={"concurrently": True})
    assert lk.is_strong(concurrent) is False
    from_sql = m.Operation(kind=m.OTHER_SQL, phase=m.UPGRADE, line=1, source="sql", sql="VACUUM FULL post")
    assert lk.is_strong(from_sql) is True
    assert lk.is_strong("SHARE") is True and lk.is_strong("ShareUpdateExclusiveLock") is False
    assert lk.is_strong("CREATE INDEX CONCURRENTLY ix ON post (title)") is False
    assert lk.is_strong(m.RAW_SQL) is None and lk.is_strong("DO $$ BEGIN END $$") is None


# --- traced on PostgreSQL -----------------------------------------------------------------------


@needs_pg
def test_create_index_on_an_existing_table_takes_share(project):
    project.revision("b1", "a0", 'op.create_index("ix_post_title", "post", ["title"])  # index')
    with Tracer("postgresql", project.paths) as tracer:
        trace = project.step("b1", tracer)
    line = project.line("b1", "index")
    (statement,) = at(trace, line)
    assert statement.path == os.path.realpath(project.paths["b1"]) and statement.sql.startswith("CREATE INDEX")
    assert locks_at(trace, line) == [("public.post", "SHARE", "writes", False)]
    assert statement.rewrites == [] and statement.ms > 0
    (row,) = trace.summary()
    assert (row.table, row.mode, row.blocks, row.line, row.released) == ("public.post", "SHARE", "writes", line, "commit")
    assert row.held_ms >= statement.ms
    assert trace.transaction == PER_MIGRATION and "this revision's transaction" in trace.hold_model
    assert check_prediction(trace, line, expect="strong", table="post").status == "confirmed"
    assert [(f.rule, f.line, f.table) for f in trace.findings()] == [(TRACE_STRONG_LOCK, line, "public.post")]
    # Alembic's own statements (version table) are skipped, not recorded
    assert trace.skipped >= 1 and all(s.path == statement.path for s in trace.statements)
    assert tracer.results == [trace]


@needs_pg
def test_concurrent_index_in_an_autocommit_block_never_reports_no_lock(project, scratch):
    import sqlalchemy as sa

    admin, _ = scratch
    project.revision(
        "b1",
        "a0",
        """
op.execute("INSERT INTO post (title) SELECT 'x' || g FROM generate_series(1, 50000) g")
""",
    )
    project.step("b1")
    upgrade = """
with op.get_context().autocommit_block():
    op.create_index("ix_post_title", "post", ["title"], postgresql_concurrently=True)  # concurrently
"""
    project.revision("c1", "b1", upgrade)
    project.revision("c2", "c1", upgrade.replace("ix_post_title", "ix_post_title_2"))
    # the runner's way: its engine exists before the tracer, the step gets a connection of it
    engine = sa.create_engine(project.url, poolclass=sa.pool.QueuePool, pool_size=1, max_overflow=0)
    try:
        with Tracer("postgresql", project.paths) as tracer:
            with engine.connect() as connection:
                observed = project.step("c1", tracer, connection)
        with Tracer("postgresql", project.paths, observe_autocommit=False) as tracer:
            with engine.connect() as connection:
                documented = project.step("c2", tracer, connection)
    finally:
        engine.dispose()
    line = project.line("c1", "concurrently")
    (statement,) = at(observed, line)
    assert statement.autocommit
    # 50 000 rows take long enough for the watcher to see the lock from a second connection
    assert locks_at(observed, line) == [("public.post", "SHARE UPDATE EXCLUSIVE", "nothing", False)]
    assert statement.locks[0].released == "statement"
    # without the watcher, the mode PostgreSQL documents, marked inferred -- never "no lock"
    assert locks_at(documented, line) == [("public.post", "SHARE UPDATE EXCLUSIVE", "nothing", True)]
    verdict = check_prediction(documented, line, expect="strong", table="post")
    assert verdict.status == "not-observed" and "observed SHARE UPDATE EXCLUSIVE on public.post instead" in verdict.text
    assert observed.findings() == [] and documented.findings() == []
    # the watcher's connection is gone (a reset of the database needs no connection left)
    with admin.connect() as connection:
        left = connection.exec_driver_sql(f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{project.url.database}'").scalar()
    assert left == 0


@needs_pg
def test_integer_to_bigint_rewrites_the_table_varchar_to_text_does_not(project):
    project.revision(
        "b1",
        "a0",
        """
op.alter_column("post", "title", type_=sa.Text(), existing_type=sa.String(50))  # text
op.alter_column("post", "id", type_=sa.BigInteger(), existing_type=sa.Integer())  # bigint
""",
    )
    with Tracer("postgresql", project.paths) as tracer:
        trace = project.step("b1", tracer)
    text, bigint = project.line("b1", "text"), project.line("b1", "bigint")
    assert locks_at(trace, text, "public.post") == [("public.post", "ACCESS EXCLUSIVE", "reads and writes", False)]
    assert at(trace, text)[0].rewrites == []
    assert at(trace, bigint)[0].rewrites == ["public.post"]
    # the ACCESS EXCLUSIVE was taken by the line before: the type change runs under it (it takes
    # only what rebuilding the primary key needs on top)
    assert ("public.post", "ACCESS EXCLUSIVE") not in [(t, mode) for t, mode, _, _ in locks_at(trace, bigint)]
    verdict = check_prediction(trace, bigint, expect="strong", table="post")
    assert verdict.status == "confirmed" and f"already taken at line {text}" in verdict.text
    assert check_prediction(trace, bigint, expect="rewrite").status == "confirmed"
    assert check_prediction(trace, text, expect="rewrite").status == "not-observed"
    (row,) = trace.summary()
    assert (row.mode, row.line, row.rewritten) == ("ACCESS EXCLUSIVE", text, True)
    assert {(f.rule, f.line) for f in trace.findings()} == {(TRACE_STRONG_LOCK, text), (TRACE_TABLE_REWRITE, bigint)}


@needs_pg
def test_add_column_with_a_constant_default_does_not_rewrite(project, scratch):
    admin, _ = scratch
    with admin.connect() as connection:
        if connection.exec_driver_sql("SHOW server_version_num").scalar() < "110000":
            pytest.skip("PostgreSQL < 11 rewrites for any default")
    project.revision(
        "b1",
        "a0",
        """
op.add_column("post", sa.Column("flag", sa.Integer(), server_default="0", nullable=False))  # constant
op.add_column("author", sa.Column("token", sa.Float(), server_default=sa.text("random()"), nullable=False))  # volatile
""",
    )
    with Tracer("postgresql", project.paths) as tracer:
        trace = project.step("b1", tracer)
    constant, volatile = project.line("b1", "constant"), project.line("b1", "volatile")
    assert locks_at(trace, constant) == [("public.post", "ACCESS EXCLUSIVE", "reads and writes", False)]
    assert at(trace, constant)[0].rewrites == []
    assert at(trace, volatile)[0].rewrites == ["public.author"]  # a volatile default is computed per row


@needs_pg
@pytest.mark.parametrize("not_valid", [False, True])
def test_a_foreign_key_locks_both_tables(project, not_valid):
    option = ", postgresql_not_valid=True" if not_valid else ""
    project.revision("b1", "a0", f'op.create_foreign_key("fk_post_author", "post", "author", ["author_id"], ["id"]{option})  # fk')
    with Tracer("postgresql", project.paths) as tracer:
        trace = project.step("b1", tracer)
    line = project.line("b1", "fk")
    (statement,) = at(trace, line)
    assert ("NOT VALID" in statement.sql) == not_valid
    strongest = {table: mode for table, mode, _, _ in locks_at(trace, line) if lk.strength(mode) >= lk.strength(lk.SHARE)}
    assert strongest == {"public.post": "SHARE ROW EXCLUSIVE", "public.author": "SHARE ROW EXCLUSIVE"}
    assert {row.table: (row.mode, row.blocks) for row in trace.summary()} == {
        "public.post": ("SHARE ROW EXCLUSIVE", "writes"),
        "public.author": ("SHARE ROW EXCLUSIVE", "writes"),
    }


@needs_pg
def test_sql_built_by_a_helper_module_is_placed_at_the_call_in_the_revision(project, monkeypatch):
    helper = f"trace_helpers_{uuid.uuid4().hex[:8]}"
    (project.root / f"{helper}.py").write_text(
        "from alembic import op\n\n\ndef widen_id(table):\n    sql = f'ALTER TABLE {table} ALTER COLUMN id TYPE bigint'\n    op.execute(sql)\n"
    )
    monkeypatch.syspath_prepend(str(project.root))
    project.revision("b1", "a0", f'{helper}.widen_id("post")  # helper', imports=f"import {helper}")
    with Tracer("postgresql", project.paths) as tracer:
        trace = project.step("b1", tracer)
    line = project.line("b1", "helper")
    (statement,) = trace.statements
    assert (statement.path, statement.line) == (os.path.realpath(project.paths["b1"]), line)
    assert statement.sql == "ALTER TABLE post ALTER COLUMN id TYPE bigint"
    assert strongest_at(trace, line, "public.post") == ("ACCESS EXCLUSIVE", "reads and writes", False)
    assert statement.rewrites == ["public.post"]


@needs_pg
@pytest.mark.parametrize("per_migration", [True, False])
def test_how_long_a_lock_is_held_with_and_without_transaction_per_migration(project, per_migration):
    """A whole ``alembic upgrade`` of two revisions, traced with auto=True: with a transaction per
    migration the first revision's lock ends at its own commit; without, it lasts through the
    second revision (which sleeps 0.3 s) to the run's single commit."""
    from alembic import command

    project.revision("b1", "a0", 'op.create_index("ix_post_title", "post", ["title"])  # index')
    project.revision("c1", "b1", 'op.execute("SELECT pg_sleep(0.3)")  # sleep')
    project.cfg.attributes["transaction_per_migration"] = per_migration
    traced = {rev: project.paths[rev] for rev in ("b1", "c1")}
    with Tracer("postgresql", traced, auto=True) as tracer:
        command.upgrade(project.cfg, "head")
    first, second = tracer.results
    assert (first.revision, second.revision) == ("b1", "c1")
    assert first.transaction == second.transaction == (PER_MIGRATION if per_migration else SINGLE)
    (lock,) = at(first, project.line("b1", "index"))[0].locks
    assert (lock.mode, lock.released) == ("SHARE", "commit")
    if per_migration:
        assert lock.held_ms < 300
        assert "this revision's transaction" in first.hold_model
    else:
        assert lock.held_ms >= 300  # through the second revision, to the run's commit
        assert "whole run" in first.hold_model
        assert "until every pending revision has run" in first.findings()[0].message
    assert markdown_timeline(tracer.results).startswith("| revision | line | table |")


@needs_pg
def test_a_table_created_in_the_same_revision_is_not_classified(project):
    project.revision(
        "b1",
        "a0",
        """
op.create_table("tag", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("post_id", sa.Integer(), sa.ForeignKey("post.id")))  # create
op.create_index("ix_tag_post", "tag", ["post_id"])  # index
""",
    )
    with Tracer("postgresql", project.paths) as tracer:
        trace = project.step("b1", tracer)
    tag_locks = [lock for s in trace.statements for lock in s.locks if lock.table == "public.tag"]
    assert tag_locks and all(lock.blocks is None and not lock.strong for lock in tag_locks)
    assert strongest_at(trace, project.line("b1", "create"), "public.tag") == ("ACCESS EXCLUSIVE", None, False)
    # the index is built under the ACCESS EXCLUSIVE its CREATE TABLE took: nobody else sees the table
    verdict = check_prediction(trace, project.line("b1", "index"), expect="strong", table="tag")
    assert verdict.text == "not observed (observed no lock on a table that existed before this revision instead)"
    # the new table's foreign key takes SHARE ROW EXCLUSIVE on post, which existed before
    assert [(row.table, row.mode) for row in trace.summary()] == [("public.post", "SHARE ROW EXCLUSIVE")]
    assert [(f.table, f.mode) for f in trace.findings()] == [("public.post", "SHARE ROW EXCLUSIVE")]


@needs_pg
def test_a_failing_statement_leaves_the_tracer_consistent(project):
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    project.revision(
        "b1",
        "a0",
        """
op.create_index("ix_post_title", "post", ["title"])  # index
op.execute("ALTER TABLE missing ADD COLUMN x integer")  # fails
op.create_index("ix_never", "post", ["author_id"])
""",
    )
    project.revision("c1", "a0", 'op.create_index("ix_post_title", "post", ["title"])  # index')
    with Tracer("postgresql", project.paths) as tracer:
        with pytest.raises(Exception, match="missing"):
            project.step("b1", tracer)
        failed = tracer.results[-1]
        after = project.step("c1", tracer)  # the next revision is traced as usual
        assert event.contains(Engine, "before_cursor_execute", tracer._before)
    assert not event.contains(Engine, "before_cursor_execute", tracer._before)
    assert not event.contains(Engine, "commit", tracer._commit)
    assert [(s.line, bool(s.error)) for s in failed.statements] == [(project.line("b1", "index"), False), (project.line("b1", "fails"), True)]
    assert "missing" in failed.statements[1].error and failed.statements[1].locks == []
    (lock,) = failed.statements[0].locks
    assert (lock.mode, lock.released) == ("SHARE", "rollback")
    assert failed.notes == []  # the trace never queried the failed transaction
    assert check_prediction(failed, project.line("b1", "fails"), expect="rewrite").text.startswith("not observed (the statement failed")
    assert locks_at(after, project.line("c1", "index")) == [("public.post", "SHARE", "writes", False)]
    assert after.notes == [] and tracer.results == [failed, after]


@needs_pg
def test_results_are_plain_data(project):
    project.revision("b1", "a0", 'op.alter_column("post", "id", type_=sa.BigInteger(), existing_type=sa.Integer())  # bigint')
    with Tracer("postgresql", project.paths) as tracer:
        trace = project.step("b1", tracer)
    again = pickle.loads(pickle.dumps(trace))
    assert again == trace
    data = json.loads(json.dumps(trace.to_dict()))
    (statement,) = data["statements"]
    assert set(statement) >= {"path", "line", "sql", "locks", "rewrites", "ms"}
    lock = next(lock for lock in statement["locks"] if lock["mode"] == "ACCESS EXCLUSIVE")
    assert lock == {"table": "public.post", "mode": "ACCESS EXCLUSIVE", "blocks": "reads and writes", "inferred": False, "held_ms": lock["held_ms"], "released": "commit"}
    assert data["summary"][0]["table"] == "public.post" and data["transaction"] == PER_MIGRATION
    assert "| `b1` |" in markdown_timeline([trace])


def test_other_databases_get_statements_without_locks(tmp_path):
    import sqlalchemy as sa

    base = runnable_revision("a0", None, 'op.create_table("post", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("title", sa.String(50)))', "pass")
    project = Project(tmp_path, sa.engine.make_url(f"sqlite:///{tmp_path / 'db.sqlite'}"), base)
    project.revision("b1", "a0", 'op.create_index("ix_post_title", "post", ["title"])  # index')
    project.step("a0")
    with Tracer("sqlite", project.paths) as tracer:
        trace = project.step("b1", tracer)
    (statement,) = trace.statements
    assert statement.line == project.line("b1", "index") and statement.locks == []
    assert "PostgreSQL only" in trace.notes[0]


@needs_pg
def test_a_failure_inside_a_savepoint_releases_its_locks_and_tracing_goes_on(project):
    project.revision(
        "b1",
        "a0",
        """
try:
    with op.get_bind().begin_nested():
        op.execute("LOCK TABLE author IN ACCESS EXCLUSIVE MODE")  # lock
        op.execute("SELECT 1 / 0")  # fails
except sa.exc.DataError:
    pass
op.create_index("ix_post_title", "post", ["title"])  # index
""",
    )
    with Tracer("postgresql", project.paths) as tracer:
        trace = project.step("b1", tracer)
    (lock,) = [lock for s in at(trace, project.line("b1", "lock")) for lock in s.locks]
    assert (lock.table, lock.mode, lock.released) == ("public.author", "ACCESS EXCLUSIVE", "savepoint")
    assert "division by zero" in at(trace, project.line("b1", "fails"))[0].error
    assert locks_at(trace, project.line("b1", "index")) == [("public.post", "SHARE", "writes", False)]
    assert trace.notes == []
    assert [row.table for row in trace.summary()] == ["public.author", "public.post"]
