"""Checks for what only goes wrong when Alembic runs: whose transaction the migrations are in,
types that must exist before a column uses them, code that needs a database under ``--sql``, and
downgrades that can trip over rows written since the upgrade.

What each check claims about Alembic and SQLAlchemy at run time is tested against real
PostgreSQL and MariaDB servers in tests/test_runtime_rules.py.
"""

from __future__ import annotations

import re
from typing import Optional

from migration_lint import model as m
from migration_lint.facts import name_key, object_key, shown_table, table_key
from migration_lint.model import Finding

CHECKS = ("downtime_change", "env_open_transaction", "commit_in_migration", "enum_type_not_created", "offline_sql_incompatible", "downgrade_restores_unique")


# -- env.py --------------------------------------------------------------------------------------

def _uses_autocommit_block(run) -> bool:
    return any("autocommit" in op.context for file in run.files for op in file.operations)


def env_open_transaction(rule, run):
    """A statement on the connection before ``context.configure()`` (envpy.py says which)."""
    opened = run.settings.env("open_transaction")
    env_py = run.settings.env_py
    if not opened or not env_py:
        return
    line, what, configure_line = opened
    if run.settings.env("commits_after_run"):
        # env.py commits the work itself: one transaction for the whole run, as Alembic's own
        # would be -- unless the project asked for one per migration or uses autocommit blocks
        ignored = []
        if run.settings.env("transaction_per_migration"):
            ignored.append("its transaction_per_migration=True is ignored (the whole run is one transaction)")
        if _uses_autocommit_block(run):
            ignored.append("autocommit_block() fails with an AssertionError unless the migration commits right before it")
        if not ignored:
            return
        message = (
            f"`{what}` runs before context.configure() (line {configure_line}) and leaves a transaction open "
            "(SQLAlchemy 2.x begins one on the first statement): Alembic takes it for the caller's and neither begins "
            f"nor commits one of its own; env.py's commit after the migrations saves the work, but {' and '.join(ignored)}"
        )
    else:
        message = (
            f"`{what}` runs before context.configure() (line {configure_line}) and leaves a transaction open "
            "(SQLAlchemy 2.x begins one on the first statement): Alembic takes it for the caller's and commits nothing; "
            "`alembic upgrade head` exits 0 and every change of every migration is rolled back when the connection closes"
        )
    yield Finding(rule.name, env_py, line, message, subject=("env.py", "open_transaction"))


# -- commit in a migration ---------------------------------------------------------------------

def _per_migration(settings) -> bool:
    """Alembic begins a transaction per revision: transaction_per_migration=True, or a dialect
    Alembic runs without transactional DDL (MySQL, SQLite; transactional_ddl=False)."""
    return bool(settings.env("transaction_per_migration")) or settings.env("transactional_ddl") is False or settings.dialect in ("mysql", "sqlite")


HALF_APPLIED = (
    "ends the migration's transaction part-way: if anything after it fails ({where}), what came before stays applied "
    "while the revision is not stamped, and the next upgrade runs it again over a half-applied schema"
)
# with a transaction per revision, the revision's own commit stamps it: a later revision's failure
# no longer reaches back (quay 34c8ef052ec9, transactional_ddl=False; round 9 sample #34)
HALF_APPLIED_WHERE = {True: "in the rest of this revision", False: "in this revision or a later one of the same run"}


def commit_in_migration(rule, run):
    settings = run.settings
    external = settings.env("open_transaction") is not None
    saved = bool(settings.env("commits_after_run")) or external
    for migration in run.migrations:
        for phase in (m.UPGRADE, m.DOWNGRADE):
            ops = migration.ops[phase]
            for index, op in enumerate(ops):
                if op.kind != m.COMMIT or op.get("rollback") or op.get("session"):
                    continue
                if saved and _resumable_batch(op, ops[:index]):
                    continue
                message = _commit_message(op, ops[index + 1 :], settings, saved, external)
                if message:
                    yield migration.at(rule, op, message, phase=phase)


_REPEATABLE = frozenset({m.UPDATE_ROWS, m.DELETE_ROWS, m.SET_TIMEOUT, m.COMMIT})
_READS = frozenset({"SelectStmt", "Select", "VariableSetStmt", "Set"})  # pglast / sqlglot names
# an INSERT ... SELECT that only adds the rows not there yet: running it again adds nothing
_INSERT_GUARD = re.compile(r"\bNOT\s+EXISTS\b|\bIS\s+NULL\b|\bON\s+CONFLICT\b|\bNOT\s+IN\b|\bINSERT\s+IGNORE\b", re.I)


def _resumable_batch(op, before) -> bool:
    """A commit per batch of a backfill loop, with only row changes before it in the phase, in a
    run whose work env.py saves: when a later statement fails, the revision runs again from the
    start over rows already changed, which UPDATE/DELETE (and an INSERT that skips rows already
    there, and DDL guarded by IF [NOT] EXISTS) do again harmlessly; nothing is half-applied that the next upgrade would fail on."""
    if op.source == "sql" or "loop" not in op.context:
        return False
    for earlier in before:
        if earlier.kind == m.OTHER_SQL and earlier.get("statement") in _READS:
            continue
        if earlier.kind in _REPEATABLE or earlier.get("if_not_exists") or earlier.get("if_exists"):
            continue  # DDL guarded by IF [NOT] EXISTS does nothing the second time
        if earlier.kind == m.INSERT_ROWS and earlier.sql and _INSERT_GUARD.search(earlier.sql):
            continue
        return False
    return True


def _commit_message(op, after, settings, saved: bool, external: bool) -> Optional[str]:
    call = f"{op.call}()" if op.source != "sql" else "COMMIT"
    in_block = "autocommit" in op.context
    if in_block:
        if op.source == "sql":
            return None  # a COMMIT with autocommit on commits nothing
        return f"`{call}` inside autocommit_block() fails: the block's own transaction is committed here, and Alembic's commit of it at the end of the block raises 'This transaction is inactive'"
    before_block = bool(after) and "autocommit" in after[0].context
    if op.source == "sql" or saved:
        if before_block and op.source != "sql":
            return None  # env.py's transaction is the caller's: autocommit_block() needs it committed first
        per_revision = _per_migration(settings) and not external and not settings.env("commits_after_run")
        return f"`{call}` {HALF_APPLIED.format(where=HALF_APPLIED_WHERE[per_revision])}"
    block = "; autocommit_block() commits by itself, so drop this line" if before_block else ""
    if _per_migration(settings):
        return (
            f"`{call}` commits Alembic's transaction behind its back: what follows it, and this revision's version stamp, "
            "run in a new transaction that only the next revision's commit saves; when this revision is the last one "
            "`alembic upgrade` runs (as it is when first deployed), they are rolled back when the connection closes: "
            f"exit 0, the revision not stamped, and the next upgrade runs it again{block}"
        )
    return (
        f"`{call}` commits Alembic's transaction behind its back: everything after this line, in this revision and in "
        "every later revision of the same `alembic upgrade`, runs in a new transaction that nobody commits and is rolled "
        f"back when the connection closes: exit 0, none of them stamped, and the next upgrade runs this revision again{block}"
    )


# -- enum types ----------------------------------------------------------------------------------

def _native_enum(spec) -> bool:
    return spec is not None and spec.name == "enum" and bool(spec.enum_name) and "native_enum=False" not in spec.text


def _type_key(settings, name: str, schema: Optional[str]) -> tuple:
    return (name_key(schema, settings.dialect, "schema") or settings.default_schema, name_key(name, settings.dialect, "type"))


def _earlier_files(run, migration):
    """The files of revisions that run before this one (all others when the graph cannot say)."""
    graph = run.graph
    revision = migration.revision
    if revision and revision in graph.revisions:
        ancestors = graph.ancestors(revision)
        return [f for f in run.files if f.revision in ancestors]
    return [f for f in run.files if f.path != migration.path]


def enum_type_not_created(rule, run):
    settings = run.settings
    for migration in run.migrations:
        earlier = None
        dropped_by_upgrade = {object_key(op, settings, kind="type") for op in migration.ops[m.UPGRADE] if op.kind == m.DROP_TYPE}
        for phase in (m.UPGRADE, m.DOWNGRADE):
            created = set()
            for op in migration.ops[phase]:
                if op.kind == m.CREATE_TYPE:
                    created.add(object_key(op, settings, kind="type"))
                    continue
                if op.kind == m.RAW_SQL:
                    break  # SQL we cannot read may create it: no verdict for the rest of the phase
                if op.kind != m.ADD_COLUMN or op.column is None or not _native_enum(op.column.type):
                    continue
                spec = op.column.type
                key = _type_key(settings, spec.enum_name, spec.enum_schema)
                if key in created:
                    continue
                if phase == m.DOWNGRADE and key not in dropped_by_upgrade:
                    continue  # the type is still there unless this revision's upgrade dropped it
                if phase == m.UPGRADE:
                    if earlier is None:
                        earlier = _earlier_files(run, migration)
                    if any(spec.enum_name in f.enum_types or f.creates_from_models for f in earlier):
                        continue  # an earlier revision names (and so probably made) the type
                column = op.column.name or "(column named at run time)"
                yield migration.at(
                    rule, op,
                    f"adds column {column} of enum type {spec.enum_name} to {shown_table(op, settings)}, but nothing creates the type "
                    f"before it{' (upgrade() dropped it)' if phase == m.DOWNGRADE else ''}: Alembic's add_column does not emit CREATE TYPE, "
                    f"so this fails on PostgreSQL with 'type \"{spec.enum_name}\" does not exist'",
                    phase=phase,
                    subject=("type", spec.enum_schema or "", spec.enum_name, op.table or "", column),
                )


# -- offline (--sql) ------------------------------------------------------------------------------

WHAT = {"reflection": "reflects the database", "rows": "reads rows", "session": "uses an ORM session"}


def offline_sql_incompatible(rule, run):
    """One finding per revision whose upgrade() reads the database without an offline guard; only
    for projects that say they run `alembic upgrade --sql` (config offline-sql)."""
    settings = run.settings
    if not settings.offline_sql:
        return
    for migration in run.migrations:
        reads = [
            r for r in migration.file.reads
            if r.phase == m.UPGRADE and r.runs_on(settings.dialect) and "offline" not in r.context and "online" not in r.context
        ]
        if not reads:
            continue
        first = min(reads, key=lambda r: (r.line, r.column_offset))
        more = f" (and {m.count_of(len(reads) - 1, 'more place')})" if len(reads) > 1 else ""
        yield migration.at(
            rule, first,
            f"upgrade() {WHAT.get(first.get('what'), 'reads the database')}: {first.call}{more}; `alembic upgrade --sql` has no database "
            "(op.get_bind() is a mock connection) and fails here",
            phase=m.UPGRADE,
            subject=("offline",),
        )


# -- downgrade restoring a UNIQUE ----------------------------------------------------------------

_UNIQUE_KINDS = (m.CREATE_UNIQUE_CONSTRAINT, m.CREATE_PRIMARY_KEY)


def _is_unique(op) -> bool:
    return op.kind in _UNIQUE_KINDS or (op.kind == m.CREATE_INDEX and bool(op.get("unique")))


def _renamed_forward(ops, settings):
    """The upgrade's renames: table key -> new table key, (table key, column) -> new column."""
    tables, columns = {}, {}
    for op in ops:
        table = table_key(op, settings)
        if op.kind == m.RENAME_TABLE and op.get("new_name"):
            tables[table] = (table[0], name_key(op.get("new_name"), settings.dialect, "table"))
        elif op.kind == m.RENAME_COLUMN and op.columns and op.get("new_name"):
            columns[(table, name_key(op.columns[0], settings.dialect, "column"))] = name_key(op.get("new_name"), settings.dialect, "column")
    return tables, columns


def _kept_by_upgrade(op, upgrade_ops, settings) -> bool:
    """The upgrade leaves a UNIQUE at least as strict as the one the downgrade restores: on the
    same table (through the upgrade's renames), over a subset of its columns (through renames too),
    not partial unless the restored one is; one over expressions we cannot read counts as well."""
    tables, renamed = _renamed_forward(upgrade_ops, settings)
    table = table_key(op, settings)
    after = tables.get(table, table)
    wanted = set()
    for column in op.columns:
        key = name_key(column, settings.dialect, "column")
        key = renamed.get((table, key), key)
        wanted.add(renamed.get((after, key), key))
    for other in upgrade_ops:
        if not _is_unique(other) or table_key(other, settings) not in (table, after):
            continue
        if other.get("where") and not op.get("where"):
            continue  # a partial UNIQUE lets rows outside its WHERE repeat
        columns = {name_key(c, settings.dialect, "column") for c in other.columns}
        expressions = any("(" in c or " " in c for c in other.columns)  # lower(email): columns we cannot compare
        if not columns or expressions or (wanted and columns <= wanted):
            return True
    return False


_SET_ASSIGNMENT = re.compile(r"^\s*UPDATE\s+(?:ONLY\s+)?\"?(\w+)\"?\s+SET\s+\"?(\w+)\"?\s*=\s*(.+?)\s*;?\s*$", re.I | re.S)
_TRIGGER_ASSIGNMENT = re.compile(r"\bNEW\.\"?(\w+)\"?\s*:?=\s*([^;]+);", re.I)
# BEFORE INSERT OR UPDATE (in either order): a trigger on INSERT only lets an UPDATE change the
# source and leave the kept column stale
_TRIGGER_ON = re.compile(r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:CONSTRAINT\s+)?TRIGGER\b[^;]*?\bBEFORE\s+(?:INSERT\s+OR\s+UPDATE|UPDATE\b[^;]*?\bOR\s+INSERT)\b[^;]*?\bON\s+(?:\w+\.)?\"?(\w+)\"?", re.I | re.S)


def _expression_key(text: str) -> str:
    """An SQL expression compared as written, give or take spaces, quotes, case and NEW."""
    return re.sub(r"[\s\"]+", "", re.sub(r"\bNEW\.", "", text, flags=re.I)).lower()


def _kept_through_derived_column(op, upgrade_ops, settings) -> bool:
    """The restored UNIQUE is over an expression, and the upgrade put a UNIQUE (not partial) on a
    column of the same table that it filled with that very expression for every row (an UPDATE
    without WHERE) and keeps filled (a BEFORE INSERT OR UPDATE trigger on the table assigning it): a UNIQUE on
    the stored value is as strict (warehouse 8bee9c119e41: UNIQUE (normalized_name), filled with
    normalize_pep426_name(name), for the index on normalize_pep426_name(name))."""
    if len(op.columns) != 1 or "(" not in op.columns[0] or op.get("where"):
        return False
    wanted = _expression_key(op.columns[0])
    table = (op.table or "").lower()
    filled, kept = set(), set()
    triggered = {m_.group(1).lower() for other in upgrade_ops for m_ in _TRIGGER_ON.finditer(other.sql or "")}
    for other in upgrade_ops:
        sql = other.sql or ""
        found = _SET_ASSIGNMENT.match(sql) if other.kind == m.UPDATE_ROWS and not re.search(r"\bWHERE\b", sql, re.I) else None
        if found and found.group(1).lower() == table and _expression_key(found.group(3)) == wanted:
            filled.add(found.group(2).lower())
        if table in triggered:
            for assignment in _TRIGGER_ASSIGNMENT.finditer(sql):
                if _expression_key(assignment.group(2)) == wanted:
                    kept.add(assignment.group(1).lower())
    derived = filled & kept
    return any(
        _is_unique(other) and (other.table or "").lower() == table and not other.get("where")
        and len(other.columns) == 1 and other.columns[0].lower() in derived
        for other in upgrade_ops
    )


def _duplicates_declared(file) -> bool:
    """The revision's docstring warns that its downgrade fails on duplicate values (quay
    b1a79fa8e630: "NOTE on downgrade: ... the downgrade will fail because duplicate email values
    cannot satisfy a full unique constraint.  De-duplicate org emails before downgrading.")."""
    text = f"{file.message}\n{file.doc_notes}"
    return bool(re.search(r"\bdowngrad", text, re.I) and re.search(r"\bduplicat", text, re.I))


def downgrade_restores_unique(rule, run):
    settings = run.settings
    for migration in run.migrations:
        if len(migration.file.down_revision) > 1:
            continue
        upgrade_ops = migration.ops[m.UPGRADE]
        dropped = {}
        for op in upgrade_ops:
            if op.kind == m.DROP_INDEX and op.name:
                dropped[("index", object_key(op, settings))] = op
            elif op.kind == m.DROP_CONSTRAINT and op.name and op.get("type") in (None, "unique"):
                dropped[("constraint", object_key(op, settings, kind="constraint"))] = op
        if not dropped:
            continue
        if _duplicates_declared(migration.file):
            continue  # the author's docstring already says the downgrade meets duplicates, and what to do
        added = set()  # columns the downgrade adds back: NULL in every old row, and NULLs never collide
        cleaned = set()  # tables the downgrade deletes or updates rows of: it removes or merges them itself
        for op in migration.ops[m.DOWNGRADE]:
            if op.kind in (m.DELETE_ROWS, m.UPDATE_ROWS) and op.table:
                cleaned.add(table_key(op, settings))
                continue
            if op.kind == m.ADD_COLUMN and op.column is not None and op.column.name and op.column.server_default is None:
                added.add((table_key(op, settings), name_key(op.column.name, settings.dialect, "column")))
                continue
            if op.kind == m.CREATE_INDEX and op.get("unique") and op.name:
                key, noun = ("index", object_key(op, settings)), "UNIQUE index"
            elif op.kind == m.CREATE_UNIQUE_CONSTRAINT and op.name:
                key, noun = ("constraint", object_key(op, settings, kind="constraint")), "UNIQUE constraint"
            else:
                continue
            if key not in dropped:
                continue
            if migration.facts[id(op)]["table_is_new"]:
                continue  # recreated on a table the downgrade makes anew: no old rows
            if migration.facts[id(op)]["table_is_transient"]:
                continue  # its rows only live while work is in flight: duplicates would have to be in flight together
            if any((table_key(op, settings), name_key(c, settings.dialect, "column")) in added for c in op.columns):
                continue
            if table_key(op, settings) in cleaned:
                continue  # what the fix asks: the downgrade removes or merges rows of the table first
            if _kept_by_upgrade(op, upgrade_ops, settings) or _kept_through_derived_column(op, upgrade_ops, settings):
                continue  # the upgrade's own UNIQUE already kept rows from repeating these values
            upgrade_op = dropped[key]
            columns = f" on {shown_table(op, settings)} ({', '.join(op.columns)})" if op.columns else ""
            yield migration.at(
                rule, op,
                f"downgrade() recreates the {noun} {op.name}{columns} that upgrade() dropped (line {upgrade_op.line}) and did not "
                "replace with one as strict: rows written since the upgrade may hold duplicates, and then the downgrade fails; "
                "remove or merge them first",
                phase=m.DOWNGRADE,
            )


def downtime_change(rule, run):
    """One finding per change that replaces a table's primary key and only rolls forward (decided
    once in the engine: ``run.downtime``); its revisions' lock and running-code findings are left
    out, as under deploy = offline."""
    for change in run.downtime:
        others = [revision or path for path, revision in change.revisions if path != change.path]
        why = " and ".join([*(["drops the old key's column"] if change.column_gone else []), *(["cannot be downgraded"] if change.irreversible else [])])
        tables = " and ".join(change.tables) if len(change.tables) == 2 else m.listing(change.tables)
        where = ""
        if change.commit:
            where = f" (the change that added it: commit {change.commit[:10]}" + (f", with {m.listing(others)})" if others else ")")
        mates = ""
        if change.release_mates:
            shipped = f"release {change.release}" if change.release else "the next release"
            mates = f", and of the {len(change.release_mates)} other revision{'s' if len(change.release_mates) > 1 else ''} {shipped} ships with it ({m.listing(r or p for p, r in change.release_mates)}), which is upgraded with the application stopped too"
        message = (
            f"replaces the primary key of {tables}{where}; it {why}: code from before it cannot "
            f"run against the new keys, so it needs the application stopped; the lock and running-code findings of "
            f"{'these revisions' if others else 'this revision'}{mates} are left out (judged as deploy = offline)"
        )
        yield Finding.at(rule.name, change.path, change.op, message, revision=change.revision, phase=m.UPGRADE, subject=("downtime", change.revision or change.path))
