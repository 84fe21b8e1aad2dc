"""A scratch database ``migration_lint_<hex>`` on a server given by URL, and the sweep of those
that dead runs left behind.

The scratch database's drop is registered before it is created (an interrupt between the two
still drops it) and the database is marked with its owner.  A ``kill -9`` leaves it behind: the
next run against the same server drops the scratch databases whose owner provably died on this
host (``owner.py``), and lists, never drops, those of other hosts and those without a mark.
"""

from __future__ import annotations

import secrets
from typing import List

import sqlalchemy
from sqlalchemy.engine import URL, make_url

from migration_lint import dialects
from migration_lint.model import count_of
from migration_lint.roundtrip.db import owner as owners
from migration_lint.roundtrip.db.base import SCRATCH_PREFIX, Database, DatabaseError, admin_engine, pick_driver
from migration_lint.roundtrip.db.cleanup import Cleanup
from migration_lint.roundtrip.db.dialect_sql import Scratch, sql_for
from migration_lint.roundtrip.db.redact import one_line, password_in_userinfo, safe_url, url_secrets

SHOWN_NAMES = 10  # scratch databases named per note


def scratch_name() -> str:
    return f"{SCRATCH_PREFIX}{secrets.token_hex(6)}"


def parse_url(spec: str, dialect: str) -> URL:
    """The URL of ``--db``, with a driver, checked against the project's dialect."""
    try:
        url = make_url(spec)
    except Exception:  # noqa: BLE001 - the message may echo the URL; don't
        raise DatabaseError("--db is not a valid database URL (expected e.g. postgresql://user@host/postgres)") from None
    backend = url.get_backend_name()
    url_dialect = dialects.from_sqlalchemy_name(backend)
    if backend == "sqlite":
        raise DatabaseError("SQLite URLs are not used for the round trip; use --db sqlite for a throwaway SQLite file")
    if url_dialect is None:
        raise DatabaseError(f"unsupported database URL {safe_url(url)} (PostgreSQL, MySQL or MariaDB only)")
    if url_dialect != dialect:
        raise DatabaseError(f"--db {safe_url(url)} is a {dialects.display(url_dialect)} server but the project targets {dialects.display(dialect)}")
    url = password_in_userinfo(url, dialect)  # ?password= is then hidden wherever the URL is shown
    if backend == "postgres":
        url = url.set(drivername="postgresql" + url.drivername[len("postgres"):])
    if "+" not in url.drivername:
        url = url.set(drivername=f"{url.drivername}+{pick_driver(dialect)}")
    if url.database == "":
        url = url._replace(database=None)
    return url


def open_url(spec: str, dialect: str, notes: list, res: Cleanup) -> Database:
    url = parse_url(spec, dialect)
    hidden = url_secrets(url)
    sql = sql_for(dialect)
    try:
        admin = admin_engine(url)
    except Exception as exc:  # noqa: BLE001 - missing driver module, bad options
        raise DatabaseError(f"cannot use {safe_url(url)}: {one_line(exc, hidden)}") from None
    res.push("dispose the admin engine", admin.dispose)
    server = safe_url(url._replace(database=None))
    try:
        with admin.connect() as conn:
            current, tables, version = sql.inspect(conn)
            if not tables:
                notes.extend(sweep_dead_runs(conn, sql, server))
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise DatabaseError(f"cannot connect to {safe_url(url)}: {one_line(exc, hidden)}") from None
    admin.dispose()
    if tables:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        hint = "/postgres" if dialect == "postgresql" else "no database"
        raise DatabaseError(
            f"refusing to use {safe_url(url)}: its database {current!r} already has tables ({shown}); "
            f"point --db at the server ({hint}) or an empty database: a scratch database is created next to it"
        )

    name = scratch_name()
    scratch = Scratch(url, dialect, name, mark=owners.this_process().mark(), sql=sql)
    res.push(f"dispose the engine for {name}", scratch.close)
    # registered before the create: an interrupt during CREATE DATABASE still drops it
    res.push(f"drop scratch database {name} on {server}", scratch.drop)
    scratch.create()
    if getattr(sql, "unmarked", ""):
        notes.append(f"scratch database {name} could not be marked with its owner ({sql.unmarked}); if this run is killed, it stays behind")
    return Database(
        dialect=dialect,
        url=url.set(database=name),
        description=f"scratch database {name} on {server} ({version})",
        backend="url",
        startup_seconds=0.0,
        _reset=scratch.reset,
    )


def _names(items: List[str]) -> str:
    return ", ".join(items[:SHOWN_NAMES]) + (", ..." if len(items) > SHOWN_NAMES else "")


def sweep_dead_runs(conn, sql, server: str) -> List[str]:
    """Drop the scratch databases on this server whose owner died on this host; notes saying what
    was dropped and what was left alone (other hosts' runs, unmarked databases)."""
    dropped: List[str] = []
    elsewhere: List[str] = []
    unmarked: List[str] = []
    failed: List[str] = []
    try:
        found = sql.scratch_databases(conn)
    except sqlalchemy.exc.SQLAlchemyError as exc:
        return [f"could not look for scratch databases that dead runs left on {server}: {one_line(exc)}"]
    for name, mark in found:
        owner = owners.parse(mark)
        if owner is None:
            unmarked.append(name)
            continue
        state = owners.state(owner)
        if state == owners.RUNNING:
            continue  # a live run's (this one's, another session's): not ours to touch or report
        if state != owners.DEAD:
            elsewhere.append(f"{name} ({owner.shown}{', cannot be checked here' if state == owners.UNKNOWN else ''})")
            continue
        try:
            sql.drop(conn, name)
            dropped.append(f"{name} ({owner.shown})")
        except (sqlalchemy.exc.SQLAlchemyError, RuntimeError) as exc:
            failed.append(f"{name}: {one_line(exc)}")
    notes = []
    if dropped:
        notes.append(f"dropped {count_of(len(dropped), 'scratch database')} that runs which died left on {server}: {_names(dropped)}")
    if failed:
        notes.append(f"could not drop {count_of(len(failed), 'scratch database')} that runs which died left on {server}: {_names(failed)}")
    if elsewhere:
        notes.append(
            f"left alone on {server}: {count_of(len(elsewhere), 'scratch database')} of runs on other hosts, boots or containers: "
            f"{_names(elsewhere)}; drop them once those runs are over"
        )
    if unmarked:
        notes.append(f"left alone on {server}: {count_of(len(unmarked), 'database')} named migration_lint_<hex> without an owner mark: {_names(unmarked)}")
    return notes
