"""Drops the revision's message declares: graded `info`, and not reported with the application
stopped; the same drop under another message keeps the rule's `error`."""

import pytest

from migration_lint.api import lint_sources
from migration_lint.config import config_from_mapping
from migration_lint.facts import _name_tokens, _names
from migration_lint.frontend.alembic_ops import parse_migration


def revision(message: str, body: str) -> str:
    return (
        f'"""{message}\n\nRevision ID: r1\nRevises:\nCreate Date: 2026-11-30 10:00:00\n\n"""\n'
        "from alembic import op\nimport sqlalchemy as sa\n\n"
        'revision = "r1"\ndown_revision = None\n\n\ndef upgrade():\n' + body
    )


def findings(message: str, body: str, **config):
    sources = {"r1.py": revision(message, body)}
    return [f for f in lint_sources(sources, config=config_from_mapping(config, "test")) if f.rule in ("drop-table", "drop-column")]


def test_the_message_is_the_docstring_without_alembics_headers():
    parsed = parse_migration(revision("Remove Project.zscore\n\nIt was never read.", "    pass\n").encode(), "r1.py")
    assert parsed.message == "Remove Project.zscore\n\nIt was never read."


def test_a_declared_drop_is_info_and_says_what_is_left():
    (finding,) = findings("Remove Project.zscore", '    op.drop_column("projects", "zscore")\n')
    assert finding.severity == "info"
    assert 'as the revision\'s message says ("Remove Project.zscore")' in finding.message
    assert "previous release" in finding.message


def test_an_undeclared_drop_keeps_error():
    (finding,) = findings("Add a brackets table", '    op.drop_column("teams", "bracket")\n')
    assert finding.severity == "error"
    assert "its data is lost" in finding.message


def test_declared_drops_of_one_table_are_one_info_finding():
    body = '    op.drop_column("packages", "autohide")\n    op.drop_column("packages", "comments")\n'
    (finding,) = findings("Remove old columns", body)
    assert finding.severity == "info"
    assert "drops 2 columns of packages (autohide, comments)" in finding.message
    # a message that also says nothing uses them answers what the note would ask (round 11 #63)
    assert findings("Remove unused columns", body) == []
    assert findings("Remove columns no longer needed", body) == []


def test_declared_and_undeclared_drops_of_one_table_are_reported_apart():
    body = '    op.drop_column("projects", "zscore")\n    op.drop_column("projects", "total_size")\n'
    found = sorted((f.severity, f.line) for f in findings("Remove Project.zscore", body))
    assert found == [("error", 17), ("info", 16)]


def test_nothing_with_the_application_stopped():
    assert findings("Remove Project.zscore", '    op.drop_column("projects", "zscore")\n', deploy="offline") == []
    # undeclared: the data loss is still reported
    (finding,) = findings("Tidy projects", '    op.drop_column("projects", "zscore")\n', deploy="offline")
    assert finding.severity == "error"


def test_a_configured_severity_wins_over_the_declared_grade():
    (finding,) = findings("Remove Project.zscore", '    op.drop_column("projects", "zscore")\n', severity={"drop-column": "warning"})
    assert finding.severity == "warning"


@pytest.mark.parametrize(
    "message, name, named",
    [
        ("Remove Project.zscore", "zscore", True),
        ("Drop JournalEntry.submitted_from", "submitted_from", True),
        ("remove_organization_project_is_active", "is_active", True),
        ("Remove MissingDatasetFile", "missing_dataset_files", True),
        ("Remove flow run notifications", "flow_run_notification_queue", True),
        ("Remove flow runners", "flow_runner_type", True),
        ("Removing default storage block document.", "is_default_storage_block_document", True),
        ("Drop alternate repositories.", "alternate_repositories", True),
        # one shared word is not a name: 'remove malware infrastructure' names no table
        ("remove malware infrastructure", "malware_checks", False),
        ("Remove PGP signature support", "has_signature", False),
        ("Add BlockSchema capabilities", "type", False),
        # the table's own name is not the start of a column's
        ("Remove BlockSchema", "block_schema_type", False),
    ],
)
def test_names(message, name, named):
    assert _names(_name_tokens(message), name, _name_tokens("block_schema")) is named


def test_a_table_named_by_a_message_about_its_constraint_is_not_declared():
    body = '    op.drop_table("tagmanifesttomanifest")\n    op.create_table("tagmanifesttomanifest", sa.Column("id", sa.Integer(), primary_key=True))\n'
    (finding,) = findings("Remove unique from TagManifestToManifest", body)
    assert finding.severity == "error"
    assert "creates it again" in finding.message


def test_a_singular_kind_word_declares_only_a_lone_drop():
    # 'table' with two tables dropped: which one the author meant is not said
    body = '    op.drop_table("user_titan_codes")\n    op.drop_table("sessions")\n'
    (finding,) = findings("Drop titan_promo_code table", body)
    assert finding.severity == "error"
    (finding,) = findings("Drop titan_promo_code table", '    op.drop_table("user_titan_codes")\n')
    assert finding.severity == "info"


# -- young tables: an earlier revision made the table shortly before (Create Date headers) ------

def dated(revision_id: str, down, date: str, body: str) -> str:
    return (
        f'"""{revision_id}\n\nRevision ID: {revision_id}\nCreate Date: {date}\n\n"""\n'
        "from alembic import op\nimport sqlalchemy as sa\n\n"
        f'revision = "{revision_id}"\ndown_revision = {down!r}\n\n\ndef upgrade():\n' + body
    )


def test_a_not_null_column_on_a_table_made_the_day_before_is_a_warning_naming_that_revision():
    sources = {
        "f1.py": dated("f1", None, "2018-05-09 10:28:22", '    op.create_table("favorites", sa.Column("id", sa.Integer(), primary_key=True))\n'),
        "f2.py": dated("f2", "f1", "2018-05-10 09:46:31", '    op.add_column("favorites", sa.Column("org_id", sa.Integer(), nullable=False))\n'),
    }
    (finding,) = [f for f in lint_sources(sources) if f.rule == "add-column-not-null-without-default"]
    assert finding.severity == "warning"
    assert "revision f1, 23 hours earlier" in finding.message


def test_a_week_later_the_table_counts_as_large_again():
    body = '    op.create_unique_constraint("uq_macaroons_description", "macaroons", ["description"])\n'
    make = '    op.create_table("macaroons", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("description", sa.String(100)))\n'
    for date, found in (("2019-07-29 10:00:00", 0), ("2019-08-20 10:00:00", 1)):
        sources = {"m1.py": dated("m1", None, "2019-07-25 10:00:00", make), "m2.py": dated("m2", "m1", date, body)}
        assert len([f for f in lint_sources(sources) if f.rule == "add-unique-constraint"]) == found


def test_no_dates_no_youth():
    sources = {
        "f1.py": 'revision = "f1"\ndown_revision = None\ndef upgrade():\n    op.create_table("favorites", sa.Column("id", sa.Integer(), primary_key=True))\n',
        "f2.py": 'revision = "f2"\ndown_revision = "f1"\ndef upgrade():\n    op.add_column("favorites", sa.Column("org_id", sa.Integer(), nullable=False))\n',
    }
    (finding,) = [f for f in lint_sources(sources) if f.rule == "add-column-not-null-without-default"]
    assert finding.severity == "error"


def test_a_message_quoted_into_the_report_prints_no_control_codes_and_is_cut(tmp_path):
    import subprocess
    import sys

    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (tmp_path / "migrations" / "env.py").write_text("")
    message = "Remove zscore \x1b[31mRED\x1b[0m \u202e\x9b " + "x" * 300
    (versions / "h1.py").write_text(revision(message, '    op.drop_column("projects", "zscore")\n').replace('"r1"', '"h1"'))
    out = subprocess.run(
        [sys.executable, "-m", "migration_lint", "check", str(tmp_path / "migrations"), "--exit-zero", "--no-cache"],
        capture_output=True, text=True, env={"COLUMNS": "2000", "PATH": ""}, cwd=tmp_path,
    ).stdout
    assert "\x1b" not in out and "\u202e" not in out and "\x9b" not in out
    assert "\\x1b[31mRED" in out
    assert "x" * 30 + "\u2026" in out and "x" * 60 not in out


def test_a_comment_declares_a_drop_and_says_so():
    body = '    # these tokens are ephemeral, so dropping is acceptable\n    op.drop_table("oauth_tokens")\n'
    (finding,) = findings("Tidy up", body)
    assert finding.severity == "info"
    assert 'as the comment at line 16 says ("these tokens are ephemeral, so dropping is acceptable")' in finding.message


def test_a_comment_saying_the_table_is_empty_leaves_the_not_null_column_to_its_author():
    body = "    # the table is still empty\n    op.add_column(\"observations\", sa.Column(\"name\", sa.String(), nullable=False))\n"
    sources = {"r1.py": revision("Add name", body)}
    assert [f for f in lint_sources(sources) if f.rule == "add-column-not-null-without-default"] == []


@pytest.mark.parametrize(
    "comment",
    [
        "# the app writes '' when the nickname is empty",
        "# Intentionally written by hand",
        "# TODO: refill the cache",
        "# the old index is no longer used",
    ],
)
def test_comments_that_say_nothing_about_this_tables_rows_change_nothing(comment):
    body = f'    {comment}\n    op.add_column("account", sa.Column("nickname", sa.String(), nullable=False))\n    op.drop_column("account", "legacy")\n'
    found = {f.rule: f.severity for f in lint_sources({"r1.py": revision("Tidy", body)})}
    assert found["add-column-not-null-without-default"] == "error"
    assert found["drop-column"] == "error"


def test_messages_that_merely_contain_a_removal_word_declare_nothing():
    for message in ("Add deleted_at column to orders table", "Add dropdown table", "Add billing tables; remove old index", "Add columns for unused index cleanup"):
        found = findings(message, '    op.drop_table("invoices")\n    op.drop_column("orders", "note")\n    op.drop_column("orders", "memo")\n', deploy="offline")
        assert {f.rule for f in found} == {"drop-table", "drop-column"}, message
