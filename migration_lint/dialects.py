"""The target dialects migration-lint knows, their spellings, default server versions and
display names: one table for config, discovery, the front end and the round trip."""

from __future__ import annotations

from typing import Dict, Optional, Tuple

DIALECTS = ("postgresql", "mysql", "sqlite")

# Every spelling users write (config, --dialect, URL schemes, versions/<dialect>/ folders,
# ``context.get_context().dialect.name``) -> the dialect.  MariaDB is checked as MySQL.
ALIASES: Dict[str, str] = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "pg": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
}

# Spellings that are also SQLAlchemy URL schemes / dialect names ("pg" is only ours).
URL_SCHEMES = frozenset(name for name in ALIASES if name != "pg")

DEFAULT_VERSIONS: Dict[str, Tuple[int, ...]] = {"postgresql": (14,), "mysql": (8, 0), "sqlite": (3, 35)}

DISPLAY_NAMES = {"postgresql": "PostgreSQL", "mysql": "MySQL/MariaDB", "sqlite": "SQLite"}

# Major versions each dialect has had (MariaDB's 10 and 11 count as MySQL): a server version
# outside them was meant for another dialect.
MAJOR_VERSIONS = {"postgresql": range(9, 40), "mysql": range(5, 20), "sqlite": range(3, 4)}


def canonical(name: Optional[str]) -> Optional[str]:
    """The dialect a spelling stands for (``postgresql+psycopg2`` counts as postgresql), or None."""
    if not name:
        return None
    return ALIASES.get(str(name).lower().split("+")[0])


def from_sqlalchemy_name(name: Optional[str]) -> Optional[str]:
    """The dialect of a name SQLAlchemy itself would use: a URL scheme (``postgresql+psycopg2``),
    ``dialect.name`` in a migration, a ``versions/<name>/`` folder.  None for others (mssql,
    oracle) and for spellings only users write (``pg``)."""
    if not name:
        return None
    base = str(name).lower().split("+")[0]
    return ALIASES[base] if base in URL_SCHEMES else None


def plausible_version(dialect: str, version: Tuple[int, ...]) -> bool:
    majors = MAJOR_VERSIONS.get(dialect)
    return majors is None or (bool(version) and version[0] in majors)


def display(dialect: str) -> str:
    return DISPLAY_NAMES.get(dialect, dialect)
