"""Where a history's starting schema comes from, when its first revision does not start from an
empty database (config ``roundtrip-base-schema`` / ``roundtrip-base-stamp``, CLI
``--base-schema`` / ``--base-stamp``).

Many Flask applications build a new database with ``db.create_all()`` and stamp it; their first
revision alters tables no revision creates.  The round trip can start from:

``path/to/schema.sql``
    a SQL file run on every fresh scratch database (e.g. ``pg_dump --schema-only`` of a database
    at the revision before the first one).  Lines starting with a backslash (psql meta-commands
    such as ``\\connect`` or ``\\restrict``) are skipped.
``package.module:attribute``
    a SQLAlchemy ``MetaData``, or an object that has one as ``.metadata`` (a declarative base,
    Flask-SQLAlchemy's ``db``): ``metadata.create_all()`` on every fresh scratch database.  This
    imports project code (as the round trip does), under the same guard (guard.py).

``stamp``, a revision: the starting schema *is* that revision's schema (``create_all()`` of
today's models is the head's): the scratch database is stamped there, and that revision and its
ancestors are not round-tripped; the revisions after it are.  Without a stamp, every revision
runs on top of the starting schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from migration_lint.errors import ConfigError

MAX_SQL_BYTES = 64 * 1024 * 1024
_TARGET = re.compile(r"[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*\Z")


class BaseSchemaFailed(Exception):
    """The starting schema could not be built on the scratch database."""


@dataclass(frozen=True)
class BaseSchema:
    spec: str  # as written
    source: str  # where it was given: "--base-schema" or "<config file>: roundtrip-base-schema"
    sql: Optional[str] = None  # the SQL file's text (read once)
    target: Optional[str] = None  # module:attribute
    stamp: Optional[str] = None

    def describe(self) -> str:
        what = f"SQL file {self.spec}" if self.sql is not None else f"create_all() of {self.spec}"
        return what + (f", stamped at {self.stamp}" if self.stamp else "")


def parse(spec: Optional[str], stamp: Optional[str], root: Optional[str], source: str) -> Optional[BaseSchema]:
    """The base schema a user named, checked now (a bad value is a one-line error, exit 2)."""
    if spec is not None and not isinstance(spec, str) or stamp is not None and not isinstance(stamp, str):
        raise ConfigError(f"{source}: the base schema and its stamp must be strings")
    spec = (spec or "").strip()
    stamp = (stamp or "").strip() or None
    if not spec:
        if stamp:
            raise ConfigError(f"{source}: a base stamp ({stamp}) needs a base schema (a .sql file or module:attribute) to stamp")
        return None
    if spec.lower().endswith(".sql"):
        from migration_lint.safeio import read_text

        path = Path(spec)
        if not path.is_absolute() and root:
            path = Path(root) / path
        return BaseSchema(spec, source, sql=read_text(path, "base schema SQL file", MAX_SQL_BYTES), stamp=stamp)
    if _TARGET.match(spec):
        return BaseSchema(spec, source, target=spec, stamp=stamp)
    raise ConfigError(f"{source}: {spec!r} is neither a .sql file nor module:attribute (a SQLAlchemy MetaData, or an object with .metadata)")


def metadata_of(target: str):
    """Import ``module:attribute`` and return its MetaData."""
    import importlib

    from sqlalchemy import MetaData

    module_name, _, attribute = target.partition(":")
    obj = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    metadata = obj if isinstance(obj, MetaData) else getattr(obj, "metadata", None)
    if not isinstance(metadata, MetaData):
        raise BaseSchemaFailed(f"{target} is a {type(obj).__name__}, not a SQLAlchemy MetaData nor an object with .metadata")
    return metadata


def without_meta_commands(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("\\"))


def run_sql(url, sql: str) -> None:
    """Run a whole SQL script on the database at ``url``, on a connection of its own (a dump may
    change session settings, e.g. ``search_path``)."""
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    text = without_meta_commands(sql)
    backend = url.get_backend_name()
    connect_args = {}
    if backend in ("mysql", "mariadb"):
        try:  # several statements in one execute
            if url.get_driver_name() == "pymysql":
                from pymysql.constants import CLIENT
            else:
                from MySQLdb.constants import CLIENT  # type: ignore[no-redef]
            connect_args["client_flag"] = CLIENT.MULTI_STATEMENTS
        except ImportError:
            pass
    engine = sqlalchemy.create_engine(url, poolclass=NullPool, connect_args=connect_args)
    try:
        raw = engine.raw_connection()
        try:
            if backend == "sqlite":
                raw.driver_connection.executescript(text)
            else:
                cursor = raw.cursor()
                cursor.execute(text)
                while backend in ("mysql", "mariadb") and cursor.nextset():
                    pass
                cursor.close()
            raw.commit()
        finally:
            raw.close()
    finally:
        engine.dispose()
