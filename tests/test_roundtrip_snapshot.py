"""Schema snapshots and their diff (migration_lint/roundtrip/snapshot.py), against real databases.

The PostgreSQL and MariaDB servers at MIGRATION_LINT_TEST_PG_URL / MIGRATION_LINT_TEST_MYSQL_URL
(conftest.py) each get a scratch database ``snapshot_test_<hex>`` that is dropped afterwards; the
tests skip only when the server does not answer.  SQLite uses files in pytest's tmp_path.
"""
from __future__ import annotations

import pickle
import time
import uuid

import pytest
import sqlalchemy as sa

from conftest import MYSQL_URL, PG_URL, require_server, with_driver

from migration_lint.roundtrip import snapshot as snapshot_module
from migration_lint.roundtrip.snapshot import (
    Snapshot, _norm_sql, _parse_checks, _pg_indexdef_desc, diff, take_snapshot,
)

PG_SERVER = with_driver(PG_URL)
MARIA_SERVER = with_driver(MYSQL_URL)


def _database_url(server: str, name: str) -> str:
    return sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)


def _server_engine(url, variable):
    require_server(url, variable)
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 3})


class Db:
    """A scratch database: run DDL, take snapshots, start over."""

    def __init__(self, url, reset):
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        self._reset = reset

    def run(self, *statements):
        with self.engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)

    def snap(self, **kwargs):
        with self.engine.connect() as conn:
            return take_snapshot(conn, **kwargs)

    def digest(self):
        from migration_lint.roundtrip.snapshot import schema_digest

        with self.engine.connect() as conn:
            return schema_digest(conn)

    def reset(self):
        self._reset(self)

    def dispose(self):
        self.engine.dispose()


@pytest.fixture(scope="module")
def pg():
    server = _server_engine(PG_SERVER, "MIGRATION_LINT_TEST_PG_URL")
    name = f"snapshot_test_{uuid.uuid4().hex[:12]}"
    with server.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def reset(db):
        db.run("DROP SCHEMA public CASCADE", "CREATE SCHEMA public")

    db = Db(_database_url(PG_SERVER, name), reset)
    try:
        yield db
    finally:
        db.dispose()
        with server.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()


@pytest.fixture(scope="module")
def maria():
    server = _server_engine(MARIA_SERVER, "MIGRATION_LINT_TEST_MYSQL_URL")
    name = f"snapshot_test_{uuid.uuid4().hex[:12]}"
    with server.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}`")

    def reset(db):  # dropping the objects is much faster than DROP/CREATE DATABASE
        with server.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", (name,)).all()
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
            for kind, keyword in (("VIEW", "VIEW"), ("SEQUENCE", "SEQUENCE"), ("BASE TABLE", "TABLE")):
                names = ", ".join(f"`{name}`.`{r[0]}`" for r in rows if r[1] == kind)
                if names:
                    conn.exec_driver_sql(f"DROP {keyword} {names}")

    db = Db(_database_url(MARIA_SERVER, name), reset)
    try:
        yield db
    finally:
        db.dispose()
        with server.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        server.dispose()


@pytest.fixture
def sqlite(tmp_path):
    counter = {"n": 0}

    def reset(db):
        db.dispose()
        counter["n"] += 1
        db.engine = sa.create_engine(f"sqlite:///{tmp_path / ('snap%d.db' % counter['n'])}", poolclass=sa.pool.NullPool)

    db = Db(f"sqlite:///{tmp_path / 'snap0.db'}", reset)
    try:
        yield db
    finally:
        db.dispose()


def _fresh(db, *statements):
    db.reset()
    db.run(*statements)
    return db.snap()


def _change(db, base, change, **snap_kwargs):
    """diff between ``base`` and ``base`` + ``change`` (both lists of statements)."""
    db.reset()
    db.run(*base)
    before = db.snap(**snap_kwargs)
    db.run(*change)
    after = db.snap(**snap_kwargs)
    return diff(before, after), before, after


# ------------------------------------------------------------------------------------------------
# no database
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, casts, expected", [
    ("'x'::character varying", "literal", "'x'"),
    ("nextval('posts_id_seq'::regclass)", "literal", "nextval('posts_id_seq')"),
    ("(datetime('now'))", "literal", "datetime('now')"),
    ("CURRENT_TIMESTAMP", "literal", "current_timestamp"),
    ("((a > 0))", "all", "a > 0"),
    ("(a) + (b)", "all", "(a) + (b)"),
    ("length((title)::text) > 0", "all", "length(title) > 0"),
    ("(status)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[])", "all",
     "status = any (array['a', 'b'])"),
    ("`n`  in ('a','b')", "all", "n in ('a', 'b')"),
    ('"Foo" > 1 AND "bar" < 2', "all", '"Foo" > 1 and bar < 2'),
    ("f(a)::int", "all", "f(a)"),
    ("0::smallint + x1::int", "literal", "0 + x1::int"),
    ("'It''s  ((x))'", None, "'It''s  ((x))'"),
])
def test_normalise_sql(text, casts, expected):
    assert _norm_sql(text, casts=casts) == expected


def test_parse_sqlite_checks():
    sql = ("CREATE TABLE p (a integer CHECK (a > 0), b text check (b in (')', 'check (x)')),"
           ' CONSTRAINT "ck named" CHECK (a < 10))')
    assert _parse_checks(sql) == [("", "a > 0"), ("", "b in (')', 'check (x)')"), ("ck named", "a < 10")]


def test_pg_indexdef_description():  # the SQLAlchemy 1.4 path for PostgreSQL indexes
    assert _pg_indexdef_desc("CREATE UNIQUE INDEX ix_u ON public.posts USING btree (lower((title)::text), id DESC)"
                             " WHERE ((status)::text = 'a'::text)") == "(lower(title), id desc) unique where status = 'a'"
    assert _pg_indexdef_desc("CREATE INDEX ix ON public.t USING gin (j) INCLUDE (a, b)") == "(j) using gin include (a, b)"


def test_snapshot_is_plain_hashable_picklable_data():
    snap = Snapshot(dialect="sqlite", tables=("a",), columns=(("a", "id", (("nullable", "NULL"), ("type", "integer"))),))
    assert pickle.loads(pickle.dumps(snap)) == snap
    assert hash(snap) == hash(Snapshot(dialect="sqlite", tables=("a",),
                                       columns=(("a", "id", (("nullable", "NULL"), ("type", "integer"))),)))
    assert diff(snap, snap) == []


def test_diff_reports_one_sided_table_alone_and_is_sorted():
    before = Snapshot(dialect="postgresql", tables=("posts",),
                      columns=(("posts", "id", (("nullable", "NOT NULL"), ("type", "integer"))),))
    after = Snapshot(
        dialect="postgresql", tables=("posts", "tags"),
        columns=(("posts", "id", (("nullable", "NOT NULL"), ("type", "integer"))),
                 ("posts", "tag_id", (("nullable", "NULL"), ("type", "integer"))),
                 ("tags", "id", (("nullable", "NOT NULL"), ("type", "integer")))),
        primary_keys=(("tags", "tags_pkey", "(id)"),),
        foreign_keys=(("posts", "fk_x", "(tag_id) -> tags (id)"),),
        sequences=(("s", ""),),
    )
    assert diff(before, after) == [
        "+ table tags",
        "+ column posts.tag_id (integer, NULL)",
        "+ foreign key fk_x on posts (tag_id) -> tags (id)",
        "+ sequence s",
    ]
    assert diff(after, before) == [
        "- table tags",
        "- column posts.tag_id (integer, NULL)",
        "- foreign key fk_x on posts (tag_id) -> tags (id)",
        "- sequence s",
    ]


# ------------------------------------------------------------------------------------------------
# PostgreSQL
# ------------------------------------------------------------------------------------------------

PG_BASE = [
    "CREATE TYPE status AS ENUM ('a', 'b')",
    "CREATE TABLE tags (id integer NOT NULL, name text)",
    "CREATE TABLE posts (id serial PRIMARY KEY, title varchar(20) NOT NULL, state status DEFAULT 'a',"
    " status varchar(20) DEFAULT 'a', data jsonb, tag_id integer, old integer)",
]


PG_CHANGES = [
    (["CREATE TABLE extra (id integer)"], ["+ table extra"]),
    (["DROP TABLE tags"], ["- table tags"]),
    (["ALTER TABLE posts ADD COLUMN note text"], ["+ column posts.note (text, NULL)"]),
    (["ALTER TABLE posts DROP COLUMN tag_id"], ["- column posts.tag_id (integer, NULL)"]),
    (["ALTER TABLE posts ALTER COLUMN status TYPE varchar(40)"], ["~ column posts.status: type varchar(20) -> varchar(40)"]),
    (["ALTER TABLE posts ALTER COLUMN old TYPE bigint"], ["~ column posts.old: type integer -> bigint"]),
    (["ALTER TABLE posts ALTER COLUMN title DROP NOT NULL"], ["~ column posts.title: nullable NOT NULL -> NULL"]),
    (["ALTER TABLE posts ALTER COLUMN status SET DEFAULT 'b'"], ["~ column posts.status: default 'a' -> 'b'"]),
    (["ALTER TABLE posts ALTER COLUMN status DROP DEFAULT"], ["~ column posts.status: default 'a' -> none"]),
    (["ALTER TABLE posts ALTER COLUMN old SET DEFAULT now()::date - current_date"],
     ["~ column posts.old: default none -> (now())::date - current_date"]),
    (["CREATE INDEX ix_posts_status ON posts (status)"], ["+ index ix_posts_status on posts (status)"]),
    (["CREATE UNIQUE INDEX ix_u ON posts (lower(title), id DESC) WHERE status = 'a'"],
     ["+ index ix_u on posts (lower(title), id desc) unique where status = 'a'"]),
    (["CREATE INDEX ix_gin ON posts USING gin (data)"], ["+ index ix_gin on posts (data) using gin"]),
    (["ALTER TABLE posts ADD CONSTRAINT uq_posts_title UNIQUE (title)"],
     ["+ unique constraint uq_posts_title on posts (title)"]),
    (["ALTER TABLE posts ADD CONSTRAINT ck_len CHECK (length(title) > 0)"],
     ["+ check constraint ck_len on posts: (length(title) > 0)"]),
    (["ALTER TABLE posts ADD CONSTRAINT ck_in CHECK (status IN ('a', 'b'))"],
     ["+ check constraint ck_in on posts: (status = any (array['a', 'b']))"]),
    (["ALTER TABLE tags ADD PRIMARY KEY (id)"], ["+ primary key tags_pkey on tags (id)"]),
    (["ALTER TABLE tags ADD CONSTRAINT tags_pk PRIMARY KEY (id)",
      "ALTER TABLE posts ADD CONSTRAINT fk_x FOREIGN KEY (tag_id) REFERENCES tags (id) ON DELETE CASCADE"],
     ["+ primary key tags_pk on tags (id)", "+ foreign key fk_x on posts (tag_id) -> tags (id) on delete cascade"]),
    (["CREATE TYPE tag_color AS ENUM ('red', 'green', 'blue')"], ["+ enum type tag_color ('red', 'green', 'blue')"]),
    (["ALTER TYPE status ADD VALUE 'c'"], ["~ enum type status: labels ('a', 'b') -> ('a', 'b', 'c')"]),
    (["ALTER TYPE status ADD VALUE 'c' BEFORE 'a'"], ["~ enum type status: labels ('a', 'b') -> ('c', 'a', 'b')"]),
    (["CREATE SEQUENCE s"], ["+ sequence s"]),
    (["CREATE VIEW v AS SELECT id FROM posts"], ["+ view v"]),
    (["CREATE MATERIALIZED VIEW mv AS SELECT id FROM posts"], ["+ materialized view mv"]),
    (["CREATE DOMAIN positive AS integer CHECK (VALUE > 0)"], ["+ domain positive"]),
    (["ALTER TABLE posts RENAME COLUMN old TO older"],
     ["- column posts.old (integer, NULL)", "+ column posts.older (integer, NULL)"]),
    (["ALTER TABLE tags ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY"],
     ["~ column tags.id: autoincrement no -> yes",
      "~ column tags.id: identity none -> by default, start 1, increment 1, min 1, max 2147483647, cache 1",
      "+ sequence tags_id_seq"]),
]


@pytest.mark.parametrize("change, expected", PG_CHANGES)
def test_pg_each_difference_is_reported(pg, change, expected):
    lines, before, after = _change(pg, PG_BASE, change)
    assert lines == expected
    assert diff(before, before) == [] and diff(after, after) == []


def test_pg_sequence_and_view_changes(pg):
    lines, _, _ = _change(pg, PG_BASE + ["CREATE SEQUENCE s", "CREATE VIEW v AS SELECT id FROM posts"],
                          ["ALTER SEQUENCE s INCREMENT BY 5", "CREATE OR REPLACE VIEW v AS SELECT id FROM posts WHERE id > 1"])
    assert lines[0] == ("~ sequence s: bigint, start 1, increment 1, min 1, max 9223372036854775807, cache 1"
                        " -> bigint, start 1, increment 5, min 1, max 9223372036854775807, cache 1")
    assert lines[1] == "~ view v: definition select posts.id from posts -> select posts.id from posts where (posts.id > 1)"
    assert len(lines) == 2


def test_pg_domain_change(pg):
    lines, _, _ = _change(pg, ["CREATE DOMAIN positive AS integer CHECK (VALUE > 0)"],
                          ["ALTER DOMAIN positive SET NOT NULL", "ALTER DOMAIN positive SET DEFAULT 1"])
    assert lines == ["~ domain positive: integer NULL check positive_check (value > 0)"
                     " -> integer NOT NULL default 1 check positive_check (value > 0)"]


def test_pg_equal_schemas_compare_equal_despite_order_and_spelling(pg):
    a = _fresh(pg,
               "CREATE TYPE mood AS ENUM ('sad', 'ok')",
               "CREATE TABLE tags (id integer PRIMARY KEY, label VARCHAR(20) DEFAULT 'x' NOT NULL,"
               " CONSTRAINT ck_label CHECK (length(label) > 0))",
               "CREATE TABLE posts (id BIGSERIAL PRIMARY KEY, tag_id INTEGER REFERENCES tags (id),"
               " created TIMESTAMP DEFAULT CURRENT_TIMESTAMP, m mood DEFAULT 'ok', n NUMERIC(10, 2) DEFAULT 1.5)",
               "CREATE INDEX ix_posts_tag ON posts (tag_id) WHERE tag_id > 0",
               "CREATE SEQUENCE counter",
               "CREATE VIEW v AS SELECT id FROM posts")
    b = _fresh(pg,
               "CREATE SEQUENCE counter",
               "create table tags (label character varying(20) not null default 'x'::varchar, id int4 not null,"
               " constraint ck_label check ((length((label)::text) > (0))), primary key (id))",
               "create type mood as enum ('sad', 'ok')",
               "create table posts (created timestamp without time zone default current_timestamp,"
               " tag_id int4, id bigserial, m mood default 'ok'::mood, n decimal(10,2) default 1.5::numeric(10,2),"
               " constraint posts_pkey primary key (id),"
               " constraint posts_tag_id_fkey foreign key (tag_id) references tags (id))",
               "create view v as select id from posts",
               "create index ix_posts_tag on posts (tag_id) where (tag_id > 0)")
    if a != b:  # pragma: no cover - shows what differs
        pytest.fail("\n".join(diff(a, b)) or repr((a, b)))
    assert hash(a) == hash(b)
    assert pickle.loads(pickle.dumps(a)) == a
    assert diff(a, b) == []
    assert a.tables == ("posts", "tags")
    assert ("posts", "n", (("default", "1.5"), ("nullable", "NULL"), ("type", "numeric(10, 2)"))) in a.columns


def test_pg_alembic_version_table_is_ignored(pg):
    lines, before, after = _change(pg, PG_BASE, [
        "CREATE TABLE alembic_version (version_num varchar(32) NOT NULL,"
        " CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))",
        "INSERT INTO alembic_version VALUES ('abc')",
    ])
    assert lines == []
    pg.run("CREATE TABLE my_versions (v varchar(32) PRIMARY KEY)")
    assert "my_versions" not in pg.snap(version_table="my_versions").tables
    assert "my_versions" in pg.snap().tables
    assert "alembic_version" in pg.snap(version_table="my_versions").tables


def test_pg_leftover_enum_after_drop_table_is_detected(pg):
    before = _fresh(pg, "CREATE TABLE keep (id integer)")
    pg.run("CREATE TYPE mood AS ENUM ('sad', 'happy')", "CREATE TABLE person (id integer, m mood)")
    pg.run("DROP TABLE person")  # a downgrade that forgets sa.Enum(...).drop()
    assert diff(before, pg.snap()) == ["+ enum type mood ('sad', 'happy')"]


def test_pg_downgrade_recreating_constraint_under_another_name_is_a_trace(pg):
    lines, _, _ = _change(pg, PG_BASE + ["ALTER TABLE posts ADD CONSTRAINT uq_title UNIQUE (title)"],
                          ["ALTER TABLE posts DROP CONSTRAINT uq_title", "ALTER TABLE posts ADD UNIQUE (title)"])
    assert lines == ["+ unique constraint posts_title_key on posts (title)",
                     "- unique constraint uq_title on posts (title)"]


def test_pg_schemas_option(pg):
    pg.reset()
    pg.run("DROP SCHEMA IF EXISTS other CASCADE", "CREATE SCHEMA other",
           "CREATE TABLE t (id integer)", "CREATE TABLE other.t2 (id integer PRIMARY KEY)",
           "CREATE TYPE other.e AS ENUM ('x')", "CREATE TABLE other.alembic_version (v text)")
    try:
        default = pg.snap()  # every schema that is not the system's; the default one unqualified
        assert default.tables == ("other.t2", "t") and default.schemas == (("other", ""),)
        assert ("other.e", ("x",)) in default.enums
        snap = pg.snap(schemas=("public", "other"))
        assert snap.tables == ("other.t2", "public.t")
        assert ("other.e", ("x",)) in snap.enums
        assert ("other.t2", "t2_pkey", "(id)") in snap.primary_keys
    finally:
        pg.run("DROP SCHEMA other CASCADE")


def test_pg_per_table_fallback_matches_bulk(pg, monkeypatch):
    pg.reset()
    pg.run(*PG_BASE, "CREATE INDEX ix ON posts (lower(title)) WHERE status = 'a'",
           "ALTER TABLE tags ADD PRIMARY KEY (id)",
           "ALTER TABLE posts ADD CONSTRAINT fk FOREIGN KEY (tag_id) REFERENCES tags (id)",
           "ALTER TABLE posts ADD CONSTRAINT ck CHECK (old > 0)", "ALTER TABLE posts ADD UNIQUE (title)")
    bulk = pg.snap()
    monkeypatch.setattr(snapshot_module, "_FORCE_PER_TABLE", True)
    assert pg.snap() == bulk


def test_pg_connection_state_is_left_as_found(pg):
    pg.reset()
    pg.run(*PG_BASE)
    with pg.engine.connect() as conn:
        take_snapshot(conn)
        assert not conn.in_transaction()
        with conn.begin():
            conn.exec_driver_sql("CREATE TABLE inside (id integer)")
            assert "inside" in take_snapshot(conn).tables  # sees its own uncommitted DDL
            assert conn.in_transaction()


def test_pg_snapshot_of_50_tables(pg):
    # Measured on the dev machine (PG 15 on 127.0.0.1, psycopg2): 0.05-0.08 s per snapshot of 50
    # tables with PK, FK, partial index, unique and check each with SQLAlchemy 2.1 (bulk get_multi_*
    # reflection, ~15 queries); ~0.28 s with SQLAlchemy 1.4 (per-table reflection).
    pg.reset()
    statements = []
    for i in range(50):
        ref = f", parent integer REFERENCES t{i - 1} (id)" if i else ""
        statements.append(f"CREATE TABLE t{i} (id serial PRIMARY KEY, name varchar(40) NOT NULL DEFAULT 'x',"
                          f" n integer CHECK (n > 0), UNIQUE (name){ref})")
        statements.append(f"CREATE INDEX ix_t{i} ON t{i} (n) WHERE n > 1")
    pg.run(*statements)
    pg.snap()  # warm up the connection pool-free path (imports, type caches)
    started = time.perf_counter()
    snap = pg.snap()
    elapsed = time.perf_counter() - started
    assert len(snap.tables) == 50
    assert len(snap.foreign_keys) == 49 and len(snap.indexes) == 50 and len(snap.check_constraints) == 50
    print(f"PostgreSQL snapshot of 50 tables: {elapsed:.3f} s")


# ------------------------------------------------------------------------------------------------
# MariaDB
# ------------------------------------------------------------------------------------------------

MARIA_BASE = [
    "CREATE TABLE tags (id integer NOT NULL PRIMARY KEY, name text)",
    "CREATE TABLE posts (id integer AUTO_INCREMENT PRIMARY KEY, title varchar(20) NOT NULL,"
    " status varchar(20) DEFAULT 'a', kind ENUM('a', 'b') DEFAULT 'a', tag_id integer, old integer)",
]


@pytest.mark.parametrize("change, expected", [
    (["CREATE TABLE extra (id integer)"], ["+ table extra"]),
    (["ALTER TABLE posts ADD COLUMN note text"], ["+ column posts.note (text, NULL)"]),
    (["ALTER TABLE posts DROP COLUMN old"], ["- column posts.old (integer(11), NULL)"]),
    (["ALTER TABLE posts MODIFY status varchar(40) DEFAULT 'a'"], ["~ column posts.status: type varchar(20) -> varchar(40)"]),
    (["ALTER TABLE posts MODIFY title varchar(20) NULL"], ["~ column posts.title: nullable NOT NULL -> NULL"]),
    (["ALTER TABLE posts ALTER COLUMN status SET DEFAULT 'b'"], ["~ column posts.status: default 'a' -> 'b'"]),
    (["ALTER TABLE posts MODIFY kind ENUM('a', 'b', 'c') DEFAULT 'a'"],
     ["~ column posts.kind: type enum('a','b') -> enum('a','b','c')"]),
    (["CREATE INDEX ix_posts_status ON posts (status)"], ["+ index ix_posts_status on posts (status)"]),
    (["ALTER TABLE posts ADD CONSTRAINT uq_posts_title UNIQUE (title)"], ["+ index uq_posts_title on posts (title) unique"]),
    (["ALTER TABLE posts ADD CONSTRAINT ck_old CHECK (old > 0)"], ["+ check constraint ck_old on posts: (old > 0)"]),
    (["ALTER TABLE posts ADD COLUMN pos integer CHECK (pos > 0)"],
     ["+ column posts.pos (integer(11), NULL)", "+ check constraint pos on posts: (pos > 0)"]),
    (["ALTER TABLE posts ADD CONSTRAINT fk_x FOREIGN KEY (tag_id) REFERENCES tags (id) ON DELETE CASCADE"],
     ["+ foreign key fk_x on posts (tag_id) -> tags (id) on delete cascade"]),  # its index is the engine's
    (["CREATE VIEW v AS SELECT id FROM posts"], ["+ view v"]),
    (["CREATE SEQUENCE s"], ["+ sequence s"]),
])
def test_maria_each_difference_is_reported(maria, change, expected):
    lines, before, after = _change(maria, MARIA_BASE, change)
    assert lines == expected


def test_maria_equal_schemas_compare_equal_despite_order_and_spelling(maria):
    a = _fresh(maria,
               "CREATE TABLE tags (id INT PRIMARY KEY, label VARCHAR(20) NOT NULL DEFAULT 'x', CONSTRAINT ck CHECK (id > 0))",
               "CREATE TABLE posts (id INTEGER AUTO_INCREMENT PRIMARY KEY, tag_id INT,"
               " kind ENUM('a','b') NOT NULL DEFAULT 'a', CONSTRAINT fk FOREIGN KEY (tag_id) REFERENCES tags (id))",
               "CREATE VIEW v AS SELECT id FROM posts")
    b = _fresh(maria,
               "create table tags (label varchar(20) default 'x' not null, id integer not null,"
               " primary key (id), constraint ck check ((id>0)))",
               "create table posts (kind enum('a', 'b') default 'a' not null, tag_id integer,"
               " id int not null auto_increment, primary key (id),"
               " constraint fk foreign key (tag_id) references tags (id))",
               "create view v as select id from posts")
    if a != b:  # pragma: no cover
        pytest.fail("\n".join(diff(a, b)) or repr((a, b)))
    assert diff(a, b) == []


def test_maria_alembic_version_table_is_ignored(maria):
    lines, _, _ = _change(maria, MARIA_BASE, [
        "CREATE TABLE alembic_version (version_num varchar(32) NOT NULL PRIMARY KEY)",
        "INSERT INTO alembic_version VALUES ('abc')",
    ])
    assert lines == []


def test_maria_per_table_fallback_matches_bulk(maria, monkeypatch):
    maria.reset()
    maria.run(*MARIA_BASE, "CREATE INDEX ix ON posts (status, old)",
              "ALTER TABLE posts ADD CONSTRAINT fk FOREIGN KEY (tag_id) REFERENCES tags (id)")
    bulk = maria.snap()
    monkeypatch.setattr(snapshot_module, "_FORCE_PER_TABLE", True)
    assert maria.snap() == bulk


def test_maria_snapshot_of_50_tables(maria):
    # Measured on the dev machine (MariaDB 10.11 on 127.0.0.1, pymysql): 0.07-0.12 s per snapshot of 50
    # tables (the MySQL dialect reflects one SHOW CREATE TABLE per table even through get_multi_*).
    maria.reset()
    statements = []
    for i in range(50):
        ref = f", parent integer, FOREIGN KEY (parent) REFERENCES t{i - 1} (id)" if i else ""
        statements.append(f"CREATE TABLE t{i} (id integer AUTO_INCREMENT PRIMARY KEY, name varchar(40) NOT NULL"
                          f" DEFAULT 'x', n integer CHECK (n > 0), UNIQUE (name), INDEX (n){ref})")
    maria.run(*statements)
    maria.snap()
    started = time.perf_counter()
    snap = maria.snap()
    elapsed = time.perf_counter() - started
    assert len(snap.tables) == 50 and len(snap.foreign_keys) == 49 and len(snap.check_constraints) == 50
    print(f"MariaDB snapshot of 50 tables: {elapsed:.3f} s")


# ------------------------------------------------------------------------------------------------
# SQLite
# ------------------------------------------------------------------------------------------------

SQLITE_BASE = [
    "CREATE TABLE tags (id integer PRIMARY KEY, name text)",
    "CREATE TABLE posts (id integer PRIMARY KEY, title varchar(20) NOT NULL, status varchar(20) DEFAULT 'a',"
    " tag_id integer)",
]


@pytest.mark.parametrize("change, expected", [
    (["CREATE TABLE extra (id integer)"], ["+ table extra"]),
    (["ALTER TABLE posts ADD COLUMN note text DEFAULT (datetime('now'))"],
     ["+ column posts.note (text, NULL, default datetime('now'))"]),
    (["ALTER TABLE posts DROP COLUMN tag_id"], ["- column posts.tag_id (integer, NULL)"]),
    (["CREATE INDEX ix_posts_status ON posts (status)"], ["+ index ix_posts_status on posts (status)"]),
    (["CREATE UNIQUE INDEX ix_expr ON posts (lower(title)) WHERE status = 'a'"],
     ["+ index ix_expr on posts (lower(title)) unique where status = 'a'"]),
    (["CREATE TABLE extra (id integer, a integer, UNIQUE (a), CHECK (a > 0), FOREIGN KEY (a) REFERENCES tags (id))",
      "DROP TABLE extra"], []),
])
def test_sqlite_each_difference_is_reported(sqlite, change, expected):
    lines, _, _ = _change(sqlite, SQLITE_BASE, change)
    assert lines == expected


def test_sqlite_constraints_and_views(sqlite):
    before = _fresh(sqlite, "CREATE TABLE tags (id integer PRIMARY KEY)",
                    "CREATE TABLE posts (id integer PRIMARY KEY, a integer, tag_id integer)")
    sqlite.run("DROP TABLE posts",
               "CREATE TABLE posts (id integer PRIMARY KEY, a integer UNIQUE CHECK (a > 0),"
               " tag_id integer REFERENCES tags (id) ON DELETE CASCADE, CONSTRAINT ck_named CHECK (a < 10))",
               "CREATE VIEW v AS SELECT id FROM posts")
    assert diff(before, sqlite.snap()) == [
        "+ unique constraint on posts (a)",
        "+ check constraint on posts: (a > 0)",
        "+ check constraint ck_named on posts: (a < 10)",
        "+ foreign key on posts (tag_id) -> tags (id) on delete cascade",
        "+ view v",
    ]


def test_sqlite_equal_schemas_compare_equal_despite_order_and_spelling(sqlite):
    a = _fresh(sqlite,
               "CREATE TABLE tags (id INTEGER PRIMARY KEY, label VARCHAR(20) NOT NULL DEFAULT 'x', CHECK (id > 0))",
               "CREATE TABLE posts (id INTEGER PRIMARY KEY, tag_id INTEGER REFERENCES tags (id))",
               "CREATE INDEX ix ON posts (tag_id) WHERE tag_id > 0",
               "CREATE VIEW v AS SELECT id FROM posts")
    b = _fresh(sqlite,
               "create table posts (id integer primary key, tag_id integer references tags (id))",
               "create view v as select id from posts",
               "create table tags (id integer primary key, label varchar(20) not null default ('x'), check ((id > 0)))",
               "create index ix on posts (tag_id) where (tag_id > 0)")
    if a != b:  # pragma: no cover
        pytest.fail("\n".join(diff(a, b)) or repr((a, b)))


def test_sqlite_per_table_fallback_matches_bulk(sqlite, monkeypatch):
    sqlite.reset()
    sqlite.run(*SQLITE_BASE, "CREATE INDEX ix ON posts (lower(title))",
               "CREATE TABLE c (id integer PRIMARY KEY, p integer REFERENCES posts (id), UNIQUE (p), CHECK (p > 0))")
    bulk = sqlite.snap()
    monkeypatch.setattr(snapshot_module, "_FORCE_PER_TABLE", True)
    assert sqlite.snap() == bulk
    assert len(bulk.foreign_keys) == 1 and len(bulk.unique_constraints) == 1 and len(bulk.check_constraints) == 1


def test_sqlite_alembic_version_table_is_ignored(sqlite):
    lines, _, _ = _change(sqlite, SQLITE_BASE, [
        "CREATE TABLE alembic_version (version_num varchar(32) NOT NULL PRIMARY KEY)",
        "INSERT INTO alembic_version VALUES ('abc')",
    ])
    assert lines == []


@pytest.mark.parametrize("change, expected", PG_CHANGES)
def test_pg_digest_sees_every_difference_the_snapshot_sees(pg, change, expected):
    """The round trip trusts equal digests: every change the snapshot reports must change it."""
    pg.reset()
    pg.run(*PG_BASE)
    before = pg.digest()
    assert pg.digest() == before
    pg.run(*change)
    assert pg.digest() != before


def test_pg_digest_sees_comments_and_ignores_the_version_table(pg):
    pg.reset()
    pg.run(*PG_BASE)
    before = pg.digest()
    pg.run("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)", "INSERT INTO alembic_version VALUES ('x')")
    assert pg.digest() == before
    pg.run("COMMENT ON COLUMN posts.title IS 'shown to users'")
    assert pg.digest() != before


def test_pg_digest_equal_after_a_column_is_dropped_and_added_again(pg):
    """Attribute numbers change when a column comes back: the digest must not see that, or every
    such revision would take the slow path (full snapshots and rebuilt states)."""
    pg.reset()
    pg.run("CREATE TABLE t (a integer, b integer)", "CREATE INDEX ix_t_b ON t (b)", "ALTER TABLE t ADD CONSTRAINT ck_b CHECK (b > 0)")
    before = pg.digest()
    pg.run("ALTER TABLE t DROP COLUMN b", "ALTER TABLE t ADD COLUMN b integer", "CREATE INDEX ix_t_b ON t (b)", "ALTER TABLE t ADD CONSTRAINT ck_b CHECK (b > 0)")
    assert pg.digest() == before


# What lives beside tables, in every schema (PostgreSQL): each change is in the snapshot's diff
# (the line starts as given) and changes the digest.
PG_BESIDE_TABLES = [
    (["CREATE SCHEMA other"], ["+ schema other"]),
    (["CREATE SCHEMA other", "CREATE TABLE other.t (id integer PRIMARY KEY)"], ["+ schema other", "+ table other.t"]),
    (["CREATE SCHEMA other", "CREATE TYPE other.mood AS ENUM ('ok')"], ["+ schema other", "+ enum type other.mood ('ok')"]),
    (["CREATE FUNCTION f(a integer) RETURNS integer LANGUAGE sql AS 'SELECT a'"],
     ["+ function f(a integer) returns integer, language sql, definition "]),
    (["CREATE PROCEDURE p() LANGUAGE sql AS 'SELECT 1'"], ["+ procedure p() language sql, definition "]),
    (["CREATE FUNCTION t() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'",
      "CREATE TRIGGER tr BEFORE INSERT ON posts FOR EACH ROW EXECUTE FUNCTION t()"],
     ["+ trigger tr on posts: (before insert on public.posts for each row execute function t())", "+ function t() returns trigger"]),
    (["CREATE EXTENSION IF NOT EXISTS citext"], ["+ extension citext"]),
    (["COMMENT ON TABLE posts IS 'the posts'"], ["+ comment on table posts the posts"]),
    (["CREATE INDEX ix_c ON posts (old)", "COMMENT ON INDEX ix_c IS 'why'"], ["+ index ix_c on posts (old)", "+ comment on index ix_c why"]),
    (["GRANT SELECT ON posts TO PUBLIC"], ["+ privileges on table posts {"]),
    (["CREATE SEQUENCE s", "ALTER SEQUENCE s OWNED BY posts.old"], ["+ sequence s"]),
]


@pytest.mark.parametrize("change, expected", PG_BESIDE_TABLES)
def test_pg_objects_beside_tables_are_in_the_snapshot_and_the_digest(pg, change, expected):
    pg.reset()
    pg.run("DROP SCHEMA IF EXISTS other CASCADE")
    try:
        pg.run(*PG_BASE)
        before, digest = pg.snap(), pg.digest()
        pg.run(*change)
        lines = diff(before, pg.snap())
        assert len(lines) == len(expected) and all(line.startswith(prefix) for line, prefix in zip(sorted(lines), sorted(expected))), lines
        assert pg.digest() != digest
    finally:
        pg.run("DROP SCHEMA IF EXISTS other CASCADE", "DROP EXTENSION IF EXISTS citext")


def test_pg_sequence_ownership_is_part_of_the_sequence(pg):
    lines, _, _ = _change(pg, PG_BASE + ["CREATE SEQUENCE s"], ["ALTER SEQUENCE s OWNED BY posts.old"])
    assert lines == ["~ sequence s: bigint, start 1, increment 1, min 1, max 9223372036854775807, cache 1"
                     " -> bigint, start 1, increment 1, min 1, max 9223372036854775807, cache 1, owned by posts.old"]


def test_pg_extension_members_are_the_extension(pg):
    """hstore brings functions, operators and a type; postgis-like extensions bring tables: none of
    them is listed on its own, and the extension's comment comes with it."""
    pg.reset()
    try:
        before = _fresh(pg, *PG_BASE)
        pg.run("CREATE EXTENSION IF NOT EXISTS hstore")
        assert diff(before, pg.snap()) == ["+ extension hstore"]
    finally:
        pg.run("DROP EXTENSION IF EXISTS hstore")


def test_pg_names_postgresql_numbered_are_normalised(pg):
    lines, before, after = _change(pg, PG_BASE + ["ALTER TABLE posts ADD UNIQUE (title)"],
                                   ["ALTER TABLE posts ADD UNIQUE (title)", "ALTER TABLE posts DROP CONSTRAINT posts_title_key"])
    assert lines == [] and [n for _, n, _ in after.unique_constraints] == ["posts_title_key"]


def test_diff_with_sides_says_which_is_which():
    before = Snapshot(dialect="postgresql", tables=("posts",), columns=(("posts", "title", (("default", "'a'"), ("nullable", "NULL"), ("type", "text"))),))
    after = Snapshot(dialect="postgresql", tables=("posts", "tags"), columns=(("posts", "title", (("nullable", "NULL"), ("type", "text"))),))
    assert diff(before, after, sides=("before upgrade", "after downgrade")) == [
        "only after downgrade: table tags",
        "~ column posts.title: default\n    before upgrade:  'a'\n    after downgrade: none",
    ]
    assert diff(after, before, sides=("first upgrade", "second upgrade"))[0] == "only first upgrade: table tags"
