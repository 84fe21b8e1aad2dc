"""pytest plugin: the migration-lint checks as test items, one per Alembic environment.

Enabled with ``--migration-lint`` (static checks), ``--migration-lint-roundtrip`` (static checks
and the round trip; ``--migration-lint-trace`` adds the lock trace) or ``--migration-lint-drift``
(static checks and the models-vs-migrations comparison), or with the ini options
``migration_lint = true`` / ``migration_lint_roundtrip = true`` / ``migration_lint_trace = true`` /
``migration_lint_drift = true``.  Settings come from the same config file as the CLI
(``[tool.migration-lint]`` in pyproject.toml or ``.migration-lint.yaml``).

With both options off the plugin only declares its options: nothing of migration-lint is imported
(so neither libcst nor SQLAlchemy), no item is added.

Collection: when enabled, a small plugin object is registered at configure time.  At session
start it resolves the config and discovers the environments (a bad path or config is a usage
error: one line, exit code 4).  Its ``pytest_collection_modifyitems`` hook appends one
``MigrationLintItem`` per environment under a ``MigrationLintCollector`` whose node id is
``migration-lint`` -- so the items are ``migration-lint::<environment>``, whatever paths or test
files pytest was given, exactly once per session, and ``-k`` / ``-m migration_lint`` still select
them.  The check itself runs once, when the first item runs, for every environment together
(round-trip databases are shared); each item then reports its own environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import pytest

NODE_ID = "migration-lint"
MARKER = "migration_lint"


def pytest_addoption(parser) -> None:
    group = parser.getgroup("migration-lint", "migration-lint (Alembic migration safety checks)")
    group.addoption(
        "--migration-lint",
        action="store_true",
        default=False,
        dest="migration_lint",
        help="check the Alembic migrations (static checks): one test item per environment",
    )
    group.addoption(
        "--migration-lint-roundtrip",
        action="store_true",
        default=False,
        dest="migration_lint_roundtrip",
        help="static checks and the round trip (upgrade, downgrade, upgrade of every revision on a throwaway database)",
    )
    group.addoption(
        "--migration-lint-drift",
        action="store_true",
        default=False,
        dest="migration_lint_drift",
        help="static checks and models-drift: upgrade to the heads on a throwaway database and compare with the models, as `alembic check` does",
    )
    group.addoption(
        "--migration-lint-metadata",
        default=None,
        dest="migration_lint_metadata",
        metavar="MODULE:ATTR",
        help="the models for --migration-lint-drift when env.py cannot run on its own (default: ini migration_lint_metadata)",
    )
    group.addoption(
        "--migration-lint-trace",
        action="store_true",
        default=False,
        dest="migration_lint_trace",
        help="the round trip with the lock trace (PostgreSQL): confirms or refutes the static locking findings (implies --migration-lint-roundtrip)",
    )
    group.addoption(
        "--migration-lint-db",
        default=None,
        dest="migration_lint_db",
        metavar="auto|docker|local|sqlite|URL",
        help="database for the round trip (default: ini migration_lint_db, else auto)",
    )
    group.addoption(
        "--migration-lint-path",
        action="append",
        default=[],
        dest="migration_lint_path",
        metavar="PATH",
        help="where to look for Alembic environments (repeatable; default: ini migration_lint_path, else the rootdir)",
    )
    group.addoption(
        "--migration-lint-config",
        default=None,
        dest="migration_lint_config",
        metavar="FILE",
        help="a pyproject.toml or .migration-lint.yaml (default: the nearest one, as for the CLI)",
    )
    group.addoption(
        "--migration-lint-trust-rule-packs",
        action="store_true",
        default=False,
        dest="migration_lint_trust_rule_packs",
        help="let rule packs name Python checks (pytest already runs this project's code)",
    )
    parser.addini("migration_lint_trust_rule_packs", "let rule packs name Python checks (like --migration-lint-trust-rule-packs)", type="bool", default=False)
    parser.addini("migration_lint", "run the migration-lint static checks (like --migration-lint)", type="bool", default=False)
    parser.addini("migration_lint_roundtrip", "also run the round trip (like --migration-lint-roundtrip)", type="bool", default=False)
    parser.addini("migration_lint_drift", "also compare the models with the migrations (like --migration-lint-drift)", type="bool", default=False)
    parser.addini("migration_lint_metadata", "the models for the drift check when env.py cannot run: module:attr", default="")
    parser.addini("migration_lint_trace", "also trace the round trip's locks (like --migration-lint-trace)", type="bool", default=False)
    parser.addini("migration_lint_db", "database for the round trip and the drift check: auto|docker|local|sqlite|URL", default="auto")
    parser.addini("migration_lint_path", "where to look for Alembic environments (relative to the ini file)", type="paths", default=[])
    parser.addini("migration_lint_config", "migration-lint config file (relative to the rootdir)", default="")


def _traced(config) -> bool:
    return bool(config.getoption("migration_lint_trace") or config.getini("migration_lint_trace"))


def _enabled(config) -> tuple:
    roundtrip = _traced(config) or bool(config.getoption("migration_lint_roundtrip") or config.getini("migration_lint_roundtrip"))
    drift = bool(config.getoption("migration_lint_drift") or config.getini("migration_lint_drift"))
    static = roundtrip or drift or bool(config.getoption("migration_lint") or config.getini("migration_lint"))
    return static, roundtrip, drift


def pytest_configure(config) -> None:
    static, roundtrip, drift = _enabled(config)
    if not static:
        return
    config.addinivalue_line("markers", f"{MARKER}: a migration-lint check of one Alembic environment")
    config.pluginmanager.register(_MigrationLintSession(config, roundtrip, drift), "migration-lint-session")


class _MigrationLintSession:
    """The plugin's state for one session; registered only when the checks are on."""

    def __init__(self, config, roundtrip: bool, drift: bool = False):
        self.config = config
        self.roundtrip = roundtrip
        self.drift = drift
        self.metadata: Optional[str] = None
        self.paths: List[Path] = []
        self.lint_config = None
        self.environments: list = []
        self.fail_on = "error"
        self.db = "auto"
        self.trust = False

    # -- settings and discovery: before collection, so mistakes are usage errors ---------------

    def pytest_sessionstart(self, session) -> None:
        from migration_lint.errors import MigrationLintError

        config = self.config
        invocation = Path(config.invocation_params.dir)
        given = [Path(p) if os.path.isabs(p) else invocation / p for p in config.getoption("migration_lint_path")]
        paths = given or [Path(p) for p in config.getini("migration_lint_path")] or [Path(config.rootpath)]
        self.paths = [Path(os.path.abspath(p)) for p in paths]
        config_file = config.getoption("migration_lint_config") or config.getini("migration_lint_config") or None
        config_path = None
        if config_file:
            config_path = Path(config_file)
            if not config_path.is_absolute():
                base = invocation if config.getoption("migration_lint_config") else Path(config.rootpath)
                config_path = base / config_path
        self.db = config.getoption("migration_lint_db") or config.getini("migration_lint_db") or "auto"
        self.metadata = config.getoption("migration_lint_metadata") or config.getini("migration_lint_metadata") or None
        try:
            from migration_lint import api, discovery

            from migration_lint.config import trust_from_environment

            if self.metadata is not None:
                from migration_lint.roundtrip.drift import validate_metadata_spec

                validate_metadata_spec(self.metadata)
            self.lint_config = api.resolve_config(self.paths, config_path)
            # pytest imports this project's conftest.py anyway: its ini files may grant trust
            self.trust = bool(config.getoption("migration_lint_trust_rule_packs") or config.getini("migration_lint_trust_rule_packs") or trust_from_environment())
            self.fail_on = self.lint_config.fail_on
            environments: list = []
            for path in self.paths:
                for env in discovery.discover(path):
                    if all(env.script_location != e.script_location or env.version_locations != e.version_locations for e in environments):
                        environments.append(env)
        except MigrationLintError as exc:
            raise pytest.UsageError(f"migration-lint: {exc}") from None
        self.environments = environments

    # -- collection -------------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)  # before -k / -m deselection, so those apply to our items too
    def pytest_collection_modifyitems(self, session, config, items) -> None:
        if not self.environments:
            return
        collector = MigrationLintCollector.from_parent(session, name=NODE_ID, nodeid=NODE_ID, path=Path(config.rootpath))
        collector.plugin = self
        # through the collection hooks, as pytest does for its own collectors: the terminal counts
        # the items ("collected N items") and a collection error is reported as one
        session.ihook.pytest_collectstart(collector=collector)
        report = session.ihook.pytest_make_collect_report(collector=collector)
        session.ihook.pytest_collectreport(report=report)
        if report.passed:
            items.extend(report.result)

    # -- running ------------------------------------------------------------------------------------

    _result = None
    _error: Optional[BaseException] = None

    def result(self):
        """Run the check once for every environment; every item reads its own part."""
        if self._result is None and self._error is None:
            from migration_lint import api
            from migration_lint.errors import MigrationLintError

            roundtrip = api.RoundTripOptions(db=self.db, trace=_traced(self.config)) if self.roundtrip else None
            drift = api.DriftOptions(db=self.db, metadata=self.metadata) if self.drift else None
            try:
                self._result = api.check(self.paths, config=self.lint_config, roundtrip=roundtrip, trust_rule_packs=self.trust, drift=drift)
            except MigrationLintError as exc:
                self._error = MigrationLintUsageError(str(exc))
            except Exception as exc:  # a bug: every item shows it, the check does not run again
                self._error = exc
        if self._error is not None:
            raise self._error
        return self._result


def _display_name(env, rootpath: Path) -> str:
    """The environment's name (as in the CLI output), relative to the rootdir."""
    try:
        name = os.path.relpath(os.path.abspath(env.name), rootpath)
    except ValueError:  # pragma: no cover - another drive on Windows
        name = env.name
    return name.replace(os.sep, "/")


class MigrationLintCollector(pytest.Collector):
    """The parent of the items (node id ``migration-lint``); not found on disk, made by the plugin."""

    plugin: _MigrationLintSession

    def collect(self):
        items = []
        used = set()
        for index, env in enumerate(self.plugin.environments):
            name = _display_name(env, Path(self.config.rootpath))
            if name in used:  # two histories with one name: keep the node ids unique
                name = f"{name}[{index}]"
            used.add(name)
            item = MigrationLintItem.from_parent(self, name=name, path=Path(env.config_file or env.script_location))
            item.environment = env
            item.index = index
            item.add_marker(MARKER)
            items.append(item)
        return items


class MigrationLintFindings(Exception):
    """The environment has findings at or above fail-on; the message is the plain report."""


class MigrationLintUsageError(Exception):
    """A path, config or environment problem found while checking (one line, no traceback)."""


class MigrationLintItem(pytest.Item):
    environment = None
    index = 0

    def runtest(self) -> None:
        from migration_lint.model import reaches

        plugin: _MigrationLintSession = self.parent.plugin
        result = plugin.result()
        env_result = _pick(result.environments, self.index, self.environment.name)
        failing = [f for f in env_result.findings if reaches(f.severity, plugin.fail_on)]
        if failing:  # the failure shows what fails; the rest is counted (-rP shows all of it on a pass)
            raise MigrationLintFindings(plain_report(env_result, plugin.fail_on, only_failing=True))
        report = plain_report(env_result, plugin.fail_on)
        if env_result.findings or env_result.notes:
            self.add_report_section("call", "migration-lint", report)  # shown with -rP

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, MigrationLintFindings):
            return str(excinfo.value)
        if isinstance(excinfo.value, MigrationLintUsageError):
            return f"migration-lint: error: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"{NODE_ID}::{self.name}"


def _pick(environments, index: int, name: str):
    if index < len(environments) and environments[index].name == name:
        return environments[index]
    named = [env for env in environments if env.name == name]
    if len(named) == 1:  # pragma: no cover - not in discovery order
        return named[0]
    if index < len(environments):  # pragma: no cover - the working directory changed in between
        return environments[index]
    raise MigrationLintUsageError(f"{name}: environment not checked")  # pragma: no cover


def plain_report(env, fail_on: str = "error", only_failing: bool = False) -> str:
    """An environment's findings as plain text, like the CLI's text output without colours or code
    frames: a summary line, then per finding ``path:line:col: severity rule (revision)``, the
    message and the fix."""
    from migration_lint.model import SEVERITIES, count_of, reaches

    findings = sorted(env.findings, key=lambda f: f.sort_key())
    counts = {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES}
    failing = sum(1 for f in findings if reaches(f.severity, fail_on))
    if findings:
        summary = f"{count_of(counts['error'], 'error')}, {count_of(counts['warning'], 'warning')}, {counts['info']} info; {failing} at or above fail-on ({fail_on})"
    else:
        summary = "no findings"
    from migration_lint.report import environment_facts

    facts = environment_facts(env, "`dialect` in the config", "`server-version` in the config")
    lines = [f"{env.name}: {summary}", f"  {facts}"]
    lines += [f"  {note}" for note in env.notes]
    shown = [f for f in findings if reaches(f.severity, fail_on)] if only_failing else findings
    for f in shown:
        where = f" (revision {f.revision}{', ' + f.phase if f.phase else ''})" if f.revision else ""
        lines.append("")
        lines.append(f"{f.path}:{f.line}:{f.column}: {f.severity} {f.rule}{where}")
        lines += [f"    {part}" for part in f.message.split("\n")]
        if f.trace:
            lines.append(f"    {f.trace}")
        if f.help:
            lines += [f"    fix: {part}" if i == 0 else f"         {part}" for i, part in enumerate(f.help.split("\n"))]
    if len(shown) < len(findings):
        lines += ["", f"({count_of(len(findings) - len(shown), 'finding')} below fail-on not shown)"]
    if findings:
        lines += ["", "`migration-lint explain RULE` tells more."]
    from migration_lint.report.safe import no_workflow_commands

    return no_workflow_commands("\n".join(lines))  # a CI runner reads pytest's output too
