"""What a revision reads from the database, and the enum types it names.

Two small things the Alembic front end records beside the operations:

- **reads** (``MigrationFile.reads``): reflection (``sa.inspect(bind)``, ``autoload_with=``,
  ``dialect.has_table(...)``), the rows of a query (``.fetchall()``, ``.scalar()``, iterating a
  result) and ORM sessions on the migration's connection.  None of them changes the schema, so they
  are not operations; but none of them can run under ``alembic upgrade --sql``, where the
  connection is a mock that has no database behind it (checked against Alembic 1.x and
  SQLAlchemy 2.x: ``NoInspectionAvailable``, ``'NoneType' object has no attribute 'fetchall'``).
  The walker in ``alembic_ops.py`` calls the predicates here with what it knows of the scope.
- **enum type names** (``MigrationFile.enum_types``): every ``Enum(..., name=...)`` and
  ``CREATE TYPE ... AS ENUM`` of a file, headers-only reads included, so that a rule can ask
  whether an earlier revision could have created a type.
"""

from __future__ import annotations

import ast
import re
from typing import Tuple

# Methods and attributes of a query's result (CursorResult / Result): reading them needs rows.
RESULT_MEMBERS = frozenset({
    "fetchall", "fetchone", "fetchmany", "first", "one", "one_or_none", "all", "scalar", "scalar_one",
    "scalar_one_or_none", "scalars", "mappings", "partitions", "keys", "rowcount", "returned_defaults",
    "inserted_primary_key", "lastrowid", "tuples", "columns", "unique", "freeze", "yield_per",
})
# Connection methods that return rows themselves (Connection.scalar / scalars in SQLAlchemy 2.x).
CONNECTION_READS = frozenset({"scalar", "scalars"})
# Calls that consume an iterable result.
CONSUMERS = frozenset({"list", "tuple", "set", "dict", "next", "sorted", "len", "enumerate", "zip"})
# Dialect methods that reflect (``bind.dialect.has_table(bind, "t")``).
DIALECT_REFLECTION = frozenset({
    "has_table", "has_index", "has_sequence", "has_schema", "has_type", "get_columns", "get_indexes",
    "get_table_names", "get_view_names", "get_unique_constraints", "get_foreign_keys", "get_pk_constraint",
    "get_check_constraints", "get_schema_names", "get_enums", "get_sequence_names",
})
# Session methods that do not touch the connection.
SESSION_HARMLESS = frozenset({"close", "add", "add_all", "expunge", "expunge_all", "delete", "begin", "begin_nested", "rollback", "is_modified", "__enter__", "__exit__"})

_CREATE_ENUM = re.compile(r"CREATE\s+TYPE\s+(?:IF\s+NOT\s+EXISTS\s+)?([\"`\w.]+)\s+AS\s+ENUM", re.I)


def enum_mentions(tree: ast.Module, text: str) -> Tuple[Tuple[str, ...], bool]:
    """(enum type names the file names, whether it calls ``create_all``)."""
    creates_from_models = "create_all(" in text
    if "num" not in text and "NUM" not in text:
        return (), creates_from_models
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _tail(node.func) in ("Enum", "ENUM"):
            for keyword in node.keywords:
                if keyword.arg == "name" and isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, str):
                    names.append(keyword.value.value)
    for match in _CREATE_ENUM.finditer(text):
        names.append(match.group(1).split(".")[-1].strip('"`'))
    return tuple(dict.fromkeys(names)), creates_from_models


def _tail(node: ast.expr):
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None
