"""Destructive changes that a declarative match cannot judge alone."""

from __future__ import annotations

import re

from migration_lint import model as m
from migration_lint.facts import name_key, shown_table, table_key
from migration_lint.model import LIST_LIMIT, listing

CHECKS = ("alter_column_type", "narrow_column_type", "drop_add_column", "text_column_literal_default")


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
        # several columns of one table changed in one revision: one finding that counts the
        # statements, each of which rewrites the table again (fsft 9c0a54914c78: four findings for
        # two tables); a member suppressed on its own line is judged alone
        groups = {}
        for op in migration.ops[m.UPGRADE]:
            if op.kind != m.ALTER_COLUMN_TYPE or migration.facts[id(op)]["table_is_new"] or not migration.facts[id(op)]["table_is_large"]:
                continue
            old, new = op.get("existing_type"), op.get("type")
            if op.get("convert_to"):
                # MySQL's CONVERT TO CHARACTER SET: every text column at once, one table copy
                yield migration.at(
                    rule, op,
                    f"converts every text column of {shown_table(op, run.settings)} to {op.get('convert_to')}: this may {REWRITE.get(run.dialect, REWRITE['postgresql'])}; "
                    "every value must fit the new character set: a wider one can take indexed columns past the index key limit and long values past the column's byte limit, "
                    "a narrower one cannot hold some characters, and then it fails or loses them",
                    phase=m.UPGRADE,
                    subject=("charset", op.table or ""),
                    help=(
                        "Check first that every indexed text column fits the key limit in the new character set (3072 bytes with "
                        "DYNAMIC rows, 767 with COMPACT) and that no value outgrows its column; then run it in a maintenance window or "
                        "through an online schema change tool (gh-ost, pt-online-schema-change) on a large table"
                    ),
                )
                continue
            if _safe_widening(old, new, run.dialect):
                continue
            if _keeps_values(old, new) and run.dialect == "mysql":
                # a widening MySQL copies the table for (the length prefix grows, an integer
                # widens): nothing breaks, the copy is the whole cost (neutron 8df53b0d2c0e)
                why = "its length prefix grows past 255 bytes (with utf8mb4, 4 bytes a character), so " if old.family == "varchar" else ""
                yield migration.at(
                    rule, op,
                    f"widens {shown_table(op, run.settings)}.{_column(op)} from {old.text or old.name} to {new.text or new.name}: every value and running code are unaffected, "
                    f"but {why}MySQL copies the whole table (ALGORITHM=COPY), blocking writes until it is done",
                    phase=m.UPGRADE, severity="warning",
                    help=(
                        "Accept the copy in a maintenance window, or run it through an online schema change tool (gh-ost, "
                        "pt-online-schema-change); a new column is not needed for a widening"
                    ),
                )
                continue
            if _suppressed_alone(migration, rule, op) or _project_type_names(op, run.settings):
                groups[("alone", id(op))] = [op]  # (a project's own type is judged alone: see below)
            else:
                groups.setdefault(table_key(op, run.settings), []).append(op)
        for ops in groups.values():
            first = ops[0]
            table = shown_table(first, run.settings)
            # a type the project defines (quay's UTF8LongText: Text except on MySQL): what it is on
            # this dialect is not known here, so the change may be none at all
            custom = _project_type_names(first, run.settings)
            if custom:
                old, new = first.get("existing_type"), first.get("type")
                change = f"from {old.text or old.name} to {new.text or new.name}" if old and new else f"to {custom[0]}"
                # an info note with light advice: what the type is here cannot be read without
                # running the project's code (quay's UTF8LongText is Text but on MySQL; round 8)
                yield migration.at(
                    rule, first,
                    f"changes the type of {table}.{_column(first)} {change}; {listing(dict.fromkeys(custom))} is a type the project defines: if both are the same column type on {run.dialect} "
                    f"nothing happens; if not, this may {REWRITE.get(run.dialect, REWRITE['postgresql'])}",
                    phase=m.UPGRADE, severity="info",
                    help=(
                        f"Check what {listing(dict.fromkeys(custom))} is on {run.dialect}: the same column type needs nothing (suppress with that reason); "
                        "another one is a type change like any other"
                    ),
                )
                continue
            # a widening (integer to bigint) keeps every value: running code is not at risk, the
            # rewrite is (quay b8ae68ad3e52, round 8 #27)
            breaks = "" if all(_keeps_values(op.get("existing_type"), op.get("type")) for op in ops) else " and break running code"
            if len(ops) == 1:
                op = first
                old, new = op.get("existing_type"), op.get("type")
                change = f"from {old.text or old.name} " if old else ""
                target = new.text or new.name if new else "(a type given at run time)"
                why = "" if old or op.source == "sql" else " (existing_type is not given, so it cannot be shown to be a safe widening)"
                kept = ": every value fits and running code is unaffected, but this may" if not breaks else ": this may"
                yield migration.at(rule, op, f"changes the type of {table}.{_column(op)} {change}to {target}{kept} {REWRITE.get(run.dialect, REWRITE['postgresql'])}{breaks}{why}", phase=m.UPGRADE)
                continue
            items = list(dict.fromkeys(_change(op) for op in ops))
            kept = ": every value fits and running code is unaffected, but each may" if not breaks else ": each may"
            yield migration.at(
                rule,
                first,
                f"changes the type of {len(ops)} columns of {table} in separate statements ({listing(items)}){kept} {REWRITE.get(run.dialect, REWRITE['postgresql'])}, once per statement{breaks}",
                phase=m.UPGRADE,
                subject=("group", *[_column(op) for op in ops][:LIST_LIMIT]),
            )


def _keeps_values(old, new) -> bool:
    """A widening: a varchar made longer, a wider integer, a numeric with more digits and the same
    scale.  Every value fits, and running code writes nothing the new type refuses (what makes it
    unsafe, if anything, is how the server does it)."""
    if old is None or new is None:
        return False
    if old.family == "varchar" and new.family == "varchar":
        return old.length is not None and new.length is not None and new.length >= old.length
    if old.family in INTEGER_WIDTH and new.family in INTEGER_WIDTH:
        if _unsigned(old) and not _unsigned(new):
            return INTEGER_WIDTH[new.family] > INTEGER_WIDTH[old.family]  # the sign bit needs a wider type
        if _unsigned(new) and not _unsigned(old):
            return False  # negative values do not fit
        return INTEGER_WIDTH[new.family] >= INTEGER_WIDTH[old.family]
    if old.family == "numeric" and new.family == "numeric":
        return old.precision is not None and new.precision is not None and new.precision >= old.precision and (old.scale or 0) == (new.scale or 0)
    return False


def _project_type_names(op, settings) -> list:
    """The new or old type's name when the project defines it (settings.project_types)."""
    defined = {name.rsplit(".", 1)[-1] for name in settings.project_types}
    out = []
    for spec in (op.get("type"), op.get("existing_type")):
        if spec is not None and spec.text:
            name = spec.text.split("(", 1)[0].rsplit(".", 1)[-1]
            if name in defined:
                out.append(name)
    return out


def _column(op) -> str:
    return str(op.columns[0]) if op.columns else "(column named at run time)"


def _change(op) -> str:
    column = _column(op)
    old, new = op.get("existing_type"), op.get("type")
    target = new.text or new.name if new else "(a type given at run time)"
    return f"{column}: {old.text or old.name} to {target}" if old else f"{column} to {target}"


INTEGER_WIDTH = {"smallint": 2, "integer": 4, "bigint": 8}


def _unsigned(spec) -> bool:
    """MySQL's INTEGER(unsigned=True) / INT UNSIGNED, as written."""
    return "unsigned" in (spec.text or "").lower()


def _narrowing(old, new):
    """What an existing value must not exceed for a type change to succeed, when the new type
    holds less than the old: 'longer than 255 characters', 'outside the integer range'."""
    if new is None or old is None:
        return None
    if new.family in ("varchar", "char") and new.length is not None:
        if old.family == "text" or (old.family in ("varchar", "char") and (old.length is None or old.length > new.length)):
            return f"longer than {new.length} characters"
    if old.family in INTEGER_WIDTH and new.family in INTEGER_WIDTH:
        if INTEGER_WIDTH[new.family] < INTEGER_WIDTH[old.family] or (_unsigned(old) and not _unsigned(new) and INTEGER_WIDTH[new.family] == INTEGER_WIDTH[old.family]):
            return f"outside the {'signed ' if _unsigned(old) and not _unsigned(new) else ''}{new.family} range"
        if _unsigned(new) and not _unsigned(old):
            return "below zero"
    if old.family == "numeric" and new.family == "numeric" and new.precision is not None:
        if old.precision is None or new.precision - (new.scale or 0) < old.precision - (old.scale or 0):
            return f"with more than {new.precision - (new.scale or 0)} digits before the point"
    return None


def narrow_column_type(rule, run):
    """A type change to a type that holds less than the old one (a shorter varchar, a smaller
    integer): it fails on any existing value that does not fit, whatever the deploy model; one
    finding per table and phase, naming the columns (fsft 9c0a54914c78)."""
    for migration in run.migrations:
        for phase in (m.UPGRADE, m.DOWNGRADE):
            groups = {}
            for op in migration.ops[phase]:
                if op.kind != m.ALTER_COLUMN_TYPE or migration.facts[id(op)]["table_is_new"]:
                    continue
                if phase == m.DOWNGRADE and migration.facts[id(op)]["table_is_transient"]:
                    continue  # only rows in flight when it is downgraded could hold a wider value (quay blobupload)
                limit = _narrowing(op.get("existing_type"), op.get("type"))
                if not limit or not op.columns or op.get("using"):
                    # (USING converts the values itself, left(name, 40): nothing fails there)
                    continue
                key = ("alone", id(op)) if _suppressed_alone(migration, rule, op) else table_key(op, run.settings)
                groups.setdefault(key, []).append((op, limit))
            for members in groups.values():
                first = members[0][0]
                table = shown_table(first, run.settings)
                by_limit = {}
                for op, limit in members:
                    by_limit.setdefault(limit, []).append(op.columns[0])
                limits = " or ".join(f"{limit} ({listing(columns)})" for limit, columns in by_limit.items())
                what = f"{table}.{first.columns[0]}" if len(members) == 1 else f"{len(members)} columns of {table}"
                changes = listing(dict.fromkeys(_change(op) for op, _ in members))
                truncates = "; MySQL without strict mode truncates them instead, silently" if run.dialect == "mysql" else ""
                # in a downgrade: values written since the upgrade widened the column; a failure
                # of the way back, weighed like the other downgrade-data findings (quay b8ae68ad3e52)
                yield migration.at(
                    rule, first,
                    f"narrows {what} ({changes}): it fails if a row holds a value {limits}{truncates}"
                    + (", as rows written since the upgrade may" if phase == m.DOWNGRADE else ""),
                    phase=phase,
                    subject=("narrow", *[op.columns[0] for op, _ in members][:LIST_LIMIT]),
                    severity="warning" if phase == m.DOWNGRADE else "",
                )


def _suppressed_alone(migration, rule, op) -> bool:
    names = {rule.name, *rule.aliases}
    last = max(op.line, op.end_line or op.line)
    return any(
        not s.file_level and names & set(s.rules) and any(op.line <= covered <= last for covered in s.applies_to)
        for s in migration.file.suppressions
    )


# What a type change costs on a populated table, in each dialect's terms.
REWRITE = {
    "postgresql": "rewrite the table under an ACCESS EXCLUSIVE lock",
    "mysql": "copy the whole table (ALGORITHM=COPY), blocking writes until it is done",
}


GENERIC_TOKENS = frozenset({"id", "at", "is", "has", "by", "on", "of", "to", "new", "old", "tmp", "temp", "the"})


def _tokens(name: str) -> set:
    return {t for t in re.split(r"[_\W]+", name.lower()) if t and t not in GENERIC_TOKENS}


def _could_hold(dropped: str, dropped_spec, added) -> bool:
    """Could the added column take the dropped one's place (a rename written as drop and add)?
    Names that share a stem (name -> full_name), or two *_id columns pointing at the same table;
    and, when the dropped column's type is known (the downgrade re-adds it), the same type family."""
    new = added.column
    if dropped_spec is not None and dropped_spec.type is not None and new.type is not None:
        if dropped_spec.type.family != new.type.family:
            return False
    if _tokens(dropped) & _tokens(new.name):
        return True
    if dropped.lower().endswith("_id") and new.name.lower().endswith("_id") and dropped_spec is not None:
        return bool(dropped_spec.foreign_key and new.foreign_key and dropped_spec.foreign_key.split(".")[0] == new.foreign_key.split(".")[0])
    return False


def drop_add_column(rule, run):
    settings = run.settings
    for migration in run.migrations:
        ops = migration.ops[m.UPGRADE]
        # what the downgrade re-adds tells the type of a column the upgrade drops
        readded = {
            (table_key(op, settings), name_key(op.column.name, settings.dialect, "column")): op.column
            for op in migration.ops[m.DOWNGRADE]
            if op.kind == m.ADD_COLUMN and op.column is not None and op.column.name
        }
        drops = {}  # table -> [(index, column)]
        referenced = {}  # (table, column) -> the tables its foreign keys point at, where known
        for index, op in enumerate(ops):
            table = table_key(op, settings)
            facts = migration.facts[id(op)]
            if op.kind == m.DROP_COLUMN and table[1] and op.columns and not facts["table_is_new"]:
                if facts["references_dropped_table"]:
                    continue  # it points at rows the same upgrade drops: nothing to carry over
                drops.setdefault(table, []).append((index, op.columns[0]))
                referenced[(table, op.columns[0].lower())] = {name.lower() for name in facts["references"]}
            elif op.kind == m.CREATE_FOREIGN_KEY and op.get("ref_table"):
                for column in op.columns:
                    referenced.setdefault((table, str(column).lower()), set()).add(str(op.get("ref_table")).lower())
        if not drops:
            continue
        added = {}
        for index, op in enumerate(ops):
            table = table_key(op, settings)
            if op.kind == m.ADD_COLUMN and table in drops and op.column and op.column.name and op.column.name not in {c for _, c in drops[table]}:
                added.setdefault(table, []).append((index, op))
        for table, found in added.items():  # one finding per table, at the first added column that could hold a dropped one
            pairs = []
            for add_index, add in found:
                for drop_index, column in drops[table]:
                    spec = readded.get((table, name_key(column, settings.dialect, "column")))
                    if not _could_hold(column, spec, add):
                        continue
                    # both point somewhere, at different tables: a new reference, not the old one renamed
                    before, after = referenced.get((table, column.lower())), referenced.get((table, add.column.name.lower()))
                    if before and after and not before & after:
                        continue
                    # A dropped column's values survive if something writes rows after the new
                    # column exists and before that column is dropped (a drop before the add loses them).
                    if any(_may_copy(op, table, settings) for op in ops[add_index + 1 : drop_index]):
                        continue
                    pairs.append((add, column))
            if not pairs:
                continue
            first = pairs[0][0]
            described = ", ".join(f"{column} -> {add.column.name}" for add, column in pairs)
            yield migration.at(rule, first, f"drops and adds columns on {shown_table(first, settings)} that look like a rename ({described}), with no copy between them: if it is one, the data is lost", phase=m.UPGRADE, subject=("table", table[0] or "", table[1] or ""))


def _may_copy(op, table: tuple, settings) -> bool:
    """A write that can carry the old column's values somewhere before they are dropped: an
    UPDATE of the table (or of a table we could not name), an INSERT of rows read from the
    database (INSERT ... SELECT, not op.bulk_insert's literal rows), or SQL we could not analyse."""
    if op.kind == m.RAW_SQL:
        return True
    if op.kind == m.INSERT_ROWS:
        return not op.call.endswith("bulk_insert")
    return op.kind == m.UPDATE_ROWS and (not op.table or table_key(op, settings) == table)


# MySQL refuses a literal DEFAULT on these types (error 1101); 8.0.13 and later take an
# expression default written in parentheses, DEFAULT ('[]'); MariaDB 10.2.1 and later take both
BLOB_TEXT_TYPES = frozenset({
    "text", "unicodetext", "tinytext", "mediumtext", "longtext",
    "blob", "tinyblob", "mediumblob", "longblob", "largebinary", "binary_large_object",
    "json", "geometry", "point", "linestring", "polygon",
})


MARIADB_MAJORS = frozenset({(10,), (11,), (12,)})  # server versions MySQL never had: MariaDB's


def text_column_literal_default(rule, run):
    """A TEXT / BLOB / JSON (or geometry) column given a plain server_default on MySQL: the ADD
    COLUMN or CREATE TABLE fails there (quay b2c3d4e5f6a7: Text with server_default "[]", a miss
    of round 11).  MariaDB (server version 10, 11 or 12) accepts it and is not reported."""
    if run.dialect != "mysql" or run.settings.server_version[:1] in MARIADB_MAJORS:
        return
    for migration in run.migrations:
        for phase in (m.UPGRADE, m.DOWNGRADE):
            for op in migration.ops[phase]:
                if op.kind == m.ADD_COLUMN and op.column is not None:
                    columns = (op.column,)
                elif op.kind == m.CREATE_TABLE:
                    columns = op.table_columns
                else:
                    continue
                for column in columns:
                    default = column.server_default
                    if column.type is None or default is None or column.type.name not in BLOB_TEXT_TYPES:
                        continue
                    if default.text.strip().startswith("("):
                        continue  # an expression default, DEFAULT ('[]'): MySQL 8.0.13 and later take it
                    yield migration.at(
                        rule, op,
                        f"gives {shown_table(op, run.settings)}.{column.name} ({column.type.text or column.type.name}) the default "
                        f"{default.text}: MySQL refuses a literal default on TEXT, BLOB, JSON and geometry columns "
                        f"(\"BLOB, TEXT, GEOMETRY or JSON column can't have a default value\"), so this "
                        f"{'ADD COLUMN' if op.kind == m.ADD_COLUMN else 'CREATE TABLE'} fails there",
                        phase=phase,
                        subject=("text-default", column.name or ""),
                    )
