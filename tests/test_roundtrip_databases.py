"""Throwaway databases for the round trip, against real servers and binaries (no mocks).

Needs: the servers at MIGRATION_LINT_TEST_PG_URL and MIGRATION_LINT_TEST_MYSQL_URL (conftest.py;
the README says what the suite expects) for the URL tests; PostgreSQL/MariaDB server binaries for the local tests;
a Docker engine for the container test.  Each test skips, saying why, when its server is missing.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from migration_lint.roundtrip.db import base, cleanup, container, local, owner
from migration_lint.roundtrip.databases import Database, DatabaseError, cleanup_all, open_database

from conftest import MYSQL_URL, PG_URL, needs_mysql, needs_pg


def _with_driver(url):
    """Our own test connections: the installed driver (SQLAlchemy 2.1 defaults postgresql:// to psycopg 3)."""
    url = make_url(url)
    if "+" not in url.drivername:
        url = url.set(drivername=f"{url.drivername}+{base.pick_driver(base.normalize_dialect(url.get_backend_name()))}")
    return url


needs_pg = needs_pg()
needs_mysql = needs_mysql()
needs_local_pg = pytest.mark.skipif(
    local.find_postgres() is None, reason="no local PostgreSQL server binaries (initdb, postgres)"
)
needs_local_mysql = pytest.mark.skipif(
    local.find_mysql() is None, reason="no local MariaDB/MySQL server binaries (mariadbd + mariadb-install-db, or mysqld)"
)


# --------------------------------------------------------------------------- helpers


def _engine(db: Database):
    return sa.create_engine(db.url, poolclass=NullPool)


def _create_table(db: Database) -> None:
    engine = _engine(db)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE roundtrip_probe (id INTEGER PRIMARY KEY, name VARCHAR(20))")
    engine.dispose()


def _tables(db: Database) -> list:
    engine = _engine(db)
    try:
        return sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def _server_databases(url: str) -> set:
    engine = sa.create_engine(_with_driver(url), poolclass=NullPool)
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            names = conn.exec_driver_sql("SELECT datname FROM pg_database").scalars().all()
        else:
            names = conn.exec_driver_sql("SHOW DATABASES").scalars().all()
    engine.dispose()
    return set(names)


def _server_process(db: Database) -> tuple:
    """(pid, temp dir) of a local server, read from its pid file."""
    if db.dialect == "postgresql":
        directory = db.url.query["host"]
        with open(os.path.join(directory, "data", "postmaster.pid")) as fh:
            return int(fh.readline()), directory
    directory = os.path.dirname(db.url.query["unix_socket"])
    with open(os.path.join(directory, "mysqld.pid")) as fh:
        return int(fh.read().strip()), directory


def _gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if os.path.exists(f"/proc/{pid}/stat"):
            with open(f"/proc/{pid}/stat") as fh:  # a zombie is gone for our purposes
                if fh.read().split(") ")[-1].startswith("Z"):
                    return True
        time.sleep(0.02)
    return False


def _lifecycle(db: Database) -> None:
    """create a table -> reset -> the table is gone; the database is usable again."""
    assert _tables(db) == []
    _create_table(db)
    assert _tables(db) == ["roundtrip_probe"]
    db.reset()
    assert _tables(db) == []
    _create_table(db)  # usable after the reset
    assert _tables(db) == ["roundtrip_probe"]


# --------------------------------------------------------------------------- sqlite


def test_sqlite_lifecycle():
    notes = []
    with open_database("sqlite", "sqlite", notes=notes) as db:
        assert (db.dialect, db.backend, db.startup_seconds) == ("sqlite", "sqlite", 0.0)
        path = db.url.database
        assert os.path.exists(path)
        _lifecycle(db)
    assert not os.path.exists(os.path.dirname(path))
    assert notes == []


def test_sqlite_for_a_server_dialect_warns():
    notes = []
    with open_database("sqlite", "postgresql", notes=notes) as db:
        assert db.dialect == "sqlite"
    assert any("dialect-specific behaviour was not exercised" in note for note in notes)


def test_auto_for_sqlite_dialect_is_sqlite():
    with open_database("auto", "sqlite") as db:
        assert db.backend == "sqlite"


# --------------------------------------------------------------------------- a server URL


@needs_pg
def test_url_postgresql_lifecycle():
    with open_database(PG_URL, "postgresql") as db:
        assert (db.dialect, db.backend) == ("postgresql", "url")
        name = db.url.database
        assert name.startswith("migration_lint_") and name in _server_databases(PG_URL)
        server = make_url(PG_URL)
        assert f"{server.host}:{server.port or 5432}" in db.description and name in db.description
        _lifecycle(db)
    assert name not in _server_databases(PG_URL)  # other tests may create databases concurrently


@needs_mysql
def test_url_mysql_lifecycle():
    with open_database(MYSQL_URL, "mysql") as db:
        assert (db.dialect, db.backend) == ("mysql", "url")
        name = db.url.database
        assert name.startswith("migration_lint_") and name in _server_databases(MYSQL_URL)
        _lifecycle(db)
    assert name not in _server_databases(MYSQL_URL)


@needs_mysql
@pytest.mark.parametrize("database", ["mysql", "information_schema", ""])
def test_url_mysql_system_schema_means_server_only(database):
    url = make_url(MYSQL_URL)._replace(database=database or None)
    with open_database(url.render_as_string(hide_password=False), "mysql") as db:
        assert db.url.database.startswith("migration_lint_")


@needs_mysql
def test_url_mariadb_scheme_without_driver():
    url = make_url(MYSQL_URL)
    spec = url.set(drivername="mariadb").render_as_string(hide_password=False)
    with open_database(spec, "mysql") as db:
        assert db.dialect == "mysql"
        _create_table(db)


@needs_pg
def test_url_postgresql_database_with_tables_is_refused():
    name = f"ml_test_real_{secrets.token_hex(4)}"
    admin = sa.create_engine(_with_driver(PG_URL), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        real = _with_driver(PG_URL).set(database=name)
        engine = sa.create_engine(real, poolclass=NullPool)
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE SCHEMA app")
            conn.exec_driver_sql("CREATE TABLE app.customers (id int)")
        engine.dispose()
        with pytest.raises(DatabaseError, match=r"refusing .*already has tables \(app\.customers\)"):
            with open_database(real.render_as_string(hide_password=False), "postgresql"):
                pass  # pragma: no cover
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@needs_mysql
def test_url_mysql_database_with_tables_is_refused_but_empty_one_is_accepted():
    name = f"ml_test_real_{secrets.token_hex(4)}"
    admin = sa.create_engine(_with_driver(MYSQL_URL), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}`")
    try:
        url = make_url(MYSQL_URL)._replace(database=name).render_as_string(hide_password=False)
        with open_database(url, "mysql") as db:  # empty: accepted, the scratch database is another one
            assert db.url.database != name
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE TABLE `{name}`.orders (id int)")
        with pytest.raises(DatabaseError, match=r"already has tables \(orders\)"):
            with open_database(url, "mysql"):
                pass  # pragma: no cover
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()


@needs_pg
def test_passwords_never_shown():
    secret = "Sup3rSecretPw"
    url = make_url(PG_URL).set(password=secret)  # trust auth: the password is ignored by the server
    spec = url.render_as_string(hide_password=False)
    with open_database(spec, "postgresql") as db:
        assert secret not in db.description
        assert secret not in str(db.url) and secret not in repr(db)
        assert db.url.password == secret  # still usable for connecting
    refused = url.set(port=1).render_as_string(hide_password=False)
    with pytest.raises(DatabaseError) as info:
        with open_database(refused, "postgresql"):
            pass  # pragma: no cover
    assert secret not in str(info.value) and "***" in str(info.value)
    missing = url.set(database="ml_no_such_database").render_as_string(hide_password=False)
    with pytest.raises(DatabaseError) as info:
        with open_database(missing, "postgresql"):
            pass  # pragma: no cover
    assert secret not in str(info.value)


def test_url_errors_are_one_line_and_fast():
    cases = [
        (MYSQL_URL, "postgresql", "is a MySQL/MariaDB server but the project targets PostgreSQL"),
        ("sqlite:///x.db", "postgresql", "use --db sqlite"),
        ("oracle://scott:tiger@db/orcl", "postgresql", "unsupported database URL"),
        ("bogus", "postgresql", "unknown --db value"),
    ]
    for spec, dialect, message in cases:
        with pytest.raises(DatabaseError, match=message) as info:
            with open_database(spec, dialect):
                pass  # pragma: no cover
        assert "\n" not in str(info.value) and "tiger" not in str(info.value)
    with pytest.raises(DatabaseError, match="unknown dialect"):
        with open_database("sqlite", "oracle"):
            pass  # pragma: no cover


# --------------------------------------------------------------------------- local servers


@needs_local_pg
def test_local_postgresql_lifecycle():
    notes = []
    with open_database("local", "postgresql", notes=notes) as db:
        assert (db.dialect, db.backend) == ("postgresql", "local")
        assert db.description.startswith("throwaway local PostgreSQL ")
        assert 0 < db.startup_seconds < 10
        pid, directory = _server_process(db)
        assert os.path.isdir(directory)
        _lifecycle(db)
    assert _gone(pid), f"postgres {pid} still running"
    assert not os.path.exists(directory)
    assert notes == []


@needs_local_mysql
def test_local_mysql_lifecycle():
    with open_database("local", "mysql") as db:
        assert (db.dialect, db.backend) == ("mysql", "local")
        assert db.description.startswith("throwaway local M")
        assert 0 < db.startup_seconds < 20
        pid, directory = _server_process(db)
        _lifecycle(db)
        engine = _engine(db)  # a connection still open at reset/exit must not block anything
        conn = engine.connect()
        conn.exec_driver_sql("SELECT COUNT(*) FROM roundtrip_probe")
        db.reset()
        assert _tables(db) == []
    conn.invalidate()
    engine.dispose()
    assert _gone(pid), f"mysqld {pid} still running"
    assert not os.path.exists(directory)


@needs_local_pg
def test_exception_inside_with_still_cleans_up():
    with pytest.raises(RuntimeError, match="boom"):
        with open_database("local", "postgresql") as db:
            pid, directory = _server_process(db)
            engine = _engine(db)
            conn = engine.connect()  # left open on purpose
            raise RuntimeError("boom")
    conn.invalidate()
    engine.dispose()
    assert _gone(pid) and not os.path.exists(directory)
    assert not cleanup._OPEN


@needs_pg
def test_keyboard_interrupt_drops_scratch_database():
    with pytest.raises(KeyboardInterrupt):
        with open_database(PG_URL, "postgresql") as db:
            name = db.url.database
            _create_table(db)
            raise KeyboardInterrupt
    assert name not in _server_databases(PG_URL)


@needs_local_pg
def test_cleanup_all_stops_what_is_still_open():
    notes = []
    manager = open_database("local", "postgresql", server_version=(9, 6), notes=notes)
    db = manager.__enter__()  # never exited, as if the caller vanished
    pid, directory = _server_process(db)
    assert cleanup_all() == []
    assert _gone(pid) and not os.path.exists(directory)
    assert not cleanup._OPEN
    assert any("PostgreSQL 9.6 was requested" in note for note in notes), notes  # and the version mismatch is noted


@needs_local_pg
def test_an_assumed_version_is_not_called_requested(tmp_path):
    """With no server version set, the default is an assumption: the note says so, not 'requested'."""
    from conftest import RUNNABLE_ENV_PY, runnable_revision, write_tree
    from migration_lint import api

    write_tree(tmp_path, {
        "alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = postgresql://app@localhost/app\n",
        "migrations/env.py": RUNNABLE_ENV_PY,
        "migrations/versions/a1.py": runnable_revision("a1", None, 'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))', 'op.drop_table("t")'),
    })
    found = local.find_postgres()
    result = api.check([tmp_path], use_cache=False, roundtrip=api.RoundTripOptions(db="local"))
    notes = result.environments[0].notes
    assert not any("was requested" in note for note in notes), notes
    if found.version[:1] != (14,):  # the default is PostgreSQL 14
        assert any(note.startswith("the checks assume PostgreSQL 14 (the default; set --server-version) but the local binaries are") for note in notes), notes


_SIGTERM_CHILD = """
import signal, sys, time
from migration_lint.roundtrip.databases import open_database

def _terminate(signum, frame):  # what the CLI does
    raise KeyboardInterrupt

signal.signal(signal.SIGTERM, _terminate)
try:
    with open_database(sys.argv[1], sys.argv[2]) as db:
        print(db.url.query.get("host") or db.url.query.get("unix_socket"), flush=True)
        time.sleep(60)
except KeyboardInterrupt:
    sys.exit(3)
"""


@needs_local_pg
def test_sigterm_in_a_cli_like_process_cleans_up():
    child = subprocess.Popen(
        [sys.executable, "-c", _SIGTERM_CHILD, "local", "postgresql"], stdout=subprocess.PIPE, text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    try:
        where = child.stdout.readline().strip()
        directory = where if os.path.isdir(where) else os.path.dirname(where)
        with open(os.path.join(directory, "data", "postmaster.pid")) as fh:
            pid = int(fh.readline())
        child.terminate()
        assert child.wait(15) == 3
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert _gone(pid) and not os.path.exists(directory)


def test_stale_temp_dirs_of_dead_processes_are_swept(tmp_path):
    """Temp dirs whose owner provably died are removed; a live owner's, another host's and an
    owner that cannot be read are left alone.  Old bare-pid owner files still count."""
    import dataclasses
    import tempfile

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    me = owner.this_process()
    elsewhere = dataclasses.replace(me, host="some-other-host", pid=dead.pid)
    where = local.temp_base(1) or None
    marks = {
        "stale": owner.Owner(me.host, me.boot, me.pidns, dead.pid, "12345").mark(),
        "reused": dataclasses.replace(me, start="1").mark(),  # our pid, another start time: reused
        "stale-old-format": str(dead.pid),
        "alive": me.mark(),
        "alive-old-format": str(os.getpid()),
        "elsewhere": elsewhere.mark(),
        "unreadable": "garbage",
    }
    paths = {}
    try:
        for label, mark in marks.items():
            paths[label] = tempfile.mkdtemp(prefix=base.TEMP_PREFIX + "pg-", dir=where)
            with open(os.path.join(paths[label], local.OWNER_FILE), "w") as fh:
                fh.write(mark)
        local.sweep_stale()
        gone = {label for label, path in paths.items() if not os.path.exists(path)}
        assert gone == {"stale", "reused", "stale-old-format"}
    finally:
        for path in paths.values():
            local.shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------- auto / docker


_DOCKER_DOWN = container.docker_unavailable()


@needs_local_pg
@pytest.mark.skipif(_DOCKER_DOWN is None, reason="a Docker engine answers here, so auto would use it")
def test_auto_uses_local_binaries_without_docker():
    notes = []
    with open_database("auto", "postgresql", notes=notes) as db:
        assert db.backend == "local"
        pid, directory = _server_process(db)
    assert len(notes) == 1 and "Docker" in notes[0] and "using local PostgreSQL" in notes[0], notes
    assert _gone(pid) and not os.path.exists(directory)


@pytest.mark.skipif(_DOCKER_DOWN is None, reason="a Docker engine answers here")
def test_docker_without_engine_fails_fast_in_one_line():
    started = time.monotonic()
    with pytest.raises(DatabaseError) as info:
        with open_database("docker", "postgresql"):
            pass  # pragma: no cover
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert "\n" not in message
    assert "no Docker engine answered" in message or "alembic-lint[docker]" in message


def test_default_images():
    assert container.default_image("postgresql", (14,)) == "postgres:14"
    assert container.default_image("postgresql", (14, 2)) == "postgres:14"
    assert container.default_image("postgresql", (9, 6)) == "postgres:9.6"
    assert container.default_image("postgresql", None).startswith("postgres:")
    assert container.default_image("mysql", (10, 11)) == "mariadb:10.11"
    assert container.default_image("mysql", (8, 0)) == "mysql:8.0"


@pytest.mark.skipif(_DOCKER_DOWN is not None, reason=f"Docker container test: {_DOCKER_DOWN}")
@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_docker_lifecycle(dialect):  # pragma: no cover - needs a Docker engine
    with open_database("docker", dialect) as db:
        assert db.backend == "docker" and db.startup_seconds > 0
        _lifecycle(db)
        container_url = db.url
    with pytest.raises(Exception):
        engine = sa.create_engine(container_url, poolclass=NullPool, connect_args={"connect_timeout": 2})
        with engine.connect():
            pass


# --------------------------------------------------------------------------- passwords in the query string


def test_redaction_covers_userinfo_and_query_string():
    from migration_lint.roundtrip.db import redact

    url = make_url("postgresql+psycopg2://ci:pw%2Fone@db:5432/postgres?sslpassword=k3y&application_name=x&client_secret=s3c")
    assert redact.url_secrets(url) == ["pw/one", "k3y", "s3c"]
    shown = redact.safe_url(url)
    assert "pw" not in shown and "k3y" not in shown and "s3c" not in shown and "application_name=x" in shown
    assert shown.count("***") == 3
    text = "failed for pw%2Fone, pw/one and pw%2fone? k3y"
    assert redact.scrub(text, redact.url_secrets(url)) == "failed for ***, *** and pw%2fone? ***"
    moved = redact.password_in_userinfo(make_url("mysql+pymysql://root@h/?passwd=a&password=b"), "mysql")
    assert moved.password == "b" and "password" not in moved.query and "passwd" not in moved.query
    kept = redact.password_in_userinfo(make_url("postgresql://u@h/db?passwd=a"), "postgresql")
    assert kept.password is None and kept.query["passwd"] == "a"  # not a libpq keyword: left for the driver to refuse


@needs_pg
def test_a_password_in_the_query_string_is_never_shown():
    secret, key = "Qu3ryS3cret", "SslK3yPw"
    spec = f"{PG_URL}?password={secret}&sslpassword={key}"  # trust auth: the server ignores both
    notes = []
    with open_database(spec, "postgresql", notes=notes) as db:
        for text in (db.description, repr(db), *notes):
            assert secret not in text and key not in text
        assert secret not in str(db.url)  # SQLAlchemy's own rendering hides it once it is in the userinfo
        assert db.url.password == secret  # moved to the userinfo, still used to connect
        assert "sslpassword=***" in repr(db)
    refused = make_url(spec).set(port=1).render_as_string(hide_password=False)
    assert secret in refused and key in refused
    with pytest.raises(DatabaseError) as info:
        with open_database(refused, "postgresql"):
            pass  # pragma: no cover
    assert secret not in str(info.value) and key not in str(info.value) and "***" in str(info.value)


@needs_mysql
def test_a_passwd_in_a_mysql_query_string_is_never_shown():
    secret = "MyQu3ryPw"
    engine = sa.create_engine(_with_driver(MYSQL_URL), poolclass=NullPool)
    with engine.connect() as conn:  # a user that needs the password, for this test only
        user = f"ml_{secrets.token_hex(4)}"
        conn.execute(sa.text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{secret}'"))  # text(): % is not a parameter
        conn.execute(sa.text(f"GRANT ALL ON `migration\\_lint\\_%`.* TO '{user}'@'%'"))
    try:
        url = make_url(MYSQL_URL).set(username=user)
        spec = url.render_as_string(hide_password=False) + f"?passwd={secret}"
        with open_database(spec, "mysql") as db:
            assert secret not in db.description and secret not in repr(db) and secret not in str(db.url)
            _create_table(db)  # the password was used: the user cannot log in without it
        wrong = url.render_as_string(hide_password=False) + f"?passwd={secret}x"
        with pytest.raises(DatabaseError, match="Access denied") as info:
            with open_database(wrong, "mysql"):
                pass  # pragma: no cover
        assert secret not in str(info.value)
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f"DROP USER IF EXISTS '{user}'@'%'"))
        engine.dispose()


@needs_pg
def test_a_query_string_password_is_masked_in_round_trip_findings(tmp_path):
    """The runner's messages (a migration's error that echoes the URL) are scrubbed too."""
    from conftest import RUNNABLE_ENV_PY, runnable_revision, write_tree
    from migration_lint import api

    secret = "R0undTr1pPw"
    write_tree(tmp_path, {
        "alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = sqlite:///unused.db\n",
        "migrations/env.py": RUNNABLE_ENV_PY,
        "migrations/versions/a1.py": runnable_revision(
            "a1", None, 'raise RuntimeError("connected with " + op.get_bind().engine.url.render_as_string(hide_password=False))', "pass"),
    })
    result = api.check([tmp_path], dialect="postgresql", use_cache=False,
                       roundtrip=api.RoundTripOptions(db=f"{PG_URL}?password={secret}"))
    failed = [f for f in result.findings if f.rule == "roundtrip-upgrade-failed"]
    assert failed and "connected with" in failed[0].message and "***" in failed[0].message
    assert not any(secret in f.message for f in result.findings)
    assert not any(secret in note for env in result.environments for note in env.notes)


# --------------------------------------------------------------------------- owner marks


@needs_mysql
def test_mysql_without_database_comments_marks_with_a_routine_the_snapshot_does_not_see():
    """MySQL and MariaDB before 10.5 have no database comments: the mark is an empty routine."""
    from migration_lint.roundtrip.db import dialect_sql
    from migration_lint.roundtrip.snapshot import take_snapshot

    url = _with_driver(MYSQL_URL)
    sql = dialect_sql.MySQLSQL(comments=False)  # what an older server gets
    name = f"migration_lint_{secrets.token_hex(6)}"
    mark = owner.this_process().mark()
    scratch = dialect_sql.Scratch(url, "mysql", name, mark=mark, sql=sql)
    try:
        scratch.create()
        with scratch.engine.connect() as conn:
            assert dict(sql.scratch_databases(conn))[name] == mark
        engine = sa.create_engine(url.set(database=name), poolclass=NullPool)
        with engine.connect() as conn:
            snapshot = take_snapshot(conn)
        engine.dispose()
        empty = dialect_sql.Scratch(url, "mysql", f"migration_lint_{secrets.token_hex(6)}")
        try:
            empty.create()
            engine = sa.create_engine(url.set(database=empty.name), poolclass=NullPool)
            with engine.connect() as conn:
                assert take_snapshot(conn) == snapshot  # the routine is not part of the schema compared
            engine.dispose()
        finally:
            empty.drop()
            empty.close()
    finally:
        scratch.drop()
        scratch.close()
    assert name not in _server_databases(MYSQL_URL)


@needs_pg
def test_scratch_databases_carry_their_owner():
    me = owner.this_process()
    assert me.pid == os.getpid() and me.start and me.boot
    with open_database(PG_URL, "postgresql") as db:
        engine = sa.create_engine(_with_driver(PG_URL), poolclass=NullPool)
        with engine.connect() as conn:
            mark = conn.exec_driver_sql(
                f"SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{db.url.database}'"
            ).scalar()
        engine.dispose()
        assert owner.parse(mark) == me and owner.state(me) == owner.RUNNING


# --------------------------------------------------------------------------- interrupts held, failures reported


def test_interrupts_are_held_inside_and_raised_after():
    from migration_lint.roundtrip.db.cleanup import held_interrupts, interrupt

    ran = []
    with pytest.raises(KeyboardInterrupt):
        with held_interrupts():
            with held_interrupts():
                interrupt(signal.SIGTERM)  # what the CLI's handler does
                ran.append("inner")
            ran.append("outer")  # still held: only the outermost section raises
    assert ran == ["inner", "outer"]
    with pytest.raises(KeyboardInterrupt):
        interrupt(signal.SIGINT)  # outside: at once
    with held_interrupts():
        pass  # nothing pending any more


def test_an_interrupt_inside_a_poll_leaves_the_process_waitable():
    """Popen.poll() takes a private lock and then calls waitpid; an interrupt raised between the
    two left the lock taken, so every later poll() said "running" and wait() timed out (CI: an
    interrupted initdb ended as "internal error: TimeoutExpired ... after 5.0 seconds").  The
    interrupt is raised here exactly there, as a signal handler would; cleanup's poll/wait_for hold
    it until the poll is done, and the child can still be reaped."""
    import subprocess
    import sys
    import threading

    from migration_lint.roundtrip.db.cleanup import interrupt, poll, wait_for

    class InterruptAfterAcquire:
        """Popen's waitpid lock, with an interrupt landing just after it is taken."""

        def __init__(self):
            self.lock, self.armed = threading.Lock(), True

        def acquire(self, blocking=True, timeout=-1):
            got = self.lock.acquire(blocking, timeout)
            if got and self.armed:
                self.armed = False
                interrupt(signal.SIGINT)  # what the CLI's handler does, at the next bytecode
            return got

        def release(self):
            self.lock.release()

        def __enter__(self):
            return self.acquire()

        def __exit__(self, *exc):
            self.release()

    def child():
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
        proc._waitpid_lock = InterruptAfterAcquire()
        return proc

    proc = child()
    with pytest.raises(KeyboardInterrupt):
        proc.poll()  # the bare call: the interrupt escapes with the lock still taken
    assert proc._waitpid_lock.lock.locked()
    proc._waitpid_lock.lock.release()
    proc.wait()

    proc = child()
    with pytest.raises(KeyboardInterrupt):
        poll(proc)  # held: the poll finishes, then the interrupt is raised
    assert not proc._waitpid_lock.lock.locked()
    assert wait_for(proc, 10) == 0  # still waitable: no TimeoutExpired


@needs_mysql
def test_a_cleanup_that_fails_ends_the_cli_run_with_exit_code_2(tmp_path, capsys, monkeypatch):
    """A real failure: the migration leaves a stray file in the scratch database's directory on the
    server, so DROP DATABASE fails (errno 39).  The run says so in one line and exits 2."""
    import json

    from conftest import RUNNABLE_ENV_PY, runnable_revision, write_tree
    from migration_lint.cli import main

    engine = sa.create_engine(_with_driver(MYSQL_URL), poolclass=NullPool)
    with engine.connect() as conn:
        datadir = conn.exec_driver_sql("SELECT @@datadir").scalar()
    if not (make_url(MYSQL_URL).host in ("127.0.0.1", "localhost") and os.access(datadir, os.W_OK)):
        pytest.skip(f"the server's data directory {datadir} is not writable from here")
    stray = (
        'import os\n'
        'datadir, name = op.get_bind().exec_driver_sql("SELECT @@datadir, DATABASE()").one()\n'
        'open(os.path.join(datadir, name, "stray.txt"), "w").close()'
    )
    write_tree(tmp_path, {
        "alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = sqlite:///unused.db\n",
        "migrations/env.py": RUNNABLE_ENV_PY,
        "migrations/versions/a1.py": runnable_revision("a1", None, stray, "pass"),
    })
    monkeypatch.chdir(tmp_path)
    before = _server_databases(MYSQL_URL)
    try:
        code = main(["check", "--roundtrip", "--db", MYSQL_URL, "--dialect", "mysql", "--no-cache", "--format", "json", "--exit-zero"])
        captured = capsys.readouterr()
        assert code == 2
        err = captured.err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("migration-lint: error: cleanup failed: cleanup: could not drop scratch database migration_lint_")
        notes = json.loads(captured.out)["summary"]["environments"][0]["notes"]
        assert any("could not drop scratch database" in note for note in notes)
    finally:
        for name in _server_databases(MYSQL_URL) - before:
            if name.startswith("migration_lint_") and os.path.exists(os.path.join(datadir, name, "stray.txt")):
                os.remove(os.path.join(datadir, name, "stray.txt"))  # ours: the stray file says so
                with engine.connect() as conn:
                    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        engine.dispose()


def test_library_callers_get_a_cooperating_sigint_handler_while_databases_are_open():
    """Python's default SIGINT handler raises anywhere; while a database is open it is replaced by
    one that waits for held sections (making a temp dir and registering it, cleanup)."""
    # a run started in the background (nohup, `&` without job control) inherits SIGINT ignored,
    # and an ignored SIGINT is left alone: this test is about Python's default handler
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _cooperating_handler_while_open()
    finally:
        signal.signal(signal.SIGINT, inherited)


def _cooperating_handler_while_open():
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with open_database("sqlite", "sqlite"):
        with open_database("sqlite", "sqlite"):
            assert signal.getsignal(signal.SIGINT) is cleanup._cooperating_sigint
        assert signal.getsignal(signal.SIGINT) is cleanup._cooperating_sigint
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):
        with open_database("sqlite", "sqlite") as db:
            directory = os.path.dirname(db.url.database)
            with cleanup.held_interrupts():
                signal.raise_signal(signal.SIGINT)
                assert os.path.isdir(directory)  # held: still here
    assert not os.path.exists(directory)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
