"""The one operation model.

Both front ends -- Alembic ``op.*`` / ``batch_op.*`` calls (``frontend/alembic_ops.py``) and SQL
text (``frontend/sql.py``) -- produce these normalised objects.  Rules look only at them, never at
raw syntax.  Everything here is plain data: picklable (the parse cache stores it) and free of I/O.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Optional, Tuple

# --- operation kinds -------------------------------------------------------------------------
# One name per normalised operation.  An Alembic ``alter_column`` call that changes several things
# becomes several operations at the same place, exactly as ``ALTER TABLE ... ALTER COLUMN`` clauses
# do in SQL, so rules never care which front end produced them.  KINDS below is the list rule
# files are validated against.
CREATE_TABLE = "create_table"
DROP_TABLE = "drop_table"
RENAME_TABLE = "rename_table"
TRUNCATE_TABLE = "truncate_table"
ADD_COLUMN = "add_column"
DROP_COLUMN = "drop_column"
RENAME_COLUMN = "rename_column"
ALTER_COLUMN_TYPE = "alter_column_type"
SET_NOT_NULL = "set_not_null"
DROP_NOT_NULL = "drop_not_null"
SET_DEFAULT = "set_default"
DROP_DEFAULT = "drop_default"
CREATE_INDEX = "create_index"
DROP_INDEX = "drop_index"
CREATE_FOREIGN_KEY = "create_foreign_key"
CREATE_UNIQUE_CONSTRAINT = "create_unique_constraint"
CREATE_CHECK_CONSTRAINT = "create_check_constraint"
CREATE_PRIMARY_KEY = "create_primary_key"
CREATE_EXCLUDE_CONSTRAINT = "create_exclude_constraint"
DROP_CONSTRAINT = "drop_constraint"
VALIDATE_CONSTRAINT = "validate_constraint"
CREATE_TYPE = "create_type"  # PostgreSQL enum (explicit or implied by a column's sa.Enum)
DROP_TYPE = "drop_type"
ALTER_TYPE = "alter_type"  # ALTER TYPE ... ADD VALUE / RENAME VALUE
CREATE_SEQUENCE = "create_sequence"
DROP_SEQUENCE = "drop_sequence"
CREATE_VIEW = "create_view"
DROP_VIEW = "drop_view"
UPDATE_ROWS = "update_rows"
DELETE_ROWS = "delete_rows"
INSERT_ROWS = "insert_rows"
SET_TIMEOUT = "set_timeout"  # SET lock_timeout / statement_timeout
COMMIT = "commit"  # the migration's transaction ends here (session.commit(), connection.commit(), COMMIT)
RAISE = "raise"  # the phase raises on purpose (irreversible downgrade)
RAW_SQL = "raw_sql"  # SQL we could not analyse (f-string, variable, unparseable)
OTHER_SQL = "other_sql"  # SQL we parsed but do not model (GRANT, COMMENT, functions, ...)
# keyword arguments an Alembic call takes into **kw and silently does nothing with
# (``op.alter_column(..., type=sa.Text())``: the change it was meant to make is not made)
IGNORED_ARGUMENTS = "ignored_arguments"

KINDS = (
    CREATE_TABLE, DROP_TABLE, RENAME_TABLE, TRUNCATE_TABLE, ADD_COLUMN, DROP_COLUMN, RENAME_COLUMN,
    ALTER_COLUMN_TYPE, SET_NOT_NULL, DROP_NOT_NULL, SET_DEFAULT, DROP_DEFAULT, CREATE_INDEX, DROP_INDEX,
    CREATE_FOREIGN_KEY, CREATE_UNIQUE_CONSTRAINT, CREATE_CHECK_CONSTRAINT, CREATE_PRIMARY_KEY,
    CREATE_EXCLUDE_CONSTRAINT, DROP_CONSTRAINT, VALIDATE_CONSTRAINT, CREATE_TYPE, DROP_TYPE, ALTER_TYPE,
    CREATE_SEQUENCE, DROP_SEQUENCE, CREATE_VIEW, DROP_VIEW, UPDATE_ROWS, DELETE_ROWS, INSERT_ROWS,
    SET_TIMEOUT, COMMIT, RAISE, RAW_SQL, OTHER_SQL, IGNORED_ARGUMENTS,
)

# Not an operation of ``MigrationFile.operations``: a place where a phase reads the database
# (reflection, the rows of a query, an ORM session on the migration's connection), kept apart in
# ``MigrationFile.reads``.  Such code cannot run under ``alembic upgrade --sql`` (no database).
READ = "read"

UPGRADE = "upgrade"
DOWNGRADE = "downgrade"


@dataclass(frozen=True)
class TypeSpec:
    """A column type as written: ``sa.String(length=50)`` -> name='string', length=50."""

    name: str  # lower-case, dialect prefix stripped: 'string', 'varchar', 'text', 'enum', ...
    length: Optional[int] = None
    precision: Optional[int] = None
    scale: Optional[int] = None
    enum_name: Optional[str] = None
    enum_labels: Tuple[str, ...] = ()
    create_type: bool = True  # postgresql.ENUM(create_type=False) leaves the type alone
    enum_schema: Optional[str] = None  # Enum(schema=...)
    inherit_schema: bool = False  # Enum(inherit_schema=True): the table's schema
    text: str = ""  # the source spelling, for messages

    @property
    def family(self) -> str:
        return TYPE_FAMILIES.get(self.name, self.name)


# Spellings that mean the same storage, so comparisons (widening checks) see through them.
TYPE_FAMILIES = {
    "string": "varchar",
    "varchar": "varchar",
    "character varying": "varchar",
    "unicode": "varchar",
    "nvarchar": "varchar",
    "char": "char",
    "character": "char",
    "text": "text",
    "unicodetext": "text",
    "integer": "integer",
    "int": "integer",
    "int4": "integer",
    "smallinteger": "smallint",
    "smallint": "smallint",
    "int2": "smallint",
    "biginteger": "bigint",
    "bigint": "bigint",
    "int8": "bigint",
    "numeric": "numeric",
    "decimal": "numeric",
    "float": "float",
    "double": "float",
    "double precision": "float",
    "boolean": "boolean",
    "bool": "boolean",
    "datetime": "timestamp",
    "timestamp": "timestamp",
    "date": "date",
    "json": "json",
    "jsonb": "jsonb",
    "uuid": "uuid",
    "enum": "enum",
}


@dataclass(frozen=True)
class Default:
    """A server-side default.  ``volatile`` is True for now(), random(), uuid generators..."""

    text: str
    volatile: bool = False


@dataclass(frozen=True)
class ColumnSpec:
    name: Optional[str]
    type: Optional[TypeSpec] = None
    nullable: Optional[bool] = None  # None: not said (SQLAlchemy then means NULL unless PK)
    primary_key: bool = False
    server_default: Optional[Default] = None
    python_default: bool = False  # default=... is applied by SQLAlchemy, not the database
    identity: bool = False  # Identity()/autoincrement serial: filled by the database
    foreign_key: Optional[str] = None  # sa.ForeignKey("user.id") -> "user.id"
    unique: bool = False  # unique=True: Alembic adds a UNIQUE constraint with the column
    index: bool = False  # index=True: Alembic creates an index with the column

    @property
    def not_null(self) -> bool:
        return self.nullable is False or (self.nullable is None and self.primary_key)


@dataclass
class Operation:
    kind: str
    phase: str  # 'upgrade' | 'downgrade'
    line: int
    column_offset: int = 0  # 0-based, as in the source
    end_line: int = 0
    table: Optional[str] = None
    schema: Optional[str] = None
    name: Optional[str] = None  # index / constraint / type / sequence name
    name_unknown: bool = False  # a name was given but it is an expression we cannot evaluate
    columns: Tuple[str, ...] = ()
    column: Optional[ColumnSpec] = None  # add_column
    table_columns: Tuple[ColumnSpec, ...] = ()  # create_table
    attrs: dict = field(default_factory=dict)  # literal keyword values, normalised
    # Where the call stands: 'batch', 'autocommit', 'loop', 'offline', 'online', 'helper'
    context: Tuple[str, ...] = ()
    dialects: Optional[Tuple[str, ...]] = None  # inside ``if dialect.name == ...``: runs only there
    not_dialects: Tuple[str, ...] = ()  # inside ``if dialect.name != ...``
    source: str = "op"  # 'op' | 'sql'
    sql: Optional[str] = None  # the statement, for SQL-derived operations
    call: str = ""  # 'op.create_index', 'batch_op.alter_column', 'op.execute', ...

    def runs_on(self, dialect: str) -> bool:
        if self.dialects is not None and dialect not in self.dialects:
            return False
        return dialect not in self.not_dialects

    def get(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)


@dataclass
class Suppression:
    line: int  # the line of the comment
    rules: Tuple[str, ...]
    reason: str
    file_level: bool = False
    applies_to: Tuple[int, ...] = ()  # the lines it covers (its own line and the next code line)


@dataclass
class Problem:
    """A finding a front end makes while reading a file (syntax error, bad header, raw SQL)."""

    rule: str
    line: int
    message: str
    column_offset: int = 0
    phase: Optional[str] = None


@dataclass
class MigrationFile:
    """Everything static analysis knows about one revision file."""

    path: str  # as given to the parser (engine keeps it relative to the environment)
    revision: Optional[str] = None
    down_revision: Tuple[str, ...] = ()
    down_revision_given: bool = False  # the header exists (None is a base)
    branch_labels: Tuple[str, ...] = ()
    depends_on: Tuple[str, ...] = ()
    header_lines: dict = field(default_factory=dict)  # 'revision' -> line, ...
    operations: list = field(default_factory=list)  # [Operation]
    has_upgrade: bool = False
    has_downgrade: bool = False
    upgrade_line: int = 0
    downgrade_line: int = 0
    downgrade_is_empty: bool = False  # only ``pass`` / docstring
    imports: list = field(default_factory=list)  # [(module, line, names[, benign names, ((name, its member paths), ...)])]
    suppressions: list = field(default_factory=list)  # [Suppression]
    problems: list = field(default_factory=list)  # [Problem]
    syntax_error: bool = False
    settings: dict = field(default_factory=dict)  # lock_timeout set in the file, ...
    headers_only: bool = False  # upgrade()/downgrade() not read: the revision is outside the scope
    too_large: int = 0  # the file's size when it was over the size limit: only its headers were read
    # where upgrade()/downgrade() read the database (Operation of kind READ, attrs 'what'):
    # reflection, rows of a query, an ORM session; context 'offline'/'online' says how it is guarded
    reads: list = field(default_factory=list)
    # names of the enum types the file names anywhere (Enum(..., name=...), CREATE TYPE ... AS ENUM),
    # read for every file, headers-only ones included: "could an earlier revision have made it?"
    enum_types: Tuple[str, ...] = ()
    creates_from_models: bool = False  # calls metadata.create_all(): types may come from the models
    message: str = ""  # the revision's message: its docstring up to the "Revision ID:" header
    created: str = ""  # the docstring's "Create Date:" as ISO 'YYYY-MM-DDTHH:MM' ('' when absent)
    doc_notes: str = ""  # the rest of the docstring, below Alembic's headers: the author's notes
    # comments in which the author says what an operation does to data: (the code line the comment
    # block stands above, 0 for a comment at module level; 'loss' | 'empty'; the comment's text;
    # the comment's first line)
    acknowledgements: Tuple[Tuple[int, str, str, int], ...] = ()

    def ops(self, phase: str) -> list:
        return [o for o in self.operations if o.phase == phase]


@dataclass(frozen=True)
class Finding:
    """What every source reports (rules, the revision graph, git, the round trip, the front end):
    one type.  A source fills rule, location, message and ``subject``; the engine adds severity,
    help, environment and the fingerprint once it has judged suppressions and settings."""

    rule: str
    path: str
    line: int
    message: str
    severity: str = ""
    help: str = ""
    column: int = 1  # 1-based
    end_line: int = 0
    revision: Optional[str] = None
    phase: Optional[str] = None
    environment: str = ""
    # The identity of the object concerned, e.g. ("column", "public", "user", "email"),
    # ("heads", "a1", "b2"), ("revision", "a1"): with the rule and the revision it is what a
    # fingerprint is made of.  Never message text, line numbers, addresses or timings.
    subject: Tuple[str, ...] = ()
    fingerprint: str = ""
    # With --roundtrip --trace, on a static locking finding: what the lock trace saw there,
    # 'confirmed by trace: ...' or 'not observed (...)'.  Not part of the message or fingerprint.
    trace: str = ""

    def sort_key(self):
        return (self.environment, self.path, self.line, self.column, self.rule)

    @classmethod
    def at(cls, rule: str, path: str, op: "Operation", message: str, *, revision: Optional[str] = None, phase: Optional[str] = None, subject: Tuple[str, ...] = ()) -> "Finding":
        """A finding at an operation: its line, column and last line; its object by default."""
        return cls(
            rule=rule,
            path=path,
            line=op.line,
            message=message,
            column=op.column_offset + 1,
            end_line=op.end_line,
            revision=revision,
            phase=phase or op.phase,
            subject=subject or op_subject(op),
        )


SEVERITIES = ("info", "warning", "error")  # least to most severe: the one ranking every output uses


def severity_rank(severity: str) -> int:
    """0 for info up to 2 for error; -1 for a severity this version does not know (a report
    written by another version, read back by the GitHub Action)."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def reaches(severity: str, threshold: str) -> bool:
    """Does a finding of ``severity`` count under ``--fail-on threshold``?"""
    return severity_rank(severity) >= severity_rank(threshold) >= 0


def most_severe_first(severity: str) -> int:
    """Sort key: errors, then warnings, then info, then anything unknown."""
    return len(SEVERITIES) - 1 - severity_rank(severity) if severity in SEVERITIES else len(SEVERITIES)


# Functions whose value differs per row.  PostgreSQL 11+ adds a column with a constant (or
# stable, like now()) default without rewriting the table; a volatile default still rewrites it.
VOLATILE_FUNCTIONS = frozenset(
    {
        "random",
        "gen_random_uuid",
        "uuid_generate_v1",
        "uuid_generate_v1mc",
        "uuid_generate_v4",
        "clock_timestamp",
        "timeofday",
        "nextval",
        "txid_current",
        "uuid",  # MySQL
        "rand",
    }
)


def ident(name: Optional[str]) -> Optional[str]:
    """An identifier as the database compares it here: case-folded, quotes removed."""
    return name.lower().strip('"`') if isinstance(name, str) else None


def make_default(text: str) -> Default:
    """A Default from its SQL text, deciding volatility by the functions it calls."""
    lowered = text.lower()
    volatile = any(f"{fn}(" in lowered.replace(" (", "(") for fn in VOLATILE_FUNCTIONS)
    return Default(text=text, volatile=volatile)


# Conventions for Operation.attrs, shared by both front ends (rules rely on them):
#   create_index     unique, concurrently, if_not_exists, where
#   drop_index       concurrently, if_exists
#   add_column       (column=ColumnSpec)
#   alter_column_type  type (TypeSpec), existing_type (TypeSpec|None), using
#   set_default      default (Default)
#   rename_column    columns=(old,), new_name ; rename_table: new_name
#   create_foreign_key  ref_table, ref_columns, not_valid
#   create_unique_constraint / create_primary_key  using_index
#   create_check_constraint  condition, not_valid
#   drop_constraint  type ('foreignkey'|'unique'|'check'|'primary'|None)
#   create_type      labels, implicit (True when implied by a column's Enum)
#   drop_type        if_exists ; alter_type: action
#   update_rows / delete_rows / insert_rows   has_where
#   set_timeout      setting ('lock_timeout'|'statement_timeout'), value, local
#   raw_sql          reason ; other_sql: statement


LIST_LIMIT = 20  # items a message lists before "and N more"


def listing(items, limit: int = LIST_LIMIT, separator: str = ", ") -> str:
    """Items for a message, the first ``limit`` of them: output stays linear in findings."""
    items = [str(item) for item in items]
    if len(items) <= limit:
        return separator.join(items)
    return separator.join(items[:limit]) + f"{separator}and {len(items) - limit} more"


def count_of(number: int, word: str, plural: str = "") -> str:
    """'1 revision', '2 revisions' (never '1 revisions' or 'revision(s)')."""
    return f"{number} {word if number == 1 else (plural or word + 's')}"


# -- identity and fingerprints ------------------------------------------------------------------

_TABLE_KINDS = frozenset({CREATE_TABLE, DROP_TABLE, RENAME_TABLE, TRUNCATE_TABLE, UPDATE_ROWS, DELETE_ROWS, INSERT_ROWS})
_COLUMN_KINDS = frozenset({ADD_COLUMN, DROP_COLUMN, RENAME_COLUMN, ALTER_COLUMN_TYPE, SET_NOT_NULL, DROP_NOT_NULL, SET_DEFAULT, DROP_DEFAULT})
_CONSTRAINT_KINDS = frozenset({CREATE_FOREIGN_KEY, CREATE_UNIQUE_CONSTRAINT, CREATE_CHECK_CONSTRAINT, CREATE_PRIMARY_KEY, CREATE_EXCLUDE_CONSTRAINT, DROP_CONSTRAINT, VALIDATE_CONSTRAINT})
_NAMED_KINDS = {CREATE_TYPE: "type", DROP_TYPE: "type", ALTER_TYPE: "type", CREATE_SEQUENCE: "sequence", DROP_SEQUENCE: "sequence", CREATE_VIEW: "view", DROP_VIEW: "view"}


def op_subject(op: "Operation") -> Tuple[str, ...]:
    """The object an operation concerns, as identity: kind of object, schema, names.  The schema is
    the one written (``schema=`` or a qualified name), "" when unqualified: unqualified names
    all belong to the history's one default schema, so a finding keeps its identity whether or
    not that default is spelt out."""
    schema = ident(op.schema) or ""
    table = ident(op.table) or ""
    if op.kind in _COLUMN_KINDS:
        column = op.column.name if op.column is not None and op.column.name else (op.columns[0] if op.columns else "")
        return ("column", schema, table, ident(column) or "")
    if op.kind in _TABLE_KINDS:
        return ("table", schema, table)
    if op.kind in (CREATE_INDEX, DROP_INDEX):
        return ("index", schema, ident(op.name) or "", table, *(ident(c) or "" for c in op.columns))
    if op.kind in _CONSTRAINT_KINDS:
        return ("constraint", schema, table, ident(op.name) or "", op.kind, *(ident(c) or "" for c in op.columns))
    if op.kind in _NAMED_KINDS:
        return (_NAMED_KINDS[op.kind], schema, ident(op.name) or "")
    if op.kind == SET_TIMEOUT:
        return ("setting", str(op.get("setting") or ""))
    return (op.kind,)


def fingerprint(rule: str, revision: Optional[str], path: str, subject: Tuple[str, ...], occurrence: int = 0) -> str:
    """A finding's stable identity: rule, revision (the file only when it names no revision) and
    the object concerned.  Survives line shifts, renamed files and reworded messages."""
    where = revision or "path:" + path.replace("\\", "/")
    key = "\0".join((rule, where, *subject, str(occurrence)))
    # surrogateescape: a file name that is not UTF-8 reaches Python as lone surrogates
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def with_fingerprints(findings) -> list:
    """The findings with their fingerprints; findings of one rule on one object in one revision
    are numbered in line order, so that each keeps its own."""
    seen: dict = {}
    result = []
    for finding in sorted(findings, key=lambda f: (f.line, f.column)):
        base = (finding.rule, finding.revision, finding.path if not finding.revision else "", finding.subject)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.append((finding, fingerprint(finding.rule, finding.revision, finding.path, finding.subject, count)))
    order = {id(f): i for i, f in enumerate(findings)}
    result.sort(key=lambda pair: order[id(pair[0])])
    return [dataclasses.replace(f, fingerprint=fp) for f, fp in result]


def legacy_fingerprint(finding: Finding, occurrence: int = 0) -> str:
    """The fingerprint of baseline format 1 (rule, path, revision, phase and message): kept only to
    read baselines written before format 2."""
    message = re.sub(r"\bline \d+\b", "line N", finding.message)
    key = "\0".join((finding.rule, finding.path.replace("\\", "/"), finding.revision or "", finding.phase or "", message, str(occurrence)))
    # surrogateescape: a file name that is not UTF-8 reaches Python as lone surrogates, which strict
    # UTF-8 refuses; this gives it its original bytes (and valid UTF-8 text the same key as before).
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def legacy_fingerprints(findings) -> list:
    seen: dict = {}
    result = []
    for finding in findings:
        base = legacy_fingerprint(finding)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.append(base if count == 0 else legacy_fingerprint(finding, count))
    return result


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def source_lines(text: str) -> list:
    """Lines as Python numbers them, with their endings (str.splitlines also breaks at form feeds)."""
    return _LINE.findall(text)
