"""How env.py hands its connection to Alembic, read with the stdlib parser (env.py is never run).

Alembic decides at ``context.configure(connection=...)`` whose transaction it is: a connection
already in a transaction there is the caller's, and Alembic then neither begins nor commits one
(``MigrationContext._in_external_transaction``).  Under SQLAlchemy 2.x a connection begins a
transaction by itself on its first statement ("autobegin"), so a statement env.py runs on the
connection before ``configure()`` -- a ``SET lock_timeout``, an advisory lock, a ``has_schema``
check -- makes every migration part of a transaction nobody commits unless env.py does: the
connection closes, everything rolls back, and ``alembic upgrade head`` exits 0.

``transaction_facts`` finds, for each ``context.configure(connection=<name>)``:

- where the connection comes from in env.py: ``<engine>.connect()`` (env.py owns it and the trap
  can happen), ``<engine>.begin()`` or inside ``with <connection>.begin():`` (the caller's
  transaction on purpose, committed when the block ends: no trap), or somewhere env.py cannot say
  (``config.attributes["connection"]``, a project helper: no verdict);
- the first statement on it before ``configure()`` with no ``commit()`` / ``rollback()`` (or
  ``with <connection>.begin():`` block) after it -- following the connection into functions of
  env.py it is passed to, and from a function that receives it back to its callers
  (``connection.run_sync(do_run_migrations)``, ``do_run_migrations(connection)``);
- whether env.py commits the connection after ``configure()`` (``connection.commit()``,
  ``context.get_bind().commit()``): then the work is committed after all, by env.py.
"""

from __future__ import annotations

import ast
from typing import Dict, List, Optional, Tuple

# Calls on a connection that run a statement (and so begin a transaction under SQLAlchemy 2.x).
EXECUTES = frozenset({"execute", "exec_driver_sql", "scalar", "scalars", "run_callable"})
# Calls that run statements on a connection passed to them: reflection, DDL from metadata.
TAKES_CONNECTION = frozenset({
    "inspect", "has_table", "has_schema", "has_index", "has_sequence", "has_type", "get_table_names", "get_schema_names",
    "create", "create_all", "drop", "drop_all", "reflect",
})
CLOSERS = frozenset({"commit", "rollback"})
NO_FACTS = {"open_transaction": None, "commits_after_run": False}


def transaction_facts(text: str) -> dict:
    """``open_transaction``: (line, what, configure line) of the first statement that leaves a
    transaction open on a connection env.py makes before ``configure()``, or None;
    ``commits_after_run``: env.py commits the connection it configured, after ``configure()``."""
    if "configure" not in text:
        return dict(NO_FACTS)
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return dict(NO_FACTS)
    try:
        return _EnvPy(tree, text).facts()
    except RecursionError:  # pragma: no cover - absurdly nested code
        return dict(NO_FACTS)


class _State:
    __slots__ = ("origin", "open", "transactions", "in_begin")

    def __init__(self, origin: Optional[str] = None, open_: Optional[Tuple[int, str]] = None):
        self.origin = origin  # 'connect' | 'begin' | 'param' | None (unknown)
        self.open = open_  # (line, what) of the statement that began the open transaction
        self.transactions: set = set()  # names bound to <connection>.begin()
        self.in_begin = False  # the stop point stands inside ``with <connection>.begin():``


class _EnvPy:
    def __init__(self, tree: ast.Module, text: str):
        self.tree = tree
        self.autocommit = "AUTOCOMMIT" in text  # isolation_level="AUTOCOMMIT": every statement commits itself
        self.parents: Dict[int, ast.AST] = {}
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                self.parents[id(child)] = node
        self.visiting: List[str] = []  # helpers being followed (recursion guard)
        self.functions: Dict[str, ast.AST] = {}
        self.context_names = {"context"}
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions.setdefault(node.name, node)
            elif isinstance(node, ast.ImportFrom) and node.module == "alembic":
                self.context_names.update(a.asname or a.name for a in node.names if a.name == "context")

    # -- the verdict ------------------------------------------------------------------------------
    def facts(self) -> dict:
        opened = None
        commits_after = False
        for call in self._configure_calls():
            connection = next((k.value for k in call.keywords if k.arg == "connection"), None)
            if not isinstance(connection, ast.Name):
                continue
            function = self._enclosing_function(call)
            body = function.body if function is not None else self.tree.body
            state = self._state_before(body, connection.id, call, self._initial(function, connection.id))
            if self._commits_after(function, connection.id, call):
                commits_after = True
            if state is None or self.autocommit or state.in_begin or state.origin != "connect" or state.open is None:
                continue
            if opened is None:
                opened = (state.open[0], state.open[1], call.lineno)
        return {"open_transaction": opened, "commits_after_run": commits_after}

    def _configure_calls(self) -> List[ast.Call]:
        calls = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "configure":
                owner = node.func.value
                if (isinstance(owner, ast.Name) and owner.id in self.context_names) or dotted_name(owner) == "alembic.context":
                    calls.append(node)
        return sorted(calls, key=lambda c: (c.lineno, c.col_offset))

    def _enclosing_function(self, node: ast.AST):
        current = self.parents.get(id(node))
        while current is not None and not isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef)):
            current = self.parents.get(id(current))
        return current

    def _initial(self, function, name: str, depth: int = 0) -> _State:
        """The connection's state where ``function`` begins: a parameter carries what its callers
        did to the connection before calling it."""
        if function is None or name not in _parameters(function):
            return _State()
        index = _parameters(function).index(name)
        if depth > 3:
            return _State("param")
        known = None
        for caller, argument, site in self._call_sites(function.name, index):
            outer = self._enclosing_function(site)
            body = outer.body if outer is not None else self.tree.body
            state = self._state_before(body, argument, site, self._initial(outer, argument, depth + 1))
            if state is None or state.origin not in ("connect", "begin"):
                continue
            if state.origin == "connect" and state.open is not None and not state.in_begin:
                return state  # one caller that leaves a transaction open is enough
            known = known or state
        return known or _State("param")

    def _call_sites(self, name: str, index: int):
        """(calling node, the connection's name there, the call) for ``name(conn)`` and
        ``conn.run_sync(name)`` (run_sync passes the connection as the first argument)."""
        for node in ast.walk(self.tree):
            if not isinstance(node, ast.Call):
                continue
            if isinstance(node.func, ast.Name) and node.func.id == name and index < len(node.args) and isinstance(node.args[index], ast.Name):
                yield node, node.args[index].id, node
            elif (
                index == 0 and isinstance(node.func, ast.Attribute) and node.func.attr == "run_sync" and isinstance(node.func.value, ast.Name)
                and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == name
            ):
                yield node, node.func.value.id, node

    # -- walking statements up to the stop point ----------------------------------------------------
    def _state_before(self, body: list, name: str, stop: ast.AST, state: _State) -> Optional[_State]:
        """The connection's state when ``stop`` runs (None if ``stop`` is not in ``body``)."""
        path = set()
        current = stop
        while current is not None:
            path.add(id(current))
            current = self.parents.get(id(current))
        reached = self._walk(body, name, stop, path, state)
        return state if reached else None

    def _walk(self, body: list, name: str, stop: ast.AST, path: set, state: _State) -> bool:
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            contains = id(stmt) in path
            if isinstance(stmt, (ast.With, ast.AsyncWith)):
                begin_block = False
                for item in stmt.items:
                    self._scan(item.context_expr, name, state, stop if contains else None)
                    target = item.optional_vars
                    method, owner = _method(item.context_expr)
                    if isinstance(target, ast.Name) and target.id == name and method in ("connect", "begin"):
                        state.origin, state.open = method, None
                    elif method == "begin" and owner == name:
                        begin_block = True
                if contains:
                    if begin_block:
                        state.in_begin = True
                    return self._walk(stmt.body, name, stop, path, state)
                self._walk(stmt.body, name, stop, path, state)
                if begin_block:
                    state.open = None  # the block commits (or rolls back) what it began
                continue
            if isinstance(stmt, (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try)) or type(stmt).__name__ == "TryStar":
                head = getattr(stmt, "test", None) or getattr(stmt, "iter", None)
                if head is not None:
                    self._scan(head, name, state, stop if contains else None)
                blocks = [stmt.body, *([h.body for h in getattr(stmt, "handlers", [])]), getattr(stmt, "orelse", []), getattr(stmt, "finalbody", [])]
                for block in blocks:
                    if self._walk(block, name, stop, path, state):
                        return True
                if contains:
                    return True
                continue
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                target = stmt.targets[0].id
                method, owner = _method(stmt.value)
                if target == name and method == "connect":
                    state.origin, state.open = "connect", None
                    continue
                if method == "begin" and owner == name:
                    state.transactions.add(target)
                    state.open = state.open or (stmt.lineno, f"{name}.begin()")
                    continue
            if self._scan(stmt, name, state, stop if contains else None):
                return True
        return False

    def _scan(self, node: ast.AST, name: str, state: _State, stop: Optional[ast.AST]) -> bool:
        """The calls of one statement (or expression), in source order, up to ``stop``."""
        calls = [n for n in _walk_calls(node)]
        calls.sort(key=lambda c: (c.lineno, c.col_offset))
        for call in calls:
            if stop is not None and call is stop:
                return True
            method, owner = _method(call)
            if method in CLOSERS and (owner == name or owner in state.transactions):
                state.open = None
            elif owner == name and (method in EXECUTES or method == "begin"):
                state.open = state.open or (call.lineno, f"{name}.{method}(...)")
            elif method in TAKES_CONNECTION and _passes(call, name):
                state.open = state.open or (call.lineno, f"{dotted_name(call.func) or method}(...) on {name}")
            elif isinstance(call.func, ast.Name) and call.func.id in self.functions and _passes(call, name):
                helper = self.functions[call.func.id]
                index = next(i for i, a in enumerate(call.args) if isinstance(a, ast.Name) and a.id == name) if any(isinstance(a, ast.Name) and a.id == name for a in call.args) else None
                params = _parameters(helper)
                if index is not None and index < len(params) and self._leaves_open(helper, params[index]):
                    state.open = state.open or (call.lineno, f"{call.func.id}({name}) runs a statement on it")
        return stop is not None and _contains(node, stop)

    def _leaves_open(self, function, name: str) -> bool:
        """Calling ``function`` with the connection as ``name`` leaves a transaction open."""
        if function.name in self.visiting or len(self.visiting) > 8:
            return False  # recursion, or helpers nested deeper than anyone writes them
        self.visiting.append(function.name)
        try:
            state = _State("param")
            self._walk(function.body, name, _NEVER, set(), state)
            return state.open is not None
        finally:
            self.visiting.pop()

    def _commits_after(self, function, name: str, configure: ast.Call) -> bool:
        """env.py commits the configured connection after ``configure()``: in the same function,
        or in a caller after the call that hands it the connection."""
        scopes = [(function.body if function is not None else self.tree.body, name, configure)]
        if function is not None and name in _parameters(function):
            index = _parameters(function).index(name)
            for _, argument, site in self._call_sites(function.name, index):
                outer = self._enclosing_function(site)
                scopes.append((outer.body if outer is not None else self.tree.body, argument, site))
        for body, connection, after in scopes:
            for stmt in body:
                for call in _walk_calls(stmt):
                    if (call.lineno, call.col_offset) <= (after.lineno, after.col_offset):
                        continue
                    method, owner = _method(call)
                    if method == "commit" and (owner == connection or _is_get_bind(call.func.value if isinstance(call.func, ast.Attribute) else None, self.context_names)):
                        return True
        return False


_NEVER = ast.Pass()  # a stop point no walk reaches


def _walk_calls(node: ast.AST):
    """Calls in a node, not inside function or class definitions (those run elsewhere)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Call):
            yield current
        for child in ast.iter_child_nodes(current):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                stack.append(child)


def _contains(node: ast.AST, target: ast.AST) -> bool:
    return any(n is target for n in ast.walk(node))


def _method(node) -> Tuple[Optional[str], Optional[str]]:
    """('execute', 'connection') for ``connection.execute(...)`` (through ``await``)."""
    if isinstance(node, ast.Await):
        node = node.value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        owner = node.func.value
        return node.func.attr, owner.id if isinstance(owner, ast.Name) else None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id, None
    return None, None


def _passes(call: ast.Call, name: str) -> bool:
    return any(isinstance(a, ast.Name) and a.id == name for a in [*call.args, *(k.value for k in call.keywords)])


def _parameters(function) -> list:
    args = function.args
    return [a.arg for a in [*args.posonlyargs, *args.args]]


def _is_get_bind(node, context_names) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get_bind" and isinstance(node.func.value, ast.Name) and node.func.value.id in context_names


def dotted_name(node) -> Optional[str]:
    """'alembic.context' for an ast Attribute chain ending in a Name; None for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None
