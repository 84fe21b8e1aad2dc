"""Markdown for a GitHub job summary or pull-request comment: verdict, counts, a table of findings.

It renders the JSON report (``{"findings": [...], "summary": {...}}``, see ``json_report.py``), so a
CI step can turn the output of one ``migration-lint check --format json`` run into a summary
without checking again; ``render_markdown(result, catalogue)`` does the same for a CheckResult.

Everything that comes from a migration file (messages quote table, column and index names) is
escaped: Markdown punctuation, table pipes, HTML and @mentions cannot change the page.
"""

from __future__ import annotations

import html
import json
import re
from typing import Callable, Dict, Iterable, List, Optional
from urllib.parse import quote

from migration_lint import __version__
from migration_lint.catalogue import builtin_docs_url, builtin_rule_names
from migration_lint.model import SEVERITIES, count_of, most_severe_first, reaches
from migration_lint.report.safe import one_line

MARKER = "<!-- migration-lint -->"
ICONS = {"error": ":x:", "warning": ":warning:", "info": ":information_source:"}
MAX_FINDINGS = 100  # rows in the table; the rest are counted
MAX_CELL = 600  # characters of one message line in a cell
MAX_DETAIL_LINES = 60  # lines of a round-trip diff shown in <details>
MAX_TRACE_ROWS = 50  # rows of the lock timeline (--trace)

def _text(value: str) -> str:
    """Plain text for Markdown (inside a table cell too): no emphasis, links, HTML or mentions."""
    value = one_line(value)  # a newline in a file name would end the table row
    value = html.escape(value, quote=False)  # & < > as entities: no tags, no comments
    value = re.sub(r"([\\`*_\[\]~|#!])", r"\\\1", value)
    value = value.replace("://", ":\u200b//").replace("www.", "www\u200b.")  # no autolinks
    return value.replace("@", "@\u200b")  # no @mentions / team pings in comments


def _code(value: str) -> str:
    """A code span that survives any content (backticks, pipes inside a table, newlines)."""
    value = one_line(value).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") or not value.strip() else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def inline(value: str) -> str:
    """One line of a message: `quoted code` stays code, everything else is escaped text."""
    parts = value.split("`")
    if len(parts) % 2 == 0:  # an odd number of backticks: the last one is text
        parts[-2:] = [parts[-2] + "`" + parts[-1]]
    out = []
    for index, part in enumerate(parts):
        if index % 2:
            out.append(_code(part) if part else "``")
        elif part:
            out.append(_text(part))
    return "".join(out)


def _shorten(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "\u2026"


def _plural(count: int, word: str) -> str:
    if word == "info":
        return f"{count} info"
    return f"{count} {word}{'' if count == 1 else 's'}"


def blob_url(server_url: str, repository: str, sha: str) -> Optional[str]:
    """``https://github.com/o/r/blob/<sha>/`` when all three are known, else None."""
    if not (server_url and repository and sha):
        return None
    return f"{server_url.rstrip('/')}/{repository}/blob/{sha}/"


def _location(finding: dict, blob: Optional[str]) -> str:
    path = str(finding.get("path") or "")
    line = finding.get("line") or 0
    label = f"{path}:{line}" if line else path
    if not blob or not path or path.startswith(("/", "../")):
        return _code(label)
    anchor = ""
    if line:
        end = finding.get("end_line") or line
        anchor = f"#L{line}" + (f"-L{end}" if end > line else "")
    return f"[{_code(label)}]({blob}{quote(path, safe='/')}{anchor})"


def _rule(name: str, docs: Callable[[str], Optional[str]]) -> str:
    url = docs(name)
    return f"[{_code(name)}]({url})" if url else _code(name)


def _message(finding: dict, max_cell: int) -> str:
    lines = [line for line in str(finding.get("message") or "").split("\n")]
    first, rest = lines[0], [line for line in lines[1:] if line.strip()]
    cell = inline(_shorten(first, max_cell))
    if rest:  # round-trip diffs: one difference per line, folded
        shown = rest[:MAX_DETAIL_LINES]
        body = "<br>".join(_indent(inline(_shorten(line, max_cell))) for line in shown)
        if len(rest) > len(shown):
            body += f"<br>\u2026 and {count_of(len(rest) - len(shown), 'more line')}"
        noun = "line" if len(rest) == 1 else "lines"
        cell += f"<details><summary>{len(rest)} more {noun}</summary>{body}</details>"
    trace = str(finding.get("trace") or "").strip()
    if trace:  # --trace: what the lock trace saw here
        cell += f"<br><sub>{inline(_shorten(trace, max_cell))}</sub>"
    help_text = str(finding.get("help") or "").strip()
    if help_text:
        cell += f"<br><sub>Fix: {inline(_shorten(' '.join(help_text.split()), max_cell))}</sub>"
    return cell


def _indent(cell_text: str) -> str:
    stripped = cell_text.lstrip(" ")
    return "&nbsp;" * (len(cell_text) - len(stripped)) + stripped


def _docs_lookup(catalogue) -> Callable[[str], Optional[str]]:
    if catalogue is None:  # the built-in rules' pages, known from their file names alone
        try:
            names = builtin_rule_names()
        except Exception:  # a summary without links beats no summary
            return lambda name: None
        return lambda name: builtin_docs_url(name) if name in names else None

    def docs(name: str) -> Optional[str]:
        if name not in catalogue:
            return None
        rule = catalogue.get(name)
        return rule.docs_url() if getattr(rule, "builtin", True) else None

    return docs


def counts(report: dict) -> Dict[str, int]:
    found = {severity: 0 for severity in reversed(SEVERITIES)}
    for finding in report.get("findings", []):
        if finding.get("severity") in found:
            found[finding["severity"]] += 1
    return found


def failed(report: dict, fail_on: str = "error") -> bool:
    return any(reaches(str(finding.get("severity")), fail_on) for finding in report.get("findings", []))


def _sort_key(finding: dict):
    return (most_severe_first(str(finding.get("severity"))), str(finding.get("path") or ""), finding.get("line") or 0, finding.get("column") or 0, str(finding.get("rule")))


def _heading(report: Optional[dict], fail_on: str, exit_code: Optional[int], title: str) -> str:
    if report is None or exit_code not in (None, 0, 1):
        code = f" (exit code {exit_code})" if exit_code is not None else ""
        return f"## :boom: {title} could not run{code}"
    found = counts(report)
    total = sum(found.values())
    if total == 0:
        return f"## :white_check_mark: {title}: no findings"
    parts = ", ".join(_plural(found[s], s) for s in found if found[s])
    if failed(report, fail_on):
        return f"## :x: {title} failed: {parts}"
    return f"## :heavy_check_mark: {title} passed with {parts}"


def render_markdown_report(
    report: Optional[dict],
    *,
    catalogue=None,
    fail_on: str = "error",
    exit_code: Optional[int] = None,
    blob: Optional[str] = None,
    scope: Optional[str] = None,
    error: Optional[str] = None,
    max_findings: int = MAX_FINDINGS,
    max_chars: Optional[int] = None,
    title: str = "migration-lint",
    marker: bool = False,
) -> str:
    """Markdown for a JSON report (None when the check produced none; ``error`` says why).

    ``blob`` links locations (``https://github.com/o/r/blob/<sha>/``), ``scope`` says what was
    checked, ``max_chars`` shrinks the table until the text fits (a PR comment holds 65,536).
    """
    docs = _docs_lookup(catalogue)
    rows = max_findings
    while True:
        text = _render(report, docs, fail_on, exit_code, blob, scope, error, rows, title, marker)
        if max_chars is None or len(text) <= max_chars or rows == 0:
            return text
        rows = rows // 2


def _render(report, docs, fail_on, exit_code, blob, scope, error, rows, title, marker) -> str:
    out: List[str] = []
    if marker:
        out += [MARKER]
    out += [_heading(report, fail_on, exit_code, title), ""]
    if report is None:
        out.append(inline(error) if error else "No report was written; the job log says why.")
        out += ["", _footer(None, scope)]
        return "\n".join(out) + "\n"
    found = counts(report)
    summary = report.get("summary", {})
    files = summary.get("files")
    checked = f" ({files} file{'' if files == 1 else 's'} checked)" if isinstance(files, int) else ""
    out.append(
        f"| :x: errors | :warning: warnings | :information_source: info |\n| ---: | ---: | ---: |\n"
        f"| {found['error']} | {found['warning']} | {found['info']} |"
    )
    out.append("")
    findings = sorted(report.get("findings", []), key=_sort_key)
    threshold = f"the run fails on {fail_on}" + ("" if fail_on == "info" else " and above")
    if findings:
        out.append(f"{len(findings)} finding{'' if len(findings) == 1 else 's'}{checked}; {threshold}.")
        out.append("")
        shown = findings[:rows]
        if shown:
            out.append("| | rule | location | message |")
            out.append("| --- | --- | --- | --- |")
            for finding in shown:
                severity = finding.get("severity", "")
                icon = ICONS.get(severity, "")
                out.append(
                    f"| {icon} {_text(severity)} | {_rule(str(finding.get('rule', '')), docs)} "
                    f"| {_location(finding, blob)} | {_message(finding, MAX_CELL)} |"
                )
        hidden = len(findings) - len(shown)
        if hidden:
            out += ["", f"\u2026 and {hidden} more finding{'' if hidden == 1 else 's'} (see the annotations and the job log)."]
    else:
        out.append(f"No findings{checked}.")
    timeline = _lock_timeline(summary, blob, min(rows, MAX_TRACE_ROWS))
    if timeline:
        out += ["", *timeline]
    if error:
        out += ["", inline(error)]
    out += ["", _footer(summary, scope)]
    return "\n".join(out) + "\n"


def _held(row: dict) -> str:
    if not row.get("mode"):
        return "-"
    ms = row.get("held_ms")
    text = f"{ms:.0f} ms" if isinstance(ms, (int, float)) else "?"
    return text + {"statement": " (while it ran)", "open": " (still held)", "rollback": " (rolled back)", "savepoint": " (savepoint)"}.get(str(row.get("released")), "")


def _lock_timeline(summary: dict, blob: Optional[str], limit: int) -> List[str]:
    """--trace: per traced revision, each pre-existing table it locked at SHARE UPDATE EXCLUSIVE
    or stronger (or rewrote): the strongest lock, what it blocks, how long it was held, the line."""
    from migration_lint.roundtrip.locks import SHARE_UPDATE_EXCLUSIVE, strength

    environments = [env for env in summary.get("environments") or [] if (env.get("roundtrip") or {}).get("traced")]
    if not environments:
        return []
    rows, holds, total = [], [], 0
    for env in environments:
        for revision in env["roundtrip"].get("revisions") or []:
            hold = str(revision.get("hold_model") or "")
            for row in revision.get("timeline") or []:
                if strength(str(row.get("mode") or "")) < strength(SHARE_UPDATE_EXCLUSIVE) and not row.get("rewritten"):
                    continue
                total += 1
                if hold and hold not in holds:
                    holds.append(hold)
                if len(rows) >= limit:
                    continue
                mode = str(row.get("mode") or "-") + (" (documented)" if row.get("inferred") else "")
                where = _location({"path": revision.get("path"), "line": row.get("line")}, blob)
                rows.append(
                    f"| {_code(str(revision.get('revision', '')))} | {_text(str(row.get('table', '')))} | {_text(mode)} "
                    f"| {_text(str(row.get('blocks') or '-'))} | {_held(row)} | {where} | {'yes' if row.get('rewritten') else ''} |"
                )
    out = ["### Lock trace", ""]
    if not total:
        return out + ["No revision locked a table that existed before it at SHARE UPDATE EXCLUSIVE or stronger, and none rewrote one."]
    out += ["| revision | table | strongest lock | blocks | held for | line | rewritten |", "| --- | --- | --- | --- | ---: | --- | --- |", *rows]
    if total > len(rows):
        out += ["", f"\u2026 and {count_of(total - len(rows), 'more row')} (see the JSON report)."]
    out += [""] + [f"<sub>Held: {_text(hold)}.</sub>" for hold in holds]
    return out


def _environments(summary: dict) -> Iterable[str]:
    for env in summary.get("environments") or []:
        names = env.get("heads") or []
        heads = f"head {_text(names[0])}" if len(names) == 1 else f"heads {_text(', '.join(names))}" if names else "no head"
        yield (
            f"{_code(str(env.get('name', '')))}: {count_of(env['revisions'], 'revision') if isinstance(env.get('revisions'), int) else '? revisions'}, "
            f"{env.get('dialect', '?')} {env.get('server_version', '')}, {heads}"
        )


def _footer(summary: Optional[dict], scope: Optional[str]) -> str:
    parts = []
    if scope:
        parts.append(inline(scope))
    envs = list(_environments(summary or {}))
    if envs:
        parts.append("; ".join(envs))
    parts.append(
        f"[migration-lint](https://github.com/migration-lint/migration-lint) {__version__}; "
        "`migration-lint explain RULE` says why and how to fix it."
    )
    return "<sub>" + "<br>".join(parts) + "</sub>"


def render_markdown(result, catalogue=None, **options) -> str:
    """Markdown for a CheckResult (the same as for its JSON report)."""
    from migration_lint.report.json_report import render_json

    return render_markdown_report(json.loads(render_json(result)), catalogue=catalogue, **options)
