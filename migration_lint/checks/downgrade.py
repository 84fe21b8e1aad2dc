"""Checks that compare a migration's upgrade() with its downgrade()."""

from __future__ import annotations

from migration_lint import model as m

CHECKS = ("missing_downgrade", "empty_downgrade", "incomplete_downgrade", "enum_type_leak")

# Upgrade operations that a downgrade is expected to reverse.
REVERSIBLE = {
    m.CREATE_TABLE, m.ADD_COLUMN, m.CREATE_INDEX, m.CREATE_FOREIGN_KEY, m.CREATE_UNIQUE_CONSTRAINT,
    m.CREATE_CHECK_CONSTRAINT, m.CREATE_PRIMARY_KEY, m.CREATE_EXCLUDE_CONSTRAINT, m.CREATE_TYPE,
    m.RENAME_TABLE, m.RENAME_COLUMN, m.ALTER_COLUMN_TYPE, m.SET_NOT_NULL, m.DROP_NOT_NULL,
    m.SET_DEFAULT, m.DROP_DEFAULT, m.CREATE_SEQUENCE, m.CREATE_VIEW,
}
CONSTRAINTS = {m.CREATE_FOREIGN_KEY, m.CREATE_UNIQUE_CONSTRAINT, m.CREATE_CHECK_CONSTRAINT, m.CREATE_PRIMARY_KEY, m.CREATE_EXCLUDE_CONSTRAINT}
# Downgrade operations whose target we cannot see: anything may have been dropped by them.
OPAQUE = {m.RAW_SQL}


def _skipped(migration):
    file = migration.file
    return len(file.down_revision) > 1  # merge revisions have nothing of their own to reverse


def missing_downgrade(rule, run):
    if run.settings.downgrades == "optional":
        return
    for migration in run.migrations:
        file = migration.file
        if file.has_upgrade and not file.has_downgrade and not file.syntax_error:
            yield migration.finding(rule, file.upgrade_line or 1, "this revision has no downgrade() function; `alembic downgrade` through it fails", subject=("downgrade",))


def empty_downgrade(rule, run):
    if run.settings.downgrades == "optional":
        return
    for migration in run.migrations:
        file = migration.file
        if not file.has_downgrade or not file.downgrade_is_empty or _skipped(migration):
            continue
        reversible = [op for op in migration.ops[m.UPGRADE] if op.kind in REVERSIBLE]
        if reversible:
            first = reversible[0]
            yield migration.finding(
                rule,
                file.downgrade_line,
                f"downgrade() does nothing, but upgrade() makes {len(reversible)} reversible schema change(s), first `{first.call or first.kind}` at line {first.line}",
                phase=m.DOWNGRADE,
                subject=("downgrade",),
            )


def _created(migration):
    """Objects the upgrade leaves behind: [(key, op, description)]."""
    created = {}
    for op in migration.ops[m.UPGRADE]:
        table = m.ident(op.table)
        if op.kind == m.CREATE_TABLE and table:
            created[("table", table)] = (op, f"table {op.table}")
        elif op.kind == m.ADD_COLUMN and table and op.column and op.column.name:
            if ("table", table) not in created:
                created[("column", table, m.ident(op.column.name))] = (op, f"column {op.table}.{op.column.name}")
        elif op.kind == m.CREATE_INDEX and op.name:
            if ("table", table) not in created:
                created[("index", m.ident(op.name))] = (op, f"index {op.name}")
        elif op.kind in CONSTRAINTS and op.name:
            if ("table", table) not in created:
                created[("constraint", m.ident(op.name))] = (op, f"constraint {op.name}")
        elif op.kind == m.CREATE_TYPE and op.name and not op.get("implicit"):
            created[("type", m.ident(op.name))] = (op, f"type {op.name}")
        elif op.kind == m.RENAME_COLUMN and op.columns and ("column", table, m.ident(op.columns[0])) in created:
            entry = created.pop(("column", table, m.ident(op.columns[0])))
            new = op.get("new_name")
            created[("column", table, m.ident(new))] = (entry[0], f"column {op.table}.{new}")
        elif op.kind == m.RENAME_TABLE and ("table", table) in created:
            entry = created.pop(("table", table))
            created[("table", m.ident(op.get("new_name")))] = (entry[0], f"table {op.get('new_name')}")
        elif op.kind == m.DROP_TABLE:
            created = {k: v for k, v in created.items() if not (k[0] == "table" and k[1] == table) and m.ident(v[0].table) != table}
        elif op.kind == m.DROP_COLUMN and op.columns:
            created.pop(("column", table, m.ident(op.columns[0])), None)
        elif op.kind == m.DROP_INDEX:
            created.pop(("index", m.ident(op.name)), None)
        elif op.kind == m.DROP_CONSTRAINT:
            created.pop(("constraint", m.ident(op.name)), None)
        elif op.kind == m.DROP_TYPE:
            created.pop(("type", m.ident(op.name)), None)
    return created


def _removed(ops):
    tables, columns, names, types = set(), set(), set(), set()
    for op in ops:
        table = m.ident(op.table)
        if op.kind == m.DROP_TABLE:
            tables.add(table)
        elif op.kind == m.DROP_COLUMN:
            columns.update((table, m.ident(c)) for c in op.columns)
        elif op.kind in (m.DROP_INDEX, m.DROP_CONSTRAINT):
            names.add(m.ident(op.name))
        elif op.kind == m.DROP_TYPE:
            types.add(m.ident(op.name))
        elif op.kind == m.RENAME_TABLE:
            tables.add(table)  # renamed away: the name no longer holds the upgrade's object
    return tables, columns, names, types


def _downgrade_is_knowable(migration):
    file = migration.file
    if not file.has_downgrade or file.downgrade_is_empty or _skipped(migration):
        return False
    ops = migration.file.ops(m.DOWNGRADE)
    if any(op.kind in (m.RAISE, *OPAQUE) for op in ops):
        return False
    drops = (m.DROP_TABLE, m.DROP_COLUMN, m.DROP_INDEX, m.DROP_CONSTRAINT, m.DROP_TYPE)
    if any(op.kind in drops and op.table is None and op.name is None and not op.columns for op in ops):
        return False  # a drop in a loop over names we cannot see
    return True


def incomplete_downgrade(rule, run):
    for migration in run.migrations:
        if not _downgrade_is_knowable(migration):
            continue
        downgrade_ops = migration.file.ops(m.DOWNGRADE)
        tables, columns, names, types = _removed(downgrade_ops)
        loops = any(op.table is None for op in downgrade_ops if op.kind in (m.DROP_TABLE, m.DROP_COLUMN))
        # drops whose target we cannot read (names from a loop or a variable) may remove anything of their kind
        unknown_columns = {m.ident(op.table) for op in downgrade_ops if op.kind == m.DROP_COLUMN and not op.columns}
        unknown_names = any(op.kind in (m.DROP_INDEX, m.DROP_CONSTRAINT) and not op.name for op in downgrade_ops)
        unknown_types = any(op.kind == m.DROP_TYPE and not op.name for op in downgrade_ops)
        created = _created(migration)
        leaked_columns = set()
        findings = []
        for key, (op, what) in created.items():
            kind = key[0]
            table = key[1] if kind in ("table", "column") else m.ident(op.table)
            if table in tables or (kind == "column" and (loops or table in unknown_columns)):
                continue
            if (kind in ("index", "constraint") and unknown_names) or (kind == "type" and unknown_types):
                continue
            if kind == "column" and key[1:] in columns:
                continue
            if kind in ("index", "constraint"):
                if key[1] in names or any((table, m.ident(c)) in columns for c in op.columns):
                    continue
            if kind == "type" and key[1] in types:
                continue
            if kind == "column":
                leaked_columns.add(key[1:])
            findings.append((kind, table, op, what))
        for kind, table, op, what in findings:
            # an index or constraint on a column that stays behind is part of that one omission
            if kind in ("index", "constraint") and op.columns and all((table, m.ident(c)) in leaked_columns for c in op.columns):
                continue
            yield migration.at(rule, op, f"upgrade() creates {what}, but downgrade() never removes it", phase=m.UPGRADE)


def enum_type_leak(rule, run):
    for migration in run.migrations:
        if not _downgrade_is_knowable(migration):
            continue
        dropped = {m.ident(op.name) for op in migration.file.ops(m.DOWNGRADE) if op.kind == m.DROP_TYPE}
        # a type the upgrade also creates explicitly is incomplete-downgrade's to report
        seen = {m.ident(op.name) for op in migration.ops[m.UPGRADE] if op.kind == m.CREATE_TYPE and not op.get("implicit")}
        for op in migration.ops[m.UPGRADE]:
            if op.kind != m.CREATE_TYPE or not op.get("implicit") or m.ident(op.name) in dropped or m.ident(op.name) in seen:
                continue
            seen.add(m.ident(op.name))
            yield migration.at(rule, op, f"the enum type {op.name} is created with {op.table}, but downgrade() never drops it; the next upgrade fails with 'type \"{op.name}\" already exists'", phase=m.UPGRADE)
