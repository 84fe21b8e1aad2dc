"""Interrupting the round trip leaves nothing behind, against real servers (no mocks).

* 100 signal trials: SIGINT or SIGTERM at a random moment (seeded) of a real ``migration-lint
  check --roundtrip`` run: while it starts, during initdb, while the local server starts, during
  CREATE DATABASE, during the round trip, during cleanup.  Against ``--db local`` (PostgreSQL
  binaries) and server URLs (MIGRATION_LINT_TEST_PG_URL and MIGRATION_LINT_TEST_MYSQL_URL: the README says what the suite expects).
  Each must exit 130 / 143 with the interrupt message, print no "Exception ignored" and no
  traceback, and leave no scratch database, server process, process group or temp dir.
  The runs are forked from a pre-imported CLI (``trial_zygote.py``) so that a trial costs what
  the run costs, not the imports.
* ``kill -9``: a local server and its temp dir are gone within seconds (the watchdog), or at the
  next run when the watchdog was killed too (the sweep); a URL server's scratch database is
  dropped by the next run (PostgreSQL and MariaDB); one marked by another host is listed, not
  dropped; an unmarked one is left alone.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from conftest import MYSQL_URL, PG_URL, REPO, RUNNABLE_ENV_PY, needs_mysql, needs_pg, runnable_revision as rev, with_driver, write_tree
from migration_lint.roundtrip.databases import open_database
from migration_lint.roundtrip.db import local, owner

SEED = int(os.environ.get("MIGRATION_LINT_TRIAL_SEED", "20240611"))
SCALE = float(os.environ.get("MIGRATION_LINT_TRIAL_SCALE", "1"))  # more trials when hunting a race
TRIALS = {backend: max(1, round(count * SCALE)) for backend, count in {"local": 30, "pg-url": 45, "mysql-url": 25}.items()}  # 100 in all
MESSAGE = "migration-lint: interrupted; everything it started was removed"


_driver_url = with_driver
needs_pg = needs_pg()
needs_mysql = needs_mysql()
needs_local_pg = pytest.mark.skipif(local.find_postgres() is None, reason="no local PostgreSQL server binaries (initdb, postgres)")
needs_proc = pytest.mark.skipif(not os.path.isdir("/proc"), reason="process checks read /proc")


# --------------------------------------------------------------------------- what is left


def scratch_databases(url: str) -> Dict[str, Optional[str]]:
    """name -> owner mark of every migration_lint_* database on the server at url."""
    engine = sa.create_engine(_driver_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                rows = conn.exec_driver_sql("SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database").all()
            else:
                rows = conn.exec_driver_sql("SELECT schema_name, schema_comment FROM information_schema.schemata").all()
    finally:
        engine.dispose()
    return {name: mark for name, mark in rows if name.startswith("migration_lint_")}


def group_running(pgid: int) -> bool:
    return local._group_alive(pgid)


def process_running(pid: int) -> bool:
    return bool(owner.start_time(pid))


def temp_dirs_of(pid: int) -> List[str]:
    """migration-lint-* temp dirs (under /dev/shm, /tmp and TMPDIR) whose owner file names pid."""
    found = []
    for base in {"/dev/shm", "/tmp", os.environ.get("TMPDIR", "/tmp")}:
        for path in Path(base).glob("migration-lint-*"):
            try:
                text = (path / local.OWNER_FILE).read_text()
            except OSError:
                continue
            mark = owner.parse(text)
            if (mark is not None and mark.pid == pid and mark.host == owner.this_process().host) or text.strip() == str(pid):
                found.append(str(path))
    return found


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


# --------------------------------------------------------------------------- the trials


@dataclasses.dataclass
class Trial:
    backend: str
    stage: str
    delay: float
    sig: int
    pid: int = 0
    code: Optional[int] = None
    sent: bool = False
    seconds: float = 0.0
    events: Dict[str, List[str]] = dataclasses.field(default_factory=dict)
    problems: List[str] = dataclasses.field(default_factory=list)
    index: int = 0

    @property
    def shown(self) -> str:
        return f"{self.backend} {signal.Signals(self.sig).name} {self.delay * 1000:.0f} ms after {self.stage} (pid {self.pid})"


class Zygote:
    """trial_zygote.py: forks one real CLI run per trial."""

    def __init__(self, warmups: List[List[str]], env: dict) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(REPO / "tests" / "trial_zygote.py"), json.dumps(warmups)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=str(REPO), env=env,
        )
        self.buffer = b""
        while True:  # the warm-up run's markers come first
            line = self.readline(120)
            assert line is not None, "the trial zygote did not start within 120 s"
            if line.split()[1:] == ["ready"]:
                break

    def readline(self, timeout: float) -> Optional[str]:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    raise AssertionError("the trial zygote died")
                self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()

    def run(self, trial: Trial, argv: List[str], out: Path, err: Path) -> Trial:
        started = time.monotonic()
        self.proc.stdin.write((json.dumps({"argv": argv, "out": str(out), "err": str(err)}) + "\n").encode())
        self.proc.stdin.flush()
        fire_at = None
        deadline = started + 90
        while True:
            now = time.monotonic()
            wait = (fire_at - now) if fire_at is not None and not trial.sent else deadline - now
            line = self.readline(max(wait, 0))
            if line is None:
                if fire_at is not None and not trial.sent:
                    os.kill(trial.pid, trial.sig)
                    trial.sent = True
                    continue
                raise AssertionError(f"trial did not end within 90 s: {trial.shown}")
            pid, event, *rest = line.split(" ", 2)
            if event == "exit":
                child, status = rest[0].split()
                trial.pid, trial.code = int(child), os.waitstatus_to_exitcode(int(status))
                break
            if event == "child":
                trial.pid = int(rest[0])
                event = "spawn"
            elif not trial.pid:
                trial.pid = int(pid)
            trial.events.setdefault(event, []).append(rest[0] if rest else "")
            if event == trial.stage and fire_at is None:
                fire_at = time.monotonic() + trial.delay
        trial.seconds = time.monotonic() - started
        return trial

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(30)


PLANS = {  # stage -> longest delay after it (seconds); a trial picks one stage and a delay
    "local": {"spawn": 0.3, "setup": 0.6, "server": 0.3, "create": 0.03, "roundtrip": 0.3, "cleanup": 0.05},
    "pg-url": {"spawn": 0.3, "create": 0.12, "roundtrip": 0.3, "cleanup": 0.02},
    "mysql-url": {"spawn": 0.3, "create": 0.004, "roundtrip": 0.3, "cleanup": 0.01},
}


def _project(root: Path, dialect: str) -> Path:
    sleep = 'op.execute("SELECT pg_sleep(0.1)")' if dialect == "postgresql" else 'op.execute("SELECT SLEEP(0.1)")'
    write_tree(root, {
        "alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = sqlite:///unused.db\n",
        "migrations/env.py": RUNNABLE_ENV_PY,
        "migrations/versions/a1.py": rev("a1", None, 'op.create_table("post", sa.Column("id", sa.Integer(), primary_key=True))', 'op.drop_table("post")'),
        "migrations/versions/b2.py": rev("b2", "a1", sleep, "pass"),
    })
    return root


def check_trial(trial: Trial, url: Optional[str], err: Path) -> None:
    """Every way the trial could have left something behind, or misreported."""
    text = err.read_text(errors="replace")
    expected = 128 + trial.sig
    if trial.code != expected:
        trial.problems.append(f"exit {trial.code}, expected {expected}: {text.strip()[-300:]!r}")
    if MESSAGE not in text:
        trial.problems.append(f"no interrupt message: {text.strip()[-300:]!r}")
    for bad in ("Exception ignored", "Traceback"):
        if bad in text:
            trial.problems.append(f"{bad!r} on stderr: {text.strip()[-500:]!r}")
    if url is not None:
        left = scratch_databases(url)
        mine = [name for name in trial.events.get("name", []) if name in left]
        marked = [name for name, mark in left.items() if (owner.parse(mark) or owner.Owner("", "", "", 0, "")).pid == trial.pid]
        if mine or marked:
            shown = {name: left[name] for name in sorted(set(mine + marked))}
            trial.problems.append(f"scratch databases left: {shown} (this run: {owner.this_process().mark()})")
    dirs = [d for d in trial.events.get("dir", []) if os.path.exists(d)] + temp_dirs_of(trial.pid)
    if dirs:
        trial.problems.append(f"temp dirs left: {sorted(set(dirs))}")
    groups = [int(g) for g in trial.events.get("group", []) if group_running(int(g))]
    if groups:
        trial.problems.append(f"process groups still running: {groups}")
    watchdogs = [int(w) for w in trial.events.get("watchdog", []) if int(w)]
    if watchdogs and not wait_until(lambda: not any(process_running(w) for w in watchdogs), 5):
        trial.problems.append(f"watchdog still running: {watchdogs}")


@pytest.fixture(scope="module")
def trial_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("trials")
    projects = {dialect: _project(root / dialect, dialect) for dialect in ("postgresql", "mysql")}
    env = {**os.environ, "MIGRATION_LINT_CACHE_DIR": str(root / "cache"), "PYTHONPATH": str(REPO)}
    return root, projects, env


def _argv(project: Path, db: str, dialect: str) -> List[str]:
    return ["check", str(project), "--roundtrip", "--db", db, "--dialect", dialect, "--no-cache", "--jobs", "1", "--format", "json"]


def _run_trials(backend: str, db: str, dialect: str, url: Optional[str], trial_env) -> List[Trial]:
    root, projects, env = trial_env
    project = projects[dialect]
    argv = _argv(project, db, dialect)
    rng = random.Random(f"{SEED}-{backend}")
    zygote = Zygote([argv], env)
    done: List[Trial] = []
    late = 0
    started = time.monotonic()
    try:
        index = 0
        while len(done) < TRIALS[backend]:
            stage = rng.choice(sorted(PLANS[backend]))
            trial = Trial(backend, stage, rng.uniform(0, PLANS[backend][stage]), rng.choice((signal.SIGINT, signal.SIGTERM)))
            index += 1
            trial.index = index
            out, err = root / f"{backend}-{index}.out", root / f"{backend}-{index}.err"
            zygote.run(trial, argv, out, err)
            if not trial.sent or trial.code == 99:  # the signal came before main() or after it: not a trial
                late += 1
                assert late <= TRIALS[backend], "most runs ended before their signal: the plans' delays are too long"
                continue
            check_trial(trial, url, err)
            done.append(trial)
    finally:
        zygote.close()
    seconds = time.monotonic() - started
    stages = {stage: sum(1 for t in done if t.stage == stage) for stage in PLANS[backend]}
    failed = [t for t in done if t.problems]
    for t in failed:  # the whole stderr of each, for the record
        print(f"--- {t.shown}: {t.problems}\n{(root / f'{backend}-{t.index}.err').read_text(errors='replace')}")
    print(f"\n{backend}: {len(done)} trials in {seconds:.1f} s ({late} more had the signal land outside main()), by stage {stages}, "
          f"{len(failed)} with problems")
    assert not failed, "\n".join(f"{t.shown}: {'; '.join(t.problems)}" for t in failed)
    return done


@needs_proc
@needs_local_pg
def test_signal_trials_local_postgresql(trial_env):
    _run_trials("local", "local", "postgresql", None, trial_env)


@needs_proc
@needs_pg
def test_signal_trials_postgresql_url(trial_env):
    _run_trials("pg-url", PG_URL, "postgresql", PG_URL, trial_env)


@needs_proc
@needs_mysql
def test_signal_trials_mariadb_url(trial_env):
    _run_trials("mysql-url", MYSQL_URL, "mysql", MYSQL_URL, trial_env)


# --------------------------------------------------------------------------- a swallowed interrupt


SWALLOWING = '''
import os, signal, time, weakref

class Holder:
    pass

def finalizer():  # the interrupt's KeyboardInterrupt is raised here, where Python swallows it
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.05)

holder = Holder()
weakref.finalize(holder, finalizer)
del holder
time.sleep(10)  # without a second delivery the run would go on here
'''


@needs_proc
def test_an_interrupt_swallowed_by_a_finalizer_still_ends_the_run(tmp_path):
    """Python swallows a KeyboardInterrupt raised inside a finalizer ("Exception ignored in ...");
    the CLI delivers the signal again, so the run ends within moments, as interrupted."""
    write_tree(tmp_path, {
        "alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = sqlite:///unused.db\n",
        "migrations/env.py": RUNNABLE_ENV_PY,
        "migrations/versions/a1.py": rev("a1", None, SWALLOWING.strip(), "pass"),
    })
    env = {**os.environ, "MIGRATION_LINT_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(REPO)}
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "migration_lint", "check", str(tmp_path), "--roundtrip", "--db", "sqlite", "--no-cache"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    _, err = proc.communicate(timeout=60)
    seconds = time.monotonic() - started
    assert proc.returncode == 143, err
    assert err.strip() == MESSAGE  # no "Exception ignored in ..."
    assert seconds < 8, f"the run went on for {seconds:.1f} s after the interrupt"
    assert not temp_dirs_of(proc.pid)


# --------------------------------------------------------------------------- kill -9


KILLED_CHILD = r'''
import os, signal, sys, tempfile, time
from migration_lint.roundtrip.databases import open_database
from migration_lint.roundtrip.db import cleanup, local, watchdog

def say(*words):
    print(*words, flush=True)

make = tempfile.mkdtemp
def mkdtemp(*args, **kwargs):
    path = make(*args, **kwargs)
    say("dir", path)
    return path
tempfile.mkdtemp = mkdtemp

start = watchdog.Watchdog.__init__
def init(self, *args, **kwargs):
    start(self, *args, **kwargs)
    say("watchdog", self.proc.pid if self.proc else 0)
watchdog.Watchdog.__init__ = init

guard = watchdog.Watchdog.guard_group
def guard_group(self, pgid, *args, **kwargs):
    guard(self, pgid, *args, **kwargs)
    say("group", pgid)
watchdog.Watchdog.guard_group = guard_group

setup = local.run_setup
def run_setup(*args, **kwargs):
    say("setup")
    return setup(*args, **kwargs)
local.run_setup = run_setup

def terminate(signum, frame):  # as the CLI does
    cleanup.interrupt(signum)

signal.signal(signal.SIGTERM, terminate)
try:
    with open_database(sys.argv[1], sys.argv[2]) as db:
        say("ready", db.url.database)
        time.sleep(120)
except KeyboardInterrupt:
    sys.exit(143)
'''


class Killed:
    """A process holding open_database(spec, dialect), and what it said it made."""

    def __init__(self, spec: str, dialect: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", KILLED_CHILD, spec, dialect], stdout=subprocess.PIPE, text=True, cwd=str(REPO),
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        self.said: Dict[str, List[str]] = {}

    def wait_for(self, event: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while event not in self.said:
            assert time.monotonic() < deadline, f"no {event!r} from the child within {timeout} s: {self.said}"
            line = self.proc.stdout.readline()
            assert line, f"the child ended (exit {self.proc.wait()}) before {event!r}: {self.said}"
            word, _, rest = line.strip().partition(" ")
            self.said.setdefault(word, []).append(rest)
        return self.said[event][0]

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        self.proc.stdout.close()


def _server_pid(directory: str) -> int:
    with open(os.path.join(directory, "data", "postmaster.pid")) as fh:
        return int(fh.readline())


@needs_proc
@needs_local_pg
def test_kill_9_while_the_local_server_runs_the_watchdog_removes_it():
    child = Killed("local", "postgresql")
    try:
        child.wait_for("ready")
        directory = child.said["dir"][0]
        server, watchdog_pid = _server_pid(directory), int(child.said["watchdog"][0])
        assert process_running(server) and process_running(watchdog_pid)
        child.kill()
        killed = time.monotonic()
        assert wait_until(lambda: not process_running(server), 8), f"postgres {server} still runs after kill -9"
        stopped = time.monotonic() - killed
        assert wait_until(lambda: not os.path.exists(directory), 8), f"{directory} is still there"
        removed = time.monotonic() - killed
        assert wait_until(lambda: not process_running(watchdog_pid), 5)
        print(f"\nkill -9: server stopped after {stopped:.2f} s, temp dir removed after {removed:.2f} s (by the watchdog)")
    finally:
        child.close()


@needs_proc
@needs_local_pg
def test_kill_9_during_initdb_the_watchdog_removes_it():
    child = Killed("local", "postgresql")
    try:
        child.wait_for("setup")
        group = int(child.wait_for("group"))
        time.sleep(random.Random(SEED).uniform(0.05, 0.25))
        assert group_running(group), "initdb finished before the kill: the test did not test anything"
        child.kill()
        directories = child.said["dir"]
        assert wait_until(lambda: not group_running(group), 8), f"initdb's process group {group} still runs"
        assert wait_until(lambda: not any(os.path.exists(d) for d in directories), 8), directories
    finally:
        child.close()


def _segments() -> Dict[int, int]:
    """SysV shared memory segments: id -> creator pid (``ipcs -m -p``)."""
    out = subprocess.run(["ipcs", "-m", "-p"], capture_output=True, text=True).stdout
    return {int(fields[0]): int(fields[2]) for fields in (line.split() for line in out.splitlines()) if len(fields) >= 4 and fields[0].isdigit()}


@needs_proc
@needs_local_pg
@pytest.mark.skipif(subprocess.run(["sh", "-c", "command -v ipcs"], capture_output=True).returncode != 0, reason="no ipcs")
@pytest.mark.parametrize(
    "sig",
    [
        signal.SIGTERM,
        # kill -9 of migration-lint: the watchdog stops initdb. Under load, a single-user backend
        # still creating its segment when initdb is stopped has, in about 1 run in 10 here, left
        # one 56-byte SysV segment (removable with ipcrm); a known limit, said in the README.
        pytest.param(signal.SIGKILL, marks=pytest.mark.xfail(reason="a race with a backend creating its segment; see the README's known limits", strict=False)),
    ],
    ids=["SIGTERM", "SIGKILL"],
)
@pytest.mark.parametrize("phase", ["--boot", "--single"])
def test_an_interrupted_initdb_leaves_no_shared_memory(sig, phase):
    """initdb's backends (postgres --boot, then postgres --single) each create a SysV shared memory
    segment; a backend killed, or sent SIGTERM in bootstrap mode, leaves it behind for good.
    Stopped by migration-lint (SIGTERM: the CLI's cleanup) or by the watchdog (kill -9), initdb
    closes its backend's pipe and the segment goes with the backend."""
    existing = set(_segments())  # orphans of long-gone processes may carry creator pids that are in use again
    child = Killed("local", "postgresql")
    try:
        child.wait_for("setup")
        group = int(child.wait_for("group"))
        backends: Dict[int, str] = {}

        def look() -> bool:  # the backends initdb starts in its group: pid -> command line
            for entry in os.listdir("/proc"):
                if entry.isdigit() and int(entry) not in backends:
                    try:
                        stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[-1].split()
                        command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                    except OSError:
                        continue
                    if stat[2] == str(group) and "postgres" in command and "initdb" not in command:
                        backends[int(entry)] = command
            return False

        deadline = time.monotonic() + 10
        while not any(phase in command for command in backends.values()) and time.monotonic() < deadline:
            look()
            if not group_running(group):
                break
        if not any(phase in command for command in backends.values()):
            pytest.skip(f"initdb ended before a postgres {phase} backend could be seen")
        os.kill(child.proc.pid, sig)
        wait_until(lambda: look() or not group_running(group), 10)
        child.proc.wait(30)
        assert wait_until(lambda: not group_running(group), 10)
        assert wait_until(lambda: not any(os.path.exists(d) for d in child.said["dir"]), 10)
        left = {segment: creator for segment, creator in _segments().items() if creator in backends and segment not in existing}
        assert not left, f"shared memory left by initdb's backends {backends}: {left}"
    finally:
        child.close()


@needs_proc
@needs_local_pg
def test_kill_9_of_migration_lint_and_its_watchdog_is_swept_by_the_next_run():
    """Without the watchdog (killed too), the server and temp dir stay until the next run, whose
    sweep stops the server and removes the directory."""
    child = Killed("local", "postgresql")
    directory = ""
    try:
        child.wait_for("ready")
        directory = child.said["dir"][0]
        server, watchdog_pid = _server_pid(directory), int(child.said["watchdog"][0])
        os.kill(watchdog_pid, signal.SIGKILL)
        assert wait_until(lambda: not process_running(watchdog_pid), 5)
        child.kill()
        time.sleep(0.5)
        # what the next run finds (unless a concurrent run on this machine swept it already)
        left = process_running(server) and os.path.isdir(directory)
        with open_database("sqlite", "sqlite"):  # the next run (any backend sweeps)
            pass
        assert not process_running(server), f"postgres {server} still runs after the next run's sweep"
        assert not os.path.exists(directory)
        print(f"\nkill -9 of migration-lint and its watchdog: server and temp dir left until the next run's sweep ({'this test' if left else 'a concurrent run'})")
    finally:
        child.close()
        if directory and os.path.isfile(os.path.join(directory, "data", "postmaster.pid")):  # pragma: no cover - after a failure
            local.sweep_stale()


def _scratch_url_cases():
    return [
        pytest.param(PG_URL, "postgresql", marks=needs_pg, id="postgresql"),
        pytest.param(MYSQL_URL, "mysql", marks=needs_mysql, id="mariadb"),
    ]


@needs_proc
@pytest.mark.parametrize("url,dialect", _scratch_url_cases())
def test_kill_9_leaves_a_marked_scratch_database_that_the_next_run_drops(url, dialect):
    child = Killed(url, dialect)
    try:
        name = child.wait_for("ready")
        pid = child.proc.pid
        child.kill()
        left = scratch_databases(url)
        assert name in left, "the scratch database was not there to sweep"
        mark = owner.parse(left[name])
        assert mark is not None and mark.pid == pid and mark.host == owner.this_process().host
        notes: List[str] = []
        with open_database(url, dialect, notes=notes) as db:
            assert db.url.database != name
        assert name not in scratch_databases(url)
        assert any(note.startswith("dropped ") and name in note for note in notes), notes
    finally:
        child.close()


def _admin(url: str):
    return sa.create_engine(_driver_url(url), poolclass=NullPool, isolation_level="AUTOCOMMIT")


def _create_marked(url: str, name: str, mark: Optional[str]) -> None:
    engine = _admin(url)
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE template0')
            if mark:
                conn.exec_driver_sql(f"COMMENT ON DATABASE \"{name}\" IS '{mark}'")
        else:
            conn.exec_driver_sql(f"CREATE DATABASE `{name}`" + (f" COMMENT '{mark}'" if mark else ""))
    engine.dispose()


def _drop(url: str, name: str) -> None:
    engine = _admin(url)
    with engine.connect() as conn:
        quoted = f'"{name}"' if engine.dialect.name == "postgresql" else f"`{name}`"
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}")
    engine.dispose()


@pytest.mark.parametrize("url,dialect", _scratch_url_cases())
def test_other_hosts_and_unmarked_scratch_databases_are_listed_never_dropped(url, dialect):
    import secrets

    me = owner.this_process()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    names = {
        "other-host": f"migration_lint_{secrets.token_hex(6)}",
        "other-boot": f"migration_lint_{secrets.token_hex(6)}",
        "unmarked": f"migration_lint_{secrets.token_hex(6)}",
        "not-ours": f"migration_lint_x{secrets.token_hex(3)}",  # not migration_lint_<hex>: not even listed
    }
    marks = {
        # dead pids: were they on this host, these would be dropped
        "other-host": dataclasses.replace(me, host="build-agent-7", pid=dead.pid).mark(),
        "other-boot": dataclasses.replace(me, boot="00000000-0000-0000-0000-000000000000", pid=dead.pid).mark(),
        "unmarked": None,
        "not-ours": None,
    }
    try:
        for label, name in names.items():
            _create_marked(url, name, marks[label])
        notes: List[str] = []
        with open_database(url, dialect, notes=notes):
            pass
        left = scratch_databases(url)
        assert all(name in left for name in names.values()), "a database that is not provably ours was dropped"
        elsewhere = [n for n in notes if "other hosts, boots or containers" in n]
        unmarked = [n for n in notes if "without an owner mark" in n]
        assert len(elsewhere) == 1 and names["other-host"] in elsewhere[0] and "build-agent-7" in elsewhere[0], notes
        assert names["other-boot"] in elsewhere[0]
        assert len(unmarked) == 1 and names["unmarked"] in unmarked[0], notes
        assert not any(names["not-ours"] in note for note in notes)
    finally:
        for name in names.values():
            _drop(url, name)
