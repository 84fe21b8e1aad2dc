"""Checks about locks held across a migration's transaction."""

from __future__ import annotations

import re

from migration_lint import model as m
from migration_lint.facts import columns_set, copies_column, fills, names_read, object_key, shown_table
from migration_lint.model import Finding, listing

CHECKS = ("missing_lock_timeout", "backfill_with_ddl", "validate_in_same_transaction")

# Operations that take ACCESS EXCLUSIVE (or SHARE) locks on an existing table in PostgreSQL.
STRONG_LOCKS = {
    m.ADD_COLUMN, m.DROP_COLUMN, m.ALTER_COLUMN_TYPE, m.SET_NOT_NULL, m.DROP_NOT_NULL, m.SET_DEFAULT,
    m.DROP_DEFAULT, m.RENAME_COLUMN, m.RENAME_TABLE, m.DROP_TABLE, m.TRUNCATE_TABLE,
    m.CREATE_FOREIGN_KEY, m.CREATE_UNIQUE_CONSTRAINT, m.CREATE_CHECK_CONSTRAINT, m.CREATE_PRIMARY_KEY,
    m.CREATE_EXCLUDE_CONSTRAINT, m.DROP_CONSTRAINT, m.CREATE_INDEX, m.DROP_INDEX,
}


def strong_lock(migration, op, any_size: bool = False):
    facts = migration.facts[id(op)]
    if op.kind not in STRONG_LOCKS or facts["table_is_new"] or not (facts["table_is_large"] or any_size):
        return False  # a table made here, or one the config does not list among the large tables
    if op.kind in (m.CREATE_INDEX, m.DROP_INDEX) and op.get("concurrently"):
        return False
    return True


ENV_PY_FIX = (
    "Set it once for every migration in env.py: create the engine with "
    "connect_args={\"options\": \"-c lock_timeout=5s\"} (PostgreSQL), or run "
    "connection.execute(sa.text(\"SET lock_timeout = '5s'\")) and then connection.commit() "
    "before context.configure(connection=connection, ...)"
)

# env.py runs migrations through an asyncio engine (asyncpg, prefect): asyncpg takes session
# settings as server_settings, and ignores libpq's options
ENV_PY_FIX_ASYNC = (
    "Set it once for every migration in env.py: create the engine with "
    "connect_args={\"server_settings\": {\"lock_timeout\": \"5s\"}} (asyncpg; psycopg takes "
    "{\"options\": \"-c lock_timeout=5s\"}), or in the function run_sync() calls, run "
    "connection.execute(sa.text(\"SET lock_timeout = '5s'\")) and then connection.commit() "
    "before context.configure(connection=connection, ...)"
)


def missing_lock_timeout(rule, run):
    """Strong locks taken with no lock_timeout.  A setting missing for the whole history is
    reported once, where it is best fixed (env.py), listing the revisions concerned; in
    changed-only mode, at each changed revision (the pull request's own lines)."""
    if run.settings.env("lock_timeout"):
        return
    concerned = []
    for migration in run.migrations:
        if run.settings.offline_at(migration.path):
            continue  # migrated with the old release stopped (offline-paths): nobody queues behind it
        for op in migration.ops[m.UPGRADE]:
            if op.kind == m.SET_TIMEOUT and op.get("setting") == "lock_timeout":
                break
            if strong_lock(migration, op) and op.table:
                concerned.append((migration, op))
                break
    if not concerned:
        return
    env_py = run.settings.env_py
    if env_py and run.diff is None and len(concerned) > 1:
        names = listing(migration.revision or migration.path for migration, _ in concerned)
        # the revisions are part of its identity: a baseline that recorded it does not hide a
        # revision that takes a strong lock later
        revisions = sorted(str(migration.revision or migration.path) for migration, _ in concerned)
        yield Finding(
            rule.name, env_py, run.settings.env("configure_line") or 1,
            f"{len(concerned)} revisions take strong locks with no lock_timeout set ({names}); "
            "if one waits behind a long query, every query on its table queues behind it",
            subject=("lock_timeout", *revisions), help=ENV_PY_FIX_ASYNC if run.settings.env("async_driver") else ENV_PY_FIX,
        )
        return
    for migration, op in concerned:
        table = shown_table(op, run.settings)
        yield migration.at(rule, op, f"`{op.call or op.kind}` locks {table} with no lock_timeout set; if it waits behind a long query, every query on {table} queues behind it", phase=m.UPGRADE, subject=("lock_timeout",))


def backfill_with_ddl(rule, run):
    """A data backfill in one transaction with DDL that locks an existing table.  After the DDL,
    the DDL's lock is held for the whole backfill; before it, the rows the backfill changes stay
    locked until the DDL has its lock and the migration commits.  A COMMIT in between (or an
    autocommit block) separates them."""
    settings = run.settings
    for migration in run.migrations:
        transaction: list = []
        for op in migration.ops[m.UPGRADE]:
            facts = migration.facts[id(op)]
            if op.kind == m.COMMIT or facts["in_autocommit"]:
                # autocommit_block() commits the transaction so far before it runs (quay
                # b1a79fa8e630: an UPDATE, two concurrent index builds, then a DROP INDEX)
                yield from _backfills(rule, migration, transaction, settings)
                transaction = []
            else:
                transaction.append(op)
        yield from _backfills(rule, migration, transaction, settings)


VERB = {m.UPDATE_ROWS: "UPDATE on", m.DELETE_ROWS: "DELETE on", m.INSERT_ROWS: "INSERT ... SELECT into"}


def _backfills(rule, migration, ops, settings):
    """One finding per DDL a transaction's backfills are tied to (at the first backfill, listing
    the others): a data migration of ten UPDATEs after one ALTER is one problem, not ten."""
    ddl = [i for i, op in enumerate(ops) if strong_lock(migration, op)]
    # a copy into a table holds the lock of any DDL on it, however small the table was
    held = [i for i, op in enumerate(ops) if strong_lock(migration, op, any_size=True)]
    if not held:
        return
    tied: dict = {}
    for index, op in enumerate(ops):
        facts = migration.facts[id(op)]
        copies = op.kind == m.INSERT_ROWS and fills(op)  # INSERT ... SELECT: as long as its source is large
        if (op.kind not in (m.UPDATE_ROWS, m.DELETE_ROWS) and not copies) or facts["table_is_new"]:
            continue
        if copies:
            # rows copied into a table this transaction locked: its writers wait for the whole copy
            # (however young the table: the rows come from elsewhere)
            same = [i for i in held if i < index and ops[i].table == op.table and ops[i].schema == op.schema]
            if op.table and same:
                tied.setdefault((same[-1], True), []).append(op)
            continue
        # DDL on a table named only at run time (quay b1a79fa8e630: DROP INDEX IF EXISTS {name}, in
        # a helper, for an index a failed attempt left) cannot be said to keep a table locked
        named = [i for i in ddl if ops[i].table]
        if not facts["table_is_large"] or not named:
            continue  # a backfill of a table the config does not list as large is short
        same = [i for i in named if op.table and ops[i].table == op.table and ops[i].schema == op.schema]
        before = [i for i in named if i < index]
        if before:
            # name the DDL on the backfilled table when there is one: that is the lock it prolongs
            locked = next((i for i in before if i in same), before[0])
        else:
            locked = same[0] if same else named[0]
            if _needed_by(op, ops[locked]) or (any(_needed_by(op, ops[i]) for i in same) and all(ops[i].kind in _INDEX_UPKEEP for i in same)):
                continue  # a DDL on its table needs it (and its own finding covers the window): not a separate backfill
        if ops[locked].table == op.table and ops[locked].schema == op.schema and _chosen_window(op, ops, index):
            continue  # the author locked it, or bounded it, on purpose
        tied.setdefault((locked, bool(before)), []).append(op)
    for (locked_index, after), backfills in tied.items():
        op, locked = backfills[0], ops[locked_index]
        verbs = [f"{VERB[b.kind]} {shown_table(b, settings) if b.table else 'a table'}" for b in backfills]
        what = verbs[0] if len(verbs) == 1 else f"{len(verbs)} backfills ({listing(dict.fromkeys(verbs))})"
        runs = "runs" if len(verbs) == 1 else "run"
        ddl_text = f"`{locked.call or locked.kind}` on {shown_table(locked, settings)} (line {locked.line})"
        moved = _moved_out_of(backfills, ops)
        if after and moved:
            # a move: rows copied out of a table this transaction then drops (ckan 106
            # faster_extras).  Split apart, rows written to the source in between would be lost:
            # the advice is to keep them together and stop the writers, not to batch the copy
            sources = listing(moved)
            message = (
                f"{what} {runs} after {ddl_text} in the same transaction and {'moves' if len(verbs) == 1 else 'move'} data out of {sources}, which this migration then drops: "
                f"{shown_table(locked, settings)} stays locked for the whole copy"
            )
            help_text = (
                f"Keep the copy and the drop together (split apart, rows written to {sources} in between are lost) and run it "
                f"while nothing writes to {sources} (a maintenance window: dropping it breaks running code anyway); or, to stay online, "
                "write both places from the code for a release, backfill in batches, then drop"
            )
            yield migration.at(rule, op, message, phase=m.UPGRADE, subject=("backfill", "after", locked.table or ""), help=help_text)
            continue
        if after:
            message = f"{what} {runs} after {ddl_text} in the same transaction: {shown_table(locked, settings)} stays locked for the whole backfill"
        else:
            message = (
                f"{what} {runs} before {ddl_text} in the same transaction: the rows it changes stay locked until the DDL has its lock "
                "and the migration commits (less harmful than after the DDL; fine for a small table)"
            )
        # two findings can start on one line (several statements in one op.execute): what they
        # say about the DDL tells them apart
        yield migration.at(rule, op, message, phase=m.UPGRADE, subject=("backfill", "after" if after else "before", locked.table or ""))


def _moved_out_of(backfills, ops) -> list:
    """What every one of ``backfills`` copies data out of and a later statement of the same
    transaction drops: tables it reads, columns it copies ('releases.description'); none if any
    backfill is not such a copy."""
    moved = []
    for backfill in backfills:
        target = (backfill.table or "").lower()
        index = next(i for i, op in enumerate(ops) if op is backfill)
        words = names_read(backfill)
        dropped = [op.table for op in ops[index + 1:] if op.kind == m.DROP_TABLE and op.table and op.table.lower() != target and op.table.lower() in words]
        # or columns it copies, dropped after it (warehouse 9ca7d5668af4: releases.description
        # copied into release_descriptions, then dropped)
        # (not a helper column of a table this transaction made: release_descriptions.release_id)
        made = {op.table.lower() for op in ops[:index] if op.kind == m.CREATE_TABLE and op.table}
        dropped += [
            f"{op.table}.{op.columns[0]}" for op in ops[index + 1:]
            if op.kind == m.DROP_COLUMN and op.table and op.columns and op.table.lower() not in made
            and copies_column(backfill, str(op.columns[0]).lower(), op.table.lower())
        ]
        if not dropped or backfill.kind == m.DELETE_ROWS:
            return []
        moved.extend(dropped)
    return list(dict.fromkeys(moved))


_LOCK_TABLE = re.compile(r"^\s*LOCK\s+(?:TABLE\s+)?(?:ONLY\s+)?(.+?)(?:\s+IN\s+(.*?)\s+MODE)?\s*(?:NOWAIT)?\s*;?\s*$", re.I | re.S)


def _chosen_window(backfill, ops, index) -> bool:
    """The migration chose the lock the backfill runs under: an explicit LOCK TABLE of its table
    in a mode that keeps writers out, earlier in the transaction (warehouse 104b4c56862b: 'no new
    serials can be added while we're working'), or a short statement_timeout (at most 10 s, the
    last one set before it) bounding a targeted UPDATE (warehouse a2af745511e0: WHERE created =
    '-infinity' under a 5 s timeout).  Splitting it would undo what the author made atomic on
    purpose.  (Only for DDL on the backfilled table itself: the caller checks.)"""
    table = (backfill.table or "").lower()
    bound = None
    for op in ops[:index]:
        if op.kind == m.OTHER_SQL and op.sql:
            found = _LOCK_TABLE.match(op.sql)
            mode = (found.group(2) or "ACCESS EXCLUSIVE").upper().split() if found else []
            if found and " ".join(mode) in WRITERS_OUT and table in {w.strip().strip('"').split(".")[-1].lower() for w in found.group(1).split(",")}:
                return True
        if op.kind == m.SET_TIMEOUT and op.get("setting") == "statement_timeout":
            bound = _milliseconds(op.get("value"))  # the last one set wins
    return bool(backfill.get("has_where")) and bound is not None and 0 < bound <= BOUNDED_MS


WRITERS_OUT = frozenset({"SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE"})


BOUNDED_MS = 10_000  # a statement_timeout this short bounds the lock a targeted backfill holds


def _milliseconds(value) -> "int | None":
    """A PostgreSQL duration setting in milliseconds: 5000, '5s', '1min', '500ms' (0: no limit)."""
    found = re.fullmatch(r"\s*'?\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h)?\s*'?\s*", str(value or ""), re.I)
    if not found:
        return None
    unit = {"ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000}[(found.group(2) or "ms").lower()]
    return int(float(found.group(1)) * unit)


def _needed_by(backfill: m.Operation, ddl: m.Operation) -> bool:
    """A backfill the DDL after it depends on: duplicates deleted before a UNIQUE constraint,
    index or primary key, or a targeted UPDATE that gives the rows breaking it values of their own
    in the key's columns (quay d42c175b439a: SET state_id = id WHERE state_id = '' before a unique
    index on state_id). Moved out of the transaction, new duplicates could come in between and the
    DDL would fail; the rows it touches wait no longer than the index build, which blocks every
    writer of the table anyway and is reported itself. (An UPDATE that fills a column before SET
    NOT NULL is still reported: on a large table it is the long part, and the recipe is a batched
    backfill and a NOT VALID check.)"""
    unique = ddl.kind in (m.CREATE_UNIQUE_CONSTRAINT, m.CREATE_PRIMARY_KEY) or (ddl.kind == m.CREATE_INDEX and bool(ddl.get("unique")))
    if not unique:
        return False
    if backfill.kind == m.DELETE_ROWS:
        return True
    if backfill.kind != m.UPDATE_ROWS or not backfill.sql:
        return False
    key = {str(column).strip('"`').lower() for column in ddl.columns or ()}
    assigned = key & columns_set(backfill)
    # only the rows that share one value of the key, given values of their own (SET state_id = id
    # WHERE state_id = ''); filling NULLs (which never clash) or normalising values is a backfill
    where = re.search(r"\bWHERE\b(.*)$", backfill.sql, re.I | re.S)
    return bool(where) and any(
        re.search(rf"(?<![\w.]){re.escape(column)}\s*=\s*(?:'(?:[^']|'')*'|-?\d+(?:\.\d+)?)(?![\w.])", where.group(1), re.I)
        for column in assigned
    )


# DDL that only maintains the indexes and constraints a unique key's backfill prepares for: with
# nothing else on the table, that backfill is part of the index's work
_INDEX_UPKEEP = frozenset({m.CREATE_INDEX, m.DROP_INDEX, m.CREATE_UNIQUE_CONSTRAINT, m.DROP_CONSTRAINT, m.CREATE_PRIMARY_KEY})


def validate_in_same_transaction(rule, run):
    for migration in run.migrations:
        not_valid = {}
        for op in migration.ops[m.UPGRADE]:
            if op.kind in (m.CREATE_FOREIGN_KEY, m.CREATE_CHECK_CONSTRAINT) and op.get("not_valid") and op.name:
                not_valid[object_key(op, run.settings, kind="constraint")] = op
            elif op.kind == m.VALIDATE_CONSTRAINT and op.name and object_key(op, run.settings, kind="constraint") in not_valid:
                if migration.facts[id(op)]["in_autocommit"] or not migration.facts[id(op)]["table_is_large"]:
                    continue
                created = not_valid[object_key(op, run.settings, kind="constraint")]
                # ADD FOREIGN KEY takes SHARE ROW EXCLUSIVE on both tables; ADD CHECK takes ACCESS EXCLUSIVE.
                lock = "SHARE ROW EXCLUSIVE lock (on both tables)" if created.kind == m.CREATE_FOREIGN_KEY else "ACCESS EXCLUSIVE lock"
                yield migration.at(rule, op, f"VALIDATE CONSTRAINT {op.name} runs in the same transaction that added it NOT VALID (line {created.line}): the {lock} from the ADD is held while every row is checked", phase=m.UPGRADE)
