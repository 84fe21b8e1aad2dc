"""Models vs migrations: does ``alembic upgrade heads`` give the schema the models describe?

With ``--drift``, a history is upgraded to its heads on the round trip's throwaway database and
compared with the project's ``target_metadata`` the way ``alembic check`` does it: through
Alembic's autogenerate, inside the project's own env.py, so that the comparison settings env.py
passes to ``context.configure`` (``include_object``, ``include_name``, ``include_schemas``,
``compare_type``, ``compare_server_default``, ``process_revision_directives``, plugins) all apply.
Each difference is one ``models-drift`` finding, with the code autogenerate would write for it.

What autogenerate reports that is not a difference is dropped here, each with its reason
(:func:`_normalise`): server defaults spelt another way (on PostgreSQL the server itself says how
it stores the model's expression), the CHECK constraints SQLAlchemy makes for non-native
``Enum`` / ``Boolean`` types, tables owned by extensions (PostGIS's ``spatial_ref_sys``) or made
by the histories this one requires.  What autogenerate misses and a database enforces is added:
the labels of PostgreSQL enum types and of CHECK-constrained non-native enums.

Like the round trip this runs the project's code (env.py, the revision files, the models), only
against the throwaway database, with the same guard: env.py must connect to it.  Where env.py
cannot run on its own, the metadata comes from ``--metadata module:attr`` with Alembic's default
comparison settings.  Nothing here prints.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from migration_lint.errors import ConfigError
from migration_lint.model import Finding
from migration_lint.rule_ids import MODELS_DRIFT, ROUNDTRIP_UPGRADE_FAILED

METADATA_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


@dataclass(frozen=True)
class DriftOptions:
    """``--drift``: where (the round trip's database options, used when the round trip does not
    run) and, optionally, the models' metadata as ``module:attr``."""

    metadata: Optional[str] = None  # module:attr (dotted attr allowed: app.db:Base.metadata)
    db: str = "auto"
    env: str = "auto"  # auto | project | builtin, as the round trip's --env
    image: Optional[str] = None


def validate_metadata_spec(spec: Optional[str]) -> None:
    """A malformed --metadata is a usage error before anything runs."""
    if spec is not None and not METADATA_SPEC.match(spec.strip()):
        raise ConfigError(f"--metadata {spec!r}: expected module:attribute, e.g. myapp.models:Base.metadata")


@dataclass
class DriftResult:
    hits: List[Finding] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    checked: bool = False  # the comparison ran
    source: str = ""  # where the metadata and the settings came from
    database: str = ""
    differences: int = 0  # findings (after normalising)
    normalised: List[str] = field(default_factory=list)  # what autogenerate reported and was dropped, with why
    seconds: float = 0.0


# -- the history's part (history.check_history calls this) -------------------------------------------


def models_drift(history, files, scope, options: DriftOptions, resources, notes: List[str], trip=None) -> DriftResult:
    """Upgrade the history to its heads on the throwaway database (after the round trip, on the
    same one) and compare with the models.  What could not be done is a note saying why."""
    from migration_lint import discovery
    from migration_lint.roundtrip.plan import required_environments
    from migration_lint.settings import DEFAULT

    graph = scope.graph
    if graph.missing_parents or graph.cycles or graph.duplicates:
        notes.append("models-drift not checked: the revision graph is broken (see missing-parent / revision-cycle / duplicate-revision)")
        return DriftResult()
    requires, unusable = required_environments(history, resources.config, resources.dialect_of)
    if unusable:
        notes.append(f"models-drift not checked: {unusable}")
        return DriftResult()
    from migration_lint.roundtrip.plan import RoundTripOptions, starting_points

    # the schema a fresh database starts from (create_all() histories), as for the round trip
    base, _app = starting_points(resources.roundtrip or RoundTripOptions(), resources.config)
    settings = history.settings
    after_trip = trip is not None and trip.database != "(not started)"
    if after_trip:
        database = resources.database_for(settings.dialect, settings.server_version, notes, reuse=True)
        state = "trip-clean" if getattr(trip, "clean_end", False) and not requires else "trip-dirty"
    else:
        assumed = settings.source_of("server_version") == DEFAULT
        database = resources.database_for(settings.dialect, settings.server_version, notes, version_assumed=assumed)
        state = "empty"
    result = run_drift(
        history.env,
        database,
        metadata=options.metadata,
        mode=options.env,
        requires=requires,
        state=state,
        static_files={f.revision: f for f in files if f.revision},
        display_path=lambda p: discovery.display_path(Path(p)),
        report_upgrade_failures=not after_trip,  # after the round trip, it has said so already
        base=base,
    )
    if result.checked:
        dropped = f"; {len(result.normalised)} autogenerate difference(s) not reported (known false alarms, see models-drift)" if result.normalised else ""
        notes.append(f"models-drift: {result.source} compared with the schema at the heads on {result.database}: {result.differences} difference(s){dropped}, {result.seconds:.1f} s")
    notes.extend(result.notes)
    return result


# -- the engine -------------------------------------------------------------------------------------


def run_drift(
    env,
    database,
    *,
    metadata: Optional[str] = None,
    mode: str = "auto",
    requires: Sequence = (),
    state: str = "empty",
    static_files: Optional[dict] = None,
    display_path: Callable[[str], str] = lambda p: p,
    report_upgrade_failures: bool = True,
    base=None,
) -> DriftResult:
    """Bring ``database`` to the heads of ``env`` and compare it with the models.

    ``state``: ``empty`` (a fresh database), ``trip-clean`` (the round trip left it in a state
    production could have: go on from there), ``trip-dirty`` (rebuild it first).
    """
    import warnings

    from migration_lint.roundtrip import runner
    from migration_lint.roundtrip.db.redact import url_secrets

    runner._SECRETS.extend(secret for secret in url_secrets(database.url) if secret not in runner._SECRETS)
    with runner._interruptible(), runner._logging_restored(), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=Warning)  # reflection warnings: not actionable here
        return _Drift(env, database, metadata, mode, tuple(requires), state, static_files or {}, display_path, report_upgrade_failures, base).run()


class _Drift:
    def __init__(self, env, database, metadata, mode, requires, state, static_files, display_path, report_upgrade_failures, base=None):
        self.env, self.database, self.metadata_spec, self.mode = env, database, metadata, mode
        self.base = base
        self.requires, self.state, self.static_files = requires, state, static_files
        self.display_path, self.report_upgrade_failures = display_path, report_upgrade_failures
        self.result = DriftResult(database=database.description)
        self.foreign_tables: Set[Tuple[str, str]] = set()  # (schema, table) made by required histories

    def run(self) -> DriftResult:
        from migration_lint.roundtrip import runner

        start = time.perf_counter()
        driver = None
        try:
            if self.state == "trip-dirty":
                self.database.reset()
            try:
                driver = runner.AlembicDriver(self.env, self.database, mode="builtin" if self.mode == "builtin" else self.mode)
                driver.order()  # imports every revision file
            except (runner.EnvironmentUnusable, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._upgrade_failed(exc, "importing the revision files failed")
                return self.result
            if not self._reach_heads(driver):
                return self.result
            self._compare(driver)
        finally:
            if driver is not None:
                driver.dispose()
            self.result.seconds = time.perf_counter() - start
        return self.result

    # -- the database at the heads -------------------------------------------------------------
    def _reach_heads(self, driver) -> bool:
        from migration_lint.roundtrip import runner

        try:
            if self.state != "trip-clean":
                setup = runner._Requirements(self.requires, self.database, self.mode, driver, self.base)
                try:
                    setup.apply()
                except runner.RequirementFailed as exc:
                    self.result.notes.append(f"models-drift not checked: {exc}")
                    return False
                if self.requires:
                    self.foreign_tables = _tables(driver.engine)
            for head in driver.script.get_heads():
                driver.upgrade_to(head)
        except (runner.EnvironmentUnusable, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._upgrade_failed(exc, "upgrading to the heads failed")
            return False
        return True

    def _upgrade_failed(self, exc: BaseException, what: str) -> None:
        from migration_lint.roundtrip import runner

        reason = runner._first_line(exc)
        self.result.notes.append(f"models-drift not checked: {what} ({reason})")
        if not self.report_upgrade_failures:
            return
        path, line = runner._origin(exc, self.env)
        if path is None:
            return
        shown = self.display_path(path)
        revision = runner._revision_at(self.static_files, shown)
        self.result.hits.append(
            runner.RoundTripHit(ROUNDTRIP_UPGRADE_FAILED, shown, line, revision, f"upgrade() of {revision or shown} failed while the models-drift check brought the database to its heads: {reason}", "upgrade")
        )

    # -- the comparison ----------------------------------------------------------------------------
    def _compare(self, driver) -> None:
        from migration_lint.roundtrip import runner

        given = self._load_metadata(driver) if self.metadata_spec else None
        state: dict = {}

        def compare(heads):
            from alembic import context as alembic_context

            context = alembic_context.get_context()
            expected = set(driver.script.get_heads())
            if set(heads) != expected:
                state["note"] = f"models-drift not checked: the database is at {', '.join(heads) or 'base'}, not at the heads ({', '.join(sorted(expected))})"
                return []
            metadata = given if given is not None else context.opts.get("target_metadata")
            if metadata is None or (isinstance(metadata, (list, tuple)) and not metadata):
                state["note"] = "models-drift not checked: env.py passes no target_metadata to context.configure; give the models with --metadata module:attr"
                return []
            state["findings"] = _Comparison(context, metadata, self, driver).findings()
            return []

        if driver.mode == "project":
            source = "the models of env.py's target_metadata" if given is None else f"--metadata {self.metadata_spec} with env.py's settings"
        elif given is not None:
            why = " (env.py could not run on its own)" if self.mode != "builtin" else ""
            source = f"--metadata {self.metadata_spec} with Alembic's default settings{why}"
        else:
            reason = next((n for n in driver.notes), "the built-in environment was asked for (--env builtin)")
            reason = reason.replace("; used the built-in environment", "")
            self.result.notes.append(
                f"models-drift not checked: it needs the project's env.py for target_metadata and its settings, and {reason}; "
                "give the models with --metadata module:attr (the project must be importable where migration-lint runs)"
            )
            return
        try:
            driver._run(compare)
        except (runner.EnvironmentUnusable, KeyboardInterrupt):
            raise
        except runner._WrongDatabase as exc:
            raise runner.EnvironmentUnusable(f"models-drift: {exc}") from None
        except BaseException as exc:
            self.result.notes.append(f"models-drift not checked: comparing the models with the database failed: {runner._first_line(exc)}")
            return
        if "note" in state:
            self.result.notes.append(state["note"])
            return
        hits, normalised = state.get("findings", ([], []))
        self.result.checked = True
        self.result.source = source
        self.result.hits.extend(hits)
        self.result.differences = len(hits)
        self.result.normalised = normalised

    def _load_metadata(self, driver):
        """--metadata module:attr, imported with the project on sys.path (the driver put it there)."""
        from sqlalchemy import MetaData

        module_name, _, attribute = self.metadata_spec.strip().partition(":")
        try:
            value = importlib.import_module(module_name)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            from migration_lint.roundtrip import runner

            raise ConfigError(f"--metadata {self.metadata_spec}: cannot import {module_name}: {runner._first_line(exc)} (the project must be importable, as for the round trip)") from None
        for part in attribute.split("."):
            if not hasattr(value, part):
                raise ConfigError(f"--metadata {self.metadata_spec}: {module_name} has no {attribute}")
            value = getattr(value, part)
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, MetaData) for v in value):
            return value
        if not isinstance(value, MetaData):
            raise ConfigError(f"--metadata {self.metadata_spec}: is a {type(value).__name__}, not a SQLAlchemy MetaData")
        return value


def _tables(engine) -> Set[Tuple[str, str]]:
    """(schema, table) of every table in the database's default schema and the others it has."""
    from sqlalchemy import inspect as sa_inspect

    with engine.connect() as connection:
        inspector = sa_inspect(connection)
        names = set()
        schemas = [None]
        try:
            schemas += [s for s in inspector.get_schema_names() if s not in ("information_schema", "pg_catalog", "pg_toast") and s != inspector.default_schema_name]
        except NotImplementedError:
            pass
        for schema in schemas:
            for table in inspector.get_table_names(schema=schema):
                names.add((schema or "", table))
        return names


# -- one comparison, inside env.py's run -----------------------------------------------------------


class _Comparison:
    def __init__(self, context, metadata, drift: _Drift, driver):
        self.context, self.metadata, self.drift, self.driver = context, metadata, drift, driver
        self.dialect = context.dialect.name
        self.default_schema = context.dialect.default_schema_name or ""
        self.metadatas = list(metadata) if isinstance(metadata, (list, tuple)) else [metadata]
        self.normalised: List[str] = []
        self.locator = _Locator(drift.env, drift.display_path, drift.metadata_spec)

    def findings(self) -> Tuple[List[Finding], List[str]]:
        from alembic.autogenerate import produce_migrations
        from alembic.operations import ops

        script = produce_migrations(self.context, self.metadata)
        hook = self.context.opts.get("process_revision_directives")
        upgrade_ops = script.upgrade_ops_list
        if hook:  # alembic check runs it too; an env.py may drop or rewrite operations there
            script.rev_id = script.rev_id or "drift"
            directives = [script]
            try:
                hook(self.context, tuple(self.context.get_current_heads()), directives)
                upgrade_ops = [o for s in directives for o in s.upgrade_ops_list]
            except Exception as exc:  # a hook written for `alembic revision` (cmd_opts, files): compare without it
                self.drift.result.notes.append(f"models-drift: env.py's process_revision_directives raised {type(exc).__name__}: {str(exc)[:200]}; compared without it")
                upgrade_ops = produce_migrations(self.context, self.metadata).upgrade_ops_list
        operations = []
        for upgrade in upgrade_ops:
            for op in upgrade.ops:
                if isinstance(op, ops.ModifyTableOps):
                    operations.extend((op, sub) for sub in op.ops)
                else:
                    operations.append((None, op))
        exempt = self._exempt_tables()
        hits = []
        for table_ops, op in operations:
            op = self._normalise(table_ops, op, exempt)
            if op is not None:
                hits.append(self._finding(table_ops, op))
        hits.extend(self._enum_labels({(o.schema or "", o.table_name) for _, o in operations if isinstance(o, ops.CreateTableOp)}))
        return hits, self.normalised

    # -- what is not a difference ---------------------------------------------------------------
    def _exempt_tables(self) -> Dict[Tuple[str, str], str]:
        """Tables in the database that no model should be asked to define, with why."""
        exempt = {key: "made by a history this one requires (roundtrip-requires)" for key in self.drift.foreign_tables}
        if self.dialect == "postgresql":
            rows = self.context.connection.exec_driver_sql(
                "SELECT n.nspname, c.relname, e.extname FROM pg_depend d "
                "JOIN pg_class c ON d.classid = 'pg_class'::regclass AND d.objid = c.oid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "JOIN pg_extension e ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid "
                "WHERE d.deptype = 'e' AND c.relkind IN ('r', 'p', 'v', 'm')"
            ).fetchall()
            for schema, table, extension in rows:
                exempt[("" if schema == self.default_schema else schema, table)] = f"owned by the extension {extension}"
        return exempt

    def _key(self, schema, table) -> Tuple[str, str]:
        schema = schema or ""
        return ("" if schema == self.default_schema else schema, table)

    def _drop(self, what: str, why: str) -> None:
        self.normalised.append(f"{what}: {why}")
        return None

    def _normalise(self, table_ops, op, exempt):
        from alembic.operations import ops

        if isinstance(op, ops.DropTableOp) and self._key(op.schema, op.table_name) in exempt:
            return self._drop(f"table {op.table_name}", exempt[self._key(op.schema, op.table_name)])
        if table_ops is not None and self._key(table_ops.schema, table_ops.table_name) in exempt and isinstance(op, (ops.DropIndexOp, ops.DropConstraintOp, ops.DropColumnOp)):
            return self._drop(f"{type(op).__name__} on {table_ops.table_name}", exempt[self._key(table_ops.schema, table_ops.table_name)])
        if isinstance(op, (ops.DropIndexOp, ops.CreateIndexOp)) and self._key(op.schema, op.table_name) in exempt:
            return self._drop(f"index {op.index_name}", exempt[self._key(op.schema, op.table_name)])
        if isinstance(op, (ops.AddConstraintOp, ops.DropConstraintOp)) and getattr(op, "constraint_type", None) == "check":
            column = self._type_check_column(table_ops, op)
            if column is not None:
                return self._drop(f"CHECK constraint {op.constraint_name or '(unnamed)'} on {op.table_name}", f"SQLAlchemy's own CHECK for the {type(column.type).__name__} type of column {column.name} (enum labels are compared separately)")
        if isinstance(op, ops.AlterColumnOp):
            return self._normalise_alter(op)
        return op

    def _metadata_table(self, schema, table):
        for metadata in self.metadatas:
            for candidate in metadata.tables.values():
                if candidate.name == table and self._key(candidate.schema, candidate.name) == self._key(schema, table):
                    return candidate
        return None

    def _type_check_column(self, table_ops, op):
        """The column whose non-native Enum / Boolean the CHECK constraint of ``op`` belongs to:
        in the models, a CHECK SQLAlchemy made for the type (``_type_bound``); in the database, a
        CHECK of exactly the shape SQLAlchemy gives those (``col IN ('a', 'b')``, ``col IN (0, 1)``)."""
        import sqlalchemy as sa
        from alembic.operations import ops

        schema = getattr(op, "schema", None) or (table_ops.schema if table_ops is not None else None)
        table = self._metadata_table(schema, op.table_name)
        if table is None:
            return None
        typed = [column for column in table.columns if isinstance(column.type, (sa.Enum, sa.Boolean))]
        if isinstance(op, ops.AddConstraintOp):
            for constraint in table.constraints:
                if isinstance(constraint, sa.CheckConstraint) and getattr(constraint, "_type_bound", False) and str(constraint.name) == str(op.constraint_name):
                    text = str(constraint.sqltext)
                    for column in typed:  # (on PostgreSQL a native Enum's CHECK is never created: the type enforces the labels)
                        if re.search(r'(^|[\s(".])' + re.escape(column.name) + r'([\s)"]|$)', text):
                            return column
            return None
        try:
            sqltext = op.to_constraint().sqltext
        except Exception:  # a constraint the operation cannot rebuild: nothing to judge
            return None
        text = str(sqltext) if sqltext is not None else ""
        for column in typed:
            if isinstance(column.type, sa.Enum) and _check_labels(text, column.name) is not None:
                return column
            if isinstance(column.type, sa.Boolean) and re.fullmatch(r'[\s(]*"?%s"?\s+IN\s*\(\s*0\s*,\s*1\s*\)[\s)]*' % re.escape(column.name), text, re.I):
                return column
        return None

    def _normalise_alter(self, op):
        what = f"column {op.table_name}.{op.column_name}"
        if op.modify_server_default is not False and self._same_default(op):
            self.normalised.append(f"{what} server default: {_default_text(op.existing_server_default)} and {self._model_default(op.modify_server_default)} are the same default, spelt differently")
            op.modify_server_default = False
        if op.modify_type is not None and op.existing_type is not None and self._same_type(op.existing_type, op.modify_type):
            self.normalised.append(f"{what} type: {self._compiled(op.existing_type)} and {self._compiled(op.modify_type)} are the same type here")
            op.modify_type = None
        if op.modify_nullable is None and op.modify_server_default is False and op.modify_type is None and op.modify_comment is False and not op.modify_name:
            return None
        return op

    def _compiled(self, type_) -> str:
        try:
            return type_.compile(dialect=self.context.dialect)
        except Exception:  # a type the dialect cannot render
            return repr(type_)

    def _same_type(self, existing, new) -> bool:
        """Types autogenerate reports that the database cannot tell apart: spellings of one type;
        on PostgreSQL VARCHAR without a length and TEXT; on SQLite, types of one column affinity
        and one SQLAlchemy type family (SQLite enforces neither lengths nor declared names)."""
        a, b = _canonical_type(self._compiled(existing), self.dialect), _canonical_type(self._compiled(new), self.dialect)
        if a == b:
            return True
        if self.dialect == "postgresql":
            return {a, b} == {"TEXT", "VARCHAR"}
        if self.dialect == "sqlite":
            return _sqlite_affinity(a) == _sqlite_affinity(b) and _family(existing) is _family(new)
        return False

    def _same_default(self, op) -> bool:
        """The database's default and the model's are one default, spelt two ways."""
        existing = _default_text(op.existing_server_default)
        new = self._model_default(op.modify_server_default)
        if existing is None or new is None:
            return existing is None and new is None
        if _canonical_default(existing, self.dialect) == _canonical_default(new, self.dialect):
            return True
        if self.dialect == "postgresql":
            stored = self._pg_stored_default(op, new)
            return stored is not None and stored == existing
        return False

    def _model_default(self, server_default) -> Optional[str]:
        if server_default is None or server_default is False:
            return None
        arg = getattr(server_default, "arg", server_default)
        if isinstance(arg, str):
            return "'" + arg.replace("'", "''") + "'"
        try:
            return str(arg.compile(dialect=self.context.dialect, compile_kwargs={"literal_binds": True}))
        except Exception:
            return None

    def _pg_stored_default(self, op, expression: str) -> Optional[str]:
        """How PostgreSQL stores the model's default for this column: create it on a temporary
        table inside a savepoint (rolled back) and read it back, as reflection reads the real one."""
        connection = self.context.connection
        type_sql = self._compiled(op.existing_type) if op.existing_type is not None else "text"
        savepoint = connection.begin_nested()
        try:
            connection.exec_driver_sql(f"CREATE TEMPORARY TABLE migration_lint_drift_default (c {type_sql} DEFAULT {expression})")
            return connection.exec_driver_sql(
                "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid "
                "WHERE c.relname = 'migration_lint_drift_default' AND c.relpersistence = 't'"
            ).scalar()
        except Exception:  # an expression PostgreSQL does not accept here: autogenerate's verdict stands
            return None
        finally:
            savepoint.rollback()

    # -- what autogenerate does not see -----------------------------------------------------------
    def _enum_labels(self, new_tables: Set[Tuple[str, str]]) -> List[Finding]:
        """Enum labels the database enforces and the models disagree with: PostgreSQL enum types,
        and CHECK constraints of non-native enums (SQLite, or native_enum=False)."""
        import sqlalchemy as sa
        from sqlalchemy import inspect as sa_inspect

        inspector = sa_inspect(self.context.connection)
        include_object = self.context.opts.get("include_object")
        include_name = self.context.opts.get("include_name")
        native: Dict[Tuple[str, str], List[str]] = {}
        if self.dialect == "postgresql":
            for enum in inspector.get_enums(schema="*"):
                native[self._key(enum.get("schema"), enum["name"])] = list(enum["labels"])
        hits: List[Finding] = []
        seen_types = set()
        checks_of: Dict[Tuple[str, str], list] = {}
        for metadata in self.metadatas:
            for table in metadata.tables.values():
                key = self._key(table.schema, table.name)
                if key in new_tables:
                    continue
                if include_name is not None and not include_name(table.name, "table", {"schema_name": table.schema}):
                    continue
                if include_object is not None and not include_object(table, table.name, "table", False, None):
                    continue
                for column in table.columns:
                    if not isinstance(column.type, sa.Enum) or not column.type.enums:
                        continue
                    if include_object is not None and not include_object(column, column.name, "column", False, None):
                        continue
                    model = list(column.type.enums)
                    if column.type.native_enum and self.dialect == "postgresql":
                        type_key = self._key(column.type.schema or table.schema, column.type.name or "")
                        if type_key in seen_types or type_key not in native:
                            continue
                        seen_types.add(type_key)
                        if native[type_key] != model:
                            hits.append(self._enum_finding(table, column, native[type_key], model, native=True))
                        continue
                    if self.dialect == "mysql" and column.type.native_enum:
                        continue  # a MySQL ENUM's labels are part of its type: autogenerate compares them
                    if key not in checks_of:
                        try:
                            checks_of[key] = inspector.get_check_constraints(table.name, schema=table.schema)
                        except Exception:  # no such table in the database (autogenerate says so) or no reflection
                            checks_of[key] = []
                    for check in checks_of[key]:
                        labels = _check_labels(check.get("sqltext") or "", column.name)
                        if labels is not None and sorted(labels) != sorted(model):
                            hits.append(self._enum_finding(table, column, labels, model, native=False, check=check))
        return hits

    def _enum_finding(self, table, column, database: List[str], model: List[str], native: bool, check=None) -> Finding:
        added = [label for label in model if label not in database]
        removed = [label for label in database if label not in model]
        change = "; ".join(part for part in (f"the models add {_labels(added)}" if added else "", f"drop {_labels(removed)}" if removed else "") if part) or "the order differs"
        if native:
            name = column.type.name
            subject = ("enum", self._key(column.type.schema or table.schema, name)[0], name)
            what = f"enum type {name} (column {table.name}.{column.name}) has labels {_labels(database)} in the database and {_labels(model)} in the models: {change}"
            code = "\n".join(f"op.execute(\"ALTER TYPE {name} ADD VALUE '{label}'\")" for label in added) if added and not removed else f"# a new type with the models' labels, the column converted to it, the old type dropped ({name})"
            tail = "autogenerate does not compare enum labels; a migration would run:"
        else:
            subject = ("constraint", self._key(table.schema, table.name)[0], table.name, (check or {}).get("name") or "", "check", column.name)
            what = f"column {table.name}.{column.name} is a non-native enum whose CHECK constraint in the database allows {_labels(database)}, the models {_labels(model)}: {change}"
            name = (check or {}).get("name")
            labels = ", ".join("'" + label.replace("'", "''") + "'" for label in model)
            new_check = f'batch_op.create_check_constraint("{name or "ck_" + table.name + "_" + column.name}", "{column.name} IN ({labels})")'
            code = f'with op.batch_alter_table("{table.name}") as batch_op:\n' + (f'    batch_op.drop_constraint("{name}", type_="check")\n' if name else "    # the unnamed CHECK goes when batch mode recreates the table without it\n") + f"    {new_check}"
            tail = "autogenerate does not compare it; a migration would run:"
        path, line = self.locator.column(table, column.name)
        return Finding(MODELS_DRIFT, path, line, f"{what}. {tail}\n" + _indent(code), subject=subject)

    # -- one finding ------------------------------------------------------------------------------
    def _finding(self, table_ops, op) -> Finding:
        from alembic.operations import ops

        if table_ops is not None:
            wrapped = ops.UpgradeOps(ops=[ops.ModifyTableOps(table_ops.table_name, [op], schema=table_ops.schema)])
        else:
            wrapped = ops.UpgradeOps(ops=[op])
        try:
            code = self._render(wrapped)
        except Exception as exc:  # a render_item hook or a type that cannot be rendered
            code = f"# (autogenerate could not render it: {type(exc).__name__}: {exc})"
        what, subject, path, line = self._describe(table_ops, op)
        return Finding(MODELS_DRIFT, path, line, f"{what}; autogenerate would write:\n" + _indent(code), subject=subject)

    def _render(self, upgrade_ops) -> str:
        """The code autogenerate would write, with env.py's render settings (render_item,
        render_as_batch, user_module_prefix, the module prefixes) and its dialect."""
        from alembic.autogenerate import render
        from alembic.autogenerate.api import AutogenContext

        opts = dict(self.context.opts)
        opts.setdefault("sqlalchemy_module_prefix", "sa.")
        opts.setdefault("alembic_module_prefix", "op.")
        autogen = AutogenContext(self.context, metadata=self.metadata, opts=opts)
        autogen.imports = set()
        code = render._render_cmd_body(upgrade_ops, autogen)  # what render_python_code runs, given our context
        lines = [line for line in code.splitlines() if line.strip() and "commands auto generated" not in line and "end Alembic commands" not in line]
        return _dedent("\n".join(lines))

    def _describe(self, table_ops, op):
        from alembic.operations import ops

        schema = self._key(getattr(op, "schema", None) or (table_ops.schema if table_ops is not None else None), "")[0]
        if isinstance(op, ops.CreateTableOp):
            table = op.to_table()
            path, line = self.locator.table(self._metadata_table(op.schema, op.table_name) or table)
            return f"the models have table {op.table_name} that no migration creates", ("table", schema, op.table_name), path, line
        if isinstance(op, ops.DropTableOp):
            path, line = self.locator.fallback()
            return f"the database has table {op.table_name}, made by the migrations, that no model defines", ("table", schema, op.table_name), path, line
        if isinstance(op, (ops.CreateIndexOp, ops.DropIndexOp)):
            columns = [str(getattr(c, "name", c)) for c in (op.to_index().expressions if hasattr(op, "to_index") else [])]
            table = self._metadata_table(op.schema, op.table_name)
            path, line = self.locator.index(table, op.index_name, columns) if table is not None else self.locator.fallback()
            unique = "unique " if getattr(op, "unique", False) or (op.kw or {}).get("unique") else ""
            if isinstance(op, ops.CreateIndexOp):
                what = f"the models have {unique}index {op.index_name} on {op.table_name} ({', '.join(columns)}) that no migration creates"
            else:
                what = f"the database has index {op.index_name} on {op.table_name} that the models lack"
            return what, ("index", schema, op.index_name or "", op.table_name, *columns), path, line
        table_name = table_ops.table_name if table_ops is not None else getattr(op, "table_name", "")
        table = self._metadata_table(table_ops.schema if table_ops is not None else None, table_name)
        if isinstance(op, ops.AddColumnOp):
            path, line = self.locator.column(table, op.column.name)
            return f"the models add column {table_name}.{op.column.name} ({self._compiled(op.column.type)}) that no migration creates", ("column", schema, table_name, op.column.name), path, line
        if isinstance(op, ops.DropColumnOp):
            path, line = self.locator.table(table) if table is not None else self.locator.fallback()
            return f"the database has column {table_name}.{op.column_name}, made by the migrations, that the models lack", ("column", schema, table_name, op.column_name), path, line
        if isinstance(op, ops.AlterColumnOp):
            parts = []
            if op.modify_type is not None:
                parts.append(f"type {self._compiled(op.existing_type)} in the database, {self._compiled(op.modify_type)} in the models")
            if op.modify_nullable is not None:
                parts.append(f"{'NULL' if op.existing_nullable else 'NOT NULL'} in the database, {'NULL' if op.modify_nullable else 'NOT NULL'} in the models")
            if op.modify_server_default is not False:
                parts.append(f"server default {_default_text(op.existing_server_default) or 'none'} in the database, {self._model_default(op.modify_server_default) or 'none'} in the models")
            if op.modify_comment is not False:
                parts.append(f"comment {op.existing_comment!r} in the database, {op.modify_comment!r} in the models")
            path, line = self.locator.column(table, op.column_name)
            return f"column {table_name}.{op.column_name} differs: {'; '.join(parts)}", ("column", schema, table_name, op.column_name), path, line
        if isinstance(op, (ops.AddConstraintOp, ops.DropConstraintOp)):
            kind = {"unique": "unique constraint", "foreignkey": "foreign key", "check": "CHECK constraint", "primary": "primary key"}.get(getattr(op, "constraint_type", None) or "", "constraint")
            columns: List[str] = []
            try:
                constraint = op.to_constraint()
                columns = [c.name for c in getattr(constraint, "columns", [])] if not isinstance(op, ops.CreateForeignKeyOp) else list(op.local_cols)
            except Exception:
                pass
            name = op.constraint_name or "(unnamed)"
            path, line = self.locator.table(table) if table is not None else self.locator.fallback()
            if isinstance(op, ops.AddConstraintOp):
                what = f"the models have {kind} {name} on {table_name} ({', '.join(columns)}) that no migration creates"
            else:
                what = f"the database has {kind} {name} on {table_name} that the models lack"
            return what, ("constraint", schema, table_name, op.constraint_name or "", getattr(op, "constraint_type", "") or "", *columns), path, line
        # comments and whatever a plugin adds
        path, line = self.locator.table(table) if table is not None else self.locator.fallback()
        label = re.sub(r"(?<!^)(?=[A-Z])", " ", type(op).__name__.replace("Op", "")).lower()
        return f"{label} on {table_name or 'the schema'} differs between the models and the database", (type(op).__name__, schema, table_name or ""), path, line


# -- where a finding points: the model's source -------------------------------------------------------


class _Locator:
    """The file and line of a table's model (its ORM class, or its ``Table(...)`` call) and of a
    column inside it, from the modules of the project that are loaded; env.py's target_metadata
    line when the object has no model."""

    def __init__(self, env, display_path, metadata_spec):
        self.env, self.display_path, self.metadata_spec = env, display_path, metadata_spec
        self._tables: Optional[Dict[int, Tuple[str, int, List[str], int]]] = None  # id(Table) -> (file, first line, source lines, offset)

    def _scan(self) -> Dict[int, Tuple[str, int, List[str], int]]:
        if self._tables is not None:
            return self._tables
        import sqlalchemy as sa

        found: Dict[int, Tuple[str, int, List[str], int]] = {}
        root = os.path.realpath(str(self.env.project_root or self.env.script_location.parent))
        for module in list(sys.modules.values()):
            filename = getattr(module, "__file__", None)
            if not filename or not os.path.realpath(filename).startswith(root + os.sep) or "site-packages" in filename:
                continue
            try:
                source = inspect.getsource(module).splitlines()
            except (OSError, TypeError):
                continue
            for value in list(vars(module).values()):
                table = getattr(value, "__table__", None) if isinstance(value, type) else None
                if isinstance(table, sa.Table) and getattr(value, "__module__", None) == module.__name__ and id(table) not in found:
                    try:
                        lines, first = inspect.getsourcelines(value)
                        found[id(table)] = (filename, first, [line.rstrip("\n") for line in lines], first)
                    except (OSError, TypeError):
                        pass
                elif isinstance(value, sa.Table) and id(value) not in found:
                    pattern = re.compile(r"Table\(\s*[\"']" + re.escape(value.name) + r"[\"']")
                    for number, line in enumerate(source, start=1):
                        if pattern.search(line) or (number < len(source) and line.rstrip().endswith("Table(") and pattern.search("Table(" + source[number].strip())):
                            found[id(value)] = (filename, number, source[number - 1 : number + 80], number)
                            break
        self._tables = found
        return found

    def fallback(self) -> Tuple[str, int]:
        env_py = self.env.env_py
        if env_py is not None and env_py.exists():
            try:
                for number, line in enumerate(env_py.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
                    if re.match(r"\s*target_metadata\s*=", line):
                        return self.display_path(str(env_py)), number
            except OSError:
                pass
            return self.display_path(str(env_py)), 1
        return self.display_path(str(self.env.script_location)), 1

    def table(self, table) -> Tuple[str, int]:
        if table is None:
            return self.fallback()
        where = self._scan().get(id(table))
        if where is None:
            return self.fallback()
        return self.display_path(where[0]), where[1]

    def column(self, table, column: str) -> Tuple[str, int]:
        if table is None:
            return self.fallback()
        where = self._scan().get(id(table))
        if where is None:
            return self.fallback()
        filename, first, lines, offset = where
        keys = {column}
        if column in table.c:
            keys.add(table.c[column].key)
        pattern = re.compile(r"^\s*(%s)\s*[:=]" % "|".join(map(re.escape, keys)))
        quoted = re.compile(r"[\"'](%s)[\"']" % "|".join(map(re.escape, keys)))
        for index, line in enumerate(lines[1:], start=1):
            if pattern.search(line) or quoted.search(line):
                return self.display_path(filename), offset + index
        return self.display_path(filename), first

    def index(self, table, name: Optional[str], columns: List[str]) -> Tuple[str, int]:
        if table is None:
            return self.fallback()
        where = self._scan().get(id(table))
        if where is None:
            return self.fallback()
        filename, first, lines, offset = where
        if name:
            for index, line in enumerate(lines, start=0):
                if re.search(r"[\"']%s[\"']" % re.escape(name), line):
                    return self.display_path(filename), offset + index
        if len(columns) == 1:
            return self.column(table, columns[0])
        return self.display_path(filename), first


# -- spelling -----------------------------------------------------------------------------------------


def _default_text(default) -> Optional[str]:
    """A server default as text: reflected defaults are strings, model ones DefaultClauses."""
    if default is None or default is False:
        return None
    arg = getattr(default, "arg", default)
    text = getattr(arg, "text", None)
    if isinstance(text, str):
        return text
    return str(arg)


_CAST = re.compile(r"::\s*[a-z_][\w ]*(\[\])?(\(\d+(,\s*\d+)?\))?", re.I)
_FUNCTION_SYNONYMS = {
    "now()": "current_timestamp",
    "current_timestamp()": "current_timestamp",
    "localtimestamp()": "localtimestamp",
    "transaction_timestamp()": "current_timestamp",
    "current_date()": "current_date",
    "current_time()": "current_time",
}
_BOOLEANS = {"true": "1", "'t'": "1", "'true'": "1", "'1'": "1", "false": "0", "'f'": "0", "'false'": "0", "'0'": "0"}


def _canonical_default(text: str, dialect: str) -> str:
    """A default expression without the differences of spelling that do not change its value:
    outer parentheses, casts PostgreSQL adds to literals (``'x'::character varying``), the case of
    keywords, quotes around numbers, ``now()`` vs ``CURRENT_TIMESTAMP``, boolean spellings."""
    value = text.strip()
    while True:
        before = value
        value = _CAST.sub("", value).strip() if dialect == "postgresql" else value
        while value.startswith("(") and value.endswith(")") and _balanced(value[1:-1]):
            value = value[1:-1].strip()
        if value == before:
            break
    if not value.startswith("'"):
        value = value.lower()
    value = _FUNCTION_SYNONYMS.get(value, value)
    if re.fullmatch(r"'-?\d+(\.\d+)?'", value):
        value = value[1:-1]
    if re.fullmatch(r"-?\d+\.0+", value):
        value = value.split(".")[0]
    return _BOOLEANS.get(value.lower(), value)


def _balanced(text: str) -> bool:
    depth = 0
    quoted = False
    for char in text:
        if char == "'":
            quoted = not quoted
        elif not quoted:
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth < 0:
                return False
    return depth == 0 and not quoted


_TYPE_SYNONYMS = (
    (re.compile(r"\bCHARACTER VARYING\b"), "VARCHAR"),
    (re.compile(r"\bCHARACTER\b"), "CHAR"),
    (re.compile(r"\bTIMESTAMP WITHOUT TIME ZONE\b"), "TIMESTAMP"),
    (re.compile(r"\bTIME WITHOUT TIME ZONE\b"), "TIME"),
    (re.compile(r"\bTIMESTAMP WITH TIME ZONE\b"), "TIMESTAMPTZ"),
    (re.compile(r"\bDOUBLE PRECISION\b"), "FLOAT"),
    (re.compile(r"\bINT\b"), "INTEGER"),
    (re.compile(r"\bINT4\b"), "INTEGER"),
    (re.compile(r"\bINT8\b"), "BIGINT"),
    (re.compile(r"\bBOOL\b"), "BOOLEAN"),
    (re.compile(r"\bDECIMAL\b"), "NUMERIC"),
    (re.compile(r"\s+"), " "),
    (re.compile(r"\s*([(),])\s*"), r"\1"),
)


def _canonical_type(compiled: str, dialect: str) -> str:
    """A compiled type without differences of spelling: VARCHAR / CHARACTER VARYING, INT /
    INTEGER, TIMESTAMP WITHOUT TIME ZONE / TIMESTAMP, spaces, and collation clauses."""
    value = re.sub(r"\s+COLLATE\s+\S+", "", compiled.upper()).strip()
    for pattern, replacement in _TYPE_SYNONYMS:
        value = pattern.sub(replacement, value)
    return value


def _sqlite_affinity(declared: str) -> str:
    """SQLite's column affinity of a declared type (https://www.sqlite.org/datatype3.html 3.1)."""
    name = declared.upper()
    if "INT" in name:
        return "INTEGER"
    if any(word in name for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if not name or "BLOB" in name:
        return "BLOB"
    if any(word in name for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def _family(type_):
    """The SQLAlchemy type family (String, Integer, DateTime, ...) of a type, through TypeDecorators."""
    from sqlalchemy.types import TypeDecorator

    seen = 0
    while isinstance(type_, TypeDecorator) and seen < 10:
        type_ = getattr(type_, "impl_instance", None) or type_.impl
        seen += 1
    return type_._type_affinity


def _check_labels(sqltext: str, column: str) -> Optional[List[str]]:
    """The labels a non-native enum's CHECK constraint allows for ``column``, or None when the
    constraint is not one: ``status IN ('a', 'b')`` (SQLite, MySQL) or PostgreSQL's stored form
    ``((status)::text = ANY ((ARRAY['a'::character varying, ...])::text[]))``."""
    text = sqltext.strip()
    name = r'(?:"?%s"?|\(\s*"?%s"?\s*\)(?:::\w[\w ]*)?)' % (re.escape(column), re.escape(column))
    if not re.match(r"^\(*\s*%s\s+(IN\s*\(|=\s*ANY\s*\()" % name, text, re.I):
        return None
    literals = re.findall(r"'((?:[^']|'')*)'", text)
    rest = re.sub(r"'((?:[^']|'')*)'", "", text)
    if re.search(r"\b(AND|OR|NOT)\b", rest, re.I) or not literals:
        return None
    return [literal.replace("''", "'") for literal in literals]


def _labels(labels: Iterable[str]) -> str:
    return "(" + ", ".join(repr(label) for label in labels) + ")"


def _indent(code: str) -> str:
    return "\n".join("    " + line for line in code.splitlines())


def _dedent(code: str) -> str:
    import textwrap

    return textwrap.dedent(code)
