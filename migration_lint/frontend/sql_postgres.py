"""PostgreSQL statements (``op.execute`` SQL) as normalised operations, read with pglast: the real
PostgreSQL parser.  ``sql.py`` chooses this reader for the PostgreSQL dialect."""

from __future__ import annotations

import dataclasses
from typing import Any, List, Optional, Tuple


from migration_lint.model import (
    COMMIT,
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
from pglast import ast, enums, parse_sql
from pglast.parser import ParseError
from pglast.stream import RawStream
from pglast.visitors import Visitor

from migration_lint.frontend.sql_common import TIMEOUT_SETTINGS, LENGTH_TYPES, NUMERIC_TYPES, clean, make_op, one_line, other_op, raw_op, split_name

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


class PgReader:
    def __init__(self, sql: str, base: Operation):
        self.sql = sql
        self.base = base
        self.ast = ast
        self.enums = enums
        self._stream = RawStream

    # - plumbing -

    def run(self) -> List[Operation]:
        try:
            stmts = parse_sql(self.sql)
        except ParseError as exc:
            return [raw_op(self.base, self.sql, one_line(exc))]
        except Exception as exc:  # pglast raises a few other kinds on odd input
            return [raw_op(self.base, self.sql, one_line(exc))]
        ops: List[Operation] = []
        for raw in stmts or ():
            text = self._text(raw)
            try:
                made = self.statement(raw.stmt, text)
                compared = self.null_comparison(raw.stmt, text)
                if compared and made:  # the statement's first operation carries it: one finding
                    made[0].attrs["null_comparison"] = compared
                ops.extend(made)
            except Exception as exc:
                ops.append(
                    raw_op(self.base, text, f"could not analyse statement: {one_line(exc)}")
                )
        return ops

    def _text(self, raw: Any) -> str:
        start = getattr(raw, "stmt_location", 0) or 0
        length = getattr(raw, "stmt_len", 0) or 0
        text = self.sql[start : start + length] if length else self.sql[start:]
        return clean(text)

    def deparse(self, node: Any) -> str:
        if node is None:
            return ""
        try:
            return self._stream()(node)
        except Exception:
            return ""

    def op(self, kind: str, text: str, **fields: Any) -> Operation:
        return make_op(self.base, kind, text, **fields)

    def null_comparison(self, stmt: Any, text: str) -> Optional[str]:
        """The first ``x = NULL`` / ``x <> NULL`` in a condition (never true: NULL compares as
        unknown), as written back; SET assignments are not comparisons.  Statements without the
        word NULL are not walked."""
        if "null" not in text.lower():
            return None
        walker = _NullComparisons()
        walker(stmt)
        return (self.deparse(walker.found) or "= NULL") if walker.found is not None else None

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
        if name in LENGTH_TYPES and mods:
            length = mods[0]
        elif name in NUMERIC_TYPES and mods:
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
            return [other_op(self.base, text, type(node).__name__)]
        return handler(node, text)

    def _TransactionStmt(self, node: Any, text: str) -> List[Operation]:
        K = self.enums.TransactionStmtKind
        if node.kind in (K.TRANS_STMT_COMMIT, K.TRANS_STMT_ROLLBACK):
            return [self.op(COMMIT, text, attrs={"rollback": node.kind == K.TRANS_STMT_ROLLBACK})]
        return [other_op(self.base, text, "TransactionStmt")]

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
        attrs = {"if_not_exists": bool(node.if_not_exists), "temporary": getattr(node.relation, "relpersistence", "p") == "t"}
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
        schema, name = split_name(self.strings(node.typeName))
        labels = tuple(self.strings(node.vals))
        attrs = {"labels": labels, "implicit": False}
        return [self.op(CREATE_TYPE, text, name=name, schema=schema, attrs=attrs)]

    def _AlterEnumStmt(self, node: Any, text: str) -> List[Operation]:
        schema, name = split_name(self.strings(node.typeName))
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
            return [other_op(self.base, text, "DropStmt", object=_enum_name(node.removeType))]
        cascade = node.behavior == self.enums.DropBehavior.DROP_CASCADE
        ops = []
        for obj in node.objects or ():
            if isinstance(obj, self.ast.TypeName):
                parts = self.strings(obj.names)
            elif isinstance(obj, (list, tuple)):
                parts = self.strings(obj)
            else:
                parts = self.strings([obj])
            schema, name = split_name(parts)
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
        return [other_op(self.base, text, "RenameStmt", object=_enum_name(node.renameType))]

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
        if setting == "search_path" and node.kind == K.VAR_SET_VALUE:
            # where unqualified names go from here on: the first schema that is not "$user"
            path = [v for v in (self._set_value(arg) for arg in node.args or ()) if v and v != "$user"]
            return [other_op(self.base, text, "VariableSetStmt", setting="search_path", value=path[0] if path else None, local=bool(node.is_local))]
        if setting not in TIMEOUT_SETTINGS:
            return [other_op(self.base, text, "VariableSetStmt", setting=node.name)]
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
            return [other_op(self.base, text, "VariableSetStmt", setting=node.name)]
        attrs = {"setting": setting, "value": value, "local": bool(node.is_local)}
        return [self.op(SET_TIMEOUT, text, attrs=attrs)]

    def _set_value(self, arg: Any) -> Optional[str]:
        val = getattr(arg, "val", None)
        for attr in ("sval", "ival", "fval", "str"):
            if getattr(val, attr, None) is not None:
                return str(getattr(val, attr))
        return None

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
        return ops or [other_op(self.base, text, "SelectStmt")]

    def _AlterTableStmt(self, node: Any, text: str) -> List[Operation]:
        O = self.enums.ObjectType
        objtype = getattr(node, "objtype", None)
        if objtype is None:
            objtype = getattr(node, "relkind", None)
        if objtype != O.OBJECT_TABLE:
            return [other_op(self.base, text, "AlterTableStmt", object=_enum_name(objtype))]
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
                other_op(self.base, text, "AlterTableStmt", subcommand="AT_AddConstraint")
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
        return [other_op(self.base, text, "AlterTableStmt", subcommand=_enum_name(st))]

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


class _NullComparisons(Visitor):
    """Finds the first ``=`` / ``<>`` / ``!=`` comparison with a NULL constant in a pglast tree."""

    def __init__(self) -> None:
        super().__init__()
        self.found: Optional[Any] = None

    def visit_A_Expr(self, ancestors, node):  # noqa: N802 - pglast's visitor naming
        names = [getattr(n, "sval", None) for n in node.name or ()]
        if self.found is None and node.kind == 0 and names and names[-1] in ("=", "<>", "!=") and (_is_null(node.lexpr) or _is_null(node.rexpr)):
            self.found = node


def _is_null(node: Any) -> bool:
    return isinstance(node, ast.A_Const) and bool(getattr(node, "isnull", False))
