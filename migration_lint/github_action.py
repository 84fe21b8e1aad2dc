"""The GitHub Action's steps (``action.yml``) as project code, with a small command line.

The action runs ``migration-lint check --format json --output REPORT`` once; these commands turn
that one report into everything else, so the check never runs twice::

    python -m migration_lint.github_action annotations --report REPORT
    python -m migration_lint.github_action summary --report REPORT --exit-code N [--fail-on error] [--diff-base REF]
    python -m migration_lint.github_action sarif --report REPORT --output FILE [PATHS...]
    python -m migration_lint.github_action comment --report REPORT --exit-code N [--fail-on error] [--diff-base REF]

They read what a runner sets: GITHUB_STEP_SUMMARY, GITHUB_OUTPUT, GITHUB_EVENT_PATH (the pull
request), GITHUB_REPOSITORY, GITHUB_SERVER_URL, GITHUB_API_URL, GITHUB_SHA and GITHUB_TOKEN.
Outside a runner they print to stdout instead.  A missing report (the check could not run) gives
a summary saying so, no annotations and no SARIF file.

``comment`` keeps one sticky pull-request comment: the comment whose body holds
``<!-- migration-lint -->`` and whose author is the token's user is edited; otherwise a new one
is posted (only when there is something to say: findings, or a failed run).  Other comments,
other bots' included, are never touched.  Not being allowed to comment (a fork's read-only token)
is a warning, not a failure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, List, Optional, Tuple
from urllib import error as urlerror
from urllib import request as urlrequest

from migration_lint.model import Finding, most_severe_first
from migration_lint.report.github import render_github
from migration_lint.report.markdown import MARKER, blob_url, failed, render_markdown_report
from migration_lint.report.sarif import render_sarif

DEFAULT_BOT = "github-actions[bot]"  # who GITHUB_TOKEN comments as (GET /user is refused for it)
COMMENT_LIMIT = 60000  # GitHub refuses bodies over 65,536 characters


# --- reading the report and the runner --------------------------------------------------------


def load_report(path: Optional[str]) -> Tuple[Optional[dict], Optional[str]]:
    """(report, None), or (None, why not) when the check wrote no usable report."""
    if not path:
        return None, "no report file given"
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None, None  # the check failed before writing it; its error is in the log
    except (OSError, ValueError) as exc:
        return None, f"{path}: not a migration-lint JSON report ({exc})"
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        return None, f"{path}: not a migration-lint JSON report (no findings list)"
    return data, None


def findings_from_report(report: dict) -> List[Finding]:
    """The report's findings as Finding objects, for the project's own renderers."""
    out = []
    for item in report.get("findings", []):
        out.append(
            Finding(
                rule=str(item.get("rule", "")),
                severity=str(item.get("severity", "error")),
                path=str(item.get("path", "")),
                line=int(item.get("line") or 1),
                message=str(item.get("message", "")),
                help=str(item.get("help") or ""),
                column=int(item.get("column") or 1),
                end_line=int(item.get("end_line") or 0),
                revision=item.get("revision"),
                phase=item.get("phase"),
                environment=str(item.get("environment") or ""),
                fingerprint=str(item.get("fingerprint") or ""),
                trace=str(item.get("trace") or ""),
            )
        )
    return out


def _result(report: dict):
    """Enough of a CheckResult for render_github / render_sarif (they read .findings only)."""
    return SimpleNamespace(findings=findings_from_report(report), environments=[])


def read_event(environ=os.environ) -> dict:
    path = environ.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def pull_request_number(event: dict) -> Optional[int]:
    """The pull request of a pull_request(_target) event, or of an issue_comment on a PR."""
    pr = event.get("pull_request")
    if isinstance(pr, dict) and isinstance(pr.get("number"), int):
        return pr["number"]
    issue = event.get("issue")
    if isinstance(issue, dict) and issue.get("pull_request") and isinstance(issue.get("number"), int):
        return issue["number"]
    return None


def head_sha(event: dict, environ=os.environ) -> str:
    """The pull request's head commit (stays valid after merge), else GITHUB_SHA."""
    pr = event.get("pull_request")
    if isinstance(pr, dict):
        sha = (pr.get("head") or {}).get("sha")
        if isinstance(sha, str) and sha:
            return sha
    return environ.get("GITHUB_SHA", "")


def links(environ=os.environ, event: Optional[dict] = None) -> Optional[str]:
    event = read_event(environ) if event is None else event
    return blob_url(environ.get("GITHUB_SERVER_URL", ""), environ.get("GITHUB_REPOSITORY", ""), head_sha(event, environ))


def set_output(name: str, value, environ=os.environ) -> None:
    """Append ``name=value`` to $GITHUB_OUTPUT (heredoc syntax for multi-line values)."""
    path = environ.get("GITHUB_OUTPUT")
    value = str(value)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        if "\n" in value or "\r" in value:
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
            handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            handle.write(f"{name}={value}\n")


def _workflow_escape(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def warn(message: str) -> None:
    """A warning annotation (on a runner) that is also readable in a terminal."""
    print(f"::warning title=migration-lint::{_workflow_escape(message)}")


def scope_text(diff_base: Optional[str]) -> str:
    if diff_base:
        return (
            f"Per-migration rules checked the revision files added or changed since the merge base with `{diff_base}`; "
            "graph rules checked the whole history."
        )
    return "Every revision was checked."


def _markdown(args, report, error, environ, event, marker=False, max_chars=None) -> str:
    return render_markdown_report(
        report,
        fail_on=args.fail_on,
        exit_code=args.exit_code,
        blob=links(environ, event),
        scope=scope_text(args.diff_base),
        error=error,
        marker=marker,
        max_chars=max_chars,
    )


# --- commands ---------------------------------------------------------------------------------


def cmd_annotations(args, environ=os.environ) -> int:
    report, error = load_report(args.report)
    if report is None:
        if error:
            warn(error)
        return 0
    result = _result(report)
    result.findings.sort(key=lambda f: (most_severe_first(f.severity), f.sort_key()))
    text = render_github(result)
    if text:
        print(text)
    return 0


def cmd_summary(args, environ=os.environ) -> int:
    report, error = load_report(args.report)
    event = read_event(environ)
    text = _markdown(args, report, error, environ, event)
    path = environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)
    else:
        print(text, end="")
    if report is not None:
        found = report.get("findings", [])
        set_output("findings", len(found), environ)
        for severity, name in {"error": "errors", "warning": "warnings", "info": "info"}.items():
            set_output(name, sum(1 for f in found if f.get("severity") == severity), environ)
        set_output("failed", "true" if failed(report, args.fail_on) else "false", environ)
    return 0


def _catalogue(paths: List[str], config: Optional[str]):
    # the check's own modules, for the SARIF step only: the comment step's copy has no dependencies
    from migration_lint import api
    from migration_lint.catalogue import load_catalogue

    try:
        resolved = api.resolve_config([Path(p) for p in paths] or [Path(".")], Path(config) if config else None)
        from migration_lint.config import trust_from_environment

        return api.catalogue_for(resolved, trust_from_environment())
    except Exception as exc:  # the rule metadata of the built-in rules is still worth having
        warn(f"rule packs not loaded for SARIF: {exc}")
        return load_catalogue()


def cmd_sarif(args, environ=os.environ) -> int:
    report, error = load_report(args.report)
    if report is None:
        if error:
            warn(error)
        print("migration-lint: no report, so no SARIF file", file=sys.stderr)
        return 0
    text = render_sarif(_result(report), _catalogue(args.paths, args.config))
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text + "\n", encoding="utf-8")
    set_output("sarif-file", str(output), environ)
    return 0


class GitHubAPI:
    """The few REST calls the sticky comment needs, with urllib (no dependencies)."""

    def __init__(self, api_url: str, token: str, timeout: float = 30):
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method: str, url: str, body: Optional[dict] = None):
        if not url.startswith(("http://", "https://")):
            url = self.api_url + url
        data = json.dumps(body).encode("utf-8") if body is not None else None
        req = urlrequest.Request(url, data=data, method=method)
        req.add_header("Accept", "application/vnd.github+json")
        req.add_header("X-GitHub-Api-Version", "2022-11-28")
        req.add_header("User-Agent", "migration-lint-action")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urlrequest.urlopen(req, timeout=self.timeout) as response:
            payload = response.read()
            return json.loads(payload) if payload else None, dict(response.headers)

    def paginate(self, url: str) -> List[dict]:
        items: List[dict] = []
        while url:
            page, headers = self.request("GET", url)
            items.extend(page or [])
            url = _next_link(headers.get("Link") or headers.get("link") or "")
        return items

    def login(self) -> Optional[str]:
        try:
            data, _ = self.request("GET", "/user")
        except urlerror.HTTPError:  # installation tokens (GITHUB_TOKEN) may not read /user
            return None
        return data.get("login") if isinstance(data, dict) else None


def _next_link(header: str) -> Optional[str]:
    for part in header.split(","):
        match = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', part)
        if match:
            return match.group(1)
    return None


def sticky_comment(api: GitHubAPI, repository: str, number: int, body: str, author: str, create: bool = True) -> Tuple[str, Optional[dict]]:
    """Edit our marked comment on the PR or post one.  ('updated'|'created'|'skipped', comment)."""
    comments = api.paginate(f"/repos/{repository}/issues/{number}/comments?per_page=100")
    ours = [
        c for c in comments
        if MARKER in (c.get("body") or "") and ((c.get("user") or {}).get("login") or "").lower() == author.lower()
    ]
    if ours:
        comment, _ = api.request("PATCH", f"/repos/{repository}/issues/comments/{ours[0]['id']}", {"body": body})
        return "updated", comment
    if not create:
        return "skipped", None
    comment, _ = api.request("POST", f"/repos/{repository}/issues/{number}/comments", {"body": body})
    return "created", comment


def cmd_comment(args, environ=os.environ) -> int:
    event = read_event(environ)
    number = args.pr or pull_request_number(event)
    if number is None:
        print("migration-lint: not a pull request; no comment")
        return 0
    repository = environ.get("GITHUB_REPOSITORY", "")
    token = environ.get("GITHUB_TOKEN", "")
    if not repository or not token:
        warn("comment: GITHUB_REPOSITORY and GITHUB_TOKEN are needed to comment on the pull request")
        return 0
    report, error = load_report(args.report)
    body = _markdown(args, report, error, environ, event, marker=True, max_chars=COMMENT_LIMIT)
    # a clean run edits an existing comment (so it no longer shows old findings) but posts none
    worth_posting = report is None or bool(report.get("findings")) or args.exit_code not in (None, 0, 1)
    api = GitHubAPI(environ.get("GITHUB_API_URL") or "https://api.github.com", token)
    try:
        author = args.author or api.login() or DEFAULT_BOT
        action, comment = sticky_comment(api, repository, number, body, author, create=worth_posting)
    except urlerror.HTTPError as exc:
        hint = " (a pull request from a fork gets a read-only token; grant `pull-requests: write`)" if exc.code in (403, 404) else ""
        warn(f"comment not posted: GitHub API answered {exc.code} {exc.reason}{hint}")
        return 0
    except (urlerror.URLError, OSError, ValueError) as exc:
        warn(f"comment not posted: {exc}")
        return 0
    if comment:
        set_output("comment-url", comment.get("html_url", ""), environ)
    print(f"migration-lint: pull request comment {action}" + (f": {comment.get('html_url')}" if comment and comment.get("html_url") else ""))
    return 0


# --- command line -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m migration_lint.github_action", description="Turn one JSON report into GitHub annotations, a job summary, SARIF and a PR comment.")
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub, verdict=False):
        sub.add_argument("--report", required=True, help="the JSON report of `migration-lint check --format json`")
        if verdict:
            sub.add_argument("--exit-code", type=int, help="the check's exit code (2: it could not run)")
            sub.add_argument("--fail-on", choices=("error", "warning", "info"), default="error")
            sub.add_argument("--diff-base", help="the --diff-base the check ran with (for the summary)")

    common(commands.add_parser("annotations", help="print workflow commands (annotations)"))
    common(commands.add_parser("summary", help="append Markdown to $GITHUB_STEP_SUMMARY; set outputs"), verdict=True)
    sarif = commands.add_parser("sarif", help="write SARIF 2.1.0 for code scanning")
    common(sarif)
    sarif.add_argument("--output", "-o", required=True)
    sarif.add_argument("--config", help="the config the check used (for rule packs)")
    sarif.add_argument("paths", nargs="*", help="the paths the check got (to find the config)")
    comment = commands.add_parser("comment", help="create or update the sticky pull-request comment")
    common(comment, verdict=True)
    comment.add_argument("--pr", type=int, help="pull request number (default: from GITHUB_EVENT_PATH)")
    comment.add_argument("--author", help=f"login that owns the comment (default: the token's user, else {DEFAULT_BOT})")
    return parser


COMMANDS = {"annotations": cmd_annotations, "summary": cmd_summary, "sarif": cmd_sarif, "comment": cmd_comment}


def main(argv: Optional[List[str]] = None, environ: Optional[Dict[str, str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return COMMANDS[args.command](args, os.environ if environ is None else environ)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
