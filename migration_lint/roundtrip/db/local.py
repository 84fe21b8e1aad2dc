"""Throwaway local servers from the binaries installed on this machine.

``initdb`` + ``postgres``, or ``mariadb-install-db`` + ``mariadbd`` (``mysqld
--initialize-insecure`` for MySQL), with the data directory in a temporary directory (under
``/dev/shm`` when it is writable and has room), listening on a unix socket in that directory only
(no TCP port), durability off.  When running as root the servers run as the ``postgres`` /
``mysql`` system users.

What makes them go away:

* normally, Ctrl-C, SIGTERM: the cleanup steps (stop the server, remove the temp dir);
* ``kill -9`` of migration-lint: the watchdog (``watchdog.py``) stops the server, or the setup
  command running at the time, and removes the temp dir within seconds;
* if the watchdog died too: the next run that opens a database sweeps temp dirs whose owner
  (``owner.py``) provably died, stopping the server still running in them.

Setup commands and servers run in sessions of their own: a Ctrl-C in the terminal reaches
migration-lint only, which stops them itself, and each can be stopped as a whole process group
(initdb's bootstrap backends included) before its directory is removed.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from typing import List, Optional, Tuple

from sqlalchemy.engine import URL

from migration_lint import dialects
from migration_lint.roundtrip.db import owner as owners
from migration_lint.roundtrip.db.base import TEMP_PREFIX, Database, DatabaseError, fmt_version, pick_driver, version_tuple
from migration_lint.roundtrip.db.cleanup import Cleanup, held_interrupts, poll, wait_for
from migration_lint.roundtrip.db.dialect_sql import Scratch
from migration_lint.roundtrip.db.redact import one_line
from migration_lint.roundtrip.db.watchdog import Watchdog

READY_TIMEOUT_POSTGRES = 10.0
READY_TIMEOUT_MYSQL = 20.0
STOP_TIMEOUT = 10.0
GROUP_TIMEOUT = 5.0  # seconds for a process group to end on SIGTERM, and again on SIGKILL
OWNER_FILE = "owner.pid"


# --------------------------------------------------------------------------- finding binaries


@dataclasses.dataclass
class Found:
    product: str  # "PostgreSQL 15" / "MariaDB 10.11.19"
    location: str  # bin dir or server binary, for descriptions
    version: Tuple[int, ...]
    server: str  # postgres / mariadbd / mysqld
    setup: str  # initdb / mariadb-install-db ("" for MySQL's mysqld --initialize-insecure)
    flavour: str  # "postgresql" | "mariadb" | "mysql"


def binary_version(path: str) -> Tuple[int, ...]:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    # "postgres (PostgreSQL) 15.8 (Debian ...)", "mariadbd  Ver 10.11.19-MariaDB ...", "mysqld  Ver 8.0.36 for Linux"
    match = re.search(r"(?:PostgreSQL\)|Ver)\s+(\d+(?:\.\d+)*)", out)
    return version_tuple(match.group(1)) if match else version_tuple(out)


def same_series(have: Tuple[int, ...], want, dialect: str) -> bool:
    """Same release series: PostgreSQL 10+ by major (15), PostgreSQL 9 and MySQL/MariaDB by x.y (9.6, 8.0, 10.11)."""
    def series(version):
        version = tuple(version)
        if dialect == "postgresql" and version and version[0] >= 10:
            return version[:1]
        return version[:2]

    want_series = series(want)
    return bool(want_series) and series(have)[: len(want_series)] == want_series


def _choose(found: List[Found], server_version, dialect: str) -> Optional[Found]:
    if not found:
        return None
    found.sort(key=lambda f: f.version, reverse=True)
    if server_version:
        for candidate in found:
            if same_series(candidate.version, server_version, dialect):
                return candidate
    return found[0]


def find_postgres(server_version=None) -> Optional[Found]:
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
        version = (int(match.group(1)),) if match else binary_version(postgres)[:2]
        found.append(Found(f"PostgreSQL {fmt_version(version[:1]) if match else fmt_version(version)}", directory, version, postgres, initdb, "postgresql"))
    return _choose(found, server_version, "postgresql")


def find_mysql(server_version=None) -> Optional[Found]:
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
        version = binary_version(server)
        if "mariadb" in out.lower():
            setup = which("mariadb-install-db") or which("mysql_install_db")
            if not setup:
                continue
            found.append(Found(f"MariaDB {fmt_version(version)}", server, version, server, setup, "mariadb"))
        else:
            found.append(Found(f"MySQL {fmt_version(version)}", server, version, server, "", "mysql"))
    return _choose(found, server_version, "mysql")


# --------------------------------------------------------------------------- processes and directories


def run_as(user: Optional[str]) -> dict:
    """subprocess keyword arguments that run a child as ``user`` (root only)."""
    if user is None:
        return {}
    import pwd

    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def system_user(names: Tuple[str, ...]) -> Optional[str]:
    import pwd

    for name in names:
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    return None


def temp_base(need_mb: int) -> Optional[str]:
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


def make_temp_dir(kind: str, res: Cleanup, need_mb: int = 0, owner: Optional[str] = None, socket_name: str = "",
                  watchdog: Optional[Watchdog] = None) -> str:
    """A temp dir ``migration-lint-<kind>-*`` whose removal is registered before anything can
    interrupt: made and registered inside held_interrupts()."""
    base = temp_base(need_mb) if need_mb else None
    with held_interrupts():
        path = _new_dir(kind, base, res, watchdog)
        if socket_name and len(os.path.join(path, socket_name)) > 100:  # unix socket path limit (~104/108 bytes)
            path = _new_dir(kind, "/tmp", res, watchdog)
        with open(os.path.join(path, OWNER_FILE), "w") as fh:
            fh.write(owners.this_process().mark())
        if owner is not None:
            import pwd

            entry = pwd.getpwnam(owner)
            os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


def _new_dir(kind: str, base: Optional[str], res: Cleanup, watchdog: Optional[Watchdog]) -> str:
    path = tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{kind}-", dir=base)

    def remove() -> None:
        rmtree(path)
        if watchdog is not None:
            watchdog.release_dir(path)

    res.push(f"remove {path}", remove)
    if watchdog is not None:
        watchdog.guard_dir(path)
    return path


def rmtree(path: str) -> None:
    for attempt in range(3):  # a process that has just been stopped may still have been writing
        if not os.path.lexists(path):
            return
        try:
            shutil.rmtree(path)
        except OSError:
            if attempt == 2:
                raise
            time.sleep(0.05)
    if os.path.lexists(path):
        raise OSError(f"{path} still exists")


def _group_alive(pgid: int) -> bool:
    """True while a process of group ``pgid`` runs (zombies have finished: they do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not os.path.isdir("/proc"):
        return True
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


def _end_group(proc: subprocess.Popen, first: int = signal.SIGTERM, grace: float = GROUP_TIMEOUT) -> None:
    """End a child's process group (it leads one: start_new_session) and wait until it is gone.

    ``first`` goes to the leader, SIGKILL to the whole group after ``grace`` seconds if anything
    still runs.  The leader first matters for initdb: on SIGTERM it closes the pipe to its
    bootstrap backend, which then exits on its own and removes its SysV shared memory segment; a
    backend killed (or sent SIGTERM in bootstrap mode) leaves the segment behind for good.  The
    group is only signalled while its leader is unreaped or a member still runs, so its id cannot
    have been reused by then.
    """
    def running() -> bool:
        return poll(proc) is None or _group_alive(proc.pid)

    if proc.returncode is None:
        try:
            os.kill(proc.pid, first)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + grace
    while running() and time.monotonic() < deadline:
        time.sleep(0.01)
    if running():
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    wait_for(proc, GROUP_TIMEOUT)
    deadline = time.monotonic() + GROUP_TIMEOUT
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.01)


def last_line(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 8192))
            lines = [line.strip() for line in fh.read().decode("utf-8", "replace").splitlines() if line.strip()]
        return lines[-1] if lines else "(empty log)"
    except OSError as exc:
        return f"(no log: {exc})"


def run_setup(argv: List[str], user: Optional[str], log_path: str, what: str, watchdog: Optional[Watchdog], timeout: float = 120) -> None:
    """Run initdb / mariadb-install-db in a group of its own; on any way out (an interrupt
    included) the whole group is gone before this returns, so its directory can be removed."""
    proc = None
    with open(log_path, "ab") as log:
        try:
            with held_interrupts():  # started and guarded, or not started
                try:
                    proc = subprocess.Popen(
                        argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                        start_new_session=True, close_fds=True, **run_as(user),
                    )
                except OSError as exc:
                    raise DatabaseError(f"{what} could not run: {exc}") from None
                if watchdog is not None:
                    watchdog.guard_group(proc.pid, signal.SIGTERM)
            try:
                wait_for(proc, timeout)
            except subprocess.TimeoutExpired:
                raise DatabaseError(f"{what} did not finish within {timeout:.0f} s: {last_line(log_path)}") from None
        finally:
            if proc is not None:
                with held_interrupts():
                    _end_group(proc)
                    if watchdog is not None:
                        watchdog.release_group(proc.pid)
    if proc.returncode != 0:
        raise DatabaseError(f"{what} failed (exit {proc.returncode}): {last_line(log_path)}")


def start_server(argv: List[str], log_path: str, user: Optional[str], res: Cleanup, label: str, stop_signal: int,
                 watchdog: Optional[Watchdog]) -> subprocess.Popen:
    log = open(log_path, "ab")
    try:
        with held_interrupts():  # started with its stop registered, or not started
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us, not the server; we stop it ourselves
                close_fds=True,
                **run_as(user),
            )
            res.push(f"stop the {label} server (pid {proc.pid})", lambda: stop_process(proc, stop_signal, watchdog=watchdog))
            if watchdog is not None:
                watchdog.guard_group(proc.pid, stop_signal)
    finally:
        log.close()
    return proc


def stop_process(proc: subprocess.Popen, sig: int, timeout: float = STOP_TIMEOUT, watchdog: Optional[Watchdog] = None) -> None:
    if poll(proc) is None:
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            wait_for(proc, timeout)
        except subprocess.TimeoutExpired:
            _end_group(proc, signal.SIGKILL, 0)  # start_new_session: process group id == pid
    if watchdog is not None:
        watchdog.release_group(proc.pid)


def wait_ready(proc: subprocess.Popen, engine, timeout: float, log_path: str, what: str) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        if poll(proc) is not None:
            raise DatabaseError(f"{what} exited during startup (code {proc.returncode}): {last_line(log_path)}")
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return
        except Exception as exc:  # noqa: BLE001 - not up yet
            if time.monotonic() > deadline:
                raise DatabaseError(
                    f"{what} was not ready after {timeout:.0f} s: {last_line(log_path)} ({one_line(exc)})"
                ) from None
        time.sleep(delay)
        delay = min(delay * 1.5, 0.1)


# --------------------------------------------------------------------------- what dead runs left


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_dead(text: str) -> bool:
    """Whether the owner written in a temp dir provably died (an old bare pid: that pid is gone)."""
    owner = owners.parse(text)
    if owner is not None:
        return owners.state(owner) == owners.DEAD
    text = text.strip()
    return text.isdigit() and int(text) > 0 and not _pid_alive(int(text))


def _stop_stale_server(path: str) -> None:
    """Stop a server a dead run left running in ``path`` (read from its pid file, checked against
    its command line so that a reused pid is never signalled): clean shutdown, then SIGKILL."""
    for pid_file, sig in ((os.path.join(path, "data", "postmaster.pid"), signal.SIGINT), (os.path.join(path, "mysqld.pid"), signal.SIGTERM)):
        try:
            with open(pid_file) as fh:
                pid = int(fh.readline().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmdline = fh.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            continue
        if path not in cmdline:  # not our server for this directory
            continue
        try:
            os.kill(pid, sig)
            for _ in range(250):  # up to 5 s for a clean shutdown (frees shared memory)
                if not owners.start_time(pid):
                    break
                time.sleep(0.02)
            else:
                if os.getpgid(pid) == pid:  # we start servers in their own session: take the children too
                    os.killpg(pid, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)
        except OSError:
            continue
        for _ in range(250):
            if not owners.start_time(pid):
                break
            time.sleep(0.02)


def sweep_stale() -> None:
    """Remove temp dirs (and stop servers) left by processes of ours that died without cleaning up."""
    if not os.path.isdir("/proc"):  # needs /proc to check owners and a server's command line safely
        return
    for base in {tempfile.gettempdir(), "/tmp", "/dev/shm"}:
        for path in glob.glob(os.path.join(base, TEMP_PREFIX + "*")):
            try:
                with open(os.path.join(path, OWNER_FILE)) as fh:
                    text = fh.read()
                if not _owner_dead(text):
                    continue
                _stop_stale_server(path)
                shutil.rmtree(path, ignore_errors=True)
            except (OSError, ValueError):
                continue


# --------------------------------------------------------------------------- the backends


def open_local(dialect: str, server_version, notes: list, res: Cleanup, found: Optional[Found] = None, assumed: bool = False) -> Database:
    finder = find_postgres if dialect == "postgresql" else find_mysql
    found = found or finder(server_version)
    if found is None:
        raise DatabaseError(
            f"no local {dialects.display(dialect)} server binaries found"
            + (" (initdb and postgres: install the postgresql server package)" if dialect == "postgresql"
               else " (mariadbd and mariadb-install-db, or mysqld)")
            + "; try --db docker or a database URL"
        )
    if server_version and not same_series(found.version, server_version, dialect):
        wanted = f"{dialects.display(dialect)} {fmt_version(tuple(server_version))}"
        notes.append(
            f"the checks assume {wanted} (the default; set --server-version) but the local binaries are {found.product}; using them"
            if assumed
            else f"{wanted} was requested but the local binaries are {found.product}; using them"
        )
    try:
        sweep_stale()
    except Exception:  # noqa: BLE001 - best effort
        pass
    watchdog = Watchdog(res)
    if dialect == "postgresql":
        return _open_local_postgres(found, res, watchdog)
    return _open_local_mysql(found, res, watchdog)


def _local_database(proc, admin_url: URL, dialect: str, found: Found, started: float, log_path: str, timeout: float, res: Cleanup, file_copy: bool = False) -> Database:
    """Wait for a local server just started, create the scratch database on it."""
    from migration_lint.roundtrip.db.server_url import scratch_name

    name = scratch_name()
    scratch = Scratch(admin_url, dialect, name, file_copy=file_copy)
    res.push(f"dispose the engine for {name}", scratch.close)
    wait_ready(proc, scratch.engine, timeout, log_path, f"local {found.product}")
    scratch.create()
    return Database(
        dialect=dialect,
        url=admin_url.set(database=name),
        description=f"throwaway local {found.product} ({found.location})",
        backend="local",
        startup_seconds=time.monotonic() - started,
        _reset=scratch.reset,
    )


def _open_local_postgres(found: Found, res: Cleanup, watchdog: Watchdog) -> Database:
    user = None
    if is_root():
        user = system_user(("postgres",))
        if user is None:
            raise DatabaseError("running as root, a local PostgreSQL needs a 'postgres' system user to run as (PostgreSQL refuses to run as root)")
    started = time.monotonic()
    directory = make_temp_dir("pg", res, need_mb=256, owner=user, socket_name=".s.PGSQL.5432", watchdog=watchdog)
    data, log_path = os.path.join(directory, "data"), os.path.join(directory, "server.log")
    initdb = [found.setup, "-D", data, "-A", "trust", "--no-sync", "-U", "postgres", "-E", "UTF8"]
    try:
        run_setup(initdb + ["--locale=C.UTF-8"], user, log_path, "initdb", watchdog)
    except DatabaseError:
        rmtree(data)
        run_setup(initdb + ["--no-locale"], user, log_path, "initdb", watchdog)  # platforms without a C.UTF-8 locale
    argv = [
        found.server, "-D", data, "-k", directory,
        "-c", "listen_addresses=", "-c", "fsync=off", "-c", "full_page_writes=off",
        "-c", "synchronous_commit=off", "-c", "max_connections=30", "-c", "shared_buffers=32MB",
        "-c", "logging_collector=off", "-c", "log_min_messages=warning",
        # dynamic shared memory as files in the data dir: nothing in /dev/shm outlives the temp dir
        "-c", "dynamic_shared_memory_type=mmap",
    ]
    proc = start_server(argv, log_path, user, res, found.product, signal.SIGINT, watchdog)  # SIGINT: fast shutdown
    driver = pick_driver("postgresql")
    admin_url = URL.create(f"postgresql+{driver}", username="postgres", database="postgres", query={"host": directory})
    return _local_database(proc, admin_url, "postgresql", found, started, log_path, READY_TIMEOUT_POSTGRES, res, file_copy=True)


def _open_local_mysql(found: Found, res: Cleanup, watchdog: Watchdog) -> Database:
    user = None
    if is_root():
        user = system_user(("mysql",)) or "root"  # mysqld runs as root only when told --user=root
    started = time.monotonic()
    owner = user if user not in (None, "root") else None
    directory = make_temp_dir("mysql", res, need_mb=384, owner=owner, socket_name="mysqld.sock", watchdog=watchdog)
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
        run_setup(setup, run_user, log_path, os.path.basename(found.setup), watchdog)
        flavour_opts = ["--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci"]
    else:
        setup = [found.server, "--no-defaults", "--initialize-insecure", f"--datadir={data}", f"--tmpdir={tmp}",
                 f"--log-error={log_path}"] + user_opt
        run_setup(setup, run_user, log_path, "mysqld --initialize-insecure", watchdog)
        flavour_opts = ["--mysqlx=OFF", "--skip-log-bin"]
    argv = [
        found.server, "--no-defaults", f"--datadir={data}", f"--socket={socket_path}",
        f"--pid-file={os.path.join(directory, 'mysqld.pid')}", f"--log-error={log_path}", f"--tmpdir={tmp}",
        "--skip-networking", "--skip-name-resolve",
    ] + user_opt + innodb + flavour_opts
    proc = start_server(argv, log_path, run_user, res, found.product, signal.SIGTERM, watchdog)  # SIGTERM: clean shutdown
    driver = pick_driver("mysql")
    query = {"unix_socket": socket_path}
    if driver == "pymysql":  # PyMySQL builds a TLS context (~50 ms) on every connect unless told not to
        query["ssl_disabled"] = "true"
    admin_url = URL.create(f"mysql+{driver}", username="root", host="localhost", query={**query})
    return _local_database(proc, admin_url, "mysql", found, started, log_path, READY_TIMEOUT_MYSQL, res)
