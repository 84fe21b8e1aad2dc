"""downgrade-creates-existing: what the rule claims, checked on real databases (the bad downgrade
fails on "already exists"; the advised one runs), and its finding on quay's revision shape."""

from __future__ import annotations

import pytest

from test_advice import Scratch, run_alembic, write_history

from conftest import revision_file
from migration_lint.api import lint_sources

SETUP = 'op.create_table("policy", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("ns", sa.Integer()))\nop.create_index("ix_policy_ns", "policy", ["ns"], unique=True)'

UPGRADE = '''def upgrade():
    op.drop_index("ix_policy_ns", table_name="policy")
    op.create_index("ix_policy_ns", "policy", ["ns"])'''

BAD = '''def downgrade():
    op.create_index("ix_policy_ns", "policy", ["ns"], unique=True)'''

GOOD = '''def downgrade():
    op.drop_index("ix_policy_ns", table_name="policy")
    op.create_index("ix_policy_ns", "policy", ["ns"], unique=True)'''

COLUMN = ('''def upgrade():
    op.add_column("policy", sa.Column("status", sa.String(20), nullable=True))''', '''def downgrade():
    op.add_column("policy", sa.Column("status", sa.String(20), nullable=True))''')


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql"])
@pytest.mark.parametrize("upgrade,downgrade", [(UPGRADE, BAD), COLUMN], ids=["index", "column"])
def test_the_flagged_downgrade_fails_on_already_exists(dialect, upgrade, downgrade, tmp_path):
    revisions = write_history(tmp_path / "h", SETUP, "", [[upgrade, downgrade]], {})
    scratch = Scratch(dialect, tmp_path)
    try:
        with pytest.raises(Exception) as caught:
            run_alembic(tmp_path / "h", scratch.url, revisions, [[upgrade, downgrade]])
    finally:
        scratch.drop()
    text = str(caught.value).lower()
    assert "already exists" in text or "duplicate key name" in text or "duplicate column name" in text, text


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql"])
def test_the_advised_downgrade_runs(dialect, tmp_path):
    revisions = write_history(tmp_path / "h", SETUP, "", [[UPGRADE, GOOD]], {})
    scratch = Scratch(dialect, tmp_path)
    try:
        run_alembic(tmp_path / "h", scratch.url, revisions, [[UPGRADE, GOOD]])
    finally:
        scratch.drop()


def _body(function: str) -> str:
    return "\n".join(line[4:] for line in function.splitlines()[1:])


def test_the_rule_flags_the_bad_one_and_not_the_good_one():
    def found(downgrade):
        source = revision_file("r1", upgrade=_body(UPGRADE), downgrade=_body(downgrade))
        return [f for f in lint_sources({"v.py": source}) if f.rule == "downgrade-creates-existing"]

    bad = found(BAD)
    assert len(bad) == 1
    assert "ix_policy_ns" in bad[0].message and "already exists" in bad[0].message and bad[0].phase == "downgrade"
    assert found(GOOD) == []


# (setup, upgrade body, downgrade body, dialects): the rule must flag the downgrade exactly where
# the database refuses it.  Cases from a hostile review of the first version.
ACCOUNT = 'op.create_table("account", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("email", sa.String(100)), sa.Column("amount", sa.Integer()))'
AGREEMENT = [
    pytest.param(  # index names are the table's on MySQL, the schema's elsewhere
        ACCOUNT + '\nop.create_table("orders", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("email", sa.String(100)))',
        'op.create_index("ix_email", "orders", ["email"])',
        'op.create_index("ix_email", "account", ["email"])\nop.drop_index("ix_email", table_name="orders")',
        id="same-index-name-other-table",
    ),
    pytest.param(
        ACCOUNT,
        'op.create_unique_constraint("uq_account_email", "account", ["email"])',
        'op.create_index("uq_account_email", "account", ["email"], unique=True)',
        id="unique-constraint-then-index",
    ),
    pytest.param(
        ACCOUNT,
        'op.add_column("account", sa.Column("c", sa.Integer()))\nop.create_check_constraint("ck_acct", "account", "c > 0")',
        'op.drop_column("account", "c")\nop.create_check_constraint("ck_acct", "account", "amount > 0")',
        id="check-goes-with-its-column",
    ),
    pytest.param(
        ACCOUNT,
        'op.add_column("account", sa.Column("a", sa.Integer()))\nop.add_column("account", sa.Column("b", sa.Integer()))\nop.create_index("ix_acct_ab", "account", ["a", "b"])',
        'op.drop_column("account", "a")\nop.drop_column("account", "b")\nop.create_index("ix_acct_ab", "account", ["amount"])',
        id="index-dropped-column-by-column",
    ),
    pytest.param(
        ACCOUNT,
        'op.create_index("ix_account_email", "account", ["email"])',
        'op.rename_table("account", "account_old")\nop.create_table("account", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("email", sa.String(100)))\nop.create_index("ix_account_email", "account", ["email"])',
        id="index-moves-with-renamed-table",
    ),
    pytest.param(
        ACCOUNT,
        'op.create_table("audit", sa.Column("id", sa.Integer(), primary_key=True))',
        'sa.Table("audit", sa.MetaData()).drop(bind=op.get_bind())\nop.create_table("audit", sa.Column("id", sa.Integer(), primary_key=True))',
        id="drop-outside-op",
    ),
    pytest.param(
        ACCOUNT,
        'with op.batch_alter_table("account") as batch_op:\n    batch_op.create_index("ix_account_amount", ["amount"])',
        'with op.batch_alter_table("account", recreate="always") as batch_op:\n    batch_op.create_index("ix_account_amount", ["amount"], unique=True)',
        id="batch-recreate",
    ),
]


def _function(name: str, body: str) -> str:
    return f"def {name}():\n" + "\n".join("    " + line for line in body.splitlines())


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql"])
@pytest.mark.parametrize("setup,upgrade,downgrade", AGREEMENT)
def test_flagged_exactly_where_the_database_refuses(setup, upgrade, downgrade, dialect, tmp_path):
    if "batch" in upgrade and dialect != "sqlite":
        pytest.skip("batch mode rebuilds tables on SQLite only")
    if ("check_constraint" in upgrade or "unique_constraint" in upgrade) and dialect == "sqlite":
        pytest.skip("SQLite adds a constraint only through batch mode")
    if "drop_column" in downgrade and "create_index" in upgrade and dialect == "sqlite":
        pytest.skip("SQLite refuses to drop an indexed column: a failure of its own")
    steps = [[_function("upgrade", upgrade), _function("downgrade", downgrade)]]
    revisions = write_history(tmp_path / "h", setup, "", steps, {})
    scratch = Scratch(dialect, tmp_path)
    try:
        run_alembic(tmp_path / "h", scratch.url, revisions, steps)
        refused = ""
    except Exception as exc:  # noqa: BLE001 -- the database's refusal is the point
        refused = str(exc).lower()
    finally:
        scratch.drop()
    source = revision_file("r1", upgrade=upgrade, downgrade=downgrade)
    flagged = [f for f in lint_sources({"v.py": source}, dialect=dialect) if f.rule == "downgrade-creates-existing"]
    assert bool(flagged) == bool(refused), f"flagged={[f.message for f in flagged]} refused={refused[:300]!r}"
    if refused:
        assert "already exists" in refused or "duplicate" in refused, refused[:300]
