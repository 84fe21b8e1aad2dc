"""env.py read statically: whose transaction the migrations run in (envpy.py), and what the front
end records beside operations (reads, enum type names, argument kinds)."""

import textwrap

from migration_lint import model as m
from migration_lint.envpy import transaction_facts
from migration_lint.frontend.alembic_ops import parse_migration


def facts(text: str) -> dict:
    return transaction_facts(textwrap.dedent(text))


def test_a_statement_before_configure_is_found_with_its_line():
    found = facts('''
        import sqlalchemy as sa
        from alembic import context as ctx

        engine = sa.create_engine("postgresql://")
        with engine.connect() as conn:
            conn.exec_driver_sql("SET lock_timeout = '5s'")
            ctx.configure(connection=conn)
            with ctx.begin_transaction():
                ctx.run_migrations()
    ''')
    assert found == {"open_transaction": (7, "conn.exec_driver_sql(...)", 8), "commits_after_run": False}


def test_a_commit_or_a_closed_begin_block_in_between_clears_it():
    for between in ("conn.commit()", "conn.rollback()", "trans.commit()"):
        text = f'''
            import sqlalchemy as sa
            from alembic import context

            engine = sa.create_engine("postgresql://")
            with engine.connect() as conn:
                trans = conn.begin()
                conn.execute(sa.text("SELECT pg_advisory_lock(1)"))
                {between}
                context.configure(connection=conn)
        '''
        assert facts(text)["open_transaction"] is None, between
    # an explicit begin() that nobody commits is as open as an autobegun one
    assert facts('''
        import sqlalchemy as sa
        from alembic import context

        with sa.create_engine("postgresql://").connect() as conn:
            trans = conn.begin()
            context.configure(connection=conn)
    ''')["open_transaction"][0] == 6


def test_the_connection_is_followed_through_run_sync_and_plain_calls():
    found = facts('''
        import asyncio
        import sqlalchemy as sa
        from alembic import context


        def do_run_migrations(connection):
            context.configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()


        async def main(engine):
            async with engine.connect() as connection:
                await connection.run_sync(do_run_migrations)
                await connection.commit()


        def online(engine):
            with engine.connect() as connection:
                connection.execute(sa.text("SET search_path TO app"))
                do_run_migrations(connection)
    ''')
    assert found["open_transaction"][0] == 21  # the plain call's caller ran a statement first
    assert found["commits_after_run"]  # the async caller commits after run_sync


def test_unknown_connections_get_no_verdict():
    neutron_like = '''
        from alembic import context

        def run_migrations_online():
            connection = config.attributes.get('connection')
            with DBConnection(url, connection) as conn:
                conn.execute("SET x = 1")
                context.configure(connection=conn)
                with context.begin_transaction():
                    context.run_migrations()
    '''
    multidb = '''
        from alembic import context

        for name, rec in engines.items():
            rec["connection"] = conn = rec["engine"].connect()
            rec["transaction"] = conn.begin()
        for name, rec in engines.items():
            context.configure(connection=rec["connection"], upgrade_token="%s_upgrades" % name)
            context.run_migrations(engine_name=name)
        for rec in engines.values():
            rec["transaction"].commit()
    '''
    for text in (neutron_like, multidb, "def broken(:\n", "x = 1\n"):
        assert facts(text)["open_transaction"] is None


def parse(body: str, **kw):
    source = "from alembic import op, context\nimport sqlalchemy as sa\nrevision = 'a'\ndown_revision = None\n" + textwrap.dedent(body)
    return parse_migration(source.encode(), "a.py", **kw)


def test_reads_are_recorded_apart_from_operations_with_their_guard():
    r = parse('''
        def upgrade():
            bind = op.get_bind()
            inspector = sa.inspect(bind)
            rows = bind.execute(sa.text("SELECT 1")).fetchall()
            result = bind.execute(sa.text("SELECT 2"))
            for row in result:
                pass
            if not context.is_offline_mode():
                count = bind.scalar(sa.text("SELECT count(*) FROM t"))
            bind.execute(sa.text("UPDATE t SET x = 1"))
    ''')
    assert [(x.kind, x.get("what"), x.line) for x in r.reads] == [(m.READ, "reflection", 8), (m.READ, "rows", 9), (m.READ, "rows", 11), (m.READ, "rows", 14)]
    assert "online" in r.reads[-1].context and "online" not in r.reads[0].context
    assert all(op.kind != m.READ for op in r.operations)  # reads are not operations
    early = parse('''
        def upgrade():
            if context.is_offline_mode():
                return
            sa.inspect(op.get_bind())
    ''')
    assert "online" in early.reads[0].context


def test_session_commits_are_marked_and_enum_names_are_read_even_for_headers_only():
    r = parse('''
        def upgrade():
            session = sa.orm.Session(bind=op.get_bind())
            session.commit()
            op.get_bind().commit()
            op.add_column("t", sa.Column("s", sa.Enum("a", name="kind")))
            op.execute("CREATE TYPE mood AS ENUM ('sad')")
    ''')
    commits = [op for op in r.operations if op.kind == m.COMMIT]
    assert [c.get("session") for c in commits] == [True, False]
    assert [op.kind for op in r.operations if op.kind in (m.ADD_COLUMN, m.CREATE_TYPE)] == [m.ADD_COLUMN, m.CREATE_TYPE]  # add_column creates no type
    headers = parse('''
        def upgrade():
            op.add_column("t", sa.Column("s", sa.Enum("a", name="kind")))
            op.execute("CREATE TYPE mood AS ENUM ('sad')")
    ''', operations=False)
    assert headers.enum_types == ("kind", "mood") and not headers.operations


def test_argument_kinds_are_recorded():
    r = parse('''
        def upgrade():
            op.drop_column("t", sa.Column("x", sa.Integer()))
            op.create_index("ix", "t", "email")
            op.create_index("ix2", "t", ["email"])
            op.drop_constraint("fk", "t")
            op.drop_constraint("fk", "t", "foreignkey")
    ''')
    drop, bare, listed, untyped, typed = r.operations
    assert drop.get("column_object") and drop.columns == ("x",)
    assert bare.get("bare_string") == ("columns",) and listed.get("bare_string") == ()
    assert untyped.get("type_given") is False and typed.get("type_given") is True
