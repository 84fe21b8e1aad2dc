"""The lock and rewrite trace (migration_lint/roundtrip/trace.py, locks.py) on a real PostgreSQL.

A tiny Alembic environment in tmp_path (alembic.ini, an env.py that takes
``config.attributes['connection']`` when given and otherwise makes its own engine, versions/) is
run with Alembic's own API: one revision per step through ``EnvironmentContext`` +
``MigrationStep`` as the round trip's runner does, or ``alembic.command.upgrade`` for a whole run.
Needs the PostgreSQL of tests/conftest.py (MIGRATION_LINT_TEST_PG_URL).
"""

import json
import os
import pickle
import uuid
from pathlib import Path

import pytest

from conftest import PG_URL, needs_pg, runnable_revision, with_driver as _with_driver
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

needs_pg = needs_pg()  # the server of MIGRATION_LINT_TEST_PG_URL (tests/conftest.py)


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
    # the line after the failure never ran: the verdict says why, not just "no statement"
    never = check_prediction(failed, project.line("b1", "fails") + 1, expect="strong", table="post")
    assert never.status == "not-run" and never.text.startswith(f"not observed: the upgrade failed at line {project.line('b1', 'fails')} (")
    assert check_prediction(failed, project.line("b1", "index") - 1, expect="strong").text == "not observed (no statement ran from this line)"
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
    assert lock == {"table": "public.post", "mode": "ACCESS EXCLUSIVE", "blocks": "reads and writes", "inferred": False, "held_ms": lock["held_ms"], "released": "commit", "renamed": None}
    assert data["summary"][0]["table"] == "public.post" and data["transaction"] == PER_MIGRATION
    assert "| `b1` |" in markdown_timeline([trace])


@needs_pg
def test_a_table_renamed_by_the_revision_is_known_by_both_names(project):
    project.revision("b1", "a0", 'op.rename_table("post", "article")\nop.create_index("ix_article_title", "article", ["title"])  # index')
    with Tracer("postgresql", project.paths) as tracer:
        trace = project.step("b1", tracer)
    line = project.line("b1", "index")
    (share,) = [lock for s in at(trace, line) for lock in s.locks if lock.mode == "SHARE"]
    assert (share.table, share.renamed, share.blocks) == ("public.post", "public.article", "writes")
    assert check_prediction(trace, line, line, "SHARE", "article").status == "confirmed"
    assert check_prediction(trace, line, line, "SHARE", "post").status == "confirmed"


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


# --- through the command line and the API: --roundtrip --trace ---------------------------------
#
# One history, run twice by the real command (each run makes and drops its own scratch database on
# the test server): with an env.py that sets transaction_per_migration and with one that does not.
# Each revision holds one case; the tables it touches existed before it.

TRACE_BASE = runnable_revision(
    "a0",
    None,
    """
op.create_table("author", sa.Column("id", sa.Integer(), primary_key=True))
op.create_table("post", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("title", sa.String(50)), sa.Column("author_id", sa.Integer()))
op.create_table("tag", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String(50)))
op.create_table("account", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("email", sa.String(255)), sa.Column("tag_id", sa.Integer()))
op.execute("INSERT INTO author (id) SELECT g FROM generate_series(1, 10) g")
op.execute("INSERT INTO post (title, author_id) SELECT 't' || g, 1 + g % 10 FROM generate_series(1, 200) g")
op.execute("INSERT INTO tag (id, name) SELECT g, 'n' || g FROM generate_series(1, 5) g")
op.execute("INSERT INTO account (email, tag_id) SELECT 'a' || g || '@example.com', 1 + g % 5 FROM generate_series(1, 50) g")
""",
    'op.drop_table("account")\nop.drop_table("tag")\nop.drop_table("post")\nop.drop_table("author")',
)

TRACE_CASES = {
    "b1": ('op.create_index("ix_post_title", "post", ["title"])  # index', 'op.drop_index("ix_post_title", table_name="post")'),
    "c2": (
        'with op.get_context().autocommit_block():\n'
        '    op.create_index("ix_post_author", "post", ["author_id"], postgresql_concurrently=True)  # concurrently',
        'op.drop_index("ix_post_author", table_name="post")',
    ),
    "d3": (
        'op.alter_column("post", "id", type_=sa.BigInteger(), existing_type=sa.Integer())  # bigint\n'
        'op.alter_column("tag", "name", type_=sa.Text(), existing_type=sa.String(50))  # text',
        'op.alter_column("tag", "name", type_=sa.String(50), existing_type=sa.Text())\n'
        'op.alter_column("post", "id", type_=sa.Integer(), existing_type=sa.BigInteger())',
    ),
    "e4": (
        'op.add_column("account", sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False))  # default',
        'op.drop_column("account", "active")',
    ),
    "f5": (
        'op.create_foreign_key("fk_post_author", "post", "author", ["author_id"], ["id"])  # fk\n'
        'op.create_foreign_key("fk_account_tag", "account", "tag", ["tag_id"], ["id"], postgresql_not_valid=True)  # fk not valid',
        'op.drop_constraint("fk_account_tag", "account", type_="foreignkey")\n'
        'op.drop_constraint("fk_post_author", "post", type_="foreignkey")',
    ),
}
HELPER_REVISION = '''from alembic import op
import sqlalchemy as sa

revision = "g6"
down_revision = "f5"


def unique(table, *columns):
    name = "_".join((table, *columns, "key"))
    op.execute("ALTER TABLE " + table + " ADD CONSTRAINT " + name + " UNIQUE (" + ", ".join(columns) + ")")  # inside the helper


def upgrade():
    op.create_table("note", sa.Column("id", sa.Integer(), primary_key=True))
    unique("account", "email")  # helper


def downgrade():
    op.drop_constraint("account_email_key", "account", type_="unique")
    op.drop_table("note")
'''


def trace_env_py(per_migration):
    option = "" if per_migration is None else f", transaction_per_migration={per_migration}"
    return f'''from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config


def run(connection):
    context.configure(connection=connection{option})
    with context.begin_transaction():
        context.run_migrations()


given = config.attributes.get("connection")
if given is not None:
    run(given)
else:
    engine = engine_from_config(config.get_section(config.config_ini_section), prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        run(connection)
    engine.dispose()
'''


def trace_project(root: Path, per_migration) -> Path:
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    (root / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/migrations\n")
    (root / "migrations" / "env.py").write_text(trace_env_py(per_migration))
    (versions / "a0.py").write_text(TRACE_BASE)
    down = "a0"
    for revision, (upgrade, downgrade) in TRACE_CASES.items():
        (versions / f"{revision}.py").write_text(runnable_revision(revision, down, upgrade, downgrade))
        down = revision
    (versions / "g6.py").write_text(HELPER_REVISION)
    return root


def marked(root: Path, revision: str, marker: str) -> int:
    for number, text in enumerate((root / "migrations" / "versions" / f"{revision}.py").read_text().splitlines(), 1):
        if text.rstrip().endswith(f"# {marker}"):
            return number
    raise AssertionError(f"no line marked {marker} in {revision}")


def run_cli(*args):
    import contextlib
    import io

    from migration_lint.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    """{True: (root, JSON report) with transaction_per_migration, None: without (Alembic's default)}."""
    from conftest import require_server

    require_server(PG_URL, "MIGRATION_LINT_TEST_PG_URL")
    runs = {}
    for per_migration in (True, None):
        root = trace_project(tmp_path_factory.mktemp("traced"), per_migration)
        report = root / "report.json"
        code, out, err = run_cli("check", str(root), "--roundtrip", "--trace", "--db", PG_URL, "--no-cache", "--format", "json", "--output", str(report))
        assert code == 1, err
        runs[per_migration] = (root, json.loads(report.read_text()))
    return runs


def revisions_of(report):
    (env,) = report["summary"]["environments"]
    assert env["roundtrip"]["traced"] is True
    return {r["revision"]: r for r in env["roundtrip"]["revisions"]}


def statements_at(report, revision, line):
    found = [s for s in revisions_of(report)[revision]["trace"] if s["line"] == line]
    assert found, f"nothing traced at {revision}:{line}"
    return found


def findings_of(report, revision, rule=None):
    return [f for f in report["findings"] if f["revision"] == revision and (rule is None or f["rule"] == rule)]


@needs_pg
def test_cli_trace_report_has_a_trace_list_per_revision(traced):
    root, report = traced[True]
    revisions = revisions_of(report)
    assert set(revisions) == {"a0", "b1", "c2", "d3", "e4", "f5", "g6"}
    statement = statements_at(report, "b1", marked(root, "b1", "index"))[0]
    assert {"path", "line", "sql", "locks", "rewrites", "ms"} <= set(statement)
    assert statement["path"].endswith("migrations/versions/b1.py") and not os.path.isabs(statement["path"])
    assert statement["sql"].startswith("CREATE INDEX ix_post_title") and statement["ms"] >= 0
    assert {"table": "public.post", "mode": "SHARE", "blocks": "writes", "inferred": False}.items() <= statement["locks"][0].items()
    assert revisions["b1"]["timeline"][0]["mode"] == "SHARE"


@needs_pg
def test_create_index_on_an_existing_table_is_confirmed_share(traced):
    root, report = traced[True]
    (finding,) = findings_of(report, "b1", "create-index-not-concurrently")
    assert finding["line"] == marked(root, "b1", "index")
    assert finding["trace"].startswith("confirmed by trace: SHARE on public.post (blocks writes), held ")
    assert "confirmed by trace" not in finding["message"]  # the message is the rule's own
    assert not findings_of(report, "b1", "trace-strong-lock")  # the static finding says it


@needs_pg
def test_concurrent_index_in_an_autocommit_block_is_share_update_exclusive_never_none(traced):
    root, report = traced[True]
    (statement,) = statements_at(report, "c2", marked(root, "c2", "concurrently"))
    assert statement["autocommit"] is True
    modes = {(lock["table"], lock["mode"], lock["blocks"]) for lock in statement["locks"]}
    assert ("public.post", "SHARE UPDATE EXCLUSIVE", "nothing") in modes  # observed or, if too quick, documented
    assert all(lock["released"] == "statement" for lock in statement["locks"])
    assert not findings_of(report, "c2")


@needs_pg
def test_integer_to_bigint_rewrites_and_varchar_to_text_does_not(traced):
    root, report = traced[True]
    (bigint,) = statements_at(report, "d3", marked(root, "d3", "bigint"))
    assert bigint["rewrites"] == ["public.post"]
    assert ("public.post", "ACCESS EXCLUSIVE", "reads and writes") in {(l["table"], l["mode"], l["blocks"]) for l in bigint["locks"]}
    (text,) = statements_at(report, "d3", marked(root, "d3", "text"))
    assert text["rewrites"] == [] and ("public.tag", "ACCESS EXCLUSIVE") in {(l["table"], l["mode"]) for l in text["locks"]}
    (finding,) = findings_of(report, "d3", "alter-column-type")  # varchar -> text is a safe widening
    assert finding["line"] == marked(root, "d3", "bigint")
    assert finding["trace"].startswith("confirmed by trace: rewrote public.post under ACCESS EXCLUSIVE on public.post")
    assert not findings_of(report, "d3", "trace-table-rewrite")  # alter-column-type reported that line


@needs_pg
def test_add_column_with_a_constant_default_does_not_rewrite_through_the_cli(traced):
    root, report = traced[True]
    (statement,) = statements_at(report, "e4", marked(root, "e4", "default"))
    assert statement["rewrites"] == [] and statement["locks"][0]["mode"] == "ACCESS EXCLUSIVE"
    # ACCESS EXCLUSIVE for a moment is what the static model expects of add_column: no news
    assert not findings_of(report, "e4", "trace-strong-lock") and not findings_of(report, "e4", "trace-table-rewrite")


@needs_pg
def test_a_foreign_key_with_and_without_not_valid(traced):
    root, report = traced[True]
    for marker, pair in (("fk", ("public.post", "public.author")), ("fk not valid", ("public.account", "public.tag"))):
        (statement,) = statements_at(report, "f5", marked(root, "f5", marker))
        assert {(l["table"], l["mode"]) for l in statement["locks"]} >= {(t, "SHARE ROW EXCLUSIVE") for t in pair}
    (finding,) = findings_of(report, "f5", "add-foreign-key")  # only the validated one
    assert finding["line"] == marked(root, "f5", "fk")
    assert finding["trace"].startswith("confirmed by trace: SHARE ROW EXCLUSIVE on public.post")
    assert not findings_of(report, "f5", "trace-strong-lock")


@needs_pg
def test_sql_built_in_a_helper_function_is_a_trace_finding_on_the_call_line(traced):
    root, report = traced[True]
    line = marked(root, "g6", "helper")
    (statement,) = [s for s in revisions_of(report)["g6"]["trace"] if s["sql"].startswith("ALTER TABLE account")]
    assert statement["line"] == line  # the statement of upgrade() that called the helper
    (finding,) = findings_of(report, "g6", "trace-strong-lock")
    assert (finding["line"], finding["severity"], finding["phase"]) == (line, "warning", "upgrade")
    assert "takes ACCESS EXCLUSIVE on public.account (observed): it blocks reads and writes" in finding["message"]
    assert "until the revision's transaction commits" in finding["message"]
    assert finding["fingerprint"]
    # the new table of the same revision is nobody's problem
    assert all("public.note" not in f["message"] for f in report["findings"])
    assert [f["rule"] for f in report["findings"] if f["rule"].startswith("trace-")] == ["trace-strong-lock"]


@needs_pg
def test_how_long_locks_are_held_with_and_without_transaction_per_migration(traced):
    for per_migration, model, held in ((True, "per-migration", "until the revision's transaction commits"), (None, "single", "until the run's single transaction commits")):
        _, report = traced[per_migration]
        revisions = revisions_of(report)
        assert {r["transaction"] for r in revisions.values()} == {model}
        assert all(lock["released"] in ("commit", "statement") for r in revisions.values() for s in r["trace"] for lock in s["locks"])
        (finding,) = findings_of(report, "g6", "trace-strong-lock")
        assert held in finding["message"]
        notes = report["summary"]["environments"][0]["notes"]
        assert any(n.startswith("lock trace: 7 revisions") for n in notes), notes


@needs_pg
def test_the_trace_changes_no_fingerprint_or_message(traced):
    from migration_lint import api

    root, report = traced[True]
    static = {(f.rule, f.path, f.line): (f.fingerprint, f.message) for f in api.check([root], use_cache=False).findings}
    shown = {(f["rule"], f["path"], f["line"]): (f["fingerprint"], f["message"]) for f in report["findings"] if (f["rule"], f["path"], f["line"]) in static}
    assert shown == static and len(static) >= 4
    assert sum(1 for f in report["findings"] if f.get("trace")) == 3  # b1, d3, f5


@needs_pg
def test_markdown_summary_has_a_lock_timeline(traced):
    from migration_lint.report.markdown import render_markdown_report

    root, report = traced[True]
    text = render_markdown_report(report)
    assert "### Lock trace" in text
    timeline = text.split("### Lock trace", 1)[1]
    assert "| `b1` | public.post | SHARE | writes |" in timeline
    assert "| `d3` | public.post | ACCESS EXCLUSIVE | reads and writes |" in timeline and "| yes |" in timeline
    assert "| `c2` | public.post | SHARE UPDATE EXCLUSIVE" in timeline
    assert "<sub>Held: a transaction per revision (transaction\\_per\\_migration=True, or transactional\\_ddl=False): a lock is held from its statement to the commit of this revision's transaction.</sub>" in timeline
    assert "<sub>confirmed by trace: SHARE on public.post" in text


@needs_pg
def test_text_report_shows_the_verdicts(tmp_path):
    root = trace_project(tmp_path, True)
    (root / "migrations" / "versions" / "g6.py").unlink()
    for name in ("c2", "d3", "e4", "f5"):
        (root / "migrations" / "versions" / f"{name}.py").unlink()
    code, out, err = run_cli("check", str(root), "--roundtrip", "--trace", "--db", PG_URL, "--no-cache", "--color", "never")
    assert code == 1, err
    assert "confirmed by trace: SHARE on public.post (blocks writes)" in " ".join(out.split())
    assert "lock trace: 2 revisions" in " ".join(out.split())


def test_the_trace_on_another_database_is_a_note_not_an_error(tmp_path):
    from conftest import RUNNABLE_ENV_PY

    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = sqlite:///app.db\n")
    (tmp_path / "migrations" / "env.py").write_text(RUNNABLE_ENV_PY)
    (versions / "a1.py").write_text(runnable_revision("a1", None, 'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))', 'op.drop_table("t")'))
    code, out, err = run_cli("check", str(tmp_path), "--roundtrip", "--trace", "--db", "sqlite", "--no-cache", "--format", "json")
    assert code == 0, err
    (env,) = json.loads(out)["summary"]["environments"]
    assert [n for n in env["notes"] if "trace" in n] == [f"lock trace not run: the trace needs PostgreSQL, and this history's round trip ran on {env['roundtrip']['database']}"]
    assert env["roundtrip"]["traced"] is False and "revisions" not in env["roundtrip"]


def test_trace_without_the_round_trip_is_a_usage_error(tmp_path):
    code, out, err = run_cli("check", str(tmp_path), "--trace")
    assert code == 2 and out == ""
    assert err.strip() == "migration-lint: error: --trace traces the round trip's upgrades: add --roundtrip"
