"""The facts a rule's ``match`` may use: declared once here (name, type, meaning) and validated when
a rule file loads, so that a misspelt fact is a load error, never a match that silently accepts
everything.

Facts are an operation's fields and normalised keyword values (``model.Operation``), a few
dotted paths into the column, type and default it carries, and what the engine knows of the
operation's place (``place_facts``).
"""

from __future__ import annotations

import difflib
import datetime
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional

from migration_lint import model as m


@dataclass(frozen=True)
class Fact:
    type: str  # 'bool' | 'str' | 'int' | 'names' (tuple of str) | 'version' | 'kind' | 'column' | 'type' | 'default' | 'any'
    doc: str


# Fields of the structures a dotted fact reaches into (``column.server_default.volatile``).
STRUCTS: Dict[str, Dict[str, Fact]] = {
    "column": {
        "name": Fact("str", "the column's name"),
        "type": Fact("type", "its type as written"),
        "nullable": Fact("bool", "nullable= as written (null: not said)"),
        "not_null": Fact("bool", "NOT NULL: nullable=False, or a primary key with nullable not said"),
        "primary_key": Fact("bool", "primary_key=True"),
        "server_default": Fact("default", "its server_default (null: none)"),
        "python_default": Fact("bool", "default=... (applied by SQLAlchemy, not the database)"),
        "identity": Fact("bool", "filled by the database: Identity(), a Sequence, an autoincrement integer key"),
        "foreign_key": Fact("str", "sa.ForeignKey('table.column') target"),
        "unique": Fact("bool", "unique=True"),
        "index": Fact("bool", "index=True"),
    },
    "type": {
        "name": Fact("str", "lower-case type name without dialect prefix: string, varchar, integer, enum, ..."),
        "family": Fact("str", "the storage family: varchar for String/VARCHAR/Unicode, integer for Integer/INT, ..."),
        "length": Fact("int", "length (String(50))"),
        "precision": Fact("int", "precision (Numeric(10, 2))"),
        "scale": Fact("int", "scale (Numeric(10, 2))"),
        "enum_name": Fact("str", "name= of an Enum"),
        "enum_labels": Fact("names", "an Enum's labels"),
        "create_type": Fact("bool", "False for postgresql.ENUM(create_type=False) and native_enum=False"),
        "text": Fact("str", "the spelling in the source"),
    },
    "default": {
        "text": Fact("str", "the default's SQL text"),
        "volatile": Fact("bool", "calls a function whose value differs per row (random(), gen_random_uuid(), nextval(), ...)"),
    },
}

FACTS: Dict[str, Fact] = {
    # the operation
    "kind": Fact("kind", f"the operation kind, one of {', '.join(m.KINDS)}"),
    "phase": Fact("str", "upgrade or downgrade"),
    "table": Fact("str", "the table, as written"),
    "schema": Fact("str", "the schema, when one is written (schema=, or a qualified name in SQL)"),
    "name": Fact("str", "the index, constraint, type or sequence name (null: none given, or not a literal)"),
    "name_unknown": Fact("bool", "a name is given but is an expression migration-lint cannot evaluate"),
    "columns": Fact("names", "the columns the operation names"),
    "column": Fact("column", "the column (add_column; for other kinds the first of columns)"),
    "table_columns": Fact("any", "create_table: its columns"),
    "context": Fact("names", "where the call stands: batch, autocommit, loop, offline, online (only when not offline: the else of an is_offline_mode() test, or after `if context.is_offline_mode(): return`), helper, conditional, try, except"),
    "source": Fact("str", "op (an Alembic call) or sql (parsed from SQL text)"),
    "sql": Fact("str", "the statement, for operations parsed from SQL"),
    "call": Fact("str", "the call as written: op.create_index, batch_op.alter_column, op.execute, ..."),
    # keyword values (Operation.attrs), shared by both front ends
    "unique": Fact("bool", "create_index: UNIQUE"),
    "concurrently": Fact("bool", "create_index / drop_index: CONCURRENTLY (postgresql_concurrently=True)"),
    "if_not_exists": Fact("bool", "IF NOT EXISTS"),
    "if_exists": Fact("bool", "IF EXISTS"),
    "where": Fact("bool", "create_index: a partial index (postgresql_where / WHERE)"),
    "temporary": Fact("bool", "create_table: a TEMPORARY table (it goes away with the session)"),
    "foreign_keys": Fact("any", "create_table: its table-level ForeignKeyConstraint((columns), referenced table) pairs"),
    "inline": Fact("bool", "created by a Column's own arguments (unique=True, index=True, ForeignKey) in add_column"),
    "type": Fact("any", "alter_column_type: the new type; drop_constraint: foreignkey, unique, check or primary"),
    "existing_type": Fact("type", "alter_column: existing_type"),
    "existing_nullable": Fact("bool", "alter_column: existing_nullable"),
    "using": Fact("str", "alter_column_type: postgresql_using / USING; create_index: the index method"),
    "default": Fact("default", "set_default: the new default"),
    "new_name": Fact("str", "rename_table / rename_column: the new name"),
    "ref_table": Fact("str", "create_foreign_key: the referenced table"),
    "ref_schema": Fact("str", "create_foreign_key: the referenced table's schema"),
    "ref_table_is_new": Fact("bool", "create_foreign_key: the referenced table is created earlier in the same phase of the same migration (nobody writes to it yet)"),
    "ref_columns": Fact("names", "create_foreign_key: the referenced columns"),
    "not_valid": Fact("bool", "create_foreign_key / create_check_constraint: NOT VALID"),
    "using_index": Fact("str", "create_unique_constraint / create_primary_key: USING INDEX name (null: builds its own)"),
    "condition": Fact("str", "create_check_constraint: the condition"),
    "labels": Fact("names", "create_type: the enum labels"),
    "implicit": Fact("bool", "create_type: implied by a column's sa.Enum rather than created explicitly"),
    "checkfirst": Fact("bool", "create_type / drop_type: .create(bind, checkfirst=True) (postgresql.ENUM's default): nothing happens when the type already exists"),
    "action": Fact("str", "alter_type: add_value or rename_value"),
    "value": Fact("any", "set_timeout: the value; alter_type: the label"),
    "old_value": Fact("str", "alter_type rename_value: the former label"),
    "has_where": Fact("bool", "update_rows / delete_rows: a WHERE clause"),
    "from_select": Fact("bool", "insert_rows: INSERT ... SELECT"),
    "setting": Fact("str", "set_timeout: lock_timeout or statement_timeout"),
    "local": Fact("bool", "set_timeout: SET LOCAL"),
    "reason": Fact("str", "raw_sql: why the SQL could not be analysed"),
    "sql_source": Fact("str", "raw_sql: where the SQL comes from when it is a name imported from another module ('sqlalchemy_searchable.sql_expressions')"),
    "sql_imported": Fact("bool", "raw_sql: the SQL is a name imported from another module (a library's SQL)"),
    "sql_source_pinned": Fact("bool", "raw_sql: the SQL comes from a library the project pins to one version (==, or a lock file), not from its own code"),
    "sql_literal": Fact("bool", "raw_sql: the SQL was read as written (a literal), but the parser could not analyse the statement"),
    "rollback": Fact("bool", "commit: a ROLLBACK rather than a COMMIT"),
    "session": Fact("bool", "commit: an ORM session's commit(); a session on Alembic's connection joins its transaction and leaves it alone"),
    "column_object": Fact("bool", "drop_column: given a Column(...) where Alembic wants the column's name"),
    "bare_string": Fact("names", "create_index / create_foreign_key / create_unique_constraint / create_primary_key: the column-list parameters given as one string"),
    "type_given": Fact("bool", "drop_constraint: type_= is given (op and batch_op calls)"),
    "helper": Fact("str", "the helper function (and its line) an operation was issued in: 'backfill:42'"),
    "formatted": Fact("bool", "parsed from a formatted string's literal part (names in holes are unknown)"),
    "statement": Fact("str", "other_sql: the statement's parsed kind"),
    "ignored": Fact("str", "ignored_arguments: the keywords Alembic takes into **kw and ignores, as written (`type=`)"),
    "meant": Fact("str", "ignored_arguments: ' (did you mean `type_=` for `type=`?)' when a known keyword is close, else ''"),
    "null_comparison": Fact("str", "SQL: the first `x = NULL` / `x <> NULL` in a condition of the statement, as written back (never true)"),
    "cascade": Fact("bool", "DROP ... CASCADE"),
    "materialized": Fact("bool", "create_view / drop_view / create_index: a materialized view"),
    # descriptions for messages, never "?": derived from the operation
    "index": Fact("str", "the index as a message names it: 'index ix_post_title', 'an unnamed index on post (title)', 'an index named at run time on post'"),
    "constraint": Fact("str", "the constraint as a message names it: 'constraint fk_x', 'an unnamed constraint on post (user_id)'"),
    # the operation's place, computed by the engine
    "table_is_new": Fact("bool", "the table is created earlier in the same phase of the same migration, or (upgrade) by an earlier revision the same change added (one first-parent commit in git, or both not committed yet): empty and unknown to the running code"),
    "table_is_dropped": Fact("bool", "the table is dropped later in the same phase of the same migration"),
    "in_rebuild": Fact("bool", "part of a table rebuild: rename the old table away, create the new one, copy, drop the old one (SQLite's way to alter a table)"),
    "column_is_swapped": Fact("bool", "the dropped column's name comes back later in the same phase: a new column is renamed into its place"),
    "in_offline": Fact("bool", "inside `if context.is_offline_mode():` (runs only with alembic --sql)"),
    "column_is_copied": Fact("bool", "drop_column: an earlier statement of the phase reads the column (UPDATE ... SET x = col, INSERT ... SELECT col): its values were copied"),
    "table_is_bookkeeping": Fact("bool", "the table is another migration tool's record of applied migrations (sqlalchemy-migrate's migrate_version, South's, Flyway's, Liquibase's, Rails'), not application data"),
    "table_was_emptied": Fact("bool", "drop_column / drop_table: an earlier statement of the phase deleted every row of the table (DELETE without WHERE, TRUNCATE) and none was put back since: nothing is left to lose"),
    "table_is_recreated": Fact("bool", "drop_table: the same phase creates a table of that name again afterwards (its rows are gone unless put back)"),
    "copied_earlier": Fact("bool", "drop_column / drop_table: an earlier revision of this line of history copied the values (the drop is the contract step of an expand/backfill/contract change)"),
    "references": Fact("names", "drop_column: the tables the column's foreign keys point at, as this revision and its ancestors declare them (lower case)"),
    "references_dropped_table": Fact("bool", "drop_column: the column's foreign key points at a table the same upgrade drops: its values are references to rows that go with that table"),
    "column_was_not_null": Fact("bool", "set_not_null: the column is NOT NULL already (existing_nullable=False, or the history made it so: a primary key or nullable=False column, an earlier SET NOT NULL, and no DROP NOT NULL since): PostgreSQL checks nothing"),
    "table_is_young": Fact("bool", "an earlier revision created the table at most 7 days before this one (the commits that added them, else their Create Date headers) and no revision copied rows into it since: it holds what a few days of traffic wrote, and a lock on it is brief"),
    "table_is_fresh": Fact("bool", "an earlier revision created the table at most 24 hours before this one: both most likely ship in one deploy, and the table is then empty when this runs"),
    "created_by": Fact("str", "for messages: the revision that created a young table and how long before, 'revision abc123, 5 hours earlier'"),
    "removal_declared": Fact("bool", "drop_column / drop_table in upgrade(): the revision's message says it removes this object: names it with a removal word ('Remove Project.zscore', 'drop the rego_otk table'), or says it removes tables / columns / fields (plural, or the one of its kind the revision drops); or a comment right above it (or at module level) says the data may go ('destructive', 'dropping is acceptable', 'the backfill will re-fill this')"),
    "declared_as": Fact("str", "for messages: who declared it and how: 'the revision\'s message says (\"Remove X\")', 'the comment at line 20 says (\"...\")'"),
    "refill_said": Fact("bool", "a comment that declares the drop also says the rows come back (the backfill will re-fill this, a worker repopulates it): derived data"),
    "said_empty": Fact("bool", "a comment right above the operation (or at module level) says its table has no rows ('no records yet', 'the table is empty')"),
    "table_is_copied": Fact("bool", "drop_table: an earlier statement of the phase reads the table into another one (INSERT ... SELECT ... FROM it)"),
    "deploy": Fact("str", "the project's deploy model: online (the old code runs while it migrates) or offline"),
    "table_is_transient": Fact("bool", "the config lists the table in transient-tables: its rows only live while work is in flight (few at any time)"),
    "table_is_large": Fact("bool", "a lock on the table matters: the config lists no large-tables, or lists this one (or its name is not known)"),
    "declared_unused": Fact("bool", "drop_column / drop_table: the revision's message or the comment that declares the removal also says nothing uses what goes ('not used', 'no longer needed', 'unused', 'obsolete', 'leftover')"),
    "code_still_uses": Fact("bool", "drop_column / drop_table: false when the code that runs while it migrates (the release before it, from git) no longer names the column (but names its table) or the table; null when git does not say or the name is still there (a whole-word match proves nothing)"),
    "running_code": Fact("str", "for messages: which code ran beside the migration ('release 3.1.5', 'commit abc^'); '' when git does not say"),
    "and_running_code": Fact("str", "for messages: '; running code that still uses the old schema fails' when deploy = online, else '' (nothing runs while an offline project migrates)"),
    "lock_timeout_set": Fact("bool", "a lock_timeout is in force here: env.py sets one, or a SET lock_timeout comes earlier in the phase"),
    "column_is_new": Fact("bool", "the column is added earlier in the same phase of the same migration"),
    "column_is_empty": Fact("bool", "the column is added earlier in the same phase without a server default and nothing has written rows of its table since: NULL in every row"),
    "table_is_renamed": Fact("bool", "the same phase renames the table (to or from this name): old code fails on the table already, and that rename's finding says so"),
    "lock_window_open": Fact("bool", "PostgreSQL: an earlier ALTER TABLE of the same transaction holds ACCESS EXCLUSIVE on the table and an earlier statement, reported itself, wrote its rows under it (an UPDATE or DELETE, a volatile default): this one only lengthens a window that is already reported"),
    "in_batch": Fact("bool", "inside batch_alter_table (SQLite's recreate-and-copy)"),
    "in_autocommit": Fact("bool", "outside the migration's transaction: in an autocommit_block, or env.py's connection is in AUTOCOMMIT isolation (transactional_ddl=False is not: Alembic 1.5+ still runs each revision in a transaction)"),
    "in_loop": Fact("bool", "inside a for/while loop or a comprehension"),
    "dialect": Fact("str", "the target dialect: postgresql, mysql or sqlite"),
    "server_version": Fact("version", "the target server version, compared as numbers: {lt: 11}"),
    "schema_key": Fact("str", "the schema the operation's table is in, the default one for unqualified names"),
}

# Facts whose values are only what the vocabulary says (checked at load time).
CHOICES = {"kind": set(m.KINDS), "dialect": {"postgresql", "mysql", "sqlite"}, "phase": {"upgrade", "downgrade"}, "source": {"op", "sql"}}


def lookup(key: str) -> Optional[Fact]:
    """The fact a (dotted) match key names, or None."""
    head, _, rest = key.partition(".")
    fact = FACTS.get(head)
    while fact is not None and rest:
        part, _, rest = rest.partition(".")
        fields = STRUCTS.get(fact.type)
        if fields is None and fact.type == "any" and head == "type":
            fields = STRUCTS["type"]  # type.name on alter_column_type
        if fields is None:
            return None
        fact = fields.get(part)
    return fact


def problem_with(key: str, expected: Any) -> Optional[str]:
    """Why ``key: expected`` cannot be a fact comparison, or None."""
    fact = lookup(key)
    if fact is None:
        head = key.split(".")[0]
        candidates = sorted(FACTS) if head not in FACTS else [f"{head}.{name}" for name in STRUCTS.get(FACTS[head].type, STRUCTS["type"] if head == "type" else {})]
        close = difflib.get_close_matches(key, candidates, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        return f"unknown fact {key!r}{hint}; facts are listed in migration_lint/facts.py"
    values = expected if isinstance(expected, list) else [expected]
    for value in values:
        if isinstance(value, dict):
            continue  # operators, checked by the matcher
        if fact.type == "bool" and value is not None and not isinstance(value, bool):
            return f"{key}: expected true, false or null, got {value!r}"
        choices = CHOICES.get(key)
        if choices is not None and value not in choices:
            if key == "kind":
                close = difflib.get_close_matches(str(value), sorted(choices), n=3)
                hint = f"did you mean {', '.join(close)}?" if close else "the kinds are model.KINDS"
                return f"kind: unknown operation kind {value!r} ({hint})"
            return f"{key}: unknown value {value!r} (one of {', '.join(sorted(choices))})"
    return None


class Facts:
    """Lazy view over an operation and its place: ``facts.get('column.nullable')``."""

    __slots__ = ("op", "extra")

    def __init__(self, op: m.Operation, extra: dict):
        self.op = op
        self.extra = extra

    def get(self, key: str) -> Any:
        head, _, rest = key.partition(".")
        value = self._top(head)
        while rest:
            part, _, rest = rest.partition(".")
            if value is None:
                return None
            value = value.get(part) if isinstance(value, dict) else getattr(value, part, None)
        return value

    def _top(self, key: str) -> Any:
        if key in self.extra:
            return self.extra[key]
        if key in _DERIVED:
            return _DERIVED[key](self.op)
        op = self.op
        if key == "column" and op.column is None and op.columns:
            return op.columns[0]
        if key in _OPERATION_FIELDS:
            return getattr(op, key)
        return op.attrs.get(key)


def _described(op: m.Operation, noun: str) -> str:
    over = f" over {', '.join(op.columns)}" if op.columns else ""
    if op.name:
        return f"{noun} {op.name}"
    if op.name_unknown:
        return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun} named at run time{over}"
    return f"an unnamed {noun}{over}"


_DERIVED = {"index": lambda op: _described(op, "index"), "constraint": lambda op: _described(op, "constraint"), "sql_imported": lambda op: bool(op.attrs.get("sql_source")), "sql_literal": lambda op: op.kind == m.RAW_SQL and op.source == "sql" and bool(op.sql)}

# How a message shows a value the front end could not read (never "?").
UNREAD = {
    "table": "(table named at run time)",
    "column": "(column named at run time)",
    "columns": "(columns named at run time)",
    "name": "(a name given at run time)",
    "new_name": "(a name given at run time)",
    "ref_table": "(table named at run time)",
    "condition": "(a condition built at run time)",
}


def unread(key: str) -> str:
    return UNREAD.get(key.split(".")[0], "(unknown)")


_OPERATION_FIELDS = frozenset({"kind", "phase", "table", "schema", "name", "name_unknown", "columns", "column", "table_columns", "context", "source", "sql", "call"})


def place_facts(operations: Iterable[m.Operation], settings, shown=None) -> Dict[str, List[m.Operation]]:
    """The operations of each phase that run on the target dialect, each with the facts of its
    place: (phase -> [(op, facts)]).  Objects are told apart by schema and name: a table created
    in one schema does not make a table of the same name in another one new.  Unqualified names
    are in the history's default schema, or in the one a ``SET search_path`` of the migration
    chose for what follows it."""
    dialect = settings.dialect
    # transactional_ddl=False does not make statements commit one by one: since Alembic 1.5 it runs
    # each revision in a transaction of its own (MigrationContext.begin_transaction), so a lock is
    # held to the end of the revision and CONCURRENTLY fails there as anywhere (quay's env.py; its
    # own comment at 34c8ef052ec9 says add_column's lock stays held).  A connection in AUTOCOMMIT
    # isolation does: Alembic's begin() then opens no transaction
    autocommit_everywhere = bool(settings.env("autocommit_isolation"))
    # shown(rule, op): whether that rule's finding on op reaches the report (not ignored, not
    # suppressed): a fact that folds one finding into another needs the other one shown
    shown = shown or (lambda rule, op: True)
    placed: Dict[str, list] = {m.UPGRADE: [], m.DOWNGRADE: []}
    operations = list(operations)
    for phase in (m.UPGRADE, m.DOWNGRADE):
        ops = [op for op in operations if op.phase == phase and op.runs_on(dialect)]
        tables, defaults, default_schema = [], [], settings.default_schema
        for op in ops:
            if op.kind == m.OTHER_SQL and op.get("setting") == "search_path" and op.get("value"):
                default_schema = op.get("value")
            tables.append(table_key(op, settings, default_schema))
            defaults.append(default_schema)
        rebuilt = rebuilds(ops, tables, dialect)
        recreated = _recreated(ops, tables)
        # dropped, created again and refilled in the same phase: a rebuild of the table
        rebuilt |= {id(ops[index]) for index, refilled in recreated.items() if refilled}
        dropped_later = _dropped_later(ops, tables)
        window_open = _lock_windows(ops, tables, autocommit_everywhere or dialect != "postgresql", shown) if phase == m.UPGRADE else set()
        renames = [(i, op) for i, op in enumerate(ops) if op.kind == m.RENAME_TABLE and tables[i][1] and shown("rename-table", op)]
        renamed_tables = {tables[i] for i, _ in renames}
        renamed_tables |= {(tables[i][0], name_key(op.get("new_name"), dialect, "table")) for i, op in renames if op.get("new_name")}
        swapped = _swapped(ops, tables, dialect)
        copied = _copied(ops, tables, dialect)
        new_tables = set()
        new_columns = set()
        null_columns = set()  # added without a server default, and no row of the table written since
        emptied = set()  # tables every row of which an earlier statement deleted, none put back
        timeout_set = bool(settings.env("lock_timeout"))
        for index, op in enumerate(ops):
            table = tables[index]
            was_emptied = table in emptied if table[1] else False
            if op.kind == m.TRUNCATE_TABLE or (op.kind == m.DELETE_ROWS and op.get("has_where") is False):
                emptied.add(table)
            elif op.kind in (m.INSERT_ROWS, m.CREATE_TABLE, m.RENAME_TABLE):
                emptied.discard(table)  # rows put back, or a new table of that name
            elif op.kind in (m.RAW_SQL, m.OTHER_SQL):
                emptied.clear()  # SQL not read (or a function called) could put rows back anywhere
            if op.kind == m.SET_TIMEOUT and op.get("setting") == "lock_timeout":
                timeout_set = True
            if op.kind == m.CREATE_TABLE and id(op) not in rebuilt:
                new_tables.add(table)
            elif op.kind == m.RENAME_TABLE and table in new_tables:
                new_tables.add((table[0], name_key(op.get("new_name"), dialect, "table")))
            column = name_key(op.column.name if op.column else (op.columns[0] if op.columns else None), dialect, "column")
            if op.kind in (m.RAW_SQL, m.OTHER_SQL):
                null_columns.clear()  # SQL not read may have filled any of them
            elif op.kind in (m.UPDATE_ROWS, m.INSERT_ROWS):
                null_columns = {c for c in null_columns if c[0] != table}
            if op.kind == m.ADD_COLUMN:
                new_columns.add((table, column))
                if op.column is not None and op.column.server_default is None and not op.column.identity:
                    null_columns.add((table, column))
            elif op.kind == m.RENAME_COLUMN and (table, column) in new_columns:
                new_columns.add((table, name_key(op.get("new_name"), dialect, "column")))
            refers_to = None
            if op.kind == m.CREATE_FOREIGN_KEY and op.get("ref_table"):
                refers_to = (name_key(op.get("ref_schema"), dialect, "schema") or defaults[index], name_key(str(op.get("ref_table")), dialect, "table"))
            placed[phase].append(
                (
                    op,
                    {
                        "table_is_new": table in new_tables if table[1] else False,
                        "ref_table_is_new": refers_to in new_tables,
                        "table_is_dropped": index in dropped_later,
                        "in_rebuild": id(op) in rebuilt,
                        "column_is_new": (table, column) in new_columns and op.kind != m.ADD_COLUMN,
                        "column_is_empty": (table, column) in null_columns and op.kind != m.ADD_COLUMN,
                        "lock_window_open": index in window_open,
                        "table_is_renamed": table in renamed_tables,
                        "column_is_swapped": index in swapped,
                        "column_is_copied": op.kind == m.DROP_COLUMN and index in copied,
                        "table_is_copied": op.kind == m.DROP_TABLE and index in copied,
                        "table_was_emptied": op.kind in (m.DROP_COLUMN, m.DROP_TABLE) and was_emptied,
                        "table_is_bookkeeping": (table[1] or "").lower() in BOOKKEEPING_TABLES,
                        "copied_earlier": False,  # set across revisions by mark_copied_earlier
                        "references": (),  # and these two by mark_foreign_keys
                        "references_dropped_table": False,
                        "table_is_recreated": index in recreated,
                        "column_was_not_null": op.kind == m.SET_NOT_NULL and op.get("existing_nullable") is False,  # and by mark_known_not_null
                        "table_is_young": False,  # these three by mark_young_tables
                        "table_is_fresh": False,
                        "created_by": "",
                        "removal_declared": False,  # these three by mark_declared_removals
                        "said_empty": False,
                        "refill_said": False,
                        "declared_as": "",
                        "declared_unused": False,  # and by mark_declared_removals too
                        "deploy": settings.deploy,
                        "and_running_code": "; running code that still uses the old schema fails" if settings.deploy == "online" else "",
                        "code_still_uses": None,
                        "running_code": "",
                        "lock_timeout_set": timeout_set,
                        "table_is_large": settings.is_large(table[0], table[1]),
                        "table_is_transient": settings.is_transient(table[0], table[1]),
                        "in_batch": "batch" in op.context,
                        "in_autocommit": "autocommit" in op.context or autocommit_everywhere,
                        "in_loop": "loop" in op.context,
                        "in_offline": "offline" in op.context,
                        "dialect": dialect,
                        "server_version": settings.server_version,
                        "schema_key": table[0],
                        "sql_source_pinned": _pinned_source(op, settings),
                    },
                )
            )
    return placed


def _pinned_source(op: m.Operation, settings) -> bool:
    """The SQL is a name imported from a library (not the project) that the project pins."""
    source = op.attrs.get("sql_source") if op.kind == m.RAW_SQL else None
    if not source:
        return False
    top = str(source).split(".", 1)[0].lower()
    return top in settings.pinned_modules and top not in settings.project_packages and top not in settings.own_packages


def rebuilds(ops: List[m.Operation], tables: List[tuple], dialect: str) -> set:
    """ids of the operations that only rebuild an existing table: rename it away, create the new
    one under its name, copy, drop the old one -- or create the new one under another name, copy,
    drop the old one, rename the new one into place.  One table rebuild (SQLite's way to alter a
    table), not a rename, a new table and a dropped one."""
    part = set()
    for index, op in enumerate(ops):
        if op.kind != m.RENAME_TABLE or not tables[index][1]:
            continue
        old = tables[index]
        new = (old[0], name_key(op.get("new_name"), dialect, "table"))
        later = [(i, o) for i, o in enumerate(ops) if i > index]
        earlier = [(i, o) for i, o in enumerate(ops) if i < index]
        created = [o for i, o in later if o.kind == m.CREATE_TABLE and tables[i] == old]
        dropped = [o for i, o in later if o.kind == m.DROP_TABLE and tables[i] == new]
        if created and dropped:
            part.update((id(op), id(created[0]), id(dropped[0])))
            continue
        created = [o for i, o in earlier if o.kind == m.CREATE_TABLE and tables[i] == old]
        dropped = [o for i, o in earlier if o.kind == m.DROP_TABLE and tables[i] == new]
        if created and dropped:
            part.update((id(op), id(created[-1]), id(dropped[-1])))
    return part


def _recreated(ops: List[m.Operation], tables: List[tuple]) -> Dict[int, bool]:
    """drop_table index -> whether its rows are put back: the phase creates a table of the same
    name afterwards (True when rows are then inserted into it)."""
    out = {}
    for index, op in enumerate(ops):
        if op.kind != m.DROP_TABLE or not tables[index][1]:
            continue
        created = next((i for i in range(index + 1, len(ops)) if ops[i].kind == m.CREATE_TABLE and tables[i] == tables[index]), None)
        if created is not None:
            name = (tables[index][1] or "").lower()
            read_before = any(_only_selects(ops[i]) and name in _words(ops[i]) for i in range(index))
            inserts = [ops[i] for i in range(created + 1, len(ops)) if ops[i].kind == m.INSERT_ROWS and tables[i] == tables[index]]
            # refilled: rows read before the drop and inserted again, or INSERT ... SELECT from elsewhere
            # (seed rows inserted into the new table do not bring the old ones back)
            out[index] = any(read_before or i.get("from_select") for i in inserts)
    return out


# ALTER TABLE forms that take ACCESS EXCLUSIVE on the table, held to the end of the transaction
# (PostgreSQL: ADD FOREIGN KEY takes SHARE ROW EXCLUSIVE, VALIDATE CONSTRAINT SHARE UPDATE EXCLUSIVE)
EXCLUSIVE_DDL = _EXCLUSIVE_DDL = frozenset({  # statements that take ACCESS EXCLUSIVE on their table (PostgreSQL)
    m.ADD_COLUMN, m.DROP_COLUMN, m.RENAME_COLUMN, m.ALTER_COLUMN_TYPE, m.SET_NOT_NULL, m.DROP_NOT_NULL,
    m.SET_DEFAULT, m.DROP_DEFAULT, m.CREATE_UNIQUE_CONSTRAINT, m.CREATE_CHECK_CONSTRAINT,
    m.CREATE_PRIMARY_KEY, m.CREATE_EXCLUDE_CONSTRAINT, m.DROP_CONSTRAINT,
})
# statements that write the table's rows, with the rule that reports them and asks to move them
# out of the transaction (backfill-with-ddl, add-column-volatile-default). Scans whose own fix is a
# non-blocking form (an index built CONCURRENTLY, a constraint NOT VALID) and type changes (many
# rewrite nothing) do not count: what comes after them keeps its own finding.
_WINDOW_OPENERS = {m.UPDATE_ROWS: "backfill-with-ddl", m.DELETE_ROWS: "backfill-with-ddl"}


def _lock_windows(ops: List[m.Operation], tables: List[tuple], no_windows: bool, shown) -> set:
    """Indexes of the statements that run while their table is already locked ACCESS EXCLUSIVE
    by an earlier ALTER TABLE of the same transaction and its rows already written by a statement
    whose own finding is shown (an UPDATE or DELETE, a volatile default that rewrites it)
    (``lock_window_open``): the readers and writers of that table have been waiting since then,
    and the earlier statement's finding says so.  A COMMIT or an autocommit block ends it."""
    if no_windows:  # every statement commits on its own (AUTOCOMMIT), or not PostgreSQL: DDL commits there
        return set()
    exclusive, scanned, inside = set(), set(), set()
    for index, op in enumerate(ops):
        table = tables[index]
        if op.kind == m.COMMIT or "autocommit" in op.context:
            exclusive.clear()
            scanned.clear()
            continue
        if not table[1]:
            continue
        if table in scanned:
            inside.add(index)
        if op.kind in _EXCLUSIVE_DDL:
            exclusive.add(table)
        rewrite = op.kind == m.ADD_COLUMN and op.column is not None and op.column.server_default is not None and op.column.server_default.volatile
        opener = "add-column-volatile-default" if rewrite else _WINDOW_OPENERS.get(op.kind)
        # the window is reported only if the statement that opened it is: else nothing would say so
        if table in exclusive and opener and shown(opener, op):
            scanned.add(table)
    return inside


def _dropped_later(ops: List[m.Operation], tables: List[tuple]) -> set:
    """Indexes of operations whose table a later operation of the phase drops."""
    last = {}
    for index, op in enumerate(ops):
        if op.kind == m.DROP_TABLE and tables[index][1]:
            last[tables[index]] = index
    return {i for i, op in enumerate(ops) if tables[i][1] and tables[i] in last and last[tables[i]] > i}


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


_STRING = re.compile(r"'(?:[^']|'')*'")
_LOOKUP = re.compile(r"\bFROM\b", re.I)  # UPDATE ... SET ... FROM other: a join (PostgreSQL)
_JOIN = re.compile(r"\bJOIN\b|,", re.I)  # UPDATE t JOIN other ON ... / UPDATE t, other SET (MySQL)
_SET_CLAUSE = re.compile(r"\bSET\b(.*?)(?:\bWHERE\b|\bFROM\b|\bRETURNING\b|$)", re.I | re.S)


def _words(op: m.Operation) -> set:
    """The names an operation's SQL (string literals left out) and Core reads mention."""
    return {w.lower() for w in _WORD.findall(_STRING.sub("''", op.sql or ""))} | {str(r).lower() for r in op.get("reads") or ()}


def names_read(op: m.Operation) -> set:
    """The names a write's SQL or Core expression mentions (its sources among them)."""
    return _words(op)


def _joined_on(sql: str, column: str) -> bool:
    """The column is equated with another table's column (``o.name = t.column``): a join key."""
    name = re.escape(column)
    return re.search(rf"(?<![\w.])(?:\w+\.)?{name}\s*=\s*\w+\.\w+|\w+\.\w+\s*=\s*(?:\w+\.)?{name}\b", sql, re.I) is not None


def columns_set(op: m.Operation) -> set:
    """The columns an UPDATE assigns (lower case): the left sides of its SET clause, or what a
    Core ``update().values(...)`` writes; empty when they cannot be read."""
    if op.kind != m.UPDATE_ROWS:
        return set()
    if op.sql:
        clause = _SET_CLAUSE.search(_STRING.sub("''", op.sql))
        if clause is None:
            return set()
        return {
            left.strip().split(".")[-1].strip().strip('"`').lower()
            for left, equals, _ in (assignment.partition("=") for assignment in clause.group(1).split(","))
            if equals and _WORD.fullmatch(left.strip().split(".")[-1].strip().strip('"`'))
        }
    return {str(w).lower() for w in op.get("writes") or ()}


def copies_column(op: m.Operation, column: str, table: str) -> bool:
    """Whether a write (UPDATE / INSERT) takes values from ``table.column``: it names the column
    on the right of an assignment (``SET new = old``), selects it into another table (``INSERT
    INTO other SELECT old FROM table``), or (Core) writes it elsewhere or into another column.
    Setting the column itself (``SET a = 0 WHERE a IS NULL``) is a backfill, not a copy."""
    if op.kind not in (m.UPDATE_ROWS, m.INSERT_ROWS):
        return False
    target = (op.table or "").lower()
    elsewhere = bool(target) and target != table
    if op.sql:
        sql = _STRING.sub("''", op.sql)
        words = {w.lower() for w in _WORD.findall(sql)}
        if column not in words:
            return False
        if op.kind == m.INSERT_ROWS:
            return elsewhere and (table in words or not table)
        # WITH moved AS (INSERT INTO other (...) SELECT column ... FROM table RETURNING ...) UPDATE
        # table SET other_id = ...: the CTE copies the column elsewhere (warehouse 9ca7d5668af4)
        cte = re.match(r"\s*WITH\b(.*?)\bUPDATE\b", sql, re.I | re.S)
        if cte and re.search(r"\bINSERT\s+INTO\b", cte.group(1), re.I) and column in {w.lower() for w in _WORD.findall(cte.group(1))}:
            return True
        clause = _SET_CLAUSE.search(sql)
        if clause is None:
            return False
        targets = set()
        for assignment in clause.group(1).split(","):
            left, equals, right = assignment.partition("=")
            names = {w.lower() for w in _WORD.findall(left)}
            targets |= names
            if equals and column in {w.lower() for w in _WORD.findall(right)} and (elsewhere or column not in names):
                return True
        outside = sql[:clause.start()] + " " + sql[clause.end(1):]
        if not elsewhere and column not in targets and (_LOOKUP.search(sql, clause.end(1)) or _JOIN.search(sql[:clause.start()])) and _joined_on(outside, column):
            # UPDATE t SET other_id = o.id FROM o WHERE o.name = t.column (MySQL: UPDATE t JOIN o
            # ON ... SET ...): a lookup keyed on the column turned its values into references (a
            # plain filter, WHERE column = 'x', is not)
            return True
        return elsewhere and table in words  # UPDATE other SET ... FROM table WHERE ...: joined in
    reads = {str(r).lower() for r in op.get("reads") or ()}
    writes = {str(w).lower() for w in op.get("writes") or ()}
    if elsewhere:
        return column in reads | writes and (table in reads or not table or column in writes)
    return column in reads and column not in writes


def _copied(ops: List[m.Operation], tables: List[tuple], dialect: str) -> set:
    """Indexes of drop_column / drop_table operations whose values an earlier statement of the
    phase copied: a write that takes the column's values (``copies_column``); for a table, an
    INSERT or UPDATE of another table that reads it.  Rows read by a select (SQL ``SELECT``,
    ``sa.select(...)``, ``session.query(...)``) count when rows are written after the read and
    before the drop, naming the column (a copy made in Python)."""
    out = set()
    readers = []
    for index, op in enumerate(ops):
        if op.kind in (m.UPDATE_ROWS, m.INSERT_ROWS) or _only_selects(op):
            readers.append((index, op, _words(op)))
        if op.kind not in (m.DROP_COLUMN, m.DROP_TABLE):
            continue
        for reader_index, reader, words in readers:
            selects = _only_selects(reader)
            if selects and not any(ops[i].kind in (m.UPDATE_ROWS, m.INSERT_ROWS) for i in range(reader_index + 1, index)):
                continue  # read but nothing written since: not a copy
            if op.kind == m.DROP_COLUMN and op.columns:
                column = op.columns[0].lower()
                table = (tables[index][1] or "").lower()
                if not selects and copies_column(reader, column, table):
                    out.add(index)
                    break
                # rows of the table read, then a write that takes the column's name or value
                # (values(description=row["description"])): the values moved elsewhere
                if selects and (table in words or not table) and (column in words or any(
                    column in w_words for _i, _kind, w_words in _writes(readers, ops, reader_index, index)
                )):
                    out.add(index)
                    break
            elif op.kind == m.DROP_TABLE and tables[index][1]:
                table = tables[index][1].lower()
                writes_elsewhere = reader.kind in (m.UPDATE_ROWS, m.INSERT_ROWS) and (tables[reader_index][1] or "").lower() != table
                if table in words and (writes_elsewhere or selects):
                    out.add(index)
                    break
    return out


def mark_copied_earlier(migrations, graph) -> None:
    """Set ``copied_earlier`` on drops whose values an ancestor revision copied: a write that takes
    the column's values (``copies_column``), or an INSERT / UPDATE of another table that reads
    the dropped table.  The drop is then the contract step of an expand/backfill/contract change.
    Only revisions read in full count (outside start-after or --diff-base, headers only)."""
    writers = {}
    for migration in migrations:
        for op in migration.ops.get(m.UPGRADE, ()):
            if op.kind in (m.UPDATE_ROWS, m.INSERT_ROWS) and (op.sql or op.get("reads") or op.get("writes")):
                writers.setdefault(migration.revision, []).append(op)
    if not writers:
        return
    for migration in migrations:
        drops = [op for op in migration.ops.get(m.UPGRADE, ()) if op.kind in (m.DROP_COLUMN, m.DROP_TABLE) and op.table]
        if not drops or not migration.revision or migration.revision not in graph.revisions:
            continue
        earlier = [op for r in graph.ancestors(migration.revision) for op in writers.get(r, ())]
        for op in drops:
            table = op.table.lower()
            if op.kind == m.DROP_COLUMN and op.columns:
                hit = any(copies_column(w, op.columns[0].lower(), table) for w in earlier)
            else:
                hit = any(table in _words(w) and (w.table or "").lower() != table for w in earlier)
            if hit:
                migration.facts[id(op)]["copied_earlier"] = True


def _name_tokens(text: str) -> List[str]:
    """Words of a name or a message, CamelCase and snake_case split, lower case, a plural -s off:
    'MissingDatasetFile' and 'missing_dataset_files' give the same."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    words = [w for w in re.split(r"[^A-Za-z0-9]+", text.lower()) if w]
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words]


def _names(said: List[str], name: str, table: List[str] = (), starts=None) -> bool:
    """Does the message name the object: its words in a row, or its first two or more (the
    'flow runners' of flow_runner_type), or without a leading is/has ('default storage block
    document' for is_default_storage_block_document)?  For a column, its table's name is not
    taken for the start of the column's ('BlockSchema' does not name block_schema_type).
    ``starts``: the positions in ``said`` where the name may begin (right after a removal word)."""
    words = _name_tokens(name)[:12]
    if words[:1] in (["is"], ["has"]) and len(words) > 2:
        words = words[1:]
    if not words:
        return False
    wanted = [words] if len(words) < 2 else [words[:n] for n in range(len(words), 1, -1)]
    wanted = [run for run in wanted if run == words or run != list(table)]
    positions = sorted(starts) if starts is not None else range(len(said))
    for run in wanted:
        size = len(run)
        if any(said[i : i + size] == run for i in positions if i + size <= len(said)):
            return True
    return False


# the words with which a message says it takes something away, as whole words ('deleted_at' and
# 'dropdown' are not among them)
_REMOVAL_VERBS = frozenset(
    "remove removes removed removing removal drop drops dropped dropping delete deletes deleted deleting "
    "deprecate deprecates deprecated deprecating retire retires retired retiring purge purges purged "
    "cleanup rollback unused obsolete".split()
)
_REMOVAL_PAIRS = frozenset({("clean", "up"), ("get", "rid"), ("getting", "rid"), ("roll", "back"), ("rolled", "back")})
_KIND_WORDS = {m.DROP_TABLE: ("table", "tables"), m.DROP_COLUMN: ("column", "columns", "field", "fields")}
_ANY_KIND_WORD = frozenset(word for words in _KIND_WORDS.values() for word in words)
# how far after a removal word the thing removed may be named ('Remove no longer needed tables')
_REMOVAL_REACH = 5


def _removal_reading(message: str):
    """(the message's name tokens, the token positions within reach after a removal word, the
    kind words within reach after one)."""
    tokens: List[str] = []
    starts = set()
    kinds = set()
    previous = ""
    reach_end = -1
    for raw in re.split(r"[^A-Za-z0-9_]+", message[:2000])[:400]:
        if not raw:
            continue
        lower = raw.lower()
        parts = lower.split("_")
        if len(tokens) <= reach_end and lower in _ANY_KIND_WORD:
            kinds.add(lower)
        # a message written as one slug, 'remove_organization_project_is_active' (not a name such
        # as deleted_at later in a sentence)
        head_is_verb = not tokens and parts[0] in _REMOVAL_VERBS and len(parts) > 1
        words = _name_tokens(raw)
        if head_is_verb:
            tokens.append(words[0])
            words = words[1:]
        if lower in _REMOVAL_VERBS or head_is_verb or (previous, lower) in _REMOVAL_PAIRS:
            if not head_is_verb:
                tokens.extend(words)
                words = []
            reach_end = len(tokens) + _REMOVAL_REACH
            starts.update(range(len(tokens), reach_end + 1))
        tokens.extend(words)
        previous = lower
    return tokens, starts, kinds


def mark_declared_removals(migration) -> None:
    """Set ``removal_declared`` on the upgrade's drops that the revision's message declares: the
    author wrote down that this table or column goes (an autogenerated drop nobody meant comes
    with a message about something else): a removal word, and within a few words after it the
    object's name, or its kind (in the plural, or in the singular when the revision drops one of
    that kind).  A table dropped and created again is not declared by a message that names it:
    'Remove unique from TagManifestToManifest' takes away a constraint."""
    _mark_acknowledged(migration)
    message = getattr(migration.file, "message", "")
    if not message:
        return
    said, starts, kinds = _removal_reading(message)
    if not starts:
        return
    drops = [op for op in migration.ops.get(m.UPGRADE, ()) if op.kind in _KIND_WORDS and op.table]
    # several tables retired together and named by the part of their names they share, right after
    # the removal word: ckan's "remove_revision_data" for its nine *_revision tables
    tables = {str(op.table) for op in drops if op.kind == m.DROP_TABLE}
    shared = set.intersection(*(set(_name_tokens(t)) for t in tables)) if len(tables) > 1 else set()
    stem_said = any(said[i] in shared and len(said[i]) >= 4 for i in starts if i < len(said))
    first_line = message.splitlines()[0].strip()
    if len(first_line) > 80:
        first_line = first_line[:79] + "\u2026"
    for op in drops:
        facts = migration.facts[id(op)]
        if facts.get("table_is_recreated") or facts.get("removal_declared"):
            continue
        singular, plural, *more = _KIND_WORDS[op.kind]
        plurals = {plural, *more[1:]}
        singulars = {singular, *more[:1]}
        same_kind = {(o.table, o.columns[:1]) for o in drops if o.kind == op.kind}
        if op.kind == m.DROP_COLUMN:
            named = bool(op.columns) and _names(said, op.columns[0], _name_tokens(op.table), starts)
        else:
            named = _names(said, op.table, (), starts) or stem_said
        if named or kinds & plurals or (kinds & singulars and len(same_kind) == 1):
            facts["removal_declared"] = True
            facts["declared_as"] = f'the revision\'s message says ("{first_line}")'
            if UNUSED_SAID.search(message):
                facts["declared_unused"] = True


# the words that made a comment count (the front end's LOSS_SAID / EMPTY_SAID), to pick its sentence
_SAYING = re.compile(
    r"re-?fill|destructive|acceptable|ephemeral|safe to|removed feature|no longer|not used|unused|obsolete|forgotten|dead"
    r"|empty|no (?:records|rows)|any (?:records|rows)",
    re.I,
)


def _the_sentence_saying(text: str, kind: str) -> str:
    """The sentence of a long comment that says what made it count, with '\u2026' where the rest was."""
    sentences = re.split(r"(?<=[.!?])\s+", text)
    for index, sentence in enumerate(sentences):
        if _SAYING.search(sentence):
            shown = sentence if len(sentence) <= 200 else sentence[:199] + "\u2026"
            return ("\u2026 " if index else "") + shown + (" \u2026" if index < len(sentences) - 1 else "")
    return text[:199] + "\u2026"


# a removal that also says nothing uses what goes ("Remove 'oci' tables not used by CNR", quay
# 5cbbfc95bac7; "remove no longer needed tables", warehouse f2a453c96ded): the author answers the
# running-code question the finding would ask ("deprecated" does not: deprecated things are used)
UNUSED_SAID = re.compile(
    r"\b(?:not|no longer|never)\s+(?:used|needed|in use|referenced|read)\b|\bunused\b|\bobsolete\b|\bleft-?over\b",
    re.I,
)

REFILL_SAID = re.compile(r"\bre-?fill|\brepopulat|\bregenerat|\brebuil[dt]\b", re.I)

# a comment block counts for the operations of the next few lines (a `with` or `if` it stands on)
ACKNOWLEDGED_SPAN = 10


def _mark_acknowledged(migration) -> None:
    """The comments in which the author says what an operation does: right above it (the first
    operation of its kind within a few lines, a `with` or `if` between them) or at module level
    (not about the downgrade).  A drop whose comment says the data may go is declared like one the
    message names (``removal_declared``); an operation whose comment says its table has no rows
    gets ``said_empty``."""
    notes = getattr(migration.file, "acknowledgements", ())
    if not notes:
        return
    ops = list(migration.ops.get(m.UPGRADE, ()))
    for annotated, kind, text, line in notes:
        if annotated == 0 and re.search(r"\bdowngrade", text, re.I):
            continue  # what the downgrade does is not what this upgrade does
        wanted = [op for op in ops if (op.kind in _KIND_WORDS if kind == "loss" else bool(op.table))]
        if annotated:
            following = [op for op in wanted if annotated <= op.line <= annotated + ACKNOWLEDGED_SPAN]
            # the operation the comment stands above; for a removal of columns or tables (plural),
            # the drops right under it, line after line ('# Remove legacy columns no longer in use.'
            # over two drop_column), a blank line or other code ends them
            run = following[:1]
            if kind == "loss" and run and re.search(r"\b(?:columns|tables|fields|structures)\b", text, re.I):
                # the paragraph of code under it: statements line after line (a `with
                # batch_alter_table` line between them too); a blank line ends it.  Only the drops
                # in it are declared (prefect d481d5058a19: drop_column, drop_constraint, then the
                # drop_table of each old table)
                end = max(run[0].end_line or run[0].line, run[0].line)
                chosen = {id(op) for op in wanted}
                for op in ops:
                    if op.line <= run[0].line:
                        continue
                    if op.line > end + (2 if "batch" in op.context else 1):
                        break
                    end = max(end, op.end_line or op.line, op.line)
                    if id(op) in chosen and all(op is not o for o in run):
                        run.append(op)
            wanted = run
        # long enough for the comment's point (quay 13411de1c0ff: its last words say a worker
        # refills the table)
        quoted = text if len(text) <= 200 else _the_sentence_saying(text, kind)
        refill = kind == "loss" and REFILL_SAID.search(text) is not None
        unused = kind == "loss" and UNUSED_SAID.search(text) is not None
        for op in wanted:
            facts = migration.facts[id(op)]
            facts["removal_declared" if kind == "loss" else "said_empty"] = True
            facts["declared_as"] = f'the comment at line {line} says ("{quoted}")'
            if unused:
                facts["declared_unused"] = True
            if refill:
                facts["refill_said"] = True


def _inherited(graph, apply, merge) -> dict:
    """{revision: the state its parents leave it}, walking parents before children once (linear in
    the history, not a walk of each revision's ancestors).  ``apply(revision, state)`` returns
    the state after that revision (the same object when it changes nothing); ``merge(states)``
    joins the states of a merge revision's parents."""
    after, before = {}, {}
    for revision in graph.topological_order():
        parents = [after[p] for p in graph.parents(revision) if p in after]
        state = {} if not parents else parents[0] if len(parents) == 1 else merge(parents)
        before[revision] = state
        after[revision] = apply(revision, state)
    return before


# the key that says "every column's nullability is unknown from here on"
_ALL = (None, None)


def _nullability_events(ops, settings):
    """((table, column), NOT NULL?) in the order the operations say it; None: not known (gone,
    renamed, or SQL that could not be read, which may have changed anything: key ``_ALL``)."""
    for op in ops:
        if op.kind in (m.RAW_SQL, m.OTHER_SQL):
            # a DO block, a function: it may have dropped NOT NULL on any table it names (on any
            # at all when its text is not known)
            yield (_ALL, None) if not op.sql else (("sql", op.sql.lower()), None)
            continue
        if not op.table:
            continue
        table = table_key(op, settings)
        if op.kind == m.CREATE_TABLE:
            yield (table, None), None
            for spec in op.table_columns:
                if spec.name:
                    yield (table, spec.name.lower()), spec.not_null
        elif op.kind == m.CREATE_PRIMARY_KEY:
            for column in op.columns:
                yield (table, str(column).lower()), True
        elif op.kind == m.ADD_COLUMN and op.column is not None and op.column.name:
            yield (table, op.column.name.lower()), op.column.not_null
        elif op.kind in (m.SET_NOT_NULL, m.DROP_NOT_NULL, m.DROP_COLUMN) and op.columns:
            yield (table, str(op.columns[0]).lower()), {m.SET_NOT_NULL: True, m.DROP_NOT_NULL: False}.get(op.kind)
        elif op.kind in (m.DROP_TABLE, m.RENAME_TABLE):
            yield (table, None), None  # a table renamed away, or into this name: what it held is not known
            if op.kind == m.RENAME_TABLE and op.get("new_name"):
                yield ((table[0], name_key(op.get("new_name"), settings.dialect, "table")), None), None
        elif op.kind == m.RENAME_COLUMN and op.columns:
            yield (table, str(op.columns[0]).lower()), None
            if op.get("new_name"):
                yield (table, str(op.get("new_name")).lower()), None


def _apply_nullability(state: dict, events) -> dict:
    state = dict(state)
    for key, value in events:
        if key == _ALL:
            state.clear()
        elif key[0] == "sql":
            for other in [k for k in state if k[0][1] and re.search(r"\b%s\b" % re.escape(k[0][1]), key[1])]:
                del state[other]
        elif key[1] is None:
            for other in [k for k in state if k[0] == key[0]]:
                del state[other]
        else:
            state[key] = value
    return state


def mark_known_not_null(migrations, graph, settings) -> None:
    """Set ``column_was_not_null`` on a SET NOT NULL whose column the history already made NOT
    NULL: the latest word on it, from the ancestors (parents before children) and this
    revision's earlier statements.  A revision outside the checked scope says nothing (headers
    only); a rename, or SQL that could not be read, makes it unknown again."""
    targets = [mg for mg in migrations if any(op.kind == m.SET_NOT_NULL for op in mg.ops.get(m.UPGRADE, ()))]
    if not targets:
        return
    events = {}
    for migration in migrations:
        if migration.revision:
            found = list(_nullability_events(migration.ops.get(m.UPGRADE, ()), settings))
            if found:
                events[migration.revision] = found

    def apply(revision, state):
        return _apply_nullability(state, events[revision]) if revision in events else state

    def merge(states):  # two lines of history: known only where they agree
        first, *rest = states
        return {k: v for k, v in first.items() if all(other.get(k, object()) == v for other in rest)}

    before = _inherited(graph, apply, merge)
    for migration in targets:
        if migration.revision not in before:
            continue
        state = before[migration.revision]
        for op in migration.ops[m.UPGRADE]:  # the revision's own statements, in order
            if op.kind == m.SET_NOT_NULL and op.table and op.columns and state.get((table_key(op, settings), str(op.columns[0]).lower())):
                migration.facts[id(op)]["column_was_not_null"] = True
            events = list(_nullability_events((op,), settings))
            if events:
                state = _apply_nullability(state, events)


YOUNG_HOURS = 7 * 24
FRESH_HOURS = 24


def _created_at(text: str):
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M")
    except ValueError:
        return None


def fills(op: m.Operation) -> bool:
    """An INSERT ... SELECT: rows copied in from elsewhere, as many as there are."""
    return op.kind == m.INSERT_ROWS and bool(op.get("from_select") or (op.sql and re.search(r"\bSELECT\b", op.sql, re.I)))


def _stamp(migration, settings, untrusted=()):
    """(deploy unit, time) of a revision: git's first-parent commit and its time when git knows
    the file, else (None, its Create Date header); a file git does not have yet is the unit
    "worktree" (its time: the header's).  A commit in ``untrusted`` says nothing."""
    unit = settings.unit_of(migration.file.path)
    if unit is not None and unit[0] in untrusted:
        unit = None
    if unit is not None and unit[0] != "worktree":
        try:
            return unit[0], datetime.datetime.fromtimestamp(unit[1], datetime.timezone.utc).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError):
            unit = None
    return (unit[0] if unit else None), _created_at(getattr(migration.file, "created", ""))


def _seeds(op: m.Operation) -> bool:
    """Any INSERT: rows put in (bulk_insert, INSERT ... VALUES, INSERT ... SELECT)."""
    return op.kind == m.INSERT_ROWS


def spellings(table: str) -> tuple:
    """How code may name a table: as written, and as the class an ORM derives its name from
    (flow_run_notification_queue: FlowRunNotificationQueue; users: User; addresses: Address;
    categories: Category)."""
    parts = [p for p in table.split("_") if p]
    camel = "".join(p[:1].upper() + p[1:] for p in parts)
    out = [table, camel]
    for plural, singular in (("ies", "y"), ("es", ""), ("s", "")):
        if camel.endswith(plural) and len(camel) > len(plural) + 2:
            out.append(camel[: -len(plural)] + singular)
    return tuple(dict.fromkeys(n for n in out if n))


def column_spellings(column: str) -> tuple:
    """How code may name a column: as written, and a foreign key's column by its attribute
    (peewee's ForeignKeyField `owner` is the column owner_id), and in camelCase as code in other
    languages names it (ipAddressString)."""
    out = [column]
    if column.lower().endswith("_id") and len(column) > 3:
        out.append(column[:-3])
    if "_" in column.strip("_"):  # ipAddressString: how Java, Go or JavaScript code names it
        parts = [p for p in column.split("_") if p]
        out.append(parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:]))
    return tuple(dict.fromkeys(out))


def mark_code_mentions(migrations, settings) -> None:
    """``code_still_uses`` / ``running_code`` on the upgrade's column and table drops, from what
    git says the code running beside the migration still names (settings.code_mentions, decided
    once per history).  Only absence is evidence: a whole-word match may be another table's
    column or a local variable, but a name that code no longer holds is one the project stopped
    using before (prefect 5d03c01be85e, warehouse 60e6b0dd0f47).  Only when the repository holds
    the application's database code (a Python file outside revision folders and env.py that uses
    an ORM, and nothing that reflects the schema at run time): a column counts as unused when that
    code names its table and not the column (nor a foreign key's attribute); a table, when that
    code does not name it in any spelling an ORM gives it."""
    if not settings.code_mentions:
        return
    for migration in migrations:
        known = settings.mentions_of(migration.path)
        if known is None:
            continue
        where, asked, mentioned, anchored, given_up = known
        for op in migration.ops.get(m.UPGRADE, ()):
            if op.kind == m.DROP_COLUMN and op.columns and op.table:
                names, context = column_spellings(str(op.columns[0])), spellings(str(op.table))
                if not set(names) <= set(asked) or not set(context) <= set(asked):
                    continue
                # the code names the table (it is the application's code for it) and not the
                # column; or, on other evidence, it had given the column up (history decides:
                # the table's ORM model no longer maps it, or the code that added it named it)
                unused = anchored and (
                    (any(n in mentioned for n in context) and not any(n in mentioned for n in names))
                    or f"{op.table}\0{op.columns[0]}" in given_up
                )
            elif op.kind == m.DROP_TABLE and op.table:
                names = spellings(str(op.table))
                if not set(names) <= set(asked):
                    continue
                unused = anchored and not any(n in mentioned for n in names)
            else:
                continue
            facts = migration.facts[id(op)]
            facts["code_still_uses"] = None if not unused else False
            facts["running_code"] = where


def _history_imports(migrations, settings) -> set:
    """The commits that added a base revision: they started the history (or imported it), so what
    they added was not one change, and their time is not when those revisions were written."""
    return {
        unit[0]
        for migration in migrations
        if migration.revision and not migration.file.down_revision
        for unit in [settings.unit_of(migration.file.path)]
        if unit is not None and unit[0] != "worktree"
    }


def revisions_before_first_release(migrations, settings) -> set:
    """Revisions written before the first final release that holds the history (release tags,
    ``settings.first_release``): every install received them together, and nobody downgrades a
    released database back into its development history, so what their downgrades would do wrong
    never happens (prefect's 2.0 alphas, round 8 #52)."""
    if not settings.first_release:
        return set()
    released = datetime.datetime.fromtimestamp(settings.first_release[1], datetime.timezone.utc).replace(tzinfo=None)
    untrusted = _history_imports(migrations, settings)
    out = set()
    for migration in migrations:
        if not migration.revision:
            continue
        unit, when = _stamp(migration, settings, untrusted)
        if when is not None and unit != "worktree" and when <= released:
            out.add(migration.revision)
    return out


def mark_young_tables(migrations, graph, settings) -> None:
    """Tables an ancestor created shortly before: set on this revision's upgrade operations.

    - Created by a revision the same change added (one first-parent commit, a merge or a squashed
      pull request, or both not committed yet) and given no rows since: they ship in one deploy
      and the table is empty and unknown to the running code when this runs: ``table_is_new``,
      as if this revision had created it.  Likewise when both revisions were written before the
      first release that holds the history (release tags, ``settings.first_release``): every
      install receives them together.
    - Created at most 7 days before (the commits' times, else the Create Date headers), and not
      filled with an INSERT ... SELECT since: ``table_is_young``; at most 24 hours:
      ``table_is_fresh``. A young table is not large (``table_is_large`` off), even when the
      config lists it in large-tables: that list says which tables are large today."""
    stamps = {}
    # the commit that added a base revision started the history (or imported it): what it added
    # was not one change, and its time is not when those revisions were written
    untrusted = _history_imports(migrations, settings)
    own = {}  # revision -> its upgrade operations (only revisions read in full have any)
    for migration in migrations:
        if migration.revision:
            stamps[migration.revision] = _stamp(migration, settings, untrusted)
            own[migration.revision] = list(migration.ops.get(m.UPGRADE, ()))
    if not any(op.kind == m.CREATE_TABLE for ops in own.values() for op in ops):
        return

    def apply(revision, state):
        # table -> (the revision that made it, rows put in since, rows copied in since)
        ops = own.get(revision)
        if not ops or not any(op.kind in (m.CREATE_TABLE, m.INSERT_ROWS, m.DROP_TABLE, m.RENAME_TABLE) for op in ops):
            return state
        state = dict(state)
        for op in ops:
            if not op.table:
                continue
            table = table_key(op, settings)
            if op.kind == m.CREATE_TABLE and stamps.get(revision) != (None, None):
                state[table] = (revision, False, False)
            elif op.kind in (m.DROP_TABLE, m.RENAME_TABLE):
                made = state.pop(table, None)
                if made is not None and op.kind == m.RENAME_TABLE and op.get("new_name"):
                    state[(table[0], name_key(op.get("new_name"), settings.dialect, "table"))] = made  # the same table
            elif _seeds(op) and table in state:
                made, _, big = state[table]
                state[table] = (made, True, big or fills(op))
        return state

    order = {revision: index for index, revision in enumerate(graph.topological_order())}

    def merge(states):  # the latest creation of each table wins
        joined = {}
        for state in states:
            for table, value in state.items():
                if table not in joined or order.get(value[0], -1) > order.get(joined[table][0], -1):
                    joined[table] = value
        return joined

    before = _inherited(graph, apply, merge)
    release = None
    if settings.first_release:  # (tag, time): the first final release that holds the history
        name, at = settings.first_release
        release = (name, datetime.datetime.fromtimestamp(at, datetime.timezone.utc).replace(tzinfo=None))
    for migration in migrations:
        unit, this = stamps.get(migration.revision, (None, None))
        born = before.get(migration.revision)
        if not born or (unit is None and this is None):
            continue
        seeded_here, filled_here = set(), set()  # tables this revision put rows in before op
        for op in own[migration.revision]:
            if not op.table:
                continue
            table = table_key(op, settings)
            facts = migration.facts[id(op)]
            was_seeded, was_filled = table in seeded_here, table in filled_here
            if _seeds(op):
                seeded_here.add(table)
                if fills(op):
                    filled_here.add(table)
            if table not in born or facts.get("table_is_new"):
                continue
            revision, seeded, big = born[table]
            seeded = seeded or was_seeded
            big = big or was_filled
            their_unit, when = stamps.get(revision, (None, None))
            if unit is not None and unit == their_unit:
                if not seeded:
                    facts.update(table_is_new=True, table_is_young=True, table_is_fresh=True, table_is_large=False, created_by=f"revision {revision}, added by the same change")
                continue
            if release is not None and not seeded and this is not None and when is not None and this <= release[1] and when <= release[1]:
                # both held by the history's first release (or older): no install ever had the table
                # with rows when this runs
                facts.update(table_is_new=True, table_is_young=True, table_is_fresh=True, table_is_large=False, created_by=f"revision {revision}, before the first release ({release[0]})")
                continue
            if big:
                continue  # rows copied in since it was made: as large as what they came from
            committed = unit not in (None, "worktree")
            if this is None or when is None or committed != (their_unit not in (None, "worktree")):
                continue  # a commit's time against a header's: not comparable
            hours = (this - when).total_seconds() / 3600
            if hours < 0 or hours > YOUNG_HOURS:
                continue
            age = f"{round(hours)} hours" if hours < 48 else f"{round(hours / 24)} days"
            facts.update(table_is_young=True, table_is_fresh=hours <= FRESH_HOURS, created_by=f"revision {revision}, {age} earlier")
            # large-tables names the tables that are large now; days after it was made, this one
            # held what a few days of traffic wrote (round 6 #4, #25; round 7 #4, #26)
            facts["table_is_large"] = False


def _declared_foreign_keys(ops, settings) -> Iterable[tuple]:
    """((schema, table), column, (schema, referenced table)) for each foreign key the operations
    declare: create_foreign_key (and add_column's inline ForeignKey, which the front end gives as
    one), a create_table Column's ForeignKey or its ForeignKeyConstraint.  Column names lower-cased."""
    def referent(dotted: str, schema: Optional[str] = None) -> tuple:
        parts = dotted.split(".")  # [schema.]table[.column]
        return (name_key(schema or (parts[-3] if len(parts) > 2 else None), settings.dialect, "schema") or settings.default_schema, name_key(parts[-2] if len(parts) > 1 else parts[-1], settings.dialect, "table"))

    for op in ops:
        if not op.table:
            continue
        source = table_key(op, settings)
        if op.kind == m.CREATE_FOREIGN_KEY and op.get("ref_table"):
            target = (name_key(op.get("ref_schema"), settings.dialect, "schema") or settings.default_schema, name_key(str(op.get("ref_table")), settings.dialect, "table"))
            for column in op.columns:
                yield source, str(column).lower(), target
        elif op.kind == m.CREATE_TABLE:
            for spec in op.table_columns:
                if spec.name and spec.foreign_key and "." in spec.foreign_key:
                    yield source, spec.name.lower(), referent(spec.foreign_key)
            for columns, referenced in op.get("foreign_keys") or ():
                for column in columns if referenced else ():
                    yield source, str(column).lower(), referent(referenced + ".x")


def _gone_for_good(ops, settings) -> set:
    """Tables the phase drops and does not bring back under the same name (created again or
    renamed into afterwards: a swap)."""
    gone = set()
    for op in ops:
        key = table_key(op, settings)
        if op.kind == m.DROP_TABLE and op.table:
            gone.add(key)
        elif op.kind == m.CREATE_TABLE:
            gone.discard(key)
        elif op.kind == m.RENAME_TABLE and op.get("new_name"):
            gone.discard((key[0], name_key(op.get("new_name"), settings.dialect, "table")))
    return gone


def _named_after_dropped(op, gone, settings) -> bool:
    """A column with no declared foreign key named for a table the same upgrade drops for good:
    `revision_id` beside the drop of `revision` (ckan 107_4eaa5fcf3092, round 11 #52: migrate's
    048 had turned the key into plain text).  Its values are ids of rows that go with that table."""
    column = str(op.columns[0]).lower()
    if not column.endswith("_id") or len(column) <= 3:
        return False
    stem = column[:-3]
    schema = table_key(op, settings)[0]
    names = {stem, stem + "s", stem + "es", stem[:-1] + "ies" if stem.endswith("y") else stem + "s"}
    return any((schema, name_key(name, settings.dialect, "table")) in gone for name in names)


def mark_foreign_keys(migrations, graph, settings) -> None:
    """Set ``references`` on column drops (the tables the column's foreign keys point at, declared
    by the revision or an ancestor read in full) and ``references_dropped_table`` when the same
    upgrade drops one of them for good: the column's values point at rows that go with that
    table, whose drop is reported on its own."""
    declared = {}
    for migration in migrations:
        found = list(_declared_foreign_keys(migration.ops.get(m.UPGRADE, ()), settings))
        if found and migration.revision:
            declared[migration.revision] = found
    for migration in migrations:
        ops = migration.ops.get(m.UPGRADE, ())
        drops = [op for op in ops if op.kind == m.DROP_COLUMN and op.table and op.columns]
        if not drops:
            continue
        known = {}
        earlier = list(graph.ancestors(migration.revision)) if migration.revision and migration.revision in graph.revisions else []
        for revision in [*earlier, migration.revision]:
            for table, column, referenced in declared.get(revision, ()):
                known.setdefault((table, column), set()).add(referenced)
        gone = _gone_for_good(ops, settings)
        for op in drops:
            references = known.get((table_key(op, settings), str(op.columns[0]).lower()), set())
            facts = migration.facts[id(op)]
            facts["references"] = tuple(sorted(name for _, name in references if name))
            facts["references_dropped_table"] = bool(references & gone) or (not references and _named_after_dropped(op, gone, settings))


def _writes(readers, ops, start: int, end: int):
    """(index, kind, words) of the writes among ``readers`` between two indexes; the words include
    the columns a Core ``.values(...)`` writes."""
    return [
        (i, ops[i].kind, words | {str(w).lower() for w in ops[i].get("writes") or ()})
        for i, _op, words in readers
        if start < i < end and ops[i].kind in (m.UPDATE_ROWS, m.INSERT_ROWS)
    ]


def _only_selects(op: m.Operation) -> bool:
    return bool(op.get("select")) or (op.kind == m.OTHER_SQL and (op.sql or "").lstrip().lower().startswith(("select", "with")))


def _swapped(ops: List[m.Operation], tables: List[tuple], dialect: str) -> set:
    """Indexes of drop_column operations whose column name a later rename brings back (a new
    column swapped into its place)."""
    out = set()
    for index, op in enumerate(ops):
        if op.kind != m.DROP_COLUMN or not op.columns:
            continue
        name = name_key(op.columns[0], dialect, "column")
        for later_index in range(index + 1, len(ops)):
            later = ops[later_index]
            if later.kind == m.RENAME_COLUMN and tables[later_index] == tables[index] and name_key(later.get("new_name"), dialect, "column") == name:
                out.add(index)
                break
    return out


def name_key(name: Optional[str], dialect: str, kind: str = "table") -> Optional[str]:
    """A name as the database compares it.  PostgreSQL: exactly as the front end gives it (it folds
    unquoted SQL identifiers to lower case as PostgreSQL does; SQLAlchemy quotes any name that is
    not all lower case).  MySQL/MariaDB: schema and table names case-sensitive, as on Linux with
    lower_case_table_names=0; column, index and constraint names are not.  SQLite: case-insensitive."""
    if not isinstance(name, str):
        return None
    name = name.strip('"`')
    if dialect == "postgresql" or (dialect == "mysql" and kind in ("table", "schema")):
        return name
    return name.lower()


def table_key(op: m.Operation, settings, default_schema: Optional[str] = None) -> tuple:
    """(schema, table) of an operation, unqualified names in the default schema."""
    schema = name_key(op.schema, settings.dialect, "schema") or (default_schema if default_schema is not None else settings.default_schema)
    return (schema, name_key(op.table, settings.dialect, "table"))


def object_key(op: m.Operation, settings, name: Optional[str] = None, kind: str = "index") -> tuple:
    """(schema, name) of an index, constraint, type or sequence an operation names."""
    schema = name_key(op.schema, settings.dialect, "schema") or settings.default_schema
    return (schema, name_key(name if name is not None else op.name, settings.dialect, kind))


def shown_table(op: m.Operation, settings) -> str:
    """The table as messages show it: with its schema when that is not the default one."""
    if not op.table:
        return UNREAD["table"]
    if op.schema and name_key(op.schema, settings.dialect, "schema") != settings.default_schema:
        return f"{op.schema}.{op.table}"
    return str(op.table)


# other migration tools' records of what they applied: a project moving to Alembic drops them
BOOKKEEPING_TABLES = frozenset({"migrate_version", "south_migrationhistory", "flyway_schema_history", "schema_version", "databasechangelog", "databasechangeloglock", "schema_migrations", "ar_internal_metadata"})


# a primary key by its name: PostgreSQL's default (<table>_pkey), the common pk_ convention,
# MySQL's PRIMARY
PRIMARY_KEY_NAME = re.compile(r"(?:pk_.*|.*_pkey|primary)", re.I)


@dataclass(frozen=True)
class DowntimeChange:
    """A change that cannot run beside the code before it: one of its revisions replaces the
    primary key of a table that had one, and it cannot be downgraded or it drops the old key's
    column.  ``revisions``: (file as
    shown, revision) of every revision the change added; ``commit``: git's first-parent commit
    (None: the revision alone, git does not say)."""

    path: str
    op: Any  # the new primary key
    revision: Optional[str]
    tables: tuple
    revisions: tuple
    commit: Optional[str]
    irreversible: bool = False  # a revision of the change raises in downgrade()
    column_gone: bool = False  # the old key's column is dropped (renumbered rows)
    # the release that ships it (release tags: the first final tag at or after its commit; None
    # when git does not say or it is not released yet) and the other revisions that release ships:
    # a release that needs the application stopped is upgraded offline as a whole
    release: Optional[str] = None
    release_mates: tuple = ()


def _replaced_primary_keys(file, settings) -> List[tuple]:
    """(the create_primary_key operation, its table, whether the old key's column was dropped)
    for each primary key the upgrade replaces on a table it did not create: the old one dropped
    (by its name, or with its column: ``id``, or a column whose name the new key takes over after
    a rename), then a new one made.  ``ADD PRIMARY KEY USING INDEX`` (the online swap) is not one."""
    made, key_dropped, columns_dropped, found = set(), set(), {}, []
    for op in file.ops(m.UPGRADE):
        if not op.table:
            continue
        table = table_key(op, settings)
        if op.kind == m.CREATE_TABLE:
            made.add(table)
        elif op.kind == m.DROP_CONSTRAINT and (op.get("type") == "primary" or PRIMARY_KEY_NAME.fullmatch(str(op.name or ""))):
            key_dropped.add(table)
        elif op.kind == m.DROP_COLUMN and op.columns:
            columns_dropped.setdefault(table, set()).add(str(op.columns[0]).lower())
        elif op.kind == m.CREATE_PRIMARY_KEY and table not in made and not op.get("using_index") and not re.search(r"\bUSING\s+INDEX\b", op.sql or "", re.I):
            columns = columns_dropped.get(table, set())
            gone = "id" in columns or bool(columns & {str(c).lower() for c in op.columns})
            if gone or table in key_dropped:
                found.append((op, table, gone))
    return found


def _raises_on_purpose(file) -> bool:
    return any(op.kind == m.RAISE and "offline" not in op.context for op in file.ops(m.DOWNGRADE))


def downtime_changes(files, settings) -> List[DowntimeChange]:
    """Changes (the revisions one first-parent commit added; without git, one revision) that
    replace an existing table's primary key and drop the old key's column or whose downgrade
    raises: a rewrite of the schema's
    identity that the code before it cannot run against and that only rolls forward, i.e. a
    planned maintenance window (warehouse's 2018 refactoring).  Judged as deploy = offline, with
    one finding for the whole change instead of one per lock and renamed or dropped object."""
    by_unit: Dict[Any, list] = {}
    for file in files:
        if file.headers_only:
            continue
        unit = settings.unit_of(file.path)
        by_unit.setdefault(unit[0] if unit else ("file", file.path), []).append(file)
    changes = []
    for key, members in by_unit.items():
        replaced = [(file, op, gone) for file in members for op, _, gone in _replaced_primary_keys(file, settings)]
        if not replaced:
            continue
        # the old key's column gone (rows renumbered under the old code's feet), or no way back
        column_gone, irreversible = any(gone for *_, gone in replaced), any(_raises_on_purpose(file) for file in members)
        if not (column_gone or irreversible):
            continue
        file, op, _ = replaced[0]
        tables = tuple(dict.fromkeys(shown_table(o, settings) for _, o, _ in replaced))
        commit = None if isinstance(key, tuple) else key
        release, mates = _release_of(key, files, members, settings)
        changes.append(DowntimeChange(file.path, op, file.revision, tables, tuple((f.path, f.revision) for f in members), commit, irreversible, column_gone, release, mates))
    return changes


def _release_of(key, files, members, settings):
    """(release tag, other revisions it ships) for a change committed as ``key``: the releases
    are final tags in time order; a change ships in the first at or after its commit, with every
    revision committed after the release before it (fsft 0.7.0: the UUID keys and three other
    revisions).  For a change not released yet, nothing is assumed: the next release may be far."""
    unit = settings.unit_of(members[0].path)
    if isinstance(key, tuple) or unit is None or unit[0] == "worktree" or not settings.releases:
        return None, ()
    when = unit[1]
    after = [(name, at) for name, at in settings.releases if at >= when]
    before = [at for _, at in settings.releases if at < when]
    if not before:
        return None, ()  # before the first release: already judged as reaching every install together
    if not after:
        return None, ()  # not released yet: what else the next release ships is not known (a later pull request is not)
    low = before[-1]
    high = after[0][1]
    own = {f.path for f in members}
    mates = []
    for file in files:
        other = settings.unit_of(file.path)
        if file.path in own or other is None or other[0] == "worktree":
            continue
        if low < other[1] <= high:
            mates.append((file.path, file.revision))
    return after[0][0], tuple(mates)
