"""Histories that start from create_all() (a base schema), and Flask apps (--app), on real databases."""

import os
from pathlib import Path

import pytest

from conftest import MYSQL_URL, PG_URL, RUNNABLE_ENV_PY, needs_mysql, needs_pg, runnable_revision as rev, write_tree
from migration_lint import api
from migration_lint.cli import main

needs_pg = needs_pg()
needs_mysql = needs_mysql()

TRIP = ("roundtrip-upgrade-failed", "roundtrip-downgrade-failed", "reupgrade-failed", "downgrade-leaves-trace", "reupgrade-differs")

# redash's shape: the first revision alters tables that create_all() made; none creates them
CREATE_ALL_HISTORY = {
    "r1.py": rev("r1", None, 'op.add_column("queries", sa.Column("is_draft", sa.Boolean()))', 'op.drop_column("queries", "is_draft")'),
    "r2.py": rev("r2", "r1", 'op.add_column("queries", sa.Column("tags", sa.String(200)))', 'op.drop_column("queries", "tags")'),
    "r3.py": rev("r3", "r2", 'op.create_index("ix_queries_tags", "queries", ["tags"])', 'op.drop_index("ix_queries_tags", table_name="queries")'),
}

# redash's first revision catches the error and returns, so the failure is the next statement's
SWALLOWING_FIRST = rev(
    "r1", None,
    'try:\n    op.add_column("queries", sa.Column("is_draft", sa.Boolean()))\nexcept ProgrammingError as e:\n    if "already exists" in str(e):\n        raise',
    'op.drop_column("queries", "is_draft")', imports="from sqlalchemy.exc import ProgrammingError",
)

BASE_SQL = "-- the schema before r1\nCREATE TABLE queries (id integer PRIMARY KEY, name varchar(100));\n\\connect whatever\nCREATE TABLE users (id integer PRIMARY KEY);\n"

MODELS = '''import sqlalchemy as sa

metadata = sa.MetaData()
queries = sa.Table(
    "queries", metadata,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(100)),
    sa.Column("is_draft", sa.Boolean), sa.Column("tags", sa.String(200)),
)
'''


def project(root: Path, revisions: dict, env_py: str = RUNNABLE_ENV_PY, extra: dict = None) -> Path:
    files = {"alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = sqlite:///unused.db\n", "migrations/env.py": env_py, **(extra or {})}
    files.update({f"migrations/versions/{name}": text for name, text in revisions.items()})
    return write_tree(root, files)


def roundtrip(root, db, dialect, **options):
    result = api.check([root], dialect=dialect, use_cache=False, roundtrip=api.RoundTripOptions(db=db, **options))
    (env,) = result.environments
    return env, sorted((f.rule, f.revision) for f in result.findings if f.rule in TRIP), result


def _one_note_for_the_history(env, found):
    assert found == []  # no error for r1
    trip_notes = [n for n in env.notes if n.startswith("round trip") and not n.startswith("round trip: ")]
    assert len(trip_notes) == 1, env.notes
    assert "round trip not run from r1: this first revision alters table 'queries', which no revision creates" in trip_notes[0]
    assert "--base-schema" in trip_notes[0]
    assert env.roundtrip.tested == 0 and env.roundtrip.skipped == []


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_a_history_that_starts_from_create_all_gets_one_note(in_tmp, backend):
    db = {"sqlite": "sqlite", "postgresql": PG_URL, "mysql": MYSQL_URL}[backend]
    if backend != "sqlite":
        from conftest import require_server

        require_server(db, "MIGRATION_LINT_TEST_PG_URL" if backend == "postgresql" else "MIGRATION_LINT_TEST_MYSQL_URL")
    project(in_tmp, CREATE_ALL_HISTORY)
    _one_note_for_the_history(*roundtrip(in_tmp, db, backend)[:2])


@needs_pg
def test_a_first_revision_that_swallows_its_error_is_recognised_too(in_tmp):
    project(in_tmp, {**CREATE_ALL_HISTORY, "r1.py": SWALLOWING_FIRST})
    _one_note_for_the_history(*roundtrip(in_tmp, PG_URL, "postgresql")[:2])


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_a_sql_file_gives_the_starting_schema(in_tmp, backend):
    db = {"sqlite": "sqlite", "postgresql": PG_URL, "mysql": MYSQL_URL}[backend]
    if backend != "sqlite":
        from conftest import require_server

        require_server(db, "MIGRATION_LINT_TEST_PG_URL" if backend == "postgresql" else "MIGRATION_LINT_TEST_MYSQL_URL")
    project(in_tmp, CREATE_ALL_HISTORY, extra={"schema/base.sql": BASE_SQL})
    env, found, _ = roundtrip(in_tmp, db, backend, base_schema="schema/base.sql")
    assert found == [] and env.roundtrip.tested == 3 and env.roundtrip.skipped == []


@needs_pg
def test_a_base_schema_in_the_config_is_relative_to_the_config(in_tmp, monkeypatch):
    project(in_tmp, CREATE_ALL_HISTORY, extra={"schema/base.sql": BASE_SQL, "pyproject.toml": '[tool.migration-lint]\nroundtrip-base-schema = "schema/base.sql"\n'})
    monkeypatch.chdir(in_tmp / "schema")  # not where the config is
    code = main(["check", str(in_tmp), "--roundtrip", "--db", PG_URL, "--dialect", "postgresql", "--no-cache", "--select", "roundtrip-upgrade-failed"])
    assert code == 0


@needs_pg
def test_create_all_of_the_models_stamped_at_a_revision(in_tmp):
    project(in_tmp, CREATE_ALL_HISTORY, extra={"myapp/__init__.py": "", "myapp/models.py": MODELS})
    env, found, _ = roundtrip(in_tmp, PG_URL, "postgresql", base_schema="myapp.models:metadata", base_stamp="r2")
    assert found == [] and env.roundtrip.tested == 1  # r3 only: r1 and r2 are the models' schema
    assert any("2 revisions up to r2 are the base schema (create_all() of myapp.models:metadata, stamped at r2)" in n for n in env.notes)


@needs_pg
def test_a_base_schema_that_leaves_a_trace_is_found(in_tmp):
    history = dict(CREATE_ALL_HISTORY)
    history["r2.py"] = rev("r2", "r1", 'op.add_column("queries", sa.Column("tags", sa.String(200)))', "pass")
    project(in_tmp, history, extra={"base.sql": BASE_SQL})
    _, found, _ = roundtrip(in_tmp, PG_URL, "postgresql", base_schema="base.sql")
    assert ("downgrade-leaves-trace", "r2") in found


def test_bad_base_schema_values_are_one_line_errors(in_tmp, capsys):
    project(in_tmp, CREATE_ALL_HISTORY, extra={"base.sql": BASE_SQL})
    for args, words in (
        (["--base-schema", "nowhere.sql"], "cannot read base schema SQL file"),
        (["--base-schema", "not a target"], "neither a .sql file nor module:attribute"),
        (["--base-schema", "base.sql", "--base-stamp", "zz9"], "the base stamp 'zz9' is not a revision"),
        (["--base-stamp", "r2"], "needs a base schema"),
    ):
        code = main(["check", str(in_tmp), "--roundtrip", "--db", "sqlite", "--dialect", "sqlite", "--no-cache", *args])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and words in err and "Traceback" not in err, (args, err)


# -- --app -----------------------------------------------------------------------------------------

FACTORY = '''import os

from flask import Flask


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("MYAPP_DATABASE_URL", "sqlite:////nonexistent/production.db")
    app.config["FEATURE_TABLE"] = "feature"
    return app
'''

# redash's env.py: the URL comes from the app's config
FLASK_ENV_PY = '''from alembic import context
from flask import current_app
from sqlalchemy import engine_from_config, pool

config = context.config
config.set_main_option("sqlalchemy.url", current_app.config["SQLALCHEMY_DATABASE_URI"].replace("%", "%%"))
engine = engine_from_config(config.get_section(config.config_ini_section), prefix="sqlalchemy.", poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
'''

FLASK_HISTORY = {
    "a1.py": rev("a1", None, 'op.create_table("post", sa.Column("id", sa.Integer(), primary_key=True))', 'op.drop_table("post")'),
    # reads the app's config at import, as some Flask projects' revisions do
    "b2.py": rev("b2", "a1", 'op.create_table(TABLE, sa.Column("id", sa.Integer(), primary_key=True))', "op.drop_table(TABLE)",
                 imports='from flask import current_app\nTABLE = current_app.config["FEATURE_TABLE"]'),
}


def flask_project(root: Path) -> Path:
    return project(root, FLASK_HISTORY, env_py=FLASK_ENV_PY, extra={"myapp/__init__.py": FACTORY})


def test_without_app_the_revision_that_needs_it_says_so_and_flask_app_is_not_read(in_tmp, monkeypatch):
    pytest.importorskip("flask")
    monkeypatch.setenv("FLASK_APP", "myapp:create_app")  # never picked up implicitly
    flask_project(in_tmp)
    env, found, result = roundtrip(in_tmp, "sqlite", "sqlite")
    assert found == [("roundtrip-upgrade-failed", "b2")]
    (failed,) = [f for f in result.findings if f.rule == "roundtrip-upgrade-failed"]
    assert "needs a Flask application context (pass --app module:factory" in failed.message
    assert env.roundtrip.environment_mode == "builtin"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_app_factory_pointed_at_the_scratch_database_runs_env_py_and_every_revision(in_tmp, backend):
    pytest.importorskip("flask")
    db = {"sqlite": "sqlite", "postgresql": PG_URL, "mysql": MYSQL_URL}[backend]
    if backend != "sqlite":
        from conftest import require_server

        require_server(db, "MIGRATION_LINT_TEST_PG_URL" if backend == "postgresql" else "MIGRATION_LINT_TEST_MYSQL_URL")
    flask_project(in_tmp)
    env, found, _ = roundtrip(in_tmp, db, backend, app="myapp:create_app", app_url_env=("MYAPP_DATABASE_URL",))
    assert found == [] and env.roundtrip.tested == 2
    assert env.roundtrip.environment_mode == "project"  # its env.py ran, inside the app context
    assert "MYAPP_DATABASE_URL" not in os.environ  # restored


def test_app_that_points_elsewhere_stops_the_run(in_tmp, capsys):
    pytest.importorskip("flask")
    flask_project(in_tmp)
    code = main(["check", str(in_tmp), "--roundtrip", "--db", "sqlite", "--dialect", "sqlite", "--no-cache", "--app", "myapp:create_app"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert "uses sqlite:////nonexistent/production.db, not the throwaway database" in err and "--app-url-env" in err


def test_app_factory_that_connects_elsewhere_is_refused(in_tmp, capsys):
    pytest.importorskip("flask")
    victim = in_tmp / "victim.db"
    factory = FACTORY.replace("    return app\n", f"    import sqlalchemy\n    sqlalchemy.create_engine('sqlite:///{victim}').connect()\n    return app\n")
    project(in_tmp, FLASK_HISTORY, env_py=FLASK_ENV_PY, extra={"myapp/__init__.py": factory})
    code = main(["check", str(in_tmp), "--roundtrip", "--db", "sqlite", "--dialect", "sqlite", "--no-cache",
                 "--app", "myapp:create_app", "--app-url-env", "MYAPP_DATABASE_URL"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "refused a connection to SQLite file" in err and len(err.splitlines()) == 1
    assert not victim.exists()


def test_bad_app_values_are_one_line_errors(in_tmp, capsys):
    flask_project(in_tmp)
    for args, words in (
        (["--app", "myapp"], "is not module:factory"),
        (["--app-url-env", "X"], "no --app is given"),
        (["--app", "myapp:create_app", "--app-url-env", "NOT-A-NAME"], "is not an environment variable name"),
        (["--app", "myapp:nothing_here"], "building the app with myapp:nothing_here failed"),
    ):
        code = main(["check", str(in_tmp), "--roundtrip", "--db", "sqlite", "--dialect", "sqlite", "--no-cache", *args])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and words in err and "Traceback" not in err, (args, err)
