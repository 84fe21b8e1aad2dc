"""The SQL that differs between PostgreSQL and MySQL/MariaDB: create, mark, drop and list scratch
databases, check a URL's own database, see statements still running.

A scratch database is marked with its owner (see ``owner.py``) so that a later run can tell a
dead run's database from a live one:

* PostgreSQL: ``COMMENT ON DATABASE`` right after ``CREATE DATABASE`` (which cannot run in a
  transaction, so there is a window of a millisecond where it is unmarked);
* MariaDB 10.5 and later: ``CREATE DATABASE ... COMMENT '...'``, in the same statement;
* MySQL and older MariaDB (no database comments): an empty stored procedure
  ``migration_lint_owner`` with the mark as its comment, inside the scratch database (routines
  are not part of the schema snapshots the round trip compares, tables would be).
"""

from __future__ import annotations

import re
import time
from typing import List, Optional, Tuple

import sqlalchemy
from sqlalchemy.engine import URL

from migration_lint.roundtrip.db.base import DatabaseError, admin_engine
from migration_lint.roundtrip.db.redact import one_line, safe_url, url_secrets

MARKER_ROUTINE = "migration_lint_owner"
SCRATCH_NAME = re.compile(r"^migration_lint_[0-9a-f]+$")
MYSQL_SYSTEM_SCHEMAS = frozenset({"mysql", "information_schema", "performance_schema", "sys"})
SETTLE_TIMEOUT = 10.0  # seconds to wait for our own interrupted statements to end


class _SQL:
    """Statements of one engine; remembers the server's version once it has asked."""

    def __init__(self) -> None:
        self.version: Tuple[int, ...] = ()

    def create(self, conn, name: str, mark: Optional[str], file_copy: bool) -> None:
        raise NotImplementedError

    def drop(self, conn, name: str) -> None:
        raise NotImplementedError

    def running(self, conn, name: str) -> List[int]:
        """Other sessions running a statement that names ``name`` (ours, cut off by an interrupt)."""
        raise NotImplementedError

    def stop(self, conn, sessions: List[int]) -> None:
        raise NotImplementedError

    def scratch_databases(self, conn) -> List[Tuple[str, Optional[str]]]:
        """(name, owner mark or None) of every ``migration_lint_<hex>`` database on the server."""
        raise NotImplementedError

    def inspect(self, conn):
        """(current database, tables in it that make it look real, server version text)."""
        raise NotImplementedError

    def settle(self, conn, name: str) -> None:
        """End our own statements about ``name`` still running on the server (a CREATE DATABASE
        whose client was interrupted goes on without it): only then does ``DROP DATABASE IF
        EXISTS`` see the database's final state."""
        sessions = self.running(conn, name)
        if not sessions:
            return
        self.stop(conn, sessions)
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while self.running(conn, name):
            if time.monotonic() > deadline:
                raise RuntimeError(f"a statement on {name} was still running after {SETTLE_TIMEOUT:.0f} s")
            time.sleep(0.01)


class PostgresSQL(_SQL):
    def _version(self, conn) -> Tuple[int, ...]:
        if not self.version:
            num = int(conn.exec_driver_sql("SHOW server_version_num").scalar())
            self.version = (num // 10000, num % 10000) if num >= 100000 else (num // 10000, num // 100 % 100)
        return self.version

    def create(self, conn, name, mark, file_copy) -> None:
        sql = f'CREATE DATABASE "{name}" TEMPLATE template0'
        if file_copy and self._version(conn) >= (15,):
            sql += " STRATEGY FILE_COPY"  # no WAL for the copy; cheap on our fsync=off servers
        conn.exec_driver_sql(sql)
        if mark:
            conn.exec_driver_sql(f"COMMENT ON DATABASE \"{name}\" IS '{mark}'")

    def drop(self, conn, name) -> None:
        self.settle(conn, name)
        if self._version(conn) >= (13,):
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        conn.execute(
            sqlalchemy.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')

    def running(self, conn, name) -> List[int]:
        return list(conn.execute(
            sqlalchemy.text(
                "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND state <> 'idle' "
                "AND strpos(query, :name) > 0"
            ),
            {"name": name},
        ).scalars())

    def stop(self, conn, sessions) -> None:
        for pid in sessions:
            conn.execute(sqlalchemy.text("SELECT pg_terminate_backend(:pid)"), {"pid": int(pid)})

    def scratch_databases(self, conn):
        rows = conn.exec_driver_sql("SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database").all()
        return [(name, comment) for name, comment in rows if SCRATCH_NAME.match(name)]

    def inspect(self, conn):
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


class MySQLSQL(_SQL):
    def __init__(self, comments: Optional[bool] = None) -> None:
        super().__init__()
        self.mariadb = False
        self.comments = comments  # database comments (MariaDB 10.5+); None: ask the server
        self.unmarked = ""  # why the marker routine could not be made, if it could not

    def _probe(self, conn) -> None:
        if not self.version:
            raw = str(conn.exec_driver_sql("SELECT VERSION()").scalar())
            self.mariadb = "mariadb" in raw.lower()
            numbers = tuple(int(part) for part in re.findall(r"\d+", raw.split("-")[0])[:3])
            self.version = numbers or (0,)
            if self.comments is None:
                self.comments = self.mariadb and self.version >= (10, 5)

    def create(self, conn, name, mark, file_copy) -> None:
        self._probe(conn)
        if mark and self.comments:
            conn.exec_driver_sql(f"CREATE DATABASE `{name}` COMMENT '{mark}'")
            return
        conn.exec_driver_sql(f"CREATE DATABASE `{name}`")
        if mark:
            try:
                conn.exec_driver_sql(f"CREATE PROCEDURE `{name}`.`{MARKER_ROUTINE}`() COMMENT '{mark}' BEGIN END")
            except sqlalchemy.exc.SQLAlchemyError as exc:  # no CREATE ROUTINE privilege: go on unmarked
                self.unmarked = one_line(exc)

    def drop(self, conn, name) -> None:
        conn.exec_driver_sql("SET SESSION lock_wait_timeout = 30")
        self.settle(conn, name)
        ids = conn.execute(
            sqlalchemy.text("SELECT id FROM information_schema.processlist WHERE db = :name AND id <> CONNECTION_ID()"),
            {"name": name},
        ).scalars().all()
        for thread_id in ids:  # connections left open would block DROP on metadata locks
            try:
                conn.exec_driver_sql(f"KILL {int(thread_id)}")
            except sqlalchemy.exc.SQLAlchemyError:
                pass
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")

    def running(self, conn, name) -> List[int]:
        return list(conn.execute(
            sqlalchemy.text(
                "SELECT id FROM information_schema.processlist WHERE id <> CONNECTION_ID() "
                "AND command <> 'Sleep' AND LOCATE(:name, COALESCE(info, '')) > 0"
            ),
            {"name": name},
        ).scalars())

    def stop(self, conn, sessions) -> None:
        for thread_id in sessions:
            try:
                conn.exec_driver_sql(f"KILL {int(thread_id)}")
            except sqlalchemy.exc.SQLAlchemyError:  # ended meanwhile
                pass

    def scratch_databases(self, conn):
        self._probe(conn)
        column = ", schema_comment" if self.mariadb and self.version >= (10, 5) else ""
        rows = conn.exec_driver_sql(f"SELECT schema_name{column} FROM information_schema.schemata").all()
        found = {row[0]: (row[1] if column else None) or None for row in rows if SCRATCH_NAME.match(row[0])}
        if found:
            routines = conn.execute(
                sqlalchemy.text("SELECT routine_schema, routine_comment FROM information_schema.routines WHERE routine_name = :name"),
                {"name": MARKER_ROUTINE},
            ).all()
            for schema, comment in routines:
                if schema in found and not found[schema]:
                    found[schema] = comment or None
        return sorted(found.items())

    def inspect(self, conn):
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


def sql_for(dialect: str) -> _SQL:
    return PostgresSQL() if dialect == "postgresql" else MySQLSQL()


class Scratch:
    """A scratch database on a server, created and dropped through an admin (AUTOCOMMIT) engine."""

    def __init__(self, admin_url: URL, dialect: str, name: str, file_copy: bool = False, mark: Optional[str] = None, sql: Optional[_SQL] = None):
        self.admin_url = admin_url
        self.dialect = dialect
        self.name = name
        self.file_copy = file_copy
        self.mark = mark
        self.sql = sql or sql_for(dialect)
        self.engine = admin_engine(admin_url, keep=True)

    def _fail(self, action: str, exc: BaseException) -> DatabaseError:
        return DatabaseError(
            f"could not {action} scratch database {self.name} on {safe_url(self.admin_url)}: "
            f"{one_line(exc, url_secrets(self.admin_url))}"
        )

    def _do(self, action: str, *steps) -> None:
        try:
            with self.engine.connect() as conn:
                for step in steps:
                    step(conn)
        except (sqlalchemy.exc.SQLAlchemyError, RuntimeError) as exc:
            raise self._fail(action, exc) from None

    def _create(self, conn) -> None:
        self.sql.create(conn, self.name, self.mark, self.file_copy)

    def _drop(self, conn) -> None:
        self.sql.drop(conn, self.name)

    def create(self) -> None:
        self._do("create", self._create)

    def drop(self) -> None:
        self._do("drop", self._drop)

    def reset(self) -> None:
        self._do("reset", self._drop, self._create)

    def close(self) -> None:
        self.engine.dispose()
