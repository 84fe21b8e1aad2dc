"""The lock trace's part of a check (``--roundtrip --trace``): what ``trace.py`` recorded during
each revision's first upgrade, turned into findings, verdicts on the static locking findings, and
plain data for the reports.

* :func:`trace_findings` -- ``trace-strong-lock`` / ``trace-table-rewrite`` findings from the
  traces (``plan.round_trip`` adds them to the round trip's findings);
* :func:`judge` -- after the lint: each static locking finding (a rule with ``effect: lock``) of
  a traced revision gets a ``trace`` verdict, ``confirmed by trace: ...`` or ``not observed
  (...)``; a trace finding on a line a static locking rule already reported (or a suppression of
  one covers) is dropped, its news is in that finding's verdict, and so is a ``trace-strong-lock``
  where the static model knew the operation takes such a lock (:func:`predicted_strong`: no rule
  flags it on purpose).  Messages and fingerprints are not changed by a verdict;
* :func:`report_section` -- the JSON report's per-revision trace.

Pure: no I/O, no database.  The traces are ``trace.RevisionTrace`` objects, plain data once ended.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from migration_lint import model as m
from migration_lint.model import Finding
from migration_lint.rule_ids import TRACE_STRONG_LOCK, TRACE_TABLE_REWRITE

TRACE_RULES = frozenset({TRACE_STRONG_LOCK, TRACE_TABLE_REWRITE})
NEEDS_POSTGRESQL = "lock trace not run: the trace needs PostgreSQL, and this history's round trip ran on {database}"

# What each static locking rule predicts, in the trace's terms: a lock mode (that mode or a
# stronger one on the operation's table), 'rewrite' (the table is rewritten), or 'strong' (a
# lock that blocks writes or more; the default, for every other rule with effect: lock).
PREDICTIONS = {
    "create-index-not-concurrently": "SHARE",
    "drop-index-not-concurrently": "ACCESS EXCLUSIVE",
    "add-foreign-key": "SHARE ROW EXCLUSIVE",
    "add-check-constraint": "ACCESS EXCLUSIVE",
    "add-unique-constraint": "ACCESS EXCLUSIVE",
    "add-primary-key": "ACCESS EXCLUSIVE",
    "set-not-null": "ACCESS EXCLUSIVE",
    "alter-column-type": "rewrite",
    "add-column-volatile-default": "rewrite",
    # the backfill and a strong lock share a transaction (the DDL before or after it)
    "backfill-with-ddl": "transaction",
    "validate-in-same-transaction": "transaction",
}

MAX_SQL = 2000  # characters of one statement in the JSON report


def _split(table: str) -> Tuple[str, str]:
    schema, _, name = table.rpartition(".")
    return schema, name


def trace_findings(traces: Sequence, paths: Dict[str, str], settings=None) -> List[Finding]:
    """The findings of every traced revision: a strong lock on, or a rewrite of, a table that
    existed before the revision (and, when the config lists its large tables, is one of them).
    ``paths``: revision -> the revision file as findings show it."""
    out = []
    for trace in traces:
        if trace is None:
            continue
        items = trace.findings()
        # a rewrite holds ACCESS EXCLUSIVE: one finding says both, the rewrite's
        rewrites = {(i.line, i.table) for i in items if i.rule == TRACE_TABLE_REWRITE}
        locks = {(i.line, i.table): i for i in items if i.rule == TRACE_STRONG_LOCK}
        for item in items:
            if item.rule == TRACE_STRONG_LOCK and (item.line, item.table) in rewrites:
                continue
            message = item.message
            lock = locks.get((item.line, item.table)) if item.rule == TRACE_TABLE_REWRITE else None
            if lock is not None and "): " in lock.message:
                message += f", under {lock.mode}: " + lock.message.split("): ", 1)[1]
            schema, name = _split(item.table)
            if settings is not None and not settings.is_large(schema, name):
                continue  # lock rules look only at the tables the config lists as large
            out.append(Finding(
                item.rule, paths.get(item.revision) or item.path, item.line, message,
                revision=item.revision or None, phase=m.UPGRADE, subject=("table", schema, name),
            ))
    return out


def for_display(traces: Iterable, paths: Dict[str, str], display: Callable[[str], str]) -> None:
    """Show the traces' file paths as findings show them (in place: they are plain data)."""
    for trace in traces:
        if trace is None:
            continue
        shown = paths.get(trace.revision) or display(trace.path)
        real = trace.path
        trace.path = shown
        for statement in trace.statements:
            statement.path = shown if statement.path == real else display(statement.path)


def summary_notes(traces: Sequence) -> List[str]:
    """Lines for the environment's notes: what the trace covered and how locks were held, then
    what went wrong in tracing a revision (at most five)."""
    from migration_lint.roundtrip.trace import PER_MIGRATION, SINGLE

    traced = [t for t in traces if t is not None]
    statements = sum(len(t.statements) for t in traced)
    strong = sum(1 for t in traced for s in t.statements for lock in s.locks if lock.strong)
    rewrites = sum(len(s.rewrites) for t in traced for s in t.statements)
    models = {t.transaction for t in traced}
    held = {PER_MIGRATION: "a transaction per revision", SINGLE: "one transaction for the whole run (transaction_per_migration off)"}
    how = "; ".join(held[model] for model in (PER_MIGRATION, SINGLE) if model in models) or "transactions as env.py opens them"
    extra = [f"{t.revision}: {note}" for t in traced for note in t.notes]
    text = (
        f"lock trace: {m.count_of(len(traced), 'revision')}, {m.count_of(statements, 'statement')}; "
        f"{m.count_of(strong, 'lock')} blocking writes or more on pre-existing tables, {m.count_of(rewrites, 'table rewrite')}; "
        f"locks held until the end of {how}"
    )
    return [text] + [f"lock trace of {note}" for note in extra[:5]] + ([f"lock trace: {len(extra) - 5} more notes in the JSON report"] if len(extra) > 5 else [])


# --- verdicts on static findings ------------------------------------------------------------------


def _table_of(subject: Tuple[str, ...]) -> Optional[str]:
    """The table an operation's identity names (unqualified: the trace's tables carry the schema
    the database used, which a default_schema setting may not know)."""
    if not subject:
        return None
    if subject[0] == "index" and len(subject) > 3:
        return subject[3] or None
    if subject[0] in ("column", "table", "constraint") and len(subject) > 2:
        return subject[2] or None
    return None


def verdict(trace, finding: Finding, expect: str, span: Optional[Tuple[int, int]] = None) -> str:
    """'confirmed by trace: ...' or 'not observed (...)' for one static finding; ``span``: the
    lines its operation's statements run from (``op_spans``), when not its own."""
    from migration_lint.roundtrip.trace import check_prediction

    table = _table_of(finding.subject)
    line, end = span or (finding.line, max(finding.end_line, finding.line))
    if expect == "rewrite":
        rewrite = check_prediction(trace, line, end, "rewrite", table)
        lock = check_prediction(trace, line, end, "ACCESS EXCLUSIVE", table)
        if rewrite.status == "confirmed" and lock.status == "confirmed":
            return rewrite.text + " under " + lock.text[len("confirmed by trace: "):]
        if rewrite.status != "not-observed":
            return rewrite.text
        if lock.mode:
            return f"not observed (no rewrite; observed {lock.mode} on {_lock_table(trace, line, end, table, lock.mode)} instead)"
        return rewrite.text
    if expect == "transaction":  # the DDL's table may be another one than the backfill's
        return _same_transaction(trace, line, end, None)
    found = check_prediction(trace, line, end, expect, table)
    if found.status == "confirmed":
        rewritten = sorted({t for s in trace.at_lines(line, end) for t in s.rewrites})
        if rewritten:
            return found.text + f"; rewrote {', '.join(rewritten)}"
    return found.text


def _same_transaction(trace, line: int, end: int, table: Optional[str]) -> str:
    """A strong lock on the table taken anywhere in the transaction the statements at these lines
    ran in (before or after them): it is held until that transaction ends, so the two share it."""
    from migration_lint.roundtrip import locks as lk

    from migration_lint.roundtrip.trace import not_run_text

    statements = trace.at_lines(line, end)
    if not statements:
        return not_run_text(trace, line)
    transactions = {s.transaction for s in statements if not s.autocommit}
    best = None
    for statement in trace.statements:
        if statement.autocommit or statement.transaction not in transactions:
            continue
        for lock in statement.locks:
            names = (lock.table, lock.renamed or lock.table)
            if lock.blocks is None or (table is not None and table not in (n.rsplit(".", 1)[-1] for n in names)):
                continue
            if best is None or lk.strength(lock.mode) > lk.strength(best[1].mode):
                best = (statement, lock)
    if best is not None and best[1].strong:
        statement, lock = best
        return f"confirmed by trace: in the same transaction, {lock.mode} on {lock.renamed or lock.table} (blocks {lock.blocks}) taken at line {statement.line}, held {lock.held_ms:.0f} ms"
    if best is not None:
        return f"not observed (the transaction held {best[1].mode} on {best[1].table} at most)"
    if not transactions:
        return "not observed (it ran in an autocommit block, outside the DDL's transaction)"
    return "not observed (no lock on a table that existed before this revision in that transaction)"


def _lock_table(trace, line: int, end: int, table: Optional[str], mode: str) -> str:
    for statement in trace.at_lines(line, end):
        for _, lock in trace.held_during(statement):
            names = (lock.table, lock.renamed or lock.table)
            if lock.mode == mode and lock.blocks is not None and (table is None or table in (n.rsplit(".", 1)[-1] for n in names)):
                return lock.renamed or lock.table
    return table or "?"


def _static_lock_rule(rule) -> bool:
    return rule is not None and rule.effect == "lock" and rule.name not in TRACE_RULES and rule.produced_by is None


def op_spans(file) -> List[Tuple[object, int, int]]:
    """(operation, first line, last line) of each upgrade operation, as the trace places its
    statements: its own lines; for an operation in a ``batch_alter_table`` block, from the line
    after the last operation before the block, because Alembic runs a batch's statements when the
    block ends and they are placed on the ``with`` line."""
    out = []
    start, previous_end = 0, 0
    in_batch = False
    for op in sorted((o for o in file.operations if o.phase == m.UPGRADE), key=lambda o: (o.line, o.column_offset)):
        end = max(op.end_line, op.line)
        if "batch" in op.context:
            if not in_batch:
                start = previous_end + 1
            in_batch = True
            out.append((op, min(start, op.line), end))
        else:
            in_batch = False
            out.append((op, op.line, end))
        previous_end = max(previous_end, end)
    return out


def predicted_strong(file) -> List[Tuple[int, int]]:
    """The lines of the upgrade operations the static model knows to take a lock that blocks
    writes or more (``locks.is_strong``): the static rules read that lock and judged it (an
    ``op.add_column`` of a nullable column takes ACCESS EXCLUSIVE for a moment, and no rule
    flags it on purpose; nor a new table's foreign keys), so the trace has no news there.
    Operations it cannot read (SQL built at run time, unknown calls) are not among them."""
    from migration_lint.roundtrip.locks import is_strong

    spans = []
    for op, first, last in op_spans(file):
        if not op.runs_on("postgresql"):
            continue
        if op.kind == m.CREATE_TABLE:
            # a new table's foreign keys take SHARE ROW EXCLUSIVE on the tables they reference
            # for a moment, which no rule flags on purpose (the model does not always see them:
            # table-level ForeignKeyConstraint)
            spans.append((first, last))
            continue
        try:
            strong = is_strong(op)
        except Exception:  # an operation the lock table cannot read: not predicted
            strong = None
        if strong:
            spans.append((first, last))
    return spans


def judge(findings: List[Finding], traces: Sequence, catalogue, files: Sequence) -> List[Finding]:
    """The findings after the trace's judgement: verdicts on static locking findings of traced
    revisions; no trace finding on a line a static locking rule reported (or a suppression of one
    covers), and no ``trace-strong-lock`` where the static model predicted a strong lock
    (:func:`predicted_strong`).  Fingerprints are made again for the findings kept (they number the findings of
    one rule on one object in line order)."""
    by_revision = {t.revision: t for t in traces if t is not None}
    if not by_revision:
        return findings

    def rule_of(name: str):
        return catalogue.get(name) if name in catalogue else None

    spans: Dict[Tuple[str, int], Tuple[int, int]] = {}  # (revision, line) -> where its statements run
    for file in files:
        if file.revision in by_revision:
            for op, first, last in op_spans(file):
                if first < op.line:
                    spans.setdefault((file.revision, op.line), (first, last))
    covered: Dict[str, List[Tuple[int, int]]] = {}
    judged: List[Finding] = []
    for finding in findings:
        rule = rule_of(finding.rule)
        trace = by_revision.get(finding.revision or "")
        if trace is not None and _static_lock_rule(rule) and finding.phase in (None, m.UPGRADE):
            span = spans.get((finding.revision, finding.line))
            covered.setdefault(finding.revision, []).append(span or (finding.line, max(finding.end_line, finding.line)))
            finding = dataclasses.replace(finding, trace=verdict(trace, finding, PREDICTIONS.get(rule.name, "strong"), span))
        judged.append(finding)
    known: Dict[str, List[Tuple[int, int]]] = {}
    for file in files:
        if file.revision not in by_revision:
            continue
        for suppression in file.suppressions:  # a static locking finding suppressed here: considered
            if suppression.file_level:
                continue
            if any(_static_lock_rule(rule_of(name)) for name in suppression.rules):
                covered.setdefault(file.revision, []).extend((line, line) for line in suppression.applies_to)
        known[file.revision] = predicted_strong(file)
    kept = []
    for f in judged:
        if f.rule in TRACE_RULES:
            spans = covered.get(f.revision or "", ())
            if f.rule == TRACE_STRONG_LOCK:
                spans = [*spans, *known.get(f.revision or "", ())]
            if any(first <= f.line <= last for first, last in spans):
                continue
        kept.append(f)
    if len(kept) == len(judged):
        return kept
    return m.with_fingerprints(kept)


# --- the JSON report ----------------------------------------------------------------------------


def _statement(statement) -> dict:
    data = statement.to_dict()
    sql = data["sql"]
    if len(sql) > MAX_SQL:
        data["sql"] = sql[: MAX_SQL - 1] + "\u2026"
    data["locks"] = [
        {"table": lock["table"], "mode": lock["mode"], "blocks": lock["blocks"], "inferred": lock["inferred"], "held_ms": lock["held_ms"], "released": lock["released"], **({"renamed": lock["renamed"]} if lock["renamed"] else {})}
        for lock in data["locks"]
    ]
    return data


def report_section(traces: Sequence) -> List[dict]:
    """Per traced revision: where, how locks were held (``transaction``, ``hold_model``), the
    ``trace`` (each statement: path, line, sql, locks [{table, mode, blocks, inferred, ...}],
    rewrites, ms) and the ``timeline`` (per pre-existing table, the strongest lock and how long
    it was held)."""
    out = []
    for trace in traces:
        if trace is None:
            continue
        out.append({
            "revision": trace.revision,
            "path": trace.path.replace("\\", "/"),
            "transaction": trace.transaction,
            "hold_model": trace.hold_model,
            "ms": round(trace.ms, 1),
            "skipped_statements": trace.skipped,
            "notes": list(trace.notes),
            "trace": [_statement(s) for s in trace.statements],
            "timeline": [row.to_dict() for row in trace.summary()],
        })
    return out
