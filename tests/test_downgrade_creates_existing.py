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
