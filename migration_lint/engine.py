"""Rule evaluation: parsed migrations + catalogue + config -> findings.  Pure: no I/O here.

Declarative rules are matched against every operation of the phase they watch; Python checks get
the whole run (every migration in scope, the revision graph) and yield hits.  Suppressions,
severity overrides, select/ignore and start_after are applied here too, so every entry point
(CLI, tests, pytest plugin) gets the same verdicts.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

from migration_lint import model as m
from migration_lint.catalogue import Catalogue, Rule
from migration_lint.config import Config
from migration_lint.errors import ConfigError
from migration_lint.graph import Revision, RevisionGraph, after
from migration_lint.matcher import Facts, matches
from migration_lint.model import Finding, MigrationFile, Operation
from migration_lint import rule_ids

SUPPRESSION_RULE = rule_ids.UNUSED_SUPPRESSION
REPORTED_ELSEWHERE = "migration_lint.engine:reported_elsewhere"


@dataclass
class Target:
    """What the engine needs to know about an environment (decided by the caller)."""

    name: str = ""
    dialect: str = "postgresql"
    server_version: Tuple[int, ...] = (14,)
    env_settings: dict = field(default_factory=dict)
    project_packages: frozenset = frozenset()
    own_packages: frozenset = frozenset()  # the package(s) holding the migrations themselves
    merge_command: str = "alembic merge"  # Flask-Migrate projects merge with `flask db merge`


@dataclass
class Hit:
    """What a Python check reports; the engine adds severity, help and suppression."""

    migration: Optional["MigrationContext"]
    line: int
    message: str
    phase: Optional[str] = None
    column: int = 1
    path: Optional[str] = None  # for hits without a migration (graph-level)
    revision: Optional[str] = None
    end_line: int = 0  # last line of a multi-line statement (0: just ``line``)

    @classmethod
    def at(cls, migration: "MigrationContext", op: Operation, message: str, phase: Optional[str] = None) -> "Hit":
        """A hit at an operation: its line, column and last line."""
        return cls(migration, op.line, message, phase=phase or op.phase, column=op.column_offset + 1, end_line=op.end_line)


@dataclass
class Reported:
    """A finding established outside rule evaluation (the round trip, git), handed to the engine
    so that suppressions, severities and select/ignore apply to it like to any other."""

    rule: str
    path: str
    line: int
    revision: str
    message: str
    phase: Optional[str] = None


@dataclass
class DiffContext:
    """Changed-only mode: what the change adds, relative to the base ref."""

    ref: str
    new_revisions: frozenset = frozenset()  # revisions whose files the change adds
    base_heads: Tuple[str, ...] = ()  # heads of the history at the merge base


@dataclass
class MigrationContext:
    file: MigrationFile
    target: Target
    config: Config
    ops: Dict[str, List[Operation]]  # phase -> operations that run on the target dialect
    facts: Dict[int, dict]  # id(op) -> place facts (table_is_new, in_batch, ...)

    @property
    def path(self) -> str:
        return self.file.path

    @property
    def revision(self) -> Optional[str]:
        return self.file.revision

    def facts_for(self, op: Operation) -> Facts:
        return Facts(op, self.facts[id(op)])


@dataclass
class RunContext:
    target: Target
    config: Config
    graph: RevisionGraph
    migrations: List[MigrationContext]  # in scope (after start_after), history order
    all_files: List[MigrationFile]
    reported: List[Reported] = field(default_factory=list)  # from the round trip and git
    diff: Optional[DiffContext] = None

    @property
    def dialect(self) -> str:
        return self.target.dialect


def prepare(file: MigrationFile, target: Target, config: Config) -> MigrationContext:
    if file.headers_only:
        raise RuntimeError(f"{file.path}: read with headers only, but in the checked scope")
    ops: Dict[str, List[Operation]] = {m.UPGRADE: [], m.DOWNGRADE: []}
    facts: Dict[int, dict] = {}
    for phase in (m.UPGRADE, m.DOWNGRADE):
        new_tables = set()
        new_columns = set()
        for op in file.operations:
            if op.phase != phase or not op.runs_on(target.dialect):
                continue
            table = m.ident(op.table)
            if op.kind == m.CREATE_TABLE:
                new_tables.add(table)
            elif op.kind == m.RENAME_TABLE and table in new_tables:
                new_tables.add(m.ident(op.get("new_name")))
            column = m.ident(op.column.name if op.column else (op.columns[0] if op.columns else None))
            if op.kind == m.ADD_COLUMN:
                new_columns.add((table, column))
            ops[phase].append(op)
            facts[id(op)] = {
                "table_is_new": table in new_tables if table else False,
                "column_is_new": (table, column) in new_columns and op.kind != m.ADD_COLUMN,
                "in_batch": "batch" in op.context,
                # transactional_ddl=False in env.py: every statement commits on its own
                "in_autocommit": "autocommit" in op.context or target.env_settings.get("transactional_ddl") is False,
                "in_loop": "loop" in op.context,
                "dialect": target.dialect,
                "server_version": target.server_version,
            }
    return MigrationContext(file=file, target=target, config=config, ops=ops, facts=facts)


class _MessageValues(dict):
    def __init__(self, facts: Facts):
        super().__init__()
        self.facts = facts

    def __missing__(self, key):
        return render(self.facts.get(key))


def render(value) -> str:
    if value is None or value == ():
        return "?"
    if isinstance(value, m.ColumnSpec):
        return value.name or "?"
    if isinstance(value, m.TypeSpec):
        return value.text or value.name
    if isinstance(value, m.Default):
        return value.text
    if isinstance(value, tuple):
        return ", ".join(render(v) for v in value)
    return str(value)


def format_message(template: str, facts: Facts) -> str:
    try:
        return string.Formatter().vformat(template, (), _MessageValues(facts))
    except (ValueError, IndexError, KeyError, AttributeError):
        return template


def _kinds(match: dict) -> Optional[frozenset]:
    """The operation kinds a match can accept (None: any), to skip the rest without matching."""
    kind = match.get("kind")
    if isinstance(kind, str):
        return frozenset((kind,))
    if isinstance(kind, list) and all(isinstance(k, str) for k in kind):
        return frozenset(kind)
    if isinstance(kind, dict) and isinstance(kind.get("in"), list) and set(kind) == {"in"}:
        return frozenset(kind["in"])
    return None


def _declarative(rule: Rule, migration: MigrationContext) -> Iterable[Hit]:
    phases = (m.UPGRADE, m.DOWNGRADE) if rule.phase == "any" else (rule.phase,)
    kinds = _kinds(rule.match)
    for phase in phases:
        for op in migration.ops[phase]:
            if kinds is not None and op.kind not in kinds:
                continue
            facts = migration.facts_for(op)
            if matches(rule.match, facts):
                yield Hit(migration, op.line, format_message(rule.message, facts), phase=phase, column=op.column_offset + 1, end_line=op.end_line)


def build_graph(files: List[MigrationFile]) -> RevisionGraph:
    return RevisionGraph.build(
        Revision(f.revision, f.down_revision, f.branch_labels, f.depends_on, f.path) for f in files if f.revision
    )


def enabled_rules(catalogue: Catalogue, config: Config, dialect: str) -> List[Rule]:
    for name in (*config.select, *config.ignore):
        if name not in catalogue and name != "ALL":
            raise ConfigError(f"{config.source or 'config'}: unknown rule {name!r}")
    for name in config.severity:  # ALL selects every rule, but a severity is given rule by rule
        if name not in catalogue:
            raise ConfigError(f"{config.source or 'config'}: severity: unknown rule {name!r}")
    select = {catalogue.resolve(n) for n in config.select}
    ignore = {catalogue.resolve(n) for n in config.ignore}
    rules = []
    for rule in catalogue:
        if select and rule.name not in select and "ALL" not in select:
            continue
        if rule.name in ignore or not rule.applies_to(dialect):
            continue
        rules.append(rule)
    return rules


def reported_elsewhere(rule: Rule, run: "RunContext") -> Iterable[Hit]:
    """The check of rules whose findings are established outside the engine (run.reported)."""
    for item in run.reported:
        if item.rule == rule.name:
            yield Hit(None, item.line, item.message, phase=item.phase, path=item.path, revision=item.revision or None)


def scoped(files: List[MigrationFile], graph: RevisionGraph, config: Config, target: Target, only_paths: Optional[set] = None, excluded: frozenset = frozenset()) -> List[MigrationFile]:
    """The files per-migration rules look at: those after ``start_after``, not excluded, and in
    changed-only mode those changed.  Graph and file-wide rules see every file."""
    try:
        in_scope = after(graph, config.start_after)
    except KeyError as exc:
        detail = str(exc.args[0]) if exc.args else config.start_after
        raise ConfigError(f"start_after: revision {detail!r} is not in this history ({target.name})" if "ambiguous" not in detail else f"start_after: {detail}") from None
    return [f for f in files if (in_scope is None or f.revision in in_scope) and (only_paths is None or f.path in only_paths) and f.path not in excluded]


def lint(
    files: List[MigrationFile],
    target: Target,
    config: Config,
    catalogue: Catalogue,
    reported: Optional[List[Reported]] = None,
    only_paths: Optional[set] = None,
    diff: Optional[DiffContext] = None,
    excluded: frozenset = frozenset(),
) -> List[Finding]:
    """Findings for one environment.  ``only_paths``: per-migration rules look only at these
    files (changed-only mode); graph rules always see the whole history.  ``excluded``: files
    (config ``exclude``) that count for the graph but report nothing (round trip failures aside)."""
    graph = build_graph(files)
    migrations = [prepare(f, target, config) for f in scoped(files, graph, config, target, only_paths, excluded)]
    run = RunContext(target=target, config=config, graph=graph, migrations=migrations, all_files=files, reported=list(reported or []), diff=diff)
    rules = enabled_rules(catalogue, config, target.dialect)
    by_path = {f.path: f for f in files}
    raw: List[Tuple[Rule, Hit]] = []
    for rule in rules:
        if rule.name == SUPPRESSION_RULE:
            continue
        if rule.match is not None:
            for migration in migrations:
                raw.extend((rule, hit) for hit in _declarative(rule, migration))
        else:
            raw.extend((rule, hit) for hit in rule.check_function(rule, run))
    findings, used = [], set()
    for rule, hit in raw:
        path = hit.migration.path if hit.migration else hit.path
        if path in excluded and rule.category != "roundtrip":
            # Excluded files report nothing static.  What the round trip found still counts: an
            # excluded revision that fails to upgrade leaves everything after it untested.
            continue
        file = by_path.get(path)
        suppression = _suppressed(file, rule.name, hit.line, hit.end_line, catalogue) if file else None
        if suppression is not None:
            used.add((path, suppression.line))
            continue
        findings.append(_finding(rule, hit, path, file, config, target, catalogue))
    # rules whose findings come from elsewhere (round trip, git) judge suppressions only when that ran
    enabled = {r.name for r in rules if r.check != REPORTED_ELSEWHERE or any(item.rule == r.name for item in run.reported)}
    if SUPPRESSION_RULE in {r.name for r in rules}:
        rule = catalogue.get(SUPPRESSION_RULE)
        for hit in unused_suppressions(rule, run, used=used, catalogue=catalogue, enabled=enabled):
            findings.append(_finding(rule, hit, hit.path, by_path.get(hit.path), config, target, catalogue))
    findings.sort(key=Finding.sort_key)
    return findings


def severity_for(rule: Rule, config: Config, catalogue: Catalogue) -> str:
    for name, level in config.severity.items():
        if catalogue.resolve(name) == rule.name:
            return level
    return rule.severity


def _finding(rule: Rule, hit: Hit, path: str, file: Optional[MigrationFile], config: Config, target: Target, catalogue: Catalogue) -> Finding:
    return Finding(
        rule=rule.name,
        severity=severity_for(rule, config, catalogue),
        path=path or "",
        line=max(hit.line, 1),
        column=hit.column,
        end_line=max(hit.end_line, hit.line, 1),
        message=hit.message,
        help=rule.fix,
        revision=hit.revision or (file.revision if file else None),
        phase=hit.phase,
        environment=target.name,
    )


def _suppressed(file: MigrationFile, rule: str, line: int, end_line: int = 0, catalogue: Optional[Catalogue] = None):
    """The suppression covering a finding: file-level, or on any line of its statement."""
    last = max(line, end_line)
    for suppression in file.suppressions:
        names = {catalogue.resolve(n) for n in suppression.rules} if catalogue is not None else set(suppression.rules)
        if rule not in names:
            continue
        if suppression.file_level or any(line <= covered <= last for covered in suppression.applies_to):
            return suppression
    return None


def unused_suppressions(rule: Rule, run: RunContext, used=frozenset(), catalogue=None, enabled=frozenset()) -> Iterable[Hit]:
    """The check of ``unused-suppression``.  lint() runs it after every other rule, because
    whether a suppression was used depends on their results (``used``: (path, comment line))."""
    scoped = {mc.path for mc in run.migrations}
    for file in run.all_files:
        if file.path not in scoped:
            continue
        for suppression in file.suppressions:
            for message in _suppression_problems(suppression, (file.path, suppression.line) in used, catalogue, enabled):
                yield Hit(None, suppression.line, message, path=file.path, revision=file.revision)


def _suppression_problems(suppression: m.Suppression, used: bool, catalogue: Catalogue, enabled: set) -> List[str]:
    problems = []
    kind = "ignore-file" if suppression.file_level else "ignore"
    unknown = [r for r in suppression.rules if r not in catalogue]
    for name in unknown:
        problems.append(f"`{kind}` names unknown rule {name!r}")
    if not suppression.rules:
        problems.append(f"`{kind}[]` names no rule")
    if not suppression.reason:
        problems.append(f"`{kind}[{', '.join(suppression.rules)}]` gives no reason; say why it is safe")
    if not used and not unknown and suppression.rules and all(catalogue.resolve(r) in enabled for r in suppression.rules):
        problems.append(f"`{kind}[{', '.join(suppression.rules)}]` suppresses nothing")
    return problems
