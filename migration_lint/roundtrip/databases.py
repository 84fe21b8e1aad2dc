"""Throwaway databases for the round trip, always cleaned up.

``open_database(spec, dialect)`` is a context manager that yields a :class:`Database`: an empty
scratch database plus a ``reset()`` that makes it empty again.  ``spec`` is one of

``auto``
    Docker if an engine answers (and the ``docker`` package is installed), else throwaway local
    server binaries for the dialect, else a SQLite file (with a note that dialect-specific behaviour
    was not exercised).  For the ``sqlite`` dialect: always SQLite.
``docker``
    A container via testcontainers (the optional extra ``migration-lint[docker]``):
    ``postgres:<major>`` for PostgreSQL, ``mariadb:<x.y>`` (``mysql:<x.y>`` when the requested
    server version is a MySQL one, i.e. major < 10) for MySQL; ``image`` overrides.
``local``
    A throwaway server started from the binaries installed on this machine (``initdb`` +
    ``postgres``; ``mariadb-install-db`` + ``mariadbd`` or ``mysqld --initialize-insecure``), with
    its data directory in a temporary directory (under ``/dev/shm`` when it is writable and has
    room), listening on a unix socket in that directory only (no TCP port), durability off.  When
    running as root the servers run as the ``postgres`` / ``mysql`` system users.
``sqlite``
    A temporary SQLite file.
a server URL (``postgresql://...``, ``mysql+pymysql://...``, ``mariadb://...``)
    A scratch database ``migration_lint_<hex>`` is created on that server and dropped afterwards;
    no other database is ever modified.  The URL's own database is only used to connect, and it
    must not contain tables: a URL that names a database with tables is refused, because it
    probably points at a real database.  What counts:

    * PostgreSQL: any table, view, materialized view or foreign table outside ``pg_catalog``,
      ``information_schema`` and ``pg_toast*`` in the URL's database (``/postgres`` on a fresh
      server has none).  A URL without a database connects to the database named after the user,
      as libpq does.
    * MySQL/MariaDB: a URL without a database, or one naming a system schema (``mysql``,
      ``information_schema``, ``performance_schema``, ``sys``), means "the server only" and is
      accepted (system schemas always have tables; they are never touched).  Any other database
      named must have no tables or views.

    Creating the scratch database needs the CREATEDB privilege (PostgreSQL) or CREATE/DROP on
    ``migration_lint_%`` (MySQL).

Cleanup (stop servers, drop scratch databases, stop containers, remove temporary directories)
runs when the ``with`` block exits in any way, including ``KeyboardInterrupt`` and
``SystemExit``; every step is attempted even when an earlier one fails.  Failures are reported as
notes, never raised (an interrupt arriving during cleanup is re-raised after all steps ran).
``cleanup_all()`` cleans whatever is still open and is registered with ``atexit``.  Temporary
directories of processes that died without cleaning up (``kill -9``) are swept, and their servers
stopped, the next time a local server is started.

Passwords never appear in descriptions, notes or error messages.  Nothing here prints.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import glob
import importlib.util
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from typing import Callable, Iterator, List, Optional, Tuple

import sqlalchemy
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from migration_lint import dialects
from migration_lint.errors import MigrationLintError

__all__ = ["Database", "DatabaseError", "open_database", "cleanup_all"]

MYSQL_SYSTEM_SCHEMAS = frozenset({"mysql", "information_schema", "performance_schema", "sys"})
DEFAULT_POSTGRES_IMAGE_MAJOR = 16
DEFAULT_MARIADB_IMAGE = "mariadb:11.4"
READY_TIMEOUT_POSTGRES = 10.0
READY_TIMEOUT_MYSQL = 20.0
STOP_TIMEOUT = 10.0
TEMP_PREFIX = "migration-lint-"
OWNER_FILE = "owner.pid"


class DatabaseError(MigrationLintError):
    """A throwaway database could not be provided (one-line message, never contains a password)."""


@dataclasses.dataclass
class Database:
    dialect: str  # 'postgresql' | 'mysql' | 'sqlite'
    url: URL  # the scratch database; str(url) hides the password
    description: str  # human-readable, never contains a password
    backend: str  # 'docker' | 'local' | 'url' | 'sqlite'
    startup_seconds: float  # time to get the server ready (0 for url/sqlite)
    _reset: Optional[Callable[[], None]] = dataclasses.field(default=None, repr=False, compare=False)

    def reset(self) -> None:
        """Make the scratch database empty again (drop and recreate it).

        Open connections to the scratch database are terminated (PostgreSQL) or killed (MySQL);
        dispose of engines (or use NullPool) before calling this.
        """
        if self._reset is not None:
            self._reset()


# --------------------------------------------------------------------------- cleanup registry


class _Resources:
    """Cleanup steps of one open_database call, run last-in first-out, each in its own try."""

    def __init__(self) -> None:
        self._steps: List[Tuple[str, Callable[[], None]]] = []
        self._lock = threading.Lock()
        self.failures: List[str] = []

    def push(self, label: str, fn: Callable[[], None]) -> None:
        with self._lock:
            self._steps.append((label, fn))

    def close(self) -> None:
        interrupt: Optional[BaseException] = None
        while True:
            with self._lock:
                if not self._steps:
                    break
                label, fn = self._steps.pop()
            try:
                fn()
            except (KeyboardInterrupt, SystemExit) as exc:  # finish cleaning, then re-raise
                interrupt = interrupt or exc
                self.failures.append(f"cleanup interrupted while {label}")
            except BaseException as exc:  # noqa: BLE001 - every step must be attempted
                self.failures.append(f"cleanup: could not {label}: {_one_line(exc)}")
        if interrupt is not None:
            raise interrupt


_OPEN: "set[_Resources]" = set()
_OPEN_LOCK = threading.Lock()


def cleanup_all() -> List[str]:
    """Clean up every throwaway database still open (last resort; registered with atexit).

    Returns the cleanup failures, if any.
    """
    with _OPEN_LOCK:
        pending = list(_OPEN)
        _OPEN.clear()
    failures: List[str] = []
    for resources in pending:
        try:
            resources.close()
        except BaseException:  # noqa: BLE001
            pass
        failures.extend(resources.failures)
    return failures


atexit.register(cleanup_all)


# --------------------------------------------------------------------------- entry point


@contextlib.contextmanager
def open_database(
    spec: str,
    dialect: str,
    *,
    server_version: Optional[tuple] = None,
    image: Optional[str] = None,
    notes: Optional[list] = None,
) -> Iterator[Database]:
    """Yield an empty throwaway :class:`Database` for ``dialect``; clean everything up on exit.

    ``notes`` (a list) receives one-line human notes: which backend ``auto`` chose and why,
    fallbacks, version mismatches, cleanup failures.
    """
    if notes is None:
        notes = []
    dialect = _normalize_dialect(dialect)
    resources = _Resources()
    with _OPEN_LOCK:
        _OPEN.add(resources)
    try:
        yield _open(spec or "auto", dialect, server_version, image, notes, resources)
    finally:
        try:
            resources.close()
        finally:
            with _OPEN_LOCK:
                _OPEN.discard(resources)
            notes.extend(resources.failures)


def _normalize_dialect(dialect: str) -> str:
    name = dialects.from_sqlalchemy_name(dialect)
    if name is None:
        raise DatabaseError(f"unknown dialect {dialect!r} for the round trip (expected postgresql, mysql or sqlite)")
    return name


def _open(spec: str, dialect: str, server_version, image, notes: list, res: _Resources) -> Database:
    kind = spec.strip()
    lowered = kind.lower()
    if lowered == "sqlite":
        if dialect != "sqlite":
            notes.append(f"using SQLite although the project targets {dialects.display(dialect)}: dialect-specific behaviour was not exercised")
        return _open_sqlite(res)
    if dialect == "sqlite":
        if lowered != "auto":
            shown = lowered if lowered in ("docker", "local") else "URL"
            notes.append(f"SQLite needs no server: --db {shown} is not used for this history, which runs on a temporary SQLite file")
        return _open_sqlite(res)
    if lowered == "auto":
        return _open_auto(dialect, server_version, image, notes, res)
    if lowered == "docker":
        return _open_docker(dialect, server_version, image, notes, res)
    if lowered == "local":
        return _open_local(dialect, server_version, notes, res)
    if "://" in kind:
        return _open_url(kind, dialect, notes, res)
    raise DatabaseError(f"unknown --db value {kind!r}: expected auto, docker, local, sqlite or a database URL")


def _open_auto(dialect, server_version, image, notes, res) -> Database:
    why = _docker_unavailable()
    if why is None:
        try:
            return _open_docker(dialect, server_version, image, notes, res)
        except DatabaseError as exc:
            why = f"Docker failed ({exc})"
    finder = _find_postgres if dialect == "postgresql" else _find_mysql
    found = finder(server_version)
    if found is not None:
        notes.append(f"{why}; using local {found.product} binaries ({found.location})")
        return _open_local(dialect, server_version, notes, res, found=found)
    notes.append(
        f"{why} and no local {dialects.display(dialect)} binaries were found; using SQLite instead: "
        "dialect-specific behaviour was not exercised"
    )
    return _open_sqlite(res)


# --------------------------------------------------------------------------- helpers


def _one_line(exc: BaseException, secret: Optional[str] = None) -> str:
    orig = getattr(exc, "orig", None)  # sqlalchemy DBAPIError: the driver's message
    text = str(orig if orig is not None else exc) or type(exc).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[0] if lines else type(exc).__name__
    return _scrub(line, secret)


def _scrub(text: str, secret: Optional[str]) -> str:
    if secret:
        from urllib.parse import quote, quote_plus

        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            if form:
                text = text.replace(form, "***")
    return text


def _safe(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _connect_args(url: URL, timeout: int = 5) -> dict:
    driver = url.get_driver_name()
    if driver in ("psycopg2", "psycopg", "pymysql", "mysqldb"):
        return {"connect_timeout": timeout}
    if driver == "pg8000":
        return {"timeout": timeout}
    return {}


def _admin_engine(url: URL, keep: bool = False):
    """An AUTOCOMMIT engine; ``keep`` holds one connection open between uses (resets are frequent)."""
    pooling = {"pool_size": 1, "max_overflow": 2, "pool_pre_ping": True} if keep else {"poolclass": NullPool}
    return sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT", connect_args=_connect_args(url), **pooling)


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _pick_driver(dialect: str) -> str:
    candidates = (("psycopg2", "psycopg2"), ("psycopg", "psycopg"), ("pg8000", "pg8000")) if dialect == "postgresql" else (
        ("pymysql", "pymysql"), ("MySQLdb", "mysqldb"))
    for module, driver in candidates:
        if _has_module(module):
            return driver
    hint = "psycopg2-binary" if dialect == "postgresql" else "pymysql"
    raise DatabaseError(f"no {dialects.display(dialect)} driver is installed; pip install {hint}")


def _run_as(user: Optional[str]) -> dict:
    """subprocess keyword arguments that run a child as ``user`` (root only)."""
    if user is None:
        return {}
    import pwd

    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _system_user(names: Tuple[str, ...]) -> Optional[str]:
    import pwd

    for name in names:
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    return None


def _temp_base(need_mb: int) -> Optional[str]:
    """/dev/shm when writable with room to spare, else None (tempfile's default)."""
    shm = "/dev/shm"
    try:
        if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK):
            st = os.statvfs(shm)
            if st.f_bavail * st.f_frsize >= need_mb * 1024 * 1024:
                return shm
    except OSError:
        pass
    return None


def _make_temp_dir(kind: str, res: _Resources, need_mb: int = 0, owner: Optional[str] = None, socket_name: str = "") -> str:
    base = _temp_base(need_mb) if need_mb else None
    path = tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{kind}-", dir=base)
    res.push(f"remove {path}", lambda: _rmtree(path))
    if socket_name and len(os.path.join(path, socket_name)) > 100:  # unix socket path limit (~104/108 bytes)
        short = tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{kind}-", dir="/tmp")
        res.push(f"remove {short}", lambda: _rmtree(short))
        path = short
    with open(os.path.join(path, OWNER_FILE), "w") as fh:
        fh.write(str(os.getpid()))
    if owner is not None:
        import pwd

        entry = pwd.getpwnam(owner)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


def _rmtree(path: str) -> None:
    if os.path.lexists(path):
        shutil.rmtree(path)
        if os.path.lexists(path):
            raise OSError(f"{path} still exists")


def _start_server(argv: List[str], log_path: str, user: Optional[str], res: _Resources, label: str, stop_signal: int) -> subprocess.Popen:
    log = open(log_path, "ab")
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us, not the server; we stop it ourselves
            close_fds=True,
            **_run_as(user),
        )
    finally:
        log.close()
    res.push(f"stop the {label} server (pid {proc.pid})", lambda: _stop_process(proc, stop_signal))
    return proc


def _stop_process(proc: subprocess.Popen, sig: int, timeout: float = STOP_TIMEOUT) -> None:
    if proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, sig)
    except ProcessLookupError:
        proc.wait()
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # start_new_session: process group id == pid
        except ProcessLookupError:
            pass
        proc.wait(5)


def _last_line(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 8192))
            lines = [line.strip() for line in fh.read().decode("utf-8", "replace").splitlines() if line.strip()]
        return lines[-1] if lines else "(empty log)"
    except OSError as exc:
        return f"(no log: {exc})"


def _wait_ready(proc: subprocess.Popen, engine, timeout: float, log_path: str, what: str) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        if proc.poll() is not None:
            raise DatabaseError(f"{what} exited during startup (code {proc.returncode}): {_last_line(log_path)}")
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return
        except Exception as exc:  # noqa: BLE001 - not up yet
            if time.monotonic() > deadline:
                raise DatabaseError(
                    f"{what} was not ready after {timeout:.0f} s: {_last_line(log_path)} ({_one_line(exc)})"
                ) from None
        time.sleep(delay)
        delay = min(delay * 1.5, 0.1)


def _run_setup(argv: List[str], user: Optional[str], log_path: str, what: str, timeout: float = 120) -> None:
    with open(log_path, "ab") as log:
        try:
            proc = subprocess.run(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, **_run_as(user)
            )
        except subprocess.TimeoutExpired:
            raise DatabaseError(f"{what} did not finish within {timeout:.0f} s: {_last_line(log_path)}") from None
        except OSError as exc:
            raise DatabaseError(f"{what} could not run: {exc}") from None
    if proc.returncode != 0:
        raise DatabaseError(f"{what} failed (exit {proc.returncode}): {_last_line(log_path)}")


def _version_tuple(text: str) -> Tuple[int, ...]:
    match = re.search(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", text)
    if not match:
        return ()
    return tuple(int(part) for part in match.groups() if part is not None)


def _fmt_version(version) -> str:
    return ".".join(str(part) for part in version) if version else "?"


# --------------------------------------------------------------------------- stale sweep


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep_stale() -> None:
    """Remove temp dirs (and stop servers) left by processes of ours that died without cleaning up."""
    if not os.path.isdir("/proc"):  # needs /proc to check a server's command line safely
        return
    bases = {tempfile.gettempdir(), "/tmp", "/dev/shm"}
    for base in bases:
        for path in glob.glob(os.path.join(base, TEMP_PREFIX + "*")):
            try:
                with open(os.path.join(path, OWNER_FILE)) as fh:
                    owner = int(fh.read().strip() or 0)
                if owner <= 0 or _pid_alive(owner):
                    continue
                for pid_file in (os.path.join(path, "data", "postmaster.pid"), os.path.join(path, "mysqld.pid")):
                    try:
                        with open(pid_file) as fh:
                            pid = int(fh.readline().strip())
                    except (OSError, ValueError):
                        continue
                    try:
                        with open(f"/proc/{pid}/cmdline", "rb") as fh:
                            cmdline = fh.read().decode("utf-8", "replace")
                    except OSError:
                        continue
                    if path in cmdline:  # really our server for this directory, not a reused pid
                        if os.getpgid(pid) == pid:  # we start servers in their own session: take the children too
                            os.killpg(pid, signal.SIGKILL)
                        else:
                            os.kill(pid, signal.SIGKILL)
                        for _ in range(50):
                            if not _pid_alive(pid):
                                break
                            time.sleep(0.02)
                shutil.rmtree(path, ignore_errors=True)
            except (OSError, ValueError):
                continue


# --------------------------------------------------------------------------- scratch databases on a server


class _Scratch:
    """A scratch database on a server, created and dropped through an admin (AUTOCOMMIT) engine."""

    def __init__(self, admin_url: URL, dialect: str, name: str, file_copy: bool = False):
        self.admin_url = admin_url
        self.dialect = dialect
        self.name = name
        self.file_copy = file_copy
        self.engine = _admin_engine(admin_url, keep=True)
        self.version_num = 0

    def _fail(self, action: str, exc: BaseException) -> DatabaseError:
        return DatabaseError(
            f"could not {action} scratch database {self.name} on {_safe(self.admin_url)}: "
            f"{_one_line(exc, self.admin_url.password)}"
        )

    def _version(self, conn) -> int:
        if not self.version_num:
            self.version_num = int(conn.exec_driver_sql("SHOW server_version_num").scalar())
        return self.version_num

    def _create(self, conn) -> None:
        if self.dialect == "postgresql":
            sql = f'CREATE DATABASE "{self.name}" TEMPLATE template0'
            if self.file_copy and self._version(conn) >= 150000:
                sql += " STRATEGY FILE_COPY"  # no WAL for the copy; cheap on our fsync=off servers
            conn.exec_driver_sql(sql)
        else:
            conn.exec_driver_sql(f"CREATE DATABASE `{self.name}`")

    def _drop(self, conn) -> None:
        if self.dialect == "postgresql":
            if self._version(conn) >= 130000:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            else:
                conn.execute(
                    sqlalchemy.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": self.name},
                )
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}"')
            return
        conn.exec_driver_sql("SET SESSION lock_wait_timeout = 30")
        ids = conn.execute(
            sqlalchemy.text("SELECT id FROM information_schema.processlist WHERE db = :name AND id <> CONNECTION_ID()"),
            {"name": self.name},
        ).scalars().all()
        for thread_id in ids:  # connections left open would block DROP on metadata locks
            try:
                conn.exec_driver_sql(f"KILL {int(thread_id)}")
            except sqlalchemy.exc.SQLAlchemyError:
                pass
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{self.name}`")

    def _do(self, action: str, *steps) -> None:
        try:
            with self.engine.connect() as conn:
                for step in steps:
                    step(conn)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise self._fail(action, exc) from None

    def create(self) -> None:
        self._do("create", self._create)

    def drop(self) -> None:
        self._do("drop", self._drop)

    def reset(self) -> None:
        self._do("reset", self._drop, self._create)

    def close(self) -> None:
        self.engine.dispose()


def _scratch_name() -> str:
    return f"migration_lint_{secrets.token_hex(6)}"


# --------------------------------------------------------------------------- sqlite


def _open_sqlite(res: _Resources) -> Database:
    directory = _make_temp_dir("sqlite", res)
    path = os.path.join(directory, "roundtrip.db")

    def reset() -> None:
        for suffix in ("", "-journal", "-wal", "-shm"):
            try:
                os.remove(path + suffix)
            except FileNotFoundError:
                pass
        open(path, "wb").close()  # an empty file is an empty SQLite database

    reset()
    return Database(
        dialect="sqlite",
        url=URL.create("sqlite", database=path),
        description=f"throwaway SQLite file ({path})",
        backend="sqlite",
        startup_seconds=0.0,
        _reset=reset,
    )


# --------------------------------------------------------------------------- a server URL


def _open_url(spec: str, dialect: str, notes: list, res: _Resources) -> Database:
    try:
        url = make_url(spec)
    except Exception:  # noqa: BLE001 - the message may echo the URL; don't
        raise DatabaseError("--db is not a valid database URL (expected e.g. postgresql://user@host/postgres)") from None
    backend = url.get_backend_name()
    url_dialect = dialects.from_sqlalchemy_name(backend)
    if backend == "sqlite":
        raise DatabaseError("SQLite URLs are not used for the round trip; use --db sqlite for a throwaway SQLite file")
    if url_dialect is None:
        raise DatabaseError(f"unsupported database URL {_safe(url)} (PostgreSQL, MySQL or MariaDB only)")
    if url_dialect != dialect:
        raise DatabaseError(f"--db {_safe(url)} is a {dialects.display(url_dialect)} server but the project targets {dialects.display(dialect)}")
    if backend == "postgres":
        url = url.set(drivername="postgresql" + url.drivername[len("postgres"):])
    if "+" not in url.drivername:
        url = url.set(drivername=f"{url.drivername}+{_pick_driver(dialect)}")
    if url.database == "":
        url = url._replace(database=None)
    secret = url.password

    try:
        admin = _admin_engine(url)
    except Exception as exc:  # noqa: BLE001 - missing driver module, bad options
        raise DatabaseError(f"cannot use {_safe(url)}: {_one_line(exc, secret)}") from None
    res.push("dispose the admin engine", admin.dispose)
    try:
        with admin.connect() as conn:
            current, tables, version = _inspect_server(conn, dialect, url)
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise DatabaseError(f"cannot connect to {_safe(url)}: {_one_line(exc, secret)}") from None
    admin.dispose()
    if tables:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        hint = "/postgres" if dialect == "postgresql" else "no database"
        raise DatabaseError(
            f"refusing to use {_safe(url)}: its database {current!r} already has tables ({shown}); "
            f"point --db at the server ({hint}) or an empty database: a scratch database is created next to it"
        )

    name = _scratch_name()
    scratch = _Scratch(url, dialect, name)
    res.push(f"dispose the engine for {name}", scratch.close)
    scratch.create()
    res.push(f"drop scratch database {name} on {_safe(url)}", scratch.drop)
    server = _safe(url._replace(database=None))
    return Database(
        dialect=dialect,
        url=url.set(database=name),
        description=f"scratch database {name} on {server} ({version})",
        backend="url",
        startup_seconds=0.0,
        _reset=scratch.reset,
    )


def _inspect_server(conn, dialect: str, url: URL):
    """(current database, tables in it that make it look real, server version text)."""
    if dialect == "postgresql":
        current = conn.exec_driver_sql("SELECT current_database()").scalar()
        version = "PostgreSQL " + str(conn.exec_driver_sql("SHOW server_version").scalar()).split()[0]
        tables = conn.execute(
            sqlalchemy.text(
                "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') "
                "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%' "
                "ORDER BY 1 LIMIT 6"
            )
        ).scalars().all()
        return current, list(tables), version
    current = conn.exec_driver_sql("SELECT DATABASE()").scalar()
    raw = str(conn.exec_driver_sql("SELECT VERSION()").scalar())
    version = ("MariaDB " if "mariadb" in raw.lower() else "MySQL ") + raw.split("-")[0]
    if not current or current.lower() in MYSQL_SYSTEM_SCHEMAS:
        return current, [], version
    tables = conn.execute(
        sqlalchemy.text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = :db ORDER BY table_name LIMIT 6"
        ),
        {"db": current},
    ).scalars().all()
    return current, list(tables), version


# --------------------------------------------------------------------------- docker


def _docker_unavailable() -> Optional[str]:
    """None when a Docker engine answers, else why not (short, for notes)."""
    if not _has_module("docker"):
        return "the Docker SDK is not installed (pip install 'migration-lint[docker]')"
    try:
        import docker

        client = docker.from_env(timeout=2)
        try:
            client.ping()
        finally:
            try:
                client.close()
            except Exception:  # noqa: BLE001
                pass
    except Exception:  # noqa: BLE001 - DockerException, connection refused, missing socket, ...
        return "no Docker engine answered"
    return None


def _default_image(dialect: str, server_version) -> str:
    if dialect == "postgresql":
        if not server_version:
            return f"postgres:{DEFAULT_POSTGRES_IMAGE_MAJOR}"
        version = tuple(server_version)
        return f"postgres:{_fmt_version(version[:2] if version[0] < 10 else version[:1])}"  # 9.6, 10, 16
    if not server_version:
        return DEFAULT_MARIADB_IMAGE
    tag = _fmt_version(tuple(server_version)[:2])
    return f"mariadb:{tag}" if server_version[0] >= 10 else f"mysql:{tag}"


def _open_docker(dialect: str, server_version, image, notes: list, res: _Resources) -> Database:
    if not (_has_module("testcontainers") and _has_module("docker")):
        raise DatabaseError("--db docker needs testcontainers: pip install 'migration-lint[docker]'")
    why = _docker_unavailable()
    if why is not None:
        raise DatabaseError(f"{why} (is Docker running? DOCKER_HOST={os.environ.get('DOCKER_HOST', 'unset')}); try --db local or a database URL")
    image = image or _default_image(dialect, server_version)
    driver = _pick_driver(dialect)
    password = secrets.token_hex(12)
    try:
        if dialect == "postgresql":
            try:
                from testcontainers.community.postgres import PostgresContainer
            except ImportError:
                from testcontainers.postgres import PostgresContainer
            container = PostgresContainer(image, username="postgres", password=password, dbname="postgres", driver=driver)
        else:
            try:
                from testcontainers.community.mysql import MySqlContainer
            except ImportError:
                from testcontainers.mysql import MySqlContainer
            container = MySqlContainer(image, dialect=driver, username="root", password=password, dbname="migration_lint")
    except Exception as exc:  # noqa: BLE001
        raise DatabaseError(f"cannot prepare container {image}: {_one_line(exc, password)}") from None
    started = time.monotonic()

    def stop() -> None:
        if getattr(container, "_container", None) is not None:  # started (or partly)
            container.stop()

    res.push(f"stop container {image}", stop)
    try:
        container.start()
        url = make_url(container.get_connection_url())
    except Exception as exc:  # noqa: BLE001 - image pull failures, timeouts
        raise DatabaseError(f"cannot start container {image}: {_one_line(exc, password)}") from None
    name = _scratch_name()
    scratch = _Scratch(url, dialect, name)
    res.push(f"dispose the engine for {name}", scratch.close)
    deadline = time.monotonic() + 30
    while True:  # the log line can come slightly before the port is reachable
        try:
            scratch.create()
            break
        except DatabaseError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    startup = time.monotonic() - started
    return Database(
        dialect=dialect,
        url=url.set(database=name),
        description=f"throwaway Docker container {image}",
        backend="docker",
        startup_seconds=startup,
        _reset=scratch.reset,
    )


# --------------------------------------------------------------------------- local servers


@dataclasses.dataclass
class _Found:
    product: str  # "PostgreSQL 15" / "MariaDB 10.11.19"
    location: str  # bin dir or server binary, for descriptions
    version: Tuple[int, ...]
    server: str  # postgres / mariadbd / mysqld
    setup: str  # initdb / mariadb-install-db ("" for MySQL's mysqld --initialize-insecure)
    flavour: str  # "postgresql" | "mariadb" | "mysql"


def _binary_version(path: str) -> Tuple[int, ...]:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    # "postgres (PostgreSQL) 15.8 (Debian ...)", "mariadbd  Ver 10.11.19-MariaDB ...", "mysqld  Ver 8.0.36 for Linux"
    match = re.search(r"(?:PostgreSQL\)|Ver)\s+(\d+(?:\.\d+)*)", out)
    return _version_tuple(match.group(1)) if match else _version_tuple(out)


def _same_series(have: Tuple[int, ...], want, dialect: str) -> bool:
    """Same release series: PostgreSQL 10+ by major (15), PostgreSQL 9 and MySQL/MariaDB by x.y (9.6, 8.0, 10.11)."""
    def series(version):
        version = tuple(version)
        if dialect == "postgresql" and version and version[0] >= 10:
            return version[:1]
        return version[:2]

    want_series = series(want)
    return bool(want_series) and series(have)[: len(want_series)] == want_series


def _choose(found: List[_Found], server_version, dialect: str) -> Optional[_Found]:
    if not found:
        return None
    found.sort(key=lambda f: f.version, reverse=True)
    if server_version:
        for candidate in found:
            if _same_series(candidate.version, server_version, dialect):
                return candidate
    return found[0]


def _find_postgres(server_version=None) -> Optional[_Found]:
    dirs: List[str] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10).stdout.strip()
            if out:
                dirs.append(out)
        except (OSError, subprocess.SubprocessError):
            pass
    for name in ("initdb", "postgres"):
        path = shutil.which(name)
        if path:
            dirs.append(os.path.dirname(os.path.realpath(path)))
    for pattern in (
        "/usr/lib/postgresql/*/bin",
        "/usr/pgsql-*/bin",
        "/usr/local/pgsql/bin",
        "/opt/homebrew/opt/postgresql@*/bin",
        "/usr/local/opt/postgresql@*/bin",
        "/Applications/Postgres.app/Contents/Versions/*/bin",
    ):
        dirs.extend(glob.glob(pattern))
    seen, found = set(), []
    for directory in dirs:
        real = os.path.realpath(directory)
        if real in seen:
            continue
        seen.add(real)
        initdb, postgres = os.path.join(directory, "initdb"), os.path.join(directory, "postgres")
        if not (os.access(initdb, os.X_OK) and os.access(postgres, os.X_OK)):
            continue
        match = re.search(r"/postgresql/(\d+)/bin$", real)
        version = (int(match.group(1)),) if match else _binary_version(postgres)[:2]
        found.append(_Found(f"PostgreSQL {_fmt_version(version[:1]) if match else _fmt_version(version)}", directory, version, postgres, initdb, "postgresql"))
    return _choose(found, server_version, "postgresql")


def _find_mysql(server_version=None) -> Optional[_Found]:
    extra = ["/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/usr/local/mysql/bin", "/usr/libexec",
             "/opt/homebrew/bin", "/opt/homebrew/opt/mariadb/bin", "/opt/homebrew/opt/mysql/bin"]
    path_dirs = os.environ.get("PATH", "").split(os.pathsep) + extra

    def which(name: str) -> Optional[str]:
        return shutil.which(name, path=os.pathsep.join(path_dirs))

    found = []
    seen = set()
    for server_name in ("mariadbd", "mysqld"):
        server = which(server_name)
        if not server or os.path.realpath(server) in seen:
            continue
        seen.add(os.path.realpath(server))
        try:
            out = subprocess.run([server, "--version"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        version = _binary_version(server)
        if "mariadb" in out.lower():
            setup = which("mariadb-install-db") or which("mysql_install_db")
            if not setup:
                continue
            found.append(_Found(f"MariaDB {_fmt_version(version)}", server, version, server, setup, "mariadb"))
        else:
            found.append(_Found(f"MySQL {_fmt_version(version)}", server, version, server, "", "mysql"))
    return _choose(found, server_version, "mysql")


def _open_local(dialect: str, server_version, notes: list, res: _Resources, found: Optional[_Found] = None) -> Database:
    finder = _find_postgres if dialect == "postgresql" else _find_mysql
    found = found or finder(server_version)
    if found is None:
        raise DatabaseError(
            f"no local {dialects.display(dialect)} server binaries found"
            + (" (initdb and postgres: install the postgresql server package)" if dialect == "postgresql"
               else " (mariadbd and mariadb-install-db, or mysqld)")
            + "; try --db docker or a database URL"
        )
    if server_version and not _same_series(found.version, server_version, dialect):
        notes.append(
            f"{dialects.display(dialect)} {_fmt_version(tuple(server_version))} was requested but the local binaries are "
            f"{found.product}; using them"
        )
    try:
        _sweep_stale()
    except Exception:  # noqa: BLE001 - best effort
        pass
    if dialect == "postgresql":
        return _open_local_postgres(found, res)
    return _open_local_mysql(found, res)


def _local_database(proc, admin_url: URL, dialect: str, found: "_Found", started: float, log_path: str, timeout: float, res: _Resources, file_copy: bool = False) -> Database:
    """Wait for a local server just started, create the scratch database on it."""
    name = _scratch_name()
    scratch = _Scratch(admin_url, dialect, name, file_copy=file_copy)
    res.push(f"dispose the engine for {name}", scratch.close)
    _wait_ready(proc, scratch.engine, timeout, log_path, f"local {found.product}")
    scratch.create()
    return Database(
        dialect=dialect,
        url=admin_url.set(database=name),
        description=f"throwaway local {found.product} ({found.location})",
        backend="local",
        startup_seconds=time.monotonic() - started,
        _reset=scratch.reset,
    )


def _open_local_postgres(found: _Found, res: _Resources) -> Database:
    user = None
    if _is_root():
        user = _system_user(("postgres",))
        if user is None:
            raise DatabaseError("running as root, a local PostgreSQL needs a 'postgres' system user to run as (PostgreSQL refuses to run as root)")
    started = time.monotonic()
    directory = _make_temp_dir("pg", res, need_mb=256, owner=user, socket_name=".s.PGSQL.5432")
    data, log_path = os.path.join(directory, "data"), os.path.join(directory, "server.log")
    initdb = [found.setup, "-D", data, "-A", "trust", "--no-sync", "-U", "postgres", "-E", "UTF8"]
    try:
        _run_setup(initdb + ["--locale=C.UTF-8"], user, log_path, "initdb")
    except DatabaseError:
        _rmtree(data)
        _run_setup(initdb + ["--no-locale"], user, log_path, "initdb")  # platforms without a C.UTF-8 locale
    argv = [
        found.server, "-D", data, "-k", directory,
        "-c", "listen_addresses=", "-c", "fsync=off", "-c", "full_page_writes=off",
        "-c", "synchronous_commit=off", "-c", "max_connections=30", "-c", "shared_buffers=32MB",
        "-c", "logging_collector=off", "-c", "log_min_messages=warning",
    ]
    proc = _start_server(argv, log_path, user, res, found.product, signal.SIGINT)  # SIGINT: fast shutdown
    driver = _pick_driver("postgresql")
    admin_url = URL.create(f"postgresql+{driver}", username="postgres", database="postgres", query={"host": directory})
    return _local_database(proc, admin_url, "postgresql", found, started, log_path, READY_TIMEOUT_POSTGRES, res, file_copy=True)


def _open_local_mysql(found: _Found, res: _Resources) -> Database:
    user = None
    if _is_root():
        user = _system_user(("mysql",)) or "root"  # mysqld runs as root only when told --user=root
    started = time.monotonic()
    owner = user if user not in (None, "root") else None
    directory = _make_temp_dir("mysql", res, need_mb=384, owner=owner, socket_name="mysqld.sock")
    data = os.path.join(directory, "data")
    tmp = os.path.join(directory, "tmp")
    os.mkdir(tmp)
    if owner:
        import pwd

        entry = pwd.getpwnam(owner)
        os.chown(tmp, entry.pw_uid, entry.pw_gid)
    log_path = os.path.join(directory, "server.log")
    socket_path = os.path.join(directory, "mysqld.sock")
    innodb = [
        "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=8M", "--innodb-flush-log-at-trx-commit=0",
        "--innodb-doublewrite=0",
    ]
    user_opt = [f"--user={user}"] if user else []
    run_user = None  # the servers switch user themselves via --user
    if found.flavour == "mariadb":
        setup = [found.setup, "--no-defaults", f"--datadir={data}", "--auth-root-authentication-method=normal",
                 "--skip-test-db", "--skip-name-resolve", f"--tmpdir={tmp}"] + user_opt + innodb
        _run_setup(setup, run_user, log_path, os.path.basename(found.setup))
        flavour_opts = ["--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci"]
    else:
        setup = [found.server, "--no-defaults", "--initialize-insecure", f"--datadir={data}", f"--tmpdir={tmp}",
                 f"--log-error={log_path}"] + user_opt
        _run_setup(setup, run_user, log_path, "mysqld --initialize-insecure")
        flavour_opts = ["--mysqlx=OFF", "--skip-log-bin"]
    argv = [
        found.server, "--no-defaults", f"--datadir={data}", f"--socket={socket_path}",
        f"--pid-file={os.path.join(directory, 'mysqld.pid')}", f"--log-error={log_path}", f"--tmpdir={tmp}",
        "--skip-networking", "--skip-name-resolve",
    ] + user_opt + innodb + flavour_opts
    proc = _start_server(argv, log_path, run_user, res, found.product, signal.SIGTERM)  # SIGTERM: clean shutdown
    driver = _pick_driver("mysql")
    query = {"unix_socket": socket_path}
    if driver == "pymysql":  # PyMySQL builds a TLS context (~50 ms) on every connect unless told not to
        query["ssl_disabled"] = "true"
    admin_url = URL.create(f"mysql+{driver}", username="root", host="localhost", query=query)
    return _local_database(proc, admin_url, "mysql", found, started, log_path, READY_TIMEOUT_MYSQL, res)
