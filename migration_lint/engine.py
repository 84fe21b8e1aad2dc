"""Rule evaluation: parsed revision files + scope + settings + catalogue -> findings.  Pure: no I/O.

Declarative rules are matched against every operation of the phase they watch; Python checks
get the whole run (every migration in scope, the revision graph) and yield findings.  Findings
made elsewhere (the front end's parse problems, git, the round trip) come in as they are.  Every
finding then goes through the same judgement here: rules in force, severity, suppressions,
excluded files, fingerprints, so every entry point (CLI, tests, pytest plugin, Action) gets the
same verdicts.
"""

from __future__ import annotations

import dataclasses
import string
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from migration_lint import model as m
from migration_lint import rule_ids
from migration_lint.catalogue import OFFLINE_SAFE, Catalogue, Rule
from migration_lint.facts import EXCLUSIVE_DDL, Facts, downtime_changes, name_key, table_key, mark_code_mentions, mark_copied_earlier, mark_declared_removals, mark_foreign_keys, mark_known_not_null, mark_young_tables, place_facts, revisions_before_first_release, shown_table, unread
from migration_lint.matcher import matches
from migration_lint.model import LIST_LIMIT, Finding, MigrationFile, Operation, listing
from migration_lint.settings import Settings, check_rule_names

DOWNTIME_RULE = "downtime-change"  # its own finding stands for the lock and running-code ones it folds

SUPPRESSION_RULE = rule_ids.UNUSED_SUPPRESSION
SCHEMA_SUBJECTS = frozenset({"table", "column", "index", "constraint", "type", "sequence", "view"})


@dataclass
class MigrationContext:
    """One revision in scope: its operations that run on the target dialect, with their place."""

    file: MigrationFile
    ops: Dict[str, List[Operation]]  # phase -> operations
    facts: Dict[int, dict]  # id(op) -> place facts (table_is_new, in_batch, ...)

    @property
    def path(self) -> str:
        return self.file.path

    @property
    def revision(self) -> Optional[str]:
        return self.file.revision

    def facts_for(self, op: Operation) -> Facts:
        return Facts(op, self.facts[id(op)])

    def at(self, rule: Rule, op: Operation, message: str, *, phase: Optional[str] = None, subject: Tuple[str, ...] = (), severity: str = "", help: str = "") -> Finding:
        """A finding of ``rule`` at an operation of this revision (``severity``: a case the rule
        weighs apart from its own severity; ``help``: advice for a case the rule's fix is wrong for)."""
        finding = Finding.at(rule.name, self.path, op, message, revision=self.revision, phase=phase, subject=subject)
        return dataclasses.replace(finding, severity=severity, help=help) if severity or help else finding

    def finding(self, rule: Rule, line: int, message: str, *, phase: Optional[str] = None, subject: Tuple[str, ...] = ()) -> Finding:
        """A finding of ``rule`` on a line of this revision (not at one operation)."""
        return Finding(rule.name, self.path, max(line, 1), message, revision=self.revision, phase=phase, subject=subject or ("revision",))


@dataclass
class Run:
    """What a Python check sees: the settings, the scope (with the revision graph), the migrations
    in scope and every file of the history."""

    settings: Settings
    scope: "object"  # scope.Scope
    migrations: List[MigrationContext]
    files: List[MigrationFile]
    downtime: Sequence = ()  # facts.DowntimeChange: changes judged as deploy = offline

    @property
    def graph(self):
        return self.scope.graph

    @property
    def dialect(self) -> str:
        return self.settings.dialect

    @property
    def diff(self):
        return self.scope.diff

    def file_at(self, path: str) -> Optional[MigrationFile]:
        return self.scope.file_at(path)


def prepare(file: MigrationFile, settings: Settings) -> MigrationContext:
    def shown(rule: str, op) -> bool:  # a finding of that rule on op would reach the report
        if rule in settings.ignore or (settings.select and rule not in settings.select and "ALL" not in settings.select):
            return False
        return _suppressed(file, rule, op.line, op.end_line) is None

    placed = place_facts(file.operations, settings, shown)
    ops = {phase: [op for op, _ in pairs] for phase, pairs in placed.items()}
    facts = {id(op): place for pairs in placed.values() for op, place in pairs}
    migration = MigrationContext(file=file, ops=ops, facts=facts)
    mark_declared_removals(migration)
    return migration


class _MessageValues(dict):
    def __init__(self, facts: Facts, settings: Optional[Settings] = None):
        super().__init__()
        self.facts = facts
        self.settings = settings

    def __missing__(self, key):
        if key == "table" and self.settings is not None and self.facts.op.table:
            return shown_table(self.facts.op, self.settings)  # with its schema when not the default one
        value = self.facts.get(key)
        if value is None or value == () or (isinstance(value, m.ColumnSpec) and not value.name):
            return unread(key)
        return render(value)


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


def format_message(template: str, facts: Facts, settings: Optional[Settings] = None) -> str:
    try:
        return string.Formatter().vformat(template, (), _MessageValues(facts, settings))
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


def _declarative(rule: Rule, migration: MigrationContext, settings: Settings, catalogue: Optional[Catalogue] = None) -> Iterable[Finding]:
    phases = (m.UPGRADE, m.DOWNGRADE) if rule.phase == "any" else (rule.phase,)
    kinds = _kinds(rule.match)
    for phase in phases:
        groups: Dict[tuple, list] = {}
        for op in migration.ops[phase]:
            if kinds is not None and op.kind not in kinds:
                continue
            facts = migration.facts_for(op)
            if rule.effect == "lock" and not facts.get("table_is_large"):
                continue  # the config lists the large tables, and this is not one of them
            if matches(rule.match, facts):
                case = next((v for v in rule.messages if matches(v["when"], facts)), None)
                template = case["message"] if case else rule.message
                severity = case.get("severity", "") if case else ""
                grouped = None
                if rule.group:
                    grouped = case.get("group") if case else rule.group["message"]
                # a member suppressed on its own line is reported alone (and suppressed there, its
                # comment used); the others form the group
                if grouped and not _suppressed(migration.file, rule.name, op.line, op.end_line, catalogue):
                    key = (phase,) if rule.group["by"] == "phase" else (phase, facts.get("schema_key"), facts.get("table"))
                    groups.setdefault((template, grouped, severity, *key), []).append((op, facts))
                    continue
                yield _with_fix(migration.at(rule, op, format_message(template, facts, settings), phase=phase, severity=severity), case, facts, settings)
        for (template, grouped, severity, *_), members in groups.items():
            op, facts = members[0]
            if len(members) == 1:
                yield migration.at(rule, op, format_message(template, facts, settings), phase=phase, severity=severity)
                continue
            items = list(dict.fromkeys(format_message(rule.group["item"], f, settings) for _, f in members))
            if len(items) == 1:  # one object reached several ways (in two branches): one finding
                yield migration.at(rule, op, format_message(template, facts, settings), phase=phase, severity=severity)
                continue
            values = Facts(facts.op, {**facts.extra, "count": len(items), "items": listing(items)})
            # at the first member, spanning only its own lines: a comment on a later member's line
            # is that member's, not the group's
            yield migration.at(rule, op, format_message(grouped, values, settings), phase=phase, subject=("group", *items[:LIST_LIMIT]), severity=severity)


def _with_fix(finding: Finding, case: Optional[dict], facts, settings: Settings) -> Finding:
    """A message case's own fix, where the rule's would be wrong for it (a template, like its message)."""
    return dataclasses.replace(finding, help=format_message(case["fix"], facts, settings)) if case and case.get("fix") else finding


def rules_in_force(catalogue: Catalogue, settings: Settings) -> List[Rule]:
    check_rule_names(settings, catalogue)
    select = {catalogue.resolve(n) for n in settings.select}
    ignore = {catalogue.resolve(n) for n in settings.ignore}
    rules = []
    for rule in catalogue:
        if select and rule.name not in select and "ALL" not in select:
            continue
        if rule.opt_in and rule.name not in select:
            continue  # named explicitly or not at all ("ALL" does not turn opt-in rules on)
        if rule.name in ignore or not rule.applies_to(settings.dialect):
            continue
        if settings.deploy == "offline" and rule.effect in OFFLINE_SAFE:
            continue  # nothing runs while the migration does: nobody waits on its locks
        rules.append(rule)
    return rules


def lint(files: Sequence[MigrationFile], scope, settings: Settings, catalogue: Catalogue, produced: Sequence[Finding] = ()) -> List[Finding]:
    """Findings for one history.  ``scope`` says which files per-migration rules look at (graph
    rules always see the whole history); ``produced``: findings established elsewhere (front end,
    git, round trip), judged here like any other."""
    rules = rules_in_force(catalogue, settings)
    # a change that replaces a primary key and only rolls forward needs the application stopped:
    # one finding for it (when its rule is on), and its revisions judged as deploy = offline
    downtime = downtime_changes(files, settings) if any(rule.name == DOWNTIME_RULE for rule in rules) else []
    if downtime:
        settings = dataclasses.replace(settings, offline_files=settings.offline_files | {path for change in downtime for path, _ in (*change.revisions, *change.release_mates)})
    # a revision under offline-paths (a contract branch) is judged as deploy = offline
    offline = dataclasses.replace(settings, deploy="offline") if settings.offline_files else settings
    migrations = [prepare(f, offline if settings.offline_at(f.path) else settings) for f in files if scope.is_checked(f.path)]
    mark_copied_earlier(migrations, scope.graph)
    mark_foreign_keys(migrations, scope.graph, settings)
    mark_young_tables(migrations, scope.graph, settings)
    mark_known_not_null(migrations, scope.graph, settings)
    mark_code_mentions(migrations, settings)
    pre_release = revisions_before_first_release(migrations, settings)
    run = Run(settings=settings, scope=scope, migrations=migrations, files=list(files), downtime=downtime)
    raw: List[Tuple[Rule, Finding]] = []
    for rule in rules:
        if rule.match is not None:
            for migration in migrations:
                raw.extend((rule, finding) for finding in _declarative(rule, migration, settings, catalogue))
        elif rule.check is not None:
            raw.extend((rule, finding) for finding in rule.check_function(rule, run))
    in_force = {rule.name: rule for rule in rules}
    for finding in produced:
        rule = in_force.get(catalogue.resolve(finding.rule))
        if rule is not None:
            raw.append((rule, finding))
    findings: List[Finding] = []
    used = set()
    seen = set()
    for rule, finding in raw:
        key = (rule.name, finding.path, finding.line, finding.column, finding.subject)
        if key in seen:
            continue  # one operation gives at most one finding per rule
        seen.add(key)
        if settings.downgrades == "unused" and finding.phase == m.DOWNGRADE:
            continue  # nothing runs downgrade(): what it would do wrong never happens
        if finding.phase == m.DOWNGRADE and finding.revision in pre_release and rule.category != "roundtrip":
            continue  # no released database is downgraded back into the development history
        if rule.effect in OFFLINE_SAFE and settings.offline_files and finding.path in settings.offline_files and rule.name != DOWNTIME_RULE:
            continue  # migrated with the old release stopped: nobody waits on its locks or runs old code
        if scope.is_excluded(finding.path) and rule.category != "roundtrip":
            # Excluded files report nothing static.  What the round trip found still counts: an
            # excluded revision that fails to upgrade leaves everything after it untested.
            continue
        file = scope.file_at(finding.path)
        suppression = _suppressed(file, rule.name, finding.line, finding.end_line, catalogue) if file else None
        if suppression is not None:
            used.add((finding.path, suppression.line))
            continue
        findings.append(_judged(rule, finding, settings))
    if SUPPRESSION_RULE in in_force:
        # rules whose findings come from elsewhere judge suppressions only when they ran
        ran = {r.name for r in rules if r.produced_by in (None, "frontend")} | {catalogue.resolve(f.rule) for f in produced}
        rule = in_force[SUPPRESSION_RULE]
        findings.extend(_judged(rule, f, settings) for f in unused_suppressions(rule, run, used, catalogue, ran))
    findings = _fold_lock_windows(findings, migrations, settings)
    findings = m.with_fingerprints(findings)
    findings.sort(key=Finding.sort_key)
    return findings


# statements that lock their table until the transaction ends and whose own work (a scan, a build,
# a rewrite) is what makes it long
# (alter-column-type groups a table's type changes itself; a volatile default opens the backfill
# window of ``lock_window_open``)
FOLDED_LOCKS = frozenset({
    "create-index-not-concurrently", "add-foreign-key", "add-check-constraint", "set-not-null",
    "add-unique-constraint", "add-primary-key", "backfill-with-ddl",
})
# folded only into a window that a lock finding opened or joins
UNFOLDED_ALONE = frozenset({"backfill-with-ddl"})
BACKFILL_KINDS = frozenset({m.UPDATE_ROWS, m.DELETE_ROWS, m.INSERT_ROWS})


def _fold_lock_windows(findings: List[Finding], migrations, settings: Settings) -> List[Finding]:
    """One finding per table and transaction: on PostgreSQL every lock a statement takes is held
    until the migration commits, so the statements after the first that locks a table only
    lengthen one window (warehouse 43bf0b6badcb: an index build, then a CHECK, on macaroons;
    prefect: SET NOT NULL then an index on artifact_collection; round 9 sample #0, #10, #13, #91).
    The first finding stays, at the highest severity of the window, and names the others with
    their fixes; a COMMIT or an autocommit block ends a window.  A foreign key to another table
    that matters (``large-tables``) stays apart: it blocks that table's writers too, unless the same
    migration created that table (prefect 2882cd2df463, round 9 #13).  A backfill of the table joins
    its window in either order (warehouse 9ca7d5668af4, round 10 #6: a foreign key on a new
    column, then an UPDATE of every row under the same lock) when the DDL it is paired with is on
    that table too; the lock finding carries the window then, so its rule and fix stay in front.
    The folded finding's identity names the statements it holds: a baseline that recorded the
    window does not hide a statement that joins it later."""
    # transactional_ddl=False too holds locks to the revision's end; AUTOCOMMIT isolation does not
    if settings.dialect != "postgresql" or settings.env("autocommit_isolation"):
        return findings
    windows: Dict[tuple, list] = {}
    position: Dict[tuple, tuple] = {}
    shared: set = set()  # (path, line, column) of statements on several tables (one op.execute of several statements)
    exclusive: Dict[tuple, tuple] = {}  # (path, segment, table) -> (index, line) of the first ACCESS EXCLUSIVE statement
    for migration in migrations:
        segment = 0
        made = set()  # tables this upgrade created so far: a foreign key to one blocks nobody else
        for index, op in enumerate(migration.ops.get(m.UPGRADE, ())):
            if op.kind == m.CREATE_TABLE and op.table:
                made.add(table_key(op, settings))
            if op.kind == m.COMMIT or "autocommit" in op.context:
                segment += 1
                continue
            if op.table and (op.kind in EXCLUSIVE_DDL or (op.kind == m.DROP_INDEX and not op.get("concurrently"))):
                exclusive.setdefault((migration.path, segment, table_key(op, settings)), (index, op.line))
            if op.table:
                # a foreign key also locks the table it references: one that matters stays apart
                refers = (
                    op.kind == m.CREATE_FOREIGN_KEY and op.get("ref_table") and op.get("ref_table") != op.table
                    and settings.is_large(op.get("ref_schema") or op.schema, op.get("ref_table"))
                    and (name_key(op.get("ref_schema"), settings.dialect, "schema") or settings.default_schema, name_key(str(op.get("ref_table")), settings.dialect, "table")) not in made
                )
                if not refers:
                    key = (migration.path, op.line, op.column_offset + 1)
                    here = (segment, table_key(op, settings), index, op.kind)
                    if key in position and position[key][1] != here[1]:
                        shared.add(key)
                    position.setdefault(key, here)
    for number, finding in enumerate(findings):
        if finding.rule not in FOLDED_LOCKS or finding.phase != m.UPGRADE:
            continue
        place = position.get((finding.path, finding.line, finding.column))
        if place is None:
            continue
        segment, table, index, kind = place
        if finding.rule in UNFOLDED_ALONE:
            # a backfill joins the window of its own table, and only when the DDL it is paired
            # with (its subject: "backfill", "after"/"before", table) locks that table too
            paired = finding.subject[2] if len(finding.subject) > 2 else ""
            if (finding.path, finding.line, finding.column) in shared or kind not in BACKFILL_KINDS or name_key(paired, settings.dialect, "table") != table[1]:
                continue
        windows.setdefault((finding.path, segment, table), []).append((index, number))
    drop: set = set()
    replace: Dict[int, Finding] = {}
    rank = {severity: order for order, severity in enumerate(m.SEVERITIES)}
    for (path, segment, table), members in windows.items():
        if len(members) < 2 or all(findings[number].rule in UNFOLDED_ALONE for _, number in members):
            continue  # backfills alone keep their own findings: each says what it saw (before/after the DDL)
        members.sort()
        # the first lock finding carries the window (a backfill before it is named in it)
        carrier = next(member for member in members if findings[member[1]].rule not in UNFOLDED_ALONE)
        first = findings[carrier[1]]
        rest = [member for member in members if member != carrier]
        others = [findings[number] for _, number in rest]  # (never empty: a window has two members)
        severity = max((f.severity for f in (first, *others)), key=lambda s: rank.get(s, -1))
        earlier = [findings[number] for index, number in rest if index < carrier[0]]  # backfills before it
        later = [findings[number] for index, number in rest if index > carrier[0]]
        held = exclusive.get((path, segment, table))
        reads = f", ACCESS EXCLUSIVE from line {held[1]} on, so reads wait too," if held is not None and held[0] <= members[-1][0] else ""
        parts = []
        if earlier:
            parts.append(f"the rows changed before it in the same transaction ({m.listing(f'{f.rule} at line {f.line}' for f in earlier)}) stay locked through it")
        if later:
            parts.append(f"the same transaction then holds {table[1]} locked{reads} through {len(later)} more statement{'s' if len(later) > 1 else ''} ({m.listing(f'{f.rule} at line {f.line}' for f in later)})")
        message = f"{first.message}; {'; '.join(parts)}: one lock window, to fix as one"
        helps = [first.help] + [f"for the {f.rule} at line {f.line}: {f.help}" for f in others if f.help and f.help != first.help]
        # its identity names what it holds: a baseline of the window does not hide a statement that joins it later
        subject = (*first.subject, "window", *(f"{f.rule}:{'/'.join(map(str, f.subject))}" for f in others))
        replace[carrier[1]] = dataclasses.replace(first, message=message, severity=severity, help="; then, ".join(h for h in helps if h), subject=subject)
        drop.update(number for _, number in rest)
    return [replace.get(number, finding) for number, finding in enumerate(findings) if number not in drop]


# env.py runs a statement before context.configure() (env-open-transaction): Alembic never owns
# the transaction, and autocommit_block() asserts unless the migration commits first (warehouse,
# round 8: the fixes said "autocommit block" alone, against the tool's own env.py finding)
OPEN_TRANSACTION_NOTE = (
    " (this history's env.py leaves a transaction open before context.configure(): call "
    "op.get_bind().commit() right before the autocommit block, or it fails with an AssertionError)"
)


def _with_env_note(help_text: str, settings: Settings) -> str:
    if help_text and "autocommit_block" in help_text and settings.env("open_transaction") and OPEN_TRANSACTION_NOTE not in help_text:
        return help_text + OPEN_TRANSACTION_NOTE
    return help_text


def _judged(rule: Rule, finding: Finding, settings: Settings) -> Finding:
    subject = finding.subject
    if len(subject) > 1 and subject[0] in SCHEMA_SUBJECTS and not subject[1]:
        subject = (subject[0], settings.default_schema, *subject[2:])  # unqualified: the default schema
    return dataclasses.replace(
        finding,
        rule=rule.name,
        # the project's setting first, then a case the rule weighs apart, then the rule's own
        severity=settings.severity_of(rule.name, "") or _severity_by_alias(rule, settings) or finding.severity or rule.severity,
        help=_with_env_note(finding.help or (rule.fix_guarded if rule.fix_guarded and settings.dialect_uncertain else rule.fix), settings),
        line=max(finding.line, 1),
        end_line=max(finding.end_line, finding.line, 1),
        environment=settings.environment,
        subject=subject,
    )


def _severity_by_alias(rule: Rule, settings: Settings) -> Optional[str]:
    for alias in rule.aliases:
        level = settings.severity_of(alias, "")
        if level:
            return level
    return None


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


def unused_suppressions(rule: Rule, run: Run, used, catalogue: Catalogue, ran) -> Iterable[Finding]:
    """``unused-suppression``: judged after every other rule, because whether a suppression was
    used depends on their results (``used``: (path, comment line))."""
    for migration in run.migrations:
        file = migration.file
        for suppression in file.suppressions:
            for index, message in enumerate(_suppression_problems(suppression, (file.path, suppression.line) in used, catalogue, ran)):
                yield Finding(rule.name, file.path, suppression.line, message, revision=file.revision, subject=("suppression", ",".join(suppression.rules), str(index)))


def _suppression_problems(suppression: m.Suppression, used: bool, catalogue: Catalogue, ran) -> List[str]:
    problems = []
    kind = "ignore-file" if suppression.file_level else "ignore"
    unknown = [r for r in suppression.rules if r not in catalogue]
    for name in unknown:
        problems.append(f"`{kind}` names unknown rule {name!r}")
    if not suppression.rules:
        problems.append(f"`{kind}[]` names no rule")
    if not suppression.reason:
        problems.append(f"`{kind}[{', '.join(suppression.rules)}]` gives no reason; say why it is safe")
    if not used and not unknown and suppression.rules and all(catalogue.resolve(r) in ran for r in suppression.rules):
        problems.append(f"`{kind}[{', '.join(suppression.rules)}]` suppresses nothing")
    return problems


def problem_findings(files: Sequence[MigrationFile]) -> List[Finding]:
    """What the front end found while reading files (syntax errors, bad headers), as findings.
    Every file counts, in scope or not: a broken file anywhere breaks ``alembic upgrade``."""
    out = []
    for file in files:
        for problem in file.problems:
            out.append(Finding(problem.rule, file.path, problem.line, problem.message, column=problem.column_offset + 1, revision=file.revision, phase=problem.phase, subject=("file",)))
    return out
