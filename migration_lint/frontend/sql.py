"""SQL text front end: the statements passed to ``op.execute(...)`` as normalised operations.

PostgreSQL is read with pglast (the real PostgreSQL parser); every other dialect with sqlglot.
Both parsers are imported lazily, so importing this module stays cheap.

``sql_to_operations`` never raises: SQL that cannot be parsed becomes one ``RAW_SQL`` operation
whose ``attrs['reason']`` is the parser's message; statements that parse but are not modelled
(GRANT, COMMENT ON, CREATE FUNCTION, DO blocks, SELECT ...) become ``OTHER_SQL`` operations with
``attrs['statement']`` naming the parsed node.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import Any, Iterable, List, Optional, Tuple

from migration_lint.model import (
    ADD_COLUMN,
    ALTER_COLUMN_TYPE,
    ALTER_TYPE,
    CREATE_CHECK_CONSTRAINT,
    CREATE_EXCLUDE_CONSTRAINT,
    CREATE_FOREIGN_KEY,
    CREATE_INDEX,
    CREATE_PRIMARY_KEY,
    CREATE_SEQUENCE,
    CREATE_TABLE,
    CREATE_TYPE,
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
    VALIDATE_CONSTRAINT,
    ColumnSpec,
    Operation,
    TypeSpec,
    make_default,
)

__all__ = ["sql_to_operations"]

TIMEOUT_SETTINGS = ("lock_timeout", "statement_timeout")

# MySQL / MariaDB session variables that play the part of PostgreSQL's timeouts (in seconds).
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

_PG_TYPE_NAMES = {
    "int4": "integer",
    "int": "integer",
    "int8": "bigint",
    "int2": "smallint",
    "float8": "double precision",
    "float4": "real",
    "bool": "boolean",
    "bpchar": "char",
    "varbit": "bit varying",
}

_PG_SERIALS = {
    "serial": "integer",
    "serial4": "integer",
    "bigserial": "bigint",
    "serial8": "bigint",
    "smallserial": "smallint",
    "serial2": "smallint",
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

# Types whose single parameter is a length, and those with precision/scale.
_LENGTH_TYPES = frozenset(
    {"varchar", "char", "nvarchar", "nchar", "binary", "varbinary", "bit", "bit varying"}
)
_NUMERIC_TYPES = frozenset({"numeric", "decimal"})

_STRIP_TRAILING_SEMICOLONS = re.compile(r"[\s;]+$")
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
_TOKEN_REPR = re.compile(r"<Token token_type: [\w.]+, text: (.*?), line: \d+, col: \d+, start: \d+, end: \d+, comments: \[.*?\]>")


def sql_to_operations(sql: str, dialect: str, base: Operation) -> List[Operation]:
    """Normalised operations for the SQL text of one ``op.execute`` call.

    ``dialect`` is 'postgresql', 'mysql' (MariaDB too), 'sqlite' or any dialect sqlglot knows
    (an unknown one is read with sqlglot's generic parser).  Results are copies of ``base``
    (position, phase, context, dialect guards, call) with ``source='sql'`` and ``sql`` set to the
    statement's text.
    """
    if not isinstance(sql, str) or not sql.strip():
        return []
    dialect = (dialect or "").lower()
    try:
        if dialect in ("postgresql", "postgres", "pg"):
            return _PgReader(sql, base).run()
        return _GlotReader(sql, dialect, base).run()
    except Exception as exc:  # never raise: the linter must keep going
        return [_raw(base, sql, f"could not analyse SQL: {_one_line(exc)}")]


# --- shared helpers ----------------------------------------------------------------------------


def _one_line(exc: Any) -> str:
    text = str(exc).strip() or type(exc).__name__
    text = _TOKEN_REPR.sub(lambda m: repr(m.group(1)), text)  # sqlglot's token dumps
    return text.splitlines()[0].strip()


def _clean(text: str) -> str:
    return _STRIP_TRAILING_SEMICOLONS.sub("", text.strip())


def _make(base: Operation, kind: str, text: str, **fields: Any) -> Operation:
    values = {
        "table": None,
        "schema": None,
        "name": None,
        "columns": (),
        "column": None,
        "table_columns": (),
        "attrs": {},
    }
    values.update(fields)
    return dataclasses.replace(base, kind=kind, source="sql", sql=text, **values)


def _raw(base: Operation, sql: str, reason: str) -> Operation:
    return _make(base, RAW_SQL, _clean(sql), attrs={"reason": reason})


def _other(base: Operation, text: str, statement: str, **attrs: Any) -> Operation:
    attrs = {"statement": statement, **attrs}
    return _make(base, OTHER_SQL, text, attrs=attrs)


def _split_name(parts: Iterable[str]) -> Tuple[Optional[str], Optional[str]]:
    parts = [p for p in parts if p is not None]
    if not parts:
        return None, None
    name = parts[-1]
    schema = parts[-2] if len(parts) >= 2 else None
    return schema, name


# --- PostgreSQL (pglast) -----------------------------------------------------------------------


class _PgReader:
    def __init__(self, sql: str, base: Operation):
        self.sql = sql
        self.base = base
        import pglast  # noqa: F401  (lazy: pglast loads a C extension)
        from pglast import ast, enums
        from pglast.stream import RawStream

        self.ast = ast
        self.enums = enums
        self._stream = RawStream

    # - plumbing -

    def run(self) -> List[Operation]:
        from pglast import parse_sql
        from pglast.parser import ParseError

        try:
            stmts = parse_sql(self.sql)
        except ParseError as exc:
            return [_raw(self.base, self.sql, _one_line(exc))]
        except Exception as exc:  # pglast raises a few other kinds on odd input
            return [_raw(self.base, self.sql, _one_line(exc))]
        ops: List[Operation] = []
        for raw in stmts or ():
            text = self._text(raw)
            try:
                ops.extend(self.statement(raw.stmt, text))
            except Exception as exc:
                ops.append(
                    _raw(self.base, text, f"could not analyse statement: {_one_line(exc)}")
                )
        return ops

    def _text(self, raw: Any) -> str:
        start = getattr(raw, "stmt_location", 0) or 0
        length = getattr(raw, "stmt_len", 0) or 0
        text = self.sql[start : start + length] if length else self.sql[start:]
        return _clean(text)

    def deparse(self, node: Any) -> str:
        if node is None:
            return ""
        try:
            return self._stream()(node)
        except Exception:
            return ""

    def op(self, kind: str, text: str, **fields: Any) -> Operation:
        return _make(self.base, kind, text, **fields)

    @staticmethod
    def strings(nodes: Any) -> List[str]:
        out = []
        for n in nodes or ():
            sval = getattr(n, "sval", None)
            if sval is None:
                sval = getattr(n, "str", None)  # pglast < 5
            if sval is not None:
                out.append(sval)
        return out

    @staticmethod
    def rangevar(rv: Any) -> Tuple[Optional[str], Optional[str]]:
        if rv is None:
            return None, None
        return getattr(rv, "schemaname", None), getattr(rv, "relname", None)

    def type_spec(self, tn: Any) -> Tuple[Optional[TypeSpec], bool]:
        """(TypeSpec, is_serial) for a TypeName node."""
        if tn is None:
            return None, False
        names = self.strings(tn.names)
        if names and names[0] == "pg_catalog" and len(names) > 1:
            names = names[1:]
        raw = names[-1] if names else ""
        lowered = raw.lower()
        serial = lowered in _PG_SERIALS
        if serial:
            name = _PG_SERIALS[lowered]
        else:
            name = _PG_TYPE_NAMES.get(lowered, lowered)
        mods = []
        for m in tn.typmods or ():
            val = getattr(getattr(m, "val", None), "ival", None)
            mods.append(val)
        length = precision = scale = None
        if name in _LENGTH_TYPES and mods:
            length = mods[0]
        elif name in _NUMERIC_TYPES and mods:
            precision = mods[0]
            scale = mods[1] if len(mods) > 1 else None
        elif mods and name in ("timestamp", "timestamptz", "time", "timetz", "interval"):
            precision = mods[0]
        if getattr(tn, "arrayBounds", None):
            name += "[]"
        text = raw if serial else (self.deparse(tn) or raw)
        return TypeSpec(name=name, length=length, precision=precision, scale=scale, text=text), serial

    def column_spec(self, cd: Any) -> Tuple[ColumnSpec, list]:
        """ColumnSpec for a ColumnDef plus its inline constraints other than NULL/DEFAULT/PK."""
        C = self.enums.ConstrType
        typ, serial = self.type_spec(cd.typeName)
        nullable = None
        if getattr(cd, "is_not_null", False):
            nullable = False
        primary_key = False
        default = None
        identity = serial or bool((getattr(cd, "identity", "") or "").strip("\x00"))
        extra = []
        for con in cd.constraints or ():
            ct = con.contype
            if ct == C.CONSTR_NOTNULL:
                nullable = False
            elif ct == C.CONSTR_NULL:
                nullable = True
            elif ct == C.CONSTR_PRIMARY:
                primary_key = True
            elif ct == C.CONSTR_DEFAULT:
                text = self.deparse(con.raw_expr)
                default = make_default(text) if text else None
            elif ct == C.CONSTR_IDENTITY:
                identity = True
            else:
                extra.append(con)
        spec = ColumnSpec(
            name=cd.colname,
            type=typ,
            nullable=nullable,
            primary_key=primary_key,
            server_default=default,
            identity=identity,
        )
        return spec, extra

    # - statements -

    def statement(self, node: Any, text: str) -> List[Operation]:
        handler = getattr(self, "_" + type(node).__name__, None)
        if handler is None:
            return [_other(self.base, text, type(node).__name__)]
        return handler(node, text)

    def _CreateStmt(self, node: Any, text: str) -> List[Operation]:
        schema, table = self.rangevar(node.relation)
        C = self.enums.ConstrType
        cols: List[ColumnSpec] = []
        pk_cols: set = set()
        for elt in node.tableElts or ():
            if isinstance(elt, self.ast.ColumnDef):
                spec, _extra = self.column_spec(elt)
                cols.append(spec)
            elif isinstance(elt, self.ast.Constraint) and elt.contype == C.CONSTR_PRIMARY:
                pk_cols.update(self.strings(elt.keys))
        if pk_cols:
            cols = [
                dataclasses.replace(c, primary_key=True) if c.name in pk_cols else c for c in cols
            ]
        attrs = {"if_not_exists": bool(node.if_not_exists)}
        if getattr(node, "partbound", None) is not None:
            attrs["partition_of"] = True
        return [
            self.op(CREATE_TABLE, text, table=table, schema=schema, table_columns=tuple(cols), attrs=attrs)
        ]

    def _CreateTableAsStmt(self, node: Any, text: str) -> List[Operation]:
        O = self.enums.ObjectType
        into = node.into
        schema, name = self.rangevar(getattr(into, "rel", None))
        objtype = getattr(node, "objtype", None)
        if objtype is None:
            objtype = getattr(node, "relkind", None)
        if objtype == O.OBJECT_MATVIEW:
            attrs = {"materialized": True, "if_not_exists": bool(node.if_not_exists)}
            attrs["with_data"] = not bool(getattr(into, "skipData", False))
            return [self.op(CREATE_VIEW, text, name=name, schema=schema, attrs=attrs)]
        attrs = {"if_not_exists": bool(node.if_not_exists), "as_select": True}
        return [self.op(CREATE_TABLE, text, table=name, schema=schema, attrs=attrs)]

    def _ViewStmt(self, node: Any, text: str) -> List[Operation]:
        schema, name = self.rangevar(node.view)
        attrs = {"materialized": False, "replace": bool(node.replace)}
        return [self.op(CREATE_VIEW, text, name=name, schema=schema, attrs=attrs)]

    def _CreateSeqStmt(self, node: Any, text: str) -> List[Operation]:
        schema, name = self.rangevar(node.sequence)
        attrs = {"if_not_exists": bool(node.if_not_exists)}
        return [self.op(CREATE_SEQUENCE, text, name=name, schema=schema, attrs=attrs)]

    def _CreateEnumStmt(self, node: Any, text: str) -> List[Operation]:
        schema, name = _split_name(self.strings(node.typeName))
        labels = tuple(self.strings(node.vals))
        attrs = {"labels": labels, "implicit": False}
        return [self.op(CREATE_TYPE, text, name=name, schema=schema, attrs=attrs)]

    def _AlterEnumStmt(self, node: Any, text: str) -> List[Operation]:
        schema, name = _split_name(self.strings(node.typeName))
        if getattr(node, "oldVal", None):
            attrs = {"action": "rename_value", "old_value": node.oldVal, "value": node.newVal}
        else:
            attrs = {
                "action": "add_value",
                "value": node.newVal,
                "if_not_exists": bool(node.skipIfNewValExists),
            }
            if getattr(node, "newValNeighbor", None):
                key = "after" if node.newValIsAfter else "before"
                attrs[key] = node.newValNeighbor
        return [self.op(ALTER_TYPE, text, name=name, schema=schema, attrs=attrs)]

    def _IndexStmt(self, node: Any, text: str) -> List[Operation]:
        schema, table = self.rangevar(node.relation)
        columns = []
        for elem in node.indexParams or ():
            if getattr(elem, "name", None):
                columns.append(elem.name)
            else:
                columns.append(self.deparse(elem.expr))
        attrs = {
            "unique": bool(node.unique),
            "concurrently": bool(node.concurrent),
            "if_not_exists": bool(node.if_not_exists),
            "where": self.deparse(node.whereClause) or None,
        }
        method = getattr(node, "accessMethod", None)
        if method and method != "btree":
            attrs["using"] = method
        return [
            self.op(
                CREATE_INDEX,
                text,
                name=node.idxname,
                table=table,
                schema=schema,
                columns=tuple(columns),
                attrs=attrs,
            )
        ]

    def _DropStmt(self, node: Any, text: str) -> List[Operation]:
        O = self.enums.ObjectType
        kind_by_type = {
            O.OBJECT_TABLE: DROP_TABLE,
            O.OBJECT_INDEX: DROP_INDEX,
            O.OBJECT_TYPE: DROP_TYPE,
            O.OBJECT_SEQUENCE: DROP_SEQUENCE,
            O.OBJECT_VIEW: DROP_VIEW,
            O.OBJECT_MATVIEW: DROP_VIEW,
        }
        kind = kind_by_type.get(node.removeType)
        if kind is None:
            return [_other(self.base, text, "DropStmt", object=_enum_name(node.removeType))]
        cascade = node.behavior == self.enums.DropBehavior.DROP_CASCADE
        ops = []
        for obj in node.objects or ():
            if isinstance(obj, self.ast.TypeName):
                parts = self.strings(obj.names)
            elif isinstance(obj, (list, tuple)):
                parts = self.strings(obj)
            else:
                parts = self.strings([obj])
            schema, name = _split_name(parts)
            attrs: dict = {"if_exists": bool(node.missing_ok), "cascade": cascade}
            if kind == DROP_TABLE:
                ops.append(self.op(kind, text, table=name, schema=schema, attrs=attrs))
            else:
                if kind == DROP_INDEX:
                    attrs["concurrently"] = bool(node.concurrent)
                if node.removeType == O.OBJECT_MATVIEW:
                    attrs["materialized"] = True
                ops.append(self.op(kind, text, name=name, schema=schema, attrs=attrs))
        return ops

    def _RenameStmt(self, node: Any, text: str) -> List[Operation]:
        O = self.enums.ObjectType
        schema, table = self.rangevar(node.relation)
        if node.renameType == O.OBJECT_COLUMN and node.relationType == O.OBJECT_TABLE:
            return [
                self.op(
                    RENAME_COLUMN,
                    text,
                    table=table,
                    schema=schema,
                    columns=(node.subname,),
                    attrs={"new_name": node.newname},
                )
            ]
        if node.renameType == O.OBJECT_TABLE:
            return [
                self.op(RENAME_TABLE, text, table=table, schema=schema, attrs={"new_name": node.newname})
            ]
        return [_other(self.base, text, "RenameStmt", object=_enum_name(node.renameType))]

    def _TruncateStmt(self, node: Any, text: str) -> List[Operation]:
        ops = []
        for rv in node.relations or ():
            schema, table = self.rangevar(rv)
            attrs = {"cascade": node.behavior == self.enums.DropBehavior.DROP_CASCADE}
            ops.append(self.op(TRUNCATE_TABLE, text, table=table, schema=schema, attrs=attrs))
        return ops

    def _UpdateStmt(self, node: Any, text: str) -> List[Operation]:
        schema, table = self.rangevar(node.relation)
        attrs = {"has_where": node.whereClause is not None}
        return [self.op(UPDATE_ROWS, text, table=table, schema=schema, attrs=attrs)]

    def _DeleteStmt(self, node: Any, text: str) -> List[Operation]:
        schema, table = self.rangevar(node.relation)
        attrs = {"has_where": node.whereClause is not None}
        return [self.op(DELETE_ROWS, text, table=table, schema=schema, attrs=attrs)]

    def _InsertStmt(self, node: Any, text: str) -> List[Operation]:
        schema, table = self.rangevar(node.relation)
        select = node.selectStmt
        has_where = select is not None and getattr(select, "whereClause", None) is not None
        attrs = {"has_where": has_where, "from_select": bool(select is not None and not getattr(select, "valuesLists", None))}
        return [self.op(INSERT_ROWS, text, table=table, schema=schema, attrs=attrs)]

    def _VariableSetStmt(self, node: Any, text: str) -> List[Operation]:
        K = self.enums.VariableSetKind
        setting = (node.name or "").lower()
        if setting not in TIMEOUT_SETTINGS:
            return [_other(self.base, text, "VariableSetStmt", setting=node.name)]
        if node.kind == K.VAR_SET_VALUE:
            values = []
            for arg in node.args or ():
                val = getattr(arg, "val", None)
                for attr in ("sval", "ival", "fval", "str"):
                    if getattr(val, attr, None) is not None:
                        values.append(str(getattr(val, attr)))
                        break
                else:
                    values.append(self.deparse(arg))
            value: Optional[str] = ", ".join(values)
        elif node.kind in (K.VAR_SET_DEFAULT, K.VAR_RESET):
            value = "DEFAULT"
        else:
            return [_other(self.base, text, "VariableSetStmt", setting=node.name)]
        attrs = {"setting": setting, "value": value, "local": bool(node.is_local)}
        return [self.op(SET_TIMEOUT, text, attrs=attrs)]

    def _SelectStmt(self, node: Any, text: str) -> List[Operation]:
        ops = []
        if node.fromClause is None and node.targetList:
            for target in node.targetList:
                call = getattr(target, "val", None)
                if not isinstance(call, self.ast.FuncCall):
                    continue
                fname = self.strings(call.funcname)
                if not fname or fname[-1].lower() != "set_config" or len(call.args or ()) != 3:
                    continue
                args = []
                for a in call.args:
                    val = getattr(a, "val", None)
                    if getattr(val, "sval", None) is not None:
                        args.append(val.sval)
                    elif getattr(val, "boolval", None) is not None:
                        args.append(bool(val.boolval))
                    elif getattr(val, "ival", None) is not None:
                        args.append(str(val.ival))
                    else:
                        args.append(None)
                setting = (args[0] or "").lower() if isinstance(args[0], str) else ""
                if setting in TIMEOUT_SETTINGS and isinstance(args[1], str):
                    attrs = {"setting": setting, "value": args[1], "local": args[2] is True}
                    ops.append(self.op(SET_TIMEOUT, text, attrs=attrs))
        return ops or [_other(self.base, text, "SelectStmt")]

    def _AlterTableStmt(self, node: Any, text: str) -> List[Operation]:
        O = self.enums.ObjectType
        objtype = getattr(node, "objtype", None)
        if objtype is None:
            objtype = getattr(node, "relkind", None)
        if objtype != O.OBJECT_TABLE:
            return [_other(self.base, text, "AlterTableStmt", object=_enum_name(objtype))]
        schema, table = self.rangevar(node.relation)
        ops: List[Operation] = []
        for cmd in node.cmds or ():
            ops.extend(self.alter_cmd(cmd, text, table, schema))
        return ops

    def alter_cmd(self, cmd: Any, text: str, table: Any, schema: Any) -> List[Operation]:
        A = self.enums.AlterTableType
        st = cmd.subtype
        where = {"table": table, "schema": schema}
        if st == A.AT_AddColumn:
            spec, extra = self.column_spec(cmd.def_)
            ops = [
                self.op(
                    ADD_COLUMN,
                    text,
                    column=spec,
                    columns=(spec.name,),
                    attrs={"if_not_exists": bool(cmd.missing_ok)},
                    **where,
                )
            ]
            for con in extra:
                op = self.constraint(con, text, where, columns=(spec.name,))
                if op is not None:
                    op.attrs["inline"] = True
                    ops.append(op)
            return ops
        if st == A.AT_DropColumn:
            attrs = {
                "if_exists": bool(cmd.missing_ok),
                "cascade": cmd.behavior == self.enums.DropBehavior.DROP_CASCADE,
            }
            return [self.op(DROP_COLUMN, text, columns=(cmd.name,), attrs=attrs, **where)]
        if st == A.AT_AlterColumnType:
            cd = cmd.def_
            typ, _serial = self.type_spec(getattr(cd, "typeName", None))
            using = self.deparse(getattr(cd, "raw_default", None)) or None
            attrs = {"type": typ, "existing_type": None, "using": using}
            return [self.op(ALTER_COLUMN_TYPE, text, columns=(cmd.name,), attrs=attrs, **where)]
        if st == A.AT_SetNotNull:
            return [self.op(SET_NOT_NULL, text, columns=(cmd.name,), **where)]
        if st == A.AT_DropNotNull:
            return [self.op(DROP_NOT_NULL, text, columns=(cmd.name,), **where)]
        if st == A.AT_ColumnDefault:
            if cmd.def_ is None:
                return [self.op(DROP_DEFAULT, text, columns=(cmd.name,), **where)]
            attrs = {"default": make_default(self.deparse(cmd.def_))}
            return [self.op(SET_DEFAULT, text, columns=(cmd.name,), attrs=attrs, **where)]
        if st == A.AT_AddConstraint:
            op = self.constraint(cmd.def_, text, where)
            if op is not None:
                return [op]
            return [
                _other(self.base, text, "AlterTableStmt", subcommand="AT_AddConstraint")
            ]
        if st == A.AT_DropConstraint:
            attrs = {
                "type": None,
                "if_exists": bool(cmd.missing_ok),
                "cascade": cmd.behavior == self.enums.DropBehavior.DROP_CASCADE,
            }
            return [self.op(DROP_CONSTRAINT, text, name=cmd.name, attrs=attrs, **where)]
        if st == A.AT_ValidateConstraint:
            return [self.op(VALIDATE_CONSTRAINT, text, name=cmd.name, **where)]
        return [_other(self.base, text, "AlterTableStmt", subcommand=_enum_name(st))]

    def constraint(
        self, con: Any, text: str, where: dict, columns: Tuple[str, ...] = ()
    ) -> Optional[Operation]:
        C = self.enums.ConstrType
        ct = con.contype
        name = getattr(con, "conname", None)
        keys = tuple(self.strings(getattr(con, "keys", None))) or columns
        not_valid = bool(getattr(con, "skip_validation", False))
        if ct == C.CONSTR_FOREIGN:
            fk_cols = tuple(self.strings(con.fk_attrs)) or columns
            ref_schema, ref_table = self.rangevar(con.pktable)
            attrs = {
                "ref_table": ref_table,
                "ref_schema": ref_schema,
                "ref_columns": tuple(self.strings(con.pk_attrs)),
                "not_valid": not_valid,
            }
            return self.op(CREATE_FOREIGN_KEY, text, name=name, columns=fk_cols, attrs=attrs, **where)
        if ct in (C.CONSTR_UNIQUE, C.CONSTR_PRIMARY):
            kind = CREATE_UNIQUE_CONSTRAINT if ct == C.CONSTR_UNIQUE else CREATE_PRIMARY_KEY
            attrs = {"using_index": getattr(con, "indexname", None) or None}
            return self.op(kind, text, name=name, columns=keys, attrs=attrs, **where)
        if ct == C.CONSTR_CHECK:
            attrs = {"condition": self.deparse(con.raw_expr), "not_valid": not_valid}
            return self.op(CREATE_CHECK_CONSTRAINT, text, name=name, columns=columns, attrs=attrs, **where)
        if ct == C.CONSTR_EXCLUSION:
            cols = []
            for pair in getattr(con, "exclusions", None) or ():
                elem = pair[0] if isinstance(pair, (list, tuple)) and pair else pair
                if getattr(elem, "name", None):
                    cols.append(elem.name)
                elif getattr(elem, "expr", None) is not None:
                    cols.append(self.deparse(elem.expr))
            attrs = {
                "using": getattr(con, "access_method", None),
                "where": self.deparse(getattr(con, "where_clause", None)) or None,
            }
            return self.op(
                CREATE_EXCLUDE_CONSTRAINT, text, name=name, columns=tuple(cols), attrs=attrs, **where
            )
        if ct == C.CONSTR_NOTNULL and keys:  # PostgreSQL 18: ADD CONSTRAINT n NOT NULL col
            return self.op(SET_NOT_NULL, text, name=name, columns=keys[:1], **where)
        return None


def _enum_name(value: Any) -> Optional[str]:
    if value is None:
        return None
    return getattr(value, "name", None) or str(value)


# --- other dialects (sqlglot) ------------------------------------------------------------------


def _quiet_sqlglot() -> None:
    # sqlglot logs a warning each time it falls back to a raw Command; the linter reports
    # those itself, so keep them off stderr unless the user configured the logger.
    logger = logging.getLogger("sqlglot")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.ERROR)


class _GlotReader:
    def __init__(self, sql: str, dialect: str, base: Operation):
        import sqlglot  # noqa: F401
        from sqlglot import exp
        from sqlglot.dialects.dialect import Dialect

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
        from sqlglot.errors import SqlglotError

        try:
            chunks = self.split(self.sql)
            parsed = []
            for text, tokens in chunks:
                exprs = self.dialect.parser().parse(tokens, self.sql)
                parsed.append((text, [e for e in exprs if e is not None]))
        except SqlglotError as exc:
            return [_raw(self.base, self.sql, _one_line(exc))]
        except Exception as exc:
            return [_raw(self.base, self.sql, _one_line(exc))]
        ops: List[Operation] = []
        for text, exprs in parsed:
            for expr in exprs:
                try:
                    ops.extend(self.statement(expr, text))
                except Exception as exc:
                    ops.append(
                        _raw(self.base, text, f"could not analyse statement: {_one_line(exc)}")
                    )
        return ops

    def split(self, sql: str) -> List[Tuple[str, list]]:
        from sqlglot.tokens import TokenType

        tokens = self.dialect.tokenize(sql)
        chunks: List[Tuple[str, list]] = []
        current: list = []
        for tok in tokens + [None]:
            if tok is None or tok.token_type == TokenType.SEMICOLON:
                if current:
                    text = sql[current[0].start : current[-1].end + 1]
                    chunks.append((_clean(text), current))
                current = []
            else:
                current.append(tok)
        return chunks

    def op(self, kind: str, text: str, **fields: Any) -> Operation:
        return _make(self.base, kind, text, **fields)

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
        if name in _LENGTH_TYPES and params:
            length = params[0]
        elif name in _NUMERIC_TYPES and params:
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
            return ops or [_other(self.base, text, "Set")]
        if isinstance(expr, exp.Select):
            ops = self.set_config(expr, text)
            return ops or [_other(self.base, text, "Select")]
        return [_other(self.base, text, type(expr).__name__)]

    def command(self, expr: Any, text: str) -> List[Operation]:
        keyword = str(expr.this or "").upper()
        if keyword == "RENAME":
            ops = self.rename_tables(text)
            if ops:
                return ops
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
            return [_make(self.base, RAW_SQL, text, attrs={"reason": reason})]
        statement = " ".join([keyword] + [w for w in words[:1] if w.isalpha()])
        return [_other(self.base, text, statement or "Command")]

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
        return self.statement(exprs[0], _clean(text))

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
            schema, table = _split_name(old)
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
            attrs: dict = {"if_not_exists": exists}
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
        return [_other(self.base, text, f"Create{kind.title()}" if kind else "Create")]

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
            return [_other(self.base, text, f"Drop{kind.title()}" if kind else "Drop")]
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
            return [_other(self.base, text, f"Alter{kind.title()}" if kind else "Alter")]
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
            ops.append(_make(self.base, OTHER_SQL, text, attrs={"statement": "Alter"}, **where))
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
                ops.append(op if op is not None else _other(self.base, text, type(con).__name__))
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
            return [self.op(DROP_CONSTRAINT, text, attrs={"type": "primary"}, **where)]
        return [_other(self.base, text, "Alter", subcommand=type(action).__name__)]

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
        return [_other(self.base, text, "AlterColumn")]

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
        return [_other(self.base, text, "Alter", subcommand=f"Drop{kind.title()}")]

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
