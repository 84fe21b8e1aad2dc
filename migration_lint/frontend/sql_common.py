"""What the two SQL readers (sql_postgres.py, sql_generic.py) share: building operations from a
statement, and small text helpers."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Iterable, Optional, Tuple

from migration_lint.model import (
    OTHER_SQL,
    RAW_SQL,
    Operation,
)

TIMEOUT_SETTINGS = ("lock_timeout", "statement_timeout")

LENGTH_TYPES = frozenset(
    {"varchar", "char", "nvarchar", "nchar", "binary", "varbinary", "bit", "bit varying"}
)
NUMERIC_TYPES = frozenset({"numeric", "decimal"})

_STRIP_TRAILING_SEMICOLONS = re.compile(r"[\s;]+$")
_TOKEN_REPR = re.compile(r"<Token token_type: [\w.]+, text: (.*?), line: \d+, col: \d+, start: \d+, end: \d+, comments: \[.*?\]>")


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


