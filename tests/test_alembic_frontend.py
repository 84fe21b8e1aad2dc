"""The libcst front end: revision files -> headers and normalised operations."""

import textwrap

from migration_lint import model as m
from migration_lint.frontend.alembic_ops import parse_migration


def parse(code, dialect="postgresql"):
    return parse_migration(textwrap.dedent(code).encode(), "v.py", dialect)


def kinds(result, phase=None):
    return [op.kind for op in result.operations if phase is None or op.phase == phase]


def test_headers_plain_annotated_and_tuple():
    r = parse('''
        from typing import Sequence, Union
        revision: str = "abc"
        down_revision: Union[str, Sequence[str], None] = ("p1", "p2")
        branch_labels = ["feature"]
        depends_on = None
    ''')
    assert r.revision == "abc"
    assert r.down_revision == ("p1", "p2") and r.down_revision_given
    assert r.branch_labels == ("feature",)
    assert r.depends_on == ()
    assert r.header_lines["revision"] == 3
    assert not r.problems


def test_non_literal_header_is_a_problem_not_a_crash():
    r = parse('''
        revision = make_id()
        down_revision = PARENT + "x"
    ''')
    assert [p.rule for p in r.problems] == ["invalid-revision-header", "invalid-revision-header"]
    assert r.revision is None


def test_branch_labels_from_constants_are_opaque_labels():
    r = parse('''
        from neutron.db.migration import cli
        revision = "599c6a226151"
        down_revision = "kilo"
        branch_labels = (cli.EXPAND_BRANCH,)
    ''')
    assert r.branch_labels == ("<cli.EXPAND_BRANCH>",)
    assert not r.problems


def test_syntax_error_and_bad_encoding():
    r = parse("def upgrade(:\n    pass\n")
    assert r.syntax_error and r.problems[0].rule == "syntax-error" and r.problems[0].line == 1
    r = parse_migration(b"revision = '\xff\xfe'\n", "v.py")
    assert r.syntax_error and "UTF-8" in r.problems[0].message


def test_positions_and_phases():
    r = parse('''
        from alembic import op
        import sqlalchemy as sa

        def upgrade():
            op.add_column("user", sa.Column("age", sa.Integer(), nullable=True)); op.drop_column("user", "x")
            op.create_index(
                "ix_a", "user", ["age"],
            )

        def downgrade():
            op.drop_index("ix_a", table_name="user")
    ''')
    ops = r.operations
    assert [(o.kind, o.line, o.phase) for o in ops] == [
        (m.ADD_COLUMN, 6, "upgrade"),
        (m.DROP_COLUMN, 6, "upgrade"),
        (m.CREATE_INDEX, 7, "upgrade"),
        (m.DROP_INDEX, 12, "downgrade"),
    ]
    assert ops[2].end_line == 9
    assert ops[1].column_offset > ops[0].column_offset
    assert ops[0].column.name == "age" and ops[0].column.type.name == "integer"


def test_op_alias_and_op_as_parameter_and_constants():
    r = parse('''
        from alembic import op as alembic_op
        TABLE = "user"

        def upgrade():
            alembic_op.create_index(alembic_op.f("ix_user_email"), TABLE, ["email"], unique=True)

        def downgrade(op, tables, tester):
            op.drop_table("user")
    ''')
    create, drop = r.operations
    assert create.kind == m.CREATE_INDEX and create.table == "user" and create.name == "ix_user_email"
    assert create.get("unique") is True and create.columns == ("email",)
    assert drop.kind == m.DROP_TABLE and drop.phase == "downgrade"


def test_batch_mode_and_autocommit_and_loops():
    r = parse('''
        from alembic import op
        import sqlalchemy as sa

        def upgrade():
            with op.batch_alter_table("post", schema="blog") as batch_op:
                batch_op.alter_column("title", existing_type=sa.String(100), type_=sa.String(200), nullable=False)
                batch_op.create_index("ix_post_title", ["title"])
            with op.get_context().autocommit_block():
                op.create_index("ix_x", "post", ["x"], postgresql_concurrently=True)
            for name in ("a", "b"):
                op.add_column(name, sa.Column("c", sa.Integer()))
    ''')
    type_change, not_null, index, concurrent, looped = r.operations
    assert type_change.kind == m.ALTER_COLUMN_TYPE and type_change.table == "post" and type_change.schema == "blog"
    assert type_change.get("existing_type").length == 100 and type_change.get("type").length == 200
    assert not_null.kind == m.SET_NOT_NULL and "batch" in not_null.context
    assert index.kind == m.CREATE_INDEX and index.table == "post" and index.call == "batch_op.create_index"
    assert "autocommit" in concurrent.context and concurrent.get("concurrently")
    assert "loop" in looped.context and looped.table is None


def test_dialect_guards():
    r = parse('''
        from alembic import op

        def upgrade():
            if op.get_bind().dialect.name == "postgresql":
                op.execute("CREATE INDEX CONCURRENTLY ix ON t (a)")
            else:
                op.create_index("ix", "t", ["a"])
            if op.get_context().dialect.name != "sqlite":
                op.drop_column("t", "b")
    ''')
    pg, other, not_sqlite = r.operations
    assert pg.runs_on("postgresql") and not pg.runs_on("sqlite")
    assert other.runs_on("sqlite") and not other.runs_on("postgresql")
    assert not not_sqlite.runs_on("sqlite") and not_sqlite.runs_on("mysql")


def test_helpers_in_same_file_are_followed_with_op_passed_along():
    r = parse('''
        from alembic import op

        def _add_index(op, table):
            op.create_index("ix", table, ["a"])

        def _drop():
            op.drop_table("old")

        def upgrade():
            _add_index(op, "t")
            _drop()
    ''')
    assert kinds(r) == [m.CREATE_INDEX, m.DROP_TABLE]
    assert all("helper" in o.context for o in r.operations)


def test_execute_forms():
    r = parse('''
        from alembic import op
        import sqlalchemy as sa
        from sqlalchemy import text

        def upgrade():
            op.execute("ALTER TABLE t ADD COLUMN c int; CREATE INDEX ix ON t (c)")
            op.execute(sa.text("UPDATE t SET c = 1"))
            conn = op.get_bind()
            conn.execute(text("DELETE FROM t WHERE c = 2"))
            op.execute(f"DROP TABLE {name}")
            op.execute("DROP TABLE %s" % name)
            op.execute("ALTER TABLE t {}".format(action))
            op.execute(f"{verb} TABLE t")
            op.execute(sql_from_somewhere)
            conn.execute(text("UPDATE t SET c = :c").bindparams(c=1).execution_options(autocommit=True))
            conn.execute(text(dedent("""
                DELETE FROM t WHERE c = %s
            """)))
            conn.execute(sa.schema.CreateSchema("audit"))
    ''')
    assert kinds(r) == [m.ADD_COLUMN, m.CREATE_INDEX, m.UPDATE_ROWS, m.DELETE_ROWS, m.DROP_TABLE, m.DROP_TABLE, m.RAW_SQL, m.RAW_SQL, m.RAW_SQL, m.UPDATE_ROWS, m.DELETE_ROWS, m.OTHER_SQL]
    dropped = [o for o in r.operations if o.kind == m.DROP_TABLE]
    assert [(o.table, o.get("formatted")) for o in dropped] == [(None, True), (None, True)]  # the holes: names read at run time
    reasons = [o.get("reason") for o in r.operations if o.kind == m.RAW_SQL]
    assert reasons == ["SQL built by string formatting", "SQL built with an f-string", "SQL is not a string literal"]


def test_core_statements_and_bulk_insert():
    r = parse('''
        from alembic import op
        import sqlalchemy as sa

        def upgrade():
            users = sa.table("users", sa.column("id"))
            op.execute(users.update().where(users.c.id == 1).values(active=True))
            op.bulk_insert(users, [{"id": 1}])
    ''')
    update, insert = r.operations
    assert update.kind == m.UPDATE_ROWS and update.table == "users" and update.get("has_where")
    assert insert.kind == m.INSERT_ROWS and insert.table == "users"


def test_enum_types_implied_and_explicit():
    r = parse('''
        from alembic import op
        import sqlalchemy as sa
        from sqlalchemy.dialects import postgresql

        color = sa.Enum("red", "green", name="color")

        def upgrade():
            op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("c", color))
            op.add_column("u", sa.Column("s", postgresql.ENUM("a", name="status", create_type=False)))

        def downgrade():
            op.drop_table("t")
            color.drop(op.get_bind(), checkfirst=True)
    ''')
    create_table, implied, add_column, drop_table, drop_type = r.operations
    assert implied.kind == m.CREATE_TYPE and implied.name == "color" and implied.get("implicit")
    assert implied.get("labels") == ("red", "green")
    assert add_column.kind == m.ADD_COLUMN  # create_type=False: no type is created
    assert drop_type.kind == m.DROP_TYPE and drop_type.name == "color"


def test_column_specs():
    r = parse('''
        from alembic import op
        import sqlalchemy as sa

        def upgrade():
            op.add_column("t", sa.Column("a", sa.String(length=20), nullable=False, server_default="x"))
            op.add_column("t", sa.Column("b", sa.DateTime(), server_default=sa.func.now()))
            op.add_column("t", sa.Column("c", sa.Uuid(), server_default=sa.text("gen_random_uuid()")))
            op.add_column("t", sa.Column("d", sa.Integer(), nullable=False, default=0))
    ''')
    a, b, c, d = (o.column for o in r.operations)
    assert a.not_null and a.server_default.text == "'x'" and a.type.length == 20
    assert b.server_default.text == "now()" and not b.server_default.volatile
    assert c.server_default.volatile
    assert d.not_null and d.server_default is None and d.python_default


def test_alter_column_split_into_operations():
    r = parse('''
        from alembic import op
        import sqlalchemy as sa

        def upgrade():
            op.alter_column("t", "a", new_column_name="b", nullable=True, server_default=None)
    ''')
    assert kinds(r) == [m.DROP_NOT_NULL, m.DROP_DEFAULT, m.RENAME_COLUMN]
    assert r.operations[-1].get("new_name") == "b"


def test_raise_downgrade_and_empty_downgrade():
    r = parse('''
        def upgrade():
            pass

        def downgrade():
            raise NotImplementedError("no way back")
    ''')
    assert kinds(r, "downgrade") == [m.RAISE]
    assert not r.downgrade_is_empty
    r = parse('''
        def upgrade():
            pass

        def downgrade():
            """Nothing."""
            pass
    ''')
    assert r.downgrade_is_empty and r.has_downgrade


def test_suppressions_parsed():
    r = parse('''
        from alembic import op

        def upgrade():
            # migration-lint: ignore[drop-table] the table is empty since 2024
            op.drop_table("old")
            op.drop_table("older")  # migration-lint: ignore[drop-table,drop-column]
        # migration-lint: ignore-file[missing-downgrade] we never downgrade
    ''')
    first, second, file_level = r.suppressions
    assert first.rules == ("drop-table",) and first.reason == "the table is empty since 2024" and first.applies_to == (5, 6)
    assert second.rules == ("drop-table", "drop-column") and second.reason == "" and second.applies_to == (7,)
    assert file_level.file_level


def test_imports_recorded_including_function_level():
    r = parse('''
        from alembic import op
        from myapp.models import User

        def upgrade():
            import myapp.utils
    ''')
    assert ("myapp.models", 3) in [i[:2] for i in r.imports] and ("myapp.utils", 6) in [i[:2] for i in r.imports]


def test_multidb_template_dispatch():
    r = parse('''
        from alembic import op

        def upgrade(engine_name):
            globals()["upgrade_%s" % engine_name]()

        def upgrade_engine1():
            op.drop_table("a")

        def downgrade(engine_name):
            globals()["downgrade_%s" % engine_name]()

        def downgrade_engine1():
            op.drop_table("b")
    ''')
    assert [(o.kind, o.phase, o.table) for o in r.operations] == [(m.DROP_TABLE, "upgrade", "a"), (m.DROP_TABLE, "downgrade", "b")]


def test_core_select_and_ddl_objects_are_not_unanalysed_sql():
    r = parse('''
        from alembic import op
        import sqlalchemy as sa

        def upgrade():
            conn = op.get_bind()
            rows = conn.execute(sa.select(t.c.id).where(t.c.id > 1)).fetchall()
            op.execute(sa.schema.DropSequence(sa.Sequence("s")))
            conn.execute(sql_text)
    ''')
    assert kinds(r) == [m.OTHER_SQL, m.DROP_SEQUENCE, m.RAW_SQL]
    assert r.operations[-1].call == "conn.execute"


def test_line_numbers_survive_form_feeds_and_crlf():
    text = 'from alembic import op\r\n\x0c\r\nrevision = "a"\r\ndown_revision = None\r\n# sep\x0c\r\ndef upgrade():\r\n    # migration-lint: ignore[drop-table] gone\r\n    op.drop_table("t")\r\n'
    r = parse_migration(text.encode(), "v.py")
    (op,) = r.operations
    assert op.line == 8
    assert r.suppressions[0].applies_to == (7, 8)


def test_pep263_coding_line_is_honoured():
    text = '# -*- coding: latin-1 -*-\n"""caf\xe9"""\nfrom alembic import op\nrevision = "a"\ndef upgrade():\n    op.drop_table("t")\n'
    r = parse_migration(text.encode("latin-1"), "v.py")
    assert not r.problems and [o.kind for o in r.operations] == [m.DROP_TABLE]


def test_bind_parameters_do_not_make_sql_unanalysable():
    r = parse('''
        from alembic import op
        from sqlalchemy import text

        def upgrade():
            op.execute(text("UPDATE dashboards SET tags = :tags WHERE id = :id"))
            op.execute("SELECT '10:30'::time, x::int FROM t")
    ''')
    assert kinds(r) == [m.UPDATE_ROWS, m.OTHER_SQL]
    assert r.operations[0].table == "dashboards"


def test_libcst_checks_hand_built_nodes_again_after_a_parse():
    """Validation of parser output is skipped during our parse call only."""
    import libcst as cst
    import pytest

    parse_migration(b'revision = "a"\ndown_revision = None\n\ndef upgrade():\n    op.drop_table("t")\n', "a.py", "postgresql")
    with pytest.raises(cst.CSTValidationError):
        cst.Name("not a name")


def test_headers_only_read_skips_the_functions():
    source = textwrap.dedent('''
        from alembic import op
        from myapp.models import User  # migration-lint: ignore[imports-application-code] frozen copy

        revision = "b"
        down_revision = ("a", "x")
        branch_labels = ("feature",)

        def upgrade():
            op.drop_table("t")

        def downgrade():
            pass
    ''').encode()
    full = parse_migration(source, "b.py")
    light = parse_migration(source, "b.py", operations=False)
    assert light.headers_only and not full.headers_only
    assert (light.revision, light.down_revision, light.branch_labels) == (full.revision, full.down_revision, full.branch_labels)
    assert light.imports == full.imports and light.suppressions == full.suppressions
    assert (light.has_upgrade, light.has_downgrade, light.downgrade_is_empty) == (True, True, True)
    assert light.operations == [] and [o.kind for o in full.operations] == [m.DROP_TABLE]


def test_session_bound_to_the_migration_connection_executes_there():
    source = textwrap.dedent('''
        from alembic import op
        import sqlalchemy as sa

        revision = "b"
        down_revision = "a"
        things = sa.table("things", sa.column("id"), sa.column("note"))

        def upgrade():
            session = sa.orm.Session(bind=op.get_bind())
            session.execute(things.update().values(note="x"))
    ''').encode()
    (op,) = parse_migration(source, "b.py").operations
    assert (op.kind, op.table) == (m.UPDATE_ROWS, "things")
    for opening in ("with sa.orm.Session(bind=op.get_bind()) as session:", "with orm.Session(op.get_bind()) as session:"):
        body = source.replace(b"    session = sa.orm.Session(bind=op.get_bind())\n    session.execute", f"    {opening}\n        session.execute".encode())
        assert body != source and [(o.kind, o.table) for o in parse_migration(body, "b.py").operations] == [(m.UPDATE_ROWS, "things")], opening


def test_a_file_python_cannot_parse_still_names_its_revision():
    broken = b'revision: str = "b"\ndown_revision = ("a",)  # merge\nbranch_labels = None\n\ndef upgrade(:\n    pass\n'
    result = parse_migration(broken, "b.py")
    assert result.syntax_error and [p.rule for p in result.problems] == ["syntax-error"]
    assert (result.revision, result.down_revision, result.down_revision_given) == ("b", ("a",), True)


def test_sql_returned_by_helpers_is_read_where_it_is_executed():
    """prefect's data migrations: SQL-returning functions defined inside upgrade(), taken in turn
    by a loop, their statement bound to a name before it is executed."""
    r = parse('''
        def upgrade():
            def insert_artifacts(batch_size, offset):
                return f"""
                    INSERT INTO artifact (task_run_state_id, data)
                    SELECT id, data FROM task_run_state LIMIT {batch_size} OFFSET {offset}
                """

            def link_states(batch_size, offset):
                return f"UPDATE task_run_state SET result_artifact_id = (SELECT id FROM artifact WHERE task_run_state.id = task_run_state_id) WHERE id IN (SELECT id FROM task_run_state LIMIT {batch_size})"

            queries = [insert_artifacts, link_states]
            with op.get_context().autocommit_block():
                conn = op.get_bind()
                for query in queries:
                    offset = 0
                    while True:
                        sql_stmt = sa.text(query(500, offset))
                        if conn.execute(sql_stmt).rowcount <= 0:
                            break
                        offset += 500
    ''')
    ops = [(op.kind, op.table, op.line) for op in r.operations]
    assert ops == [(m.INSERT_ROWS, "artifact", 19), (m.UPDATE_ROWS, "task_run_state", 19)]
    assert all(op.get("formatted") for op in r.operations)  # the holes are unknown
    assert not [op for op in r.operations if op.kind == m.RAW_SQL]


def test_a_helper_called_with_a_literal_fills_its_hole():
    r = parse('''
        def add_deleted_at(table):
            """One statement per table."""
            return f"ALTER TABLE {table} ADD COLUMN deleted_at timestamptz"

        def upgrade():
            op.execute(add_deleted_at("account"))
            statement = add_deleted_at(name_from_elsewhere())
            op.execute(statement)
    ''')
    (first, second) = r.operations
    assert (first.kind, first.table, first.columns) == (m.ADD_COLUMN, "account", ("deleted_at",))
    assert second.kind == m.ADD_COLUMN and second.get("formatted")  # the table is a hole there


def test_a_helper_with_more_than_a_return_stays_unanalysed():
    r = parse('''
        def build(table):
            columns = ", ".join(COLUMNS)
            return f"INSERT INTO {table} SELECT {columns} FROM staging"

        def upgrade():
            op.execute(build("account"))
    ''')
    (op,) = r.operations
    assert op.kind == m.RAW_SQL and op.get("reason") == "SQL is not a string literal"


def test_an_f_string_inside_text_is_read_by_its_literal_part():
    r = parse('''
        def _drop_invalid(bind, index_name):
            bind.execute(sa.text(f"DROP INDEX IF EXISTS {index_name}"))
            return True

        def upgrade():
            bind = op.get_bind()
            for name in ("ix_a", "ix_b"):
                if name in existing and _drop_invalid(bind, name):
                    existing.discard(name)
    ''')
    (op,) = r.operations
    assert op.kind == m.DROP_INDEX and op.get("formatted") and op.get("if_exists")


def test_sql_built_in_circles_ends_unanalysed_not_in_a_loop():
    r = parse('''
        def again(n):
            return again(n)

        def upgrade():
            a = sa.text(b)
            b = sa.text(a)
            op.execute(a)
            op.execute(again(1))
            queries = [again, again]
            for q in queries:
                op.get_bind().execute(sa.text(q(2)))
    ''')
    assert [op.kind for op in r.operations] == [m.RAW_SQL] * 4


def test_sql_bound_to_a_name_is_read_with_the_constants_of_that_moment():
    r = parse('''
        def qa():
            return "UPDATE a SET x = 1"

        def qb():
            return "DELETE FROM b"

        def upgrade():
            table = "a"
            stmt = sa.text(f"UPDATE {table} SET x = 1")
            table = "b"
            op.execute(stmt)
            for q in [qa, qb]:
                pass
            op.execute(q())  # after the loop: q is the last one, which we do not claim to know
    ''')
    ops = [(op.kind, op.table) for op in r.operations]
    assert ops[0] == (m.UPDATE_ROWS, "a")
    assert ops[1:] == [(m.RAW_SQL, None)]


def test_helpers_defined_inside_upgrade_and_lists_of_helpers_are_walked():
    r = parse('''
        def add_flag(op, table):
            op.add_column(table, sa.Column("flag", sa.Boolean()))

        def add_index(op, table):
            op.create_index(f"ix_{table}_flag", table, ["flag"])

        def upgrade():
            def migrate(table):
                op.add_column(table, sa.Column("deleted_at", sa.DateTime()))

            migrate("account")
            for step in [add_flag, add_index]:
                step(op, "account")
    ''')
    ops = [(op.kind, op.table, op.line) for op in r.operations]
    assert ops == [(m.ADD_COLUMN, "account", 12), (m.ADD_COLUMN, "account", 14), (m.CREATE_INDEX, "account", 14)]
