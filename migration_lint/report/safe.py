"""Text that came from the checkout (file names, config values, messages quoting them), made inert
for where it is printed.

A CI runner reads every line a step prints: a line that starts with ``::`` (after blanks) is a
GitHub workflow command (``::add-mask::``, ``::error``, ``::stop-commands::``), and ``##[`` starts
one anywhere in a line.  A file named ``"x\\n::error::y.py"`` must not become one.  Workflow
commands migration-lint means to print (``--format github``) escape their data as GitHub's own
toolkit does instead (``report/github.py``).
"""

from __future__ import annotations

import re

ZWSP = "\u200b"  # invisible: the line reads the same, the runner no longer sees a command
_COMMAND_START = re.compile(r"^([^\S\n]*):(?=:)", re.M)
# C0 and C1 controls (ESC, CSI), line separators, and the bidi overrides that reorder what is shown
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def no_workflow_commands(text: str) -> str:
    """Every line of ``text`` inert for a CI runner, its visible characters unchanged."""
    if "::" not in text and "##[" not in text:
        return text
    return _COMMAND_START.sub(r"\1:" + ZWSP, text).replace("##[", "#" + ZWSP + "#[")


def json_inert(text: str) -> str:
    """JSON text inert for a CI runner and decoding to the same data: ``##[`` can occur only
    inside a string, where ``\\u0023`` means ``#``; and no line of our JSON starts with ``::``."""
    return text.replace("##[", "#\\u0023[")


def one_line(text: str) -> str:
    """A message on one line: control characters (a newline in a file name) shown as escapes."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def cut(text: str, limit: int = 200) -> str:
    """A line of source for a code frame: at most ``limit`` characters (the JSON report has all)."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
