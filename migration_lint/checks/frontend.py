"""Problems the front end found while reading files (syntax errors, bad headers)."""

from __future__ import annotations

from migration_lint.engine import Hit


def problems(rule, run):
    """Every file, in scope or not: a broken file anywhere breaks ``alembic upgrade``."""
    for file in run.all_files:
        for problem in file.problems:
            if problem.rule == rule.name:
                yield Hit(None, problem.line, problem.message, phase=problem.phase, path=file.path, revision=file.revision, column=problem.column_offset + 1)
