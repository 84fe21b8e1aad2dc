"""GitHub Actions workflow commands: one annotation per finding."""

from __future__ import annotations

LEVELS = {"error": "error", "warning": "warning", "info": "notice"}


def _escape_data(value: str) -> str:
    """As GitHub's toolkit escapes command data; and ``##[`` (an old-style command anywhere in a
    line) split by an invisible space."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A").replace("##[", "#\u200b#[")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def render_github(result) -> str:
    lines = []
    for f in result.findings:
        body = f.message + (f" [{f.trace}]" if f.trace else "") + (f"\n{f.help}" if f.help else "")
        props = f"file={_escape_property(f.path.replace(chr(92), '/'))},line={f.line},col={f.column},title={_escape_property(f'migration-lint {f.rule}')}"
        lines.append(f"::{LEVELS[f.severity]} {props}::{_escape_data(body)}")
    return "\n".join(lines)
