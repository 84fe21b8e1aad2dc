"""Human output: findings grouped by file, with a code frame and the fix, then a summary line."""

from __future__ import annotations

import io
from itertools import groupby

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.text import Text

from migration_lint.model import SEVERITIES, count_of, source_lines
from migration_lint.report import environment_facts
from migration_lint.report.safe import cut, one_line

STYLES = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _frame(path: str, line: int, cache: dict, context: int = 1):
    if path not in cache:
        try:
            with open(path, encoding="utf-8", errors="replace", newline="") as handle:
                cache[path] = [line.rstrip("\r\n") for line in source_lines(handle.read())]
        except OSError:
            cache[path] = None
    lines = cache[path]
    if not lines or line < 1 or line > len(lines):
        return []
    start, end = max(1, line - context), min(len(lines), line + context)
    return [(n, lines[n - 1], n == line) for n in range(start, end + 1)]


def render_text(result, color: bool = False, width: int = 100, show_source: bool = True, terminal: bool = False) -> str:
    """On a terminal, code-frame lines wrap to its width; elsewhere (a CI log) each is shown whole
    up to 200 characters.  Either way no line is longer than 200 characters of source (the JSON
    report keeps everything): rendering stays linear in the number of findings."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=width, highlight=False, soft_wrap=False)
    # off a terminal a header line or a path is never cut in two: grep and editors find it whole
    whole = {} if terminal else {"no_wrap": True, "overflow": "ignore", "crop": False}
    for env in result.environments:
        facts = environment_facts(env, "--dialect or `dialect` in config", "--server-version")
        console.print(f"[dim]{escape(env.name)}: {escape(facts)}[/dim]", **whole)
        for line in getattr(env, "notes", ()):
            console.print(f"[dim]  {escape(line)}[/dim]", **whole)
    findings = result.findings
    sources: dict = {}
    for path, group in groupby(sorted(findings, key=lambda f: f.sort_key()), key=lambda f: f.path):
        console.print()
        console.print(Text(one_line(path), style="bold underline"), **whole)
        for f in group:
            where = f"{f.line}:{f.column}"
            rev = f" [dim](revision {escape(one_line(f.revision))}{', ' + f.phase if f.phase else ''})[/dim]" if f.revision else ""
            console.print(f"  [dim]{where:>7}[/dim]  [{STYLES[f.severity]}]{f.severity:<7}[/]  [bold]{f.rule}[/bold]{rev}")
            for part in f.message.split("\n"):  # round-trip diffs: one difference per line
                # text quoted from the checkout (a revision's message, a name) prints no control code
                console.print(Padding(Text(one_line(part)), (0, 0, 0, 11), expand=False))
            if f.trace:  # --trace: what the lock trace saw here
                console.print(Padding(Text(one_line(f.trace), style="italic"), (0, 0, 0, 11), expand=False))
            if show_source:
                for number, text, current in _frame(f.path, f.line, sources):
                    marker = ">" if current else " "
                    frame = Text(f"         {marker} {number:>5} | {cut(one_line(text))}", style="bold" if current else "dim")
                    if terminal:
                        console.print(frame, overflow="fold")
                    else:
                        console.print(frame, no_wrap=True, overflow="ignore", crop=False)
            if f.help:
                console.print(Padding(Text.assemble(("fix: ", "green"), one_line(f.help)), (0, 0, 0, 11), expand=False))
    counts = {s: sum(1 for f in findings if f.severity == s) for s in reversed(SEVERITIES)}
    files = sum(env.file_count for env in result.environments)
    console.print()
    if findings:
        parts = [count_of(counts["error"], "error"), count_of(counts["warning"], "warning"), f"{counts['info']} info"]
        touched = len({f.path for f in findings})
        console.print(f"[bold]{', '.join(parts)}[/bold] in {touched} of {count_of(files, 'file')}; `migration-lint explain RULE` tells more.")
    else:
        console.print(f"[bold green]No findings[/bold green] in {count_of(files, 'file')}.")
    # rich pads wrapped blocks to their width; nobody wants trailing blanks in a log or a diff
    return "\n".join(line.rstrip() for line in buffer.getvalue().rstrip("\n").split("\n"))
