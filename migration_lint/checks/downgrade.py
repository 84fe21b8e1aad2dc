"""Checks that compare a migration's upgrade() with its downgrade().

Objects are told apart by schema and name (``facts.table_key`` / ``facts.object_key``): a table
created in ``audit`` is not removed by dropping ``public``'s table of the same name.  An object
counts as removed by the downgrade when it is dropped by name -- its own, or the one a naming
convention gives it --, when it goes away with its column or its table, and when the downgrade
rebuilds (or renames away) its table.
"""

from __future__ import annotations

import re
from typing import Dict, Iterable, Optional, Set, Tuple

from migration_lint import model as m
from migration_lint.facts import name_key, object_key, rebuilds, shown_table, table_key

CHECKS = ("missing_downgrade", "empty_downgrade", "incomplete_downgrade", "enum_type_leak", "irreversible_downgrade", "downgrade_creates_existing")

# Upgrade operations that a downgrade is expected to reverse.
REVERSIBLE = {
    m.CREATE_TABLE, m.ADD_COLUMN, m.CREATE_INDEX, m.CREATE_FOREIGN_KEY, m.CREATE_UNIQUE_CONSTRAINT,
    m.CREATE_CHECK_CONSTRAINT, m.CREATE_PRIMARY_KEY, m.CREATE_EXCLUDE_CONSTRAINT, m.CREATE_TYPE,
    m.RENAME_TABLE, m.RENAME_COLUMN, m.ALTER_COLUMN_TYPE, m.SET_NOT_NULL, m.DROP_NOT_NULL,
    m.SET_DEFAULT, m.DROP_DEFAULT, m.CREATE_SEQUENCE, m.CREATE_VIEW,
}


def _loosening(op, nullable: set, settings) -> bool:
    """A change that only loosens a column (old code runs on it, the upgrade runs again over it):
    dropping NOT NULL, or dropping the default of a column that is, or becomes, nullable."""
    if op.kind == m.DROP_NOT_NULL:
        return True
    if op.kind != m.DROP_DEFAULT or not op.columns:
        return False
    return op.get("existing_nullable") is True or (table_key(op, settings), op.columns[0].lower()) in nullable

CONSTRAINTS = {m.CREATE_FOREIGN_KEY, m.CREATE_UNIQUE_CONSTRAINT, m.CREATE_CHECK_CONSTRAINT, m.CREATE_PRIMARY_KEY, m.CREATE_EXCLUDE_CONSTRAINT}
PREFIXES = {m.CREATE_INDEX: "ix", m.CREATE_FOREIGN_KEY: "fk", m.CREATE_UNIQUE_CONSTRAINT: "uq", m.CREATE_CHECK_CONSTRAINT: "ck", m.CREATE_PRIMARY_KEY: "pk"}
# Downgrade operations whose target we cannot see: anything may have been dropped by them.
OPAQUE = {m.RAW_SQL}

_IDENT = r'(?:"[^"]+"|`[^`]+`|[A-Za-z_][\w$]*)'
_CREATE_TRIGGER = re.compile(
    rf"^\s*CREATE\s+(?P<replace>OR\s+REPLACE\s+)?(?:CONSTRAINT\s+)?TRIGGER\s+(?P<ifnot>IF\s+NOT\s+EXISTS\s+)?(?:{_IDENT}\.)?(?P<name>{_IDENT})\b"
    rf"(?P<event>.*?)\bON\s+(?:(?P<schema>{_IDENT})\.)?(?P<table>{_IDENT})(?P<rest>.*)$", re.I | re.S)
_EXECUTES = re.compile(rf"\bEXECUTE\s+(?:PROCEDURE|FUNCTION)\s+(?:{_IDENT}\.)?(?P<function>{_IDENT})\s*\(", re.I)
_CREATE_FUNCTION = re.compile(rf"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+(?:{_IDENT}\.)?(?P<name>{_IDENT})\s*\(", re.I)
_DROP_TRIGGER = re.compile(rf"^\s*DROP\s+TRIGGER\s+(?:IF\s+EXISTS\s+)?(?:{_IDENT}\.)?(?P<name>{_IDENT})", re.I)
_DROP_FUNCTION = re.compile(r"^\s*DROP\s+FUNCTION\s+(?:IF\s+EXISTS\s+)?(?P<names>.*?)(?:\b(?:CASCADE|RESTRICT)\b|;|$)", re.I | re.S)
# what a row trigger uses of the row: NEW.col / OLD.col, read or written (PostgreSQL: record "new"
# has no field ...; MySQL: Unknown column ... in 'NEW')
_ROW_FIELD = re.compile(r'\b(?:NEW|OLD)\.["`]?(\w+)["`]?', re.I)


def _bare(name: Optional[str]) -> Optional[str]:
    return name.strip('"`').lower() if name else None


def _dropped_functions(sql: str) -> Set[str]:
    """The functions a DROP FUNCTION names (``DROP FUNCTION f(), s.g(int) CASCADE``)."""
    found = _DROP_FUNCTION.match(sql or "")
    if not found:
        return set()
    names = re.sub(r"\([^()]*\)", "", found.group("names"))  # argument lists
    return {_bare(part.strip().rsplit(".", 1)[-1]) for part in names.split(",") if part.strip()}


def _triggers(ops, settings, restored=()) -> list:
    """(op, trigger, (schema, table), taken up again by a second CREATE (OR REPLACE, IF NOT
    EXISTS), columns of the row its body uses, the function it executes, columns its event or WHEN
    clause names) for each CREATE TRIGGER among the SQL of a phase.  The body is the trigger's own
    (MySQL, SQLite) or that of the function it executes, as the phase creates it, or as
    ``restored`` (the downgrade's SQL) creates it again."""
    bodies = {}
    for op in (*ops, *restored):
        found = _CREATE_FUNCTION.match(op.sql or "") if op.kind == m.OTHER_SQL else None
        if found:
            bodies[_bare(found.group("name"))] = op.sql
    out = []
    for op in ops:
        found = _CREATE_TRIGGER.match(op.sql or "") if op.kind == m.OTHER_SQL else None
        if not found:
            continue
        rest = found.group("rest")
        executes = _EXECUTES.search(rest)
        function = _bare(executes.group("function")) if executes else None
        body = bodies.get(function, "") if executes else rest
        when = re.search(r"\bWHEN\s*\((.*)", rest[: executes.start()] if executes else "", re.I | re.S)
        clause = found.group("event")
        event = tuple(dict.fromkeys(
            w.lower()
            for listed in re.findall(r"\bUPDATE\s+OF\s+([\w\s,\"`]+?)(?=\s+(?:OR|ON)\b|\s*$)", clause, re.I)
            for w in re.findall(r"\w+", listed)
        ))
        event += tuple(c.lower() for c in _ROW_FIELD.findall(when.group(1))) if when else ()
        table = (name_key(_bare(found.group("schema")), settings.dialect, "schema") or settings.default_schema, name_key(_bare(found.group("table")), settings.dialect, "table"))
        uses = tuple(dict.fromkeys(w.lower() for w in _ROW_FIELD.findall(body)))
        again = bool(found.group("replace") or found.group("ifnot"))
        out.append((op, _bare(found.group("name")), table, again, uses, function, event))
    return out


def _skipped(migration) -> bool:
    return len(migration.file.down_revision) > 1  # merge revisions have nothing of their own to reverse


def _temporary(op) -> bool:
    return bool(op.get("temporary"))


def missing_downgrade(rule, run):
    if run.settings.downgrades != "required":
        return
    for migration in run.migrations:
        file = migration.file
        if file.has_upgrade and not file.has_downgrade and not file.syntax_error:
            yield migration.finding(rule, file.upgrade_line or 1, "this revision has no downgrade() function; `alembic downgrade` through it fails", subject=("downgrade",))


def empty_downgrade(rule, run):
    if run.settings.downgrades != "required":
        return
    for migration in run.migrations:
        file = migration.file
        if not file.has_downgrade or not file.downgrade_is_empty or _skipped(migration):
            continue
        temporary = {table_key(op, run.settings) for op in migration.ops[m.UPGRADE] if op.kind == m.CREATE_TABLE and _temporary(op)}
        # a table the upgrade drops and creates again is rebuilt, not new: it exists before the
        # upgrade and after this downgrade, and the upgrade runs again over it (quay 13411de1c0ff)
        dropped, rebuilt = set(), set()
        for op in migration.ops[m.UPGRADE]:
            key = table_key(op, run.settings)
            if op.kind == m.DROP_TABLE:
                dropped.add(key)
            elif op.kind == m.CREATE_TABLE and key in dropped:
                rebuilt.add(key)
        # a column made nullable: losing its default breaks no INSERT of the old code
        nullable = {(table_key(op, run.settings), op.columns[0].lower()) for op in migration.ops[m.UPGRADE] if op.kind == m.DROP_NOT_NULL and op.columns}
        reversible = [
            op for op in migration.ops[m.UPGRADE]
            if op.kind in REVERSIBLE and not _loosening(op, nullable, run.settings) and table_key(op, run.settings) not in temporary | rebuilt
        ]
        if reversible:
            first = reversible[0]
            yield migration.finding(
                rule,
                file.downgrade_line,
                f"downgrade() does nothing, but upgrade() makes {m.count_of(len(reversible), 'reversible schema change')}, first `{first.call or first.kind}` at line {first.line}",
                phase=m.DOWNGRADE,
                subject=("downgrade",),
            )


def _rebuilds(ops, settings) -> Set[int]:
    ops = list(ops)
    return rebuilds(ops, [table_key(op, settings) for op in ops], settings.dialect)


class _Removed:
    """What a downgrade takes away."""

    def __init__(self, ops, settings, conventions):
        self.settings = settings
        self.conventions = conventions
        self.tables: Set[tuple] = set()
        self.columns: Set[tuple] = set()
        self.names: Set[tuple] = set()  # (schema, index or constraint name)
        self.types: Set[tuple] = set()
        self.any_column_of: Set[tuple] = set()  # tables whose columns are dropped by names we cannot read
        self.of_any_table: Set[Optional[str]] = set()  # columns dropped from a table we cannot read
        self.any_name = self.any_type = self.any_table = False
        self.triggers: Set[str] = set()  # dropped by name
        self.cascaded: Set[str] = set()  # functions dropped with CASCADE: their triggers go with them
        self.sql = " ".join((op.sql or "").lower() for op in ops if op.kind == m.OTHER_SQL)
        for op in ops:
            table = table_key(op, settings)
            if op.kind == m.OTHER_SQL:
                dropped = _DROP_TRIGGER.match(op.sql or "")
                if dropped:
                    self.triggers.add(_bare(dropped.group("name")))
                if re.search(r"\bCASCADE\b", op.sql or "", re.I):
                    self.cascaded |= _dropped_functions(op.sql)
                continue
            if op.kind == m.DROP_TABLE:
                if table[1] is None:
                    self.any_table = True
                self.tables.add(table)
            elif op.kind == m.RENAME_TABLE:
                self.tables.add(table)  # renamed away: the name no longer holds the upgrade's object
            elif op.kind == m.CREATE_TABLE:
                self.tables.add(table)  # rebuilt: what the upgrade added to it is gone unless restated
            elif op.kind == m.DROP_COLUMN:
                if not op.columns:
                    self.any_column_of.add(table)
                if table[1] is None:
                    self.of_any_table.update(name_key(c, settings.dialect, "column") for c in op.columns)
                    if not op.columns:
                        self.any_table = True  # any column of any table: anything may be gone
                self.columns.update((table, name_key(c, settings.dialect, "column")) for c in op.columns)
            elif op.kind in (m.DROP_INDEX, m.DROP_CONSTRAINT):
                if op.name is None:
                    self.any_name = True
                self.names.add(object_key(op, settings))
            elif op.kind == m.DROP_TYPE:
                if op.name is None:
                    self.any_type = True
                self.types.add(object_key(op, settings, kind="type"))

    def table(self, key: tuple) -> bool:
        return self.any_table or key in self.tables

    def column(self, table: tuple, column: Optional[str]) -> bool:
        return self.table(table) or table in self.any_column_of or (table, column) in self.columns or column in self.of_any_table

    def named(self, op) -> bool:
        """An index or constraint dropped by its name, or by the name a naming convention gives it."""
        if self.any_name:
            return True
        schema = object_key(op, self.settings)[0]
        return any((schema, candidate) in self.names for candidate in self._names_of(op))

    def _names_of(self, op) -> Iterable[Optional[str]]:
        dialect = self.settings.dialect
        yield name_key(op.name, dialect, "index")
        prefix = PREFIXES.get(op.kind)
        if not prefix or not op.name:
            return
        table = op.table or ""
        column = op.columns[0] if op.columns else ""
        values = {"table_name": table, "constraint_name": op.name, "column_0_name": column, "referred_table_name": op.get("ref_table") or ""}
        for template in self.conventions.get(prefix, ()):
            try:
                yield name_key(template % values, dialect, "index")
            except (KeyError, ValueError, TypeError):
                continue
        for separator in ("_", "__"):  # the common ix_/uq_/ck_/fk_/pk_ conventions
            yield name_key(f"{prefix}_{table}{separator}{op.name}", dialect, "index")
        yield name_key(f"{prefix}_{table}", dialect, "index")  # pk_%(table_name)s

    def on_dropped_columns(self, op, table: tuple) -> bool:
        """An index or constraint that goes away with the column(s) it is on.  PostgreSQL drops an
        index or constraint with any of its columns (and an expression index or CHECK with any
        column it names); MySQL and SQLite keep it while one of its columns remains."""
        dialect = self.settings.dialect
        words = []
        for item in (*op.columns, op.get("condition")):
            if isinstance(item, str):
                words.extend(re.findall(r"[A-Za-z_][A-Za-z0-9_$]*", item))
        dropped = [(table, name_key(w, dialect, "column")) in self.columns for w in words]
        if not dropped:
            return False
        return any(dropped) if dialect == "postgresql" else all(dropped)


def _downgrade_is_knowable(migration):
    file = migration.file
    if not file.has_downgrade or file.downgrade_is_empty or _skipped(migration):
        return False
    ops = migration.ops[m.DOWNGRADE]
    if any(op.kind == m.RAISE and "offline" not in op.context for op in ops):
        return False
    if any(op.kind in OPAQUE or (op.kind == m.OTHER_SQL and op.get("statement") == "drop_call") for op in ops):
        return False  # SQL not read, or a drop outside op (Table.drop, metadata.drop_all): anything may be gone
    return True


def _created(migration, settings) -> Dict[tuple, Tuple[object, str]]:
    """Objects the upgrade leaves behind: key -> (op, description)."""
    created: Dict[tuple, Tuple[object, str]] = {}
    rebuilt = _rebuilds(migration.ops[m.UPGRADE], settings)
    temporary: Set[tuple] = set()
    existing: Set[tuple] = set()  # dropped by the upgrade before it made them again: they existed before
    for op in migration.ops[m.UPGRADE]:
        if id(op) in rebuilt:
            continue
        dropped = _dropped_key(op, settings)
        if dropped is not None and dropped not in created:
            existing.add(dropped)
        table = table_key(op, settings)
        shown = shown_table(op, settings)
        if op.kind == m.CREATE_TABLE and table[1]:
            if _temporary(op):
                temporary.add(table)
                continue
            created[("table", table)] = (op, f"table {shown}")
        elif table in temporary:
            continue  # a temporary table and what is built on it go away with the session
        elif op.kind == m.ADD_COLUMN and table[1] and op.column and op.column.name:
            if ("table", table) not in created:
                created[("column", table, name_key(op.column.name, settings.dialect, "column"))] = (op, f"column {shown}.{op.column.name}")
        elif op.kind == m.CREATE_INDEX and op.name:
            if ("table", table) not in created:
                created[("index", object_key(op, settings))] = (op, f"index {op.name}")
        elif op.kind in CONSTRAINTS and op.name:
            if ("table", table) not in created:
                created[("constraint", object_key(op, settings))] = (op, f"constraint {op.name}")
        elif op.kind == m.CREATE_TYPE and op.name and not op.get("implicit"):
            if op.get("checkfirst"):
                continue  # created only if missing: a leftover type is taken up again by the next upgrade
            created[("type", object_key(op, settings, kind="type"))] = (op, f"type {op.name}")
        elif op.kind == m.RENAME_COLUMN and op.columns:
            old = ("column", table, name_key(op.columns[0], settings.dialect, "column"))
            if old in created:
                entry = created.pop(old)
                new = op.get("new_name")
                created[("column", table, name_key(new, settings.dialect, "column"))] = (entry[0], f"column {shown}.{new}")
        elif op.kind == m.RENAME_TABLE and ("table", table) in created:
            entry = created.pop(("table", table))
            new_key = (table[0], name_key(op.get("new_name"), settings.dialect))
            created[("table", new_key)] = (entry[0], f"table {op.get('new_name')}")
        elif op.kind == m.DROP_TABLE:
            created = {k: v for k, v in created.items() if not (k[0] == "table" and k[1] == table) and table_key(v[0], settings) != table}
        elif op.kind == m.DROP_COLUMN and op.columns:
            created.pop(("column", table, name_key(op.columns[0], settings.dialect, "column")), None)
        elif op.kind == m.DROP_INDEX:
            created.pop(("index", object_key(op, settings)), None)
        elif op.kind == m.DROP_CONSTRAINT:
            created.pop(("constraint", object_key(op, settings)), None)
        elif op.kind == m.DROP_TYPE:
            created.pop(("type", object_key(op, settings, kind="type")), None)
    # re-creating what existed before the upgrade (a constraint dropped and added back, pointing
    # elsewhere) leaves nothing new for the downgrade to remove
    return {key: value for key, value in created.items() if key not in existing}


def _dropped_key(op, settings) -> Optional[tuple]:
    """The key ``_created`` would give the object an operation drops."""
    if op.kind == m.DROP_TABLE and op.table:
        return ("table", table_key(op, settings))
    if op.kind == m.DROP_INDEX and op.name:
        return ("index", object_key(op, settings))
    if op.kind == m.DROP_CONSTRAINT and op.name:
        return ("constraint", object_key(op, settings))
    if op.kind == m.DROP_TYPE and op.name:
        return ("type", object_key(op, settings, kind="type"))
    if op.kind == m.DROP_COLUMN and op.columns:
        return ("column", table_key(op, settings), name_key(op.columns[0], settings.dialect, "column"))
    return None


def incomplete_downgrade(rule, run):
    settings = run.settings
    conventions: Dict[str, list] = {}
    for prefix, template in settings.env("naming_convention") or ():
        conventions.setdefault(prefix, []).append(template)
    for migration in run.migrations:
        if not _downgrade_is_knowable(migration):
            continue
        removed = _Removed(migration.ops[m.DOWNGRADE], settings, conventions)
        leaked_columns = set()
        findings = []
        for key, (op, what) in _created(migration, settings).items():
            kind = key[0]
            table = table_key(op, settings)
            if kind == "table" and removed.table(key[1]):
                continue
            if kind == "column" and removed.column(table, key[2]):
                continue
            if kind in ("index", "constraint"):
                if removed.table(table) or removed.named(op) or removed.on_dropped_columns(op, table):
                    continue
            if kind == "type" and (removed.any_type or key[1] in removed.types):
                continue
            if kind == "column":
                leaked_columns.add((table, key[2]))
            findings.append((kind, table, op, what))
        for kind, table, op, what in findings:
            # an index or constraint on a column that stays behind is part of that one omission
            # (PostgreSQL drops every index and constraint involving a dropped column, so one
            # such column is enough there; a CHECK names its columns in its condition)
            columns = [name_key(c, settings.dialect, "column") for c in op.columns]
            if not columns and op.kind == m.CREATE_CHECK_CONSTRAINT and op.get("condition") and settings.dialect == "postgresql":
                columns = [name for t, name in leaked_columns if t == table and re.search(rf"\b{re.escape(name)}\b", op.get("condition"), re.I)] or [None]
            leaked = [(table, c) in leaked_columns for c in columns]
            if kind in ("index", "constraint") and columns and (any(leaked) if settings.dialect == "postgresql" else all(leaked)):
                continue
            yield migration.at(rule, op, f"upgrade() creates {what}, but downgrade() never removes it", phase=m.UPGRADE)
        yield from _triggers_left(rule, migration, removed, settings)


def _triggers_left(rule, migration, removed: "_Removed", settings):
    """A trigger the upgrade creates with SQL and the downgrade leaves: when it uses a column the
    downgrade drops (NEW.col or OLD.col, read or written), every write it fires on fails after the
    downgrade (warehouse 8bee9c119e41); when its event or WHEN clause names that column, PostgreSQL
    refuses the downgrade's DROP COLUMN itself; otherwise the next upgrade fails creating it again,
    unless it is taken up again (OR REPLACE, IF NOT EXISTS, or dropped first)."""
    upgrade_ops = migration.ops[m.UPGRADE]
    downgrade_ops = migration.ops[m.DOWNGRADE]
    dropped_first = set()
    for op in upgrade_ops:
        found = _DROP_TRIGGER.match(op.sql or "") if op.kind == m.OTHER_SQL else None
        if found:
            dropped_first.add(_bare(found.group("name")))
    for op, name, table, again, uses, function, event in _triggers(upgrade_ops, settings, restored=downgrade_ops):
        after = upgrade_ops[upgrade_ops.index(op) + 1:]
        if any(o.kind == m.OTHER_SQL and _DROP_TRIGGER.match(o.sql or "") and _bare(_DROP_TRIGGER.match(o.sql).group("name")) == name for o in after):
            continue
        if function and any(o.kind == m.OTHER_SQL and re.search(r"\bCASCADE\b", o.sql or "", re.I) and function in _dropped_functions(o.sql) for o in after):
            continue
        if any(o.kind == m.DROP_TABLE and table_key(o, settings) == table for o in after):
            continue
        if removed.table(table) or name in removed.triggers or (function and function in removed.cascaded) or re.search(rf"\b{re.escape(name)}\b", removed.sql):
            continue
        shown = table[1] if table[0] == settings.default_schema else f"{table[0]}.{table[1]}"

        def dropped(columns):
            return [c for c in columns if removed.column(table, name_key(c, settings.dialect, "column"))]

        if settings.dialect == "postgresql" and dropped(event):
            yield migration.at(
                rule, op,
                f"upgrade() creates trigger {name} on {shown}, whose event names {m.listing(f'{shown}.{c}' for c in dropped(event))}, but downgrade() "
                "never removes it: the downgrade's DROP COLUMN fails, since the trigger depends on the column",
                phase=m.UPGRADE,
            )
        elif dropped(uses):
            yield migration.at(
                rule, op,
                f"upgrade() creates trigger {name} on {shown}, but downgrade() never removes it, while it drops "
                f"{m.listing(f'{shown}.{c}' for c in dropped(uses))}, which the trigger uses: after the downgrade every write to {shown} that fires it fails",
                phase=m.UPGRADE,
            )
        elif not again and name not in dropped_first:
            yield migration.at(
                rule, op,
                f"upgrade() creates trigger {name} on {shown}, but downgrade() never removes it: after a downgrade, the next upgrade fails creating it again",
                phase=m.UPGRADE,
            )


def enum_type_leak(rule, run):
    settings = run.settings
    for migration in run.migrations:
        if not _downgrade_is_knowable(migration):
            continue
        dropped = {object_key(op, settings, kind="type") for op in migration.ops[m.DOWNGRADE] if op.kind == m.DROP_TYPE}
        # a type the upgrade also creates explicitly is incomplete-downgrade's to report
        seen = {object_key(op, settings, kind="type") for op in migration.ops[m.UPGRADE] if op.kind == m.CREATE_TYPE and not op.get("implicit")}
        for op in migration.ops[m.UPGRADE]:
            key = object_key(op, settings, kind="type")
            if op.kind != m.CREATE_TYPE or not op.get("implicit") or key in dropped or key in seen:
                continue
            seen.add(key)
            yield migration.at(rule, op, f"the enum type {op.name} is created with {shown_table(op, settings)}, but downgrade() never drops it; the next upgrade fails with 'type \"{op.name}\" already exists'", phase=m.UPGRADE)


# this many revisions whose downgrade raises on purpose make a convention (warehouse: 26)
ROLL_FORWARD_CONVENTION = 5


def irreversible_downgrade(rule, run):
    """The newest irreversible revision of each line of history: where ``alembic downgrade`` stops."""
    if run.settings.downgrades != "required":
        return
    raising = {}
    for migration in run.migrations:
        raises = [op for op in migration.ops[m.DOWNGRADE] if op.kind == m.RAISE and "offline" not in op.context]
        if raises and migration.revision:
            raising[migration.revision] = (migration, raises[0])
    if len(raising) >= ROLL_FORWARD_CONVENTION:
        return  # the project rolls forward by convention: the newest such revision says nothing new
    graph = run.graph
    for revision, (migration, op) in raising.items():
        later = [r for r in graph.descendants(revision) if r in raising] if revision in graph.revisions else []
        if later:
            continue  # a newer irreversible revision stops a downgrade first
        older = [r for r in graph.ancestors(revision) if r in raising] if revision in graph.revisions else []
        also = f" (nor past the {m.count_of(len(older), 'older irreversible revision')} behind it)" if older else ""
        yield migration.at(rule, op, f"downgrade() of {revision} raises on purpose: the history cannot be downgraded past this revision{also}", phase=m.DOWNGRADE, subject=("downgrade",))


# where a call may not run: a create there is not known to happen (nor, in a downgrade, to fail)
MAYBE = {"conditional", "try", "except", "loop", "offline"}
# index-backed: one name space with indexes (PostgreSQL relations, MySQL keys, SQLite indexes)
_INDEX_LIKE = {m.CREATE_INDEX, m.CREATE_UNIQUE_CONSTRAINT, m.CREATE_PRIMARY_KEY, m.CREATE_EXCLUDE_CONSTRAINT}
# SQL after which anything may be gone: cascades, whole schemas, owned objects
_SWEEPING = re.compile(r"\bCASCADE\b|^\s*DROP\s+(?:SCHEMA|OWNED|DATABASE)\b", re.I)


class _Object:
    """Something a migration made that still stands: its kind, where its name is unique, the
    table it is on, and (an index or constraint) the columns it is on that are left."""

    __slots__ = ("key", "op", "table", "columns", "condition")

    def __init__(self, key, op, table, columns, condition=""):
        self.key, self.op, self.table, self.columns, self.condition = key, op, table, set(columns), condition


def _made(op, settings) -> list:
    """What a create operation makes, as _Object(s) keyed by where the database keeps its name
    unique: a table and its columns; a column; an index or UNIQUE / primary key (one name space:
    the schema's relations on PostgreSQL and SQLite, the table's keys on MySQL); a foreign key or
    CHECK (the table's, wherever the schema's would do: a miss rather than a false alarm)."""
    table = table_key(op, settings)
    dialect = settings.dialect
    column = lambda c: name_key(c, dialect, "column")  # noqa: E731
    if op.kind == m.CREATE_TABLE and table[1] and not _temporary(op):
        return [_Object(("table", table), op, table, ()), *(_Object(("column", table, column(c.name)), op, table, ()) for c in op.table_columns if c.name)]
    if op.kind == m.ADD_COLUMN and table[1] and op.column and op.column.name:
        return [_Object(("column", table, column(op.column.name)), op, table, ())]
    if not op.name or op.name_unknown or op.get("inline"):
        return []
    name = name_key(op.name, dialect, "index")
    if op.kind in _INDEX_LIKE:
        key = ("index", table, name) if dialect == "mysql" else ("index", (table[0], None), name)
        return [_Object(key, op, table, (column(c) for c in op.columns))]
    if op.kind in CONSTRAINTS:
        return [_Object(("constraint", table, name), op, table, (column(c) for c in op.columns), str(op.get("condition") or ""))]
    return []


class _Standing:
    """What is known to stand at a point of a migration: what its upgrade made, less what was
    dropped since (everything, after SQL or a call the linter cannot follow)."""

    def __init__(self, settings):
        self.settings = settings
        self.objects: Dict[tuple, _Object] = {}

    def apply(self, op) -> None:
        settings, dialect = self.settings, self.settings.dialect
        table = table_key(op, settings)
        column = lambda c: name_key(c, dialect, "column")  # noqa: E731
        objects = self.objects
        if op.kind == m.RAW_SQL or (op.kind == m.OTHER_SQL and not op.sql) or _SWEEPING.search(op.sql or ""):
            objects.clear()  # anything may be gone
            return
        if op.kind == m.OTHER_SQL:
            text = op.sql.lower()
            for key in [k for k in objects if re.search(rf"\b{re.escape(str(k[1][1] if k[0] == 'table' else k[-1]).lower())}\b", text)]:
                del objects[key]
            return
        if op.kind in (m.DROP_TABLE, m.RENAME_TABLE, m.CREATE_TABLE) and not table[1]:
            objects.clear()
            return
        if op.kind == m.DROP_TABLE or (op.kind == m.CREATE_TABLE and ("table", table) in objects):
            for key in [k for k, o in objects.items() if o.table == table]:
                del objects[key]
        elif op.kind == m.RENAME_TABLE:
            # the table, its columns and what is on it move; names kept per table move with them
            new = (table[0], name_key(op.get("new_name"), dialect, "table"))
            if not new[1]:
                objects.clear()
                return
            for key, o in list(objects.items()):
                if o.table != table:
                    continue
                del objects[key]
                o.table = new
                o.key = tuple(new if part == table else part for part in key)
                objects[o.key] = o
        elif op.kind in (m.DROP_COLUMN, m.RENAME_COLUMN):
            if not op.columns:
                for key in [k for k, o in objects.items() if o.table == table and k[0] != "table"]:
                    del objects[key]
                return
            old = column(op.columns[0])
            new = column(op.get("new_name")) if op.kind == m.RENAME_COLUMN else None
            if op.kind == m.RENAME_COLUMN and not new:
                for key in [k for k, o in objects.items() if o.table == table and k[0] != "table"]:
                    del objects[key]
                return
            objects.pop(("column", table, old), None)
            if new:
                objects[("column", table, new)] = _Object(("column", table, new), op, table, ())
            for key, o in list(objects.items()):
                if o.table != table or key[0] not in ("index", "constraint"):
                    continue
                named = old in o.columns or (o.condition and re.search(rf"\b{re.escape(old)}\b", o.condition, re.I))
                if not named:
                    continue
                if new:  # the index stays, on the renamed column
                    o.columns = {new if c == old else c for c in o.columns}
                    continue
                o.columns.discard(old)
                # PostgreSQL drops an index or constraint with any of its columns (a CHECK with any
                # column its condition names); MySQL and SQLite once none is left
                if dialect == "postgresql" or not o.columns:
                    del objects[key]
        elif op.kind in (m.DROP_INDEX, m.DROP_CONSTRAINT):
            name = name_key(op.name, dialect, "index") if op.name and not op.name_unknown else None
            for key, o in list(objects.items()):
                if key[0] not in ("index", "constraint"):
                    continue
                # by name (a UNIQUE constraint is dropped as its index, and back); on the
                # operation's table when it names one and the name is kept per table
                if name is None or (key[-1] == name and (not op.table or key[1][1] is None or o.table == table)):
                    del objects[key]
        elif not (set(op.context) & MAYBE):
            for made in _made(op, settings):
                objects[made.key] = made

    def clash(self, op) -> Optional[_Object]:
        """What stands under the name a create operation gives."""
        for made in _made(op, self.settings):
            found = self.objects.get(made.key)
            if found is not None:
                return found
        return None


def downgrade_creates_existing(rule, run):
    """A downgrade that creates, before dropping it, an object the upgrade left in place: it fails
    on 'already exists' every time (quay ba263f9be4a6 recreates a unique index under the name its
    non-unique replacement still holds)."""
    settings = run.settings
    for migration in run.migrations:
        if not _downgrade_is_knowable(migration):
            continue
        standing = _Standing(settings)
        for op in migration.ops[m.UPGRADE]:
            standing.apply(op)
        for op in migration.ops[m.DOWNGRADE]:
            if not standing.objects:
                break
            found = None if (set(op.context) & MAYBE or op.get("if_not_exists")) else standing.clash(op)
            if found is not None:
                kind = found.key[0]
                if kind == "column":
                    what = f"column {shown_table(op, settings)}.{found.key[2]}"
                elif kind == "table":
                    what = f"table {shown_table(op, settings)}"
                else:
                    what = f"{'index' if found.op.kind == m.CREATE_INDEX else 'constraint'} {found.op.name}"
                yield migration.at(
                    rule, op,
                    f"downgrade() creates the {what} again, while the one upgrade() made (line {found.op.line}) still stands: "
                    f"nothing in downgrade() drops it first, so the downgrade fails with \"already exists\" every time",
                    phase=m.DOWNGRADE,
                )
            standing.apply(op)
