"""PostgreSQL table lock modes: what each one blocks, and what each statement kind takes.

Pure data and parsing, no I/O.  The lock trace (``trace.py``) uses it to classify the locks it
observes and to stand in for locks it cannot observe (a statement in an autocommit block holds its
lock only while it runs); the round trip uses :func:`is_strong` to compare static predictions with
what the trace saw.

Sources, PostgreSQL documentation (current version):

* "Explicit Locking", table-level locks and their conflicts:
  https://www.postgresql.org/docs/current/explicit-locking.html#LOCKING-TABLES
* each command's page, cited next to its entry in :func:`documented_locks`;
* for ALTER TABLE, the page's per-subcommand notes and ``AlterTableGetLockLevel()`` in
  ``src/backend/commands/tablecmds.c``, which the page summarises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

EXPLICIT_LOCKING = "https://www.postgresql.org/docs/current/explicit-locking.html#LOCKING-TABLES"
_DOCS = "https://www.postgresql.org/docs/current/"

# The eight table lock modes, weakest first.  The position is the mode's number in PostgreSQL
# (lockdefs.h: AccessShareLock = 1 ... AccessExclusiveLock = 8), which is also what LOCK TABLE's
# parse tree carries; a higher number never conflicts with fewer modes than a lower one.
MODES: Tuple[str, ...] = (
    "ACCESS SHARE",
    "ROW SHARE",
    "ROW EXCLUSIVE",
    "SHARE UPDATE EXCLUSIVE",
    "SHARE",
    "SHARE ROW EXCLUSIVE",
    "EXCLUSIVE",
    "ACCESS EXCLUSIVE",
)
ACCESS_SHARE, ROW_SHARE, ROW_EXCLUSIVE, SHARE_UPDATE_EXCLUSIVE, SHARE, SHARE_ROW_EXCLUSIVE, EXCLUSIVE, ACCESS_EXCLUSIVE = MODES

# "Conflicting Lock Modes" (Explicit Locking, table 13.2): the modes each mode waits for / blocks.
CONFLICTS: Dict[str, Tuple[str, ...]] = {
    ACCESS_SHARE: (ACCESS_EXCLUSIVE,),
    ROW_SHARE: (EXCLUSIVE, ACCESS_EXCLUSIVE),
    ROW_EXCLUSIVE: (SHARE, SHARE_ROW_EXCLUSIVE, EXCLUSIVE, ACCESS_EXCLUSIVE),
    SHARE_UPDATE_EXCLUSIVE: (SHARE_UPDATE_EXCLUSIVE, SHARE, SHARE_ROW_EXCLUSIVE, EXCLUSIVE, ACCESS_EXCLUSIVE),
    SHARE: (ROW_EXCLUSIVE, SHARE_UPDATE_EXCLUSIVE, SHARE_ROW_EXCLUSIVE, EXCLUSIVE, ACCESS_EXCLUSIVE),
    SHARE_ROW_EXCLUSIVE: (ROW_EXCLUSIVE, SHARE_UPDATE_EXCLUSIVE, SHARE, SHARE_ROW_EXCLUSIVE, EXCLUSIVE, ACCESS_EXCLUSIVE),
    EXCLUSIVE: (ROW_SHARE, ROW_EXCLUSIVE, SHARE_UPDATE_EXCLUSIVE, SHARE, SHARE_ROW_EXCLUSIVE, EXCLUSIVE, ACCESS_EXCLUSIVE),
    ACCESS_EXCLUSIVE: MODES,
}

BLOCKS_READS_AND_WRITES = "reads and writes"
BLOCKS_WRITES = "writes"
BLOCKS_NOTHING = "nothing"

_BY_KEY = {m.replace(" ", "").lower(): m for m in MODES}


def mode_name(mode: Any) -> Optional[str]:
    """'AccessExclusiveLock' (pg_locks), 'ACCESS EXCLUSIVE', 'access_exclusive' or 8 -> 'ACCESS EXCLUSIVE'.

    None for anything else (the advisory or row-level names are not table modes)."""
    if isinstance(mode, int) and not isinstance(mode, bool):
        return MODES[mode - 1] if 1 <= mode <= len(MODES) else None
    if not isinstance(mode, str):
        return None
    key = mode.strip().replace("_", "").replace(" ", "").lower()
    if key.endswith("lock"):
        key = key[:-4]
    return _BY_KEY.get(key)


def strength(mode: str) -> int:
    """1 (ACCESS SHARE) .. 8 (ACCESS EXCLUSIVE); 0 for an unknown name."""
    name = mode_name(mode)
    return MODES.index(name) + 1 if name else 0


def blocks(mode: str) -> str:
    """What a lock in ``mode`` on a table stops other sessions from doing to it, in three words.

    * ``reads and writes`` -- ACCESS EXCLUSIVE: conflicts with every mode, so even a plain SELECT
      (ACCESS SHARE) on the table waits until the transaction holding it ends.
    * ``writes`` -- EXCLUSIVE, SHARE ROW EXCLUSIVE, SHARE: conflict with ROW EXCLUSIVE, so INSERT,
      UPDATE, DELETE and MERGE wait; plain SELECT goes on.  (EXCLUSIVE also stops SELECT ... FOR
      UPDATE/SHARE, which take ROW SHARE.)
    * ``nothing`` -- SHARE UPDATE EXCLUSIVE and weaker: no plain read or write waits.  They still
      conflict with other maintenance: SHARE UPDATE EXCLUSIVE (VACUUM, ANALYZE, CREATE INDEX
      CONCURRENTLY, VALIDATE CONSTRAINT...) blocks another of its kind, CREATE INDEX and every
      stronger mode, that is other schema changes; ROW EXCLUSIVE (DML) blocks CREATE INDEX and
      stronger; ROW SHARE blocks EXCLUSIVE and ACCESS EXCLUSIVE; ACCESS SHARE blocks only
      ACCESS EXCLUSIVE.  Note that anything queued behind a lock waits too: a migration waiting
      for its ACCESS EXCLUSIVE behind a long SELECT makes every later query wait, whatever the
      lock it finally holds for a moment (hence ``lock_timeout``).
    """
    level = strength(mode)
    if level == 8:
        return BLOCKS_READS_AND_WRITES
    if level >= 5:
        return BLOCKS_WRITES
    return BLOCKS_NOTHING


def mode_is_strong(mode: str) -> bool:
    """True for modes that block writes or more (SHARE and stronger)."""
    return strength(mode) >= 5


@dataclass(frozen=True)
class DocumentedLock:
    """The lock PostgreSQL documents for one statement on one relation.

    ``name``/``schema`` are the relation as written (unquoted, schema None when not qualified).
    ``via_index`` is True when the statement names an index and the lock is on its table (DROP
    INDEX, REINDEX INDEX): the caller resolves the index to its table.  ``reference`` is the
    documentation page that says so.
    """

    schema: Optional[str]
    name: str
    mode: str
    statement: str  # 'CREATE INDEX CONCURRENTLY', 'ALTER TABLE ... ADD FOREIGN KEY (referenced table)', ...
    reference: str = EXPLICIT_LOCKING
    via_index: bool = False

    @property
    def relation(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


# --- statement kinds -> documented locks (PostgreSQL, pglast parse trees) ----------------------

# ALTER TABLE subcommands that take less than ACCESS EXCLUSIVE (sql-altertable.html, "Notes" and
# each subcommand's paragraph; AlterTableGetLockLevel()).  Every other subcommand takes ACCESS
# EXCLUSIVE, which is the page's stated default: "An ACCESS EXCLUSIVE lock is acquired unless
# explicitly noted."
_ALTER_TABLE_MODES = {
    "AT_SetStatistics": SHARE_UPDATE_EXCLUSIVE,  # ALTER COLUMN SET STATISTICS
    "AT_SetOptions": SHARE_UPDATE_EXCLUSIVE,  # ALTER COLUMN SET (n_distinct = ...)
    "AT_ResetOptions": SHARE_UPDATE_EXCLUSIVE,
    "AT_ClusterOn": SHARE_UPDATE_EXCLUSIVE,  # CLUSTER ON
    "AT_DropCluster": SHARE_UPDATE_EXCLUSIVE,  # SET WITHOUT CLUSTER
    "AT_ValidateConstraint": SHARE_UPDATE_EXCLUSIVE,  # VALIDATE CONSTRAINT
    "AT_AttachPartition": SHARE_UPDATE_EXCLUSIVE,  # on the parent; the partition gets ACCESS EXCLUSIVE
    "AT_DetachPartitionFinalize": SHARE_UPDATE_EXCLUSIVE,
    "AT_EnableTrig": SHARE_ROW_EXCLUSIVE,  # ENABLE/DISABLE TRIGGER ...
    "AT_EnableAlwaysTrig": SHARE_ROW_EXCLUSIVE,
    "AT_EnableReplicaTrig": SHARE_ROW_EXCLUSIVE,
    "AT_EnableTrigAll": SHARE_ROW_EXCLUSIVE,
    "AT_EnableTrigUser": SHARE_ROW_EXCLUSIVE,
    "AT_DisableTrig": SHARE_ROW_EXCLUSIVE,
    "AT_DisableTrigAll": SHARE_ROW_EXCLUSIVE,
    "AT_DisableTrigUser": SHARE_ROW_EXCLUSIVE,
}
_SUBCOMMAND_NAMES = {
    "AT_AlterColumnType": "ALTER COLUMN TYPE",
    "AT_ColumnDefault": "ALTER COLUMN SET/DROP DEFAULT",
    "AT_SetNotNull": "ALTER COLUMN SET NOT NULL",
    "AT_DropNotNull": "ALTER COLUMN DROP NOT NULL",
    "AT_SetStatistics": "ALTER COLUMN SET STATISTICS",
    "AT_SetOptions": "ALTER COLUMN SET (...)",
    "AT_ResetOptions": "ALTER COLUMN RESET (...)",
    "AT_ClusterOn": "CLUSTER ON",
    "AT_DropCluster": "SET WITHOUT CLUSTER",
    "AT_DropConstraint": "DROP CONSTRAINT",
    "AT_DropColumn": "DROP COLUMN",
    "AT_ValidateConstraint": "VALIDATE CONSTRAINT",
    "AT_AttachPartition": "ATTACH PARTITION",
    "AT_DisableTrig": "DISABLE TRIGGER",
    "AT_EnableTrig": "ENABLE TRIGGER",
    "AT_DisableTrigAll": "DISABLE TRIGGER ALL",
    "AT_EnableTrigAll": "ENABLE TRIGGER ALL",
    "AT_DisableTrigUser": "DISABLE TRIGGER USER",
    "AT_EnableTrigUser": "ENABLE TRIGGER USER",
    "AT_ChangeOwner": "OWNER TO",
    "AT_SetTableSpace": "SET TABLESPACE",
    "AT_SetLogged": "SET LOGGED",
    "AT_SetUnLogged": "SET UNLOGGED",
}
# SET (storage_parameter): "SHARE UPDATE EXCLUSIVE lock will be taken for fillfactor, toast and
# autovacuum storage parameters, as well as the planner parameter parallel_workers" (others:
# ACCESS EXCLUSIVE).
_LIGHT_RELOPTIONS = ("fillfactor", "parallel_workers", "autovacuum_", "toast.", "toast_tuple_target")


def _alter_table_subcommand(cmd: Any, enums: Any) -> Tuple[str, str, List[str]]:
    """(mode on the altered table, description, tables that get SHARE ROW EXCLUSIVE as referenced)."""
    subtype = getattr(cmd.subtype, "name", str(cmd.subtype))
    definition = getattr(cmd, "def_", None)
    referenced: List[str] = []
    if subtype in ("AT_AddConstraint", "AT_ReAddConstraint"):
        contype = getattr(definition, "contype", None)
        if contype == enums.ConstrType.CONSTR_FOREIGN:
            # "Addition of a foreign key constraint requires a SHARE ROW EXCLUSIVE lock on the
            # referenced table, in addition to the lock on the table on which the constraint is
            # declared" -- which is SHARE ROW EXCLUSIVE too (it adds triggers to both tables).
            referenced.append(_rangevar(definition.pktable))
            return SHARE_ROW_EXCLUSIVE, "ADD FOREIGN KEY", referenced
        return ACCESS_EXCLUSIVE, "ADD CONSTRAINT", referenced
    if subtype == "AT_AddColumn":
        referenced.extend(_column_references(definition, enums))
        return ACCESS_EXCLUSIVE, "ADD COLUMN", referenced
    if subtype in ("AT_SetRelOptions", "AT_ResetRelOptions"):
        names = [getattr(d, "defname", "") or "" for d in (definition or ())]
        namespaces = [getattr(d, "defnamespace", "") or "" for d in (definition or ())]
        light = all(n.startswith(_LIGHT_RELOPTIONS) or ns == "toast" for n, ns in zip(names, namespaces))
        return (SHARE_UPDATE_EXCLUSIVE if names and light else ACCESS_EXCLUSIVE), "SET (storage parameter)", referenced
    if subtype == "AT_DetachPartition":
        concurrent = bool(getattr(definition, "concurrent", False))
        return (SHARE_UPDATE_EXCLUSIVE if concurrent else ACCESS_EXCLUSIVE), "DETACH PARTITION" + (" CONCURRENTLY" if concurrent else ""), referenced
    mode = _ALTER_TABLE_MODES.get(subtype, ACCESS_EXCLUSIVE)
    return mode, _SUBCOMMAND_NAMES.get(subtype) or re.sub(r"(?<=[a-z])(?=[A-Z])", " ", subtype[3:]).upper(), referenced


def _rangevar(rv: Any) -> Tuple[Optional[str], str]:
    if rv is None:
        return None, ""
    return getattr(rv, "schemaname", None) or None, getattr(rv, "relname", None) or ""


def _names(nodes: Any) -> Tuple[Optional[str], str]:
    """A qualified name's parts (String nodes) -> (schema, name); a catalog part is dropped."""
    parts = []
    for node in nodes or ():
        value = getattr(node, "sval", None)
        if value is None:
            value = getattr(node, "str", None)
        if value is not None:
            parts.append(value)
    if not parts:
        return None, ""
    return (parts[-2] if len(parts) >= 2 else None), parts[-1]


def _column_references(column_def: Any, enums: Any) -> List[str]:
    out = []
    for con in getattr(column_def, "constraints", None) or ():
        if getattr(con, "contype", None) == enums.ConstrType.CONSTR_FOREIGN and getattr(con, "pktable", None) is not None:
            out.append(_rangevar(con.pktable))
    return out


def _statement_locks(stmt: Any, enums: Any) -> Optional[List[DocumentedLock]]:
    """Documented table locks of one parsed statement; None when the kind is not in the table."""
    kind = type(stmt).__name__

    def D(target: Tuple[Optional[str], str], mode: str, statement: str, reference: str = EXPLICIT_LOCKING, via_index: bool = False) -> DocumentedLock:
        return DocumentedLock(target[0], target[1], mode, statement, reference, via_index)
    if kind == "IndexStmt":
        # sql-createindex.html: "a standard index build locks out writes (but not reads) on the
        # table"; CONCURRENTLY takes SHARE UPDATE EXCLUSIVE (Explicit Locking).
        if stmt.concurrent:
            return [D(_rangevar(stmt.relation), SHARE_UPDATE_EXCLUSIVE, "CREATE INDEX CONCURRENTLY", _DOCS + "sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY")]
        return [D(_rangevar(stmt.relation), SHARE, "CREATE INDEX", _DOCS + "sql-createindex.html")]
    if kind == "DropStmt":
        remove = getattr(stmt.removeType, "name", str(stmt.removeType))
        objects = [_names(o) if isinstance(o, (tuple, list)) else _names([o]) for o in stmt.objects or ()]
        if remove == "OBJECT_INDEX":
            # sql-dropindex.html: "a normal DROP INDEX acquires an ACCESS EXCLUSIVE lock on the
            # table"; with CONCURRENTLY, SHARE UPDATE EXCLUSIVE (the drop waits instead).
            if stmt.concurrent:
                return [D(o, SHARE_UPDATE_EXCLUSIVE, "DROP INDEX CONCURRENTLY", _DOCS + "sql-dropindex.html", True) for o in objects]
            return [D(o, ACCESS_EXCLUSIVE, "DROP INDEX", _DOCS + "sql-dropindex.html", True) for o in objects]
        if remove in ("OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_FOREIGN_TABLE"):
            return [D(o, ACCESS_EXCLUSIVE, "DROP " + remove[7:].replace("MATVIEW", "MATERIALIZED VIEW").replace("_", " "), EXPLICIT_LOCKING) for o in objects]
        if remove in ("OBJECT_TRIGGER", "OBJECT_RULE", "OBJECT_POLICY"):
            # DROP TRIGGER/RULE/POLICY name ON table: the parse tree lists (table..., name)
            tables = []
            for o in stmt.objects or ():
                parts = list(o) if isinstance(o, (tuple, list)) else [o]
                tables.append(_names(parts[:-1]))
            return [D(t, ACCESS_EXCLUSIVE, "DROP " + remove[7:], EXPLICIT_LOCKING) for t in tables if t[1]]
        return []  # DROP TYPE / SEQUENCE / FUNCTION / SCHEMA ...: no lock on a table of its own
    if kind == "AlterTableStmt":
        objtype = getattr(stmt.objtype, "name", str(stmt.objtype))
        if objtype == "OBJECT_INDEX":
            return None  # ALTER INDEX: locks the index, not modelled here
        table = _rangevar(stmt.relation)
        out: List[DocumentedLock] = []
        strongest, what = 0, ""
        for cmd in stmt.cmds or ():
            mode, description, referenced = _alter_table_subcommand(cmd, enums)
            if strength(mode) > strongest:
                strongest, what = strength(mode), description
            out.extend(D(r, SHARE_ROW_EXCLUSIVE, f"ALTER TABLE ... {description} (referenced table)", _DOCS + "sql-altertable.html") for r in referenced if r[1])
        if strongest:
            out.insert(0, D(table, MODES[strongest - 1], f"ALTER TABLE ... {what}", _DOCS + "sql-altertable.html#SQL-ALTERTABLE-NOTES"))
        return out
    if kind == "RenameStmt":
        rename = getattr(stmt.renameType, "name", str(stmt.renameType))
        if rename in ("OBJECT_TABLE", "OBJECT_COLUMN", "OBJECT_TABCONSTRAINT", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_FOREIGN_TABLE"):
            return [D(_rangevar(stmt.relation), ACCESS_EXCLUSIVE, "ALTER TABLE ... RENAME", _DOCS + "sql-altertable.html")]
        if rename == "OBJECT_INDEX":
            return []  # SHARE UPDATE EXCLUSIVE on the index only (sql-alterindex.html)
        return None
    if kind == "ReindexStmt":
        # sql-reindex.html: REINDEX "locks out writes but not reads of the index's parent table"
        # (and takes ACCESS EXCLUSIVE on the index); CONCURRENTLY: SHARE UPDATE EXCLUSIVE.
        concurrent = any(getattr(p, "defname", "") == "concurrently" for p in getattr(stmt, "params", None) or ())
        target = getattr(stmt.kind, "name", str(stmt.kind))
        mode = SHARE_UPDATE_EXCLUSIVE if concurrent else SHARE
        label = "REINDEX CONCURRENTLY" if concurrent else "REINDEX"
        if target == "REINDEX_OBJECT_INDEX":
            return [D(_rangevar(stmt.relation), mode, label, _DOCS + "sql-reindex.html", True)]
        if target == "REINDEX_OBJECT_TABLE":
            return [D(_rangevar(stmt.relation), mode, label, _DOCS + "sql-reindex.html")]
        return None  # SCHEMA / DATABASE / SYSTEM: every table, not listed here
    if kind == "VacuumStmt":
        options = {getattr(o, "defname", "") for o in getattr(stmt, "options", None) or ()}
        full = stmt.is_vacuumcmd and "full" in options
        # sql-vacuum.html / Explicit Locking: VACUUM and ANALYZE take SHARE UPDATE EXCLUSIVE,
        # VACUUM FULL takes ACCESS EXCLUSIVE (it rewrites the table).
        mode = ACCESS_EXCLUSIVE if full else SHARE_UPDATE_EXCLUSIVE
        label = "VACUUM FULL" if full else ("VACUUM" if stmt.is_vacuumcmd else "ANALYZE")
        rels = [_rangevar(getattr(r, "relation", None)) for r in getattr(stmt, "rels", None) or ()]
        return [D(r, mode, label, _DOCS + ("sql-vacuum.html" if stmt.is_vacuumcmd else "sql-analyze.html")) for r in rels if r[1]] if rels else None
    if kind == "ClusterStmt":
        if stmt.relation is None:
            return None
        return [D(_rangevar(stmt.relation), ACCESS_EXCLUSIVE, "CLUSTER", _DOCS + "sql-cluster.html")]
    if kind == "CreateTrigStmt":
        # Explicit Locking: SHARE ROW EXCLUSIVE "acquired by CREATE TRIGGER and some forms of ALTER TABLE"
        return [D(_rangevar(stmt.relation), SHARE_ROW_EXCLUSIVE, "CREATE TRIGGER", _DOCS + "sql-createtrigger.html")]
    if kind == "RefreshMatViewStmt":
        # sql-refreshmaterializedview.html; Explicit Locking: EXCLUSIVE for CONCURRENTLY,
        # ACCESS EXCLUSIVE without.
        if stmt.concurrent:
            return [D(_rangevar(stmt.relation), EXCLUSIVE, "REFRESH MATERIALIZED VIEW CONCURRENTLY", _DOCS + "sql-refreshmaterializedview.html")]
        return [D(_rangevar(stmt.relation), ACCESS_EXCLUSIVE, "REFRESH MATERIALIZED VIEW", _DOCS + "sql-refreshmaterializedview.html")]
    if kind == "TruncateStmt":
        return [D(_rangevar(r), ACCESS_EXCLUSIVE, "TRUNCATE", _DOCS + "sql-truncate.html") for r in stmt.relations or ()]
    if kind == "LockStmt":
        mode = mode_name(stmt.mode) or ACCESS_EXCLUSIVE  # sql-lock.html: default ACCESS EXCLUSIVE
        return [D(_rangevar(r), mode, f"LOCK TABLE IN {mode} MODE", _DOCS + "sql-lock.html") for r in stmt.relations or ()]
    if kind == "CreateStmt":
        out = []
        if getattr(stmt, "partbound", None) is not None:
            # sql-createtable.html, PARTITION OF: an ACCESS EXCLUSIVE lock on the parent
            out.extend(D(_rangevar(p), ACCESS_EXCLUSIVE, "CREATE TABLE ... PARTITION OF (parent)", _DOCS + "sql-createtable.html") for p in stmt.inhRelations or ())
        for element in stmt.tableElts or ():
            if type(element).__name__ == "ColumnDef":
                refs = _column_references(element, enums)
            elif getattr(element, "contype", None) == enums.ConstrType.CONSTR_FOREIGN:
                refs = [_rangevar(element.pktable)]
            else:
                refs = []
            # a new table's foreign key adds triggers to the referenced table: SHARE ROW EXCLUSIVE
            out.extend(D(r, SHARE_ROW_EXCLUSIVE, "CREATE TABLE ... REFERENCES (referenced table)", _DOCS + "sql-altertable.html") for r in refs if r[1])
        return out
    if kind in ("InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"):
        verb = kind[:-4].upper()
        return [D(_rangevar(stmt.relation), ROW_EXCLUSIVE, verb, EXPLICIT_LOCKING)]
    if kind == "CommentStmt":
        objtype = getattr(stmt.objtype, "name", str(stmt.objtype))
        if objtype in ("OBJECT_TABLE", "OBJECT_COLUMN", "OBJECT_VIEW", "OBJECT_MATVIEW"):
            parts = list(stmt.object) if isinstance(stmt.object, (tuple, list)) else [stmt.object]
            table = _names(parts[:-1] if objtype == "OBJECT_COLUMN" else parts)
            return [D(table, SHARE_UPDATE_EXCLUSIVE, "COMMENT ON", EXPLICIT_LOCKING)] if table[1] else []
        return []
    if kind == "CreateStatsStmt":
        return [D(_rangevar(getattr(r, "relation", r)), SHARE_UPDATE_EXCLUSIVE, "CREATE STATISTICS", EXPLICIT_LOCKING) for r in stmt.relations or () if type(r).__name__ == "RangeVar"]
    if kind in _NO_TABLE_LOCK:
        return []
    return None


# Statement kinds that take no lock on an existing table beyond ACCESS SHARE (reading it) or
# none at all: creating types, sequences, functions, schemas, settings, plain views, SELECT.
_NO_TABLE_LOCK = {
    "CreateEnumStmt", "AlterEnumStmt", "CreateSeqStmt", "AlterSeqStmt", "VariableSetStmt",
    "VariableShowStmt", "CreateSchemaStmt", "CreateFunctionStmt", "CreateExtensionStmt",
    "CreateDomainStmt", "DefineStmt", "CompositeTypeStmt", "GrantStmt", "GrantRoleStmt",
    "TransactionStmt", "SelectStmt", "ViewStmt", "CreateTableAsStmt", "AlterDefaultPrivilegesStmt",
    "CreateRoleStmt", "AlterRoleStmt", "DropRoleStmt", "AlterOwnerStmt", "AlterObjectSchemaStmt",
    "AlterFunctionStmt", "CreateCastStmt", "NotifyStmt", "ListenStmt",
}


def documented_locks(sql: str) -> Optional[List[DocumentedLock]]:
    """The table locks PostgreSQL documents for ``sql`` (one or more statements).

    Returns [] when the statements take no lock worth naming on an existing table (CREATE TABLE
    without foreign keys, CREATE TYPE, SET, SELECT...), and None when the SQL cannot be parsed or
    holds a statement whose locks are not in the table (DO blocks, ALTER INDEX, REINDEX SCHEMA...).
    Names are as written; the index-named entries have ``via_index`` set.
    """
    try:
        from pglast import enums, parse_sql

        statements = parse_sql(sql)
    except Exception:  # pglast.parser.ParseError and a few others on odd input
        return None
    out: List[DocumentedLock] = []
    for raw in statements or ():
        try:
            found = _statement_locks(raw.stmt, enums)
        except Exception:
            found = None
        if found is None:
            return None
        out.extend(found)
    return out


# --- model operation kinds (migration_lint.model) -> documented mode ----------------------------

_KIND_MODES = {
    "create_table": None,  # nothing on an existing table (a foreign key: see documented_mode)
    "drop_table": ACCESS_EXCLUSIVE,
    "rename_table": ACCESS_EXCLUSIVE,
    "truncate_table": ACCESS_EXCLUSIVE,
    "add_column": ACCESS_EXCLUSIVE,
    "drop_column": ACCESS_EXCLUSIVE,
    "rename_column": ACCESS_EXCLUSIVE,
    "alter_column_type": ACCESS_EXCLUSIVE,
    "set_not_null": ACCESS_EXCLUSIVE,
    "drop_not_null": ACCESS_EXCLUSIVE,
    "set_default": ACCESS_EXCLUSIVE,
    "drop_default": ACCESS_EXCLUSIVE,
    "create_index": SHARE,
    "drop_index": ACCESS_EXCLUSIVE,
    "create_foreign_key": SHARE_ROW_EXCLUSIVE,
    "create_unique_constraint": ACCESS_EXCLUSIVE,
    "create_check_constraint": ACCESS_EXCLUSIVE,
    "create_primary_key": ACCESS_EXCLUSIVE,
    "create_exclude_constraint": ACCESS_EXCLUSIVE,
    "drop_constraint": ACCESS_EXCLUSIVE,
    "validate_constraint": SHARE_UPDATE_EXCLUSIVE,
    "create_type": None,
    "drop_type": None,
    "alter_type": None,
    "create_sequence": None,
    "drop_sequence": None,
    "create_view": None,
    "drop_view": ACCESS_EXCLUSIVE,
    "update_rows": ROW_EXCLUSIVE,
    "delete_rows": ROW_EXCLUSIVE,
    "insert_rows": ROW_EXCLUSIVE,
    "set_timeout": None,
    "raise": None,
}
_UNKNOWN = object()


def documented_mode(kind: str, **attrs: Any) -> Optional[str]:
    """The strongest lock an operation of ``kind`` (a ``migration_lint.model`` kind such as
    'create_index') takes on an existing table: a mode name, or None when it takes none worth
    naming.  ``concurrently=True`` lowers create_index / drop_index to SHARE UPDATE EXCLUSIVE;
    ``foreign_key=True`` (add_column / create_table with a REFERENCES) means SHARE ROW EXCLUSIVE
    on the referenced table.  Raises KeyError for kinds it does not know (raw_sql, other_sql)."""
    if kind not in _KIND_MODES:
        raise KeyError(kind)
    mode = _KIND_MODES[kind]
    if kind in ("create_index", "drop_index") and attrs.get("concurrently"):
        return SHARE_UPDATE_EXCLUSIVE
    if attrs.get("foreign_key") and strength(mode or "") < strength(SHARE_ROW_EXCLUSIVE):
        return SHARE_ROW_EXCLUSIVE
    return mode


def is_strong(what: Any, **attrs: Any) -> Optional[bool]:
    """Does the statement described by ``what`` take a lock that blocks writes or more (SHARE or
    stronger) on a table that existed before it?  ``what`` may be

    * a lock mode ('SHARE', 'AccessExclusiveLock', 8);
    * a ``migration_lint.model`` kind ('create_index'), with its attrs as keywords
      (``concurrently=True``...);
    * an object with ``kind``/``attrs``/``sql`` (a ``model.Operation``): its SQL when it came from
      SQL, else its kind and attrs (a column's or table's foreign key counts);
    * SQL text.

    Returns None when it cannot say (unparseable or unmodelled SQL, unknown kind).  Whether the
    table is new is the caller's business: a lock on a table created in the same revision
    blocks nobody.
    """
    if hasattr(what, "kind"):
        return _operation_is_strong(what)
    if isinstance(what, int) or (isinstance(what, str) and mode_name(what)):
        return mode_is_strong(mode_name(what) or "")
    if not isinstance(what, str):
        return None
    if what in _KIND_MODES:
        mode = documented_mode(what, **attrs)
        return mode_is_strong(mode) if mode else False
    locks = documented_locks(what)
    if locks is None:
        return None
    return any(mode_is_strong(lock.mode) for lock in locks)


def _operation_is_strong(op: Any) -> Optional[bool]:
    sql = getattr(op, "sql", None)
    if getattr(op, "source", "op") == "sql" and sql:
        return is_strong(sql)
    kind = op.kind
    if kind not in _KIND_MODES:
        return is_strong(sql) if sql else None
    attrs = dict(getattr(op, "attrs", None) or {})
    column = getattr(op, "column", None)
    columns = list(getattr(op, "table_columns", None) or ())
    if (column is not None and getattr(column, "foreign_key", None)) or any(getattr(c, "foreign_key", None) for c in columns):
        attrs["foreign_key"] = True
    mode = documented_mode(kind, **attrs)
    return mode_is_strong(mode) if mode else False
