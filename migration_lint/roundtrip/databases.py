"""Throwaway databases for the round trip, always cleaned up.

``open_database(spec, dialect)`` is a context manager that yields a :class:`Database`: an empty
scratch database plus a ``reset()`` that makes it empty again.  ``spec`` is one of

``auto``
    Docker if an engine answers (and the ``docker`` package is installed), else throwaway local
    server binaries for the dialect, else a SQLite file (with a note that dialect-specific behaviour
    was not exercised).  For the ``sqlite`` dialect: always SQLite.
``docker``
    A container via testcontainers (``db/container.py``).
``local``
    A throwaway server started from the binaries installed on this machine (``db/local.py``), in
    a temporary directory, on a unix socket only, durability off.
``sqlite``
    A temporary SQLite file.
a server URL (``postgresql://...``, ``mysql+pymysql://...``, ``mariadb://...``)
    A scratch database ``migration_lint_<hex>`` is created on that server and dropped afterwards;
    no other database is ever modified (``db/server_url.py``).  The URL's own database is only used
    to connect, and it must not contain tables: a URL that names a database with tables is
    refused, because it probably points at a real database.  What counts:

    * PostgreSQL: any table, view, materialized view or foreign table outside ``pg_catalog``,
      ``information_schema`` and ``pg_toast*`` in the URL's database (``/postgres`` on a fresh
      server has none).  A URL without a database connects to the database named after the user,
      as libpq does.
    * MySQL/MariaDB: a URL without a database, or one naming a system schema (``mysql``,
      ``information_schema``, ``performance_schema``, ``sys``), means "the server only" and is
      accepted (system schemas always have tables; they are never touched).  Any other database
      named must have no tables or views.

    Creating the scratch database needs the CREATEDB privilege (PostgreSQL) or CREATE/DROP on
    ``migration_lint_%`` (MySQL).  Each scratch database is marked with its owner (host, boot,
    pid namespace, pid, start time); a run drops the ones on its server whose owner provably died
    on this host (``kill -9``) and lists, never drops, those of other hosts and unmarked ones.

Cleanup (stop servers, drop scratch databases, stop containers, remove temporary directories)
runs when the ``with`` block exits in any way, including ``KeyboardInterrupt`` and
``SystemExit``; every step is attempted even when an earlier one fails.  Failures are reported as
notes and in ``Database.cleanup_failures`` (and on the exception that ends the block, see
``db.cleanup.failures_of``), never raised.  Interrupts that arrive while a resource is being made
and registered, or during cleanup, are held and raised afterwards (``db/cleanup.py``).
``cleanup_all()`` cleans whatever is still open and is registered with ``atexit``.  A local
server outlives a ``kill -9`` of migration-lint by seconds only (``db/watchdog.py``); temporary
directories of processes that died without cleaning up are swept, and their servers stopped, the
next time a database is opened.

Passwords (in the URL's userinfo or its query string) never appear in descriptions, notes or
error messages.  Nothing here prints.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, List, Optional

from migration_lint import dialects
from migration_lint.roundtrip.db import cleanup as _cleanup
from migration_lint.roundtrip.db.base import Database, DatabaseError, normalize_dialect
from migration_lint.roundtrip.db.cleanup import Cleanup, cleanup_all
from migration_lint.roundtrip.db.redact import scrub

__all__ = ["Database", "DatabaseError", "open_database", "cleanup_all"]


def _scrub(text: str, secret: Optional[str]) -> str:
    """Kept for callers of the former single-module layout; use ``db.redact.scrub``."""
    return scrub(text, [secret])


@contextlib.contextmanager
def open_database(
    spec: str,
    dialect: str,
    *,
    server_version: Optional[tuple] = None,
    image: Optional[str] = None,
    notes: Optional[list] = None,
    version_assumed: bool = False,
) -> Iterator[Database]:
    """Yield an empty throwaway :class:`Database` for ``dialect``; clean everything up on exit.

    ``notes`` (a list) receives one-line human notes: which backend ``auto`` chose and why,
    fallbacks, version mismatches, what dead runs left behind, cleanup failures.  Cleanup failures
    are also in the yielded database's ``cleanup_failures`` once the block has exited.
    ``version_assumed``: ``server_version`` is the default, not one the user asked for (notes
    must not say it was requested).
    """
    if notes is None:
        notes = []
    dialect = normalize_dialect(dialect)
    resources = Cleanup()
    database: Optional[Database] = None
    ended: List[BaseException] = []  # what ends the block, if not its normal end

    def closed(failures: List[str]) -> None:  # runs with interrupts held, once everything ran
        notes.extend(failures)
        if database is not None:
            database.cleanup_failures = list(failures)
        for exc in ended:
            _cleanup.attach_failures(exc, failures)

    resources.open()
    try:
        database = _open(spec or "auto", dialect, server_version, image, notes, resources, version_assumed)
        yield database
    except BaseException as exc:
        ended.append(exc)
        raise
    finally:
        # the loop is here, not in a function: an interrupt can land on any call before the
        # function's first line, and then this cleanup would not run at all
        pending: Optional[BaseException] = None
        while True:
            try:
                resources.close(closed)
            except BaseException as exc:  # noqa: BLE001
                if not resources.started:  # landed on the call: nothing ran yet, so again
                    pending = pending or exc
                    continue
                _cleanup.attach_failures(exc, resources.failures)  # an interrupt held during cleanup
                raise
            break
        if pending is not None:
            _cleanup.attach_failures(pending, resources.failures)
            raise pending


def _open(spec: str, dialect: str, server_version, image, notes: list, res: Cleanup, version_assumed: bool = False) -> Database:
    from migration_lint.roundtrip.db.local import sweep_stale
    from migration_lint.roundtrip.db.sqlite_file import open_sqlite

    kind = spec.strip()
    lowered = kind.lower()
    if lowered == "sqlite" or dialect == "sqlite":
        if lowered == "sqlite" and dialect != "sqlite":
            notes.append(f"using SQLite although the project targets {dialects.display(dialect)}: dialect-specific behaviour was not exercised")
        elif dialect == "sqlite" and lowered not in ("auto", "sqlite"):
            shown = lowered if lowered in ("docker", "local") else "URL"
            notes.append(f"SQLite needs no server: --db {shown} is not used for this history, which runs on a temporary SQLite file")
        try:
            sweep_stale()  # temp dirs of runs killed with kill -9
        except Exception:  # noqa: BLE001 - best effort
            pass
        return open_sqlite(res)
    if lowered == "auto":
        return _open_auto(dialect, server_version, image, notes, res, version_assumed)
    if lowered == "docker":
        from migration_lint.roundtrip.db.container import open_docker

        return open_docker(dialect, server_version, image, notes, res)
    if lowered == "local":
        from migration_lint.roundtrip.db.local import open_local

        return open_local(dialect, server_version, notes, res, assumed=version_assumed)
    if "://" in kind:
        from migration_lint.roundtrip.db.server_url import open_url

        return open_url(kind, dialect, notes, res)
    raise DatabaseError(f"unknown --db value {kind!r}: expected auto, docker, local, sqlite or a database URL")


def _open_auto(dialect, server_version, image, notes, res, version_assumed: bool = False) -> Database:
    from migration_lint.roundtrip.db.container import docker_unavailable, open_docker
    from migration_lint.roundtrip.db.local import find_mysql, find_postgres, open_local
    from migration_lint.roundtrip.db.sqlite_file import open_sqlite

    why = docker_unavailable()
    if why is None:
        try:
            return open_docker(dialect, server_version, image, notes, res)
        except DatabaseError as exc:
            why = f"Docker failed ({exc})"
    finder = find_postgres if dialect == "postgresql" else find_mysql
    found = finder(server_version)
    if found is not None:
        notes.append(f"{why}; using local {found.product} binaries ({found.location})")
        return open_local(dialect, server_version, notes, res, found=found, assumed=version_assumed)
    notes.append(
        f"{why} and no local {dialects.display(dialect)} binaries were found; using SQLite instead: "
        "dialect-specific behaviour was not exercised"
    )
    return open_sqlite(res)
