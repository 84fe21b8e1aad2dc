"""Declarative matches: a mapping of fact -> expected value, evaluated against one operation.

    match:
      kind: create_index            # equality
      table_is_new: false
      concurrently: false
      column.server_default: null   # dotted paths reach into the operation's column spec
      server_version: {lt: 11}      # operators: not, in, not_in, lt, le, gt, ge, exists
      any:                          # boolean combination: any / all / not
        - {unique: true}
        - {where: true}

A list as expected value means "one of".  Facts are the operation's fields and attrs plus what the
engine knows of its place (table_is_new, in_batch, in_autocommit, dialect, server_version).
"""

from __future__ import annotations

from typing import Any, Optional

from migration_lint.model import Operation

OPERATORS = {"not", "in", "not_in", "lt", "le", "gt", "ge", "exists"}
COMBINATORS = {"any", "all", "not"}


class Facts:
    """Lazy view over an operation and its context: ``facts['column.nullable']``."""

    __slots__ = ("op", "extra")

    def __init__(self, op: Operation, extra: dict):
        self.op = op
        self.extra = extra

    def get(self, key: str) -> Any:
        head, _, rest = key.partition(".")
        value = self._top(head)
        while rest:
            part, _, rest = rest.partition(".")
            if value is None:
                return None
            value = value.get(part) if isinstance(value, dict) else getattr(value, part, None)
        return value

    def _top(self, key: str) -> Any:
        if key in self.extra:
            return self.extra[key]
        op = self.op
        if key == "column" and op.column is None and op.columns:
            return op.columns[0]
        if hasattr(op, key) and key != "get":
            return getattr(op, key)
        return op.attrs.get(key)


def matches(match: dict, facts: Facts) -> bool:
    for key, expected in match.items():
        if key == "any":
            if not any(matches(sub, facts) for sub in expected):
                return False
        elif key == "all":
            if not all(matches(sub, facts) for sub in expected):
                return False
        elif key == "not" and isinstance(expected, dict) and not _is_operator(expected):
            if matches(expected, facts):
                return False
        elif not _compare(facts.get(key), expected):
            return False
    return True


def _is_operator(value) -> bool:
    return isinstance(value, dict) and value and set(value) <= OPERATORS


def _compare(actual: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        for operator, operand in expected.items():
            if operator == "not" and _compare(actual, operand):
                return False
            if operator == "in" and actual not in operand:
                return False
            if operator == "not_in" and actual in operand:
                return False
            if operator == "exists" and (actual is not None) != bool(operand):
                return False
            if operator in ("lt", "le", "gt", "ge"):
                left, right = _comparable(actual), _comparable(operand)
                if left is None or right is None:
                    return False
                if operator == "lt" and not left < right:
                    return False
                if operator == "le" and not left <= right:
                    return False
                if operator == "gt" and not left > right:
                    return False
                if operator == "ge" and not left >= right:
                    return False
        return True
    if isinstance(expected, list):
        return any(_compare(actual, e) for e in expected)
    if expected is False:
        return actual is False or actual is None or actual == ()
    return actual == expected


def _comparable(value):
    """Numbers and versions compare as tuples ((14,), (10, 11)); anything else does not compare."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, tuple):
        return value if all(isinstance(v, (int, float)) for v in value) else None
    if isinstance(value, (int, float)):
        return (value,)
    try:
        return tuple(int(p) for p in str(value).split("."))
    except ValueError:
        return None


def validate_match(match: Any, depth: int = 0) -> Optional[str]:
    if not isinstance(match, dict) or not match:
        return "expected a non-empty mapping"
    for key, value in match.items():
        if key in ("any", "all"):
            if not isinstance(value, list) or not value:
                return f"'{key}' takes a list of matches"
            for sub in value:
                problem = validate_match(sub, depth + 1)
                if problem:
                    return problem
        elif key == "not" and isinstance(value, dict) and not _is_operator(value):
            problem = validate_match(value, depth + 1)
            if problem:
                return problem
        elif isinstance(value, dict):
            unknown = set(value) - OPERATORS
            if unknown:
                return f"{key}: unknown operators {sorted(unknown)}"
            for operator in ("lt", "le", "gt", "ge"):
                if operator in value and _comparable(value[operator]) is None:
                    return f"{key}: '{operator}' needs a number or a version like 11 or 10.5, got {value[operator]!r}"
            if "in" in value or "not_in" in value:
                if not isinstance(value.get("in", value.get("not_in")), list):
                    return f"{key}: 'in' / 'not_in' take a list"
        if key == "kind":
            kinds = value if isinstance(value, list) else value.get("in", value.get("not_in", [])) if isinstance(value, dict) else [value]
            unknown = [k for k in (kinds if isinstance(kinds, list) else [kinds]) if k not in KINDS]
            if unknown:
                return f"kind: unknown operation kind(s) {unknown} (see migration_lint/model.py)"
    return None


def _kinds() -> frozenset:
    from migration_lint import model

    return frozenset(v for k, v in vars(model).items() if k.isupper() and isinstance(v, str) and k not in ("UPGRADE", "DOWNGRADE"))


KINDS = _kinds()
