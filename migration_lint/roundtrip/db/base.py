"""What every backend shares: the :class:`Database` it yields, the error it raises, drivers and
admin engines, version numbers."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from typing import Callable, List, Optional, Tuple

import sqlalchemy
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from migration_lint import dialects
from migration_lint.errors import MigrationLintError

TEMP_PREFIX = "migration-lint-"  # temp dirs: <tmp>/migration-lint-<kind>-<random>
SCRATCH_PREFIX = "migration_lint_"  # scratch databases: migration_lint_<hex>


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
    # what could not be cleaned up; filled when the ``with open_database(...)`` block has exited
    cleanup_failures: List[str] = dataclasses.field(default_factory=list, repr=False, compare=False)

    def reset(self) -> None:
        """Make the scratch database empty again (drop and recreate it).

        Open connections to the scratch database are terminated (PostgreSQL) or killed (MySQL);
        dispose of engines (or use NullPool) before calling this.
        """
        if self._reset is not None:
            self._reset()

    def __repr__(self) -> str:
        from migration_lint.roundtrip.db.redact import safe_url

        return f"Database(dialect={self.dialect!r}, url={safe_url(self.url)!r}, backend={self.backend!r}, description={self.description!r})"


def normalize_dialect(dialect: str) -> str:
    name = dialects.from_sqlalchemy_name(dialect)
    if name is None:
        raise DatabaseError(f"unknown dialect {dialect!r} for the round trip (expected postgresql, mysql or sqlite)")
    return name


def has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def pick_driver(dialect: str) -> str:
    candidates = (("psycopg2", "psycopg2"), ("psycopg", "psycopg"), ("pg8000", "pg8000")) if dialect == "postgresql" else (
        ("pymysql", "pymysql"), ("MySQLdb", "mysqldb"))
    for module, driver in candidates:
        if has_module(module):
            return driver
    hint = "psycopg2-binary" if dialect == "postgresql" else "pymysql"
    raise DatabaseError(f"no {dialects.display(dialect)} driver is installed; pip install {hint}")


def connect_args(url: URL, timeout: int = 5) -> dict:
    driver = url.get_driver_name()
    if driver in ("psycopg2", "psycopg", "pymysql", "mysqldb"):
        return {"connect_timeout": timeout}
    if driver == "pg8000":
        return {"timeout": timeout}
    return {}


def admin_engine(url: URL, keep: bool = False):
    """An AUTOCOMMIT engine; ``keep`` holds one connection open between uses (resets are frequent)."""
    pooling = {"pool_size": 1, "max_overflow": 2, "pool_pre_ping": True} if keep else {"poolclass": NullPool}
    return sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT", connect_args=connect_args(url), **pooling)


def version_tuple(text: str) -> Tuple[int, ...]:
    match = re.search(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", text)
    if not match:
        return ()
    return tuple(int(part) for part in match.groups() if part is not None)


def fmt_version(version) -> str:
    return ".".join(str(part) for part in version) if version else "?"
