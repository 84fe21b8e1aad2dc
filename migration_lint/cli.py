"""Command line.  The only module that prints and picks exit codes.

Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it; 2 usage or environment
error (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import shutil
import signal
import sys
import textwrap
from pathlib import Path
from typing import List, Optional

from migration_lint import DISTRIBUTION, __version__
from migration_lint.errors import MigrationLintError
from migration_lint.model import SEVERITIES, count_of, reaches
from migration_lint.report import FORMATS
from migration_lint.report.safe import json_inert, no_workflow_commands, one_line

# Each command imports the rest of migration-lint when it runs: `--help`, `--version` and a bad
# argument answer at once, without loading libcst, SQLAlchemy or the rule catalogue.

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints usage too; keep it short)
        self.exit(EXIT_ERROR, f"migration-lint: error: {message} (see --help)\n")


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return number


PATHS_HELP = "repo root, alembic.ini, pyproject.toml, migrations/ or versions/ (default: .)"
DIALECT_HELP = "postgresql, mysql or sqlite (default: the config's dialect, then a versions/<dialect>/ folder, the --db URL, alembic.ini's URL, what the history's code shows, then postgresql; the report's header says which and why)"
SERVER_VERSION_HELP = "database server version, e.g. 14 or 10.11 (default: config, else PostgreSQL 14 / MySQL 8.0 / SQLite 3.35)"
CONFIG_HELP = "a pyproject.toml or .migration-lint.yaml (default: the nearest one)"
TRUST_HELP = "let rule packs name Python checks (runs their code; never set by a config file)"
JOBS_HELP = "parser processes for a cold run (default: the CPU count, at most 8; histories under 48 files parse in one process)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="migration-lint", description="Safety linter for Alembic migrations.")
    parser.add_argument("--version", action="version", version=f"migration-lint {__version__} (distribution {DISTRIBUTION})")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)

    check = commands.add_parser("check", help="check Alembic revision histories")
    check.add_argument("paths", nargs="*", type=Path, help=PATHS_HELP)
    check.add_argument(
        "--format",
        "-f",
        choices=FORMATS,
        default="text",
        help="text (default); json; github (workflow annotations); gitlab (Code Quality report for merge requests); sarif (code scanning); markdown (job summary)",
    )
    check.add_argument("--output", "-o", type=Path, help="write the report to a file instead of stdout")
    check.add_argument("--dialect", help=DIALECT_HELP)
    check.add_argument("--deploy", choices=("online", "offline"), help="online: the old code runs while migrations do (default); offline: the application is stopped first, so lock and running-code rules are off")
    check.add_argument("--server-version", help=SERVER_VERSION_HELP)
    check.add_argument("--config", type=Path, help=CONFIG_HELP)
    check.add_argument("--fail-on", choices=tuple(reversed(SEVERITIES)), help="lowest severity that fails the run (default: error)")
    check.add_argument("--select", action="append", default=[], metavar="RULE", help="only these rules (repeatable, comma-separated)")
    check.add_argument("--ignore", action="append", default=[], metavar="RULE", help="skip these rules (repeatable, comma-separated)")
    check.add_argument("--start-after", metavar="REVISION", help="only check revisions after this one (older ones are grandfathered)")
    check.add_argument("--diff-base", metavar="REF", help="changed-only: per-migration rules only on revision files added or modified since the merge base with REF (e.g. origin/main)")
    check.add_argument("--baseline", type=Path, metavar="FILE", help="report only findings not in this baseline file (see `migration-lint baseline`)")
    check.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings (for trying it out)")
    check.add_argument("--no-cache", action="store_true", help="parse every file again; do not read or write the cache")
    check.add_argument("--jobs", "-j", type=_positive, help=JOBS_HELP)
    check.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="colour the text report: auto (default) on a terminal unless NO_COLOR is set and no --output is given; always; never")
    check.add_argument("--trust-rule-packs", action="store_true", help=TRUST_HELP)
    trip = check.add_argument_group("round trip (upgrade -> downgrade -> upgrade of every revision on a throwaway database)")
    trip.add_argument("--roundtrip", action="store_true", help="run the round trip after the static checks")
    trip.add_argument("--db", metavar="auto|docker|local|sqlite|URL", help="where: a container, a throwaway local server, SQLite, or a scratch database on the server at URL (default: auto)")
    trip.add_argument("--env", dest="env_mode", choices=("auto", "project", "builtin"), help="run migrations through the project's env.py or a built-in environment (default: env.py when it can run)")
    trip.add_argument("--drift", action="store_true", help="upgrade to the heads on the same throwaway database and compare with the models (env.py's target_metadata), as `alembic check` does (models-drift)")
    trip.add_argument("--metadata", metavar="MODULE:ATTR", help="the models for --drift when env.py cannot run on its own, e.g. myapp.models:Base.metadata (the project must be importable)")
    trip.add_argument("--trace", action="store_true", help="with --roundtrip on PostgreSQL: trace the locks and table rewrites of each revision's first upgrade, confirm or refute the static locking findings, and report strong locks they missed")
    trip.add_argument("--base-schema", metavar="FILE.sql|MODULE:ATTR", help="the schema every fresh database starts from, for histories whose first revision alters tables made by create_all(): a SQL file, or a SQLAlchemy MetaData (or an object with .metadata) to create_all()")
    trip.add_argument("--base-stamp", metavar="REVISION", help="the revision the base schema is: the database is stamped there, and it and its ancestors are not round-tripped")
    trip.add_argument("--app", metavar="MODULE:FACTORY", help="a Flask app factory (or app object): the app is built against the throwaway database and its app context wraps the round trip (never taken from FLASK_APP)")
    trip.add_argument("--app-url-env", action="append", default=[], metavar="NAME", help="an environment variable set to the throwaway database's URL before --app's factory runs (repeatable, comma-separated), e.g. DATABASE_URL")
    trip.add_argument("--image", metavar="IMAGE", help="container image for --db docker (and auto when Docker answers), e.g. postgres:16 or mariadb:10.11 (default: the image of the server version the checks assume)")

    baseline = commands.add_parser("baseline", help="record today's findings, so that `check --baseline` reports only new ones")
    baseline.add_argument("paths", nargs="*", type=Path, help=PATHS_HELP)
    baseline.add_argument("--output", "-o", type=Path, default=Path(".migration-lint-baseline.json"), help="where to write it (default: .migration-lint-baseline.json)")
    baseline.add_argument("--dialect", help=DIALECT_HELP)
    baseline.add_argument("--server-version", help=SERVER_VERSION_HELP)
    baseline.add_argument("--config", type=Path, help=CONFIG_HELP)
    baseline.add_argument("--trust-rule-packs", action="store_true", help=TRUST_HELP)

    explain = commands.add_parser("explain", help="show a rule's documentation")
    explain.add_argument("rule", help="a rule name (or a former name), as `migration-lint rules` lists them")
    explain.add_argument("--config", type=Path, help="include the rule packs this config names (default: nearest config)")
    explain.add_argument("--trust-rule-packs", action="store_true", help=TRUST_HELP)

    rules = commands.add_parser("rules", help="list the rules")
    rules.add_argument("--format", choices=("text", "json", "markdown"), default="text", help="text (default), json or markdown (the README's table)")
    rules.add_argument("--config", type=Path, help="include the rule packs this config names (default: nearest config)")
    rules.add_argument("--trust-rule-packs", action="store_true", help=TRUST_HELP)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        print("migration-lint: error: choose a command: check, baseline, explain or rules (see --help)", file=sys.stderr)
        return EXIT_ERROR
    from migration_lint.roundtrip.db.cleanup import failures_of, interrupt, redeliver

    def _terminate(signum, frame):  # SIGTERM cleans up like Ctrl-C: servers, temp dirs, scratch databases
        interrupted.append(signum)
        # connections closed mid-statement while unwinding are expected now: no pool tracebacks
        logging.disable(logging.CRITICAL)
        interrupt(signum)  # KeyboardInterrupt now, or once the step that must not be cut short is done

    def _unraisable(info):  # a KeyboardInterrupt raised inside a finalizer is swallowed: deliver it again
        if interrupted and isinstance(info.exc_value, KeyboardInterrupt):
            redeliver(interrupted[-1])
        else:
            previous_hook(info)

    previous = {}
    interrupted: list = []
    logging_disabled = logging.root.manager.disable
    previous_hook, sys.unraisablehook = sys.unraisablehook, _unraisable
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[signum] = signal.signal(signum, _terminate)
        except ValueError:  # not the main thread (embedded use)
            pass
    try:
        try:
            if args.command == "check":
                code = _check(args)
                if interrupted:  # the interrupt was swallowed on the way (project code catching BaseException)
                    raise KeyboardInterrupt
                return code
            if args.command == "explain":
                return _explain(args)
            if args.command == "baseline":
                return _baseline(args)
            return _rules(args)
        finally:  # inside the outer try: a signal landing while the handlers are put back is still an interrupt
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            sys.unraisablehook = previous_hook
    except MigrationLintError as exc:
        failed = failures_of(exc)
        _error(f"migration-lint: error: {exc}" + (f"; and {_cleanup_failed(failed)}" if failed else ""))
        return EXIT_ERROR
    except KeyboardInterrupt as exc:
        failed = failures_of(exc)
        print(f"migration-lint: interrupted; {_cleanup_failed(failed) if failed else 'everything it started was removed'}", file=sys.stderr)
        return 128 + (interrupted[0] if interrupted else signal.SIGINT)  # 130 for Ctrl-C, 143 for SIGTERM
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # never a traceback for users; MIGRATION_LINT_DEBUG=1 shows it
        if os.environ.get("MIGRATION_LINT_DEBUG"):
            raise
        _error(f"migration-lint: internal error: {type(exc).__name__}: {exc} (set MIGRATION_LINT_DEBUG=1 for a traceback)")
        return EXIT_ERROR
    finally:
        logging.disable(logging_disabled)


def _cleanup_failed(failures: List[str]) -> str:
    return f"cleanup failed: {failures[0]}" + (f" (and {len(failures) - 1} more)" if len(failures) > 1 else "")


def _error(message: str) -> None:
    """One line on stderr: whatever it quotes (a file name with a newline in it) stays on that line
    and forms no CI workflow command."""
    print(no_workflow_commands(one_line(message)), file=sys.stderr)


def _inert(text: str, fmt: str) -> str:
    """The report as printed: inert for a CI runner that reads stdout for workflow commands
    (``--format github`` emits its own, with their data escaped)."""
    if fmt in ("json", "sarif", "gitlab"):
        return json_inert(text)
    if fmt == "github":
        return text
    return no_workflow_commands(text)


def _config(args, paths):
    """The config file of this run (as written: settings.py resolves it per history)."""
    from migration_lint import api

    return api.resolve_config(paths, getattr(args, "config", None))


def _trusted(args) -> bool:
    """Trust comes from the invocation (flag or environment), never from a file."""
    from migration_lint.config import trust_from_environment

    return bool(getattr(args, "trust_rule_packs", False)) or trust_from_environment()


def _split(values: List[str]) -> tuple:
    return tuple(v.strip() for value in values for v in value.split(",") if v.strip())


def _check(args) -> int:
    from migration_lint import api
    from migration_lint.config import parse_version
    from migration_lint.report import render

    paths = args.paths or [Path(".")]
    config = _config(args, paths)
    trusted = _trusted(args)
    select, ignore = _split(args.select), _split(args.ignore)
    if select or ignore:
        known = api.catalogue_for(config, trusted)
        for name in (*select, *ignore):
            if name not in known and name != "ALL":
                known.get(name)  # raises the one-line "unknown rule" error with a hint
    if args.server_version:
        parse_version(args.server_version, "--server-version")  # fail early, before any parsing
    if args.trace and not args.roundtrip:
        raise MigrationLintError("--trace traces the round trip's upgrades: add --roundtrip")
    fail_on = args.fail_on or config.fail_on
    if args.metadata is not None and not args.drift:
        raise MigrationLintError("--metadata is for --drift (the models to compare with the migrations); add --drift")
    # an option of the round trip given without it would be ignored in silence: say so instead
    given = lambda *flags: [flag for flag in flags if getattr(args, flag.lstrip("-").replace("-", "_"))]  # noqa: E731
    if not args.roundtrip:
        unused = given("--base-schema", "--base-stamp", "--app", "--app-url-env")
        if unused:
            raise MigrationLintError(f"{unused[0]} is for the round trip: add --roundtrip")
        if not args.drift:
            unused = given("--db", "--image") + (["--env"] if args.env_mode else [])
            if unused:
                raise MigrationLintError(f"{unused[0]} is for the round trip or --drift: add --roundtrip or --drift")
    db, env_mode = args.db or "auto", args.env_mode or "auto"
    drift = api.DriftOptions(metadata=args.metadata, db=db, env=env_mode, image=args.image) if args.drift else None
    with _progress(args.roundtrip) as progress:
        roundtrip = api.RoundTripOptions(
            db=db, env=env_mode, image=args.image, progress=progress, trace=args.trace,
            base_schema=args.base_schema, base_stamp=args.base_stamp, app=args.app, app_url_env=tuple(_split(args.app_url_env)),
        ) if args.roundtrip else None
        result = api.check(
            paths,
            dialect=args.dialect,
            server_version=args.server_version,
            config=config,
            use_cache=not args.no_cache,
            jobs=args.jobs,
            roundtrip=roundtrip,
            diff_base=args.diff_base,
            baseline=args.baseline,
            select=select,
            ignore=ignore,
            start_after=args.start_after,
            fail_on=fail_on,
            deploy=args.deploy,
            trust_rule_packs=trusted,
            drift=drift,
        )
    catalogue = api.catalogue_for(config, trusted) if args.format in ("sarif", "markdown") else None
    color = args.color == "always" or (args.color == "auto" and args.output is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR"))
    width = max(shutil.get_terminal_size((100, 24)).columns, 40)  # honours COLUMNS
    # lines fit a width only on a terminal or when COLUMNS asks for one; in a CI log or a file a
    # path or a header line stays whole (grep and clickable paths need it)
    fitted = args.output is None and (sys.stdout.isatty() or bool(os.environ.get("COLUMNS")))
    text = render(result, args.format, catalogue, color=color, width=width, terminal=fitted) if args.format == "text" else render(result, args.format, catalogue)
    text = _inert(text, args.format)
    if args.output:
        try:
            args.output.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise MigrationLintError(f"{args.output}: cannot write report: {exc.strerror}") from None
    if result.cleanup_failures:  # something the round trip started is still there: never a pass
        code = EXIT_ERROR
    elif args.exit_zero:
        code = EXIT_OK
    else:
        code = EXIT_FINDINGS if any(reaches(f.severity, fail_on) for f in result.findings) else EXIT_OK
    if text and not args.output:
        try:
            print(text)
            sys.stdout.flush()
        except BrokenPipeError:  # `| head`: the reader left; the verdict stands
            _quiet_stdout()
    if result.cleanup_failures:
        print(f"migration-lint: error: {_cleanup_failed(result.cleanup_failures)}", file=sys.stderr)
    return code


def _quiet_stdout() -> None:
    """After a broken pipe: send what Python still flushes at exit to /dev/null, not a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


class _progress:
    """A rich progress bar on stderr while the round trip runs (only on a terminal)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and sys.stderr.isatty()
        self.bar = None
        self.task = None

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.console import Console  # rich's progress bar: only on a terminal, only for round trips
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("round trip {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=Console(stderr=True), transient=True)
        self.bar.__enter__()
        return self.update

    def update(self, environment: str, revision: str, index: int, total: int) -> None:
        if self.task is None:
            self.task = self.bar.add_task(environment, total=total)
        self.bar.update(self.task, completed=index, total=total, description=f"{environment} {revision}".strip())

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False


def _baseline(args) -> int:
    from migration_lint import api
    from migration_lint.baseline import write_baseline

    paths = args.paths or [Path(".")]
    config = dataclasses.replace(_config(args, paths), baseline=None)  # record every finding, not just those the old baseline lacks
    result = api.check(paths, dialect=args.dialect, server_version=args.server_version, config=config, trust_rule_packs=_trusted(args))
    count = write_baseline(result, args.output)
    _error(f"migration-lint: wrote {count_of(count, 'finding')} to {args.output}; `check --baseline {args.output}` now reports only new ones")
    return EXIT_OK


def _explain(args) -> int:
    from migration_lint import api

    config = _config(args, [Path(".")])
    rule = api.catalogue_for(config, _trusted(args)).get(args.rule)
    print(no_workflow_commands(explain_text(rule)))
    return EXIT_OK


def explain_text(rule) -> str:
    docs = rule.docs
    dialects = ", ".join(rule.dialects) if rule.dialects else "all"
    kind = {"lock": "a lock rule: off under deploy = offline", "running-code": "a running-code rule: off under deploy = offline"}.get(rule.effect, f"{rule.effect}: always on")
    out = [f"{rule.name} ({rule.severity}, {rule.category}; dialects: {dialects}; phase: {rule.phase}; effect: {kind})", "", rule.summary, ""]
    if rule.opt_in:
        out[1:1] = ["", f"Opt-in: runs only when selected (`--select {rule.name}`); the notes say why."]
    sections = (("what", "What it does"), ("why", "Why is this bad?"), ("example", "Example"), ("use_instead", "Use instead"), ("notes", "Notes"))
    for key, title in sections:
        if docs.get(key):
            out += [f"## {title}", "", str(docs[key]).rstrip(), ""]
    for name in rule.advice.get("env_py") or []:  # whole env.py files, run by the suite
        from migration_lint.catalogue import env_snippet

        out += [f"## In env.py ({name}.py)", "", env_snippet(name).read_text(encoding="utf-8").rstrip(), ""]
    if rule.fix:
        out += ["## Fix", "", rule.fix, ""]
    if docs.get("references"):
        refs = docs["references"] if isinstance(docs["references"], list) else [docs["references"]]
        out += ["## References", ""] + [f"- {r}" for r in refs] + [""]
    out.append(f"Suppress with `# migration-lint: ignore[{rule.name}] <reason>` on the line or the line above.")
    return "\n".join(out)


def _rules(args) -> int:
    from migration_lint import api

    catalogue = api.catalogue_for(_config(args, [Path(".")]), _trusted(args))
    if args.format == "json":
        print(json.dumps([
            {"name": r.name, "severity": r.severity, "category": r.category, "dialects": list(r.dialects or []), "phase": r.phase, "summary": r.summary, "opt_in": r.opt_in}
            for r in catalogue
        ], indent=2))
    elif args.format == "markdown":
        print(rules_markdown(catalogue))
    else:
        width = max(len(r.name) for r in catalogue)
        columns = max(shutil.get_terminal_size((100, 24)).columns, 60)
        for r in catalogue:
            dialects = ",".join(r.dialects) if r.dialects else "all"
            summary = f"(opt-in) {r.summary}" if r.opt_in else r.summary
            head = f"{r.name:<{width}}  {r.severity:<7}  {dialects:<18}  "
            room = columns - len(head)
            if room < 30:  # too narrow for a table: name line, then the summary indented
                print(f"{r.name}  ({r.severity}, {dialects})")
                print(textwrap.fill(summary, columns, initial_indent="    ", subsequent_indent="    "))
                continue
            lines = textwrap.wrap(summary, room) or [""]
            print(head + lines[0])
            for line in lines[1:]:
                print(" " * len(head) + line)
        if any(r.opt_in for r in catalogue):
            print()
            print(textwrap.fill("(opt-in): runs only when selected, e.g. `--select RULE` or `select = [...]` in the config; `migration-lint explain RULE` says why.", columns))
    return EXIT_OK


def rules_markdown(catalogue) -> str:
    lines = ["| rule | severity | effect | dialects | what it catches |", "| --- | --- | --- | --- | --- |"]
    for r in catalogue:
        dialects = ", ".join(r.dialects) if r.dialects else "all"
        lines.append(f"| `{r.name}` | {r.severity}{' (opt-in)' if r.opt_in else ''} | {r.effect} | {dialects} | {r.summary} |")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
