"""Revision headers (``revision``, ``down_revision``, ``branch_labels``, ``depends_on``): their values,
and a token-level reader for files too large to parse.

A revision file of megabytes (generated data, a pasted dump) would cost gigabytes in a syntax
tree; the revision graph only needs its headers.  The tokenizer reads them as a stream, in
constant memory, and stops once all four are seen.
"""

from __future__ import annotations

import ast
import tokenize
from typing import BinaryIO, Optional

from migration_lint import rule_ids
from migration_lint.model import MigrationFile, Problem

HEADER_NAMES = ("revision", "down_revision", "branch_labels", "depends_on")


def header_values(literal) -> Optional[tuple]:
    """A header's value as a tuple of ids: None -> (), "a" -> ("a",); None if it is not one."""
    if literal is None:
        return ()
    if isinstance(literal, str):
        return (literal,)
    if isinstance(literal, tuple) and all(isinstance(v, str) for v in literal):
        return literal
    return None


def set_header(result: MigrationFile, name: str, values: tuple) -> None:
    if name == "down_revision":
        result.down_revision, result.down_revision_given = tuple(values), True
    elif name == "branch_labels":
        result.branch_labels = tuple(values)
    elif name == "depends_on":
        result.depends_on = tuple(values)


def too_large(handle: BinaryIO, path: str, size: int, limit: int) -> MigrationFile:
    """A file over the size limit: its headers from the token stream, and a ``file-too-large``
    problem saying that nothing else of it was analysed."""
    result = MigrationFile(path=path, headers_only=True, too_large=size)
    try:
        _read_headers(handle, result)
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError, ValueError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        result.problems.append(Problem(rule_ids.SYNTAX_ERROR, 1, f"cannot read the file's headers: {detail}"))
    result.problems.append(
        Problem(
            rule_ids.FILE_TOO_LARGE,
            result.header_lines.get("revision", 1),
            f"the file is {_size(size)}, over the {_size(limit)} limit (max-file-size): its headers were read, "
            "its upgrade() and downgrade() were not analysed",
        )
    )
    return result


def _read_headers(handle: BinaryIO, result: MigrationFile) -> None:
    """Module-level ``name = <literal>`` / ``name: T = <literal>`` statements of the header names,
    read token by token.  Stops when all four are seen, or at the first top-level ``def`` or
    ``class`` once ``revision`` and ``down_revision`` are (Alembic's template states the headers
    before any function; reading megabytes of ``upgrade()`` token by token takes seconds)."""
    depth = 0
    pending = None  # (name, line) of a header statement being read
    parts: list = []
    seen = set()
    for token in tokenize.tokenize(handle.readline):
        kind, text = token.type, token.string
        if kind == tokenize.OP and text in "([{":
            depth += 1
        elif kind == tokenize.OP and text in ")]}":
            depth = max(depth - 1, 0)
        if pending is not None:
            if kind in (tokenize.NEWLINE, tokenize.ENDMARKER) and depth == 0:
                _take(result, pending, " ".join(parts))
                seen.add(pending[0])
                pending, parts = None, []
                if len(seen) == len(HEADER_NAMES):
                    return
            elif kind not in (tokenize.COMMENT, tokenize.NL):
                parts.append(text)
        elif kind == tokenize.NAME and depth == 0 and token.start[1] == 0 and text in HEADER_NAMES:
            pending = (text, token.start[0])
        elif kind == tokenize.NAME and token.start[1] == 0 and text in ("def", "class") and {"revision", "down_revision"} <= seen:
            return


def _take(result: MigrationFile, pending, text: str) -> None:
    """Record ``= <literal>`` (or ``: T = <literal>``) read after a header name."""
    name, line = pending
    if "=" not in text:
        return  # an annotation alone: no value
    expression = text.split("=", 1)[1].strip()
    try:
        literal = ast.literal_eval(expression)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return
    values = header_values(tuple(literal) if isinstance(literal, list) else literal)
    if values is None:
        return
    result.header_lines.setdefault(name, line)
    if name == "revision":
        if len(values) == 1:
            result.revision = values[0]
    else:
        set_header(result, name, values)


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB"
    return f"{size // 1024} KB" if size >= 1024 else f"{size} bytes"
