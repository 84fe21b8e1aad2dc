"""A pre-imported migration-lint that forks one real CLI run per signal trial.

Importing migration-lint, Alembic, libcst and the drivers costs about a second; a hundred trials
would spend most of their time there.  This process imports everything once (by running the CLI
once per backend), then forks a child per trial that calls ``migration_lint.cli.main`` with the
trial's arguments, so every trial exercises the real CLI, signal handler included.

Protocol (stdin / stdout, one line each):

* in: a JSON object ``{"argv": [...], "out": path, "err": path}``: run a trial;
* out: ``<pid> <event> [<value>]`` lines: ``child <pid>`` when a trial is forked, ``exit <status>``
  when it ended (``os.waitpid`` status), and the markers its instrumented steps emit:
  ``create`` (before CREATE DATABASE), ``setup`` (before initdb / mariadb-install-db),
  ``server`` (before the server starts), ``roundtrip`` (the database is ready), ``cleanup``
  (cleanup starts), ``dir <path>`` (a temp dir was made), ``name <db>`` (a scratch database name
  was chosen), ``group <pgid>`` (a process group was handed to the watchdog), ``watchdog <pid>``.

The markers only record; no behaviour is changed.  A trial child keeps recording SIGINT/SIGTERM
handlers around ``main()`` (and signals blocked from the fork until they are in place): a signal
that arrives before ``main()`` started or after it returned (the trial's delay was too long) makes
it exit 99, so such trials can be told apart from a signal that ``main()`` swallowed (which would
exit 0 or 1).
"""

import json
import os
import signal
import sys
import tempfile
import threading
import traceback

OUT = os.dup(1)


def mark(*words) -> None:
    os.write(OUT, (" ".join(str(w) for w in (os.getpid(),) + words) + "\n").encode())


def _before(owner, name, event):
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        mark(event)
        return original(*args, **kwargs)

    setattr(owner, name, wrapper)


def _after(owner, name, event, value):
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        result = original(*args, **kwargs)
        mark(event, value(result, *args))
        return result

    setattr(owner, name, wrapper)


def instrument() -> None:
    from migration_lint.roundtrip import runner
    from migration_lint.roundtrip.db import cleanup, dialect_sql, local, server_url, watchdog

    _before(dialect_sql.PostgresSQL, "create", "create")
    _before(dialect_sql.MySQLSQL, "create", "create")
    _before(local, "run_setup", "setup")
    _before(local, "start_server", "server")
    _before(runner, "run_roundtrip", "roundtrip")
    _before(cleanup.Cleanup, "close", "cleanup")
    _after(tempfile, "mkdtemp", "dir", lambda path, *a: path)
    _after(server_url, "scratch_name", "name", lambda name, *a: name)
    _after(watchdog.Watchdog, "guard_group", "group", lambda result, self, pgid, *a: pgid)
    _after(watchdog.Watchdog, "__init__", "watchdog", lambda result, self, *a: self.proc.pid if self.proc else 0)


def run_cli(argv, out, err) -> int:
    from migration_lint.cli import main

    for fd, path in ((1, out), (2, err)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(target, fd)
        os.close(target)
    late = []
    signals = {signal.SIGINT, signal.SIGTERM}
    for signum in signals:
        signal.signal(signum, lambda s, f: late.append(s))  # main() keeps these as its "previous" handlers
    signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)  # blocked since the fork: an early one lands in late
    code = main(argv)
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)  # from here on, a signal stays pending
    sys.stdout.flush()
    sys.stderr.flush()
    if code in (130, 143):  # main() took the trial's signal
        return code
    # main() saw no signal: one may be on its way (the trial's delay outlasted the run); stay alive
    # for it, so that it is told apart from a signal main() swallowed and never lands elsewhere
    if late or signal.sigtimedwait(signals, 0.5) is not None:
        return 99
    return code


def serve(warmups) -> None:
    instrument()
    for argv in warmups:  # imports everything the trials will use (drivers, Alembic, dialects)
        saved = os.dup(1), os.dup(2)
        try:
            run_cli(argv, os.devnull, os.devnull)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    assert threading.active_count() == 1, threading.enumerate()  # forking with threads is unsafe
    mark("ready")
    for line in sys.stdin:
        request = json.loads(line)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})  # until the child has its handlers
        pid = os.fork()
        if pid == 0:
            code = 70
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # the requests are the zygote's, not the trial's
            try:
                code = run_cli(request["argv"], request["out"], request["err"])
            except BaseException:  # escaped main(): a bug the trial reports
                traceback.print_exc()
                sys.stderr.flush()
            finally:
                # what main() returned; skipping atexit (cleanup_all) makes the trial stricter:
                # main() itself must have removed everything
                os._exit(code)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
        mark("child", pid)
        _, status = os.waitpid(pid, 0)
        mark("exit", pid, status)


if __name__ == "__main__":
    serve(json.loads(sys.argv[1]))
