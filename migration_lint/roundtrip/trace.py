"""The lock and rewrite trace: what each statement of a migration really locks on PostgreSQL.

While a :class:`Tracer` is entered, listeners on the ``sqlalchemy.engine.Engine`` class see every
statement of every engine -- the round trip's and any engine env.py creates itself.  Between
``begin(revision, path)`` and ``end()``, each statement issued from the revision file is recorded
with

* its place: the innermost stack frame in the revision file (so a statement built by a helper
  module is recorded at the line of the revision that called the helper); when that frame is a
  helper function of the revision file itself, the statement of the revision that called it
  (where the static front end puts the helper's operations too);
* its SQL and how long it ran;
* the table locks it took: after the statement, one query of ``pg_locks`` for the backend's own
  pid, on the same connection and transaction through a raw DBAPI cursor (Alembic's state is not
  touched); inside a transaction a lock is held to the transaction's end, so what appeared since
  the last statement is what this one took.  A statement in an autocommit block
  (``CREATE INDEX CONCURRENTLY``...) releases its lock before it returns: a thread polls
  ``pg_locks`` from a second connection while it runs, and when the statement is too quick to be
  seen, the mode PostgreSQL documents for it (``locks.documented_locks``) is reported, marked
  ``inferred``;
* the tables it rewrote: ``pg_class.relfilenode`` changed since the revision started.

Locks on tables that existed when the revision started are classified by what they block
(``locks.blocks``); a table the revision created itself is nobody else's problem and is not
classified.  How long a lock is held: from the start of the statement that took it to the end of
its transaction (the connection's ``commit``/``rollback`` events), or for the statement alone in
autocommit mode.  With ``transaction_per_migration`` the transaction is the revision's; without it
is the whole run's, so what is observed up to the commit is a lower bound for production.

Statements not issued from the revision file (Alembic's version table, env.py) are **skipped**:
not recorded, no query is made for them.  Locks they took are never blamed on the revision's
statements (the next revision statement first takes note of what is already held).

Only PostgreSQL is traced; on other databases statements are recorded with their place, SQL and
time, and no locks.  The trace adds one catalog query per statement (and one snapshot of the
catalog per revision); its listeners never raise (their errors become notes) and it never queries a
failed transaction.  One thing it cannot undo: should its own catalog query fail inside the
migration's transaction (a ``statement_timeout`` set shorter than the query), PostgreSQL aborts
that transaction; the revision's notes then say so.

``locks.is_strong`` (re-exported here) says whether an operation kind, a model operation or SQL
takes a lock that blocks writes or more; :func:`check_prediction` compares a static prediction
with the trace; :meth:`RevisionTrace.findings` lists what the trace saw that deserves a finding;
:func:`markdown_timeline` renders the per-revision summaries.

Typical use (the round trip)::

    with Tracer("postgresql", {rev: path for rev, path in revision_files}) as tracer:
        tracer.begin(revision, path)
        try:
            run_the_upgrade_of(revision)
        finally:
            trace = tracer.end()
        for finding in trace.findings(): ...
"""

from __future__ import annotations

import os
import sys
import threading
import time
import weakref
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from migration_lint.roundtrip import locks as lk
from migration_lint.roundtrip.locks import blocks, documented_locks, is_strong  # noqa: F401  (the consumer's imports)

__all__ = [
    "Tracer", "RevisionTrace", "StatementTrace", "LockRecord", "TableSummary", "TraceFinding", "Verdict",
    "check_prediction", "markdown_timeline", "is_strong", "documented_locks", "blocks",
    "TRACE_STRONG_LOCK", "TRACE_TABLE_REWRITE", "PER_MIGRATION", "SINGLE", "UNKNOWN", "HOLD_MODELS",
]

TRACE_STRONG_LOCK = "trace-strong-lock"
TRACE_TABLE_REWRITE = "trace-table-rewrite"

# How long a lock is held (RevisionTrace.transaction)
PER_MIGRATION = "per-migration"  # transaction_per_migration=True (or transactional_ddl=False): a transaction per revision
SINGLE = "single"  # one transaction for the whole run (Alembic's default)
UNKNOWN = "unknown"
HOLD_MODELS = {
    PER_MIGRATION: "a transaction per revision (transaction_per_migration=True, or transactional_ddl=False): a lock is held from its statement to the commit of this revision's transaction",
    SINGLE: (
        "transaction_per_migration is off: a lock is held from its statement to the commit of the whole run's "
        "transaction, so in production every later pending revision runs while it is held; the time shown "
        "stops at the commit observed here"
    ),
    UNKNOWN: "a lock is held from its statement to the end of its transaction (how env.py groups revisions into transactions is not known)",
}

# LockRecord.released: what ended the hold
COMMIT, ROLLBACK, STATEMENT, SAVEPOINT, OPEN = "commit", "rollback", "statement", "savepoint", "open"

_TABLE_KINDS = ("r", "p", "m", "f", "v")  # relkinds reported as tables (partitioned, matviews, foreign tables, views)
_FILE_KINDS = ("r", "m", "i")  # relkinds whose relfilenode tells a rewrite

PathLike = Union[str, "os.PathLike[str]"]


# --- results ---------------------------------------------------------------------------------


@dataclass
class LockRecord:
    """One table lock a statement took.

    ``blocks`` is ``locks.blocks(mode)`` -- 'reads and writes', 'writes' or 'nothing' -- for a
    table that existed when the revision started, and None for a table created by the revision
    (not classified).  ``inferred``: not observed, the mode PostgreSQL documents for the statement
    (an autocommit statement too quick to be seen).  ``held_ms``: from the start of the statement
    to ``released`` ('commit', 'rollback', 'statement' in autocommit mode, 'savepoint' when a
    savepoint rollback let it go, 'open' when it was still held as the revision's trace ended --
    then ``held_ms`` is the time so far, and is updated if the tracer later sees the commit).
    ``table`` is the name the table had when the revision started; ``renamed`` the name it had
    when the lock was taken, if the revision renamed it before."""

    table: str
    mode: str
    blocks: Optional[str]
    inferred: bool = False
    held_ms: float = 0.0
    released: str = OPEN
    renamed: Optional[str] = None  # its name when the lock was taken, if the revision renamed it

    @property
    def strong(self) -> bool:
        """Blocks writes or more on a table that existed before the revision."""
        return self.blocks in (lk.BLOCKS_WRITES, lk.BLOCKS_READS_AND_WRITES)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["held_ms"] = round(self.held_ms, 1)
        return out


@dataclass
class StatementTrace:
    """One statement a revision issued: where (``path``, ``line``: the innermost frame in the
    revision file), what (``sql``), how long (``ms``), the table locks it took, the pre-existing
    tables it rewrote (relfilenode changed; TRUNCATE, which also gets a new file, is not counted)
    and the indexes rebuilt without their table being rewritten.  ``error``: the first line of the
    database's error when the statement failed (its locks are then unknown).  ``transaction``
    numbers the database transaction it ran in (statements with the same number shared it, so
    a lock an earlier one took was held while this one ran; each autocommit statement is its own).
    """

    path: str
    line: int
    sql: str
    ms: float = 0.0
    locks: List[LockRecord] = field(default_factory=list)
    rewrites: List[str] = field(default_factory=list)
    reindexed: List[str] = field(default_factory=list)
    autocommit: bool = False
    error: Optional[str] = None
    transaction: int = 0

    @property
    def strongest(self) -> Optional[LockRecord]:
        """The strongest lock on a table that existed before the revision (None: none)."""
        return _strongest(self.locks)

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "line": self.line,
            "sql": self.sql,
            "ms": round(self.ms, 1),
            "locks": [lock.to_dict() for lock in self.locks],
            "rewrites": list(self.rewrites),
            "reindexed": list(self.reindexed),
            "autocommit": self.autocommit,
            "error": self.error,
            "transaction": self.transaction,
        }


@dataclass
class TableSummary:
    """A row of the lock timeline: the strongest lock a revision took on a pre-existing table."""

    table: str
    mode: str
    blocks: str
    held_ms: float
    line: int
    released: str
    inferred: bool = False
    rewritten: bool = False

    def to_dict(self) -> dict:
        out = asdict(self)
        out["held_ms"] = round(self.held_ms, 1)
        return out


@dataclass
class TraceFinding:
    """Something the trace saw that deserves a finding (``rule``: TRACE_STRONG_LOCK or
    TRACE_TABLE_REWRITE); the caller drops those a static rule already predicted."""

    rule: str
    revision: str
    path: str
    line: int
    table: str
    mode: str
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Verdict:
    """What the trace says about a static prediction: ``status`` is 'confirmed', 'not-observed'
    or 'not-run' (no statement came from those lines); ``text`` says it for a report, e.g.
    'confirmed by trace: SHARE on public.post (blocks writes), held 12 ms until commit' or
    'not observed (observed SHARE UPDATE EXCLUSIVE on public.post instead)'."""

    status: str
    text: str
    mode: Optional[str] = None  # the strongest mode observed there, if any


@dataclass
class RevisionTrace:
    """Everything traced for one revision's upgrade."""

    revision: str
    path: str
    transaction: str = UNKNOWN  # PER_MIGRATION | SINGLE | UNKNOWN: which hold model applies
    statements: List[StatementTrace] = field(default_factory=list)
    skipped: int = 0  # statements outside the revision file (Alembic, env.py): not recorded
    ms: float = 0.0
    notes: List[str] = field(default_factory=list)

    @property
    def hold_model(self) -> str:
        return HOLD_MODELS.get(self.transaction, HOLD_MODELS[UNKNOWN])

    def at_lines(self, first: int, last: Optional[int] = None) -> List[StatementTrace]:
        """The statements issued from lines first..last (a multi-line call: its start and end)."""
        last = first if last is None or last < first else last
        return [s for s in self.statements if first <= s.line <= last]

    def held_during(self, statement: StatementTrace) -> List[Tuple[StatementTrace, LockRecord]]:
        """The locks the transaction held while ``statement`` ran: its own and those earlier
        statements of the same transaction took (a statement that needs a lock already held takes
        nothing new, yet runs under it).  Pairs of (statement that took it, lock)."""
        out = []
        for other in self.statements:
            if other is statement:
                out.extend((other, lock) for lock in other.locks)
                break
            if other.transaction == statement.transaction and not other.autocommit:
                out.extend((other, lock) for lock in other.locks if lock.released != SAVEPOINT)
        return out

    def summary(self) -> List[TableSummary]:
        """Per pre-existing table, the strongest lock the revision took (ties: the first), the
        line and hold of that lock, and whether any statement rewrote the table."""
        rows: Dict[str, TableSummary] = {}
        rewritten = {table for s in self.statements for table in s.rewrites}
        for statement in self.statements:
            for lock in statement.locks:
                if lock.blocks is None:
                    continue
                row = rows.get(lock.table)
                if row is None or lk.strength(lock.mode) > lk.strength(row.mode):
                    rows[lock.table] = TableSummary(lock.table, lock.mode, lock.blocks, lock.held_ms, statement.line, lock.released, lock.inferred, lock.table in rewritten)
        for statement in self.statements:  # a rewrite is seen even if its lock was held before
            for table in statement.rewrites:
                if table not in rows:
                    rows[table] = TableSummary(table, "", "", 0.0, statement.line, "", False, True)
        return sorted(rows.values(), key=lambda r: (r.line, r.table))

    def findings(self) -> List[TraceFinding]:
        """A finding per (line, table) for each lock that blocks writes or more on a pre-existing
        table (TRACE_STRONG_LOCK) -- unless the transaction already held one that blocks as much
        -- and each rewrite (TRACE_TABLE_REWRITE)."""
        out: List[TraceFinding] = []
        seen = set()
        for statement in self.statements:
            # a lock taken while the transaction already holds one that blocks as much adds nothing
            covered = {}
            for other, lock in self.held_during(statement):
                if other is not statement and lock.blocks is not None:
                    covered[lock.table] = max(covered.get(lock.table, 0), _BLOCKS_RANK[lock.blocks])
            for lock in sorted(statement.locks, key=lambda l: -lk.strength(l.mode)):
                key = (TRACE_STRONG_LOCK, statement.line, lock.table)
                if not lock.strong or key in seen or covered.get(lock.table, -1) >= _BLOCKS_RANK[lock.blocks]:
                    continue
                seen.add(key)
                how = "documented for this statement, too quick to be observed" if lock.inferred else "observed"
                out.append(TraceFinding(
                    TRACE_STRONG_LOCK, self.revision, statement.path, statement.line, lock.table, lock.mode,
                    f"`{_head(statement.sql)}` takes {lock.mode} on {lock.renamed or lock.table} ({how}): it blocks {lock.blocks} "
                    f"{_held_text(lock, self.transaction)}",
                ))
            for table in statement.rewrites:
                key = (TRACE_TABLE_REWRITE, statement.line, table)
                if key in seen:
                    continue
                seen.add(key)
                mode = next((l.mode for l in statement.locks if l.table == table), lk.ACCESS_EXCLUSIVE)
                out.append(TraceFinding(
                    TRACE_TABLE_REWRITE, self.revision, statement.path, statement.line, table, mode,
                    f"`{_head(statement.sql)}` rewrote {table} (a new relfilenode: every row copied and every index rebuilt, "
                    f"taking time in proportion to the table's size) in {statement.ms:.0f} ms here",
                ))
        return out

    def to_dict(self) -> dict:
        return {
            "revision": self.revision,
            "path": self.path,
            "transaction": self.transaction,
            "hold_model": self.hold_model,
            "ms": round(self.ms, 1),
            "skipped": self.skipped,
            "notes": list(self.notes),
            "statements": [s.to_dict() for s in self.statements],
            "summary": [row.to_dict() for row in self.summary()],
        }


_BLOCKS_RANK = {lk.BLOCKS_NOTHING: 0, lk.BLOCKS_WRITES: 1, lk.BLOCKS_READS_AND_WRITES: 2}


def _strongest(locks: Iterable[LockRecord]) -> Optional[LockRecord]:
    best = None
    for lock in locks:
        if lock.blocks is not None and (best is None or lk.strength(lock.mode) > lk.strength(best.mode)):
            best = lock
    return best


def _head(sql: str, width: int = 80) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _held_text(lock: LockRecord, transaction: str) -> str:
    ms = f"{lock.held_ms:.0f} ms"
    if lock.released == STATEMENT:
        return f"while the statement runs ({ms} here; autocommit)"
    if lock.released == OPEN:
        return f"until its transaction ends (still held when the revision ended, {ms} so far)"
    if lock.released == SAVEPOINT:
        return f"until a savepoint rollback released it ({ms})"
    if lock.released == ROLLBACK:
        return f"until its transaction rolled back ({ms})"
    if transaction == SINGLE:
        return f"until the run's single transaction commits ({ms} here; in production, until every pending revision has run)"
    if transaction == PER_MIGRATION:
        return f"until the revision's transaction commits ({ms} here)"
    return f"until its transaction commits ({ms} here)"


def _lock_on(lock: LockRecord, wanted: Optional[str]) -> bool:
    return _same_table(lock.table, wanted) or (lock.renamed is not None and _same_table(lock.renamed, wanted))


def _same_table(traced: str, wanted: Optional[str]) -> bool:
    """'public.post' is 'post', 'public.post' and '"post"'; None matches every table."""
    if not wanted:
        return True
    wanted = wanted.replace('"', "")
    return traced == wanted or ("." not in wanted and traced.rsplit(".", 1)[-1] == wanted)


def not_run_text(trace: RevisionTrace, line: int) -> str:
    """Why no statement ran from a line: the upgrade stopped at a failed statement above it, or the
    line issues none (a branch not taken, an operation that is a no-op on this database)."""
    failed = next((s for s in trace.statements if s.error), None)
    if failed is not None and failed.line < line:
        return f"not observed: the upgrade failed at line {failed.line} ({failed.error}) before this line ran"
    return "not observed (no statement ran from this line)"


def check_prediction(trace: RevisionTrace, line: int, end_line: Optional[int] = None, expect: str = "strong", table: Optional[str] = None) -> Verdict:
    """Compare a static prediction for the operation at ``line``..``end_line`` with the trace.

    ``expect``: 'strong' (a lock that blocks writes or more on a pre-existing table), 'rewrite'
    (a pre-existing table rewritten), or a lock mode ('SHARE', 'ACCESS EXCLUSIVE'...: that mode or
    a stronger one).  ``table`` (as the operation names it, 'post' or 'public.post'): only locks
    on that table count.  A lock an earlier statement of the same transaction took counts too:
    the operation ran under it.
    """
    statements = trace.at_lines(line, end_line)
    if not statements:
        return Verdict("not-run", not_run_text(trace, line))
    failed = [s for s in statements if s.error]
    if expect == "rewrite":
        renamed = {lock.table: lock.renamed for s in trace.statements for lock in s.locks if lock.renamed}
        rewritten = sorted({t for s in statements for t in s.rewrites if _same_table(t, table) or (t in renamed and _same_table(renamed[t], table))})
        if rewritten:
            return Verdict("confirmed", f"confirmed by trace: rewrote {', '.join(rewritten)}")
        if failed:
            return Verdict("not-observed", f"not observed (the statement failed: {failed[0].error})")
        return Verdict("not-observed", "not observed (no table that existed before this revision was rewritten)")
    wanted = lk.strength(expect) if lk.mode_name(expect) else lk.strength(lk.SHARE)
    held = [(s, lock) for statement in statements for s, lock in trace.held_during(statement) if lock.blocks is not None and _lock_on(lock, table)]
    taker, best = None, None
    for s, lock in held:
        if best is None or lk.strength(lock.mode) > lk.strength(best.mode):
            taker, best = s, lock
    if best is not None and lk.strength(best.mode) >= wanted:
        details = [f"blocks {best.blocks}"]
        if best.inferred:
            details.append("documented: too quick to be observed")
        if taker is not None and taker.line not in range(line, max(line, end_line or line) + 1):
            details.append(f"already taken at line {taker.line}")
        return Verdict("confirmed", f"confirmed by trace: {best.mode} on {best.renamed or best.table} ({', '.join(details)}), held {best.held_ms:.0f} ms", best.mode)
    if best is None and failed:
        return Verdict("not-observed", f"not observed (the statement failed: {failed[0].error})")
    if best is None:
        return Verdict("not-observed", "not observed (observed no lock on a table that existed before this revision instead)")
    return Verdict("not-observed", f"not observed (observed {best.mode} on {best.renamed or best.table} instead)", best.mode)


def markdown_timeline(traces: Sequence[RevisionTrace]) -> str:
    """A compact Markdown table: per revision and pre-existing table, the strongest lock, what it
    blocks, how long it was held and whether the table was rewritten.  Empty string when no
    revision locked a pre-existing table."""
    rows = []
    models = {}
    for trace in traces:
        for row in trace.summary():
            mode = (row.mode or "-") + (" (documented)" if row.inferred else "")
            held = "-" if not row.mode else f"{row.held_ms:.0f} ms" + {OPEN: " (open)", STATEMENT: " (statement)", ROLLBACK: " (rolled back)"}.get(row.released, "")
            rows.append(f"| `{trace.revision}` | {row.line} | {row.table} | {mode} | {row.blocks or '-'} | {held} | {'yes' if row.rewritten else ''} |")
            models[trace.transaction] = True
    if not rows:
        return ""
    lines = ["| revision | line | table | strongest lock | blocks | held | rewritten |", "|---|---:|---|---|---|---:|---|", *rows, ""]
    for model in models:
        lines.append(f"Held: {HOLD_MODELS.get(model, HOLD_MODELS[UNKNOWN])}.")
    return "\n".join(lines).rstrip() + "\n"


# --- catalog queries (constant text: no driver paramstyle, literals only) ----------------------

_SCHEMA_FILTER = "n.nspname <> 'pg_catalog' AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_toast%'"

# Every relation lock a backend holds, with what the relation is now (NULL when it was dropped in
# this transaction).  One query, after each statement: locks and relfilenodes together (a rewrite
# needs a lock, so a rewritten relation is always among the rows).  Kept to one join, filtered in
# Python (system schemas, relkinds): planning a larger query costs more than running it.
_LOCKS = (
    "SELECT l.relation::int8, l.mode, c.relkind::text, c.relfilenode::int8, c.relnamespace::int8, c.relname::text "
    "FROM pg_catalog.pg_locks l LEFT JOIN pg_catalog.pg_class c ON c.oid = l.relation "
    "WHERE l.locktype = 'relation' AND l.granted AND l.database <> 0 AND l.pid = {pid}"
)
_NAMESPACES = "SELECT n.oid::int8, n.nspname::text FROM pg_catalog.pg_namespace n"
# The relations that exist when a revision starts.
_SNAPSHOT = (
    "SELECT c.oid::int8, c.relkind::text, c.relfilenode::int8, n.nspname::text, c.relname::text, i.indrelid::int8 "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid "
    "WHERE c.relkind IN ('r', 'p', 'm', 'f', 'v', 'i') AND " + _SCHEMA_FILTER
)
_FILENODES = "SELECT c.oid::int8, c.relfilenode::int8 FROM pg_catalog.pg_class c WHERE c.oid = ANY('{{{oids}}}'::oid[])"
# Relations named in SQL, resolved with the session's search_path; an index stands for its table.
_RESOLVE = (
    "SELECT x.i, t.oid::int8, t.relkind::text, n.nspname::text, t.relname::text "
    "FROM (VALUES {values}) AS x(i, name) "
    "LEFT JOIN pg_catalog.pg_index ind ON ind.indexrelid = pg_catalog.to_regclass(x.name) "
    "LEFT JOIN pg_catalog.pg_class t ON t.oid = COALESCE(ind.indrelid, pg_catalog.to_regclass(x.name)) "
    "LEFT JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace"
)
_OWN_PID = "pg_catalog.pg_backend_pid()"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _query(dbapi_connection: Any, sql: str) -> List[tuple]:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(sql)
        return list(cursor.fetchall())
    finally:
        try:
            cursor.close()
        except Exception:
            pass


def _dbapi(connection: Any) -> Any:
    """The DBAPI connection under a SQLAlchemy Connection (1.4 and 2.x)."""
    pooled = connection.connection
    return getattr(pooled, "dbapi_connection", None) or getattr(pooled, "connection", None) or pooled


def _in_failed_transaction(dbapi_connection: Any) -> bool:
    """psycopg2 and psycopg 3 report INERROR (3) after a failed statement; others cannot tell."""
    status = getattr(getattr(dbapi_connection, "info", None), "transaction_status", None)
    try:
        return status is not None and int(status) == 3
    except (TypeError, ValueError):
        return False


def _autocommit(dbapi_connection: Any) -> bool:
    try:
        return getattr(dbapi_connection, "autocommit", False) is True
    except Exception:
        return False


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


# --- the tracer ------------------------------------------------------------------------------


@dataclass
class _Relation:
    name: str  # schema.name
    kind: str  # relkind
    table: Optional[int]  # an index's table oid


class _Revision:
    """A revision being traced."""

    def __init__(self, serial: int, trace: RevisionTrace, real_path: str):
        self.serial = serial
        self.trace = trace
        self.real_path = real_path
        self.started = time.perf_counter()
        self.relations: Optional[Dict[int, _Relation]] = None  # snapshot at the revision's start
        self.namespaces: Dict[int, Optional[str]] = {}  # schema oid -> name (None: a system schema)
        self.filenodes: Dict[int, int] = {}  # current relfilenode of the pre-existing relations
        self.watch_pool = None  # pool of the second connection, for autocommit statements
        self.watch_connection = None


class _Pending:
    __slots__ = ("revision", "path", "line", "sql", "autocommit", "t0", "watcher", "expected", "transaction")

    def __init__(self, revision: _Revision, path: str, line: int, sql: str, autocommit: bool):
        self.revision, self.path, self.line, self.sql, self.autocommit = revision, path, line, sql, autocommit
        self.t0 = 0.0
        self.watcher: Optional[_Watcher] = None
        self.expected: List[Tuple[int, str, str]] = []  # (oid, mode, name) documented for an autocommit statement


class _Connection:
    """What the tracer knows about one DBAPI connection."""

    def __init__(self, postgresql: bool):
        self.postgresql = postgresql
        self.pid: Optional[int] = None
        self.serial = -1  # the revision whose statements it last ran
        # (oid, mode) -> (record or None, when it was taken); None: a lock not taken by a traced
        # statement (held before the revision's first statement, or by a skipped statement)
        self.held: Dict[Tuple[int, str], Tuple[Optional[LockRecord], float]] = {}
        self.aborted = False
        self.dirty = False  # a skipped statement ran since the last look at pg_locks
        self.broken = False  # the trace's own query failed in this transaction: no more until it ends
        self.pending: Optional[_Pending] = None
        self.transaction = 0  # StatementTrace.transaction of its current transaction (0: none yet)


class _Watcher:
    """Polls pg_locks for one backend from a second connection while an autocommit statement runs."""

    def __init__(self, dbapi_connection: Any, pid: int):
        self.connection = dbapi_connection
        self.query = _LOCKS.format(pid=int(pid))
        self.seen: Dict[Tuple[int, str], tuple] = {}
        self.error: Optional[str] = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="migration-lint-lock-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        delay = 0.0005
        try:
            cursor = self.connection.cursor()
            while True:
                cursor.execute(self.query)
                for row in cursor.fetchall():
                    self.seen.setdefault((int(row[0]), row[1]), row)
                if self._stop.wait(delay):
                    break
                delay = min(delay * 1.5, 0.05)  # dense at first, then no more than 20 polls a second
            cursor.close()
        except Exception as exc:  # the statement's own trace goes on: the lock is inferred instead
            self.error = _first_line(exc)

    def stop(self) -> Dict[Tuple[int, str], tuple]:
        self._stop.set()
        self._thread.join(timeout=10)
        return dict(self.seen)


class _ConnectionStates:
    """DBAPI connection -> _Connection, without keeping connections alive."""

    def __init__(self) -> None:
        self._weak: "weakref.WeakKeyDictionary[Any, _Connection]" = weakref.WeakKeyDictionary()
        self._by_id: Dict[int, _Connection] = {}

    def get(self, dbapi_connection: Any) -> Optional[_Connection]:
        try:
            return self._weak.get(dbapi_connection)
        except TypeError:
            return self._by_id.get(id(dbapi_connection))

    def add(self, dbapi_connection: Any, state: _Connection) -> _Connection:
        try:
            self._weak[dbapi_connection] = state
        except TypeError:
            self._by_id[id(dbapi_connection)] = state
        return state

    def values(self) -> List[_Connection]:
        return list(self._weak.values()) + list(self._by_id.values())

    def clear(self) -> None:
        self._weak = weakref.WeakKeyDictionary()
        self._by_id.clear()


class Tracer:
    """Trace the locks and rewrites of revisions' upgrades (a context manager).

    ``dialect``: the database's dialect name; anything but 'postgresql' records statements
    without locks.  ``revision_paths``: revision id -> revision file (or just the files); the
    files whose frames place a statement.  ``begin(revision, path)`` adds its own.
    ``auto=True``: a statement from one of ``revision_paths`` starts that revision's trace by
    itself (ending the previous one), to trace a whole ``alembic upgrade`` of several revisions
    without begin/end.  ``transaction_per_migration``: which hold model applies (None: read it
    from Alembic's migration context when the revision's first statement runs).
    ``observe_autocommit=False``: never open the second connection; autocommit statements get
    their documented locks only.

    ``results``: the RevisionTrace of every revision begun, in order (the last one may still be in
    progress).  Connections opened before the tracer is entered are seen too (the listeners are on
    the Engine class); the listeners are removed on exit.
    """

    def __init__(
        self,
        dialect: str = "postgresql",
        revision_paths: Union[Mapping[str, PathLike], Iterable[PathLike]] = (),
        *,
        auto: bool = False,
        transaction_per_migration: Optional[bool] = None,
        observe_autocommit: bool = True,
    ):
        self.dialect = dialect
        self.postgresql = dialect == "postgresql"
        self.auto = auto
        self.transaction_per_migration = transaction_per_migration
        self.observe_autocommit = observe_autocommit
        self.results: List[RevisionTrace] = []
        self._by_path: Dict[str, str] = {}  # real path -> revision id
        if isinstance(revision_paths, Mapping):
            for revision, path in revision_paths.items():
                self._by_path[os.path.realpath(os.fspath(path))] = revision
        else:
            for path in revision_paths:
                real = os.path.realpath(os.fspath(path))
                self._by_path[real] = os.path.splitext(os.path.basename(real))[0]
        self._real: Dict[str, str] = {}  # co_filename -> its real path (a cache: frames repeat)
        self._current: Optional[_Revision] = None
        self._serial = 0
        self._transactions = 0
        self._states = _ConnectionStates()
        self._listening = False
        self._lock = threading.RLock()

    # -- public API ---------------------------------------------------------------------------
    def __enter__(self) -> "Tracer":
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        for name, fn in self._listeners():
            event.listen(Engine, name, fn)
        self._listening = True
        return self

    def __exit__(self, *exc: Any) -> bool:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        try:
            self.end()
        finally:
            if self._listening:
                for name, fn in self._listeners():
                    event.remove(Engine, name, fn)
                self._listening = False
            self._states.clear()
        return False

    def begin(self, revision: str, path: PathLike) -> None:
        """Start tracing ``revision`` (ends the one in progress).  Call it before the step runs:
        env.py, Alembic and the revision may all open connections after it."""
        with self._lock:
            self.end()
            real = os.path.realpath(os.fspath(path))
            self._by_path.setdefault(real, revision)
            self._start(revision, real)

    def end(self) -> Optional[RevisionTrace]:
        """Stop tracing the current revision and return its trace (None when none is in progress).

        Locks still held (its transaction has not ended: a run with one transaction for all
        revisions) are left 'open' with the time so far; the tracer keeps watching their
        connection, so a later commit still completes them while it is entered."""
        with self._lock:
            current = self._current
            if current is None:
                return None
            now = time.perf_counter()
            for state in self._states.values():
                if state.pending is not None and state.pending.revision is current:
                    # a statement that never returned (an interrupt): its watcher must stop
                    if state.pending.watcher is not None:
                        state.pending.watcher.stop()
                    state.pending = None
                for record, taken in state.held.values():
                    if record is not None and record.released == OPEN:
                        record.held_ms = (now - taken) * 1000
            self._close_watch_connection(current)
            current.trace.ms = (now - current.started) * 1000
            self._current = None
            return current.trace

    # -- internals: revisions -----------------------------------------------------------------
    def _start(self, revision: str, real_path: str) -> _Revision:
        self._serial += 1
        trace = RevisionTrace(revision=revision, path=real_path)
        if not self.postgresql:
            trace.notes.append(f"locks are traced on PostgreSQL only; this database is {self.dialect}")
        if self.transaction_per_migration is not None:
            trace.transaction = PER_MIGRATION if self.transaction_per_migration else SINGLE
        self._current = _Revision(self._serial, trace, real_path)
        self.results.append(trace)
        return self._current

    def _listeners(self) -> List[Tuple[str, Callable]]:
        return [
            ("before_cursor_execute", self._before),
            ("after_cursor_execute", self._after),
            ("handle_error", self._error),
            ("commit", self._commit),
            ("rollback", self._rollback),
        ]

    def _locate(self) -> Optional[Tuple[str, int]]:
        """(revision file, line) of the innermost frame in a revision file, if any; when that
        frame is a helper function of the revision file itself, the statement of the revision
        that called it (the frames above it in the same file), where the static front end puts
        the helper's operations too."""
        cache, revisions = self._real, self._by_path
        frame = sys._getframe(2)
        while frame is not None:
            name = frame.f_code.co_filename
            real = cache.get(name)
            if real is None:
                real = cache[name] = os.path.realpath(name)
            if real in revisions:
                line = frame.f_lineno
                caller = frame.f_back
                while caller is not None and caller.f_code.co_filename == name:
                    line, caller = caller.f_lineno, caller.f_back
                return real, line
            frame = frame.f_back
        return None

    # -- internals: events --------------------------------------------------------------------
    # Each listener runs inside SQLAlchemy's execution of the project's statement: none may raise
    # (an interrupt excepted), so each is a guarded wrapper around its _on_* method.
    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        try:
            self._on_before(conn, statement)
        except Exception as exc:
            self._internal_error(exc)

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        try:
            self._on_after(conn, time.perf_counter())
        except Exception as exc:
            self._internal_error(exc)

    def _error(self, context) -> None:
        try:
            self._on_error(context, time.perf_counter())
        except Exception as exc:
            self._internal_error(exc)

    def _commit(self, conn) -> None:
        try:
            self._transaction_ended(conn, COMMIT)
        except Exception as exc:
            self._internal_error(exc)

    def _rollback(self, conn) -> None:
        try:
            self._transaction_ended(conn, ROLLBACK)
        except Exception as exc:
            self._internal_error(exc)

    def _internal_error(self, exc: Exception) -> None:
        current = self._current
        if current is not None:
            current.trace.notes.append(f"the trace failed internally ({type(exc).__name__}: {_first_line(exc)}); some statements or locks may be missing")

    def _on_before(self, conn, statement) -> None:
        current = self._current
        if current is None and not self.auto:
            return
        where = self._locate()
        dbapi = _dbapi(conn)
        state = self._states.get(dbapi)
        if where is None:
            if current is not None:
                current.trace.skipped += 1
                if state is not None and state.serial == current.serial:
                    state.dirty = True  # whatever it locks is not the revision's
            return
        path, line = where
        with self._lock:
            if self.auto and (current is None or (path != current.real_path and self._by_path.get(path) != current.trace.revision)):
                self.end()
                current = self._start(self._by_path[path], path)
            if current is None:
                return
            if state is None:
                state = self._states.add(dbapi, _Connection(self.postgresql and conn.dialect.name == "postgresql"))
            pending = _Pending(current, path, line, statement, _autocommit(dbapi))
            if pending.autocommit or not state.transaction:
                self._transactions += 1
                state.transaction = 0 if pending.autocommit else self._transactions
            pending.transaction = state.transaction or self._transactions
            if state.postgresql and getattr(conn, "_allow_autobegin", True):  # not SQLAlchemy's own first-connect queries
                try:
                    self._prepare(current, state, dbapi, conn, pending)
                except Exception as exc:  # never let the trace fail the migration
                    self._broken(current, state, exc)
            state.pending = pending
            pending.t0 = time.perf_counter()

    def _on_after(self, conn, t1: float) -> None:
        state = self._states.get(_dbapi(conn))
        if state is None or state.pending is None:
            return
        with self._lock:
            pending, state.pending = state.pending, None
            state.aborted = False
            record = StatementTrace(path=pending.path, line=pending.line, sql=pending.sql, ms=(t1 - pending.t0) * 1000, autocommit=pending.autocommit, transaction=pending.transaction)
            pending.revision.trace.statements.append(record)
            if not state.postgresql:
                return
            try:
                if pending.autocommit:
                    self._finish_autocommit(pending, state, _dbapi(conn), record)
                elif not state.broken and state.serial == pending.revision.serial:
                    self._observe(pending, state, _dbapi(conn), record)
            except Exception as exc:
                self._broken(pending.revision, state, exc)

    def _on_error(self, context, t1: float) -> None:
        conn = getattr(context, "connection", None)
        if conn is None:
            return
        try:
            state = self._states.get(_dbapi(conn))
        except Exception:
            return
        if state is None or state.pending is None:
            return
        with self._lock:
            pending, state.pending = state.pending, None
            state.aborted = True
            error = _first_line(context.original_exception) if getattr(context, "original_exception", None) is not None else "failed"
            record = StatementTrace(path=pending.path, line=pending.line, sql=pending.sql, ms=(t1 - pending.t0) * 1000, autocommit=pending.autocommit, error=error, transaction=pending.transaction)
            pending.revision.trace.statements.append(record)
            if pending.watcher is not None:  # what it held while it ran is known
                try:
                    self._finish_autocommit(pending, state, _dbapi(conn), record, failed=True)
                except Exception as exc:
                    self._broken(pending.revision, state, exc)

    def _transaction_ended(self, conn, how: str) -> None:
        now = time.perf_counter()
        try:
            state = self._states.get(_dbapi(conn))
        except Exception:  # a connection already closed or invalidated
            return
        if state is None:
            return
        with self._lock:
            for record, taken in state.held.values():
                if record is not None and record.released == OPEN:
                    record.held_ms = (now - taken) * 1000
                    record.released = how
            state.held.clear()
            state.aborted = state.dirty = state.broken = False
            state.transaction = 0

    # -- internals: PostgreSQL ----------------------------------------------------------------
    def _broken(self, revision: _Revision, state: _Connection, exc: Exception) -> None:
        """The trace's own catalog query failed (a statement_timeout shorter than the query...).
        Inside a transaction PostgreSQL has then aborted it: say so, the next failure is ours."""
        state.broken = True
        revision.trace.notes.append(
            f"the trace's own catalog query failed ({_first_line(exc)}); locks are not traced until this "
            "transaction ends, and if it was inside the migration's transaction, that transaction is aborted"
        )

    def _prepare(self, current: _Revision, state: _Connection, dbapi: Any, conn: Any, pending: _Pending) -> None:
        """Before a revision statement: start the revision on this connection, take note of
        locks that skipped statements took, and set up the watch of an autocommit statement."""
        if state.aborted or state.broken or _in_failed_transaction(dbapi):
            return  # never query a failed transaction
        if state.serial != current.serial:  # the revision's first statement on this connection
            pid = int(_query(dbapi, "SELECT " + _OWN_PID)[0][0])
            if current.relations is None:
                self._snapshot(current, dbapi)
                if self.transaction_per_migration is None:
                    current.trace.transaction = _transaction_model(dbapi)
            self._absorb(state, dbapi, pending)
            state.pid, state.serial = pid, current.serial
        elif state.dirty:
            self._absorb(state, dbapi, pending)
        if pending.autocommit:
            pending.expected = self._expected(current, dbapi, pending.sql)
            if self.observe_autocommit and state.pid is not None:
                watch = self._watch_connection(current, conn)
                if watch is not None:
                    pending.watcher = _Watcher(watch, state.pid)

    def _snapshot(self, current: _Revision, dbapi: Any) -> None:
        relations: Dict[int, _Relation] = {}
        for oid, kind, filenode, schema, name, table in _query(dbapi, _SNAPSHOT):
            relations[int(oid)] = _Relation(f"{schema}.{name}", kind, int(table) if table is not None else None)
            if kind in _FILE_KINDS and filenode:
                current.filenodes[int(oid)] = int(filenode)
        current.relations = relations
        self._learn_namespaces(current, dbapi)

    @staticmethod
    def _learn_namespaces(current: _Revision, dbapi: Any) -> None:
        for oid, name in _query(dbapi, _NAMESPACES):
            system = name in ("pg_catalog", "information_schema") or name.startswith("pg_toast")
            current.namespaces[int(oid)] = None if system else name

    def _rows(self, current: _Revision, dbapi: Any, rows: Iterable[tuple]) -> List[Tuple[int, str, Optional[str], Any, str, Optional[str]]]:
        """Rows of _LOCKS on user relations of interest -> (oid, pg mode, relkind, relfilenode,
        name, name now): the name is the snapshot's for a relation that existed at the revision's
        start, and the second name the one it has now when that differs (renamed).  A relation
        dropped in this transaction (no pg_class row) is named from the snapshot."""
        relations = current.relations or {}
        out = []
        for oid, pg_mode, kind, filenode, namespace, name in rows:
            oid = int(oid)
            known = relations.get(oid)
            if kind is None:
                if known is not None:
                    out.append((oid, pg_mode, known.kind, None, known.name, None))
                continue
            if kind not in _TABLE_KINDS and kind != "i":
                continue
            namespace = int(namespace)
            if namespace not in current.namespaces and dbapi is not None:
                self._learn_namespaces(current, dbapi)  # a schema created by the revision
            schema = current.namespaces.get(namespace)
            if schema is None:
                continue
            now = f"{schema}.{name}"
            out.append((oid, pg_mode, kind, filenode, known.name if known else now, now if known and known.name != now else None))
        return out

    def _absorb(self, state: _Connection, dbapi: Any, pending: _Pending) -> None:
        """Locks held now that no traced statement took are not the revision's; locks no longer
        held were released (a savepoint rollback)."""
        rows = self._rows(pending.revision, dbapi, _query(dbapi, _LOCKS.format(pid=_OWN_PID)))
        now = {(r[0], r[1]) for r in rows}
        self._release_missing(state, now, time.perf_counter())
        for key in now:
            if key not in state.held:
                state.held[key] = (None, 0.0)
        state.dirty = False

    @staticmethod
    def _release_missing(state: _Connection, now: set, when: float) -> None:
        for key in [k for k in state.held if k not in now]:
            record, taken = state.held.pop(key)
            if record is not None and record.released == OPEN:
                record.held_ms = (when - taken) * 1000
                record.released = SAVEPOINT

    def _observe(self, pending: _Pending, state: _Connection, dbapi: Any, record: StatementTrace) -> None:
        """After a statement in a transaction: the locks that appeared are its own; a relation
        whose relfilenode changed was rewritten."""
        current = pending.revision
        relations = current.relations or {}
        rows = self._rows(current, dbapi, _query(dbapi, _LOCKS.format(pid=_OWN_PID)))
        keys = {(r[0], r[1]) for r in rows}
        self._release_missing(state, keys, pending.t0)
        truncate = pending.sql.lstrip().upper().startswith("TRUNCATE")
        for oid, pg_mode, kind, filenode, name, renamed in rows:
            key = (oid, pg_mode)
            if key not in state.held:
                lock = None
                if kind in _TABLE_KINDS:
                    mode = lk.mode_name(pg_mode) or pg_mode
                    lock = LockRecord(table=name, mode=mode, blocks=lk.blocks(mode) if oid in relations else None, renamed=renamed)
                    record.locks.append(lock)
                state.held[key] = (lock, pending.t0)
            self._check_filenode(current, oid, filenode, truncate, record)
        _drop_rebuilt_with_table(current, record)

    def _check_filenode(self, current: _Revision, oid: int, filenode: Any, truncate: bool, record: StatementTrace) -> None:
        before = current.filenodes.get(oid)
        if before is None or filenode is None or int(filenode) == before:
            return
        current.filenodes[oid] = int(filenode)
        if truncate:
            return
        relation = (current.relations or {}).get(oid)
        if relation is None:
            return
        if relation.kind == "i":
            if relation.name not in record.reindexed:
                record.reindexed.append(relation.name)
        elif relation.name not in record.rewrites:
            record.rewrites.append(relation.name)

    # -- internals: autocommit statements -----------------------------------------------------
    def _expected(self, current: _Revision, dbapi: Any, sql: str) -> List[Tuple[int, str, str]]:
        """The documented locks of an autocommit statement, resolved to tables before it runs
        (a DROP INDEX CONCURRENTLY's index is gone afterwards)."""
        documented = lk.documented_locks(sql)
        if not documented:
            return []
        values = ", ".join(
            f"({i}, {_literal((_ident(d.schema) + '.' if d.schema else '') + _ident(d.name))})" for i, d in enumerate(documented)
        )
        out = []
        for index, oid, kind, schema, name in _query(dbapi, _RESOLVE.format(values=values)):
            if oid is None or kind not in _TABLE_KINDS:
                continue
            out.append((int(oid), documented[int(index)].mode, f"{schema}.{name}"))
        return out

    def _watch_connection(self, current: _Revision, conn: Any) -> Any:
        """A second connection to the same database (the engine's own connect arguments and
        events, in a pool of its own so an exhausted pool cannot make it wait)."""
        if current.watch_connection is None:
            pool = conn.engine.pool.recreate()
            fairy = pool.connect()
            dbapi = getattr(fairy, "dbapi_connection", None) or fairy.connection
            try:
                dbapi.autocommit = True
            except Exception:
                fairy.close()
                pool.dispose()
                return None
            current.watch_pool, current.watch_connection = pool, fairy
        fairy = current.watch_connection
        return getattr(fairy, "dbapi_connection", None) or fairy.connection

    @staticmethod
    def _close_watch_connection(current: _Revision) -> None:
        if current.watch_connection is not None:
            try:
                current.watch_connection.invalidate()  # autocommit must not go back to any pool
            except Exception:
                pass
            current.watch_connection = None
        if current.watch_pool is not None:
            try:
                current.watch_pool.dispose()
            except Exception:
                pass
            current.watch_pool = None

    def _finish_autocommit(self, pending: _Pending, state: _Connection, dbapi: Any, record: StatementTrace, failed: bool = False) -> None:
        """An autocommit statement's locks were held only while it ran: what the watcher saw,
        and the documented mode of each table it did not see strongly enough."""
        current = pending.revision
        relations = current.relations or {}
        seen = pending.watcher.stop() if pending.watcher is not None else {}
        if pending.watcher is not None and pending.watcher.error:
            current.trace.notes.append(f"watching the locks of line {pending.line} failed ({pending.watcher.error}); its documented locks are reported")
        observed: Dict[int, str] = {}
        rows = self._rows(current, dbapi, seen.values())
        for oid, pg_mode, kind, _, name, renamed in sorted(rows, key=lambda row: lk.strength(row[1])):
            if kind not in _TABLE_KINDS:
                continue
            mode = lk.mode_name(pg_mode) or pg_mode
            record.locks.append(LockRecord(name, mode, lk.blocks(mode) if oid in relations else None, False, record.ms, STATEMENT, renamed))
            observed[oid] = mode if lk.strength(mode) > lk.strength(observed.get(oid, "")) else observed[oid]
        for oid, mode, name in pending.expected:
            if lk.strength(observed.get(oid, "")) >= lk.strength(mode):
                continue
            known = relations.get(oid)
            record.locks.append(LockRecord(known.name if known else name, mode, lk.blocks(mode) if known else None, True, record.ms, STATEMENT))
            observed[oid] = mode
        if failed or dbapi is None or state.broken or not current.filenodes:
            return
        oids = ",".join(str(oid) for oid in current.filenodes)
        truncate = pending.sql.lstrip().upper().startswith("TRUNCATE")
        for oid, filenode in _query(dbapi, _FILENODES.format(oids=oids)):
            self._check_filenode(current, int(oid), filenode, truncate, record)
        _drop_rebuilt_with_table(current, record)


def _drop_rebuilt_with_table(current: _Revision, record: StatementTrace) -> None:
    """Rewriting a table rebuilds its indexes: ``reindexed`` keeps only the others."""
    if not (record.reindexed and record.rewrites):
        return
    relations = current.relations or {}
    rewritten = {oid for oid, rel in relations.items() if rel.name in record.rewrites and rel.kind != "i"}
    by_name = {rel.name: rel for rel in relations.values() if rel.kind == "i"}
    record.reindexed = [name for name in record.reindexed if by_name.get(name) is None or by_name[name].table not in rewritten]


def _transaction_model(dbapi: Any) -> str:
    """PER_MIGRATION or SINGLE from the running Alembic migration context, when it is the one
    using this connection; UNKNOWN otherwise."""
    try:
        from alembic import context as alembic_context

        migration_context = alembic_context.get_context()
        bind = migration_context.connection
        if bind is None or _dbapi(bind) is not dbapi:
            return UNKNOWN
        if getattr(migration_context, "_in_external_transaction", False):
            return SINGLE  # the caller's transaction: Alembic commits nothing itself
        # transactional_ddl=False: Alembic (1.5+) begins a transaction per revision instead
        per_revision = migration_context.opts.get("transaction_per_migration") or not migration_context.impl.transactional_ddl
        return PER_MIGRATION if per_revision else SINGLE
    except Exception:  # no EnvironmentContext is running, or an Alembic without these attributes
        return UNKNOWN
