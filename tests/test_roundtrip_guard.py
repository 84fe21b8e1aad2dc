"""An env.py that connects to another database writes nothing there: the round trip refuses the
connection before it is made (guard.py), on SQLite, MariaDB and PostgreSQL (AUTOCOMMIT)."""

import hashlib
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import MYSQL_URL, PG_URL, RUNNABLE_ENV_PY, needs_mysql, needs_pg, runnable_revision as rev, with_driver, write_tree
from migration_lint import api
from migration_lint.cli import main

needs_pg = needs_pg()
needs_mysql = needs_mysql()

REVISIONS = {
    "a1.py": rev("a1", None, 'op.create_table("post", sa.Column("id", sa.Integer(), primary_key=True))', 'op.drop_table("post")'),
    "b2.py": rev("b2", "a1", 'op.add_column("post", sa.Column("title", sa.String(50)))', 'op.drop_column("post", "title")'),
}

# env.py opens its own engine to the target and runs the migrations there; it also tries a plain
# write first, as a hostile env.py would
HOSTILE_ENV_PY = '''from alembic import context
from sqlalchemy import create_engine

engine = create_engine({url!r}{options})
with engine.begin() as connection:
    connection.exec_driver_sql("CREATE TABLE hostile (id integer)")
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
'''

# the same, through a creator function (no connect arguments for SQLAlchemy to look at)
CREATOR_ENV_PY = '''import sqlite3
from alembic import context
from sqlalchemy import create_engine

engine = create_engine("sqlite://", creator=lambda: sqlite3.connect({path!r}))
with engine.begin() as connection:
    connection.exec_driver_sql("CREATE TABLE hostile (id integer)")
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
'''


def project(root: Path, env_py: str) -> Path:
    files = {"alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = sqlite:///unused.db\n", "migrations/env.py": env_py}
    files.update({f"migrations/versions/{name}": text for name, text in REVISIONS.items()})
    return write_tree(root, files)


def roundtrip(root, db, dialect, env="auto"):
    return api.check([root], dialect=dialect, use_cache=False, roundtrip=api.RoundTripOptions(db=db, env=env))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_refused(root: Path, db: str, dialect: str, target_words: str, capsys) -> None:
    """auto: the built-in environment runs, with a note naming the refusal; project: exit 2, one line."""
    result = roundtrip(root, db, dialect)
    (env,) = result.environments
    assert env.roundtrip.environment_mode == "builtin" and env.roundtrip.tested == 2
    note = next(n for n in env.notes if "refused a connection" in n)
    assert target_words in note and "nothing was written there" in note
    code = main(["check", str(root), "--roundtrip", "--db", db, "--dialect", dialect, "--env", "project", "--no-cache"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert "refused a connection to" in err and target_words in err


def test_sqlite_file_elsewhere_is_left_unchanged(in_tmp, capsys):
    victim = in_tmp / "victim.db"
    engine = sa.create_engine(f"sqlite:///{victim}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE keep (id integer)")
        connection.exec_driver_sql("INSERT INTO keep VALUES (1)")
    engine.dispose()
    before = _digest(victim)
    project(in_tmp, HOSTILE_ENV_PY.format(url=f"sqlite:///{victim}", options=""))
    _assert_refused(in_tmp, "sqlite", "sqlite", str(victim), capsys)
    assert _digest(victim) == before


def test_sqlite_file_that_does_not_exist_is_not_even_created(in_tmp, capsys):
    victim = in_tmp / "new.db"
    project(in_tmp, HOSTILE_ENV_PY.format(url=f"sqlite:///{victim}", options=""))
    _assert_refused(in_tmp, "sqlite", "sqlite", str(victim), capsys)
    assert not victim.exists()


def test_an_engine_with_a_creator_function_is_refused_as_it_connects(in_tmp, capsys):
    victim = in_tmp / "victim.db"
    engine = sa.create_engine(f"sqlite:///{victim}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE keep (id integer)")
    engine.dispose()
    before = _digest(victim)
    project(in_tmp, CREATOR_ENV_PY.format(path=str(victim)))
    _assert_refused(in_tmp, "sqlite", "sqlite", str(victim), capsys)
    assert _digest(victim) == before


def _server_target(url: str, prefix: str):
    """A database of our own on the server (rtrguard_<hex>), with one table and one row."""
    name = f"rtrguard_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(with_driver(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    target = sa.engine.make_url(with_driver(url)).set(database=name)
    engine = sa.create_engine(target)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE keep (id integer)")
        connection.exec_driver_sql("INSERT INTO keep VALUES (1)")
    engine.dispose()
    return admin, name, target


def _tables_and_rows(target) -> tuple:
    engine = sa.create_engine(target, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            tables = sorted(sa.inspect(connection).get_table_names())
            rows = connection.exec_driver_sql("SELECT count(*) FROM keep").scalar()
        return tables, rows
    finally:
        engine.dispose()


@needs_pg
def test_postgresql_database_elsewhere_with_autocommit_is_left_unchanged(in_tmp, capsys):
    admin, name, target = _server_target(PG_URL, "rtrguard_")
    try:
        url = target.render_as_string(hide_password=False)
        project(in_tmp, HOSTILE_ENV_PY.format(url=url, options=', isolation_level="AUTOCOMMIT"'))
        _assert_refused(in_tmp, PG_URL, "postgresql", f"database {name!r}", capsys)
        assert _tables_and_rows(target) == (["keep"], 1)  # no alembic_version, no post, no hostile
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@needs_mysql
def test_mariadb_database_elsewhere_is_left_unchanged(in_tmp, capsys):
    admin, name, target = _server_target(MYSQL_URL, "rtrguard_")
    try:
        url = target.render_as_string(hide_password=False)
        project(in_tmp, HOSTILE_ENV_PY.format(url=url, options=""))
        _assert_refused(in_tmp, MYSQL_URL, "mysql", f"database {name!r}", capsys)
        assert _tables_and_rows(target) == (["keep"], 1)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()


@needs_pg
def test_a_revision_that_connects_elsewhere_is_an_error_finding_and_writes_nothing(in_tmp):
    """Past the env.py probe: a revision's own engine to another database fails that revision."""
    admin, name, target = _server_target(PG_URL, "rtrguard_")
    try:
        url = target.render_as_string(hide_password=False)
        sneaky = rev("c3", "b2", f'sa.create_engine({url!r}, isolation_level="AUTOCOMMIT").connect().exec_driver_sql("CREATE TABLE hostile (id integer)")', "pass")
        project(in_tmp, RUNNABLE_ENV_PY)
        write_tree(in_tmp, {"migrations/versions/c3.py": sneaky})
        result = roundtrip(in_tmp, PG_URL, "postgresql")
        failed = [f for f in result.findings if f.rule == "roundtrip-upgrade-failed"]
        assert [f.revision for f in failed] == ["c3"]
        assert f"refused a connection to database {name!r}" in failed[0].message and failed[0].severity == "error"
        assert _tables_and_rows(target) == (["keep"], 1)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def test_the_listeners_are_installed_only_while_project_code_runs(in_tmp):
    from migration_lint.roundtrip import guard

    victim = in_tmp / "victim.db"
    project(in_tmp, HOSTILE_ENV_PY.format(url=f"sqlite:///{victim}", options=""))
    roundtrip(in_tmp, "sqlite", "sqlite")
    assert not guard.installed()
    engine = sa.create_engine(f"sqlite:///{victim}")  # after the run, any database may be used again
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE later (id integer)")
    engine.dispose()
    assert victim.exists()


def test_the_guard_refuses_before_the_driver_connects_and_lets_the_scratch_database_through(tmp_path):
    from migration_lint.roundtrip import guard

    scratch = sa.engine.make_url(f"sqlite:///{tmp_path / 'scratch.db'}")
    with guard.only(scratch) as g:
        with sa.create_engine(scratch).connect() as connection:
            connection.exec_driver_sql("CREATE TABLE ok (id integer)")
        with pytest.raises(guard.WrongDatabase, match="before it connected"):
            sa.create_engine(f"sqlite:///{tmp_path / 'other.db'}").connect()
        with pytest.raises(guard.WrongDatabase):
            sa.create_engine("sqlite://").connect()  # in memory: not the scratch database either
        assert g.refusals == 2
    assert not guard.installed() and not (tmp_path / "other.db").exists()


def test_a_connection_made_before_the_guard_is_refused_when_handed_to_alembic(tmp_path):
    from migration_lint.roundtrip import guard

    other = sa.create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    with other.connect() as connection:  # opened before: only context.configure can see it
        with guard.only(sa.engine.make_url(f"sqlite:///{tmp_path / 'scratch.db'}")) as g:
            with pytest.raises(guard.WrongDatabase, match="handed to context.configure"):
                guard.check_connection(g, connection)
    other.dispose()
