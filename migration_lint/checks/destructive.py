"""Destructive changes that a declarative match cannot judge alone."""

from __future__ import annotations

from migration_lint import model as m

CHECKS = ("alter_column_type", "drop_add_column")


def _safe_widening(old, new, dialect):
    """True when changing ``old`` to ``new`` keeps every value and rewrites nothing."""
    if old is None or new is None:
        return False
    if old.family == "varchar" and new.family == "varchar":
        if new.length is None:
            return dialect == "postgresql"
        if old.length is None or new.length < old.length:
            return False
        if dialect == "mysql":
            # InnoDB widens VARCHAR in place only while the length prefix keeps its size (1 byte up
            # to 255 bytes).  Lengths are characters; with utf8mb4 a character takes up to 4 bytes.
            return (old.length * 4 <= 255) == (new.length * 4 <= 255)
        return True
    if dialect == "postgresql":
        if old.family == "varchar" and new.family == "text":
            return True
        if old.family == "text" and new.family == "varchar" and new.length is None:
            return True  # same storage; an unbounded varchar checks nothing
        if old.family == "char" and new.family in ("varchar", "text") and new.length is None:
            return False
        if old.family == "numeric" and new.family == "numeric":
            if new.precision is None:
                return old.scale is None or new.scale is None
            return (
                old.precision is not None
                and new.precision >= old.precision
                and (old.scale or 0) == (new.scale or 0)
            )
    return False


def alter_column_type(rule, run):
    for migration in run.migrations:
        for op in migration.ops[m.UPGRADE]:
            if op.kind != m.ALTER_COLUMN_TYPE or migration.facts[id(op)]["table_is_new"]:
                continue
            old, new = op.get("existing_type"), op.get("type")
            if _safe_widening(old, new, run.dialect):
                continue
            column = op.columns[0] if op.columns else "?"
            change = f"from {old.text or old.name} " if old else ""
            target = new.text or new.name if new else "?"
            why = "" if old or op.source == "sql" else " (existing_type is not given, so it cannot be shown to be a safe widening)"
            yield migration.at(rule, op, f"changes the type of {op.table}.{column} {change}to {target}: this may {REWRITE.get(run.dialect, REWRITE['postgresql'])} and break running code{why}", phase=m.UPGRADE)


# What a type change costs on a populated table, in each dialect's terms.
REWRITE = {
    "postgresql": "rewrite the table under an ACCESS EXCLUSIVE lock",
    "mysql": "copy the whole table (ALGORITHM=COPY), blocking writes until it is done",
}


def drop_add_column(rule, run):
    for migration in run.migrations:
        ops = migration.ops[m.UPGRADE]
        drops = {}  # table -> [(index, column)]
        for index, op in enumerate(ops):
            table = (op.table or "").lower()
            if op.kind == m.DROP_COLUMN and table and op.columns and not migration.facts[id(op)]["table_is_new"]:
                drops.setdefault(table, []).append((index, op.columns[0]))
        if not drops:
            continue
        added = {}
        for index, op in enumerate(ops):
            table = (op.table or "").lower()
            if op.kind == m.ADD_COLUMN and table in drops and op.column and op.column.name and op.column.name not in {c for _, c in drops[table]}:
                added.setdefault(table, []).append((index, op))
        for table, found in added.items():  # one finding per table, at the first added column
            first_index, first = found[0]
            # A dropped column's values survive if something writes rows after the new column
            # exists and before that column is dropped (a drop before the add loses them).
            lost = [
                column
                for drop_index, column in drops[table]
                if not any(_may_copy(op, table) for op in ops[first_index + 1 : drop_index])
            ]
            if not lost:
                continue
            names = ", ".join(o.column.name for _, o in found)
            yield migration.at(rule, first, f"drops column {', '.join(lost)} and adds {names} on {first.table} in one migration; if this is a rename, the data is lost", phase=m.UPGRADE, subject=("table", m.ident(first.schema) or "", m.ident(first.table) or ""))


def _may_copy(op, table: str) -> bool:
    """A write that can carry the old column's values somewhere before they are dropped: an
    UPDATE of the table (or of a table we could not name), an INSERT of rows read from the
    database (INSERT ... SELECT, not op.bulk_insert's literal rows), or SQL we could not analyse."""
    if op.kind == m.RAW_SQL:
        return True
    if op.kind == m.INSERT_ROWS:
        return not op.call.endswith("bulk_insert")
    return op.kind == m.UPDATE_ROWS and (not op.table or op.table.lower() == table)
