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

from typing import List

from migration_lint.frontend.sql_common import one_line, raw_op
from migration_lint.model import Operation

__all__ = ["sql_to_operations"]


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


