"""Checks about locks held across a migration's transaction."""

from __future__ import annotations

from migration_lint import model as m
from migration_lint.facts import object_key, shown_table

CHECKS = ("missing_lock_timeout", "backfill_with_ddl", "validate_in_same_transaction")

# Operations that take ACCESS EXCLUSIVE (or SHARE) locks on an existing table in PostgreSQL.
STRONG_LOCKS = {
    m.ADD_COLUMN, m.DROP_COLUMN, m.ALTER_COLUMN_TYPE, m.SET_NOT_NULL, m.DROP_NOT_NULL, m.SET_DEFAULT,
    m.DROP_DEFAULT, m.RENAME_COLUMN, m.RENAME_TABLE, m.DROP_TABLE, m.TRUNCATE_TABLE,
    m.CREATE_FOREIGN_KEY, m.CREATE_UNIQUE_CONSTRAINT, m.CREATE_CHECK_CONSTRAINT, m.CREATE_PRIMARY_KEY,
    m.CREATE_EXCLUDE_CONSTRAINT, m.DROP_CONSTRAINT, m.CREATE_INDEX, m.DROP_INDEX,
}


def strong_lock(migration, op):
    if op.kind not in STRONG_LOCKS or migration.facts[id(op)]["table_is_new"]:
        return False
    if op.kind in (m.CREATE_INDEX, m.DROP_INDEX) and op.get("concurrently"):
        return False
    return True


def missing_lock_timeout(rule, run):
    if run.settings.env("lock_timeout"):
        return
    for migration in run.migrations:
        for op in migration.ops[m.UPGRADE]:
            if op.kind == m.SET_TIMEOUT and op.get("setting") == "lock_timeout":
                break
            if strong_lock(migration, op) and op.table:
                table = shown_table(op, run.settings)
                yield migration.at(rule, op, f"`{op.call or op.kind}` locks {table} with no lock_timeout set; if it waits behind a long query, every query on {table} queues behind it", phase=m.UPGRADE, subject=("lock_timeout",))
                break


def backfill_with_ddl(rule, run):
    for migration in run.migrations:
        ops = migration.ops[m.UPGRADE]
        ddl = [op for op in ops if strong_lock(migration, op) and not migration.facts[id(op)]["in_autocommit"]]
        if not ddl:
            continue
        for op in ops:
            if op.kind not in (m.UPDATE_ROWS, m.DELETE_ROWS) or migration.facts[id(op)]["in_autocommit"]:
                continue
            if migration.facts[id(op)]["table_is_new"]:
                continue
            verb = "UPDATE" if op.kind == m.UPDATE_ROWS else "DELETE"
            locked = ddl[0]
            yield migration.at(rule, op, f"{verb} on {shown_table(op, run.settings) if op.table else 'a table'} runs in the same transaction as `{locked.call or locked.kind}` on {shown_table(locked, run.settings)} (line {locked.line}): the lock is held for the whole backfill", phase=m.UPGRADE)


def validate_in_same_transaction(rule, run):
    for migration in run.migrations:
        not_valid = {}
        for op in migration.ops[m.UPGRADE]:
            if op.kind in (m.CREATE_FOREIGN_KEY, m.CREATE_CHECK_CONSTRAINT) and op.get("not_valid") and op.name:
                not_valid[object_key(op, run.settings, kind="constraint")] = op
            elif op.kind == m.VALIDATE_CONSTRAINT and op.name and object_key(op, run.settings, kind="constraint") in not_valid:
                if migration.facts[id(op)]["in_autocommit"]:
                    continue
                created = not_valid[object_key(op, run.settings, kind="constraint")]
                # ADD FOREIGN KEY takes SHARE ROW EXCLUSIVE on both tables; ADD CHECK takes ACCESS EXCLUSIVE.
                lock = "SHARE ROW EXCLUSIVE lock (on both tables)" if created.kind == m.CREATE_FOREIGN_KEY else "ACCESS EXCLUSIVE lock"
                yield migration.at(rule, op, f"VALIDATE CONSTRAINT {op.name} runs in the same transaction that added it NOT VALID (line {created.line}): the {lock} from the ADD is held while every row is checked", phase=m.UPGRADE)
