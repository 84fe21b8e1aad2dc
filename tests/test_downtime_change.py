"""A change that replaces a primary key and only rolls forward is a maintenance window: one
downtime-change finding for it, and its revisions judged as deploy = offline (their lock and
running-code findings folded into that one), unless the rule is off."""

import shutil

import pytest

from migration_lint import api
from migration_lint.config import config_from_mapping

from test_deploy_units import commit, git, revision, write

SWAP = """    op.add_column("packages", sa.Column("id", sa.Integer(), server_default="0", nullable=False))
    op.execute("ALTER TABLE packages DROP CONSTRAINT packages_pkey CASCADE")
    op.create_primary_key(None, "packages", ["id"])
    op.create_index("ix_packages_name", "packages", ["name"])"""
RENAME = '    op.rename_table("{a}", "{b}")'


def forward_only(text: str) -> str:
    return text.replace("def downgrade():\n    pass", 'def downgrade():\n    raise RuntimeError("no way back")')


def rules_found(root, **config):
    result = api.check([root / "migrations"], dialect="postgresql", use_cache=False, config=config_from_mapping(config) if config else None)
    return sorted((f.rule, f.path.rsplit("/", 1)[-1]) for f in result.findings)


@pytest.fixture
def history(tmp_path):
    (tmp_path / "migrations" / "versions").mkdir(parents=True)
    (tmp_path / "migrations" / "env.py").write_text("from alembic import context\n")
    return tmp_path


def test_one_revision_swapping_a_primary_key_is_one_finding(history):
    write(history, "r1.py", forward_only(revision("r1", None, SWAP + "\n" + RENAME.format(a="packages", b="projects"))))
    # (and the downgrade's own note, which is not about the running code)
    assert rules_found(history) == [("downtime-change", "r1.py"), ("irreversible-downgrade", "r1.py")]
    # the rule off: every finding it stood for is reported (the index build in the lock window of
    # the table's earlier statement, named in that finding)
    result = api.check([history / "migrations"], dialect="postgresql", use_cache=False, config=config_from_mapping({"ignore": ["downtime-change"]}))
    assert {f.rule for f in result.findings} >= {"rename-table"}
    assert any(f.rule == "create-index-not-concurrently" or "create-index-not-concurrently at line" in f.message for f in result.findings)


def test_a_swap_with_a_working_downgrade_is_judged_operation_by_operation(history):
    write(history, "r1.py", revision("r1", None, SWAP))
    result = api.check([history / "migrations"], dialect="postgresql", use_cache=False)
    assert any(f.rule == "create-index-not-concurrently" or "create-index-not-concurrently at line" in f.message for f in result.findings)
    assert "downtime-change" not in {f.rule for f in result.findings}


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_whole_change_is_folded_and_a_later_one_is_not(history):
    git(history, "init", "-q", "-b", "main")
    write(history, "r0.py", revision("r0", None, '    op.execute("SELECT 1")'))
    commit(history, "start", date="2024-01-01T10:00:00")
    # one merge: the key swap (forward only) and a rename in a second revision
    write(history, "r1.py", forward_only(revision("r1", "r0", SWAP)))
    write(history, "r2.py", revision("r2", "r1", RENAME.format(a="accounts_user", b="users")))
    commit(history, "refactoring", date="2024-06-01T10:00:00")
    write(history, "r3.py", revision("r3", "r2", RENAME.format(a="journals", b="journal_entries")))
    commit(history, "later", date="2024-07-01T10:00:00")
    found = rules_found(history)
    assert ("downtime-change", "r1.py") in found and ("rename-table", "r3.py") in found
    assert ("rename-table", "r2.py") not in found
    message = next(f.message for f in api.check([history / "migrations"], dialect="postgresql", use_cache=False).findings if f.rule == "downtime-change")
    assert "commit " in message and "with r2" in message and "cannot be downgraded" in message and "judged as deploy = offline" in message


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_other_revisions_of_its_release_are_offline_too_but_not_those_of_an_unreleased_future(history):
    git(history, "init", "-q", "-b", "main")
    write(history, "r0.py", revision("r0", None, '    op.execute("SELECT 1")'))
    commit(history, "start", date="2024-01-01T10:00:00")
    git(history, "tag", "1.0.0", date="2024-01-02T10:00:00")
    # release 2.0.0 ships a rename (its own pull request) and the key swap (another)
    write(history, "r1.py", revision("r1", "r0", RENAME.format(a="accounts_user", b="users")))
    commit(history, "rename", date="2024-02-01T10:00:00")
    write(history, "r2.py", forward_only(revision("r2", "r1", SWAP)))
    commit(history, "swap", date="2024-03-01T10:00:00")
    git(history, "tag", "2.0.0", date="2024-03-02T10:00:00")
    write(history, "r3.py", revision("r3", "r2", RENAME.format(a="journals", b="journal_entries")))
    commit(history, "after the release", date="2024-04-01T10:00:00")
    found = rules_found(history)
    assert ("rename-table", "r1.py") not in found and ("rename-table", "r3.py") in found
    message = next(f.message for f in api.check([history / "migrations"], dialect="postgresql", use_cache=False).findings if f.rule == "downtime-change")
    assert "of the 1 other revision release 2.0.0 ships with it (r1)" in message
    # the same swap not released yet: a later pull request is not assumed to ship with it
    git(history, "tag", "-d", "2.0.0")
    found = rules_found(history)
    assert ("rename-table", "r1.py") in found and ("rename-table", "r3.py") in found
