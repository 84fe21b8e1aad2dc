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

A list as expected value means "one of".  The facts a match may name are declared in facts.py;
rule files are validated against them when they load.
"""

from __future__ import annotations

from typing import Any, Optional

from migration_lint.facts import Facts, problem_with

OPERATORS = {"not", "in", "not_in", "lt", "le", "gt", "ge", "exists"}
COMBINATORS = {"any", "all", "not"}
MAX_DEPTH = 32  # nesting of any/all/not: deeper is a mistake (or an attack on the loader)


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
    """Why a match cannot be evaluated as written (unknown fact, operator or kind, a wrong value),
    or None."""
    if depth > MAX_DEPTH:
        return f"nested more than {MAX_DEPTH} levels deep"
    if not isinstance(match, dict) or not match:
        return "expected a non-empty mapping"
    for key, value in match.items():
        if not isinstance(key, str):
            return f"a match key must be a fact name, got {key!r}"
        if key in ("any", "all"):
            if not isinstance(value, list) or not value:
                return f"'{key}' takes a list of matches"
            for sub in value:
                problem = validate_match(sub, depth + 1)
                if problem:
                    return problem
            continue
        if key == "not" and isinstance(value, dict) and not _is_operator(value):
            problem = validate_match(value, depth + 1)
            if problem:
                return problem
            continue
        if isinstance(value, dict):
            unknown = set(value) - OPERATORS
            if unknown:
                return f"{key}: unknown operators {sorted(map(str, unknown))} (use {', '.join(sorted(OPERATORS))})"
            for operator in ("lt", "le", "gt", "ge"):
                if operator in value and _comparable(value[operator]) is None:
                    return f"{key}: '{operator}' needs a number or a version like 11 or 10.5, got {value[operator]!r}"
            for operator in ("in", "not_in"):
                if operator in value and not isinstance(value[operator], list):
                    return f"{key}: '{operator}' takes a list"
            operands = [v for op, v in value.items() if op in ("in", "not_in")]
            expected = [x for operand in operands for x in operand] + [v for op, v in value.items() if op == "not"]
        else:
            expected = value
        problem = problem_with(key, expected)
        if problem:
            return problem
    return None
