"""The round trip on real databases: fixture projects, each found on the right revision."""

import json
import re
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import MYSQL_URL as MY_URL, PG_URL, RUNNABLE_ENV_PY as ENV_PY, needs_mysql, needs_pg, require_server, runnable_revision as rev, with_driver as _with_driver, write_tree
from migration_lint import api
from migration_lint.cli import main

needs_pg = needs_pg()
needs_mysql = needs_mysql()


BASE = rev("a1", None, 'op.create_table("post", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("title", sa.String(100), nullable=True))', 'op.drop_table("post")')


def project(root: Path, revisions: dict, env_py: str = ENV_PY, ini_url: str = "sqlite:///unused.db") -> Path:
    files = {"alembic.ini": f"[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = {ini_url}\n", "migrations/env.py": env_py}
    for name, text in revisions.items():
        files[f"migrations/versions/{name}"] = text
    return write_tree(root, files)


def roundtrip(root, db, dialect=None, env="auto", **kwargs):
    return api.check([root], dialect=dialect, use_cache=False, roundtrip=api.RoundTripOptions(db=db, env=env), **kwargs)


def trip_findings(result):
    rules = {"roundtrip-upgrade-failed", "roundtrip-downgrade-failed", "reupgrade-failed", "downgrade-leaves-trace", "reupgrade-differs", "roundtrip-irreversible"}
    return [f for f in result.findings if f.rule in rules]


def found(result):
    return sorted((f.rule, f.revision) for f in trip_findings(result))


ENUM_LEAK = {
    "a1.py": BASE,
    "b2.py": rev(
        "b2", "a1",
        'op.create_table("tag", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("color", sa.Enum("red", "green", name="tag_color")))',
        'op.drop_table("tag")',
    ),
}

DEFAULT_NOT_RESTORED = {
    "a1.py": BASE,
    "b2.py": rev(
        "b2", "a1",
        'op.alter_column("post", "title", existing_type=sa.String(100), server_default="untitled")',
        'pass  # forgets to drop the default',
    ),
}

INDEX_ONLY_DOWNGRADE = {
    "a1.py": BASE,
    "b2.py": rev(
        "b2", "a1",
        'op.add_column("post", sa.Column("slug", sa.String(80), nullable=True))\nop.create_index("ix_post_slug", "post", ["slug"])',
        'op.drop_index("ix_post_slug", table_name="post")',
    ),
}

FAILING = {
    "a1.py": BASE,
    "b2.py": rev("b2", "a1", 'op.add_column("post", sa.Column("body", sa.Text(), nullable=True))', 'op.drop_column("post", "no_such_column")'),
    "c3.py": rev("c3", "b2", 'op.execute("INSERT INTO no_such_table VALUES (1)")', "pass"),
    "d4.py": rev("d4", "b2", 'op.create_index("ix_post_title", "post", ["title"])', 'op.drop_index("ix_post_title", table_name="post")'),
}

IRREVERSIBLE = {
    "a1.py": BASE,
    "b2.py": rev("b2", "a1", 'op.drop_column("post", "title")', 'raise NotImplementedError("titles are gone")'),
    "c3.py": rev("c3", "b2", 'op.add_column("post", sa.Column("body", sa.Text()))', 'op.drop_column("post", "body")'),
}

CLEAN = {
    "a1.py": BASE,
    "b2.py": rev("b2", "a1", 'op.add_column("post", sa.Column("body", sa.Text(), nullable=True))', 'op.drop_column("post", "body")'),
    "c3.py": rev(
        "c3", "b2",
        'op.create_table("author", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String(50), nullable=False, server_default="anon"))\n'
        'op.add_column("post", sa.Column("author_id", sa.Integer(), sa.ForeignKey("author.id"), nullable=True))\n'
        'op.create_index("ix_post_author_id", "post", ["author_id"])',
        'op.drop_index("ix_post_author_id", table_name="post")\nop.drop_constraint("post_author_id_fkey", "post", type_="foreignkey")\nop.drop_column("post", "author_id")\nop.drop_table("author")',
    ),
}

BRANCH_AND_MERGE = {
    "a1.py": BASE,
    "b2.py": rev("b2", "a1", 'op.add_column("post", sa.Column("body", sa.Text(), nullable=True))', 'op.drop_column("post", "body")'),
    "c2.py": rev("c2", "a1", 'op.create_table("tag", sa.Column("id", sa.Integer(), primary_key=True))', 'op.drop_table("tag")'),
    "m3.py": rev("m3", ("b2", "c2"), "pass", "pass"),
    "d4.py": rev("d4", "m3", 'op.create_index("ix_post_title", "post", ["title"])', 'op.drop_index("ix_post_title", table_name="post")'),
}


# -- PostgreSQL (scratch database on the server) -----------------------------------------------


@needs_pg
def test_enum_type_left_behind_is_found_on_its_revision(in_tmp):
    project(in_tmp, ENUM_LEAK)
    result = roundtrip(in_tmp, PG_URL, dialect="postgresql")
    assert ("downgrade-leaves-trace", "b2") in found(result)
    assert ("reupgrade-failed", "b2") in found(result)
    trace = next(f for f in result.findings if f.rule == "downgrade-leaves-trace")
    assert "enum type tag_color" in trace.message
    failed = next(f for f in result.findings if f.rule == "reupgrade-failed")
    assert "already exists" in failed.message and Path(failed.path).name == "b2.py"
    assert failed.line == 11  # the create_table line in b2.py


@needs_pg
def test_server_default_not_restored(in_tmp):
    project(in_tmp, DEFAULT_NOT_RESTORED)
    result = roundtrip(in_tmp, PG_URL, dialect="postgresql")
    assert found(result) == [("downgrade-leaves-trace", "b2")]
    (trace,) = trip_findings(result)
    assert "post.title" in trace.message and "default" in trace.message


@needs_pg
def test_column_left_behind_by_index_only_downgrade(in_tmp):
    project(in_tmp, INDEX_ONLY_DOWNGRADE)
    result = roundtrip(in_tmp, PG_URL, dialect="postgresql")
    # the column stays, so adding it again fails too
    assert found(result) == [("downgrade-leaves-trace", "b2"), ("reupgrade-failed", "b2")]
    trace = next(f for f in result.findings if f.rule == "downgrade-leaves-trace")
    assert "only after downgrade: column post.slug (varchar(80), NULL)" in trace.message


@needs_pg
def test_failures_are_reported_and_the_run_goes_on(in_tmp):
    project(in_tmp, FAILING)
    result = roundtrip(in_tmp, PG_URL, dialect="postgresql")
    assert ("roundtrip-downgrade-failed", "b2") in found(result)
    assert ("roundtrip-upgrade-failed", "c3") in found(result)
    down = next(f for f in result.findings if f.rule == "roundtrip-downgrade-failed")
    assert "no_such_column" in down.message and down.line == 15
    up = next(f for f in result.findings if f.rule == "roundtrip-upgrade-failed")
    assert "no_such_table" in up.message and Path(up.path).name == "c3.py"
    # d4 comes after the failures and still gets its round trip
    assert result.environments[0].roundtrip.tested == 4
    assert not [f for f in trip_findings(result) if f.revision == "d4"]


@needs_pg
def test_declared_irreversible_downgrade_stops_the_down_leg(in_tmp):
    project(in_tmp, IRREVERSIBLE)
    result = roundtrip(in_tmp, PG_URL, dialect="postgresql")
    assert found(result) == [("roundtrip-irreversible", "b2")]
    (info,) = trip_findings(result)
    assert info.severity == "info"
    assert result.environments[0].roundtrip.tested == 3


@needs_pg
def test_clean_project_passes(in_tmp):
    project(in_tmp, CLEAN)
    result = roundtrip(in_tmp, PG_URL, dialect="postgresql")
    assert found(result) == []
    trip = result.environments[0].roundtrip
    assert trip.tested == 3 and trip.environment_mode == "project"


@needs_pg
def test_branch_and_merge_history(in_tmp):
    project(in_tmp, BRANCH_AND_MERGE)
    result = roundtrip(in_tmp, PG_URL, dialect="postgresql")
    assert found(result) == []
    assert result.environments[0].roundtrip.tested == 5


@needs_pg
def test_env_py_setting_lock_timeout_runs_as_the_project_environment(in_tmp):
    env_py = ENV_PY.replace(
        "with context.begin_transaction():",
        "connection.exec_driver_sql(\"SET lock_timeout = '2s'\")\n        with context.begin_transaction():",
    )
    project(in_tmp, CLEAN, env_py=env_py)
    result = roundtrip(in_tmp, PG_URL, dialect="postgresql")
    assert found(result) == []
    assert result.environments[0].roundtrip.environment_mode == "project"
    assert not [f for f in result.findings if f.rule == "missing-lock-timeout"]


@needs_pg
def test_flask_migrate_project_runs_without_flask(in_tmp):
    flask_env = "from flask import current_app\nfrom alembic import context\n\nconfig = context.config\nconfig.set_main_option('sqlalchemy.url', current_app.config['SQLALCHEMY_DATABASE_URI'])\n"
    write_tree(in_tmp, {"migrations/alembic.ini": "[alembic]\n", "migrations/env.py": flask_env})
    for name, text in CLEAN.items():
        write_tree(in_tmp, {f"migrations/versions/{name}": text})
    result = roundtrip(in_tmp, PG_URL, dialect="postgresql")
    env = result.environments[0]
    assert env.kind == "flask-migrate"
    assert env.roundtrip.environment_mode == "builtin"
    assert any("built-in environment" in note for note in env.notes)
    assert found(result) == []


@needs_pg
def test_scratch_database_is_dropped_and_others_untouched(in_tmp):
    """Its own scratch database goes; another database on the server (one of ours, made for this
    test: other sessions' databases come and go on this shared server) keeps its table and rows."""
    import uuid

    import sqlalchemy as sa

    project(in_tmp, CLEAN)
    sentinel = f"mlint_sentinel_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(_with_driver(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {sentinel}")
    other = sa.create_engine(sa.engine.make_url(_with_driver(PG_URL)).set(database=sentinel))
    try:
        with other.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE kept (id int)")
            connection.exec_driver_sql("INSERT INTO kept VALUES (1)")
        result = roundtrip(in_tmp, PG_URL, dialect="postgresql")
        with admin.connect() as connection:
            after = set(connection.exec_driver_sql("SELECT datname FROM pg_database").scalars())
        (ours,) = re.findall(r"migration_lint_[0-9a-f]{12}", result.environments[0].roundtrip.database)
        assert ours not in after and sentinel in after
        with other.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM kept").scalar() == 1
    finally:
        other.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {sentinel} WITH (FORCE)")
        admin.dispose()


@needs_pg
def test_start_after_limits_the_revisions_round_tripped(in_tmp):
    project(in_tmp, CLEAN)
    from migration_lint.config import config_from_mapping

    result = roundtrip(in_tmp, PG_URL, dialect="postgresql", config=config_from_mapping({"start_after": "b2"}))
    assert result.environments[0].roundtrip.tested == 1


# -- other backends ------------------------------------------------------------------------------


@needs_mysql
def test_mariadb_server_url(in_tmp):
    project(in_tmp, INDEX_ONLY_DOWNGRADE)
    result = roundtrip(in_tmp, MY_URL, dialect="mysql")
    assert found(result) == [("downgrade-leaves-trace", "b2"), ("reupgrade-failed", "b2")]
    failed = next(f for f in result.findings if f.rule == "reupgrade-failed")
    assert "Duplicate column" in failed.message


def test_sqlite_backend(in_tmp):
    project(in_tmp, {**INDEX_ONLY_DOWNGRADE, "c3.py": rev("c3", "b2", 'op.execute("CREATE TABLE audit (id integer)")', 'op.execute("DROP TABLE audit")')})
    result = roundtrip(in_tmp, "sqlite", dialect="sqlite")
    assert found(result) == [("downgrade-leaves-trace", "b2"), ("reupgrade-failed", "b2")]
    assert result.environments[0].roundtrip.tested == 3


def test_local_postgresql_backend(in_tmp):
    from migration_lint.errors import MigrationLintError

    project(in_tmp, ENUM_LEAK)
    try:
        result = roundtrip(in_tmp, "local", dialect="postgresql")
    except MigrationLintError as exc:
        pytest.skip(f"no local PostgreSQL binaries: {exc}")
    assert ("reupgrade-failed", "b2") in found(result)
    assert "local" in result.environments[0].roundtrip.database.lower()


def test_docker_backend_where_docker_answers(in_tmp):
    pytest.importorskip("testcontainers", reason="testcontainers is not installed (pip install 'alembic-lint[docker]')")
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception as exc:
        pytest.skip(f"no Docker engine answers here ({type(exc).__name__})")
    project(in_tmp, ENUM_LEAK)
    result = roundtrip(in_tmp, "docker", dialect="postgresql")
    assert ("reupgrade-failed", "b2") in found(result)


def test_docker_backend_without_engine_is_one_clear_error(in_tmp, capsys):
    try:
        import docker

        docker.from_env(timeout=2).ping()
        pytest.skip("a Docker engine answers here")
    except ImportError:
        pass
    except Exception:
        pass
    project(in_tmp, CLEAN)
    code = main(["check", "--roundtrip", "--db", "docker", "--dialect", "postgresql", "--no-cache"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err


# -- CLI and interruption ------------------------------------------------------------------------


@needs_pg
def test_cli_roundtrip_json_and_exit_code(in_tmp, capsys):
    project(in_tmp, ENUM_LEAK)
    code = main(["check", "--roundtrip", "--db", PG_URL, "--dialect", "postgresql", "--format", "json"])
    out = capsys.readouterr().out
    data = json.loads(out)  # nothing but JSON on stdout
    rules = {f["rule"] for f in data["findings"]}
    assert code == 1 and {"reupgrade-failed", "downgrade-leaves-trace"} <= rules
    assert any("round trip" in note for note in data["summary"]["environments"][0]["notes"])


SLOW = {
    "a1.py": BASE,
    "b2.py": rev("b2", "a1", 'op.execute("SELECT pg_sleep(30)")', "pass"),
}


def _temp_dirs_of(pid: int, *bases) -> list:
    """migration-lint-* temp dirs whose owner file names pid (under /dev/shm, /tmp and bases)."""
    from migration_lint.roundtrip.db import local, owner

    found = []
    for base in {Path("/dev/shm"), Path("/tmp"), *map(Path, bases)}:
        for path in base.glob("migration-lint-*"):
            try:
                text = (path / local.OWNER_FILE).read_text()
            except OSError:
                continue
            mark = owner.parse(text)
            if (mark is not None and mark.pid == pid) or text.strip() == str(pid):
                found.append(str(path))
    return found


@pytest.mark.parametrize("backend", ["url", "local"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupting_a_run_leaves_nothing_behind(in_tmp, sig, backend):
    """Kill a run midway: no server, temp dir or scratch database may remain."""
    project(in_tmp, SLOW)
    temp_root = in_tmp / "tmp"
    temp_root.mkdir()
    env = {**os.environ, "TMPDIR": str(temp_root), "MIGRATION_LINT_CACHE_DIR": str(in_tmp / "cache")}
    if backend == "url":
        require_server(PG_URL, "MIGRATION_LINT_TEST_PG_URL")
    db = PG_URL if backend == "url" else "local"
    import sqlalchemy as sa

    from migration_lint.roundtrip.db import owner

    def scratch_dbs(pid=None):
        """migration_lint_* databases on the server (of the run with that pid: other sessions and
        tests create their own at the same time on this shared server)."""
        if db != PG_URL:
            return set()
        engine = sa.create_engine(_with_driver(PG_URL))
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database WHERE datname LIKE 'migration_lint_%'")).all()
        engine.dispose()
        marks = {name: owner.parse(mark) for name, mark in rows}
        return {name for name, mark in marks.items() if pid is None or (mark is not None and mark.pid == pid)}

    before = scratch_dbs()
    proc = subprocess.Popen(
        [sys.executable, "-m", "migration_lint", "check", "--roundtrip", "--db", db, "--dialect", "postgresql", "--no-cache"],
        cwd=in_tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    # wait until the slow migration is running
    deadline = time.time() + 30
    ours = set()  # this run's temp dirs (their owner file names its pid: other runs come and go here)
    while time.time() < deadline:
        ours.update(_temp_dirs_of(proc.pid, temp_root))
        running = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        local_query = any("migration_lint_" in line and line.rstrip().endswith("SELECT") for line in running.splitlines())
        if (local_query and ours) or (db == PG_URL and _sleeping(PG_URL)):
            break  # (other runs on this machine have servers of their own: wait for this run's dir)
        time.sleep(0.2)
    ours.update(_temp_dirs_of(proc.pid, temp_root))
    assert ours or db == PG_URL, "the local run's temp dir was never seen"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert "Traceback" not in err
    procs = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    assert not [line for line in procs.splitlines() if any(d in line for d in ours)], "a server of this run is still running"
    assert not [d for d in ours if os.path.exists(d)] and not _temp_dirs_of(proc.pid, temp_root)
    assert not scratch_dbs(proc.pid) - before  # nothing of this run's is left


def _sleeping(url):
    import sqlalchemy as sa

    engine = sa.create_engine(_with_driver(url))
    try:
        with engine.connect() as connection:
            return bool(connection.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()")).scalar())
    finally:
        engine.dispose()


def _two_dialects(root):
    files = {"migrations/env.py": ENV_PY}
    simple = {"a1.py": CLEAN["a1.py"], "b2.py": CLEAN["b2.py"]}
    for dialect in ("postgresql", "sqlite"):
        for name, text in simple.items():
            files[f"migrations/versions/{dialect}/{name}"] = text
    write_tree(root, files)


@needs_pg
def test_server_url_serves_its_dialect_and_sqlite_histories_get_a_file(in_tmp):
    _two_dialects(in_tmp)
    result = roundtrip(in_tmp, PG_URL)
    by_dialect = {env.dialect: env for env in result.environments}
    assert by_dialect["postgresql"].roundtrip.tested == 2 and "PostgreSQL" in by_dialect["postgresql"].roundtrip.database
    assert by_dialect["sqlite"].roundtrip.tested == 2 and "SQLite" in by_dialect["sqlite"].roundtrip.database
    assert found(result) == []


def test_explicit_sqlite_round_trips_only_the_sqlite_history(in_tmp):
    _two_dialects(in_tmp)
    result = roundtrip(in_tmp, "sqlite")
    by_dialect = {env.dialect: env for env in result.environments}
    assert by_dialect["postgresql"].roundtrip is None
    assert any("round trip skipped" in note for note in by_dialect["postgresql"].notes)
    assert by_dialect["sqlite"].roundtrip.tested == 2


def test_revision_that_cannot_be_imported_keeps_the_static_findings(in_tmp, capsys):
    broken = rev("b2", "a1", 'op.drop_column("post", "title")', "pass", imports="import funcy_not_installed")
    project(in_tmp, {"a1.py": BASE, "b2.py": broken})
    code = main(["check", "--roundtrip", "--db", "sqlite", "--dialect", "sqlite", "--format", "json", "--no-cache"])
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    rules = {(f["rule"], Path(f["path"]).name) for f in data["findings"]}
    assert code == 1 and "Traceback" not in captured.err
    assert ("drop-column", "b2.py") in rules  # the static check still reports
    failed = next(f for f in data["findings"] if f["rule"] == "roundtrip-upgrade-failed")
    assert Path(failed["path"]).name == "b2.py" and "funcy_not_installed" in failed["message"]


def test_depends_on_is_applied_before_the_revision_that_needs_it(in_tmp):
    """c hangs off a1 but depends_on b2, whose table its upgrade uses: each step starts from a
    state that includes what it depends on."""
    c3 = rev("c3", "a1", 'op.create_index("ix_tag_name", "tag", ["name"])', 'op.drop_index("ix_tag_name", table_name="tag")')
    project(in_tmp, {
        "a1.py": BASE,
        "b2.py": rev("b2", "a1", 'op.create_table("tag", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String(50)))', 'op.drop_table("tag")'),
        "c3.py": c3.replace("depends_on = None", "depends_on = 'b2'"),
    })
    result = roundtrip(in_tmp, "sqlite", dialect="sqlite")
    trip = result.environments[0].roundtrip
    assert [f.rule for f in result.findings if f.rule.startswith(("roundtrip", "reupgrade", "downgrade-leaves"))] == []
    assert trip.tested == 3 and not trip.skipped


def test_descendants_of_a_failed_upgrade_are_skipped_others_still_run(in_tmp):
    project(in_tmp, {
        "a1.py": BASE,
        "b2.py": rev("b2", "a1", 'op.execute("INSERT INTO no_such_table VALUES (1)")', "pass"),
        "c3.py": rev("c3", "b2", 'op.add_column("post", sa.Column("body", sa.Text()))', 'op.drop_column("post", "body")'),
        "d4.py": rev("d4", "a1", 'op.create_index("ix_post_title", "post", ["title"])', 'op.drop_index("ix_post_title", table_name="post")'),
        "e5.py": rev("e5", ("c3", "d4"), "pass", "pass"),
    })
    result = roundtrip(in_tmp, "sqlite", dialect="sqlite")
    trip = result.environments[0].roundtrip
    assert [f.revision for f in result.findings if f.rule == "roundtrip-upgrade-failed"] == ["b2"]
    skipped = dict(trip.skipped)
    assert set(skipped) == {"c3", "e5"} and all("b2" in why for why in skipped.values())
    assert trip.tested == 3  # a1, b2 (failed) and d4, on its own branch, were run


def test_an_excluded_revision_that_fails_in_the_round_trip_is_still_reported(in_tmp):
    from migration_lint.config import config_from_mapping

    project(in_tmp, {
        "a1.py": BASE,
        "private_b2.py": rev("b2", "a1", 'op.execute("INSERT INTO no_such_table VALUES (1)")', "pass"),
        "c3.py": rev("c3", "b2", 'op.add_column("post", sa.Column("body", sa.Text()))', "pass"),
    })
    config = config_from_mapping({"exclude": ["migrations/versions/private_*.py"]}, root=str(in_tmp))
    result = roundtrip(in_tmp, "sqlite", dialect="sqlite", config=config)
    # c3 went untested because of b2: a silent pass would hide both
    assert [f.revision for f in result.findings if f.rule == "roundtrip-upgrade-failed"] == ["b2"]


def test_a_plugin_history_runs_on_top_of_the_core_history_it_requires(in_tmp):
    from migration_lint.config import config_from_mapping

    write_tree(in_tmp, {
        "core/alembic.ini": "[alembic]\nscript_location = %(here)s\nsqlalchemy.url = sqlite:///unused.db\n",
        "core/env.py": ENV_PY,
        "core/versions/a1.py": BASE,
        "plugin/alembic.ini": "[alembic]\nscript_location = %(here)s\nsqlalchemy.url = sqlite:///unused.db\n",
        "plugin/env.py": ENV_PY,
        # the plugin adds a column to the core's table: on an empty database it cannot run
        "plugin/versions/p1.py": rev("p1", None, 'op.add_column("post", sa.Column("likes", sa.Integer()))', 'op.drop_column("post", "likes")'),
    })
    alone = roundtrip(in_tmp / "plugin", "sqlite", dialect="sqlite", env="builtin")
    assert [f.rule for f in alone.findings if f.rule.startswith("roundtrip")] == []  # one note says why instead
    assert any("alters table 'post', which no revision creates" in n and "roundtrip-requires" in n for n in alone.environments[0].notes)
    config = config_from_mapping({"roundtrip-requires": {"plugin": "core"}}, root=str(in_tmp))
    on_core = roundtrip(in_tmp / "plugin", "sqlite", dialect="sqlite", env="builtin", config=config)
    trip = on_core.environments[0].roundtrip
    assert trip.tested == 1 and not [f for f in on_core.findings if f.rule.startswith(("roundtrip", "reupgrade", "downgrade-leaves"))]
    auto = roundtrip(in_tmp / "plugin", "sqlite", dialect="sqlite", config=config)  # its env.py shares alembic_version
    assert auto.environments[0].roundtrip.tested == 1 and auto.environments[0].roundtrip.environment_mode == "builtin"
    assert not [f for f in auto.findings if f.rule.startswith(("roundtrip", "reupgrade", "downgrade-leaves"))]
    with pytest.raises(Exception, match="roundtrip-requires: nowhere"):
        roundtrip(in_tmp / "plugin", "sqlite", dialect="sqlite", env="builtin", config=config_from_mapping({"roundtrip-requires": {"plugin": "nowhere"}}, root=str(in_tmp)))


def _core_and_plugins(root, core_upgrade='op.create_table("post", sa.Column("id", sa.Integer(), primary_key=True))', core_url="sqlite:///unused.db"):
    ini = "[alembic]\nscript_location = %(here)s\nsqlalchemy.url = {}\n"
    write_tree(root, {
        "core/alembic.ini": ini.format(core_url),
        "core/env.py": ENV_PY,
        "core/versions/c1.py": rev("c1", None, core_upgrade, 'op.drop_table("post")'),
        "plugin/alembic.ini": ini.format("sqlite:///unused.db"),
        "plugin/env.py": ENV_PY,
        "plugin/versions/p1.py": rev("p1", None, 'op.add_column("post", sa.Column("likes", sa.Integer()))', 'op.drop_column("post", "likes")'),
        "plugin2/alembic.ini": ini.format("sqlite:///unused.db"),
        # its env.py computes its version table, as ckan's plugins do: it keeps its own
        "plugin2/env.py": "NAME = 'plugin2'\n" + ENV_PY.replace("context.configure(", "context.configure(version_table=NAME + '_version', "),
        "plugin2/versions/q1.py": rev("q1", None, 'op.create_index("ix_post_likes", "post", ["likes"])', 'op.drop_index("ix_post_likes", table_name="post")'),
    })


def _trip_findings(result):
    return [(f.rule, f.revision) for f in result.findings if f.rule.startswith(("roundtrip", "reupgrade", "downgrade-leaves"))]


def test_requirements_are_followed_through_and_keep_their_own_version_tables(in_tmp):
    from migration_lint.config import config_from_mapping

    _core_and_plugins(in_tmp)
    config = config_from_mapping({"roundtrip-requires": {"plugin": "core", "plugin2": "plugin"}}, root=str(in_tmp))
    result = roundtrip(in_tmp / "plugin2", "sqlite", dialect="sqlite", config=config)
    trip = result.environments[0].roundtrip
    assert _trip_findings(result) == [] and trip.tested == 1  # core, then plugin, then plugin2
    assert trip.environment_mode == "project"  # its computed version table is trusted, no fallback


def test_a_requirement_that_cannot_run_skips_the_history_and_the_run_goes_on(in_tmp):
    from migration_lint.config import config_from_mapping

    _core_and_plugins(in_tmp, core_upgrade='op.execute("SELECT * FROM nowhere")')
    config = config_from_mapping({"roundtrip-requires": {"plugin": "core"}}, root=str(in_tmp))
    result = roundtrip(in_tmp, "sqlite", dialect="sqlite", config=config)  # core and the plugins in one run
    by_name = {Path(e.name).name: e for e in result.environments}
    assert ("roundtrip-upgrade-failed", "c1") in _trip_findings(result)  # core's own failure is kept
    assert any("round trip not run" in n and "could not be upgraded" in n for n in by_name["plugin"].notes)
    assert dict(by_name["plugin"].roundtrip.skipped) == {"p1": "a history it requires could not be upgraded"}


def test_a_requirement_for_another_dialect_is_said_not_used(in_tmp):
    from migration_lint.config import config_from_mapping

    _core_and_plugins(in_tmp, core_url="postgresql://u@h/db")
    config = config_from_mapping({"roundtrip-requires": {"plugin": "core"}}, root=str(in_tmp))
    result = roundtrip(in_tmp / "plugin", "sqlite", config=config)
    (env,) = result.environments
    assert any("targets postgresql, this history sqlite" in n for n in env.notes)
