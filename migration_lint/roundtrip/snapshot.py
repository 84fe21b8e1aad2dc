"""Schema snapshots and their comparison, for the round trip.

``take_snapshot(connection)`` reflects the schema of a live database into a :class:`Snapshot`: plain,
hashable, picklable data (tuples of strings), normalised so that two snapshots are equal exactly when
the schemas are equal (independent of creation order and of how the DDL was spelt).  ``diff(a, b)``
turns two snapshots into readable lines, one per difference::

    + table tags
    - column posts.tag_id (integer, NULL)
    ~ column users.email: nullable NOT NULL -> NULL
    + index ix_posts_status on posts (status)
    ~ enum type status: labels ('a', 'b') -> ('a', 'b', 'c')

Reflection uses SQLAlchemy's inspector -- the 2.x bulk ``get_multi_*`` API, so that a PostgreSQL
snapshot is a handful of catalog queries whatever the number of tables (per-table calls on
SQLAlchemy 1.4) -- plus a few catalog queries for what the inspector lacks or gets wrong (PostgreSQL
sequences and view definitions, MySQL/MariaDB check constraints and view definitions, SQLite index
definitions and foreign key actions).  Nothing here prints.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

__all__ = ["Snapshot", "take_snapshot", "diff"]

Attrs = Tuple[Tuple[str, str], ...]


@dataclass(frozen=True)
class Snapshot:
    """A normalised schema.  Every field is a sorted tuple of tuples of strings.

    Table names are bare (``posts``) in the default schema and ``schema.table`` in the others (on
    PostgreSQL every schema that is not the system's is read); every name is ``schema.name`` when
    ``take_snapshot`` was given explicit ``schemas``.  Names of unnamed constraints (SQLite) are
    ``""``; names the engine chose itself are normalised (``_implicit_names``).
    """

    dialect: str
    tables: Tuple[str, ...] = ()
    # (table, column, ((attribute, value), ...)); attributes: type, nullable, default, autoincrement,
    # identity, computed, comment (absent ones are left out)
    columns: Tuple[Tuple[str, str, Attrs], ...] = ()
    # (table, name, description) -- description is what is shown after the name, e.g. "(id)"
    primary_keys: Tuple[Tuple[str, str, str], ...] = ()
    indexes: Tuple[Tuple[str, str, str], ...] = ()
    unique_constraints: Tuple[Tuple[str, str, str], ...] = ()
    check_constraints: Tuple[Tuple[str, str, str], ...] = ()
    foreign_keys: Tuple[Tuple[str, str, str], ...] = ()
    # (name, labels in declaration order)
    enums: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()
    # (name, description)
    domains: Tuple[Tuple[str, str], ...] = ()
    sequences: Tuple[Tuple[str, str], ...] = ()
    # (name, kind: "view" | "materialized view", normalised definition)
    views: Tuple[Tuple[str, str, str], ...] = ()
    # schemas besides the default one (PostgreSQL), with their privileges: (name, description)
    schemas: Tuple[Tuple[str, str], ...] = ()
    # (kind: "function" | "procedure" | "aggregate" | "event", name or signature, description)
    routines: Tuple[Tuple[str, str, str], ...] = ()
    # (table, name, description)
    triggers: Tuple[Tuple[str, str, str], ...] = ()
    # (name, description)
    extensions: Tuple[Tuple[str, str], ...] = ()
    # comments on anything but columns (those are column attributes): (object, comment)
    comments: Tuple[Tuple[str, str], ...] = ()
    # privileges granted on tables, views, sequences, functions and schemas: (object, privileges)
    grants: Tuple[Tuple[str, str], ...] = ()


# --------------------------------------------------------------------------------------------
# SQL text normalisation
# --------------------------------------------------------------------------------------------

_TYPE = (
    r'(?:"(?:[^"]|"")*"|[A-Za-z_][\w$]*(?:\.[A-Za-z_][\w$]*)?)'
    r"(?:\s+(?:varying|precision|without\s+time\s+zone|with\s+time\s+zone))?"
    r"(?:\s*\(\s*\d+(?:\s*,\s*\d+)*\s*\))?"
    r"(?:\s*\[\s*\d*\s*\])*"
)
_CAST_RE = re.compile(
    r"(?P<lit>'(?:[^']|'')*')(?P<litcast>(?:\s*::\s*" + _TYPE + r")*)"
    r"|(?<![\w$.])(?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?P<numcast>(?:\s*::\s*" + _TYPE + r")+)"
    r'|(?P<quoted>"(?:[^"]|"")*"|`(?:[^`]|``)*`)'
    # PostgreSQL's "(col)::text": the parentheses only exist for the cast
    r'|(?<![\w$"])\(\s*(?P<pident>(?:"(?:[^"]|"")*"|[A-Za-z_][\w$]*)(?:\.(?:"(?:[^"]|"")*"|[A-Za-z_][\w$]*))*)\s*\)'
    r"(?P<pcast>(?:\s*::\s*" + _TYPE + r")+)"
    r"|(?P<cast>\s*::\s*" + _TYPE + r")",
    re.IGNORECASE,
)
_REGCLASS_RE = re.compile(r"\s*::\s*regclass\b", re.IGNORECASE)
_TOKEN_RE = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`|[^'"`]+|['"`]""")
_PLAIN_LOWER_IDENT = re.compile(r"[a-z_][a-z0-9_$]*\Z")
_PLAIN_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*\Z")


def _strip_casts(text: str, mode: str) -> str:
    """mode "all": drop every ``::type``; "literal": only casts of literals (``'x'::text``, ``0::smallint``)
    and ``::regclass``."""

    def repl(m: "re.Match[str]") -> str:
        if m.group("lit") is not None:
            return m.group("lit")
        if m.group("num") is not None:
            return m.group("num")
        if m.group("quoted") is not None:
            return m.group("quoted")
        if m.group("pident") is not None:
            return m.group("pident") if mode == "all" else m.group(0)
        cast = m.group("cast")
        if mode == "all" or _REGCLASS_RE.fullmatch(cast):
            return ""
        return cast

    return _CAST_RE.sub(repl, text)


def _top_level_scan(text: str):
    """Yield (position, character, depth before it) for characters outside quotes."""
    depth = 0
    pos = 0
    for tok in _TOKEN_RE.findall(text):
        if tok[0] not in "'\"`":
            for i, ch in enumerate(tok):
                yield pos + i, ch, depth
                if ch == "(":
                    depth += 1
                elif ch == ")":
                    depth -= 1
        pos += len(tok)


def _strip_double_parens(text: str) -> str:
    """"((x))" -> "(x)" anywhere (outside quotes)."""
    stack: List[int] = []
    pairs: Dict[int, int] = {}
    for pos, ch, _depth in _top_level_scan(text):
        if ch == "(":
            stack.append(pos)
        elif ch == ")" and stack:
            pairs[stack.pop()] = pos
    drop = set()
    for start, end in pairs.items():
        if pairs.get(start + 1) == end - 1:
            drop.update((start + 1, end - 1))
    if not drop:
        return text
    return "".join(ch for i, ch in enumerate(text) if i not in drop)


def _strip_outer_parens(text: str) -> str:
    while text.startswith("(") and text.endswith(")"):
        last = len(text) - 1
        for pos, ch, depth in _top_level_scan(text):
            if ch == ")" and depth == 1 and pos != last:
                return text  # the first "(" closes before the end: "(a) + (b)"
        text = text[1:-1].strip()
    return text


def _norm_sql(text: Any, casts: Optional[str] = None, strip_parens: bool = True) -> str:
    """Canonical spelling of an SQL fragment: casts stripped per ``casts``, keywords and plain
    identifiers lower-cased (string literals and quoted identifiers kept), whitespace collapsed,
    redundant identifier quotes and outer parentheses removed."""
    if text is None:
        return ""
    text = str(text).strip()
    if casts:
        text = _strip_casts(text, casts)
    out: List[str] = []
    for tok in _TOKEN_RE.findall(text):
        first = tok[0]
        if first == "'":
            out.append(tok)
        elif first == '"' and len(tok) > 1:
            inner = tok[1:-1]
            out.append(inner if _PLAIN_LOWER_IDENT.match(inner) else tok)
        elif first == "`" and len(tok) > 1:
            inner = tok[1:-1]
            out.append(inner if _PLAIN_IDENT.match(inner) else tok)
        else:
            t = re.sub(r"\s+", " ", tok.lower())
            t = re.sub(r"\(\s+", "(", t)
            t = re.sub(r"\s+\)", ")", t)
            t = re.sub(r"\s*,\s*", ", ", t)
            out.append(t)
    result = _strip_double_parens("".join(out).strip().rstrip(";").strip())
    return _strip_outer_parens(result) if strip_parens else result


def _lower_outside_quotes(text: str) -> str:
    return "".join(tok if tok[0] in "'\"`" else tok.lower() for tok in _TOKEN_RE.findall(text))


def _norm_default(text: Any) -> Optional[str]:
    if text is None:
        return None
    if not isinstance(text, str):  # e.g. a TextClause
        text = str(getattr(text, "text", text))
    norm = _norm_sql(text, casts="literal")
    if norm in ("", "null"):
        return None  # DEFAULT NULL is the same as no default
    return norm


# --------------------------------------------------------------------------------------------
# Reflection
# --------------------------------------------------------------------------------------------

_FORCE_PER_TABLE = False  # tests flip this to exercise the SQLAlchemy 1.4 code path


class _Reflector:
    def __init__(self, connection: Any, version_table: str, schemas: Optional[Tuple[str, ...]]):
        self.conn = connection
        self.dialect = connection.dialect
        self.name = self.dialect.name
        self.version_table = version_table
        self.explicit = schemas is not None
        self.insp = sa.inspect(connection)
        default = getattr(self.insp, "default_schema_name", None)
        self.default_schema = default
        # (schema passed to the inspector, schema name for catalog queries)
        self.extras: List[Tuple[str, str, str, str]] = []  # PostgreSQL: _PG_EXTRAS rows
        self.members: set = set()  # (schema, relation) that belong to an extension
        self.schema_acl: Dict[str, str] = {}
        if schemas is None:
            self.schemas: List[Tuple[Optional[str], Optional[str]]] = [(None, default)]
            if self.name == "postgresql":
                self._pg_read_extras()
        else:
            self.schemas = [(s, s) for s in schemas]

    def _pg_read_extras(self) -> None:
        """Every schema that is not the system's, and what the inspector does not reflect (one
        query): functions, triggers, extensions, comments, privileges, sequence ownership."""
        old_catalog = (self.dialect.server_version_info or (0,)) < (11,)
        sql = _PG_EXTRAS.replace("p.prokind", "CASE WHEN p.proisagg THEN 'a' ELSE 'f' END") if old_catalog else _PG_EXTRAS
        self.extras = [tuple("" if v is None else str(v) for v in row) for row in self._rows(sql)]
        for kind, schema, name, value in self.extras:
            if kind == "schema":
                self.schema_acl[schema] = name
                if schema != self.default_schema and value == "true":  # only schemas with relations or types
                    self.schemas.append((schema, schema))
            elif kind == "member":
                self.members.add((schema, name))

    # -- helpers -------------------------------------------------------------------------------
    def qual(self, schema: Optional[str], name: str) -> str:
        if schema and (self.explicit or schema != self.default_schema):
            return f"{schema}.{name}"
        return name

    def _multi(self, what: str, schema: Optional[str], tables: Sequence[str]) -> Dict[str, Any]:
        """``{table: reflected}`` for one kind of object, bulk when the inspector can."""
        if not tables:
            return {}
        multi = getattr(self.insp, "get_multi_" + what, None)
        if multi is not None and not _FORCE_PER_TABLE:
            try:
                found = multi(schema=schema, filter_names=list(tables))
            except NotImplementedError:
                return {}
            return {key[1]: value for key, value in found.items() if key[1] in tables}
        single = getattr(self.insp, "get_" + what)
        out = {}
        for table in tables:
            try:
                out[table] = single(table, schema=schema)
            except NotImplementedError:
                return {}
        return out

    def _rows(self, sql: str, **params: Any) -> List[Any]:
        stmt = sa.text(sql)
        for key, value in params.items():
            if isinstance(value, (list, tuple)):
                stmt = stmt.bindparams(sa.bindparam(key, expanding=True))
        return list(self.conn.execute(stmt, params))

    def _type_string(self, col_type: Any) -> Optional[str]:
        if isinstance(col_type, sa.types.NullType):
            return None
        try:
            spelt = col_type.compile(dialect=self.dialect)
        except Exception:  # types the dialect cannot render
            return None
        return re.sub(r"\s+", " ", _lower_outside_quotes(spelt)).strip()

    # -- the snapshot ----------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        tables: List[str] = []
        columns: List[Tuple[str, str, Attrs]] = []
        pks: List[Tuple[str, str, str]] = []
        indexes: List[Tuple[str, str, str]] = []
        uniques: List[Tuple[str, str, str]] = []
        checks: List[Tuple[str, str, str]] = []
        fks: List[Tuple[str, str, str]] = []
        enums: List[Tuple[str, Tuple[str, ...]]] = []
        domains: List[Tuple[str, str]] = []
        sequences: List[Tuple[str, str]] = []
        views: List[Tuple[str, str, str]] = []

        for schema, catalog_schema in self.schemas:
            names = [t for t in self.insp.get_table_names(schema=schema)
                     if t != self.version_table and (catalog_schema, t) not in self.members]
            tables.extend(self.qual(schema, t) for t in names)
            columns.extend(self._columns(schema, catalog_schema, names))
            pks.extend(self._pks(schema, names))
            indexes.extend(self._indexes(schema, catalog_schema, names))
            uniques.extend(self._uniques(schema, names))
            checks.extend(self._checks(schema, catalog_schema, names))
            fks.extend(self._fks(schema, names))
            enums.extend(self._enums(schema, catalog_schema))
            domains.extend(self._domains(schema, catalog_schema))
            sequences.extend(self._sequences(schema, catalog_schema))
            views.extend(self._views(schema, catalog_schema))

        extra = self._extras()
        if self.name == "postgresql":  # names PostgreSQL chose itself, numbered on a clash
            pks, indexes, uniques, checks, fks = (
                [(t, _pg_implicit_name(t, n), d) for t, n, d in items] for items in (pks, indexes, uniques, checks, fks))
        return Snapshot(
            dialect=self.name,
            tables=tuple(sorted(tables)),
            columns=tuple(sorted(columns)),
            primary_keys=tuple(sorted(pks)),
            indexes=tuple(sorted(indexes)),
            unique_constraints=tuple(sorted(uniques)),
            check_constraints=tuple(sorted(checks)),
            foreign_keys=tuple(sorted(fks)),
            enums=tuple(sorted(enums)),
            domains=tuple(sorted(domains)),
            sequences=tuple(sorted(sequences)),
            views=tuple(sorted(views)),
            **{key: tuple(sorted(value)) for key, value in extra.items()},
        )

    def _extras(self) -> Dict[str, List[Any]]:
        """Schemas, routines, triggers, extensions, comments and privileges."""
        out: Dict[str, List[Any]] = {"schemas": [], "routines": [], "triggers": [], "extensions": [], "comments": [], "grants": []}
        if self.name == "postgresql" and not self.explicit:
            kinds = {"f": "function", "p": "procedure", "a": "aggregate", "w": "function"}
            for kind, schema, name, value in self.extras:
                if kind == "schema":
                    if schema != self.default_schema:
                        out["schemas"].append((schema, ""))
                    if name:
                        out["grants"].append((f"schema {schema}", name))
                elif kind == "extension":
                    out["extensions"].append((schema, f"in schema {name}"))
                elif kind == "routine":
                    signature, _, prokind = name.rpartition(" ")
                    out["routines"].append((kinds.get(prokind, "function"), self.qual(schema, signature), value))
                elif kind == "trigger":
                    table, _, trigger = name.partition(" ")
                    out["triggers"].append((self.qual(schema, table), trigger, _trigger_desc(value)))
                elif kind == "comment":
                    out["comments"].append((name, value))
                elif kind == "grant":
                    relkind, _, relation = name.partition(" ")
                    label = {"S": "sequence", "v": "view", "m": "materialized view"}.get(relkind, "table")
                    out["grants"].append((f"{label} {self.qual(schema, relation)}", value))
        elif self.name in ("mysql", "mariadb"):
            for kind, name, table, value in self._rows(_MYSQL_EXTRAS):
                kind, name, table, value = (str(v) if v is not None else "" for v in (kind, name, table, value))
                if kind == "trigger":
                    out["triggers"].append((table, name, _norm_sql(value)))
                elif kind == "comment":
                    if value and name != self.version_table:
                        out["comments"].append((f"table {name}", value))
                else:
                    out["routines"].append((kind.lower(), name, value))
        elif self.name == "sqlite":
            master = "sqlite_master"
            for name, table, sql in self._rows(f"SELECT name, tbl_name, sql FROM {master} WHERE type = 'trigger'"):
                out["triggers"].append((table, name, _norm_sql(_strip_create_trigger(sql or ""))))
        return out

    def _columns(self, schema, catalog_schema, names) -> Iterable[Tuple[str, str, Attrs]]:
        reflected = self._multi("columns", schema, names)
        missing_types: List[Tuple[str, str]] = []
        rows: List[Tuple[str, str, Dict[str, str]]] = []
        for table, cols in reflected.items():
            for col in cols:
                attrs: Dict[str, str] = {}
                spelt = self._type_string(col.get("type"))
                if spelt is None:
                    missing_types.append((table, col["name"]))
                    spelt = type(col.get("type")).__name__.lower()
                attrs["type"] = spelt
                attrs["nullable"] = "NULL" if col.get("nullable", True) else "NOT NULL"
                default = _norm_default(col.get("default"))
                if default is not None:
                    attrs["default"] = default
                if col.get("autoincrement") is True:
                    attrs["autoincrement"] = "yes"
                identity = col.get("identity")
                if identity:
                    attrs["identity"] = _identity_desc(identity)
                computed = col.get("computed")
                if computed:
                    text = "generated as (" + _norm_sql(computed.get("sqltext"), casts="all") + ")"
                    if computed.get("persisted") is not None:
                        text += " stored" if computed.get("persisted") else " virtual"
                    attrs["computed"] = text
                if col.get("comment"):
                    attrs["comment"] = repr(col["comment"])
                rows.append((table, col["name"], attrs))
        if missing_types and self.name == "postgresql":
            spelt_by_col = self._pg_format_types(catalog_schema)
            for table, colname, attrs in rows:
                if (table, colname) in missing_types and (table, colname) in spelt_by_col:
                    attrs["type"] = spelt_by_col[(table, colname)]
        for table, colname, attrs in rows:
            yield (self.qual(schema, table), colname, tuple(sorted(attrs.items())))

    def _pg_format_types(self, catalog_schema) -> Dict[Tuple[str, str], str]:
        rows = self._rows(
            "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) "
            "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :schema AND a.attnum > 0 AND NOT a.attisdropped",
            schema=catalog_schema,
        )
        return {(r[0], r[1]): str(r[2]).lower() for r in rows}

    def _pks(self, schema, names) -> Iterable[Tuple[str, str, str]]:
        for table, pk in self._multi("pk_constraint", schema, names).items():
            if not pk or not pk.get("constrained_columns"):
                continue
            yield (self.qual(schema, table), pk.get("name") or "", "(" + ", ".join(pk["constrained_columns"]) + ")")

    def _indexes(self, schema, catalog_schema, names) -> Iterable[Tuple[str, str, str]]:
        if self.name == "sqlite":
            yield from self._sqlite_indexes(schema, names)
            return
        if self.name == "postgresql" and not hasattr(self.insp, "get_multi_indexes"):
            # SQLAlchemy 1.4 skips expression indexes on PostgreSQL: read the catalog instead
            yield from self._pg_indexes(schema, catalog_schema, names)
            return
        implicit = self._mysql_fk_indexes(schema, names) if self.name in ("mysql", "mariadb") else {}
        for table, ixs in self._multi("indexes", schema, names).items():
            for ix in ixs:
                if ix.get("duplicates_constraint"):
                    continue  # the unique constraint it backs is reported as such
                if (table, ix.get("name")) in implicit and not ix.get("unique") and tuple(ix.get("column_names") or ()) == implicit[(table, ix.get("name"))]:
                    continue  # made by the engine for a foreign key, which is reported as such
                yield (self.qual(schema, table), ix.get("name") or "", _index_desc(ix))

    def _mysql_fk_indexes(self, schema, names) -> Dict[Tuple[str, str], Tuple[str, ...]]:
        """The indexes InnoDB made for foreign keys that had none: named after the constraint, or
        (a key declared inline in CREATE TABLE) after its first column, ``_2``... on a clash.
        Dropping and adding the key again renames it (``team_id`` -> ``awards_ibfk_1``): the name
        is the engine's, not the schema's.  ``{(table, index name): columns}``."""
        out: Dict[Tuple[str, str], Tuple[str, ...]] = {}
        for table, fks in self._multi("foreign_keys", schema, names).items():  # cached by the inspector
            for fk in fks:
                cols = tuple(fk.get("constrained_columns") or ())
                if not cols:
                    continue
                for candidate in (fk.get("name"), cols[0], *(f"{cols[0]}_{n}" for n in range(2, 10))):
                    if candidate:
                        out.setdefault((table, candidate), cols)
        return out

    def _sqlite_indexes(self, schema, names) -> Iterable[Tuple[str, str, str]]:
        master = f'"{schema}".sqlite_master' if schema else "sqlite_master"
        rows = self._rows(f"SELECT name, tbl_name, sql FROM {master} WHERE type = 'index' AND sql IS NOT NULL")
        wanted = set(names)
        pattern = re.compile(
            r"\s*create\s+(unique\s+)?index\s+(?:if\s+not\s+exists\s+)?"
            r"""(?:"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\]|\S+?)\s+on\s+(?:"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\]|[^\s(]+)\s*(\(.*)\Z""",
            re.IGNORECASE | re.DOTALL,
        )
        for name, table, sql in rows:
            if table not in wanted:
                continue
            m = pattern.match(sql)
            if m:
                body, where = _split_where(m.group(2).strip())
                desc = _norm_sql(body, casts="all", strip_parens=False)  # "(a, b)"
                if m.group(1):
                    desc += " unique"
                if where:
                    desc += " where " + _norm_sql(where, casts="all")
            else:
                desc = _norm_sql(sql)
            yield (self.qual(schema, table), name, desc)

    def _pg_indexes(self, schema, catalog_schema, names) -> Iterable[Tuple[str, str, str]]:
        rows = self._rows(
            "SELECT ct.relname, ci.relname, pg_get_indexdef(i.indexrelid) "
            "FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ci ON ci.oid = i.indexrelid "
            "JOIN pg_catalog.pg_class ct ON ct.oid = i.indrelid "
            "JOIN pg_catalog.pg_namespace n ON n.oid = ct.relnamespace "
            "WHERE n.nspname = :schema AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint con "
            "WHERE con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x'))",
            schema=catalog_schema,
        )
        wanted = set(names)
        for table, name, indexdef in rows:
            if table in wanted:
                yield (self.qual(schema, table), name, _pg_indexdef_desc(indexdef))

    def _uniques(self, schema, names) -> Iterable[Tuple[str, str, str]]:
        for table, ucs in self._multi("unique_constraints", schema, names).items():
            for uc in ucs:
                if uc.get("duplicates_index"):
                    continue  # MySQL: a unique constraint is a unique index; reported as the index
                desc = "(" + ", ".join(c for c in uc.get("column_names") or ()) + ")"
                desc += _options_suffix(uc.get("dialect_options"))
                yield (self.qual(schema, table), uc.get("name") or "", desc)

    def _checks(self, schema, catalog_schema, names) -> Iterable[Tuple[str, str, str]]:
        if self.name in ("mysql", "mariadb"):
            found = self._mysql_checks(catalog_schema, names)
            if found is not None:
                for table, name, text in found:
                    yield (self.qual(schema, table), name or "", _norm_sql(text, casts="all"))
                return
        if self.name == "sqlite":
            yield from self._sqlite_checks(schema, names)
            return
        for table, cks in self._multi("check_constraints", schema, names).items():
            for ck in cks:
                desc = _norm_sql(ck.get("sqltext"), casts="all")
                opts = ck.get("dialect_options") or {}
                for key, value in sorted(opts.items()):
                    if value:
                        desc += " " + key.split("_", 1)[-1].replace("_", " ")
                yield (self.qual(schema, table), ck.get("name") or "", desc)

    def _sqlite_checks(self, schema, names) -> Iterable[Tuple[str, str, str]]:
        """SQLite keeps only the CREATE TABLE text; parse its CHECKs (balanced parentheses, quotes)."""
        master = f'"{schema}".sqlite_master' if schema else "sqlite_master"
        wanted = set(names)
        for table, sql in self._rows(f"SELECT name, sql FROM {master} WHERE type = 'table'"):
            if table in wanted and sql:
                for name, text in _parse_checks(sql):
                    yield (self.qual(schema, table), name, _norm_sql(text, casts="all"))

    def _mysql_checks(self, catalog_schema, names) -> Optional[List[Tuple[str, str, str]]]:
        """MySQL/MariaDB checks from information_schema (the inspector misses column-level ones)."""
        wanted = set(names)
        queries = []
        if getattr(self.dialect, "is_mariadb", False):
            queries.append(
                "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
                "WHERE CONSTRAINT_SCHEMA = :schema"
            )
        queries.append(
            "SELECT tc.TABLE_NAME, tc.CONSTRAINT_NAME, cc.CHECK_CLAUSE "
            "FROM information_schema.TABLE_CONSTRAINTS tc JOIN information_schema.CHECK_CONSTRAINTS cc "
            "ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME "
            "WHERE tc.CONSTRAINT_TYPE = 'CHECK' AND tc.CONSTRAINT_SCHEMA = :schema"
        )
        for sql in queries:
            try:
                rows = self._rows(sql, schema=catalog_schema)
            except sa_exc.DBAPIError:
                continue
            return [(str(r[0]), str(r[1]), str(r[2])) for r in rows if r[0] in wanted]
        return None

    def _fks(self, schema, names) -> Iterable[Tuple[str, str, str]]:
        reflected = self._multi("foreign_keys", schema, names)
        sqlite_actions = self._sqlite_fk_actions(schema, names) if self.name == "sqlite" else {}
        for table, fks in reflected.items():
            for fk in fks:
                referred = fk.get("referred_table") or ""
                if fk.get("referred_schema"):
                    referred = f"{fk['referred_schema']}.{referred}"
                cols = tuple(fk.get("constrained_columns") or ())
                desc = "(" + ", ".join(cols) + ") -> " + referred + " (" + ", ".join(fk.get("referred_columns") or ()) + ")"
                options = dict(fk.get("options") or {})
                extra = sqlite_actions.get((table, cols, fk.get("referred_table")))
                if extra:
                    for key, value in extra.items():
                        options.setdefault(key, value)
                for key in ("ondelete", "onupdate", "deferrable", "initially", "match"):
                    value = options.get(key)
                    if value is None or value is False:
                        continue
                    label = {"ondelete": "on delete", "onupdate": "on update"}.get(key, key)
                    desc += f" {label}" if value is True else f" {label} {str(value).lower()}"
                yield (self.qual(schema, table), fk.get("name") or "", desc)

    def _sqlite_fk_actions(self, schema, names) -> Dict[Tuple[str, Tuple[str, ...], str], Dict[str, str]]:
        """SQLite: ON DELETE / ON UPDATE from PRAGMA foreign_key_list (the inspector drops inline ones)."""
        out: Dict[Tuple[str, Tuple[str, ...], str], Dict[str, str]] = {}
        prefix = f'"{schema}".' if schema else ""
        for table in names:
            quoted = '"' + table.replace('"', '""') + '"'
            groups: Dict[int, List[Any]] = {}
            for row in self.conn.exec_driver_sql(f"PRAGMA {prefix}foreign_key_list({quoted})"):
                groups.setdefault(row[0], []).append(row)
            for rows in groups.values():
                rows.sort(key=lambda r: r[1])
                cols = tuple(r[3] for r in rows)
                actions = {}
                for key, value in (("onupdate", rows[0][5]), ("ondelete", rows[0][6])):
                    if value and value.upper() != "NO ACTION":
                        actions[key] = value
                out[(table, cols, rows[0][2])] = actions
        return out

    def _enums(self, schema, catalog_schema) -> Iterable[Tuple[str, Tuple[str, ...]]]:
        if self.name != "postgresql":
            return []
        rows = self._rows(
            "SELECT t.typname, e.enumlabel FROM pg_catalog.pg_type t "
            "JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
            "JOIN pg_catalog.pg_enum e ON e.enumtypid = t.oid "
            "WHERE n.nspname = :schema ORDER BY t.typname, e.enumsortorder",
            schema=catalog_schema,
        )
        labels: Dict[str, List[str]] = {}
        for name, label in rows:
            labels.setdefault(name, []).append(label)
        return [(self.qual(schema, name), tuple(ls)) for name, ls in labels.items()]

    def _domains(self, schema, catalog_schema) -> Iterable[Tuple[str, str]]:
        if self.name != "postgresql":
            return []
        rows = self._rows(
            "SELECT t.typname, format_type(t.typbasetype, t.typtypmod), t.typnotnull, t.typdefault, "
            "coll.collname, c.conname, pg_get_constraintdef(c.oid) "
            "FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
            "LEFT JOIN pg_catalog.pg_collation coll ON coll.oid = t.typcollation AND t.typcollation <> 0 "
            "AND coll.collname <> 'default' "
            "LEFT JOIN pg_catalog.pg_constraint c ON c.contypid = t.oid "
            "WHERE t.typtype = 'd' AND n.nspname = :schema",
            schema=catalog_schema,
        )
        heads: Dict[str, str] = {}
        checks: Dict[str, List[str]] = {}
        for name, base, notnull, default, collation, conname, condef in rows:
            head = str(base).lower() + (" NOT NULL" if notnull else " NULL")
            default = _norm_default(default)
            if default is not None:
                head += " default " + default
            if collation:
                head += f" collate {collation}"
            heads[name] = head
            if conname:
                text = re.sub(r"(?is)^\s*check\s*", "", str(condef or ""))
                checks.setdefault(name, []).append(f" check {conname} ({_norm_sql(text, casts='all')})")
        return [(self.qual(schema, name), head + "".join(sorted(checks.get(name, []))))
                for name, head in heads.items()]

    def _sequences(self, schema, catalog_schema) -> Iterable[Tuple[str, str]]:
        if self.name == "postgresql" and (self.dialect.server_version_info or (0,)) >= (10,):
            rows = self._rows(
                "SELECT sequencename, data_type::text, start_value, increment_by, min_value, max_value, "
                "cache_size, cycle FROM pg_catalog.pg_sequences WHERE schemaname = :schema",
                schema=catalog_schema,
            )
            owners = {name: owner for kind, s, name, owner in self.extras if kind == "owned" and s == catalog_schema}
            return [
                (self.qual(schema, _pg_implicit_name("", r[0])),
                 f"{r[1]}, start {r[2]}, increment {r[3]}, min {r[4]}, max {r[5]}, cache {r[6]}"
                 + (", cycle" if r[7] else "")
                 + (f", owned by {owners[r[0]]}" if r[0] in owners else ""))
                for r in rows
            ]
        try:
            names = self.insp.get_sequence_names(schema=schema)
        except (NotImplementedError, AttributeError):
            return []
        return [(self.qual(schema, n), "") for n in names]

    def _views(self, schema, catalog_schema) -> Iterable[Tuple[str, str, str]]:
        if self.name == "postgresql":
            rows = self._rows(
                "SELECT viewname, 'view', definition FROM pg_catalog.pg_views WHERE schemaname = :schema "
                "UNION ALL SELECT matviewname, 'materialized view', definition FROM pg_catalog.pg_matviews "
                "WHERE schemaname = :schema",
                schema=catalog_schema,
            )
            return [(self.qual(schema, r[0]), r[1], _norm_sql(r[2])) for r in rows]
        if self.name in ("mysql", "mariadb"):
            rows = self._rows(
                "SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = :schema",
                schema=catalog_schema,
            )
            out = []
            for name, definition in rows:
                text = str(definition or "")
                if catalog_schema:
                    text = text.replace(f"`{catalog_schema}`.", "")
                out.append((self.qual(schema, name), "view", _norm_sql(text)))
            return out
        if self.name == "sqlite":
            master = f'"{schema}".sqlite_master' if schema else "sqlite_master"
            rows = self._rows(f"SELECT name, sql FROM {master} WHERE type = 'view'")
            return [(self.qual(schema, r[0]), "view", _norm_sql(_strip_create_view(r[1] or ""))) for r in rows]
        out = []
        for name in self.insp.get_view_names(schema=schema):
            try:
                definition = self.insp.get_view_definition(name, schema=schema)
            except NotImplementedError:
                definition = ""
            out.append((self.qual(schema, name), "view", _norm_sql(_strip_create_view(str(definition or "")))))
        return out


_PG_SYSTEM_SCHEMAS = (
    r"nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\_toast%' AND nspname NOT LIKE 'pg\_temp\_%'"
)

# an object that belongs to an extension (an index lookup in pg_depend, per object)
_PG_MEMBER = "EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{catalog}'::regclass AND e.objid = {oid} AND e.deptype = 'e')"

# One query for what the inspector does not reflect, in every schema that is not the system's
# (objects made after initdb have oids from 16384 on: the oid indexes find them).
# Objects that belong to an extension are the extension's (listed once, as the extension).
# Rows: (kind, schema, name, value).
_PG_EXTRAS = """
WITH ns AS (SELECT oid, nspname, nspacl FROM pg_namespace WHERE """ + _PG_SYSTEM_SCHEMAS + """)
SELECT 'schema', n.nspname, coalesce(n.nspacl::text, ''),
       (EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid)
        OR EXISTS (SELECT 1 FROM pg_type t WHERE t.typnamespace = n.oid AND t.typtype IN ('e', 'd')))::text
FROM ns n WHERE NOT """ + _PG_MEMBER.format(catalog="pg_namespace", oid="n.oid") + """
UNION ALL
SELECT 'member', n.nspname, c.relname, '' FROM pg_class c JOIN ns n ON n.oid = c.relnamespace
WHERE c.oid >= 16384 AND """ + _PG_MEMBER.format(catalog="pg_class", oid="c.oid") + """
UNION ALL
SELECT 'extension', e.extname, n.nspname, '' FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
UNION ALL
SELECT 'routine', n.nspname, p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') ' || p.prokind::text,
       concat_ws(', ', CASE WHEN p.prokind <> 'p' THEN 'returns ' || pg_get_function_result(p.oid) END, 'language ' || l.lanname,
                 'definition ' || left(md5(CASE WHEN p.prokind = 'a' THEN p.prosrc ELSE pg_get_functiondef(p.oid) END), 12),
                 CASE WHEN p.proacl IS NOT NULL THEN 'privileges ' || p.proacl::text END)
FROM pg_proc p JOIN ns n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
WHERE p.oid >= 16384 AND NOT """ + _PG_MEMBER.format(catalog="pg_proc", oid="p.oid") + """
UNION ALL
SELECT 'trigger', n.nspname, c.relname || ' ' || t.tgname, pg_get_triggerdef(t.oid)
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN ns n ON n.oid = c.relnamespace WHERE t.oid >= 16384 AND NOT t.tgisinternal
UNION ALL
SELECT 'comment', '', pg_describe_object(d.classoid, d.objoid, 0), d.description FROM pg_description d
WHERE d.objsubid = 0 AND d.objoid >= 16384  -- objects created after initdb; column comments are column attributes
  AND d.classoid <> 'pg_extension'::regclass  -- an extension's own comment comes with it
  AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = d.classoid AND e.objid = d.objoid AND e.deptype = 'e')
UNION ALL
SELECT 'grant', n.nspname, c.relkind::text || ' ' || c.relname, c.relacl::text FROM pg_class c JOIN ns n ON n.oid = c.relnamespace
WHERE c.oid >= 16384 AND c.relacl IS NOT NULL AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
UNION ALL
SELECT 'owned', n.nspname, s.relname, t.relname || '.' || a.attname
FROM pg_class s JOIN ns n ON n.oid = s.relnamespace
JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
JOIN pg_class t ON t.oid = d.refobjid JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
WHERE s.oid >= 16384 AND s.relkind = 'S'
"""

# MySQL / MariaDB: triggers, routines, events and table comments of the current database.
# Rows: (kind, name, table, value).
_MYSQL_EXTRAS = """
SELECT 'trigger', TRIGGER_NAME, EVENT_OBJECT_TABLE,
       CONCAT(ACTION_TIMING, ' ', EVENT_MANIPULATION, ' for each ', ACTION_ORIENTATION, ' ', ACTION_STATEMENT)
FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()
UNION ALL
SELECT ROUTINE_TYPE, ROUTINE_NAME, '',
       CONCAT_WS(', ', CONCAT('returns ', DTD_IDENTIFIER), CONCAT('definition ', LEFT(MD5(COALESCE(ROUTINE_DEFINITION, '')), 12)))
FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()
  AND ROUTINE_NAME <> 'migration_lint_owner'  -- the scratch database's owner mark (db/dialect_sql.py)
UNION ALL
SELECT 'event', EVENT_NAME, '',
       CONCAT_WS(', ', EVENT_TYPE, CONCAT('every ', INTERVAL_VALUE, ' ', INTERVAL_FIELD), STATUS,
                 CONCAT('definition ', LEFT(MD5(COALESCE(EVENT_DEFINITION, '')), 12)))
FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()
UNION ALL
SELECT 'comment', TABLE_NAME, '', TABLE_COMMENT FROM information_schema.TABLES
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_COMMENT <> '' AND TABLE_TYPE = 'BASE TABLE'
"""

_PG_AUTO_SUFFIX = re.compile(r"(?P<name>.+_(?:pkey|key|fkey|check|excl|idx|seq))\d+\Z")


def _pg_implicit_name(table: str, name: str) -> str:
    """PostgreSQL names what was left unnamed ``<table>_<columns>_<pkey|key|fkey|check|excl|idx>``
    and sequences ``<table>_<column>_seq``, adding a number when the name is taken
    (``posts_title_key1``).  That number depends on history, not on the schema: dropped here."""
    m = _PG_AUTO_SUFFIX.match(name or "")
    if not m:
        return name
    bare = table.rsplit(".", 1)[-1]
    if bare and not name.startswith(bare + "_"):
        return name
    if not bare and not m.group("name").endswith("_seq"):
        return name
    return m.group("name")


def _trigger_desc(definition: str) -> str:
    """pg_get_triggerdef without "CREATE TRIGGER name", normalised."""
    m = re.match(r"(?is)\s*create\s+(?:constraint\s+)?trigger\s+(?:\"(?:[^\"]|\"\")*\"|\S+)\s+(.*)\Z", definition)
    return _norm_sql(m.group(1) if m else definition)


def _strip_create_trigger(sql: str) -> str:
    m = re.match(r"(?is)\s*create\s+(?:temp\w*\s+)?trigger\s+(?:if\s+not\s+exists\s+)?(?:\"(?:[^\"]|\"\")*\"|`[^`]*`|\[[^\]]*\]|\S+)\s+(.*)\Z", sql)
    return m.group(1) if m else sql


def _identity_desc(identity: Dict[str, Any]) -> str:
    rest = dict(identity)
    parts = ["always" if rest.pop("always", False) else "by default"]
    for key, label in (("start", "start"), ("increment", "increment"), ("minvalue", "min"),
                       ("maxvalue", "max"), ("cache", "cache")):
        if rest.get(key) is not None:
            parts.append(f"{label} {rest.pop(key)}")
    if rest.pop("cycle", False):
        parts.append("cycle")
    parts.extend(f"{k} {_plain(v)}" for k, v in sorted(rest.items()) if v is not None and v is not False)
    return ", ".join(parts)


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _options_suffix(options: Optional[Dict[str, Any]]) -> str:
    suffix = ""
    for key, value in sorted((options or {}).items()):
        if value in (None, False, "", [], (), {}):
            continue
        label = key.split("_", 1)[-1].replace("_", " ")
        suffix += f" {label}" if value is True else f" {label} {_plain(value)}"
    return suffix


def _index_desc(ix: Dict[str, Any]) -> str:
    exprs = ix.get("expressions") or ix.get("column_names") or ()
    sorting = ix.get("column_sorting") or {}
    items = []
    for expr in exprs:
        text = _norm_sql(expr, casts="all") if expr is not None else "?"
        flags = sorting.get(expr) or ()
        items.append(" ".join([text, *[str(f).lower() for f in flags]]))
    desc = "(" + ", ".join(items) + ")"
    if ix.get("unique"):
        desc += " unique"
    opts = dict(ix.get("dialect_options") or {})
    for key in sorted(opts):
        value = opts[key]
        if value in (None, False, "", [], (), {}):
            continue
        if key.endswith("_where"):
            desc += " where " + _norm_sql(getattr(value, "text", value), casts="all")
        elif key.endswith("_using"):
            desc += " using " + str(value).lower()
        elif key.endswith("_include"):
            desc += " include (" + ", ".join(str(v) for v in value) + ")"
        elif key == "mysql_prefix":
            desc += " " + str(value).lower()
        elif key == "mysql_length" and isinstance(value, dict):
            desc += " length (" + ", ".join(f"{k} {v}" for k, v in sorted(value.items())) + ")"
        else:
            label = key.split("_", 1)[-1].replace("_", " ")
            desc += f" {label}" if value is True else f" {label} {_plain(value)}"
    return desc


_CHECK_START = re.compile(
    r"""(?:\bconstraint\s+("(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]|[\w$]+)\s+)?\bcheck\s*\(""", re.IGNORECASE)


def _parse_checks(sql: str) -> List[Tuple[str, str]]:
    """(name or "", expression) of every CHECK in a CREATE TABLE statement."""
    # blank out quoted text (same length) so that the regex and the parenthesis matching skip it
    masked = "".join(
        tok if tok[0] not in "'\"`[" else tok[0] + " " * (len(tok) - 2) + tok[-1] if len(tok) > 1 else tok
        for tok in _TOKEN_RE.findall(sql)
    )
    found = []
    for m in _CHECK_START.finditer(masked):
        depth = 1
        pos = m.end()
        while pos < len(masked) and depth:
            if masked[pos] == "(":
                depth += 1
            elif masked[pos] == ")":
                depth -= 1
            pos += 1
        name = sql[m.start(1):m.end(1)] if m.group(1) else ""
        if name[:1] in ('"', "`", "["):
            name = name[1:-1]
        found.append((name, sql[m.end():pos - 1]))
    return found


def _pg_indexdef_desc(indexdef: str) -> str:
    """"CREATE UNIQUE INDEX i ON s.t USING gin (a) INCLUDE (b) WHERE (c > 0)" -> "(a) unique using gin ..."."""
    m = re.match(r"(?is)\s*create\s+(unique\s+)?index\s.*?\susing\s+(\w+)\s*(\(.*)\Z", indexdef)
    if not m:
        return _norm_sql(indexdef)
    rest = m.group(3)
    end = next((pos for pos, ch, depth in _top_level_scan(rest) if ch == ")" and depth == 1), len(rest) - 1)
    desc = _norm_sql(rest[:end + 1], casts="all", strip_parens=False)
    tail = rest[end + 1:].strip()
    if m.group(1):
        desc += " unique"
    if m.group(2).lower() != "btree":
        desc += " using " + m.group(2).lower()
    body, where = _split_where(tail)
    include = re.match(r"(?is)include\s*(\([^)]*\))", body)
    if include:
        desc += " include " + _norm_sql(include.group(1), strip_parens=False)
    if where:
        desc += " where " + _norm_sql(where, casts="all")
    return desc


def _split_where(text: str) -> Tuple[str, Optional[str]]:
    """Split "(a, b) WHERE b > 3" at the top-level WHERE (outside quotes and parentheses)."""
    for pos, ch, depth in _top_level_scan(text):
        if depth == 0 and ch in "wW" and (pos == 0 or not (text[pos - 1].isalnum() or text[pos - 1] in "_$")):
            if re.match(r"where\b", text[pos:], re.IGNORECASE):
                return text[:pos].strip(), text[pos + 5:].strip()
    return text, None


def _strip_create_view(sql: str) -> str:
    m = re.match(
        r"\s*create\s+(?:.*?\s)?view\s+(?:if\s+not\s+exists\s+)?"
        r"""(?:"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]|[^\s(]+)\s*(?:\([^)]*\)\s*)?as\s+(.*)\Z""",
        sql,
        re.IGNORECASE | re.DOTALL,
    )
    return m.group(1) if m else sql


def take_snapshot(
    connection: Any,
    *,
    version_table: str = "alembic_version",
    schemas: Optional[Tuple[str, ...]] = None,
) -> Snapshot:
    """Reflect the schema reachable through ``connection`` into a :class:`Snapshot`.

    Only the default schema unless ``schemas`` is given (then every name is ``schema.name``).  The
    Alembic version table ``version_table`` is left out.  Read-only; if the connection was not in a
    transaction before, the transaction that reflection opened is rolled back, so the connection is
    handed back in the state it came in.
    """
    was_in_transaction = connection.in_transaction()
    try:
        with warnings.catch_warnings():
            # e.g. "Skipped unsupported reflection of expression-based index", "Did not recognize type"
            warnings.simplefilter("ignore", sa_exc.SAWarning)
            return _Reflector(connection, version_table, tuple(schemas) if schemas is not None else None).snapshot()
    finally:
        if not was_in_transaction and connection.in_transaction() and hasattr(connection, "rollback"):
            connection.rollback()


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------

_COLUMN_ATTR_ORDER = ("type", "nullable", "default", "autoincrement", "identity", "computed", "comment")
_ABSENT = {"nullable": "NULL", "autoincrement": "no"}


def _column_summary(attrs: Dict[str, str]) -> str:
    parts = [attrs.get("type", "?"), attrs.get("nullable", "NULL")]
    if "default" in attrs:
        parts.append("default " + attrs["default"])
    if attrs.get("autoincrement") == "yes":
        parts.append("autoincrement")
    for key in ("identity", "computed", "comment"):
        if key in attrs:
            parts.append(f"{key} {attrs[key]}" if key != "computed" else attrs[key])
    return "(" + ", ".join(parts) + ")"


def _join(table: str, desc: str, sep: str = " ") -> str:
    return f"on {table}{sep}{desc}"


# A difference: (sort key, sign, text) for "+" / "-", (sort key, "~", (subject, old, new)) for "~".
_Entry = Tuple[Any, str, Any]


def _table_objects(
    kind: str, before: Sequence[Tuple[str, str, str]], after: Sequence[Tuple[str, str, str]],
    skip_tables: set, out: List[_Entry], rank: float, colon: bool = False,
) -> None:
    """Compare (table, name, description) triples: named ones by name, unnamed ones as a multiset."""
    sep = ": " if colon else " "

    def show(desc: str) -> str:
        return f"({desc})" if colon else desc

    def line(sign: str, table: str, name: str, desc: str) -> _Entry:
        label = f"{kind} {name} " if name else f"{kind} "
        return ((rank, table, name, desc, sign), sign, f"{label}{_join(table, show(desc), sep)}")

    b_named = {(t, n): d for t, n, d in before if n}
    a_named = {(t, n): d for t, n, d in after if n}
    for key in sorted(set(b_named) | set(a_named)):
        table, name = key
        if table in skip_tables:
            continue
        if key not in a_named:
            out.append(line("-", table, name, b_named[key]))
        elif key not in b_named:
            out.append(line("+", table, name, a_named[key]))
        elif b_named[key] != a_named[key]:
            out.append(((rank, table, name, "", "~"), "~", (f"{kind} {name} on {table}:", show(b_named[key]), show(a_named[key]))))
    b_unnamed = sorted((t, d) for t, n, d in before if not n)
    a_unnamed = sorted((t, d) for t, n, d in after if not n)
    remaining = list(a_unnamed)
    for item in b_unnamed:
        if item in remaining:
            remaining.remove(item)
        elif item[0] not in skip_tables:
            out.append(line("-", item[0], "", item[1]))
    leftover_before = list(b_unnamed)
    for item in a_unnamed:
        if item in leftover_before:
            leftover_before.remove(item)
        elif item[0] not in skip_tables:
            out.append(line("+", item[0], "", item[1]))


def _named_objects(kind: Any, before: Sequence[Tuple[str, str]], after: Sequence[Tuple[str, str]], out: List[_Entry],
                   rank: float, show_value: bool = False, skip: Callable[[str], bool] = lambda name: False) -> None:
    """Compare (name, description) pairs by name; ``kind`` is a word or a function of the name."""
    b_map, a_map = dict(before), dict(after)
    for name in sorted(set(b_map) | set(a_map)):
        if skip(name):
            continue
        label = kind(name) if callable(kind) else f"{kind} {name}"
        if name not in a_map:
            out.append(((rank, name, "", "", "-"), "-", label + (f" {b_map[name]}" if show_value and b_map[name] else "")))
        elif name not in b_map:
            out.append(((rank, name, "", "", "+"), "+", label + (f" {a_map[name]}" if show_value and a_map[name] else "")))
        elif b_map[name] != a_map[name]:
            out.append(((rank, name, "", "", "~"), "~", (label + ":", b_map[name], a_map[name])))


def diff(before: Snapshot, after: Snapshot, sides: Optional[Tuple[str, str]] = None) -> List[str]:
    """Readable differences from ``before`` to ``after``, one per difference, sorted by kind of
    object (schemas, tables, columns, primary keys, indexes, unique constraints, check constraints,
    foreign keys, triggers, enum types, domains, sequences, views, routines, extensions, comments,
    privileges), then name.  A table present on one side only is reported alone, without its
    columns, constraints and triggers.  Empty when the snapshots are equal.

    Without ``sides``: ``+`` added, ``-`` removed, ``~ what: old -> new``.  With ``sides`` (the
    names of the two states, e.g. ``("before upgrade", "after downgrade")``), every line says which
    side is which: ``only after downgrade: table tags``, and a change names both values::

        ~ column posts.title: default
            before upgrade: none
            after downgrade: 'untitled'
    """
    if before == after:
        return []
    out: List[_Entry] = []
    if before.dialect != after.dialect:
        out.append(((0, "", "", "", "~"), "~", ("dialect", before.dialect, after.dialect)))

    _named_objects("schema", before.schemas, after.schemas, out, 0.5)
    b_tables, a_tables = set(before.tables), set(after.tables)
    for t in sorted(b_tables - a_tables):
        out.append(((1, t, "", "", "-"), "-", f"table {t}"))
    for t in sorted(a_tables - b_tables):
        out.append(((1, t, "", "", "+"), "+", f"table {t}"))
    one_sided = b_tables ^ a_tables

    b_cols = {(t, c): dict(a) for t, c, a in before.columns}
    a_cols = {(t, c): dict(a) for t, c, a in after.columns}
    for key in sorted(set(b_cols) | set(a_cols)):
        table, col = key
        if table in one_sided:
            continue
        if key not in a_cols:
            out.append(((2, table, col, "", "-"), "-", f"column {table}.{col} {_column_summary(b_cols[key])}"))
        elif key not in b_cols:
            out.append(((2, table, col, "", "+"), "+", f"column {table}.{col} {_column_summary(a_cols[key])}"))
        else:
            old, new = b_cols[key], a_cols[key]
            attrs = [k for k in _COLUMN_ATTR_ORDER if k in old or k in new]
            attrs += sorted((set(old) | set(new)) - set(_COLUMN_ATTR_ORDER))
            for i, attr in enumerate(attrs):
                o = old.get(attr, _ABSENT.get(attr, "none"))
                n = new.get(attr, _ABSENT.get(attr, "none"))
                if o != n:
                    out.append(((2, table, col, f"{i:02d}", "~"), "~", (f"column {table}.{col}: {attr}", o, n)))

    _table_objects("primary key", before.primary_keys, after.primary_keys, one_sided, out, 3)
    _table_objects("index", before.indexes, after.indexes, one_sided, out, 4)
    _table_objects("unique constraint", before.unique_constraints, after.unique_constraints, one_sided, out, 5)
    _table_objects("check constraint", before.check_constraints, after.check_constraints, one_sided, out, 6,
                   colon=True)
    _table_objects("foreign key", before.foreign_keys, after.foreign_keys, one_sided, out, 7)
    _table_objects("trigger", before.triggers, after.triggers, one_sided, out, 7.5, colon=True)

    def labels(ls: Sequence[str]) -> str:
        return "(" + ", ".join(_quote(x) for x in ls) + ")"

    b_enums, a_enums = dict(before.enums), dict(after.enums)
    for name in sorted(set(b_enums) | set(a_enums)):
        if name not in a_enums:
            out.append(((8, name, "", "", "-"), "-", f"enum type {name} {labels(b_enums[name])}"))
        elif name not in b_enums:
            out.append(((8, name, "", "", "+"), "+", f"enum type {name} {labels(a_enums[name])}"))
        elif b_enums[name] != a_enums[name]:
            out.append(((8, name, "", "", "~"), "~", (f"enum type {name}: labels", labels(b_enums[name]), labels(a_enums[name]))))

    _named_objects("domain", before.domains, after.domains, out, 9)
    _named_objects("sequence", before.sequences, after.sequences, out, 10)

    b_views = {(n, k): d for n, k, d in before.views}
    a_views = {(n, k): d for n, k, d in after.views}
    for key in sorted(set(b_views) | set(a_views)):
        name, kind = key
        if key not in a_views:
            out.append(((11, name, kind, "", "-"), "-", f"{kind} {name}"))
        elif key not in b_views:
            out.append(((11, name, kind, "", "+"), "+", f"{kind} {name}"))
        elif b_views[key] != a_views[key]:
            out.append(((11, name, kind, "", "~"), "~", (f"{kind} {name}: definition", b_views[key], a_views[key])))

    routine_kind = {f"{name}": kind for kind, name, _ in (*before.routines, *after.routines)}
    _named_objects(lambda name: f"{routine_kind[name]} {name}", [(n, d) for _, n, d in before.routines],
                   [(n, d) for _, n, d in after.routines], out, 12, show_value=True)
    _named_objects("extension", before.extensions, after.extensions, out, 13)
    gone = {f"{kind} {t}" for t in one_sided for kind in ("table", "view", "materialized view")}
    _named_objects(lambda name: f"comment on {name}", before.comments, after.comments, out, 14, show_value=True,
                   skip=lambda name: name in gone)
    _named_objects(lambda name: f"privileges on {name}", before.grants, after.grants, out, 15, show_value=True,
                   skip=lambda name: name in gone)

    out.sort(key=lambda item: item[0])
    return [_render(sign, body, sides) for _, sign, body in out]


def _render(sign: str, body: Any, sides: Optional[Tuple[str, str]]) -> str:
    if sides is None:
        return f"~ {body[0]} {body[1]} -> {body[2]}" if sign == "~" else f"{sign} {body}"
    first, second = sides
    if sign == "+":
        return f"only {second}: {body}"
    if sign == "-":
        return f"only {first}: {body}"
    width = max(len(first), len(second)) + 1
    return f"~ {body[0].rstrip(':')}\n    {first + ':':<{width}} {body[1]}\n    {second + ':':<{width}} {body[2]}"


def _quote(label: str) -> str:
    return "'" + label.replace("'", "''") + "'"


# -- a cheap equality test ------------------------------------------------------------------------
# The round trip compares states far more often than it finds differences.  On PostgreSQL one
# catalog query gives a digest that changes whenever anything take_snapshot() captures changes.
# Indexes and constraints are spelled by name (pg_get_indexdef / pg_get_constraintdef), never by
# attribute number: a column dropped and added again gets a new number, and a digest stricter than
# the snapshot would send every such revision down the slow path (full snapshots, rebuilt states).

_PG_DIGEST = """
WITH ns AS (SELECT oid, nspname FROM pg_namespace WHERE """ + _PG_SYSTEM_SCHEMAS + """),
rels AS (
    SELECT c.oid, n.nspname || '.' || c.relname AS relname, c.relkind, c.relam FROM pg_class c JOIN ns n ON n.oid = c.relnamespace
    WHERE c.relname <> :version_table
      AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.deptype = 'e' AND e.classid = 'pg_class'::regclass AND e.objid = c.oid)
),
parts AS (
    SELECT concat_ws(' ', 'r', relkind::text, relname) AS line FROM rels WHERE relkind NOT IN ('i', 'I')  -- indexes: below
    UNION ALL
    SELECT concat_ws(' ', 'c', r.relname, a.attname, a.atttypid::regtype::text, a.atttypmod, a.attnotnull::text,
                     a.attidentity::text, a.attgenerated::text, a.attcollation,
                     CASE WHEN d.adbin IS NOT NULL THEN pg_get_expr(d.adbin, d.adrelid) END, ds.description)
    FROM rels r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = r.oid AND d.adnum = a.attnum
    LEFT JOIN (SELECT objoid, objsubid, description FROM pg_description
               WHERE classoid = 'pg_class'::regclass AND objsubid > 0 AND objoid IN (SELECT oid FROM rels)) ds
           ON ds.objoid = r.oid AND ds.objsubid = a.attnum
    WHERE r.relkind IN ('r', 'p', 'v', 'm', 'f')  -- an index's own columns are in its line below
    UNION ALL
    SELECT concat_ws(' ', 'i', pg_get_indexdef(i.indexrelid))
    FROM pg_index i JOIN rels r ON r.oid = i.indrelid
    UNION ALL
    SELECT concat_ws(' ', 'k', r.relname, con.conname, pg_get_constraintdef(con.oid))
    FROM pg_constraint con JOIN rels r ON r.oid = con.conrelid
    UNION ALL
    SELECT concat_ws(' ', 't', n.nspname, t.typname, t.typtype::text, t.typbasetype::regtype::text, t.typtypmod, t.typnotnull::text,
           (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid),
           (SELECT string_agg(pg_get_constraintdef(dc.oid), ',' ORDER BY dc.conname) FROM pg_constraint dc WHERE dc.contypid = t.oid))
    FROM pg_type t JOIN ns n ON n.oid = t.typnamespace WHERE t.typtype IN ('e', 'd')
      AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.deptype = 'e' AND e.classid = 'pg_type'::regclass AND e.objid = t.oid)
    UNION ALL
    SELECT concat_ws(' ', 's', r.relname, q.seqtypid::regtype::text, q.seqstart, q.seqincrement, q.seqmin, q.seqmax, q.seqcycle::text)
    FROM rels r JOIN pg_sequence q ON q.seqrelid = r.oid
    UNION ALL
    SELECT concat_ws(' ', 'v', r.relname, pg_get_viewdef(r.oid)) FROM rels r WHERE r.relkind IN ('v', 'm')
)
SELECT count(*), md5(coalesce(string_agg(line, E'\\n' ORDER BY line COLLATE "C"), '')) FROM parts
"""


_PG_EXTRAS_DIGEST = (
    "SELECT count(*), md5(coalesce(string_agg(concat_ws(' ', kind, schema, name, value), E'\\n' "
    "ORDER BY concat_ws(' ', kind, schema, name, value) COLLATE \"C\"), '')) FROM (" + _PG_EXTRAS + ") AS x(kind, schema, name, value)"
)


def schema_digest(connection, *, version_table: str = "alembic_version"):
    """Equal digests mean equal snapshots; different digests mean: take snapshots and diff them.

    PostgreSQL: two catalog queries, prepared once per connection; SQLite: the definitions in
    sqlite_master; MySQL/MariaDB: a few information_schema queries.  Anything else: the snapshot.
    """
    name = connection.dialect.name
    queries = {"sqlite": [_SQLITE_DIGEST], "mysql": _MYSQL_DIGEST, "mariadb": _MYSQL_DIGEST}.get(name)
    if queries is None and name != "postgresql":
        return take_snapshot(connection, version_table=version_table)
    in_transaction = connection.in_transaction()
    try:
        if name == "postgresql":
            try:
                return (name, _pg_digest_rows(connection, version_table))
            except sa_exc.DBAPIError:
                if in_transaction:
                    raise
                # the statements were dropped meanwhile (DISCARD ALL by the project's code): again
                if connection.in_transaction() and hasattr(connection, "rollback"):
                    connection.rollback()
                connection.info.pop("migration_lint_prepared", None)
                return (name, _pg_digest_rows(connection, version_table))
        rows = tuple(tuple(connection.execute(sa.text(query), {"version_table": version_table}).all()) for query in queries)
        return (name, rows)
    finally:
        if not in_transaction and connection.in_transaction():
            connection.rollback()


# PostgreSQL: the tables' digest, and a second one of schemas, extensions, functions, triggers,
# comments, privileges and sequence owners (as one query the planner makes both slower).  Planning
# them costs more than running them, and the round trip takes three digests per revision on the
# same pooled connection: each is PREPAREd once per DBAPI connection (noted in its ``info``).
_PG_PREPARED = (
    ("migration_lint_digest_tables", _PG_DIGEST.replace(":version_table", "$1")),
    ("migration_lint_digest_extras", _PG_EXTRAS_DIGEST),
)


def _pg_digest_rows(connection, version_table: str) -> tuple:
    info = connection.info
    if info.get("migration_lint_prepared") is None:
        if (connection.dialect.server_version_info or (0,)) < (11,):
            extras = _PG_EXTRAS_DIGEST.replace("p.prokind", "CASE WHEN p.proisagg THEN 'a' ELSE 'f' END")
            statements = ((_PG_PREPARED[0]), (_PG_PREPARED[1][0], extras))
        else:
            statements = _PG_PREPARED
        for statement_name, sql in statements:
            params = "(name)" if "$1" in sql else ""
            connection.execute(sa.text(f"PREPARE {statement_name}{params} AS {sql}"))
        info["migration_lint_prepared"] = True
    return (
        tuple(connection.execute(sa.text("EXECUTE migration_lint_digest_tables(:v)"), {"v": version_table}).all()),
        tuple(connection.execute(sa.text("EXECUTE migration_lint_digest_extras")).all()),
    )


# SQLite keeps each object's definition as SQL text: that text is the schema.
_SQLITE_DIGEST = """
SELECT type, name, tbl_name, sql FROM sqlite_master
WHERE name <> :version_table AND tbl_name <> :version_table AND name NOT LIKE 'sqlite_%'
ORDER BY type, name
"""

# MySQL / MariaDB: information_schema of the current database, one query per kind of object.
_MYSQL_DIGEST = [
    """SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, COLUMN_COMMENT, ORDINAL_POSITION
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> :version_table
       ORDER BY TABLE_NAME, COLUMN_NAME""",
    """SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART, INDEX_TYPE
       FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> :version_table
       ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX""",
    """SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, r.UPDATE_RULE, r.DELETE_RULE
       FROM information_schema.KEY_COLUMN_USAGE k
       LEFT JOIN information_schema.REFERENTIAL_CONSTRAINTS r ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME
       WHERE k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME <> :version_table
       ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION""",
    """SELECT CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()
       ORDER BY CONSTRAINT_NAME""",
    """SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME""",
    """SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> :version_table
       ORDER BY TABLE_NAME""",
    "SELECT * FROM (" + _MYSQL_EXTRAS + ") x ORDER BY 1, 2, 3",  # triggers, routines, events, table comments
]
