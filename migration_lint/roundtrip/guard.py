"""Project code may reach the scratch database only: every other SQLAlchemy connection is refused
before it is made.

While the round trip runs project code (loading revision files, env.py, each step, an ``--app``
factory), :func:`only` installs two class-level SQLAlchemy listeners and removes them afterwards:

``do_connect`` (every dialect, ``event.listen(Engine, "do_connect")``)
    sees the arguments of every DBAPI connect made through SQLAlchemy -- engines env.py creates
    itself included -- *before* the driver connects, and refuses any database but the scratch one
    (a SQLite file is not even created).
``connect`` (every pool, ``event.listen(Pool, "connect")``)
    asks the new DBAPI connection where it is (psycopg2 / psycopg ``info.dbname``, PyMySQL ``db``,
    sqlite3 ``PRAGMA database_list``) and refuses it when it is elsewhere: engines built with a
    ``creator=`` function bypass ``do_connect``.

A refusal raises :class:`WrongDatabase` inside the project's code, before it can send a statement,
and is also recorded on the guard (env.py may catch the exception; the round trip still knows).
The scratch database is recognised by its name (random, ``migration_lint_<hex>``) or, for SQLite,
by its file's real path.  What cannot be intercepted: a DBAPI connection opened without SQLAlchemy
(``psycopg2.connect(...)`` in env.py), and statements that name another database through the
scratch connection (MySQL ``other_db.table``, SQLite ``ATTACH``).  README, "Security model".

Why process-wide: SQLAlchemy's only hook for engines created by code we do not control is an event
on the class; it is installed for the window only and removed on the way out, whatever happens.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Any, Iterator, List, Optional, Tuple

__all__ = ["WrongDatabase", "Guard", "only", "target_of_url"]

_LOCK = threading.Lock()


class WrongDatabase(Exception):
    """Project code tried to connect to another database than the throwaway one."""


Target = Tuple[str, str]  # (family: "sqlite" | "server", database name or SQLite real path)


def _sqlite_target(name: Optional[str]) -> Target:
    name = name or ""
    if name.startswith("file:"):
        name = name[5:].split("?", 1)[0]
    if name in ("", ":memory:") or "mode=memory" in name:
        return ("sqlite", ":memory:")
    return ("sqlite", os.path.realpath(name))


def target_of_url(url) -> Target:
    """What a SQLAlchemy URL connects to, as the guard compares it."""
    if url.get_backend_name() == "sqlite":
        return _sqlite_target(url.database)
    return ("server", url.database or "")


def _target_of_arguments(dialect, cargs, cparams) -> Target:
    """Where a DBAPI connect with these arguments goes (from SQLAlchemy's ``do_connect``)."""
    if dialect.name == "sqlite":
        name = cargs[0] if cargs else cparams.get("database")
        return _sqlite_target(str(name) if name is not None else "")
    for key in ("dbname", "database", "db"):
        value = cparams.get(key)
        if value:
            return ("server", value.decode() if isinstance(value, bytes) else str(value))
    dsn = cparams.get("dsn") or (cargs[0] if cargs and isinstance(cargs[0], str) else None)
    if dsn:  # psycopg given a DSN string: "dbname=x host=y" or a URI
        for part in dsn.replace("?", " ").replace("&", " ").split():
            key, _, value = part.partition("=")
            if key in ("dbname", "database") and value:
                return ("server", value.strip("'\""))
        if "://" in dsn:
            path = dsn.split("://", 1)[1].split("/", 1)
            if len(path) == 2 and path[1].split("?", 1)[0]:
                return ("server", path[1].split("?", 1)[0])
    return ("server", "")  # no database named: the server itself


def _target_of_connection(dbapi_connection) -> Optional[Target]:
    """Where a live DBAPI connection is, when the driver says; None when it cannot be asked."""
    module = type(dbapi_connection).__module__.split(".", 1)[0]
    try:
        if module in ("psycopg2", "psycopg"):
            return ("server", dbapi_connection.info.dbname or "")
        if module == "pymysql":
            db = dbapi_connection.db
            return ("server", (db.decode() if isinstance(db, bytes) else db) or "")
        if module == "MySQLdb":
            return None  # mysqlclient does not expose it without a query
        if module == "sqlite3":
            cursor = dbapi_connection.cursor()
            try:
                rows = cursor.execute("PRAGMA database_list").fetchall()
            finally:
                cursor.close()
            main = next((row[2] for row in rows if row[1] == "main"), "")
            return _sqlite_target(main)
    except Exception:  # noqa: BLE001 - a driver without the attribute: the connect arguments decided
        return None
    return None


def describe(target: Target) -> str:
    family, name = target
    if family == "sqlite":
        return f"SQLite {'in-memory database' if name == ':memory:' else 'file ' + name}"
    return f"database {name!r}" if name else "the server without a database"


class Guard:
    """The scratch database's target, and what was refused while the guard was on."""

    def __init__(self, expected: Target):
        self.expected = expected
        self.refused: List[str] = []  # what was refused, each once
        self.refusals = 0  # how many times
        self.last = ""

    def check(self, target: Optional[Target], how: str) -> None:
        if target is None or target == self.expected:
            return
        what = describe(target)
        self.refusals += 1
        self.last = what
        if what not in self.refused:
            self.refused.append(what)
        raise WrongDatabase(f"refused a connection to {what} ({how})")

    # -- the listeners ---------------------------------------------------------------------------
    def _do_connect(self, dialect, conn_rec, cargs, cparams):
        self.check(_target_of_arguments(dialect, cargs, cparams), "before it connected")
        return None  # SQLAlchemy connects as usual

    def _pool_connect(self, dbapi_connection, connection_record):
        self.check(_target_of_connection(dbapi_connection), "as it connected, before any statement")


_CURRENT: List[Guard] = []  # the guard in force (innermost last); the listeners call the innermost


def _on_do_connect(dialect, conn_rec, cargs, cparams):
    if _CURRENT:
        return _CURRENT[-1]._do_connect(dialect, conn_rec, cargs, cparams)
    return None


def _on_pool_connect(dbapi_connection, connection_record):
    if _CURRENT:
        _CURRENT[-1]._pool_connect(dbapi_connection, connection_record)


def installed() -> bool:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    return event.contains(Engine, "do_connect", _on_do_connect) or event.contains(Pool, "connect", _on_pool_connect)


@contextmanager
def only(url, guard: Optional[Guard] = None) -> Iterator[Guard]:
    """Within the block, SQLAlchemy connects only to the database of ``url``.  Nested blocks
    share the listeners; the outermost removes them."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    guard = guard or Guard(target_of_url(url))
    with _LOCK:
        outermost = not _CURRENT
        if outermost:
            event.listen(Engine, "do_connect", _on_do_connect)
            event.listen(Pool, "connect", _on_pool_connect)
        _CURRENT.append(guard)
    try:
        yield guard
    finally:
        with _LOCK:
            _CURRENT.remove(guard)
            if not _CURRENT:
                event.remove(Engine, "do_connect", _on_do_connect)
                event.remove(Pool, "connect", _on_pool_connect)


def check_connection(guard: Guard, connection: Any) -> None:
    """``context.configure(connection=...)``: the connection (or engine) env.py hands Alembic."""
    engine = getattr(connection, "engine", None)
    url = getattr(engine, "url", None)
    if url is not None:
        guard.check(target_of_url(url), "handed to context.configure")
    raw = getattr(connection, "connection", None)  # a Connection's DBAPI connection (pool proxy)
    dbapi = getattr(raw, "dbapi_connection", None) or getattr(raw, "driver_connection", None)
    if dbapi is not None:
        guard.check(_target_of_connection(dbapi), "handed to context.configure")
