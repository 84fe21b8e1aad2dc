"""Alembic front end: one revision file's text -> MigrationFile (headers + normalised operations).

The file is parsed with libcst and never imported.  Only statements are walked (not every node:
libcst visitors and position metadata cost more than the parse itself); line numbers come from a
parallel walk of the stdlib ``ast`` tree, whose statements correspond one to one.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import re
import io
import sys
import tokenize
from typing import Dict, Iterable, Optional

import libcst as cst

from migration_lint import dialects
from migration_lint.envpy import dotted_name
from migration_lint import model as m
from migration_lint.frontend.headers import HEADER_NAMES, header_values, set_header
from migration_lint.frontend import reads as R
from migration_lint.frontend.sql import sql_to_operations
from migration_lint.frontend.values import FSTRING, SQL_WRAPPERS, UNKNOWN, SQLText, Evaluator, dotted, last_name, skeleton
from migration_lint.model import MigrationFile, Operation, Problem, Suppression, source_lines
from migration_lint.process import libcst_validation_skipped
from migration_lint import rule_ids


# Positional parameters of Alembic operations, for binding calls written either way.
OP_SIGNATURES = {
    "create_table": ("table_name",),
    "drop_table": ("table_name",),
    "rename_table": ("old_table_name", "new_table_name"),
    "add_column": ("table_name", "column"),
    "drop_column": ("table_name", "column_name"),
    "alter_column": ("table_name", "column_name"),
    "create_index": ("index_name", "table_name", "columns"),
    "drop_index": ("index_name", "table_name"),
    "create_foreign_key": ("constraint_name", "source_table", "referent_table", "local_cols", "remote_cols"),
    "create_unique_constraint": ("constraint_name", "table_name", "columns"),
    "create_check_constraint": ("constraint_name", "table_name", "condition"),
    "create_primary_key": ("constraint_name", "table_name", "columns"),
    "create_exclude_constraint": ("constraint_name", "table_name"),
    "drop_constraint": ("constraint_name", "table_name", "type_"),
    "execute": ("sqltext",),
    "bulk_insert": ("table", "rows"),
}
# batch_op.* drop the table argument.
BATCH_SIGNATURES = {
    "add_column": ("column",),
    "drop_column": ("column_name",),
    "alter_column": ("column_name",),
    "create_index": ("index_name", "columns"),
    "drop_index": ("index_name",),
    "create_foreign_key": ("constraint_name", "referent_table", "local_cols", "remote_cols"),
    "create_unique_constraint": ("constraint_name", "columns"),
    "create_check_constraint": ("constraint_name", "condition"),
    "create_primary_key": ("constraint_name", "columns"),
    "drop_constraint": ("constraint_name", "type_"),
    "execute": ("sqltext",),
}
# Old Alembic keyword spellings.
ALIASES = {
    "name": "constraint_name",
    "source": "source_table",
    "referent": "referent_table",
    "tablename": "table_name",
    "table": "table_name",
    "local_cols": "local_cols",
    "cols": "columns",
}

# The reason runs to the end of the line or to another comment (``# noqa``, ``# type: ignore``).
SUPPRESSION = re.compile(r"#\s*migration-lint:\s*(ignore-file|ignore)\[([^\]]*)\]\s*([^#]*)")
DIALECT_NAMES = {"postgresql", "postgres", "mysql", "mariadb", "sqlite", "mssql", "oracle"}


@dataclasses.dataclass(frozen=True)
class Ctx:
    phase: str
    flags: tuple = ()
    dialects: Optional[tuple] = None
    not_dialects: tuple = ()
    op_names: frozenset = frozenset()
    batch: Optional[tuple] = None  # (alias, table, schema) of the innermost batch block
    # the statement of upgrade()/downgrade() that called the helper the walk is in: what a
    # helper does is reported there, where it happens in the migration's order
    site: Optional[ast.stmt] = None
    helper: str = ""

    def add(self, flag: str) -> "Ctx":
        return self if flag in self.flags else dataclasses.replace(self, flags=self.flags + (flag,))


class _Scope:
    """Names bound inside one function being walked."""

    def __init__(self, parent: Optional["_Scope"] = None):
        self.batch = dict(parent.batch) if parent else {}  # alias -> (table, schema)
        self.binds = set(parent.binds) if parent else set()  # names bound to op.get_bind()
        self.contexts = set(parent.contexts) if parent else set()  # names bound to op.get_context()
        self.tables = dict(parent.tables) if parent else {}  # name -> table name (sa.table(...))
        self.dialect_names = set(parent.dialect_names) if parent else set()  # names bound to a dialect's name
        self.dialect_objects = set(parent.dialect_objects) if parent else set()  # names bound to a dialect
        self.url_names = set(parent.url_names) if parent else set()  # names bound to a database URL
        self.selects = dict(parent.selects) if parent else {}  # name -> sa.select(...) expression
        self.sessions = set(parent.sessions) if parent else set()  # names bound to an ORM session on the connection
        self.results = set(parent.results) if parent else set()  # names bound to the result of a query on it
        # SQL built out of line: a name bound to an f-string, text(...) or a call of a function
        # that returns one; functions defined inside the function being walked; loop variables
        # that take each of a list of such functions in turn
        self.sql_exprs = dict(parent.sql_exprs) if parent else {}  # name -> (expression, the constants when it was bound)
        self.local_functions = dict(parent.local_functions) if parent else {}  # name -> cst.FunctionDef
        self.function_lists = dict(parent.function_lists) if parent else {}  # name -> (function names)
        # statements = ["CREATE INDEX ...", ...]: literal lists and tuples by name, and loop
        # variables that take each of their strings in turn (for table, stmt in statements:)
        self.sequences = dict(parent.sequences) if parent else {}  # name -> cst.List / cst.Tuple
        self.string_lists = dict(parent.string_lists) if parent else {}  # name -> (str, ...)


def revision_notes(tree: ast.Module) -> str:
    """What the author wrote in the docstring below the headers Alembic's template writes (a NOTE
    on the downgrade, the reasoning behind the migration)."""
    doc = ast.get_docstring(tree, clean=True) or ""
    lines = doc.splitlines()
    last = max((i for i, line in enumerate(lines) if re.match(r"\s*(Revision ID|Revises|Create Date)\s*:", line)), default=None)
    return "\n".join(lines[last + 1:]).strip()[:4000] if last is not None else ""


def revision_message(tree: ast.Module) -> str:
    """The message the author gave (`alembic revision -m ...`): the module docstring without the
    headers Alembic's template writes under it (Revision ID, Revises, Create Date)."""
    doc = ast.get_docstring(tree, clean=True) or ""
    lines = []
    for line in doc.splitlines():
        if re.match(r"\s*(Revision ID|Revises|Create Date)\s*:", line):
            break
        lines.append(line)
    return "\n".join(lines).strip()[:2000]


# What an author writes beside an operation when they know what it does to the data
# What an author writes beside an operation when they know what it does to the data: only
# plain statements ('dropping is acceptable'), never a warning ('data can be lost if ...')
LOSS_SAID = re.compile(
    r"\bdestructive\b|\b(?:dropping|deleting|losing|removing|discarding)\b[^.;]{0,60}\bis acceptable\b"
    r"|\b(?:data|rows|contents?) (?:is|are) ephemeral\b|\bbackfill will re-?fill\b"
    r"|(?<!not )(?<!n't )\bsafe to (?:drop|delete|remove|lose)\b"
    # the feature or the columns are gone already (ckan 105 '# removed feature', '# long-forgotten
    # columns'; redash 969126bd800f '# Remove legacy columns no longer in use.')
    r"|\bremoved features?\b|\b(?:columns?|tables?|fields?)\b[^.;]{0,30}\b(?:no longer (?:in use|used)|not used any ?more)\b"
    r"|\b(?:unused|obsolete|long-forgotten|dead)\s+(?:columns?|tables?|fields?|data)\b"
    # the author takes the old structures away on purpose (prefect d481d5058a19 '# delete old
    # worker table structures' over the drops of the worker tables it replaces; round 9 #56)
    r"|\b(?:delet|drop|remov)\w*\s+(?:the\s+|all\s+)?(?:old|legacy|deprecated|previous)\b[^.;]{0,40}?\b(?:tables?|structures?|columns?|fields?)\b",
    re.I,
)
EMPTY_SAID = re.compile(
    r"\b(?:don't|do not|doesn't|does not) have any (?:records|rows)\b|\btable is (?:still )?empty\b"
    r"|\b(?:has|have|contains) no (?:records|rows)\b|\bno (?:records|rows) (?:yet|in (?:it|the|this))\b",
    re.I,
)


def acknowledgements(text: str, tree: Optional[ast.Module] = None) -> tuple:
    """Comment lines that say an operation loses data on purpose, or that its table is empty:
    (the first code line after the comment block, or 0 for a comment at module level; 'loss' or
    'empty'; the comment block's text; its first line).  Only whole-line comments count."""
    if "#" not in text or not (LOSS_SAID.search(text) or EMPTY_SAID.search(text)):
        return ()
    lines = source_lines(text)
    functions = [(node.lineno, getattr(node, "end_lineno", node.lineno)) for node in (tree.body if tree is not None else ()) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    found = []
    index = 0
    while index < len(lines):
        stripped = lines[index].strip()
        if not stripped.startswith("#"):
            index += 1
            continue
        start = index
        while index < len(lines) and lines[index].strip().startswith("#"):
            index += 1
        block = " ".join(line.strip().lstrip("#").strip() for line in lines[start:index])
        # at module level: not indented, and outside every function (commented-out code inside
        # one can start at column 0)
        module_level = not lines[start][:1].isspace() and not any(first <= start + 1 <= last for first, last in functions)
        annotated = 0 if module_level else next((i + 1 for i in range(index, len(lines)) if lines[i].strip()), 0)
        for kind, pattern in (("loss", LOSS_SAID), ("empty", EMPTY_SAID)):
            if pattern.search(block):
                found.append((annotated, kind, block[:1000], start + 1))
    return tuple(found)


def revision_created(tree: ast.Module) -> str:
    """The "Create Date:" Alembic's template writes in the docstring, as 'YYYY-MM-DDTHH:MM'."""
    doc = ast.get_docstring(tree, clean=True) or ""
    found = re.search(r"^\s*Create Date\s*:\s*(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}))?", doc, re.M)
    if not found:
        return ""
    return f"{found.group(1)}T{found.group(2) or '00:00'}"


def parse_migration(source: bytes, path: str, dialect: str = "postgresql", operations: bool = True) -> MigrationFile:
    """One revision file.  ``operations=False`` reads what the revision graph and the file-wide
    rules need (headers, imports, suppressions, syntax errors) with the stdlib parser only, and
    leaves ``upgrade()``/``downgrade()`` unread: for revisions outside the checked scope."""
    result = MigrationFile(path=path, headers_only=not operations)
    try:
        text = _decode(source) if isinstance(source, bytes) else source
    except (UnicodeDecodeError, SyntaxError, LookupError) as exc:
        result.syntax_error = True
        if isinstance(exc, UnicodeDecodeError):
            message = f"file is not valid {exc.encoding.upper() if exc.encoding.lower() != 'utf-8' else 'UTF-8'} ({exc.reason} at byte {exc.start})"
        else:
            message = f"cannot decode the file: {exc}"
        result.problems.append(Problem(rule_ids.SYNTAX_ERROR, 1, message))
        return result
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        tree = ast.parse(text)
        _FileReader(result, tree, text, dialect).read(operations)
    except SyntaxError as exc:
        result.syntax_error = True
        result.problems.append(Problem(rule_ids.SYNTAX_ERROR, exc.lineno or 1, f"invalid Python: {exc.msg}"))
        _salvage_headers(text, result)
        return result
    except cst.ParserSyntaxError as exc:
        result.syntax_error = True
        result.problems.append(Problem(rule_ids.SYNTAX_ERROR, exc.raw_line or 1, f"invalid Python: {exc.message}"))
        return result
    except (ValueError, RecursionError, MemoryError) as exc:
        result.syntax_error = True
        result.operations.clear()
        result.problems.append(Problem(rule_ids.SYNTAX_ERROR, 1, f"cannot parse: {exc}"))
        return result
    return result


_HEADER_LINE = re.compile(r"^(revision|down_revision|branch_labels|depends_on)\s*(?::[^=\n]*)?=\s*(.+?)\s*(?:#.*)?$", re.M)


def _salvage_headers(text: str, result: MigrationFile) -> None:
    """Headers of a file Python cannot parse, from lines that are literals on their own: the
    syntax error is reported, and the graph around the file stays linked (no false
    missing-parent on its child, no false extra head)."""
    for match in _HEADER_LINE.finditer(text):
        name, value = match.group(1), match.group(2)
        try:
            literal = ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
        values = header_values(tuple(literal) if isinstance(literal, list) else literal)
        if values is None:
            continue
        result.header_lines.setdefault(name, text.count("\n", 0, match.start()) + 1)
        if name == "revision":
            if len(values) == 1:
                result.revision = values[0]
        else:
            set_header(result, name, values)


def _pairs(cst_body: Iterable, ast_body: list):
    """Yield (libcst statement, [ast statements]) for a block; small statements share a line."""
    index = 0
    for stmt in cst_body:
        if isinstance(stmt, cst.SimpleStatementLine):
            count = len(stmt.body)
            yield stmt, ast_body[index : index + count]
            index += count
        else:
            yield stmt, ast_body[index : index + 1]
            index += 1


def _block(node) -> tuple:
    """The statements of a suite, and whether they are small statements (one-line suite)."""
    body = node.body
    if isinstance(body, cst.SimpleStatementSuite):
        return [cst.SimpleStatementLine(body=body.body)], True
    return list(body.body), False


class _FileReader:
    def __init__(self, result: MigrationFile, tree: ast.Module, text: str, dialect: str):
        self.result = result
        self.tree = tree
        self.text = text
        self.dialect = dialect
        self.op_names = set()
        self.context_names = set()
        self.constants = {}
        self.enums = {}
        self.tables = {}  # module-level sa.table(...) names -> table name
        self.functions = {}  # name -> ast FunctionDef (top level)
        self.parsed_functions = {}  # name -> libcst FunctionDef, parsed when first visited
        self.nested_ast = {}  # id(libcst FunctionDef defined inside a function) -> its ast node
        self.evaluator = Evaluator(self.constants, self.enums, self.op_names)
        self.visiting = []
        self.lines = None
        self._attribute_chains = None
        self._parents = None
        self._whole = None

    # -- module level --------------------------------------------------------------------------
    def read(self, operations: bool = True) -> None:
        self._suppressions()
        # Module level (imports, headers, constants) is read from the stdlib ast: it is cheap, and
        # libcst is paid only for the functions whose operations we extract.
        for node in self.tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                self._module_import(node)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                self._module_assign(node)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions[node.name] = node
                if self._segment_has(node, "import"):
                    self._imports_in(node)
            elif self._segment_has(node, "import"):
                self._imports_in(node)
        if not self.op_names:
            self.op_names.add("op")  # the Alembic template name, even if imported oddly
        self.result.enum_types, self.result.creates_from_models = R.enum_mentions(self.tree, self.text)
        self.result.message, self.result.created = revision_message(self.tree), revision_created(self.tree)
        self.result.doc_notes = revision_notes(self.tree)
        self.result.acknowledgements = acknowledgements(self.text, self.tree)
        for phase in (m.UPGRADE, m.DOWNGRADE):
            node = self.functions.get(phase)
            if node is None:
                continue
            if phase == m.UPGRADE:
                self.result.has_upgrade, self.result.upgrade_line = True, node.lineno
            else:
                self.result.has_downgrade, self.result.downgrade_line = True, node.lineno
                self.result.downgrade_is_empty = _is_empty(node)
            if not operations:
                continue
            self._function(node, Ctx(phase=phase, op_names=frozenset(self.op_names)), self._module_scope())
            # The multidb template: upgrade(engine_name) dispatches to upgrade_<engine>() via globals().
            if self._segment_has(node, "globals(") and _calls_globals(node):
                for name, other in self.functions.items():
                    if name.startswith(phase + "_"):
                        self._function(other, Ctx(phase=phase, op_names=frozenset(self.op_names)), self._module_scope())

    def _cst_statement(self, node: ast.stmt):
        """libcst tree of one top-level statement, parsed from its own lines (decorators included)."""
        if self.lines is None:
            self.lines = source_lines(self.text)
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        segment = "".join(self.lines[first - 1 : node.end_lineno])
        return _parse(segment).body[0]

    def _parse_functions(self) -> None:
        """All top-level functions in one libcst parse (each parse call has a fixed cost)."""
        if self.lines is None:
            self.lines = source_lines(self.text)
        nodes = list(self.functions.values())
        segments = []
        for node in nodes:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            segment = "".join(self.lines[first - 1 : node.end_lineno])
            segments.append(segment if segment.endswith(("\n", "\r")) else segment + "\n")
        module = _parse("".join(segments))
        defs = [stmt for stmt in module.body if isinstance(stmt, cst.FunctionDef)]
        if len(defs) == len(nodes):
            self.parsed_functions = {node.name: fn for node, fn in zip(nodes, defs)}

    def _module_import(self, node) -> None:
        self._imports_in(node)
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "alembic":
            for alias in node.names:
                bound = alias.asname or alias.name
                if alias.name == "op":
                    self.op_names.add(bound)
                elif alias.name == "context":
                    self.context_names.add(bound)
                elif alias.name == "*":
                    self.op_names.add("op")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "alembic.op" and alias.asname:
                    self.op_names.add(alias.asname)

    def _module_assign(self, node) -> None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        value = node.value
        if value is None:
            return
        for target in targets:
            if not isinstance(target, ast.Name):
                continue
            name = target.id
            if name in HEADER_NAMES:
                self._header(name, value, node)
            elif isinstance(value, ast.Constant) and isinstance(value.value, str):
                self.constants[name] = value.value
            elif isinstance(value, ast.Call) and _ast_tail(value.func) in ("table", "Table") and value.args and isinstance(value.args[0], ast.Constant) and isinstance(value.args[0].value, str):
                self.tables[name] = value.args[0].value  # things = sa.table("things", ...) for things.update()
            elif isinstance(value, ast.Call) and _ast_tail(value.func) in ("Enum", "ENUM"):
                statement = self._cst_statement(node)
                small = statement.body[0] if isinstance(statement, cst.SimpleStatementLine) else None
                if isinstance(small, (cst.Assign, cst.AnnAssign)) and small.value is not None:
                    spec = self.evaluator.type_spec(small.value)
                    if spec is not None:
                        self.enums[name] = spec

    def _module_scope(self) -> "_Scope":
        scope = _Scope()
        scope.tables.update(self.tables)
        return scope

    def _header(self, name: str, value: ast.expr, node: ast.stmt) -> None:
        result = self.result
        result.header_lines[name] = node.lineno
        literal = _ast_literal(value, self.constants)
        if name == "revision":
            if isinstance(literal, str) and literal:
                result.revision = literal
            else:
                result.problems.append(
                    Problem(rule_ids.INVALID_REVISION_HEADER, node.lineno, "`revision` must be a string literal")
                )
            return
        values = header_values(literal)
        if name == "branch_labels" and values is None:
            # ``branch_labels = (cli.EXPAND_BRANCH,)`` (Neutron): a constant from elsewhere.  Its
            # value is unknown statically, but distinct names are distinct labels, which is all
            # the graph needs.
            opaque = _opaque_names(value)
            if opaque is not None:
                result.branch_labels = opaque
                return
        if values is None:
            result.problems.append(
                Problem(
                    rule_ids.INVALID_REVISION_HEADER,
                    node.lineno,
                    f"`{name}` must be a literal string, tuple/list of strings or None",
                )
            )
            values = ()
        set_header(result, name, values)

    def _segment_has(self, node: ast.AST, word: str) -> bool:
        """Cheap pre-test on a statement's source lines before walking its tree."""
        if self.lines is None:
            self.lines = source_lines(self.text)
        end = getattr(node, "end_lineno", None) or len(self.lines)
        return any(word in line for line in self.lines[node.lineno - 1 : end])

    def _imports_in(self, node: ast.AST) -> None:
        """(module, line, names) per import: the names of ``from m import a, b``; for ``import m``,
        the dotted paths the file uses under it (``server.types.UUID``), to tell what it needs."""
        for sub in ast.walk(node):
            if isinstance(sub, ast.Import):
                for alias in sub.names:
                    if alias.name.split(".", 1)[0] in NEVER_THE_PROJECT:  # import sqlalchemy as sa
                        self.result.imports.append((alias.name, sub.lineno, ()))
                        continue
                    self.result.imports.append((alias.name, sub.lineno, self._uses(alias.asname or alias.name, alias.name if alias.asname else None)))
            elif isinstance(sub, ast.ImportFrom) and sub.level == 0 and sub.module:
                names = tuple(alias.name for alias in sub.names)
                if sub.module.split(".", 1)[0] in NEVER_THE_PROJECT:  # from alembic import op: nothing to weigh
                    self.result.imports.append((sub.module, sub.lineno, names, (), ()))
                    continue
                benign = tuple(alias.name for alias in sub.names if self._benign_use(alias.asname or alias.name))
                # a submodule imported by name and used by its members (guid.GUID): those members
                members = tuple((alias.name, self._uses(alias.asname or alias.name, None) + (("<used whole>",) if self._used_whole(alias.asname or alias.name) else ())) for alias in sub.names)
                self.result.imports.append((sub.module, sub.lineno, names, benign, members))

    def _used_whole(self, bound: str) -> bool:
        """An imported name used other than through its attributes (``run(guid)``)."""
        if self._whole is None:  # every such name of the file, found in one walk
            if self._parents is None:
                self._parents = {id(child): parent for parent in ast.walk(self.tree) for child in ast.iter_child_nodes(parent)}
            self._whole = set()
            for use in ast.walk(self.tree):
                if isinstance(use, ast.Name) and isinstance(use.ctx, ast.Load):
                    parent = self._parents.get(id(use))
                    if not (isinstance(parent, ast.Attribute) and parent.value is use):
                        self._whole.add(use.id)
        return bound in self._whole

    def _benign_use(self, bound: str) -> bool:
        """Whether every use of an imported name ties the migration to nothing that changes with
        the models: a Flask-SQLAlchemy ``db`` used only for its SQLAlchemy names (``db.Integer``,
        ``db.Column``), a logger used only to log, a gettext ``_`` used only to translate text."""
        if self._parents is None:
            self._parents = {id(child): parent for parent in ast.walk(self.tree) for child in ast.iter_child_nodes(parent)}
        uses = [n for n in ast.walk(self.tree) if isinstance(n, ast.Name) and n.id == bound and isinstance(n.ctx, ast.Load)]
        if not uses:
            return False  # imported for its side effects (registering models): not benign
        for use in uses:
            parent = self._parents.get(id(use))
            if isinstance(parent, ast.Attribute) and parent.value is use and parent.attr in SQLALCHEMY_NAMES:
                continue
            grand = self._parents.get(id(parent)) if parent is not None else None
            if isinstance(parent, ast.Attribute) and parent.attr in LOG_METHODS and isinstance(grand, ast.Call) and grand.func is parent:
                continue
            if isinstance(parent, ast.Call) and parent.func is use and (bound in GETTEXT_NAMES or bound in LOGGER_FACTORIES):
                continue
            return False
        return True

    def _uses(self, bound: str, module: Optional[str]) -> tuple:
        """Dotted paths used under an imported module's name, relative to the module.  A path used
        only as an argument of a call of another such path reads ``path@called``
        (``server.schemas.QueueFilter@server.database.Pydantic``): a type's parameter."""
        if self._attribute_chains is None:
            if self._parents is None:
                self._parents = {id(child): parent for parent in ast.walk(self.tree) for child in ast.iter_child_nodes(parent)}
            chains = []
            attributes = [n for n in ast.walk(self.tree) if isinstance(n, ast.Attribute)]
            inner = {id(n.value) for n in attributes if isinstance(n.value, ast.Attribute)}
            for outer in attributes:
                if id(outer) in inner:
                    continue
                chain = dotted_name(outer)
                if chain:
                    chains.append((chain, self._called_with(outer)))
            self._attribute_chains = chains
        prefix = bound + "."
        uses: Dict[str, set] = {}
        for chain, called in self._attribute_chains:
            if chain.startswith(prefix):
                uses.setdefault(chain[len(prefix):], set()).add(called[len(prefix):] if called and called.startswith(prefix) else "")
        return tuple(sorted(path if "" in callers or len(callers) > 1 else f"{path}@{next(iter(callers))}" for path, callers in uses.items()))

    def _called_with(self, node: ast.AST) -> str:
        """The dotted name of the call whose argument ``node`` is (directly), else ''."""
        parent = self._parents.get(id(node))
        if isinstance(parent, ast.keyword):
            parent = self._parents.get(id(parent))
        if isinstance(parent, ast.Call) and parent.func is not node and isinstance(parent.func, ast.Attribute):
            return dotted_name(parent.func) or ""
        return ""

    def _suppressions(self) -> None:
        if "migration-lint" not in self.text:
            return
        lines = [line.rstrip("\r\n") for line in source_lines(self.text)]
        for index, line in enumerate(lines, start=1):
            match = SUPPRESSION.search(line)
            if not match:
                continue
            kind, rules, reason = match.groups()
            names = tuple(r.strip() for r in rules.split(",") if r.strip())
            covered = [index]
            if line.strip().startswith("#"):  # a comment line covers the next code line
                for following in range(index + 1, len(lines) + 1):
                    stripped = lines[following - 1].strip()
                    if stripped and not stripped.startswith("#"):
                        covered.append(following)
                        break
            self.result.suppressions.append(
                Suppression(
                    line=index,
                    rules=names,
                    reason=reason.strip(),
                    file_level=kind == "ignore-file",
                    applies_to=tuple(covered),
                )
            )

    # -- functions -----------------------------------------------------------------------------
    def _function(self, node: Optional[ast.FunctionDef], ctx: Ctx, scope: _Scope, op_args=(), call: Optional[cst.Call] = None, fn=None) -> None:
        """Walk a function: a top-level one (``node``), or one defined inside the function being
        walked (``fn``, its libcst tree; its ast node is found by its line)."""
        name = node.name if node is not None else fn.name.value
        if name in self.visiting:
            return  # recursion
        if fn is None:
            if not self.parsed_functions:
                self._parse_functions()
            fn = self.parsed_functions.get(node.name)
            if fn is None:
                fn = self.parsed_functions[node.name] = self._cst_statement(node)
        else:
            node = self._nested_ast(fn)
            if node is None:
                return
        self.visiting.append(name)
        op_names = set(ctx.op_names)
        positional = [p.name.value for p in (*fn.params.posonly_params, *fn.params.params)]
        params = positional + [p.name.value for p in fn.params.kwonly_params]
        for name in params:
            if name == "op":
                op_names.add(name)
        for index, passed in op_args:
            if index < len(params):
                op_names.add(params[index])
        ctx = dataclasses.replace(ctx, op_names=frozenset(op_names))
        # a parameter given a literal at this call site has that value inside (migrate("server")
        # names its table); every other parameter shadows a module constant of the same name.
        # The arguments are read in the caller's names first; what the function binds stays in it.
        arguments = self._literal_arguments(call, fn, positional) if call is not None else {}
        try:
            with self._constants(arguments, drop=params):
                body, _ = _block(fn)
                self._statements(body, node.body, ctx, _Scope(scope))
        finally:
            self.visiting.pop()

    @contextlib.contextmanager
    def _constants(self, values: dict, replace: bool = False, drop=()):
        """The literal names in force for a while (a function's parameters, the names an SQL
        statement was built with); what was in force before comes back after."""
        saved = dict(self.constants)
        if replace:
            self.constants.clear()
        for name in drop:
            self.constants.pop(name, None)
        self.constants.update(values)
        try:
            yield
        finally:
            self.constants.clear()
            self.constants.update(saved)

    def _nested_ast(self, fn) -> Optional[ast.FunctionDef]:
        """The ast node of a function defined inside another one (the walk pairs libcst statements
        with ast nodes): the one recorded for it when its definition was walked."""
        return self.nested_ast.get(id(fn))

    def _literal_arguments(self, call: cst.Call, fn, params: list) -> dict:
        """Parameter -> literal string value at a call site (``params``: the positional ones, in order)."""
        values = {}
        every = (*fn.params.posonly_params, *fn.params.params, *fn.params.kwonly_params)
        defaults = {p.name.value: p.default for p in every if p.default is not None}
        for name, default in defaults.items():
            value = self.evaluator.literal(default)
            if isinstance(value, str):
                values[name] = value
        position = 0
        for arg in call.args:
            if arg.star:
                return values  # *args / **kwargs: positions are unknown from here on
            name = arg.keyword.value if arg.keyword is not None else (params[position] if position < len(params) else None)
            if arg.keyword is None:
                position += 1
            if name is None:
                continue
            value = self.evaluator.literal(arg.value)
            if isinstance(value, str):
                values[name] = value
            else:
                values.pop(name, None)
        return values

    def _statements(self, body, ast_body, ctx: Ctx, scope: _Scope) -> None:
        for stmt, nodes in _pairs(body, ast_body):
            if not nodes:
                continue
            if isinstance(stmt, cst.SimpleStatementLine):
                for small, node in zip(stmt.body, nodes):
                    self._small(small, node, ctx, scope)
            else:
                self._compound(stmt, nodes[0], ctx, scope)
                if isinstance(stmt, cst.If) and stmt.orelse is None and _offline_test(stmt.test) and _ends_in_exit(stmt):
                    # ``if context.is_offline_mode(): return``: what follows runs online only
                    ctx = self._guard(stmt.test, ctx, scope)[1]

    def _compound(self, stmt, node, ctx: Ctx, scope: _Scope) -> None:
        if isinstance(stmt, cst.FunctionDef):  # a helper defined inside upgrade(): walked where it is called
            scope.local_functions[stmt.name.value] = stmt
            self.nested_ast[id(stmt)] = node
            scope.sql_exprs.pop(stmt.name.value, None)
            return
        if isinstance(stmt, cst.If):
            self._expression(stmt.test, node, ctx, scope)  # if conn.execute(...).rowcount == 0: it runs
            guard = self._guard(stmt.test, ctx, scope)
            body, _ = _block(stmt)
            self._statements(body, node.body, guard[0], scope)
            if stmt.orelse is not None:
                if isinstance(stmt.orelse, cst.If):
                    self._compound(stmt.orelse, node.orelse[0], guard[1], scope)
                else:
                    body, _ = _block(stmt.orelse)
                    self._statements(body, node.orelse, guard[1], scope)
        elif isinstance(stmt, cst.With):
            inner = ctx
            for item, ast_item in zip(stmt.items, node.items):
                inner = self._with_item(item, inner, scope)
            body, _ = _block(stmt)
            self._statements(body, node.body, inner, scope)
        elif isinstance(stmt, (cst.For, cst.While)):
            if isinstance(stmt, cst.For):  # for row in session.query(t): what the loop reads
                self._expression(stmt.iter, node, ctx, scope)
                for target in _walk(stmt.target):  # the loop binds its targets: no longer literals
                    if isinstance(target, cst.Name):
                        self.constants.pop(target.value, None)
                        scope.selects.pop(target.value, None)
                        scope.sql_exprs.pop(target.value, None)
                        scope.function_lists.pop(target.value, None)
                        scope.string_lists.pop(target.value, None)
                        scope.sequences.pop(target.value, None)
                # for query in [backfill_a, backfill_b]: query(...) is each of them in turn
                functions = self._function_list(stmt.iter, scope)
                if functions and isinstance(stmt.target, cst.Name):
                    scope.function_lists[stmt.target.value] = functions
                # for table, stmt in [("server", "CREATE INDEX ..."), ...]: op.execute(stmt) runs each
                looped = self._string_lists(stmt.iter, stmt.target, scope)
                scope.string_lists.update(looped)
                if self._is_result(stmt.iter, ctx, scope):
                    self._read("rows", node, ctx, "iterating a query's result")
                self._reads_within(stmt.iter, node, ctx, scope)
            if isinstance(stmt, cst.While):  # while conn.execute(batch).rowcount: each pass runs it
                self._expression(stmt.test, node, ctx.add("loop"), scope)
            body, _ = _block(stmt)
            self._statements(body, node.body, ctx.add("loop"), scope)
            if isinstance(stmt, cst.For) and isinstance(stmt.target, cst.Name) and scope.function_lists.pop(stmt.target.value, None):
                scope.sql_exprs.pop(stmt.target.value, None)  # after the loop it is the last one only: unknown
            if isinstance(stmt, cst.For):
                for name in looped:
                    scope.string_lists.pop(name, None)  # after the loop: the last one only
            if stmt.orelse is not None:
                body, _ = _block(stmt.orelse)
                self._statements(body, node.orelse, ctx, scope)
        elif isinstance(stmt, (cst.Try, getattr(cst, "TryStar", cst.Try))):
            body, _ = _block(stmt)
            self._statements(body, node.body, ctx.add("try"), scope)
            for handler, ast_handler in zip(stmt.handlers, node.handlers):
                body, _ = _block(handler)
                self._statements(body, ast_handler.body, ctx.add("except"), scope)
            if stmt.orelse is not None:
                body, _ = _block(stmt.orelse)
                self._statements(body, node.orelse, ctx, scope)
            if stmt.finalbody is not None:
                body, _ = _block(stmt.finalbody)
                self._statements(body, node.finalbody, ctx, scope)

    def _guard(self, test: cst.BaseExpression, ctx: Ctx, scope: Optional["_Scope"] = None) -> tuple:
        """Contexts for the body and the else branch of ``if <test>``."""
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            body, orelse = self._guard(test.expression, ctx, scope)
            return orelse, body
        if _offline_test(test):
            return ctx.add("offline"), ctx.add("online")
        selected = self._dialect_test(test, scope or _Scope(), depth=0)
        if selected is not None:
            names, positive = selected
            if positive:
                return dataclasses.replace(ctx, dialects=names), dataclasses.replace(ctx, not_dialects=ctx.not_dialects + names)
            return dataclasses.replace(ctx, not_dialects=ctx.not_dialects + names), dataclasses.replace(ctx, dialects=names)
        return ctx.add("conditional"), ctx.add("conditional")

    def _dialect_test(self, test, scope: "_Scope", depth: int) -> Optional[tuple]:
        """(dialect names, True when the test holds on them / False when it holds on all others)
        for a condition on the dialect, in the ways migrations write one:
        ``bind.dialect.name == "mysql"`` (or ``!=``, ``in``), a variable holding it
        (``dialect = op.get_context().dialect.name``), the URL (``str(bind.engine.url)
        .startswith("mysql")``, ``"sqlite" in url``, ``url.drivername``), and a helper of the same
        file that returns such a test (``def is_postgres(): return ...``).  None otherwise."""
        if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
            target = test.comparisons[0]
            operator = target.operator
            if self._is_dialect_name(test.left, scope):
                right = self.evaluator.literal(target.comparator)
                names = (right,) if isinstance(right, str) else right if isinstance(right, tuple) else None
                if names:
                    names = tuple(_dialect_name(n) for n in names if isinstance(n, str))
                    if isinstance(operator, (cst.Equal, cst.In, cst.Is)):
                        return names, True
                    if isinstance(operator, (cst.NotEqual, cst.NotIn, cst.IsNot)):
                        return names, False
            if isinstance(operator, (cst.In, cst.NotIn)) and self._is_url(target.comparator, scope):
                needle = self.evaluator.literal(test.left)
                name = _url_dialect(needle) if isinstance(needle, str) else None
                if name:
                    return (name,), isinstance(operator, cst.In)
        if isinstance(test, cst.Call) and isinstance(test.func, cst.Attribute) and test.func.attr.value == "startswith" and test.args:
            if self._is_url(test.func.value, scope) or self._is_dialect_name(test.func.value, scope):
                prefix = self.evaluator.literal(test.args[0].value)
                prefixes = (prefix,) if isinstance(prefix, str) else prefix if isinstance(prefix, tuple) else ()
                names = tuple(dict.fromkeys(n for n in (_url_dialect(p) for p in prefixes if isinstance(p, str)) if n))
                if names:
                    return names, True
        if isinstance(test, cst.Call) and isinstance(test.func, cst.Name) and depth == 0:
            helper = self.functions.get(test.func.value)
            returned = _returned_expression(helper) if helper is not None else None
            if returned is not None:
                expression = cst.parse_expression(returned)
                return self._dialect_test(expression, _Scope(), depth + 1)
        return None

    def _is_dialect_name(self, expr, scope: "_Scope") -> bool:
        if isinstance(expr, cst.Name) and expr.value in scope.dialect_names:
            return True
        names = _tail_names(expr)
        return ".".join(names).endswith(("dialect.name", "engine.name")) or (len(names) >= 2 and names[-1] == "name" and names[-2] in scope.dialect_objects)

    def _is_url(self, expr, scope: "_Scope") -> bool:
        """``str(x.engine.url)``, ``x.url``, ``url.drivername``, a variable holding one of them."""
        if isinstance(expr, cst.Name):
            return expr.value in scope.url_names
        if isinstance(expr, cst.Call) and last_name(expr.func) in ("str", "render_as_string") and (expr.args or isinstance(expr.func, cst.Attribute)):
            inner = expr.args[0].value if expr.args and last_name(expr.func) == "str" else expr.func.value if isinstance(expr.func, cst.Attribute) else None
            return inner is not None and self._is_url(inner, scope)
        names = _tail_names(expr)
        return bool(names) and names[-1] in ("url", "drivername")

    def _with_item(self, item: cst.WithItem, ctx: Ctx, scope: _Scope) -> Ctx:
        call = item.item
        if not isinstance(call, cst.Call):
            return ctx
        method = last_name(call.func)
        if method == "autocommit_block":
            return ctx.add("autocommit")
        if method == "batch_alter_table" and self._is_op(call.func, ctx):
            args = self._bind(call, ("table_name",))
            table = self.evaluator.string(args.get("table_name"))
            schema = self.evaluator.string(args.get("schema"))
            if item.asname is not None and isinstance(item.asname.name, cst.Name):
                scope.batch[item.asname.name.value] = (table, schema)
            return ctx.add("batch")
        if _is_session(call) and item.asname is not None and isinstance(item.asname.name, cst.Name):
            scope.binds.add(item.asname.name.value)  # with Session(bind=op.get_bind()) as session:
            scope.sessions.add(item.asname.name.value)
        return ctx

    # -- statements ----------------------------------------------------------------------------
    def _forget_changed(self, small, scope: _Scope) -> None:
        """A literal list changed in place (append, +=, x[0] = ..., passed to a function) or a
        loop variable changed (stmt += ...): no longer the strings it was."""
        if not (scope.sequences or scope.string_lists):
            return
        names = set()
        if isinstance(small, cst.AugAssign) and isinstance(small.target, cst.Name):
            names.add(small.target.value)
        if isinstance(small, cst.Assign):
            for target in small.targets:
                if isinstance(target.target, cst.Subscript) and isinstance(target.target.value, cst.Name):
                    names.add(target.target.value.value)
        for call in _walk(small):
            if not isinstance(call, cst.Call):
                continue
            if isinstance(call.func, cst.Attribute) and isinstance(call.func.value, cst.Name):
                names.add(call.func.value.value)  # statements.append(...), .extend, .insert
            names.update(arg.value.value for arg in call.args if isinstance(arg.value, cst.Name) and arg.value.value in scope.sequences)
        for name in names:
            scope.sequences.pop(name, None)
            scope.string_lists.pop(name, None)

    def _small(self, small, node: ast.stmt, ctx: Ctx, scope: _Scope) -> None:
        self._forget_changed(small, scope)
        if isinstance(small, cst.Raise):
            self._emit(m.RAISE, node, ctx, call="raise")
            return
        if isinstance(small, (cst.Assign, cst.AnnAssign)) and small.value is not None:
            targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
            self._assignment(targets, small.value, scope, ctx)
            self._expression(small.value, node, ctx, scope)
        elif isinstance(small, cst.Expr):
            self._expression(small.value, node, ctx, scope)
        elif isinstance(small, cst.Return) and small.value is not None:
            self._expression(small.value, node, ctx, scope)

    def _assignment(self, targets, value, scope: _Scope, ctx: Ctx) -> None:
        names = [t.value for t in targets if isinstance(t, cst.Name)]
        if not names:
            return
        literal = self.evaluator.literal(value)
        call_name = dotted(value.func) if isinstance(value, cst.Call) else None
        tail = (call_name or "").rsplit(".", 1)[-1]
        for name in names:
            if isinstance(literal, str):
                self.constants[name] = literal
            else:
                self.constants.pop(name, None)  # name = compute(): no longer the literal it was
            if not (isinstance(value, cst.Call) and _head_name(value) == "select"):
                scope.selects.pop(name, None)
            scope.function_lists.pop(name, None)
            scope.string_lists.pop(name, None)
            if isinstance(value, (cst.List, cst.Tuple)):
                scope.sequences[name] = value
            else:
                scope.sequences.pop(name, None)
            if not isinstance(literal, str) and self._builds_sql(value, scope):
                scope.sql_exprs[name] = (value, dict(self.constants))  # stmt = sa.text(f"..."); conn.execute(stmt): read as bound here
            else:
                scope.sql_exprs.pop(name, None)
            functions = self._function_list(value, scope)
            if functions:
                scope.function_lists[name] = functions  # queries = [backfill_a, backfill_b]
            if tail == "get_bind" or (isinstance(value, cst.Attribute) and value.attr.value in ("bind", "connection")):
                scope.binds.add(name)
            elif _is_session(value):
                scope.binds.add(name)  # sa.orm.Session(bind=op.get_bind()): session.execute runs SQL there too
                scope.sessions.add(name)
            elif self._is_execution(value, ctx, scope):
                scope.results.add(name)  # result = conn.execute(...): reading it needs rows
            elif tail == "get_context":
                scope.contexts.add(name)
            elif self._is_dialect_name(value, scope):
                scope.dialect_names.add(name)  # dialect = op.get_context().dialect.name
            elif isinstance(value, cst.Attribute) and value.attr.value == "dialect":
                scope.dialect_objects.add(name)  # dialect = bind.dialect
            elif self._is_url(value, scope):
                scope.url_names.add(name)  # url = str(bind.engine.url)
            elif tail in ("table", "Table") and isinstance(value, cst.Call) and value.args:
                table = self.evaluator.string(value.args[0].value)
                if table:
                    scope.tables[name] = table
            elif tail in ("Enum", "ENUM"):
                spec = self.evaluator.type_spec(value)
                if spec is not None:
                    self.enums[name] = spec
            elif isinstance(value, cst.Call) and _head_name(value) == "select":
                scope.selects[name] = value  # stmt = sa.select(...); bind.execute(stmt)

    def _expression(self, expr, node: ast.stmt, ctx: Ctx, scope: _Scope) -> None:
        """Find calls in an expression; an operation call is not searched further."""
        if isinstance(expr, cst.Call):
            if self._call(expr, node, ctx, scope):
                return
            self._expression(expr.func, node, ctx, scope)
            for arg in expr.args:
                self._expression(arg.value, node, ctx, scope)
        elif isinstance(expr, cst.Attribute):
            if expr.attr.value in R.RESULT_MEMBERS and self._is_result(expr.value, ctx, scope):
                self._read("rows", node, ctx, f"reading a query's result (.{expr.attr.value})")
            self._expression(expr.value, node, ctx, scope)
        elif isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
            for element in expr.elements:
                self._expression(element.value, node, ctx, scope)
        elif isinstance(expr, (cst.ListComp, cst.SetComp, cst.GeneratorExp)):
            if self._is_result(expr.for_in.iter, ctx, scope):
                self._read("rows", node, ctx, "iterating a query's result")
            self._expression(expr.elt, node, ctx.add("loop"), scope)
        elif isinstance(expr, cst.Await):
            self._expression(expr.expression, node, ctx, scope)
        elif isinstance(expr, cst.Comparison):  # conn.execute(batch).rowcount == 0
            self._expression(expr.left, node, ctx, scope)
            for target in expr.comparisons:
                self._expression(target.comparator, node, ctx, scope)
        elif isinstance(expr, (cst.BooleanOperation, cst.BinaryOperation)):
            self._expression(expr.left, node, ctx, scope)
            self._expression(expr.right, node, ctx, scope)
        elif isinstance(expr, cst.UnaryOperation):
            self._expression(expr.expression, node, ctx, scope)

    def _is_op(self, func: cst.BaseExpression, ctx: Ctx) -> bool:
        return isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value in ctx.op_names

    def _call(self, call: cst.Call, node: ast.stmt, ctx: Ctx, scope: _Scope) -> bool:
        func = call.func
        method = last_name(func)
        if method is None:
            return False
        receiver = func.value if isinstance(func, cst.Attribute) else None
        self._reads_in_call(call, method, receiver, node, ctx, scope)
        # op.<method>(...)
        if receiver is not None and isinstance(receiver, cst.Name) and receiver.value in ctx.op_names:
            if method in OP_SIGNATURES:
                self._operation(method, self._bind(call, OP_SIGNATURES[method]), call, node, ctx, scope, None)
                return True
            return method in ("f", "get_bind", "get_context", "inline_literal")
        # batch_op.<method>(...)
        if receiver is not None and isinstance(receiver, cst.Name) and receiver.value in scope.batch:
            if method in BATCH_SIGNATURES:
                table, schema = scope.batch[receiver.value]
                args = self._bind(call, BATCH_SIGNATURES[method])
                self._operation(method, args, call, node, ctx.add("batch"), scope, (table, schema))
                return True
            return False
        # session.commit(), connection.commit(), op.get_bind().commit(): the transaction ends here
        if method in ("commit", "rollback") and receiver is not None and self._is_bind(receiver, ctx, scope):
            # an ORM session on a connection that is already in a transaction (Alembic's) joins it:
            # its commit() leaves that transaction alone (SQLAlchemy's join_transaction_mode)
            session = isinstance(receiver, cst.Name) and receiver.value in scope.sessions
            self._emit(m.COMMIT, node, ctx, call=f"{dotted(receiver) or 'op.get_bind()'}.{method}", attrs={"rollback": method == "rollback", "session": session})
            return True
        # session.query(table, ...): rows read in Python (a copy when they are written before a drop)
        if method == "query" and receiver is not None and self._is_bind(receiver, ctx, scope):
            reads = [scope.tables[a.value.value] for a in call.args if isinstance(a.value, cst.Name) and a.value.value in scope.tables]
            reads += [r for a in call.args for r in _column_reads(a.value, scope)]
            base = self._new(m.OTHER_SQL, node, ctx, call=f"{dotted(receiver) or 'session'}.query")
            self.result.operations.append(dataclasses.replace(base, attrs={"select": True, "reads": tuple(dict.fromkeys(reads)), "statement": "query"}))
            return False  # its arguments and chained calls are searched as usual
        # bind.execute(...), op.get_bind().execute(...), connection.exec_driver_sql(...)
        if method in ("execute", "exec_driver_sql") and receiver is not None and self._is_bind(receiver, ctx, scope):
            receiver_name = receiver.value if isinstance(receiver, cst.Name) else (dotted(receiver) or "op.get_bind()")
            self._execute(self._bind(call, ("sqltext",)).get("sqltext"), node, ctx, f"{receiver_name}.{method}", scope)
            return True
        # my_enum.create(bind) / sa.Enum(..., name=...).drop(op.get_bind())
        if method in ("create", "drop") and receiver is not None:
            spec = self.evaluator.type_spec(receiver)
            if spec is not None and spec.name == "enum" and spec.enum_name:
                kind = m.CREATE_TYPE if method == "create" else m.DROP_TYPE
                # create(bind, checkfirst=...): postgresql.ENUM's create checks first by default,
                # sa.Enum's does not
                given = self._bind(call, ("bind", "checkfirst")).get("checkfirst")
                checkfirst = self.evaluator.literal(given) is True if given is not None else spec.text.split("(")[0].rsplit(".", 1)[-1] == "ENUM"
                self._emit(kind, node, ctx, name=spec.enum_name, schema=spec.enum_schema, attrs={"labels": spec.enum_labels, "implicit": False, "checkfirst": checkfirst}, call=f"{spec.text.split('(')[0]}.{method}")
                return True
        # sa.Table(...).drop(bind), metadata.drop_all(bind=...), sa.Index(...).drop(bind): schema
        # changes outside op; what they drop is not read (an OTHER_SQL without text: anything)
        if method in ("drop", "drop_all") and receiver is not None and (call.args or method == "drop_all"):
            self._emit(m.OTHER_SQL, node, ctx, attrs={"statement": "drop_call"}, call=f"{dotted(receiver) or '?'}.{method}")
            return False
        # helper functions in the same file: top level, defined inside the function being walked,
        # or each of a list of them a loop variable takes (for step in [a, b]: step(op))
        if isinstance(func, cst.Name) and func.value not in (m.UPGRADE, m.DOWNGRADE):
            names = scope.function_lists.get(func.value) or (func.value,)
            helpers = [(name, scope.local_functions.get(name)) for name in names if name in scope.local_functions or name in self.functions]
            if not helpers or len(helpers) != len(names):
                return False
            op_args = [
                (i, a) for i, a in enumerate(call.args) if isinstance(a.value, cst.Name) and a.value.value in ctx.op_names
            ]
            for name, local in helpers:
                inner = ctx.add("helper")
                if ctx.site is None:  # the outermost call: the statement in upgrade()/downgrade()
                    inner = dataclasses.replace(inner, site=node, helper=name)
                if local is not None:
                    self._function(None, inner, scope, op_args=op_args, call=call, fn=local)
                else:
                    self._function(self.functions[name], inner, scope, op_args=op_args, call=call)
            return True
        return False

    # -- reads (see frontend/reads.py) ----------------------------------------------------------
    def _read(self, what: str, node: ast.stmt, ctx: Ctx, how: str) -> None:
        self.result.reads.append(self._new(m.READ, node, ctx, call=how, attrs={"what": what}))

    def _is_execution(self, expr, ctx: Ctx, scope: _Scope) -> bool:
        """``conn.execute(...)`` / ``op.get_bind().exec_driver_sql(...)`` / ``session.execute(...)``."""
        return (
            isinstance(expr, cst.Call)
            and isinstance(expr.func, cst.Attribute)
            and expr.func.attr.value in ("execute", "exec_driver_sql")
            and self._is_bind(expr.func.value, ctx, scope)
        )

    def _is_result(self, expr, ctx: Ctx, scope: _Scope) -> bool:
        return (isinstance(expr, cst.Name) and expr.value in scope.results) or self._is_execution(expr, ctx, scope)

    def _is_bindish(self, expr, ctx: Ctx, scope: _Scope) -> bool:
        """The migration's connection, or its engine (``op.get_bind().engine``)."""
        if isinstance(expr, cst.Attribute) and expr.attr.value == "engine":
            expr = expr.value
        return self._is_bind(expr, ctx, scope) and not (isinstance(expr, cst.Name) and expr.value in scope.sessions)

    def _reads_within(self, expr, node, ctx: Ctx, scope: _Scope) -> None:
        """Reads in an expression the walk does not visit for operations (a loop's iterable)."""
        stack = [expr]
        while stack:
            current = stack.pop()
            if isinstance(current, cst.Call):
                self._reads_in_call(current, last_name(current.func), current.func.value if isinstance(current.func, cst.Attribute) else None, node, ctx, scope)
            elif isinstance(current, cst.Attribute) and current.attr.value in R.RESULT_MEMBERS and self._is_result(current.value, ctx, scope):
                self._read("rows", node, ctx, f"reading a query's result (.{current.attr.value})")
            stack.extend(current.children)

    def _reads_in_call(self, call: cst.Call, method: str, receiver, node, ctx: Ctx, scope: _Scope) -> None:
        first = call.args[0].value if call.args and call.args[0].keyword is None else None
        if method in ("inspect", "from_engine") and first is not None and self._is_bindish(first, ctx, scope):
            self._read("reflection", node, ctx, f"{dotted(call.func) or method}() on the connection")
        elif method in R.DIALECT_REFLECTION and isinstance(receiver, cst.Attribute) and receiver.attr.value == "dialect":
            self._read("reflection", node, ctx, f"dialect.{method}()")
        elif method == "reflect" and any(self._is_bindish(a.value, ctx, scope) for a in call.args):
            self._read("reflection", node, ctx, "MetaData.reflect()")
        elif any(a.keyword is not None and a.keyword.value == "autoload_with" and self._is_bindish(a.value, ctx, scope) for a in call.args):
            self._read("reflection", node, ctx, "a Table loaded with autoload_with=")
        elif receiver is not None and isinstance(receiver, cst.Name) and receiver.value in scope.sessions and method not in R.SESSION_HARMLESS:
            self._read("session", node, ctx, f"an ORM session on the connection ({receiver.value}.{method}())")
        elif method in R.CONNECTION_READS and receiver is not None and self._is_bindish(receiver, ctx, scope):
            self._read("rows", node, ctx, f"{dotted(receiver) or 'op.get_bind()'}.{method}()")
        elif isinstance(call.func, cst.Name) and method in R.CONSUMERS and first is not None and self._is_result(first, ctx, scope):
            self._read("rows", node, ctx, f"{method}() of a query's result")

    def _is_bind(self, receiver, ctx: Ctx, scope: _Scope) -> bool:
        if isinstance(receiver, cst.Name):
            return receiver.value in scope.binds
        if isinstance(receiver, cst.Call):
            return last_name(receiver.func) == "get_bind"
        if isinstance(receiver, cst.Attribute):
            return receiver.attr.value in ("bind", "connection")
        return False

    @staticmethod
    def _bind(call: cst.Call, params: tuple) -> dict:
        args = {}
        position = 0
        rest = []
        for arg in call.args:
            if arg.star:
                continue
            if arg.keyword is not None:
                key = arg.keyword.value
                key = ALIASES.get(key, key) if key not in params else key
                if key == "constraint_name" and "constraint_name" not in params and "index_name" in params:
                    key = "index_name"
                if key == "table_name" and "table_name" not in params and "source_table" in params:
                    key = "source_table"
                args[key] = arg.value
            elif position < len(params):
                args[params[position]] = arg.value
                position += 1
            else:
                rest.append(arg.value)
        args["*"] = rest
        return args

    # -- operations ----------------------------------------------------------------------------
    @staticmethod
    def _new(kind: str, node: ast.stmt, ctx: Ctx, **fields) -> Operation:
        """An operation at a statement, in its context (not yet recorded); inside a helper, at
        the statement that called it, with the helper's own line in ``attrs['helper']``."""
        at = ctx.site or node
        if ctx.site is not None:
            fields["attrs"] = {**fields.get("attrs", {}), "helper": f"{ctx.helper}:{node.lineno}"}
        return Operation(
            kind=kind,
            phase=ctx.phase,
            line=at.lineno,
            column_offset=at.col_offset,
            end_line=getattr(at, "end_lineno", None) or at.lineno,
            context=ctx.flags,
            dialects=ctx.dialects,
            not_dialects=ctx.not_dialects,
            **fields,
        )

    def _emit(self, kind: str, node: ast.stmt, ctx: Ctx, **fields) -> Operation:
        op = self._new(kind, node, ctx, **fields)
        self.result.operations.append(op)
        return op

    def _operation(self, method, args, call, node, ctx: Ctx, scope: _Scope, batch) -> None:
        ev = self.evaluator
        prefix = "batch_op" if batch else "op"
        call_name = f"{prefix}.{method}"
        schema = ev.string(args.get("schema")) or (batch[1] if batch else None)
        table = batch[0] if batch else None
        if not batch:
            table_node = args.get("source_table") or args.get("table_name") or args.get("old_table_name")
            table = ev.string(table_node)
        emit = lambda kind, **kw: self._emit(kind, node, ctx, call=call_name, **{"table": table, "schema": schema, **kw})  # noqa: E731

        def flag(key):
            return ev.literal(args.get(key)) is True

        def bare(*keys):
            """Column-list parameters given one string: Alembic iterates its characters as column
            names (a one-character name happens to work)."""
            found = []
            for key in keys:
                value = ev.literal(args.get(key)) if args.get(key) is not None else None
                if isinstance(value, str) and not isinstance(value, SQLText) and len(value) > 1:
                    found.append(key)
            return tuple(found)

        def named(key):
            """name= of the operation: a string, None (none given), or unknown (an expression)."""
            value = ev.literal(args.get(key)) if args.get(key) is not None else None
            return {"name": value if isinstance(value, str) else None, "name_unknown": value is not None and not isinstance(value, str)}

        if method == "create_table":
            columns, foreign_keys = [], []
            for value in args["*"]:
                spec = ev.column(value)
                if spec is not None:
                    columns.append(spec)
                elif isinstance(value, cst.Call) and last_name(value.func) == "ForeignKeyConstraint" and len(value.args) >= 2:
                    # sa.ForeignKeyConstraint(["owner_id"], ["user.id"]): which columns point where
                    local, remote = ev.strings(value.args[0].value), ev.strings(value.args[1].value)
                    if local and remote:
                        foreign_keys.append((tuple(local), remote[0].rpartition(".")[0] or None))
            prefixes = ev.strings(args.get("prefixes"))
            temporary = any(p.upper() in ("TEMP", "TEMPORARY") for p in prefixes)
            emit(m.CREATE_TABLE, table_columns=tuple(columns), attrs={"if_not_exists": flag("if_not_exists"), "temporary": temporary, "foreign_keys": tuple(foreign_keys)})
            self._implied_types(columns, emit)
        elif method == "drop_table":
            emit(m.DROP_TABLE, attrs={"if_exists": flag("if_exists")})
        elif method == "rename_table":
            emit(m.RENAME_TABLE, attrs={"new_name": ev.string(args.get("new_table_name"))})
        elif method == "add_column":
            spec = ev.column(args.get("column")) if args.get("column") is not None else None
            if spec is None:
                spec = m.ColumnSpec(name=None)
            columns = (spec.name,) if spec.name else ()
            # no CREATE TYPE here: Alembic's add_column never creates a column's enum type
            # (alembic#161, #1053), the upgrade fails unless the type exists (enum-type-not-created)
            emit(m.ADD_COLUMN, columns=columns, column=spec)
            # Alembic's add_column also creates what the Column declares, in the same migration.
            if spec.foreign_key:
                ref_table, _, ref_column = spec.foreign_key.rpartition(".")
                emit(m.CREATE_FOREIGN_KEY, columns=columns, attrs={"ref_table": ref_table or None, "ref_columns": (ref_column,), "not_valid": False, "inline": True})
            if spec.unique:
                emit(m.CREATE_UNIQUE_CONSTRAINT, columns=columns, attrs={"using_index": None, "inline": True})
            if spec.index:  # named as SQLAlchemy's default convention does: ix_<table>_<column>
                emit(m.CREATE_INDEX, name=f"ix_{table}_{spec.name}" if table and spec.name else None, columns=columns, attrs={"unique": False, "concurrently": False, "if_not_exists": False, "where": False, "inline": True})
        elif method == "drop_column":
            column = ev.string(args.get("column_name"))
            given = args.get("column_name")
            column_object = isinstance(given, cst.Call) and last_name(given.func) == "Column"
            if column_object:  # op.drop_column("t", sa.Column("x", ...)): the column it meant
                column = (ev.column(given) or m.ColumnSpec(name=None)).name
            emit(m.DROP_COLUMN, columns=(column,) if column else (), attrs={"if_exists": flag("if_exists"), "column_object": column_object})
        elif method == "alter_column":
            self._alter_column(args, emit)
        elif method == "create_index":
            columns = tuple(str(c) for c in ev.strings(args.get("columns")))
            concurrently = flag("postgresql_concurrently")
            where = args.get("postgresql_where") or args.get("sqlite_where")
            emit(
                m.CREATE_INDEX,
                **named("index_name"),
                columns=columns,
                attrs={
                    "unique": flag("unique"),
                    "concurrently": concurrently,
                    "if_not_exists": flag("if_not_exists"),
                    "where": where is not None,
                    "bare_string": bare("columns"),
                    # only the keyword of the dialect checked: another dialect's where is ignored there
                    **self._null_in_condition(self._where_of(args, ev)),
                },
            )
        elif method == "drop_index":
            emit(
                m.DROP_INDEX,
                **named("index_name"),
                attrs={"concurrently": flag("postgresql_concurrently"), "if_exists": flag("if_exists")},
            )
        elif method == "create_foreign_key":
            emit(
                m.CREATE_FOREIGN_KEY,
                **named("constraint_name"),
                columns=ev.strings(args.get("local_cols")),
                schema=ev.string(args.get("source_schema")) or schema,
                attrs={
                    "ref_table": ev.string(args.get("referent_table")),
                    "ref_schema": ev.string(args.get("referent_schema")),
                    "ref_columns": ev.strings(args.get("remote_cols")),
                    "not_valid": flag("postgresql_not_valid"),
                    "bare_string": bare("local_cols", "remote_cols"),
                },
            )
        elif method in ("create_unique_constraint", "create_primary_key"):
            kind = m.CREATE_UNIQUE_CONSTRAINT if method == "create_unique_constraint" else m.CREATE_PRIMARY_KEY
            emit(kind, **named("constraint_name"), columns=ev.strings(args.get("columns")), attrs={"using_index": None, "bare_string": bare("columns")})
        elif method == "create_check_constraint":
            condition = ev.literal(args.get("condition"))
            emit(
                m.CREATE_CHECK_CONSTRAINT,
                **named("constraint_name"),
                attrs={"condition": condition if isinstance(condition, str) else None, "not_valid": flag("postgresql_not_valid"), **self._null_in_condition(condition)},
            )
        elif method == "create_exclude_constraint":
            emit(m.CREATE_EXCLUDE_CONSTRAINT, **named("constraint_name"))
        elif method == "drop_constraint":
            type_ = ev.string(args.get("type_"))
            emit(m.DROP_CONSTRAINT, **named("constraint_name"), attrs={"type": type_, "if_exists": flag("if_exists"), "type_given": "type_" in args})
        elif method == "execute":
            self._execute(args.get("sqltext"), node, ctx, call_name, scope)
        elif method == "bulk_insert":
            target = args.get("table")
            name = scope.tables.get(target.value) if isinstance(target, cst.Name) else None
            if name is None and isinstance(target, cst.Call) and last_name(target.func) in ("table", "Table") and target.args:
                name = ev.string(target.args[0].value)  # op.bulk_insert(sa.table("macro", ...), rows)
            emit(m.INSERT_ROWS, table=name, attrs={"has_where": False})
        if method in IGNORING_METHODS:
            ignored = _ignored_keywords(call, method, bool(batch))
            if ignored:
                column = ev.string(args.get("column_name"))
                guesses = {k: _meant(k, method, bool(batch)) for k in ignored}
                meant = [f"`{guess}=` for `{k}=`" for k, guess in guesses.items() if guess]
                emit(m.IGNORED_ARGUMENTS, columns=(column,) if column else (), attrs={
                    "ignored": ", ".join(f"`{k}=`" for k in ignored),
                    "meant": f" (did you mean {', '.join(meant)}?)" if meant else "",
                })

    def _implied_types(self, columns, emit) -> None:
        for spec in columns:
            t = spec.type
            if t is not None and t.name == "enum" and t.enum_name and t.create_type:
                # SQLAlchemy puts the type in its own schema= (the table's with inherit_schema=True),
                # else in the default schema, whatever schema the table is in
                schema = {"schema": t.enum_schema} if t.enum_schema or not t.inherit_schema else {}
                emit(m.CREATE_TYPE, name=t.enum_name, columns=(spec.name,) if spec.name else (), attrs={"labels": t.enum_labels, "implicit": True}, **schema)

    def _alter_column(self, args, emit) -> None:
        ev = self.evaluator
        column = ev.string(args.get("column_name"))
        columns = (column,) if column else ()
        existing_type = ev.type_spec(args.get("existing_type"))
        existing_nullable = ev.literal(args.get("existing_nullable"))
        common = {"existing_type": existing_type, "existing_nullable": existing_nullable if isinstance(existing_nullable, bool) else None}
        if args.get("type_") is not None:
            new_type = ev.type_spec(args["type_"])
            using = ev.string(args.get("postgresql_using"))
            emit(m.ALTER_COLUMN_TYPE, columns=columns, attrs={**common, "type": new_type, "using": using})
        nullable = ev.literal(args.get("nullable"))
        if nullable is False:
            emit(m.SET_NOT_NULL, columns=columns, attrs=dict(common))
        elif nullable is True:
            emit(m.DROP_NOT_NULL, columns=columns, attrs=dict(common))
        if "server_default" in args and ev.literal(args["server_default"]) is not False:  # False: no change
            default = ev.default(args["server_default"])
            if default is None:
                emit(m.DROP_DEFAULT, columns=columns, attrs=dict(common))
            else:
                emit(m.SET_DEFAULT, columns=columns, attrs={**common, "default": default})
        new_name = ev.string(args.get("new_column_name"))
        if new_name:
            emit(m.RENAME_COLUMN, columns=columns, attrs={**common, "new_name": new_name})

    def _execute(self, sql_node, node, ctx: Ctx, call_name: str, scope: _Scope, depth: int = 0) -> None:
        if sql_node is None:
            return
        ev = self.evaluator
        if isinstance(sql_node, cst.Name) and sql_node.value in scope.selects:
            sql_node = scope.selects[sql_node.value]
        # SQL built out of line: a name bound to it, or a call of a function that returns it (each
        # function a loop variable takes in turn); read with the call's literal arguments
        if depth < 4 and not isinstance(ev.literal(sql_node), str):
            inner = _unwrap_text(sql_node)
            if isinstance(inner, cst.Name) and inner.value in scope.string_lists:
                base = self._new(m.RAW_SQL, node, ctx, call=call_name)
                for text in scope.string_lists[inner.value]:  # each statement the loop runs
                    self.result.operations.extend(self._sql(text, base))
                return
            if isinstance(inner, cst.Name) and inner.value in scope.sql_exprs:
                bound, constants = scope.sql_exprs[inner.value]
                with self._constants(constants, replace=True):  # its holes' names as they were when it was built
                    self._execute(bound, node, ctx, call_name, scope, depth + 1)
                return
            returned = self._returned_sql(inner, scope)
            if returned:
                for function, expression in returned:
                    params = [p.name.value for p in (*function.params.posonly_params, *function.params.params)]
                    arguments = self._literal_arguments(inner, function, params)
                    with self._constants(arguments, drop=(*params, *(p.name.value for p in function.params.kwonly_params))):
                        self._execute(expression, node, ctx, call_name, scope, depth + 1)
                return
        value = ev.literal(sql_node)
        base = self._new(m.RAW_SQL, node, ctx, call=call_name)
        if isinstance(value, str):
            self.result.operations.extend(self._sql(str(value), base))
            return
        # SQLAlchemy Core expressions: table.update(), sa.delete(t), t.insert(), DDL elements...
        kind = self._core_statement(sql_node, scope)
        if kind is not None:
            reads = _column_reads(sql_node, scope)
            extra = {"reads": reads} if reads else {}
            written = _values_keywords(sql_node)
            if written:
                extra["writes"] = written
            self.result.operations.append(dataclasses.replace(base, kind=kind[0], table=kind[1], attrs={"has_where": kind[2], **extra, **(kind[3] if len(kind) > 3 else {})}))
            return
        # An f-string or formatted string: its literal part says what it does, the holes which names
        shape = skeleton(_unwrap_text(sql_node), ev.literal)  # sa.text(f"...") too
        if shape is not None:
            text, holes = shape
            operations = self._sql(text, base)
            if operations and not any(op.kind == m.RAW_SQL for op in operations):
                self.result.operations.extend(_without_holes(op, holes) for op in operations)
                return
        reason = "SQL built with an f-string" if value is FSTRING else "SQL is not a string literal"
        if isinstance(sql_node, cst.BinaryOperation) or (isinstance(sql_node, cst.Call) and last_name(sql_node.func) == "format"):
            reason = "SQL built by string formatting"
        source = self._imported_from(sql_node.value) if isinstance(sql_node, cst.Name) else None
        self.result.operations.append(dataclasses.replace(base, attrs={"reason": reason, **({"sql_source": source} if source else {})}))

    def _imported_from(self, name: str) -> Optional[str]:
        """'package.module.name' when ``name`` is bound by ``from package.module import name`` at
        module level: SQL another package ships (sqlalchemy_searchable's sql_expressions)."""
        found = None
        for sub in self.tree.body:
            if isinstance(sub, ast.ImportFrom) and sub.level == 0 and sub.module:
                for alias in sub.names:
                    if (alias.asname or alias.name) == name:
                        found = f"{sub.module}.{alias.name}"
        if found is None:
            return None
        # bound again anywhere (a function's local of the same name, a later module assignment):
        # then it may hold anything
        for node in ast.walk(self.tree):
            targets = ()
            if isinstance(node, (ast.Assign,)):
                targets = node.targets
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor, ast.NamedExpr)):
                targets = (node.target,)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                targets = tuple(item.optional_vars for item in node.items if item.optional_vars is not None)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if any(arg.arg == name for arg in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)):
                    return None
            for target in targets:
                if any(isinstance(inner, ast.Name) and inner.id == name for inner in ast.walk(target)):
                    return None
        return found

    def _builds_sql(self, value, scope: _Scope) -> bool:
        """An expression that makes SQL text: an f-string or formatting, text(...) of one, or a
        call of a function (defined here) that returns one."""
        inner = _unwrap_text(value)
        if isinstance(inner, cst.FormattedString) or skeleton(inner, self.evaluator.literal) is not None:
            return True
        if isinstance(inner, cst.Name) and inner.value in scope.sql_exprs:
            return True
        return bool(self._returned_sql(inner, scope))

    def _string_lists(self, iterated, target, scope: _Scope) -> dict:
        """{loop variable: the literal strings it takes} for a loop over a literal list or tuple
        (or a name bound to one) of strings, or of tuples unpacked into names."""
        if isinstance(iterated, cst.Name):
            iterated = scope.sequences.get(iterated.value)
        if not isinstance(iterated, (cst.List, cst.Tuple)) or not iterated.elements or len(iterated.elements) > 50:
            return {}
        literal = self.evaluator.literal
        if isinstance(target, cst.Name):
            values = [literal(e.value) for e in iterated.elements]
            return {target.value: tuple(values)} if all(isinstance(v, str) for v in values) else {}
        if not isinstance(target, (cst.Tuple, cst.List)):
            return {}
        names = [e.value.value if isinstance(e.value, cst.Name) else None for e in target.elements]
        rows = []
        for element in iterated.elements:
            if not isinstance(element.value, (cst.Tuple, cst.List)) or len(element.value.elements) != len(names):
                return {}
            rows.append([literal(item.value) for item in element.value.elements])
        found = {}
        for position, name in enumerate(names):
            column = [row[position] for row in rows]
            if name is not None and all(isinstance(v, str) for v in column):
                found[name] = tuple(column)
        return found

    def _function_list(self, value, scope: _Scope) -> tuple:
        """The functions a list or tuple of function names holds (or a name bound to one)."""
        if isinstance(value, cst.Name):
            return scope.function_lists.get(value.value, ())
        if not isinstance(value, (cst.List, cst.Tuple)) or not value.elements or len(value.elements) > 12:
            return ()
        names = []
        for element in value.elements:
            if not isinstance(element.value, cst.Name) or self._function_def(element.value.value, scope) is None:
                return ()
            names.append(element.value.value)
        return tuple(names)

    def _function_def(self, name: str, scope: _Scope):
        if name in scope.local_functions:
            return scope.local_functions[name]
        if name in self.functions and name not in (m.UPGRADE, m.DOWNGRADE):
            if not self.parsed_functions:
                self._parse_functions()
            if name not in self.parsed_functions:
                self.parsed_functions[name] = self._cst_statement(self.functions[name])
            return self.parsed_functions[name]
        return None

    def _returned_sql(self, call, scope: _Scope) -> list:
        """[(function, the expression it returns)] for ``f(...)`` where f (or each function a loop
        variable f takes) has one statement, ``return <expr>`` (after a docstring)."""
        if not isinstance(call, cst.Call) or not isinstance(call.func, cst.Name):
            return []
        name = call.func.value
        names = scope.function_lists.get(name) or (name,)
        found = []
        for candidate in names:
            function = self._function_def(candidate, scope)
            expression = _single_return(function) if function is not None else None
            if expression is None:
                return []
            found.append((function, expression))
        return found

    def _where_of(self, args, ev):
        """A partial index's condition for the dialect checked, when written as SQL text."""
        node = args.get({"postgresql": "postgresql_where", "sqlite": "sqlite_where"}.get(self.dialect, ""))
        return ev.literal(_unwrap_text(node)) if node is not None else None

    def _null_in_condition(self, condition) -> dict:
        """{"null_comparison": ...} when a condition written as SQL text (a CHECK's, a partial
        index's ``postgresql_where``) compares with NULL through = or <>: a CHECK on it accepts
        every row, a partial index on it covers none.  Read by the dialect's SQL parser, as the
        condition of a statement around it."""
        if not isinstance(condition, str) or "null" not in condition.lower() or len(condition) > 20_000:
            return {}
        probe = Operation(kind=m.RAW_SQL, phase=m.UPGRADE, line=0, source="sql")
        # on lines of its own: a trailing -- comment in the condition does not swallow the ")"
        for op in sql_to_operations(f"UPDATE migration_lint_condition SET probe = 0 WHERE (\n{condition}\n)", self.dialect, probe):
            if op.get("null_comparison"):
                return {"null_comparison": op.get("null_comparison")}
        return {}

    def _sql(self, text: str, base: Operation) -> list:
        """Operations of SQL text; bind parameters (``:name``, DB-API ``%s`` / ``%(name)s``) stand
        in as NULL for parsing, and messages keep the statement as written."""
        sql = BIND_PARAMETER.sub("NULL", text) if ":" in text else text
        sql = DBAPI_PARAMETER.sub("NULL", sql) if "%" in sql else sql
        operations = sql_to_operations(sql, self.dialect, base)
        if sql != text and any(op.get("null_comparison") for op in operations):
            # `id = :id` read as `id = NULL`: only a NULL the author wrote is a comparison with NULL
            # (prefect, mealie: UPDATE ... WHERE id = :id).  Read again with the parameters as 0.
            as_zero = BIND_PARAMETER.sub("0", text) if ":" in text else text
            as_zero = DBAPI_PARAMETER.sub("0", as_zero) if "%" in as_zero else as_zero
            written = [op.get("null_comparison") for op in sql_to_operations(as_zero, self.dialect, base) if op.get("null_comparison")]
            for op in operations:
                if op.get("null_comparison"):
                    if written:
                        op.attrs["null_comparison"] = written.pop(0)
                    else:
                        del op.attrs["null_comparison"]
        if sql != text and len(operations) == 1:
            operations = [dataclasses.replace(operations[0], sql=text.strip())]
        return operations

    def _core_statement(self, expr, scope: _Scope):
        """('update_rows', table, has_where) for ``t.update().where(...)`` style expressions."""
        has_where = False
        node = expr
        # sa.select(...) reads; sa.schema.CreateSequence / DropSequence / DropTable ... are DDL objects
        head = node
        while isinstance(head, cst.Call) and isinstance(head.func, cst.Attribute) and isinstance(head.func.value, cst.Call):
            head = head.func.value
        head_name = last_name(head.func) if isinstance(head, cst.Call) else None
        if head_name == "select":
            return (m.OTHER_SQL, None, False, {"select": True})
        ddl = {
            "CreateSequence": m.CREATE_SEQUENCE, "DropSequence": m.DROP_SEQUENCE, "CreateTable": m.CREATE_TABLE,
            "DropTable": m.DROP_TABLE, "DropIndex": m.DROP_INDEX, "CreateIndex": m.CREATE_INDEX,
            "DropConstraint": m.DROP_CONSTRAINT,
        }
        if head_name in ddl:
            return (ddl[head_name], None, False)
        if head_name in ("CreateSchema", "DropSchema", "AddConstraint", "SetTableComment", "SetColumnComment", "DropTableComment", "DropColumnComment"):
            return (m.OTHER_SQL, None, False, {"statement": head_name})
        while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            method = node.func.attr.value
            if method == "where":
                has_where = True
            if method in ("update", "delete", "insert"):
                target = node.func.value
                table = scope.tables.get(target.value) if isinstance(target, cst.Name) else None
                return ({"update": m.UPDATE_ROWS, "delete": m.DELETE_ROWS, "insert": m.INSERT_ROWS}[method], table, has_where)
            node = node.func.value
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value in ("update", "delete", "insert"):
            target = node.args[0].value if node.args else None
            table = scope.tables.get(target.value) if isinstance(target, cst.Name) else None
            return ({"update": m.UPDATE_ROWS, "delete": m.DELETE_ROWS, "insert": m.INSERT_ROWS}[node.func.value], table, has_where)
        return None


# What a Flask-SQLAlchemy ``db`` offers that is SQLAlchemy's own (types, schema items, SQL
# functions): a migration using only these uses no model of the application.
SQLALCHEMY_NAMES = frozenset({
    "Column", "ForeignKey", "Index", "UniqueConstraint", "CheckConstraint", "PrimaryKeyConstraint", "ForeignKeyConstraint",
    "Table", "MetaData", "Integer", "SmallInteger", "BigInteger", "String", "Unicode", "Text", "UnicodeText", "Boolean",
    "Date", "DateTime", "Time", "Interval", "Float", "Numeric", "DECIMAL", "LargeBinary", "JSON", "Enum", "PickleType",
    "ARRAY", "Uuid", "UUID", "VARCHAR", "CHAR", "TEXT", "INTEGER", "BIGINT", "BOOLEAN", "TIMESTAMP", "func", "text",
    "select", "and_", "or_", "not_", "null", "true", "false", "literal", "literal_column", "column", "table",
})
LOG_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "log"})
GETTEXT_NAMES = frozenset({"_", "gettext", "ugettext", "lazy_gettext", "_l", "ngettext"})
LOGGER_FACTORIES = frozenset({"get_logger", "getLogger", "get_task_logger"})


def _column_reads(expr, scope: Optional["_Scope"] = None) -> tuple:
    """Names a Core expression reads: every ``<table>.c.<column>`` / ``<table>.columns.<column>``
    in it (and the table's name, when the table is a known ``sa.table``), and the values written
    by ``.values(...)`` from rows read earlier (``row.old`` / ``row["old"]``)."""
    found = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Attribute) and node.value.attr.value in ("c", "columns"):
            found.append(node.attr.value)
            owner = node.value.value
            if scope is not None and isinstance(owner, cst.Name) and owner.value in scope.tables:
                found.append(scope.tables[owner.value])
        elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "values":
            for arg in node.args:
                value = arg.value
                if isinstance(value, cst.Attribute) and isinstance(value.value, cst.Name):
                    found.append(value.attr.value)
                elif isinstance(value, cst.Subscript) and isinstance(value.value, cst.Name) and len(value.slice) == 1:
                    index = value.slice[0].slice
                    if isinstance(index, cst.Index) and isinstance(index.value, cst.SimpleString):
                        found.append(index.value.value[1:-1])
        stack.extend(node.children)
    return tuple(dict.fromkeys(found))


def _values_keywords(expr) -> tuple:
    """The columns ``.values(name=...)`` in a Core statement writes."""
    found = []
    for node in _walk(expr):
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "values":
            found += [arg.keyword.value for arg in node.args if arg.keyword is not None]
    return tuple(dict.fromkeys(found))


# top-level packages a project's own code is never in: the standard library, Alembic and
# SQLAlchemy (their imports are what every revision has; weighing their uses costs a tree walk)
NEVER_THE_PROJECT = frozenset(getattr(sys, "stdlib_module_names", ())) | {"alembic", "sqlalchemy", "sqlmodel"}


def _unwrap_text(node):
    """The argument of ``text(...)`` / ``sa.text(...)`` (and of its .bindparams() and the like,
    and of textwrap.dedent / inspect.cleandoc)."""
    while isinstance(node, cst.Call):
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in SQL_WRAPPERS:
            node = node.func.value
        elif last_name(node.func) == "text" and node.args:
            node = node.args[0].value
        elif last_name(node.func) in ("dedent", "cleandoc") and len(node.args) == 1:
            node = node.args[0].value  # textwrap.dedent(f"""..."""): only the blanks change
        else:
            break
    return node


def _single_return(function) -> Optional[cst.BaseExpression]:
    """The expression of a function whose body is ``return <expr>`` (after a docstring)."""
    body = list(function.body.body) if isinstance(function.body, cst.IndentedBlock) else [function.body]
    statements = [s for s in body if not (isinstance(s, cst.SimpleStatementLine) and len(s.body) == 1 and isinstance(s.body[0], cst.Expr) and isinstance(s.body[0].value, (cst.SimpleString, cst.ConcatenatedString)))]
    if len(statements) != 1 or not isinstance(statements[0], cst.SimpleStatementLine) or len(statements[0].body) != 1:
        return None
    statement = statements[0].body[0]
    return statement.value if isinstance(statement, cst.Return) and statement.value is not None else None


def _walk(node):
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.children)


def _head_name(call: cst.Call) -> Optional[str]:
    """``select`` for ``sa.select(...).where(...).order_by(...)``: the call the chain starts with."""
    head = call
    while isinstance(head, cst.Call) and isinstance(head.func, cst.Attribute) and isinstance(head.func.value, cst.Call):
        head = head.func.value
    return last_name(head.func) if isinstance(head, cst.Call) else None


def _offline_test(test) -> bool:
    """``context.is_offline_mode()`` / ``op.get_context().as_sql``, negated or not."""
    while isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        test = test.expression
    if isinstance(test, cst.Call) and last_name(test.func) == "is_offline_mode":
        return True
    return isinstance(test, cst.Attribute) and test.attr.value == "as_sql"


def _ends_in_exit(stmt: cst.If) -> bool:
    """The block of an ``if`` ends in ``return`` or ``raise``."""
    body, _ = _block(stmt)
    last = body[-1] if body else None
    return isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[-1], (cst.Return, cst.Raise))


def _is_session(value) -> bool:
    """``Session(bind=...)`` / ``orm.Session(connection)``: an ORM session on a given connection."""
    if not (isinstance(value, cst.Call) and last_name(value.func) == "Session"):
        return False
    return any(a.keyword is not None and a.keyword.value == "bind" for a in value.args) or bool(value.args and value.args[0].keyword is None)


def _calls_globals(node: ast.FunctionDef) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "globals" for n in ast.walk(node))


def _parse(text: str) -> cst.Module:
    """libcst tree of source that CPython's own parser has already accepted (``ast.parse`` of the
    whole file comes first), with libcst's node validation skipped (see process.py)."""
    with libcst_validation_skipped():
        return cst.parse_module(text)


def _decode(data: bytes) -> str:
    """Text as Python reads it: UTF-8 unless a PEP 263 coding line says otherwise."""
    if b"coding" in data[:400]:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    return data.decode("utf-8")


# ``:name`` bind parameters (text() and op.execute strings) are not SQL syntax; for parsing, a
# literal stands in for them.  ``::type`` casts and ``a:b`` inside words are left alone.
# The keywords of the Alembic calls that take **kw and ignore what they do not know (Alembic
# 1.13-1.20: Operations.alter_column / drop_column and their batch forms; what the dialect
# implementations read from **kw: autoincrement, existing_autoincrement, postgresql_using,
# mssql_drop_*; batch drop_column's existing_type).  A keyword Alembic rejects loudly (``name=``
# clashes with the rename it passes on, TypeError) is not "ignored".
_ALTER_KEYWORDS = frozenset({
    "nullable", "comment", "server_default", "new_column_name", "type_", "existing_type", "existing_server_default",
    "existing_nullable", "existing_comment", "schema", "autoincrement", "existing_autoincrement", "postgresql_using",
})
_DROP_KEYWORDS = frozenset({"if_exists", "existing_type", "mssql_drop_default", "mssql_drop_check", "mssql_drop_foreign_key"})
IGNORING_CALLS = {
    ("alter_column", False): _ALTER_KEYWORDS | {"table_name", "column_name"},
    ("alter_column", True): (_ALTER_KEYWORDS - {"schema"}) | {"column_name", "insert_before", "insert_after"},
    ("drop_column", False): _DROP_KEYWORDS | {"table_name", "column_name", "schema"},
    ("drop_column", True): _DROP_KEYWORDS | {"column_name"},
}
# Calls that hand **kw to a SQLAlchemy construct: a keyword without an underscore fails there
# (TypeError) and an option of a known dialect is checked by that dialect, but word_option is
# taken for an option of a dialect named "word" and dropped: on_delete= for ondelete=,
# not_valid= for postgresql_not_valid=.  Only a keyword close to one of the call's own is
# reported (anything else may be a third-party dialect's option).
_FK_KEYWORDS = frozenset({"onupdate", "ondelete", "deferrable", "initially", "match", "referent_schema", "use_alter", "link_to_name", "info", "comment", "postgresql_not_valid"})
_CONSTRAINT_KEYWORDS = frozenset({"deferrable", "initially", "info", "comment", "postgresql_not_valid"})
_INDEX_KEYWORDS = frozenset({"unique", "if_not_exists", "info", "quote", "postgresql_concurrently", "postgresql_where", "postgresql_using", "postgresql_include", "postgresql_ops", "postgresql_with", "postgresql_tablespace", "postgresql_nulls_not_distinct", "mysql_length", "mysql_prefix", "mysql_using", "sqlite_where"})
TYPO_ONLY_CALLS = {
    ("create_foreign_key", False): _FK_KEYWORDS | {"constraint_name", "source_table", "referent_table", "local_cols", "remote_cols", "source_schema"},
    ("create_foreign_key", True): _FK_KEYWORDS | {"constraint_name", "referent_table", "local_cols", "remote_cols"},
    ("create_check_constraint", False): _CONSTRAINT_KEYWORDS | {"constraint_name", "table_name", "condition", "schema"},
    ("create_check_constraint", True): _CONSTRAINT_KEYWORDS | {"constraint_name", "condition"},
    ("create_unique_constraint", False): _CONSTRAINT_KEYWORDS | {"constraint_name", "table_name", "columns", "schema"},
    ("create_unique_constraint", True): _CONSTRAINT_KEYWORDS | {"constraint_name", "columns"},
    ("create_index", False): _INDEX_KEYWORDS | {"index_name", "table_name", "columns", "schema"},
    ("create_index", True): _INDEX_KEYWORDS | {"index_name", "columns"},
}
IGNORING_CALLS = {**IGNORING_CALLS, **TYPO_ONLY_CALLS}
IGNORING_METHODS = frozenset(name for name, _ in IGNORING_CALLS)
_LOUD = frozenset({"name", "schema", "table_name"})  # TypeError (a value given twice), not silence
# options of the dialects this tool knows must be ones Alembic reads (postgresql_usin= is lost);
# another dialect's (cockroachdb_..., a third-party implementation) may be read by its own code
_KNOWN_DIALECT = re.compile(r"^(?:postgresql|mysql|mariadb|sqlite|mssql|oracle)_\w+$")
_DIALECT_ARGUMENT = re.compile(r"^[a-z][a-z0-9]*_\w+$")


def _ignored_keywords(call: cst.Call, method: str, batch: bool) -> tuple:
    """Keywords of an Alembic call that are silently dropped (a misspelt ``type=`` to alter_column,
    ``on_delete=`` to create_foreign_key)."""
    known = IGNORING_CALLS[(method, batch)]
    own_words = {k.split("_")[0] for k in known}
    out = []
    for arg in call.args:
        if arg.keyword is None or arg.star:
            continue
        key = arg.keyword.value
        if (method, batch) in TYPO_ONLY_CALLS:
            if key not in known and "_" in key and not _KNOWN_DIALECT.match(key) and _meant(key, method, batch):
                out.append(key)
            continue
        # <word>_<option> of a dialect this tool does not know passes, unless the word starts one of
        # Alembic's own keywords (server_defualt=, existing_typ=, new_name=)
        foreign = _DIALECT_ARGUMENT.match(key) and not _KNOWN_DIALECT.match(key) and key.split("_")[0] not in own_words
        if key in known or key in _LOUD or foreign:
            continue
        out.append(key)
    return tuple(out)


def _meant(keyword: str, method: str, batch: bool) -> str:
    """The keyword it probably stands for ('' when none is close): type -> type_."""
    import difflib

    known = sorted(k for k in IGNORING_CALLS[(method, batch)] if k not in ("table_name", "column_name"))
    if keyword + "_" in known:
        return keyword + "_"
    close = difflib.get_close_matches(keyword, known, n=1, cutoff=0.6)
    return close[0] if close else ""


BIND_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)\b")
DBAPI_PARAMETER = re.compile(r"%\(\w+\)s|(?<![%\w])%s\b")


def _without_holes(op: Operation, holes: tuple) -> Operation:
    """An operation parsed from a formatted string's skeleton: names that were holes are unknown."""
    if not holes:
        return op

    def known(value):
        return None if isinstance(value, str) and any(h in value for h in holes) else value

    return dataclasses.replace(
        op,
        table=known(op.table),
        schema=known(op.schema),
        name=known(op.name),
        name_unknown=op.name_unknown or (op.name is not None and known(op.name) is None),
        columns=tuple(c for c in op.columns if known(c) is not None),
        attrs={**op.attrs, "formatted": True},
    )


def _tail_names(node) -> list:
    """Attribute names along a chain, through calls: op.get_bind().dialect.name -> [get_bind, dialect, name]."""
    names = []
    while True:
        if isinstance(node, cst.Attribute):
            names.append(node.attr.value)
            node = node.value
        elif isinstance(node, cst.Call):
            node = node.func
        elif isinstance(node, cst.Name):
            names.append(node.value)
            break
        else:
            break
    return list(reversed(names))


def _opaque_names(value: ast.expr) -> Optional[tuple]:
    elements = value.elts if isinstance(value, (ast.Tuple, ast.List)) else [value]
    names = []
    for element in elements:
        if isinstance(element, ast.Constant) and isinstance(element.value, str):
            names.append(element.value)
            continue
        name = dotted_name(element)
        if name is None:
            return None
        names.append(f"<{name}>")
    return tuple(names)


def _ast_tail(node: ast.expr) -> Optional[str]:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def _ast_literal(node: ast.expr, constants: dict):
    """A header value: literal strings, tuples/lists of them, None, or a module constant's name."""
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    try:
        value = ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return UNKNOWN
    if isinstance(value, list):
        value = tuple(value)
    return value


def _url_dialect(text: str) -> Optional[str]:
    """The dialect a URL (or the start of one, or a dialect name) names: "mysql+pymysql://" ->
    mysql, "postgres" -> postgresql."""
    head = re.split(r"[+:/]", text.strip().lower(), maxsplit=1)[0]
    for prefix, name in (("postgres", "postgresql"), ("psycopg", "postgresql"), ("mysql", "mysql"), ("mariadb", "mysql"), ("sqlite", "sqlite")):
        if head.startswith(prefix):
            return name
    return None


def _returned_expression(node: ast.FunctionDef) -> Optional[str]:
    """The expression a one-statement helper returns (``def is_pg(): return ...``), as source."""
    body = [stmt for stmt in node.body if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))]
    if len(body) == 1 and isinstance(body[0], ast.Return) and body[0].value is not None:
        return ast.unparse(body[0].value)
    return None


def _dialect_name(name: str) -> str:
    """``dialect.name`` compared in a migration: our dialect for the ones we know, else as written."""
    return dialects.from_sqlalchemy_name(name) or name.lower()


def _is_empty(node: ast.FunctionDef) -> bool:
    for stmt in node.body:
        if isinstance(stmt, ast.Pass):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # docstring or ``...``
        return False
    return True
