"""SQL text front end: the statements passed to ``op.execute(...)`` as normalised operations.

PostgreSQL is read with pglast (the real PostgreSQL parser); every other dialect with sqlglot.
The readers live apart: ``sql_postgres.py`` (pglast) and ``sql_generic.py`` (sqlglot); this module
chooses one and holds what both share.  Both parsers are imported lazily, so importing this module
stays cheap.

``sql_to_operations`` never raises: SQL that cannot be parsed becomes one ``RAW_SQL`` operation
whose ``attrs['reason']`` is the parser's message; statements that parse but are not modelled
(GRANT, COMMENT ON, CREATE FUNCTION, DO blocks, SELECT ...) become ``OTHER_SQL`` operations with
``attrs['statement']`` naming the parsed node.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Iterable, List, Optional, Tuple

from migration_lint.model import (
    OTHER_SQL,
    RAW_SQL,
    Operation,
)

__all__ = ["sql_to_operations"]

TIMEOUT_SETTINGS = ("lock_timeout", "statement_timeout")

LENGTH_TYPES = frozenset(
    {"varchar", "char", "nvarchar", "nchar", "binary", "varbinary", "bit", "bit varying"}
)
NUMERIC_TYPES = frozenset({"numeric", "decimal"})

_STRIP_TRAILING_SEMICOLONS = re.compile(r"[\s;]+$")
_TOKEN_REPR = re.compile(r"<Token token_type: [\w.]+, text: (.*?), line: \d+, col: \d+, start: \d+, end: \d+, comments: \[.*?\]>")


def sql_to_operations(sql: str, dialect: str, base: Operation) -> List[Operation]:
    """Normalised operations for the SQL text of one ``op.execute`` call.

    ``dialect`` is 'postgresql', 'mysql' (MariaDB too), 'sqlite' or any dialect sqlglot knows
    (an unknown one is read with sqlglot's generic parser).  Results are copies of ``base``
    (position, phase, context, dialect guards, call) with ``source='sql'`` and ``sql`` set to the
    statement's text.
    """
    if not isinstance(sql, str) or not sql.strip():
        return []
    dialect = (dialect or "").lower()
    try:
        # each reader is imported on first use: its parser (pglast's C extension, sqlglot) costs
        # startup time that histories without SQL never pay
        if dialect in ("postgresql", "postgres", "pg"):
            from migration_lint.frontend.sql_postgres import PgReader

            return PgReader(sql, base).run()
        from migration_lint.frontend.sql_generic import GlotReader

        return GlotReader(sql, dialect, base).run()
    except Exception as exc:  # never raise: the linter must keep going
        return [raw_op(base, sql, f"could not analyse SQL: {one_line(exc)}")]


# --- shared helpers ----------------------------------------------------------------------------


def one_line(exc: Any) -> str:
    text = str(exc).strip() or type(exc).__name__
    text = _TOKEN_REPR.sub(lambda m: repr(m.group(1)), text)  # sqlglot's token dumps
    return text.splitlines()[0].strip()


def clean(text: str) -> str:
    return _STRIP_TRAILING_SEMICOLONS.sub("", text.strip())


def make_op(base: Operation, kind: str, text: str, **fields: Any) -> Operation:
    values = {
        "table": None,
        "schema": None,
        "name": None,
        "columns": (),
        "column": None,
        "table_columns": (),
        "attrs": {},
    }
    values.update(fields)
    return dataclasses.replace(base, kind=kind, source="sql", sql=text, **values)


def raw_op(base: Operation, sql: str, reason: str) -> Operation:
    return make_op(base, RAW_SQL, clean(sql), attrs={"reason": reason})


def other_op(base: Operation, text: str, statement: str, **attrs: Any) -> Operation:
    attrs = {"statement": statement, **attrs}
    return make_op(base, OTHER_SQL, text, attrs=attrs)


def split_name(parts: Iterable[str]) -> Tuple[Optional[str], Optional[str]]:
    parts = [p for p in parts if p is not None]
    if not parts:
        return None, None
    name = parts[-1]
    schema = parts[-2] if len(parts) >= 2 else None
    return schema, name


