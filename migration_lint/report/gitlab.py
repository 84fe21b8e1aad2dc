"""GitLab Code Quality report: a JSON array of issues, shown in merge requests (widget, diff gutter).

The format is GitLab's subset of the Code Climate issue format, documented at
https://docs.gitlab.com/ci/testing/code_quality/#code-quality-report-format: every issue has
``description``, ``check_name``, ``fingerprint``, ``severity`` (``info`` | ``minor`` | ``major`` |
``critical`` | ``blocker``), ``location.path`` (relative to the repository) and
``location.lines.begin``.  GitLab ignores every other field and rejects a byte order mark.
``tests/gitlab-codequality.schema.json`` writes that page down as a JSON Schema.

GitLab keys issues by fingerprint: two issues with one fingerprint show as one, and an issue whose
fingerprint also occurs on the target branch is not "new" in the merge request.  So the
fingerprint is the project's own (``Finding.fingerprint``): no line numbers in it, distinct for
identical findings, and the same value the JSON report, SARIF and baselines carry.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Optional

from migration_lint.model import with_fingerprints


# migration-lint has three severities, GitLab five.  GitLab merges the Code Quality reports of
# every job in the pipeline into one list, sorted blocker > critical > major > minor > info.
#   error -> critical: an error is what fails the job under the default --fail-on: a migration
#     that blocks writes to a production table, cannot run, or breaks `alembic upgrade head`.
#     That is an outage or a failed deploy, worse than the generic code-smell a linter reports
#     as "major" (the middle of GitLab's scale), so it sorts above those.  Not "blocker": whether
#     a lock hurts depends on the table's size and traffic, which static analysis cannot see
#     (the reason suppressions with a reason exist), so "cannot ship, whatever the context" would
#     claim more than a finding knows.
#   warning -> minor: worth a look (a missing lock_timeout, unanalysable SQL), not a failure.
#   info -> info: a note (an irreversible downgrade declared on purpose).
# "major" stays unused on purpose: the gap says a warning is well below an error.
SEVERITIES = {"error": "critical", "warning": "minor", "info": "info"}

MAX_FIX = 160  # characters: a fix up to this long (one line) joins the description


def _clean(text: str) -> str:
    """Text that encodes as UTF-8: a file name that is not UTF-8 reaches Python as lone surrogates
    (``surrogateescape``), which UTF-8 cannot carry and GitLab's parser would refuse; they become
    U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _first_line(text: str) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return " ".join(line.split())
    return ""


def description(finding) -> str:
    """The message's first line, then the fix when it is short: GitLab shows this one string per
    issue in the merge request widget and the diff, and nothing else of the finding."""
    text = _first_line(finding.message) or finding.rule
    fix = " ".join((finding.help or "").split())
    if fix and "\n" not in finding.help.strip() and len(fix) <= MAX_FIX:
        text = f"{text}{'' if text.endswith(('.', '!', '?')) else '.'} Fix: {fix}"
    return _clean(text)


def repository_path(path: str, root: str) -> str:
    """``path`` (relative to the working directory, as findings keep it) relative to ``root``, with
    forward slashes and no leading ``./``.  A path outside ``root`` stays relative (``../``);
    GitLab cannot place it on a line but still lists it."""
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute, os.path.abspath(root))
    except ValueError:  # pragma: no cover - another drive on Windows
        relative = path
    relative = relative.replace("\\", "/")  # as every report (and the fingerprint) writes paths
    while relative.startswith("./"):
        relative = relative[2:]
    return relative


def _root(root: Optional[str]) -> str:
    # In GitLab CI the job runs in $CI_PROJECT_DIR, the repository's root.  Anchoring on it keeps
    # paths right when migration-lint runs in a subfolder (`cd backend && migration-lint check`).
    return root or os.environ.get("CI_PROJECT_DIR") or os.getcwd()


def render_gitlab(result, root: Optional[str] = None) -> str:
    """The Code Quality report for a CheckResult; ``[]`` when there are no findings.

    ``root`` is the repository root the paths are made relative to (default: ``$CI_PROJECT_DIR``,
    else the working directory)."""
    base = _root(root)
    findings = [dataclasses.replace(f, path=repository_path(f.path, base)) for f in result.findings]
    if any(not f.fingerprint for f in findings):  # findings made outside the engine (tests, other tools)
        findings = with_fingerprints(findings)
    issues = []
    for finding in findings:
        fp = finding.fingerprint
        begin = max(finding.line, 1)
        issues.append(
            {
                "description": description(finding),
                "check_name": _clean(finding.rule),
                "fingerprint": fp,
                "severity": SEVERITIES[finding.severity],
                "location": {
                    "path": _clean(finding.path),
                    # ``end`` is ignored by GitLab; Code Climate's format, which other
                    # consumers read, requires it next to ``begin``.
                    "lines": {"begin": begin, "end": max(finding.end_line, begin)},
                },
            }
        )
    if not issues:
        return "[]"
    # One issue per line, written by the C encoder (``indent`` forces the slow pure-Python one,
    # as in json_report.py): a history with thousands of findings still renders at once.
    return "[\n  " + ",\n  ".join(json.dumps(issue, ensure_ascii=False) for issue in issues) + "\n]"
