"""Literal evaluation of libcst expressions: strings, numbers, op.f(), sa.text(), types, columns.

Nothing is imported or executed: a value we cannot know statically is ``UNKNOWN``.
"""

from __future__ import annotations

import ast
from typing import Any, Optional, Tuple

import libcst as cst

from migration_lint.model import ColumnSpec, Default, TypeSpec, make_default


class _Unknown:
    __slots__ = ("why",)

    def __init__(self, why: str = "not a literal"):
        self.why = why

    def __repr__(self) -> str:
        return f"UNKNOWN({self.why})"

    def __bool__(self) -> bool:
        return False


UNKNOWN = _Unknown()
FSTRING = _Unknown("f-string")


class SQLText(str):
    """SQL text from sa.text(...), literal_column(...) or sa.func.x(): a default or a statement."""


# Methods of a text() construct (or of a str) that leave its SQL as it is.
SQL_WRAPPERS = frozenset({"bindparams", "params", "execution_options", "columns", "strip"})


def skeleton(node: cst.BaseExpression, evaluate) -> Optional[Tuple[str, Tuple[str, ...]]]:
    """The literal text of an f-string (or ``"..." .format(...)`` / ``"..." % (...)``) with each
    hole replaced by a placeholder identifier, and the placeholders: what the statement is and
    which names it uses are usually in the literal part.  None when there is no literal part."""
    holes: list = []

    def hole() -> str:
        holes.append(f"ml_hole_{len(holes)}")
        return holes[-1]

    if isinstance(node, cst.FormattedString):
        parts = []
        for part in node.parts:
            if isinstance(part, cst.FormattedStringText):
                parts.append(part.value)
            else:
                value = evaluate(part.expression)
                parts.append(value if isinstance(value, str) and part.conversion is None and part.format_spec is None else hole())
        return "".join(parts), tuple(holes)
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "format":
        template = evaluate(node.func.value)
        if isinstance(template, str):
            import re

            return re.sub(r"\{[^{}]*\}", lambda _m: hole(), template), tuple(holes)
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Modulo):
        template = evaluate(node.left)
        if isinstance(template, str):
            import re

            return re.sub(r"%(?:\(\w+\))?[sdr]", lambda _m: hole(), template), tuple(holes)
    return None


def dotted(node: cst.BaseExpression) -> Optional[str]:
    """'sa.Column' for Attribute(Name(sa), Column); None for anything not a plain name chain."""
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def last_name(node: cst.BaseExpression) -> Optional[str]:
    if isinstance(node, cst.Attribute):
        return node.attr.value
    if isinstance(node, cst.Name):
        return node.value
    return None


class Evaluator:
    """Evaluates expressions against the constants a file defines (``TABLE = "user"``)."""

    def __init__(self, constants: dict, enums: dict, op_names: set):
        self.constants = constants
        self.enums = enums  # name -> TypeSpec for ``my_enum = sa.Enum(...)``
        self.op_names = op_names

    # -- plain literals -----------------------------------------------------------------------
    def literal(self, node: Optional[cst.BaseExpression]) -> Any:
        if node is None:
            return UNKNOWN
        if isinstance(node, cst.SimpleString):
            raw = node.value
            quote = raw[0]
            # fast path for the common case: no prefix, no escapes, not triple-quoted
            if quote in "'\"" and "\\" not in raw and not raw.startswith(quote * 3):
                return raw[1:-1]
            try:
                return ast.literal_eval(raw)
            except (ValueError, SyntaxError):
                return UNKNOWN
        if isinstance(node, cst.ConcatenatedString):
            left, right = self.literal(node.left), self.literal(node.right)
            if isinstance(left, str) and isinstance(right, str):
                return left + right
            return FSTRING if FSTRING in (left, right) else UNKNOWN
        if isinstance(node, cst.FormattedString):
            return FSTRING
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
            # "ALTER TABLE " + "account ...": literals (and constants) joined with + are static SQL
            left, right = self.literal(node.left), self.literal(node.right)
            if isinstance(left, str) and isinstance(right, str):
                return left + right
            return UNKNOWN
        if isinstance(node, cst.Integer):
            try:
                return int(node.value.replace("_", ""), 0)
            except ValueError:
                return UNKNOWN
        if isinstance(node, cst.Float):
            return float(node.value)
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
            value = self.literal(node.expression)
            return -value if isinstance(value, (int, float)) else UNKNOWN
        if isinstance(node, cst.Name):
            if node.value in ("True", "False", "None"):
                return {"True": True, "False": False, "None": None}[node.value]
            return self.constants.get(node.value, UNKNOWN)
        if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
            items = []
            for element in node.elements:
                if isinstance(element, (cst.StarredElement,)):
                    return UNKNOWN
                items.append(self.literal(element.value))
            return tuple(items)
        if isinstance(node, cst.Call):
            func = node.func
            # text("...").bindparams(...) / .params(...) / .execution_options(...) / .columns(...)
            # / .strip(): the SQL is the receiver's
            if isinstance(func, cst.Attribute) and func.attr.value in SQL_WRAPPERS:
                inner = self.literal(func.value)
                if isinstance(inner, str):
                    return type(inner)(inner.strip()) if func.attr.value == "strip" else inner
            name = dotted(func) or ""
            tail = name.rsplit(".", 1)[-1]
            root = name.split(".", 1)[0]
            if tail == "f" and node.args and (root in self.op_names or (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name))):
                return self.literal(node.args[0].value)  # op.f("ix_name"), batch_op.f("ix_name")
            if tail in ("dedent", "cleandoc") and len(node.args) == 1:  # textwrap.dedent("""...""")
                inner = self.literal(node.args[0].value)
                if isinstance(inner, str):
                    import textwrap

                    return type(inner)(textwrap.dedent(inner))
                return inner
            if tail in ("text", "literal_column") and node.args:
                value = self.literal(node.args[0].value)
                return SQLText(value) if isinstance(value, str) else value
            if ".func." in f".{name}" or name.startswith("func."):
                return SQLText(f"{tail}()")
            if tail in ("true", "false", "null") and not node.args:
                return SQLText(tail)
            if tail == "quoted_name" and node.args:
                return self.literal(node.args[0].value)
        if isinstance(node, cst.Attribute):
            name = dotted(node) or ""
            if ".func." in f".{name}":
                return SQLText(f"{node.attr.value}()")
        return UNKNOWN

    def string(self, node: Optional[cst.BaseExpression]) -> Optional[str]:
        value = self.literal(node)
        return value if isinstance(value, str) else None

    def strings(self, node: Optional[cst.BaseExpression]) -> tuple:
        value = self.literal(node)
        if isinstance(value, str):
            return (value,)
        if isinstance(value, tuple):
            return tuple(v for v in value if isinstance(v, str))
        return ()

    # -- types ---------------------------------------------------------------------------------
    def type_spec(self, node: Optional[cst.BaseExpression]) -> Optional[TypeSpec]:
        if node is None:
            return None
        if isinstance(node, cst.Name) and node.value in self.enums:
            return self.enums[node.value]
        call = node if isinstance(node, cst.Call) else None
        func = call.func if call else node
        name = last_name(func)
        if not name or not (name[0].isupper() or name in ("text",)):
            return None
        lowered = name.lower()
        spec = {"name": lowered, "text": self.spelling(node)}
        if call:
            positional = [a.value for a in call.args if a.keyword is None and a.star == ""]
            keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
            if lowered == "enum":
                labels = [self.literal(v) for v in positional]
                spec["enum_labels"] = tuple(v for v in labels if isinstance(v, str))
                spec["enum_name"] = self.string(keywords.get("name"))
                spec["enum_schema"] = self.string(keywords.get("schema"))
                spec["inherit_schema"] = self.literal(keywords.get("inherit_schema")) is True
                create_type = self.literal(keywords.get("create_type"))
                spec["create_type"] = create_type is not False
                if keywords.get("native_enum") is not None and self.literal(keywords["native_enum"]) is False:
                    spec["create_type"] = False
            else:
                numbers = [self.literal(v) for v in positional]
                ints = [v for v in numbers if isinstance(v, int) and not isinstance(v, bool)]
                if lowered in ("numeric", "decimal", "float"):
                    if ints:
                        spec["precision"] = ints[0]
                    if len(ints) > 1:
                        spec["scale"] = ints[1]
                elif ints:
                    spec["length"] = ints[0]
                for key in ("length", "precision", "scale"):
                    value = self.literal(keywords.get(key))
                    if isinstance(value, int) and not isinstance(value, bool):
                        spec[key] = value
        return TypeSpec(**spec)

    # -- columns -------------------------------------------------------------------------------
    def column(self, node: cst.BaseExpression) -> Optional[ColumnSpec]:
        if not isinstance(node, cst.Call) or last_name(node.func) != "Column":
            return None
        name = None
        type_ = None
        identity = False
        primary_key = False
        foreign_key = None
        for arg in node.args:
            if arg.keyword is not None or arg.star:
                continue
            value = arg.value
            literal = self.literal(value)
            if name is None and isinstance(literal, str) and type_ is None:
                name = literal
                continue
            tail = last_name(value.func if isinstance(value, cst.Call) else value)
            if tail in ("Identity", "Sequence"):
                identity = True
            elif tail == "ForeignKey" and isinstance(value, cst.Call) and value.args:
                foreign_key = self.string(value.args[0].value) or "?"
            elif tail in ("ForeignKey", "CheckConstraint", "Computed"):
                continue
            elif type_ is None:
                type_ = self.type_spec(value)
        keywords = {a.keyword.value: a.value for a in node.args if a.keyword is not None}
        if "type_" in keywords:
            type_ = self.type_spec(keywords["type_"])
        if "name" in keywords:
            name = self.string(keywords["name"])
        nullable = self.literal(keywords.get("nullable"))
        primary_key = self.literal(keywords.get("primary_key")) is True
        autoincrement = self.literal(keywords.get("autoincrement"))
        if primary_key and type_ is not None and type_.family in ("integer", "bigint", "smallint"):
            identity = identity or autoincrement is not False
        return ColumnSpec(
            name=name,
            type=type_,
            nullable=nullable if isinstance(nullable, bool) else None,
            primary_key=primary_key,
            server_default=self.default(keywords.get("server_default")),
            python_default="default" in keywords and self.literal(keywords["default"]) is not None,
            identity=identity,
            foreign_key=foreign_key,
            unique=self.literal(keywords.get("unique")) is True,
            index=self.literal(keywords.get("index")) is True,
        )

    def default(self, node: Optional[cst.BaseExpression]) -> Optional[Default]:
        """A server_default value; None when there is none (or it is None)."""
        if node is None:
            return None
        value = self.literal(node)
        if value is None and isinstance(node, cst.Name):
            return None
        if isinstance(value, SQLText):
            return make_default(str(value))
        if isinstance(value, str):
            return Default(text=repr(value), volatile=False)
        if isinstance(value, bool):
            return Default(text=str(value).lower(), volatile=False)
        if isinstance(value, (int, float)):
            return Default(text=str(value), volatile=False)
        # An expression we cannot evaluate: keep its spelling, judge volatility by it.
        return make_default(self.spelling(node))

    def spelling(self, node: cst.BaseExpression, depth: int = 0) -> str:
        """A short source-like spelling for messages: ``String(length=255)``, ``func.now()``.

        Cheaper than libcst code generation, which costs as much as parsing the file again.
        """
        if isinstance(node, cst.Call):
            name = dotted(node.func) or "?"
            if name.count(".") and name.split(".", 1)[0] in ("sa", "sqlalchemy", "postgresql", "mysql", "sqlite", "types", "dialects"):
                name = name.rsplit(".", 1)[-1] if ".func." not in f".{name}" else "func." + name.rsplit(".", 1)[-1]
            if depth > 1:
                return f"{name}(...)"
            parts = []
            for arg in node.args:
                text = self.spelling(arg.value, depth + 1)
                parts.append(f"{arg.keyword.value}={text}" if arg.keyword is not None else text)
            return f"{name}({', '.join(parts)})"
        value = self.literal(node)
        if isinstance(value, (str, int, float, bool)) or value is None and isinstance(node, cst.Name):
            return repr(value)
        name = dotted(node)
        if name:
            return name.rsplit(".", 1)[-1] if name.split(".", 1)[0] in ("sa", "sqlalchemy", "postgresql", "mysql") else name
        return "..."
