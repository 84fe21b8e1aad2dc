"""Tests for the SQL text front end (``migration_lint.frontend.sql``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from migration_lint import model as m
from migration_lint.frontend.sql import sql_to_operations
from migration_lint.model import Default, Operation

pytest.importorskip("pglast")
pytest.importorskip("sqlglot")


def base() -> Operation:
    return Operation(kind="raw_sql", phase="upgrade", line=10, call="op.execute")


def ops_for(sql: str, dialect: str = "postgresql"):
    return sql_to_operations(sql, dialect, base())


def one(sql: str, dialect: str = "postgresql") -> Operation:
    ops = ops_for(sql, dialect)
    assert len(ops) == 1, [(o.kind, o.attrs) for o in ops]
    return ops[0]


def kinds(sql: str, dialect: str = "postgresql"):
    return [o.kind for o in ops_for(sql, dialect)]


def _subset(expected: dict, op: Operation) -> None:
    for key, value in expected.items():
        if key == "attrs":
            for akey, avalue in value.items():
                assert op.attrs.get(akey) == avalue, (akey, op.attrs)
        else:
            assert getattr(op, key) == value, (key, getattr(op, key))


# --- common invariants -------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["postgresql", "mysql", "sqlite"])
@pytest.mark.parametrize("sql", ["", "   \n\t ", "-- just a comment\n", "/* block */", ";;"])
def test_empty_sql_gives_nothing(sql, dialect):
    assert ops_for(sql, dialect) == []


@pytest.mark.parametrize("dialect", ["postgresql", "mysql", "sqlite"])
@pytest.mark.parametrize(
    "sql", ["CREATE TABLE (", "ALTER TABLE t ADD COLUMN", "SELECT 'unterminated", "UPDATE SET x = 1"]
)
def test_unparseable_sql_is_one_raw_sql(sql, dialect):
    op = one(sql, dialect)
    assert op.kind == m.RAW_SQL
    reason = op.attrs["reason"]
    assert isinstance(reason, str) and reason and "\n" not in reason
    assert op.source == "sql"
    assert op.sql == sql.strip()


def test_unparseable_statement_spoils_the_whole_string():
    ops = ops_for("CREATE INDEX ix ON t (a); CREATE TABLE (")
    assert [o.kind for o in ops] == [m.RAW_SQL]
    assert "syntax error" in ops[0].attrs["reason"]


def test_results_copy_base_fields():
    b = Operation(
        kind="raw_sql",
        phase="downgrade",
        line=42,
        column_offset=4,
        end_line=44,
        context=("batch",),
        dialects=("postgresql",),
        not_dialects=("sqlite",),
        call="op.execute",
        attrs={"unrelated": 1},
        table="leftover",
    )
    ops = sql_to_operations("DROP TABLE a; DROP INDEX ix", "postgresql", b)
    assert [o.kind for o in ops] == [m.DROP_TABLE, m.DROP_INDEX]
    for op in ops:
        assert op.phase == "downgrade"
        assert op.line == 42
        assert op.column_offset == 4
        assert op.end_line == 44
        assert op.context == ("batch",)
        assert op.dialects == ("postgresql",)
        assert op.not_dialects == ("sqlite",)
        assert op.call == "op.execute"
        assert op.source == "sql"
        assert "unrelated" not in op.attrs
    assert ops[0].table == "a"
    assert ops[1].table is None and ops[1].name == "ix"
    assert ops[0].sql == "DROP TABLE a"
    assert ops[1].sql == "DROP INDEX ix"
    assert b.kind == "raw_sql" and b.attrs == {"unrelated": 1}  # base untouched


def test_ops_do_not_share_attrs():
    ops = ops_for("TRUNCATE a, b")
    assert ops[0].attrs is not ops[1].attrs


@pytest.mark.parametrize("dialect", ["postgresql", "mysql", "sqlite"])
def test_never_raises_on_garbage(dialect):
    for sql in ["\x00", "$$", "'", ")", "SELECT ((((", "; ; ;", "ALTER", "💥"]:
        ops = ops_for(sql, dialect)
        assert all(o.kind in (m.RAW_SQL, m.OTHER_SQL) for o in ops)


def test_module_import_does_not_import_parsers():
    code = (
        "import sys; import migration_lint.frontend.sql; "
        "print('pglast' in sys.modules, 'sqlglot' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "False"]


# --- PostgreSQL --------------------------------------------------------------------------------

PG_CASES = [
    (
        "DROP TABLE IF EXISTS s.users CASCADE",
        m.DROP_TABLE,
        {"table": "users", "schema": "s", "attrs": {"if_exists": True, "cascade": True}},
    ),
    ("DROP TABLE users", m.DROP_TABLE, {"table": "users", "attrs": {"if_exists": False}}),
    (
        "DROP INDEX CONCURRENTLY IF EXISTS public.ix_a",
        m.DROP_INDEX,
        {
            "name": "ix_a",
            "schema": "public",
            "table": None,
            "attrs": {"concurrently": True, "if_exists": True},
        },
    ),
    ("DROP INDEX ix_a", m.DROP_INDEX, {"name": "ix_a", "attrs": {"concurrently": False, "if_exists": False}}),
    ("DROP TYPE IF EXISTS mood", m.DROP_TYPE, {"name": "mood", "attrs": {"if_exists": True}}),
    ("DROP TYPE s.mood", m.DROP_TYPE, {"name": "mood", "schema": "s", "attrs": {"if_exists": False}}),
    ("DROP SEQUENCE seq_a", m.DROP_SEQUENCE, {"name": "seq_a"}),
    ("DROP VIEW v_a", m.DROP_VIEW, {"name": "v_a"}),
    ("DROP MATERIALIZED VIEW mv", m.DROP_VIEW, {"name": "mv", "attrs": {"materialized": True}}),
    (
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ix_a ON s.t (a, b) WHERE c IS NULL",
        m.CREATE_INDEX,
        {
            "name": "ix_a",
            "table": "t",
            "schema": "s",
            "columns": ("a", "b"),
            "attrs": {
                "unique": True,
                "concurrently": True,
                "if_not_exists": True,
                "where": "c IS NULL",
            },
        },
    ),
    (
        "CREATE INDEX ix_b ON t (b)",
        m.CREATE_INDEX,
        {
            "name": "ix_b",
            "table": "t",
            "columns": ("b",),
            "attrs": {"unique": False, "concurrently": False, "if_not_exists": False, "where": None},
        },
    ),
    (
        "CREATE INDEX ix_l ON t USING gin (lower(email))",
        m.CREATE_INDEX,
        {"columns": ("lower(email)",), "attrs": {"using": "gin"}},
    ),
    (
        'CREATE INDEX "Ix_Q" ON "Some"."Table" ("Col")',
        m.CREATE_INDEX,
        {"name": "Ix_Q", "schema": "Some", "table": "Table", "columns": ("Col",)},
    ),
    ("ALTER TABLE t DROP COLUMN c", m.DROP_COLUMN, {"table": "t", "columns": ("c",)}),
    (
        "ALTER TABLE t DROP COLUMN IF EXISTS c CASCADE",
        m.DROP_COLUMN,
        {"columns": ("c",), "attrs": {"if_exists": True, "cascade": True}},
    ),
    ("ALTER TABLE t ALTER COLUMN c SET NOT NULL", m.SET_NOT_NULL, {"table": "t", "columns": ("c",)}),
    ("ALTER TABLE t ALTER c DROP NOT NULL", m.DROP_NOT_NULL, {"table": "t", "columns": ("c",)}),
    (
        "ALTER TABLE t ALTER COLUMN c SET DEFAULT 0",
        m.SET_DEFAULT,
        {"columns": ("c",), "attrs": {"default": Default("0", False)}},
    ),
    (
        "ALTER TABLE t ALTER COLUMN c SET DEFAULT gen_random_uuid()",
        m.SET_DEFAULT,
        {"columns": ("c",), "attrs": {"default": Default("gen_random_uuid()", True)}},
    ),
    ("ALTER TABLE t ALTER COLUMN c DROP DEFAULT", m.DROP_DEFAULT, {"columns": ("c",)}),
    (
        "ALTER TABLE orders ADD CONSTRAINT fk_user FOREIGN KEY (user_id) REFERENCES app.users (id) NOT VALID",
        m.CREATE_FOREIGN_KEY,
        {
            "table": "orders",
            "name": "fk_user",
            "columns": ("user_id",),
            "attrs": {
                "ref_table": "users",
                "ref_schema": "app",
                "ref_columns": ("id",),
                "not_valid": True,
            },
        },
    ),
    (
        "ALTER TABLE orders ADD FOREIGN KEY (a, b) REFERENCES other (x, y)",
        m.CREATE_FOREIGN_KEY,
        {
            "name": None,
            "columns": ("a", "b"),
            "attrs": {"ref_table": "other", "ref_columns": ("x", "y"), "not_valid": False},
        },
    ),
    (
        "ALTER TABLE t ADD CONSTRAINT uq_a UNIQUE USING INDEX ix_a",
        m.CREATE_UNIQUE_CONSTRAINT,
        {"name": "uq_a", "attrs": {"using_index": "ix_a"}},
    ),
    (
        "ALTER TABLE t ADD CONSTRAINT uq_ab UNIQUE (a, b)",
        m.CREATE_UNIQUE_CONSTRAINT,
        {"name": "uq_ab", "columns": ("a", "b"), "attrs": {"using_index": None}},
    ),
    (
        "ALTER TABLE t ADD CONSTRAINT ck_pos CHECK (a > 0) NOT VALID",
        m.CREATE_CHECK_CONSTRAINT,
        {"name": "ck_pos", "attrs": {"condition": "a > 0", "not_valid": True}},
    ),
    (
        "ALTER TABLE t ADD CONSTRAINT ck_pos CHECK (a > 0)",
        m.CREATE_CHECK_CONSTRAINT,
        {"attrs": {"condition": "a > 0", "not_valid": False}},
    ),
    (
        "ALTER TABLE t ADD CONSTRAINT pk_t PRIMARY KEY USING INDEX ix_pk",
        m.CREATE_PRIMARY_KEY,
        {"name": "pk_t", "attrs": {"using_index": "ix_pk"}},
    ),
    (
        "ALTER TABLE t ADD PRIMARY KEY (id)",
        m.CREATE_PRIMARY_KEY,
        {"columns": ("id",), "attrs": {"using_index": None}},
    ),
    (
        "ALTER TABLE room ADD CONSTRAINT no_overlap EXCLUDE USING gist (during WITH &&)",
        m.CREATE_EXCLUDE_CONSTRAINT,
        {"table": "room", "name": "no_overlap", "columns": ("during",), "attrs": {"using": "gist"}},
    ),
    (
        "ALTER TABLE t DROP CONSTRAINT IF EXISTS fk_x",
        m.DROP_CONSTRAINT,
        {"table": "t", "name": "fk_x", "attrs": {"type": None, "if_exists": True}},
    ),
    ("ALTER TABLE t VALIDATE CONSTRAINT fk_x", m.VALIDATE_CONSTRAINT, {"table": "t", "name": "fk_x"}),
    (
        "ALTER TABLE s.t RENAME COLUMN a TO b",
        m.RENAME_COLUMN,
        {"table": "t", "schema": "s", "columns": ("a",), "attrs": {"new_name": "b"}},
    ),
    (
        "ALTER TABLE t RENAME a TO b",
        m.RENAME_COLUMN,
        {"columns": ("a",), "attrs": {"new_name": "b"}},
    ),
    ("ALTER TABLE t RENAME TO t2", m.RENAME_TABLE, {"table": "t", "attrs": {"new_name": "t2"}}),
    (
        "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh' AFTER 'ok'",
        m.ALTER_TYPE,
        {"name": "mood", "attrs": {"action": "add_value", "value": "meh", "if_not_exists": True, "after": "ok"}},
    ),
    (
        "ALTER TYPE s.mood RENAME VALUE 'sad' TO 'blue'",
        m.ALTER_TYPE,
        {"name": "mood", "schema": "s", "attrs": {"action": "rename_value", "old_value": "sad", "value": "blue"}},
    ),
    (
        "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')",
        m.CREATE_TYPE,
        {"name": "mood", "attrs": {"labels": ("sad", "ok", "happy"), "implicit": False}},
    ),
    ("CREATE SEQUENCE IF NOT EXISTS s.seq", m.CREATE_SEQUENCE, {"name": "seq", "schema": "s", "attrs": {"if_not_exists": True}}),
    ("CREATE OR REPLACE VIEW v AS SELECT 1", m.CREATE_VIEW, {"name": "v", "attrs": {"materialized": False, "replace": True}}),
    ("CREATE MATERIALIZED VIEW mv AS SELECT 1", m.CREATE_VIEW, {"name": "mv", "attrs": {"materialized": True}}),
    ("UPDATE t SET a = 1", m.UPDATE_ROWS, {"table": "t", "attrs": {"has_where": False}}),
    ("UPDATE s.t SET a = 1 WHERE b IS NULL", m.UPDATE_ROWS, {"table": "t", "schema": "s", "attrs": {"has_where": True}}),
    ("DELETE FROM t", m.DELETE_ROWS, {"table": "t", "attrs": {"has_where": False}}),
    ("DELETE FROM t WHERE id < 10", m.DELETE_ROWS, {"table": "t", "attrs": {"has_where": True}}),
    ("INSERT INTO t (a) VALUES (1)", m.INSERT_ROWS, {"table": "t", "attrs": {"has_where": False}}),
    ("INSERT INTO t (a) SELECT a FROM u WHERE b", m.INSERT_ROWS, {"table": "t", "attrs": {"has_where": True}}),
    (
        "SET LOCAL lock_timeout = '5s'",
        m.SET_TIMEOUT,
        {"attrs": {"setting": "lock_timeout", "value": "5s", "local": True}},
    ),
    (
        "SET statement_timeout TO 1000",
        m.SET_TIMEOUT,
        {"attrs": {"setting": "statement_timeout", "value": "1000", "local": False}},
    ),
    (
        "SET SESSION lock_timeout TO '2s'",
        m.SET_TIMEOUT,
        {"attrs": {"setting": "lock_timeout", "value": "2s", "local": False}},
    ),
    (
        "SELECT set_config('lock_timeout', '3s', true)",
        m.SET_TIMEOUT,
        {"attrs": {"setting": "lock_timeout", "value": "3s", "local": True}},
    ),
    (
        "SELECT set_config('statement_timeout', '0', false)",
        m.SET_TIMEOUT,
        {"attrs": {"setting": "statement_timeout", "value": "0", "local": False}},
    ),
    ("GRANT SELECT ON t TO reader", m.OTHER_SQL, {"attrs": {"statement": "GrantStmt"}}),
    ("COMMENT ON TABLE t IS 'x'", m.OTHER_SQL, {"attrs": {"statement": "CommentStmt"}}),
    ('CREATE EXTENSION IF NOT EXISTS "uuid-ossp"', m.OTHER_SQL, {"attrs": {"statement": "CreateExtensionStmt"}}),
    ("DO $$ BEGIN PERFORM 1; END $$", m.OTHER_SQL, {"attrs": {"statement": "DoStmt"}}),
    (
        "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql",
        m.OTHER_SQL,
        {"attrs": {"statement": "CreateFunctionStmt"}},
    ),
    ("SELECT 1", m.OTHER_SQL, {"attrs": {"statement": "SelectStmt"}}),
    ("SET search_path TO app", m.OTHER_SQL, {"attrs": {"statement": "VariableSetStmt"}}),
    ("ALTER INDEX ix RENAME TO ix2", m.OTHER_SQL, {"attrs": {"statement": "RenameStmt"}}),
    ("ALTER TABLE t ALTER COLUMN a SET STATISTICS 100", m.OTHER_SQL, {"attrs": {"statement": "AlterTableStmt"}}),
]


@pytest.mark.parametrize("sql,kind,expected", PG_CASES, ids=[c[0][:60] for c in PG_CASES])
def test_postgresql_statement(sql, kind, expected):
    op = one(sql)
    assert op.kind == kind
    assert op.source == "sql"
    assert op.sql == sql
    _subset(expected, op)


def test_pg_truncate_one_op_per_table():
    ops = ops_for("TRUNCATE TABLE a, s.b CASCADE")
    assert [(o.kind, o.schema, o.table) for o in ops] == [
        (m.TRUNCATE_TABLE, None, "a"),
        (m.TRUNCATE_TABLE, "s", "b"),
    ]


def test_pg_drop_table_one_op_per_table():
    ops = ops_for("DROP TABLE IF EXISTS a, s.b")
    assert [(o.kind, o.schema, o.table, o.attrs["if_exists"]) for o in ops] == [
        (m.DROP_TABLE, None, "a", True),
        (m.DROP_TABLE, "s", "b", True),
    ]


def test_pg_create_table_columns():
    op = one(
        """
        CREATE TABLE IF NOT EXISTS app."Users" (
            id serial PRIMARY KEY,
            big bigserial,
            ident integer GENERATED ALWAYS AS IDENTITY,
            name varchar(50) NOT NULL DEFAULT 'x',
            bio text NULL,
            price numeric(10, 2),
            created timestamp with time zone DEFAULT now(),
            token uuid DEFAULT gen_random_uuid(),
            flag boolean,
            tags int[],
            code char(3),
            PRIMARY KEY (id)
        )
        """
    )
    assert op.kind == m.CREATE_TABLE
    assert (op.schema, op.table) == ("app", "Users")
    assert op.attrs["if_not_exists"] is True
    cols = {c.name: c for c in op.table_columns}
    assert list(cols) == [
        "id", "big", "ident", "name", "bio", "price", "created", "token", "flag", "tags", "code",
    ]
    assert cols["id"].primary_key and cols["id"].identity and cols["id"].type.name == "integer"
    assert cols["id"].not_null
    assert cols["big"].identity and cols["big"].type.name == "bigint"
    assert cols["ident"].identity and cols["ident"].type.name == "integer"
    name = cols["name"]
    assert name.type.name == "varchar" and name.type.length == 50 and name.type.family == "varchar"
    assert name.nullable is False
    assert name.server_default == Default("'x'", False)
    assert cols["bio"].nullable is True and cols["bio"].type.name == "text"
    assert cols["price"].nullable is None
    assert (cols["price"].type.name, cols["price"].type.precision, cols["price"].type.scale) == (
        "numeric",
        10,
        2,
    )
    assert cols["created"].server_default == Default("now()", False)
    assert cols["token"].server_default.volatile is True
    assert cols["flag"].type.name == "boolean"
    assert cols["tags"].type.name == "integer[]"
    assert cols["code"].type.name == "char" and cols["code"].type.length == 3
    assert not cols["name"].primary_key and not cols["name"].identity


def test_pg_create_table_table_level_primary_key():
    op = one("CREATE TABLE t (a int, b int, PRIMARY KEY (a, b))")
    assert [(c.name, c.primary_key) for c in op.table_columns] == [("a", True), ("b", True)]
    assert op.attrs["if_not_exists"] is False


def test_pg_add_column():
    op = one("ALTER TABLE s.t ADD COLUMN IF NOT EXISTS c varchar(20) NOT NULL DEFAULT 'n'")
    assert op.kind == m.ADD_COLUMN
    assert (op.schema, op.table) == ("s", "t")
    assert op.column.name == "c"
    assert op.column.type.name == "varchar" and op.column.type.length == 20
    assert op.column.nullable is False
    assert op.column.server_default == Default("'n'", False)
    assert op.attrs["if_not_exists"] is True


def test_pg_add_column_without_column_keyword_and_volatile_default():
    op = one("ALTER TABLE t ADD c uuid DEFAULT uuid_generate_v4()")
    assert op.kind == m.ADD_COLUMN
    assert op.column.name == "c" and op.column.nullable is None
    assert op.column.server_default.volatile is True


def test_pg_add_column_with_inline_references():
    ops = ops_for("ALTER TABLE t ADD COLUMN user_id int REFERENCES users (id)")
    assert [o.kind for o in ops] == [m.ADD_COLUMN, m.CREATE_FOREIGN_KEY]
    fk = ops[1]
    assert fk.table == "t" and fk.columns == ("user_id",)
    assert fk.attrs["ref_table"] == "users" and fk.attrs["ref_columns"] == ("id",)


def test_pg_alter_column_type():
    op = one("ALTER TABLE t ALTER COLUMN c TYPE bigint USING c::bigint")
    assert op.kind == m.ALTER_COLUMN_TYPE
    assert op.columns == ("c",)
    assert op.attrs["type"].name == "bigint"
    assert "bigint" in op.attrs["using"] and "c" in op.attrs["using"]


def test_pg_alter_column_set_data_type_varchar():
    op = one("ALTER TABLE t ALTER COLUMN c SET DATA TYPE varchar(100)")
    assert op.kind == m.ALTER_COLUMN_TYPE
    assert op.attrs["type"].name == "varchar" and op.attrs["type"].length == 100
    assert op.attrs["using"] is None


def test_pg_alter_table_each_subcommand_is_an_op():
    ops = ops_for(
        "ALTER TABLE t ADD COLUMN a int, ALTER COLUMN b SET NOT NULL, "
        "DROP COLUMN c, ALTER COLUMN d TYPE text, ALTER COLUMN e DROP DEFAULT"
    )
    assert [(o.kind, o.table) for o in ops] == [
        (m.ADD_COLUMN, "t"),
        (m.SET_NOT_NULL, "t"),
        (m.DROP_COLUMN, "t"),
        (m.ALTER_COLUMN_TYPE, "t"),
        (m.DROP_DEFAULT, "t"),
    ]
    assert all(o.sql == ops[0].sql for o in ops)


def test_pg_multi_statement_with_comments():
    sql = """
        -- leading comment; with a semicolon
        SET lock_timeout = '5s';
        /* block ; comment */
        CREATE INDEX CONCURRENTLY ix ON t (a);   -- trailing
        UPDATE t SET a = ';' WHERE id = 1;

    """
    ops = ops_for(sql)
    assert [o.kind for o in ops] == [m.SET_TIMEOUT, m.CREATE_INDEX, m.UPDATE_ROWS]
    assert ops[0].sql == "SET lock_timeout = '5s'"
    assert ops[1].sql == "CREATE INDEX CONCURRENTLY ix ON t (a)"
    assert ops[2].sql == "UPDATE t SET a = ';' WHERE id = 1"
    assert ops[1].attrs["concurrently"] is True
    assert all(o.line == 10 for o in ops)


def test_pg_statement_text_with_non_ascii():
    ops = ops_for("UPDATE t SET a = 'héllo'; DELETE FROM t WHERE a = 'ü'")
    assert [o.sql for o in ops] == ["UPDATE t SET a = 'héllo'", "DELETE FROM t WHERE a = 'ü'"]


def test_pg_quoted_identifiers_are_unquoted():
    op = one('ALTER TABLE "Sch"."My Table" ADD COLUMN "Weird Col" text')
    assert (op.schema, op.table, op.column.name) == ("Sch", "My Table", "Weird Col")


def test_pg_reset_timeout():
    op = one("RESET lock_timeout")
    assert op.kind == m.SET_TIMEOUT and op.attrs["setting"] == "lock_timeout"


def test_pg_postgres_alias():
    assert kinds("DROP TABLE t", "postgres") == [m.DROP_TABLE]


# --- MySQL / MariaDB ---------------------------------------------------------------------------

MYSQL_CASES = [
    (
        "ALTER TABLE `db`.`users` ADD COLUMN `nick` VARCHAR(50) NOT NULL DEFAULT 'x' AFTER name",
        m.ADD_COLUMN,
        {"schema": "db", "table": "users"},
    ),
    (
        "CREATE UNIQUE INDEX ix_a ON t (a, b)",
        m.CREATE_INDEX,
        {"name": "ix_a", "table": "t", "columns": ("a", "b"), "attrs": {"unique": True, "concurrently": False}},
    ),
    (
        "CREATE INDEX ix_p ON t (name(10))",
        m.CREATE_INDEX,
        {"name": "ix_p", "columns": ("name",)},
    ),
    ("DROP INDEX ix_a ON t", m.DROP_INDEX, {"name": "ix_a", "table": "t"}),
    ("UPDATE t SET a = 1 WHERE b = 2", m.UPDATE_ROWS, {"table": "t", "attrs": {"has_where": True}}),
    ("UPDATE t SET a = 1", m.UPDATE_ROWS, {"table": "t", "attrs": {"has_where": False}}),
    ("DELETE FROM t WHERE a = 1", m.DELETE_ROWS, {"table": "t", "attrs": {"has_where": True}}),
    ("INSERT INTO t (a) VALUES (1)", m.INSERT_ROWS, {"table": "t"}),
    ("TRUNCATE TABLE t", m.TRUNCATE_TABLE, {"table": "t"}),
    (
        "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES b (id)",
        m.CREATE_FOREIGN_KEY,
        {"name": "fk", "columns": ("a",), "attrs": {"ref_table": "b", "ref_columns": ("id",)}},
    ),
    ("ALTER TABLE t DROP FOREIGN KEY fk", m.DROP_CONSTRAINT, {"name": "fk", "attrs": {"type": "foreignkey"}}),
    ("ALTER TABLE t DROP INDEX ix", m.DROP_INDEX, {"name": "ix", "table": "t"}),
    ("ALTER TABLE t DROP COLUMN c", m.DROP_COLUMN, {"columns": ("c",)}),
    ("ALTER TABLE t RENAME COLUMN a TO b", m.RENAME_COLUMN, {"columns": ("a",), "attrs": {"new_name": "b"}}),
    ("ALTER TABLE t RENAME TO u", m.RENAME_TABLE, {"table": "t", "attrs": {"new_name": "u"}}),
    ("RENAME TABLE t TO u", m.RENAME_TABLE, {"table": "t", "attrs": {"new_name": "u"}}),
    (
        "ALTER TABLE t ALTER COLUMN a SET DEFAULT 1",
        m.SET_DEFAULT,
        {"columns": ("a",), "attrs": {"default": Default("1", False)}},
    ),
    ("ALTER TABLE t ALTER COLUMN a DROP DEFAULT", m.DROP_DEFAULT, {"columns": ("a",)}),
    ("ALTER TABLE t ADD UNIQUE KEY uq (a)", m.CREATE_UNIQUE_CONSTRAINT, {"name": "uq", "columns": ("a",)}),
    ("ALTER TABLE t ADD INDEX ix (a)", m.CREATE_INDEX, {"name": "ix", "table": "t", "columns": ("a",)}),
    (
        "SET SESSION lock_wait_timeout = 5",
        m.SET_TIMEOUT,
        {"attrs": {"setting": "lock_timeout", "value": "5s", "local": False}},
    ),
    (
        "SET innodb_lock_wait_timeout = 10",
        m.SET_TIMEOUT,
        {"attrs": {"setting": "lock_timeout", "value": "10s"}},
    ),
    (
        "CREATE INDEX ix ON t (a) ALGORITHM=INPLACE LOCK=NONE",
        m.CREATE_INDEX,
        {"name": "ix", "table": "t", "columns": ("a",), "attrs": {"algorithm": "INPLACE", "lock": "NONE"}},
    ),
    ("GRANT SELECT ON t TO u", m.OTHER_SQL, {"attrs": {"statement": "Grant"}}),
    (
        "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1",
        m.OTHER_SQL,
        {"attrs": {"statement": "CREATE TRIGGER"}},
    ),
    ("ALTER TABLE t ENGINE=InnoDB", m.OTHER_SQL, {"table": "t"}),
    ("ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4", m.ALTER_COLUMN_TYPE, {"table": "t", "attrs": {"convert_to": "utf8mb4"}}),
    ("ALTER TABLE t PARTITION BY HASH(id) PARTITIONS 4", m.RAW_SQL, {}),
]


@pytest.mark.parametrize("sql,kind,expected", MYSQL_CASES, ids=[c[0][:60] for c in MYSQL_CASES])
def test_mysql_statement(sql, kind, expected):
    op = one(sql, "mysql")
    assert op.kind == kind
    assert op.source == "sql"
    assert op.sql == sql
    _subset(expected, op)


def test_mysql_add_column_spec():
    op = one("ALTER TABLE t ADD COLUMN `nick` VARCHAR(50) NOT NULL DEFAULT 'x'", "mysql")
    assert op.column.name == "nick"
    assert op.column.type.name == "varchar" and op.column.type.length == 50
    assert op.column.nullable is False
    assert op.column.server_default == Default("'x'", False)


def test_mysql_modify_column():
    ops = ops_for("ALTER TABLE t MODIFY COLUMN c BIGINT NOT NULL", "mysql")
    assert [o.kind for o in ops] == [m.ALTER_COLUMN_TYPE, m.SET_NOT_NULL]
    assert ops[0].columns == ("c",) and ops[0].table == "t"
    assert ops[0].attrs["type"].name == "bigint"
    assert ops[1].columns == ("c",)


def test_mysql_modify_without_not_null():
    ops = ops_for("ALTER TABLE t MODIFY c TEXT", "mysql")
    assert [o.kind for o in ops] == [m.ALTER_COLUMN_TYPE]
    assert ops[0].attrs["type"].name == "text"


def test_mysql_change_column_renames():
    ops = ops_for("ALTER TABLE t CHANGE COLUMN a b VARCHAR(10) NOT NULL", "mysql")
    assert [o.kind for o in ops] == [m.ALTER_COLUMN_TYPE, m.SET_NOT_NULL, m.RENAME_COLUMN]
    assert ops[0].columns == ("a",)
    assert ops[0].attrs["type"].length == 10
    assert ops[2].attrs["new_name"] == "b"


def test_mysql_drop_table_many():
    ops = ops_for("DROP TABLE IF EXISTS a, b", "mysql")
    assert [(o.kind, o.table, o.attrs["if_exists"]) for o in ops] == [
        (m.DROP_TABLE, "a", True),
        (m.DROP_TABLE, "b", True),
    ]


def test_mysql_create_table():
    op = one(
        "CREATE TABLE IF NOT EXISTS t (id INT AUTO_INCREMENT PRIMARY KEY, "
        "n VARCHAR(10) NOT NULL DEFAULT '', c DECIMAL(10,2) NULL, e ENUM('x','y')) ENGINE=InnoDB",
        "mysql",
    )
    assert op.kind == m.CREATE_TABLE and op.table == "t" and op.attrs["if_not_exists"] is True
    cols = {c.name: c for c in op.table_columns}
    assert cols["id"].identity and cols["id"].primary_key and cols["id"].type.family == "integer"
    assert cols["n"].nullable is False and cols["n"].type.length == 10
    assert cols["c"].nullable is True and cols["c"].type.precision == 10 and cols["c"].type.scale == 2
    assert cols["e"].type.name == "enum" and cols["e"].type.enum_labels == ("x", "y")


def test_mysql_alter_table_options_apply_to_each_op():
    ops = ops_for("ALTER TABLE t ALGORITHM=INPLACE, LOCK=NONE, ADD COLUMN a INT, ADD COLUMN b INT", "mysql")
    assert [o.kind for o in ops] == [m.ADD_COLUMN, m.ADD_COLUMN]
    assert all(o.attrs["algorithm"] == "INPLACE" and o.attrs["lock"] == "NONE" for o in ops)


def test_mysql_multi_statement_with_comments():
    sql = """
        -- set up
        SET SESSION lock_wait_timeout = 5;
        ALTER TABLE t ADD COLUMN a INT;  # hash comment
        /* done; */
        UPDATE t SET a = 0;
    """
    ops = ops_for(sql, "mysql")
    assert [o.kind for o in ops] == [m.SET_TIMEOUT, m.ADD_COLUMN, m.UPDATE_ROWS]
    assert [o.sql for o in ops] == [
        "SET SESSION lock_wait_timeout = 5",
        "ALTER TABLE t ADD COLUMN a INT",
        "UPDATE t SET a = 0",
    ]


def test_mariadb_uses_mysql():
    ops = ops_for("ALTER TABLE t MODIFY c BIGINT NOT NULL", "mariadb")
    assert [o.kind for o in ops] == [m.ALTER_COLUMN_TYPE, m.SET_NOT_NULL]


# --- SQLite ------------------------------------------------------------------------------------

SQLITE_CASES = [
    (
        "ALTER TABLE \"t\" ADD COLUMN x TEXT NOT NULL DEFAULT 'a'",
        m.ADD_COLUMN,
        {"table": "t"},
    ),
    (
        "CREATE INDEX IF NOT EXISTS ix ON t (a, b) WHERE b IS NOT NULL",
        m.CREATE_INDEX,
        {"name": "ix", "table": "t", "columns": ("a", "b"), "attrs": {"if_not_exists": True, "unique": False}},
    ),
    ("CREATE UNIQUE INDEX ux ON t (a)", m.CREATE_INDEX, {"attrs": {"unique": True}}),
    ("DROP TABLE IF EXISTS main.t", m.DROP_TABLE, {"schema": "main", "table": "t", "attrs": {"if_exists": True}}),
    ("DROP INDEX IF EXISTS ix", m.DROP_INDEX, {"name": "ix", "attrs": {"if_exists": True}}),
    ("UPDATE t SET a = 1", m.UPDATE_ROWS, {"table": "t", "attrs": {"has_where": False}}),
    ("DELETE FROM t WHERE a = 1", m.DELETE_ROWS, {"table": "t", "attrs": {"has_where": True}}),
    ("ALTER TABLE t RENAME COLUMN a TO b", m.RENAME_COLUMN, {"columns": ("a",), "attrs": {"new_name": "b"}}),
    ("ALTER TABLE t RENAME TO u", m.RENAME_TABLE, {"attrs": {"new_name": "u"}}),
    ("ALTER TABLE t DROP COLUMN a", m.DROP_COLUMN, {"columns": ("a",)}),
    ("PRAGMA foreign_keys = ON", m.OTHER_SQL, {"attrs": {"statement": "Pragma"}}),
]


@pytest.mark.parametrize("sql,kind,expected", SQLITE_CASES, ids=[c[0][:60] for c in SQLITE_CASES])
def test_sqlite_statement(sql, kind, expected):
    op = one(sql, "sqlite")
    assert op.kind == kind
    assert op.sql == sql
    _subset(expected, op)


def test_sqlite_add_column_spec():
    op = one("ALTER TABLE t ADD COLUMN x TEXT NOT NULL DEFAULT 'a'", "sqlite")
    assert op.column.name == "x" and op.column.type.name == "text"
    assert op.column.nullable is False and op.column.server_default == Default("'a'", False)


def test_sqlite_where_clause_kept():
    op = one("CREATE INDEX ix ON t (a) WHERE b > 0", "sqlite")
    assert op.attrs["where"] == "b > 0"


def test_sqlite_create_table_autoincrement():
    op = one("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)", "sqlite")
    assert [(c.name, c.primary_key, c.identity) for c in op.table_columns] == [
        ("id", True, True),
        ("v", False, False),
    ]


def test_sqlite_multi_statement():
    ops = ops_for("ALTER TABLE t ADD COLUMN a INT; CREATE INDEX ix ON t (a); -- end", "sqlite")
    assert [o.kind for o in ops] == [m.ADD_COLUMN, m.CREATE_INDEX]


# --- other dialects ----------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["oracle", "tsql", "mssql", "no-such-dialect", ""])
def test_other_dialects_use_sqlglot(dialect):
    ops = ops_for("ALTER TABLE t ADD x INT NOT NULL; CREATE INDEX ix ON t (x); UPDATE t SET x = 1", dialect)
    assert [o.kind for o in ops] == [m.ADD_COLUMN, m.CREATE_INDEX, m.UPDATE_ROWS]
    assert ops[0].column.nullable is False
