"""Statements of every other dialect (MySQL/MariaDB, SQLite, ...) as normalised operations, read
with sqlglot.  ``sql.py`` chooses this reader for every dialect but PostgreSQL."""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import Any, List, Optional, Tuple


from migration_lint.model import (
    COMMIT,
    ADD_COLUMN,
    ALTER_COLUMN_TYPE,
    CREATE_CHECK_CONSTRAINT,
    CREATE_FOREIGN_KEY,
    CREATE_INDEX,
    CREATE_PRIMARY_KEY,
    CREATE_SEQUENCE,
    CREATE_TABLE,
    CREATE_UNIQUE_CONSTRAINT,
    CREATE_VIEW,
    DELETE_ROWS,
    DROP_COLUMN,
    DROP_CONSTRAINT,
    DROP_DEFAULT,
    DROP_INDEX,
    DROP_NOT_NULL,
    DROP_SEQUENCE,
    DROP_TABLE,
    DROP_TYPE,
    DROP_VIEW,
    INSERT_ROWS,
    OTHER_SQL,
    RAW_SQL,
    RENAME_COLUMN,
    RENAME_TABLE,
    SET_DEFAULT,
    SET_NOT_NULL,
    SET_TIMEOUT,
    TRUNCATE_TABLE,
    UPDATE_ROWS,
    ColumnSpec,
    Operation,
    TypeSpec,
    make_default,
)
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

from migration_lint.frontend.sql_common import TIMEOUT_SETTINGS, LENGTH_TYPES, NUMERIC_TYPES, clean, make_op, one_line, other_op, raw_op, split_name

_MYSQL_TIMEOUTS = {
    "lock_wait_timeout": "lock_timeout",
    "innodb_lock_wait_timeout": "lock_timeout",
    "max_statement_time": "statement_timeout",  # MariaDB
}

# sqlglot knows some dialects under another name.
_SQLGLOT_DIALECTS = {
    "mariadb": "mysql",
    "postgresql": "postgres",
    "mssql": "tsql",
    "sqlserver": "tsql",
}

_SQLGLOT_TYPE_NAMES = {
    "int": "integer",
    "uint": "integer",
    "ubigint": "bigint",
    "usmallint": "smallint",
    "utinyint": "tinyint",
    "umediumint": "mediumint",
    "double": "double precision",
    "decimal": "numeric",
    "bool": "boolean",
    "nchar": "char",
    "timestamptz": "timestamptz",
}

_MYSQL_CONVERT_CHARSET = re.compile(
    r"\s*ALTER\s+TABLE\s+(?:`?(?P<schema>\w+)`?\.)?`?(?P<table>\w+)`?\s+CONVERT\s+TO\s+(?:CHARACTER\s+SET|CHARSET)\s+`?(?P<charset>\w+)`?",
    re.I,
)
_MYSQL_ONLINE_OPTIONS = re.compile(
    r"(?:[\s,]+(ALGORITHM|LOCK)\s*=?\s*(\w+))+\s*$", re.IGNORECASE
)
_MYSQL_ONLINE_OPTION = re.compile(r"(ALGORITHM|LOCK)\s*=?\s*(\w+)", re.IGNORECASE)
_RENAME_TABLE = re.compile(r"^\s*RENAME\s+TABLES?\s+(.+)$", re.IGNORECASE | re.DOTALL)
_RENAME_PAIR = re.compile(
    r"^\s*([`\"\w.$]+)\s+TO\s+([`\"\w.$]+)\s*$", re.IGNORECASE | re.DOTALL
)
# A statement sqlglot only kept as a raw Command is reported RAW_SQL (not understood) when it
# could be one we model, OTHER_SQL (CREATE TRIGGER, CREATE PROCEDURE, ...) otherwise.
_UNPARSED_DML = frozenset({"RENAME", "TRUNCATE", "UPDATE", "DELETE", "INSERT", "REPLACE"})
_UNPARSED_DDL = frozenset({"ALTER", "CREATE", "DROP"})
_MODELLED_OBJECTS = frozenset({"TABLE", "INDEX", "VIEW", "SEQUENCE", "TYPE", "COLUMN"})



def _quiet_sqlglot() -> None:
    # sqlglot logs a warning each time it falls back to a raw Command; the linter reports
    # those itself, so keep them off stderr unless the user configured the logger.
    logger = logging.getLogger("sqlglot")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.ERROR)


class GlotReader:
    def __init__(self, sql: str, dialect: str, base: Operation):
        _quiet_sqlglot()
        self.sql = sql
        self.base = base
        self.exp = exp
        self.mysql = dialect in ("mysql", "mariadb")
        name = _SQLGLOT_DIALECTS.get(dialect, dialect)
        try:
            self.dialect = Dialect.get_or_raise(name or None)
        except Exception:
            self.dialect = Dialect.get_or_raise(None)

    # - plumbing -

    def run(self) -> List[Operation]:
        try:
            chunks = self.split(self.sql)
            parsed = []
            for text, tokens in chunks:
                exprs = self.dialect.parser().parse(tokens, self.sql)
                parsed.append((text, [e for e in exprs if e is not None]))
        except SqlglotError as exc:
            return [raw_op(self.base, self.sql, one_line(exc))]
        except Exception as exc:
            return [raw_op(self.base, self.sql, one_line(exc))]
        ops: List[Operation] = []
        for text, exprs in parsed:
            for expr in exprs:
                try:
                    made = self.statement(expr, text)
                    compared = self.null_comparison(expr)
                    if compared and made:  # the statement's first operation carries it: one finding
                        made[0].attrs["null_comparison"] = compared
                    ops.extend(made)
                except Exception as exc:
                    ops.append(
                        raw_op(self.base, text, f"could not analyse statement: {one_line(exc)}")
                    )
        return ops

    def null_comparison(self, expr: Any) -> Optional[str]:
        """The first ``x = NULL`` / ``x <> NULL`` in a condition (never true), as written back;
        an UPDATE's SET assignments are not comparisons."""
        exp = self.exp
        if next(expr.find_all(exp.Null), None) is None:
            return None  # no NULL anywhere: nothing to compare with
        assignments = tuple(k for k in (getattr(exp, "OnConflict", None), getattr(exp, "Set", None), getattr(exp, "SetItem", None)) if k is not None)
        for node in expr.find_all(exp.EQ, exp.NEQ):
            if node.arg_key == "expressions" and isinstance(node.parent, exp.Update):
                continue  # SET column = NULL
            if assignments and node.find_ancestor(*assignments) is not None:
                continue  # ON DUPLICATE KEY UPDATE column = NULL, SET @x = NULL: assignments too
            if isinstance(node.left, exp.Null) or isinstance(node.right, exp.Null):
                try:
                    return node.sql(dialect=self.dialect)
                except Exception:
                    return "= NULL"
        return None

    def split(self, sql: str) -> List[Tuple[str, list]]:
        tokens = self.dialect.tokenize(sql)
        chunks: List[Tuple[str, list]] = []
        current: list = []
        for tok in tokens + [None]:
            if tok is None or tok.token_type == TokenType.SEMICOLON:
                if current:
                    text = sql[current[0].start : current[-1].end + 1]
                    chunks.append((clean(text), current))
                current = []
            else:
                current.append(tok)
        return chunks

    def op(self, kind: str, text: str, **fields: Any) -> Operation:
        return make_op(self.base, kind, text, **fields)

    def to_sql(self, node: Any) -> str:
        if node is None:
            return ""
        try:
            return node.sql(dialect=self.dialect)
        except Exception:
            return str(node)

    def ident(self, node: Any) -> Optional[str]:
        """The plain name of an Identifier / Column / Table / Var node."""
        exp = self.exp
        if node is None:
            return None
        if isinstance(node, str):
            return node
        if isinstance(node, exp.Identifier):
            return node.this
        if isinstance(node, (exp.Column, exp.Table)):
            return self.ident(node.this)
        if isinstance(node, exp.Var):
            return node.this
        if isinstance(node, exp.Literal):
            return node.this
        name = getattr(node, "name", None)
        return name if isinstance(name, str) and name else self.to_sql(node)

    def table_of(self, node: Any) -> Tuple[Optional[str], Optional[str]]:
        exp = self.exp
        if isinstance(node, exp.Schema):
            node = node.this
        if isinstance(node, exp.Table):
            db = node.args.get("db")
            return (self.ident(db) if db is not None else None), self.ident(node.this)
        if node is None:
            return None, None
        return None, self.ident(node)

    def type_spec(self, dt: Any) -> Optional[TypeSpec]:
        exp = self.exp
        if dt is None:
            return None
        if not isinstance(dt, exp.DataType):
            return TypeSpec(name=self.to_sql(dt).lower(), text=self.to_sql(dt))
        tval = dt.this
        raw = getattr(tval, "value", None) or str(tval)
        lowered = str(raw).lower()
        text = self.to_sql(dt)
        if lowered == "userdefined" or lowered == "user_defined":
            lowered = text.lower()
        name = _SQLGLOT_TYPE_NAMES.get(lowered, lowered)
        params = []
        labels: List[str] = []
        for p in dt.expressions or ():
            inner = p.this if isinstance(p, exp.DataTypeParam) else p
            if isinstance(inner, exp.Literal):
                if inner.is_string:
                    labels.append(inner.this)
                else:
                    try:
                        params.append(int(inner.this))
                    except ValueError:
                        params.append(None)
        length = precision = scale = None
        if name in LENGTH_TYPES and params:
            length = params[0]
        elif name in NUMERIC_TYPES and params:
            precision = params[0]
            scale = params[1] if len(params) > 1 else None
        elif name in ("timestamp", "timestamptz", "datetime", "time") and params:
            precision = params[0]
        enum_labels = tuple(labels) if name in ("enum", "set") else ()
        return TypeSpec(
            name=name,
            length=length,
            precision=precision,
            scale=scale,
            enum_labels=enum_labels,
            text=text,
        )

    def column_spec(self, cd: Any) -> Tuple[ColumnSpec, list]:
        exp = self.exp
        nullable = None
        primary_key = False
        default = None
        identity = False
        extra = []
        for cc in cd.args.get("constraints") or ():
            kind = cc.args.get("kind") if isinstance(cc, exp.ColumnConstraint) else cc
            if isinstance(kind, exp.NotNullColumnConstraint):
                nullable = True if kind.args.get("allow_null") else False
            elif isinstance(kind, exp.PrimaryKeyColumnConstraint):
                primary_key = True
            elif isinstance(kind, exp.DefaultColumnConstraint):
                default = make_default(self.to_sql(kind.this))
            elif isinstance(kind, exp.AutoIncrementColumnConstraint):
                identity = True
            elif isinstance(kind, exp.GeneratedAsIdentityColumnConstraint):
                if kind.args.get("this") is not None or kind.args.get("expression") is None:
                    identity = True
                else:
                    extra.append(kind)
            elif kind is not None:
                extra.append(kind)
        spec = ColumnSpec(
            name=self.ident(cd.this),
            type=self.type_spec(cd.args.get("kind")),
            nullable=nullable,
            primary_key=primary_key,
            server_default=default,
            identity=identity,
        )
        return spec, extra

    # - statements -

    def statement(self, expr: Any, text: str) -> List[Operation]:
        exp = self.exp
        if isinstance(expr, exp.Command):
            return self.command(expr, text)
        if isinstance(expr, exp.Create):
            return self.create(expr, text)
        if isinstance(expr, exp.Drop):
            return self.drop(expr, text)
        if isinstance(expr, exp.Alter):
            return self.alter(expr, text)
        if isinstance(expr, (exp.Update, exp.Delete)):
            schema, table = self.table_of(expr.this)
            kind = UPDATE_ROWS if isinstance(expr, exp.Update) else DELETE_ROWS
            attrs = {"has_where": expr.args.get("where") is not None}
            return [self.op(kind, text, table=table, schema=schema, attrs=attrs)]
        if isinstance(expr, exp.Insert):
            schema, table = self.table_of(expr.this)
            source = expr.args.get("expression")
            has_where = isinstance(source, exp.Select) and source.args.get("where") is not None
            attrs = {"has_where": has_where, "from_select": isinstance(source, exp.Select)}
            return [self.op(INSERT_ROWS, text, table=table, schema=schema, attrs=attrs)]
        truncate = getattr(exp, "TruncateTable", None)
        if truncate is not None and isinstance(expr, truncate):
            ops = []
            for t in expr.expressions or ():
                schema, table = self.table_of(t)
                ops.append(self.op(TRUNCATE_TABLE, text, table=table, schema=schema))
            return ops
        if isinstance(expr, exp.Set):
            ops = self.set_stmt(expr, text)
            return ops or [other_op(self.base, text, "Set")]
        if isinstance(expr, exp.Select):
            ops = self.set_config(expr, text)
            return ops or [other_op(self.base, text, "Select")]
        if isinstance(expr, (exp.Commit, exp.Rollback)):
            return [self.op(COMMIT, text, attrs={"rollback": isinstance(expr, exp.Rollback)})]
        return [other_op(self.base, text, type(expr).__name__)]

    def command(self, expr: Any, text: str) -> List[Operation]:
        keyword = str(expr.this or "").upper()
        if keyword == "RENAME":
            ops = self.rename_tables(text)
            if ops:
                return ops
        if self.mysql and keyword == "ALTER":
            # ALTER TABLE t CONVERT TO CHARACTER SET cs: every text column changes type, and the
            # table is copied (neutron d553edeb540f); sqlglot does not read it
            convert = _MYSQL_CONVERT_CHARSET.match(text)
            if convert:
                schema, table = convert.group("schema"), convert.group("table")
                return [self.op(ALTER_COLUMN_TYPE, text, table=table, schema=schema, attrs={"convert_to": convert.group("charset")})]
        if self.mysql and keyword in ("CREATE", "DROP", "ALTER"):
            # sqlglot cannot read MySQL's trailing ALGORITHM=/LOCK= index options
            m = _MYSQL_ONLINE_OPTIONS.search(text)
            if m:
                options = {
                    k.lower(): v.upper() for k, v in _MYSQL_ONLINE_OPTION.findall(m.group(0))
                }
                ops = self.reparse(text[: m.start()])
                if ops is not None:
                    for op in ops:
                        op.attrs.update(options)
                        op.sql = text
                    return ops
        rest = expr.args.get("expression")
        rest = str(getattr(rest, "this", rest) or "")
        words = [w.upper() for w in rest.split()[:5]]
        if keyword in _UNPARSED_DML or (
            keyword in _UNPARSED_DDL and any(w in _MODELLED_OBJECTS for w in words)
        ):
            what = " ".join([keyword] + words[:1])
            reason = f"the sqlglot {self.dialect.__class__.__name__} parser could not read this {what} statement"
            return [make_op(self.base, RAW_SQL, text, attrs={"reason": reason})]
        statement = " ".join([keyword] + [w for w in words[:1] if w.isalpha()])
        return [other_op(self.base, text, statement or "Command")]

    def reparse(self, text: str) -> Optional[List[Operation]]:
        try:
            chunks = self.split(text)
            if len(chunks) != 1:
                return None
            exprs = self.dialect.parser().parse(chunks[0][1], text)
        except Exception:
            return None
        exprs = [e for e in exprs if e is not None]
        if len(exprs) != 1 or isinstance(exprs[0], self.exp.Command):
            return None
        return self.statement(exprs[0], clean(text))

    def rename_tables(self, text: str) -> List[Operation]:
        m = _RENAME_TABLE.match(text)
        if not m:
            return []
        ops = []
        for pair in m.group(1).split(","):
            pm = _RENAME_PAIR.match(pair)
            if not pm:
                return []
            old = [p.strip("`\"") for p in pm.group(1).split(".")]
            new = [p.strip("`\"") for p in pm.group(2).split(".")]
            schema, table = split_name(old)
            ops.append(self.op(RENAME_TABLE, text, table=table, schema=schema, attrs={"new_name": new[-1]}))
        return ops

    def create(self, expr: Any, text: str) -> List[Operation]:
        exp = self.exp
        kind = str(expr.args.get("kind") or "").upper()
        exists = bool(expr.args.get("exists"))
        target = expr.this
        if kind == "TABLE":
            schema, table = self.table_of(target)
            cols: List[ColumnSpec] = []
            pk_cols: set = set()
            if isinstance(target, exp.Schema):
                for e in target.expressions or ():
                    if isinstance(e, exp.ColumnDef):
                        cols.append(self.column_spec(e)[0])
                    elif isinstance(e, exp.PrimaryKey):
                        pk_cols.update(self.ident(c) for c in e.expressions)
            if pk_cols:
                cols = [
                    dataclasses.replace(c, primary_key=True) if c.name in pk_cols else c
                    for c in cols
                ]
            properties = expr.args.get("properties")
            temporary = bool(properties and any(isinstance(p, exp.TemporaryProperty) for p in properties.expressions or ()))
            attrs: dict = {"if_not_exists": exists, "temporary": temporary}
            if expr.args.get("expression") is not None:
                attrs["as_select"] = True
            return [
                self.op(CREATE_TABLE, text, table=table, schema=schema, table_columns=tuple(cols), attrs=attrs)
            ]
        if kind == "INDEX" and isinstance(target, exp.Index):
            schema, table = self.table_of(target.args.get("table"))
            params = target.args.get("params")
            columns = []
            where = None
            using = None
            if params is not None:
                for col in params.args.get("columns") or ():
                    columns.append(self.index_column(col))
                w = params.args.get("where")
                where = self.to_sql(w.this if isinstance(w, exp.Where) else w) if w is not None else None
                u = params.args.get("using")
                using = self.ident(u) if u is not None else None
            attrs = {
                "unique": bool(expr.args.get("unique")),
                "concurrently": bool(expr.args.get("concurrently")),
                "if_not_exists": exists,
                "where": where,
            }
            if using:
                attrs["using"] = using
            return [
                self.op(
                    CREATE_INDEX,
                    text,
                    name=self.ident(target.this),
                    table=table,
                    schema=schema,
                    columns=tuple(columns),
                    attrs=attrs,
                )
            ]
        if kind == "VIEW":
            schema, name = self.table_of(target)
            attrs = {
                "materialized": _has_materialized(expr, exp),
                "replace": bool(expr.args.get("replace")),
            }
            return [self.op(CREATE_VIEW, text, name=name, schema=schema, attrs=attrs)]
        if kind == "SEQUENCE":
            schema, name = self.table_of(target)
            return [self.op(CREATE_SEQUENCE, text, name=name, schema=schema, attrs={"if_not_exists": exists})]
        return [other_op(self.base, text, f"Create{kind.title()}" if kind else "Create")]

    def index_column(self, col: Any) -> str:
        exp = self.exp
        node = col.this if isinstance(col, exp.Ordered) else col
        if isinstance(node, (exp.Column, exp.Identifier)):
            return self.ident(node)
        # MySQL prefix index ``col(10)`` reads as a call to a function named col
        if (
            self.mysql
            and isinstance(node, exp.Anonymous)
            and len(node.expressions) == 1
            and isinstance(node.expressions[0], exp.Literal)
            and not node.expressions[0].is_string
        ):
            return str(node.this)
        return self.to_sql(node)

    def drop(self, expr: Any, text: str) -> List[Operation]:
        kind = str(expr.args.get("kind") or "").upper()
        exists = bool(expr.args.get("exists"))
        materialized = bool(expr.args.get("materialized"))
        mapping = {
            "TABLE": DROP_TABLE,
            "INDEX": DROP_INDEX,
            "TYPE": DROP_TYPE,
            "SEQUENCE": DROP_SEQUENCE,
            "VIEW": DROP_VIEW,
        }
        op_kind = mapping.get(kind)
        if op_kind is None:
            return [other_op(self.base, text, f"Drop{kind.title()}" if kind else "Drop")]
        ops = []
        for t in expr.args.get("tables") or ([expr.this] if expr.this is not None else []):
            schema, name = self.table_of(t)
            attrs: dict = {"if_exists": exists, "cascade": bool(expr.args.get("cascade"))}
            if op_kind == DROP_TABLE:
                ops.append(self.op(op_kind, text, table=name, schema=schema, attrs=attrs))
                continue
            table = None
            if op_kind == DROP_INDEX:
                attrs["concurrently"] = bool(expr.args.get("concurrently"))
                on = expr.args.get("cluster")
                if on is not None:
                    _tschema, table = self.table_of(getattr(on, "this", on))
            if materialized:
                attrs["materialized"] = True
            ops.append(self.op(op_kind, text, name=name, schema=schema, table=table, attrs=attrs))
        return ops

    def alter(self, expr: Any, text: str) -> List[Operation]:
        exp = self.exp
        kind = str(expr.args.get("kind") or "").upper()
        if kind != "TABLE":
            return [other_op(self.base, text, f"Alter{kind.title()}" if kind else "Alter")]
        schema, table = self.table_of(expr.this)
        where = {"table": table, "schema": schema}
        options = {}
        for opt in expr.args.get("options") or ():
            if isinstance(opt, exp.AlgorithmProperty):
                options["algorithm"] = self.ident(opt.this).upper()
            elif isinstance(opt, exp.LockProperty):
                options["lock"] = self.ident(opt.this).upper()
        ops: List[Operation] = []
        for action in expr.args.get("actions") or ():
            ops.extend(self.alter_action(action, text, where))
        if not ops:  # only table options (MySQL ENGINE=..., which rebuilds the table)
            ops.append(make_op(self.base, OTHER_SQL, text, attrs={"statement": "Alter"}, **where))
        for op in ops:
            op.attrs.update(options)
        return ops

    def alter_action(self, action: Any, text: str, where: dict) -> List[Operation]:
        exp = self.exp
        if isinstance(action, exp.ColumnDef):
            spec, extra = self.column_spec(action)
            attrs = {"if_not_exists": bool(action.args.get("exists"))}
            ops = [self.op(ADD_COLUMN, text, column=spec, columns=(spec.name,), attrs=attrs, **where)]
            for con in extra:
                op = self.constraint(con, None, text, where, columns=(spec.name,))
                if op is not None:
                    op.attrs["inline"] = True
                    ops.append(op)
            return ops
        modify = getattr(exp, "ModifyColumn", None)
        if modify is not None and isinstance(action, modify):
            return self.modify_column(action, text, where)
        if isinstance(action, exp.AlterColumn):
            return self.alter_column(action, text, where)
        if isinstance(action, exp.Drop):
            return self.alter_drop(action, text, where)
        if isinstance(action, exp.AddConstraint):
            ops = []
            for con in action.expressions or ():
                op = self.table_constraint(con, text, where)
                ops.append(op if op is not None else other_op(self.base, text, type(con).__name__))
            return ops
        if isinstance(action, exp.RenameColumn):
            old = self.ident(action.this)
            new = self.ident(action.args.get("to"))
            return [self.op(RENAME_COLUMN, text, columns=(old,), attrs={"new_name": new}, **where)]
        if isinstance(action, exp.AlterRename):
            _schema, new = self.table_of(action.this)
            return [self.op(RENAME_TABLE, text, attrs={"new_name": new}, **where)]
        drop_pk = getattr(exp, "DropPrimaryKey", None)
        if drop_pk is not None and isinstance(action, drop_pk):
            # MySQL/MariaDB name every primary key PRIMARY: DROP PRIMARY KEY needs no other name
            return [self.op(DROP_CONSTRAINT, text, name="PRIMARY", attrs={"type": "primary"}, **where)]
        return [other_op(self.base, text, "Alter", subcommand=type(action).__name__)]

    def modify_column(self, action: Any, text: str, where: dict) -> List[Operation]:
        cd = action.this
        spec, _extra = self.column_spec(cd)
        rename_from = action.args.get("rename_from")
        old = self.ident(rename_from) if rename_from is not None else spec.name
        attrs = {"type": spec.type, "existing_type": None, "using": None, "redefine": True}
        ops = [self.op(ALTER_COLUMN_TYPE, text, columns=(old,), column=spec, attrs=attrs, **where)]
        if spec.nullable is False:
            ops.append(self.op(SET_NOT_NULL, text, columns=(old,), **where))
        elif spec.nullable is True:
            ops.append(self.op(DROP_NOT_NULL, text, columns=(old,), **where))
        if spec.server_default is not None:
            ops.append(
                self.op(SET_DEFAULT, text, columns=(old,), attrs={"default": spec.server_default}, **where)
            )
        if old != spec.name:
            ops.append(self.op(RENAME_COLUMN, text, columns=(old,), attrs={"new_name": spec.name}, **where))
        return ops

    def alter_column(self, action: Any, text: str, where: dict) -> List[Operation]:
        col = self.ident(action.this)
        args = action.args
        cols = (col,)
        if args.get("dtype") is not None:
            using = args.get("using")
            attrs = {
                "type": self.type_spec(args.get("dtype")),
                "existing_type": None,
                "using": self.to_sql(using) if using is not None else None,
            }
            return [self.op(ALTER_COLUMN_TYPE, text, columns=cols, attrs=attrs, **where)]
        if args.get("default") is not None:
            attrs = {"default": make_default(self.to_sql(args.get("default")))}
            return [self.op(SET_DEFAULT, text, columns=cols, attrs=attrs, **where)]
        allow_null = args.get("allow_null")
        if allow_null is not None:
            if args.get("drop") and allow_null:
                return [self.op(DROP_NOT_NULL, text, columns=cols, **where)]
            if not allow_null:
                return [self.op(SET_NOT_NULL, text, columns=cols, **where)]
        if args.get("drop"):
            return [self.op(DROP_DEFAULT, text, columns=cols, **where)]
        return [other_op(self.base, text, "AlterColumn")]

    def alter_drop(self, action: Any, text: str, where: dict) -> List[Operation]:
        kind = str(action.args.get("kind") or "").upper()
        exists = bool(action.args.get("exists"))
        names = [self.table_of(t)[1] for t in action.args.get("tables") or ()]
        if not names and action.this is not None:
            names = [self.ident(action.this)]
        if kind == "COLUMN":
            attrs = {"if_exists": exists, "cascade": bool(action.args.get("cascade"))}
            return [self.op(DROP_COLUMN, text, columns=(n,), attrs=dict(attrs), **where) for n in names]
        if kind in ("INDEX", "KEY"):
            return [
                self.op(DROP_INDEX, text, name=n, attrs={"if_exists": exists, "concurrently": False}, **where)
                for n in names
            ]
        ctype = {
            "CONSTRAINT": None,
            "FOREIGN KEY": "foreignkey",
            "CHECK": "check",
            "PRIMARY KEY": "primary",
            "UNIQUE": "unique",
        }
        if kind in ctype:
            return [
                self.op(DROP_CONSTRAINT, text, name=n, attrs={"type": ctype[kind], "if_exists": exists}, **where)
                for n in names
            ]
        return [other_op(self.base, text, "Alter", subcommand=f"Drop{kind.title()}")]

    def table_constraint(self, con: Any, text: str, where: dict) -> Optional[Operation]:
        exp = self.exp
        name = None
        if isinstance(con, exp.Constraint):
            name = self.ident(con.this)
            inner = con.expressions[0] if con.expressions else None
        else:
            inner = con
        if inner is None:
            return None
        return self.constraint(inner, name, text, where)

    def constraint(
        self, inner: Any, name: Optional[str], text: str, where: dict, columns: Tuple[str, ...] = ()
    ) -> Optional[Operation]:
        exp = self.exp
        if isinstance(inner, exp.ColumnConstraint):
            name = name or (self.ident(inner.this) if inner.this is not None else None)
            inner = inner.args.get("kind")
        not_valid = False
        if isinstance(inner, exp.ForeignKey):
            cols = tuple(self.ident(c) for c in inner.expressions) or columns
            ref = inner.args.get("reference")
            ref_schema = ref_table = None
            ref_cols: Tuple[str, ...] = ()
            if ref is not None:
                target = ref.this
                ref_schema, ref_table = self.table_of(target)
                if isinstance(target, exp.Schema):
                    ref_cols = tuple(self.ident(c) for c in target.expressions)
            attrs = {
                "ref_table": ref_table,
                "ref_schema": ref_schema,
                "ref_columns": ref_cols,
                "not_valid": not_valid,
            }
            return self.op(CREATE_FOREIGN_KEY, text, name=name, columns=cols, attrs=attrs, **where)
        if isinstance(inner, exp.Reference):  # inline REFERENCES on a column
            ref_schema, ref_table = self.table_of(inner.this)
            ref_cols = ()
            if isinstance(inner.this, exp.Schema):
                ref_cols = tuple(self.ident(c) for c in inner.this.expressions)
            attrs = {
                "ref_table": ref_table,
                "ref_schema": ref_schema,
                "ref_columns": ref_cols,
                "not_valid": False,
            }
            return self.op(CREATE_FOREIGN_KEY, text, name=name, columns=columns, attrs=attrs, **where)
        if isinstance(inner, exp.UniqueColumnConstraint):
            cols = columns
            target = inner.this
            if isinstance(target, exp.Schema):
                name = name or (self.ident(target.this) if target.this is not None else None)
                cols = tuple(self.ident(c) for c in target.expressions) or columns
            elif target is not None:
                name = name or self.ident(target)
            return self.op(
                CREATE_UNIQUE_CONSTRAINT, text, name=name, columns=cols, attrs={"using_index": None}, **where
            )
        if isinstance(inner, (exp.PrimaryKey, exp.PrimaryKeyColumnConstraint)):
            cols = tuple(self.ident(c) for c in (inner.expressions or ())) or columns
            return self.op(CREATE_PRIMARY_KEY, text, name=name, columns=cols, attrs={"using_index": None}, **where)
        if isinstance(inner, exp.CheckColumnConstraint):
            attrs = {"condition": self.to_sql(inner.this), "not_valid": False}
            return self.op(CREATE_CHECK_CONSTRAINT, text, name=name, columns=columns, attrs=attrs, **where)
        if isinstance(inner, exp.IndexColumnConstraint):
            cols = tuple(self.index_column(c) for c in inner.expressions or ())
            kind_text = str(inner.args.get("kind") or "").upper()
            idx_name = self.ident(inner.this) if inner.this is not None else name
            if kind_text == "UNIQUE":
                return self.op(
                    CREATE_UNIQUE_CONSTRAINT, text, name=idx_name, columns=cols, attrs={"using_index": None}, **where
                )
            attrs = {
                "unique": False,
                "concurrently": False,
                "if_not_exists": False,
                "where": None,
            }
            if kind_text:
                attrs["using"] = kind_text.lower()
            return self.op(CREATE_INDEX, text, name=idx_name, columns=cols, attrs=attrs, **where)
        return None

    def set_stmt(self, expr: Any, text: str) -> List[Operation]:
        exp = self.exp
        ops = []
        for item in expr.expressions or ():
            if not isinstance(item, exp.SetItem):
                continue
            eq = item.this
            if not isinstance(eq, exp.EQ):
                continue
            target = eq.this
            scope = str(item.args.get("kind") or "").upper()
            if isinstance(target, exp.SessionParameter):
                scope = str(target.args.get("kind") or scope).upper()
                var = self.ident(target.this)
            else:
                var = self.ident(target)
            var = (var or "").lower()
            value_node = eq.expression
            value = value_node.this if isinstance(value_node, exp.Literal) else self.to_sql(value_node)
            value = str(value)
            if var in _MYSQL_TIMEOUTS and (self.mysql or var not in TIMEOUT_SETTINGS):
                setting = _MYSQL_TIMEOUTS[var]
                attrs = {
                    "setting": setting,
                    "value": f"{value}s" if _is_number(value) else value,
                    "local": False,
                    "variable": var,
                }
            elif var in TIMEOUT_SETTINGS:
                attrs = {"setting": var, "value": value, "local": scope == "LOCAL"}
            else:
                continue
            if scope == "GLOBAL":
                attrs["global"] = True
            ops.append(self.op(SET_TIMEOUT, text, attrs=attrs))
        return ops

    def set_config(self, expr: Any, text: str) -> List[Operation]:
        exp = self.exp
        if expr.args.get("from") is not None or expr.args.get("from_") is not None:
            return []
        ops = []
        for e in expr.expressions or ():
            if isinstance(e, exp.Alias):
                e = e.this
            if not isinstance(e, exp.Anonymous) or str(e.this).lower() != "set_config":
                continue
            args = e.expressions
            if len(args) != 3 or not all(isinstance(a, exp.Literal) for a in args[:2]):
                continue
            setting = str(args[0].this).lower()
            if setting not in TIMEOUT_SETTINGS:
                continue
            local = isinstance(args[2], exp.Boolean) and bool(args[2].this)
            attrs = {"setting": setting, "value": str(args[1].this), "local": local}
            ops.append(self.op(SET_TIMEOUT, text, attrs=attrs))
        return ops



def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _has_materialized(expr: Any, exp: Any) -> bool:
    props = expr.args.get("properties")
    if props is None:
        return False
    return any(isinstance(p, exp.MaterializedProperty) for p in props.expressions or ())

