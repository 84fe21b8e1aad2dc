"""Whole fixture projects on disk, checked through the library API (what the CLI calls)."""

from pathlib import Path

import pytest

from conftest import ENV_PY, revision_file, write_tree
from migration_lint import api
from migration_lint.config import config_from_mapping


def check(root, **kwargs):
    result = api.check([root], use_cache=False, **kwargs)
    return result


def rules_at(result):
    return sorted((Path(f.path).name, f.rule) for f in result.findings)


def by_rule(result, rule):
    return [f for f in result.findings if f.rule == rule]


def layout(root, revisions, env_py=ENV_PY, ini=True):
    files = {"migrations/env.py": env_py}
    if ini:
        files["alembic.ini"] = "[alembic]\nscript_location = %(here)s/migrations\n"
    for name, text in revisions.items():
        files[f"migrations/versions/{name}"] = text
    return write_tree(root, files)


def test_multiple_heads_names_every_head_and_the_merge_command(in_tmp):
    layout(in_tmp, {
        "a.py": revision_file("a"),
        "b.py": revision_file("b", "a"),
        "c.py": revision_file("c", "a"),
    })
    (heads,) = by_rule(check(in_tmp), "multiple-heads")  # one finding per history, listing the heads
    assert Path(heads.path).name == "c.py"
    assert "the history has 2 heads (b, c)" in heads.message and 'alembic merge -m "merge heads" b c' in heads.message


def test_merge_point_resolves_heads(in_tmp):
    layout(in_tmp, {
        "a.py": revision_file("a"),
        "b.py": revision_file("b", "a"),
        "c.py": revision_file("c", "a"),
        "m.py": revision_file("m", ("b", "c")),
    })
    result = check(in_tmp)
    assert not by_rule(result, "multiple-heads")
    assert result.environments[0].heads == ["m"]


def test_branch_labels_expand_contract_are_not_multiple_heads(in_tmp):
    layout(in_tmp, {
        "base.py": revision_file("base"),
        "e1.py": revision_file("e1", "base").replace("branch_labels = None", "branch_labels = ('expand',)"),
        "e2.py": revision_file("e2", "e1"),
        "c1.py": revision_file("c1", "base").replace("branch_labels = None", "branch_labels = ('contract',)").replace("depends_on = None", "depends_on = ('e1',)"),
    })
    result = check(in_tmp)
    assert not by_rule(result, "multiple-heads") and not by_rule(result, "missing-parent")
    assert len(result.environments[0].heads) == 2


def test_cycle_dangling_parent_and_duplicate_ids(in_tmp):
    layout(in_tmp, {
        "a.py": revision_file("a"),
        "b.py": revision_file("b", ("a", "d")),
        "c.py": revision_file("c", "b"),
        "d.py": revision_file("d", "c"),
        "e.py": revision_file("e", "ghost"),
        "e_copy.py": revision_file("e", "a"),
    })
    result = check(in_tmp)
    assert [f.message.split(" form")[0] for f in by_rule(result, "revision-cycle")] == ["revisions b -> c -> d"]
    (dangling,) = by_rule(result, "missing-parent")
    assert "'ghost'" in dangling.message and Path(dangling.path).name == "e.py"
    (duplicate,) = by_rule(result, "duplicate-revision")
    assert Path(duplicate.path).name == "e_copy.py"


def test_syntax_error_does_not_stop_the_rest_of_the_history(in_tmp):
    layout(in_tmp, {
        "a.py": revision_file("a"),
        "b.py": "revision = 'b'\ndown_revision = 'a'\ndef upgrade(:\n",
        "c.py": revision_file("c", "a", upgrade='op.drop_table("t")'),
        "d.py": b"revision = 'd'\n\xff\xfe",
    })
    result = check(in_tmp)
    assert sorted(Path(f.path).name for f in by_rule(result, "syntax-error")) == ["b.py", "d.py"]
    assert by_rule(result, "drop-table")


def test_flask_migrate_project(in_tmp):
    write_tree(in_tmp, {
        "app.py": "from flask import Flask\n",
        "migrations/alembic.ini": "[alembic]\n",
        "migrations/env.py": "from flask import current_app\nfrom alembic import context\n",
        "migrations/versions/a.py": revision_file("a", imports="from app import db"),
    })
    result = check(in_tmp)
    assert result.environments[0].kind == "flask-migrate"
    (finding,) = by_rule(result, "imports-application-code")
    assert "`app`" in finding.message


def test_imports_of_the_projects_own_types_are_harmless_and_its_models_are_not(in_tmp):
    """The project's modules are read (never imported) to tell a SQLAlchemy type it defines from
    a model."""
    write_tree(in_tmp, {
        "pyproject.toml": "[project]\nname = 'shop'\n",
        "shop/__init__.py": "",
        "shop/db/__init__.py": "",
        "shop/db/types.py": "import sqlalchemy as sa\nfrom sqlalchemy.types import TypeDecorator\n\nclass GUID(TypeDecorator[str]):\n    impl = sa.CHAR\n\nMoney = sa.Numeric(12, 2).with_variant(sa.Integer(), 'sqlite')\n",
        "shop/models.py": "class User:\n    pass\n",
    })
    layout(in_tmp, {
        "a.py": revision_file("a", imports="from shop.db.types import GUID, Money"),
        "b.py": revision_file("b", "a", imports="from shop.db.types import GUID\nfrom shop.models import User"),
    })
    findings = by_rule(check(in_tmp), "imports-application-code")
    assert [(Path(f.path).name, "shop.models" in f.message) for f in findings] == [("b.py", True)]


def test_application_imports_spread_over_the_history_are_one_finding_at_env_py(in_tmp):
    """Several revisions importing the application are the project's practice (prefect: 16, quay:
    8): a whole-history run says it once, at env.py, listing them; a pull request's own revision
    is still reported at its import."""
    import subprocess

    tree = {
        "pyproject.toml": "[project]\nname = 'shop'\n",
        "shop/__init__.py": "",
        "shop/models.py": "class User:\n    pass\n",
        "alembic.ini": "[alembic]\nscript_location = migrations\n",
        "migrations/env.py": ENV_PY,
        "migrations/versions/a.py": revision_file("a", imports="from shop.models import User"),
        "migrations/versions/b.py": revision_file("b", "a", imports="from shop import models"),
    }
    write_tree(in_tmp, tree)
    (finding,) = by_rule(check(in_tmp), "imports-application-code")
    assert finding.path.endswith("env.py")
    assert finding.message.startswith("2 revisions in migrations/versions import the application's code (a (`shop.models`), b (`shop`))")
    # a baseline that recorded it does not hide a revision that starts importing the app later
    from migration_lint.cli import main

    assert main(["baseline", "--output", str(in_tmp / "baseline.json"), str(in_tmp)]) == 0
    assert by_rule(check(in_tmp, baseline=in_tmp / "baseline.json"), "imports-application-code") == []
    (in_tmp / "migrations/versions/c.py").write_text(revision_file("c", "b", imports="from shop.models import User"))
    (new,) = by_rule(check(in_tmp, baseline=in_tmp / "baseline.json"), "imports-application-code")
    assert new.message.startswith("3 revisions in migrations/versions import") and ", c (`shop.models`)" in new.message
    (in_tmp / "migrations/versions/c.py").unlink()
    # one revision alone: at its import
    (in_tmp / "migrations/versions/b.py").write_text(revision_file("b", "a"))
    (finding,) = by_rule(check(in_tmp), "imports-application-code")
    assert Path(finding.path).name == "a.py" and "imports `shop.models`" in finding.message
    # changed-only mode: the pull request's revision, at its own line
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q"], cwd=in_tmp, check=True)
    subprocess.run([*git, "add", "-A"], cwd=in_tmp, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=in_tmp, check=True)
    (in_tmp / "migrations/versions/c.py").write_text(revision_file("c", "a", imports="from shop.models import User"))
    findings = by_rule(check(in_tmp, diff_base="HEAD"), "imports-application-code")
    assert [Path(f.path).name for f in findings] == ["c.py"]


def test_nested_version_folders(in_tmp):
    write_tree(in_tmp, {
        "alembic.ini": "[alembic]\nscript_location = migrations\nversion_locations = %(here)s/migrations/versions/r1 %(here)s/migrations/versions/r2\n",
        "migrations/env.py": ENV_PY,
        "migrations/versions/r1/a.py": revision_file("a"),
        "migrations/versions/r2/b.py": revision_file("b", "a", upgrade='op.drop_column("t", "c")'),
    })
    result = check(in_tmp)
    assert result.environments[0].revision_count == 2
    assert by_rule(result, "drop-column")


def test_op_as_parameter_project(in_tmp):
    text = revision_file("a", upgrade="pass").replace("def upgrade():\n    pass", 'def upgrade(op, tables, tester):\n    op.drop_table("legacy")')
    layout(in_tmp, {"a.py": text})
    assert by_rule(check(in_tmp), "drop-table")


def test_dialect_branches_follow_the_target_dialect(in_tmp):
    upgrade = '''
if op.get_bind().dialect.name == "postgresql":
    with op.get_context().autocommit_block():
        op.create_index("ix_t_a", "t", ["a"], postgresql_concurrently=True)
else:
    op.create_index("ix_t_a", "t", ["a"])
'''
    layout(in_tmp, {"a.py": revision_file("a", upgrade=upgrade, downgrade='op.drop_index("ix_t_a", table_name="t")')})
    assert not by_rule(check(in_tmp, dialect="postgresql"), "create-index-not-concurrently")
    sqlite = check(in_tmp, dialect="sqlite")
    assert not by_rule(sqlite, "create-index-not-concurrently")  # PostgreSQL-only rule
    assert sqlite.environments[0].dialect == "sqlite"


def test_sql_in_op_execute_is_checked_like_op_calls(in_tmp):
    upgrade = '''
op.execute("""
    ALTER TABLE account ADD COLUMN plan text NOT NULL;
    CREATE INDEX ix_account_plan ON account (plan);
""")
op.execute(f"UPDATE account SET plan = '{DEFAULT}'")
op.execute(make_sql())
'''
    layout(in_tmp, {"a.py": revision_file("a", upgrade=upgrade, downgrade='op.drop_column("account", "plan")')})
    findings = check(in_tmp).findings
    assert {"add-column-not-null-without-default", "create-index-not-concurrently", "raw-sql-unanalyzed"} <= {f.rule for f in findings}
    # the UPDATE after the index build on account is part of its lock window: named in its finding
    (index,) = [f for f in findings if f.rule == "create-index-not-concurrently"]
    assert "backfill-with-ddl at line 16" in index.message and "one lock window" in index.message
    assert [f.line for f in findings if f.rule == "raw-sql-unanalyzed"] == [17]  # make_sql(); the f-string's skeleton is read


def test_mysql_project_from_the_url(in_tmp):
    write_tree(in_tmp, {
        "alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = mysql+pymysql://app@db/app\n",
        "migrations/env.py": ENV_PY,
        "migrations/versions/a.py": revision_file(
            "a",
            upgrade='op.create_index("ix_t_a", "t", ["a"])\nop.execute("ALTER TABLE t MODIFY COLUMN b VARCHAR(20) NOT NULL")',
            downgrade='op.drop_index("ix_t_a", table_name="t")',
        ),
    })
    result = check(in_tmp)
    env = result.environments[0]
    assert (env.dialect, env.dialect_source, env.server_version) == ("mysql", "alembic.ini sqlalchemy.url", (8, 0))
    rules = {f.rule for f in result.findings}
    assert "create-index-not-concurrently" not in rules  # InnoDB builds indexes online
    assert "alter-column-type" in rules


def test_sqlite_project(in_tmp):
    write_tree(in_tmp, {
        "alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = sqlite:///app.db\n",
        "migrations/env.py": ENV_PY,
        "migrations/versions/a.py": revision_file(
            "a",
            upgrade='op.alter_column("t", "a", existing_type=sa.String(10), nullable=False)\nwith op.batch_alter_table("t") as batch_op:\n    batch_op.alter_column("b", existing_type=sa.String(10), nullable=False)',
        ),
    })
    result = check(in_tmp)
    (finding,) = by_rule(result, "sqlite-alter-outside-batch")
    assert "op.alter_column" in finding.message


def test_config_file_and_start_after_grandfather_old_revisions(in_tmp):
    layout(in_tmp, {
        "a.py": revision_file("a", upgrade='op.drop_table("old")'),
        "b.py": revision_file("b", "a", upgrade='op.drop_table("older")'),
    })
    result = check(in_tmp, config=config_from_mapping({"start_after": "a"}))
    assert [Path(f.path).name for f in by_rule(result, "drop-table")] == ["b.py"]


def test_exclude_paths(in_tmp):
    layout(in_tmp, {
        "a.py": revision_file("a", upgrade='op.drop_table("old")'),
        "b.py": revision_file("b", "a", upgrade='op.drop_table("older")'),
    })
    config = config_from_mapping({"exclude": ["migrations/versions/a.py"]}, root=str(in_tmp))
    result = check(in_tmp, config=config)
    assert [Path(f.path).name for f in by_rule(result, "drop-table")] == ["b.py"]
    # the excluded revision still links the graph: no missing parent, no extra head
    assert not by_rule(result, "missing-parent") and not by_rule(result, "multiple-heads")
    assert result.environments[0].heads == ["b"] and result.environments[0].file_count == 1


def test_excluded_files_report_nothing_even_file_wide(in_tmp):
    layout(in_tmp, {
        "a.py": revision_file("a"),
        "legacy_b.py": "revision = 'b'\ndown_revision = 'a'\n\ndef upgrade(:\n",
        "c.py": revision_file("c", "b", upgrade='op.drop_table("old")'),
    })
    config = config_from_mapping({"exclude": ["migrations/versions/legacy_*.py"]}, root=str(in_tmp))
    result = check(in_tmp, config=config)
    assert not [f for f in result.findings if "legacy_b" in f.path]
    assert [Path(f.path).name for f in by_rule(result, "drop-table")] == ["c.py"]
    # its headers are salvaged from the broken file: the graph stays linked
    assert not by_rule(result, "missing-parent") and not by_rule(result, "multiple-heads")


def test_env_py_lock_timeout_satisfies_missing_lock_timeout(in_tmp):
    revisions = {"a.py": revision_file("a", upgrade='op.add_column("t", sa.Column("c", sa.Integer()))', downgrade='op.drop_column("t", "c")')}
    layout(in_tmp, revisions)
    assert by_rule(check(in_tmp), "missing-lock-timeout")
    env_py = ENV_PY.replace("with context.begin_transaction():", "connection.exec_driver_sql(\"SET lock_timeout = '2s'\")\n    with context.begin_transaction():")
    layout(in_tmp, revisions, env_py=env_py)
    assert not by_rule(check(in_tmp), "missing-lock-timeout")


def test_a_baseline_does_not_hide_a_new_revision_in_the_history_wide_lock_timeout_finding(in_tmp):
    from migration_lint.cli import main

    lock = 'op.add_column("t", sa.Column("{0}", sa.Integer()))'
    revisions = {"a.py": revision_file("a", upgrade=lock.format("c")), "b.py": revision_file("b", "a", upgrade=lock.format("d"))}
    layout(in_tmp, revisions)
    assert main(["baseline", "--output", str(in_tmp / "baseline.json"), str(in_tmp)]) == 0
    assert not by_rule(check(in_tmp, baseline=in_tmp / "baseline.json"), "missing-lock-timeout")
    layout(in_tmp, {**revisions, "c.py": revision_file("c", "b", upgrade=lock.format("e"))})
    (finding,) = by_rule(check(in_tmp, baseline=in_tmp / "baseline.json"), "missing-lock-timeout")
    assert finding.message.startswith("3 revisions take strong locks")


def test_downgrade_policy_optional(in_tmp):
    text = revision_file("a", upgrade='op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))')
    text = text[: text.index("def downgrade")]
    layout(in_tmp, {"a.py": text})
    assert by_rule(check(in_tmp), "missing-downgrade")
    assert not by_rule(check(in_tmp, config=config_from_mapping({"downgrades": "optional"})), "missing-downgrade")


def test_severity_override_and_ignore(in_tmp):
    layout(in_tmp, {"a.py": revision_file("a", upgrade='op.drop_table("old")')})
    result = check(in_tmp, config=config_from_mapping({"severity": {"drop-table": "info"}, "ignore": ["missing-lock-timeout"]}))
    (finding,) = by_rule(result, "drop-table")
    assert finding.severity == "info"
    assert not by_rule(result, "missing-lock-timeout")


def test_user_rule_pack(in_tmp):
    write_tree(in_tmp, {
        "lint-rules/no-jsonb-columns.yaml": """
name: no-jsonb-columns
severity: warning
summary: Our team stores documents elsewhere.
message: "adds JSONB column {column} to {table}"
fix: Store documents in the document service
match:
  kind: add_column
  column.type.name: jsonb
examples:
  invalid:
    - |
      def upgrade():
          op.add_column("t", sa.Column("doc", postgresql.JSONB()))  # expect
  valid:
    - |
      def upgrade():
          op.add_column("t", sa.Column("doc", sa.Text()))
""",
    })
    layout(in_tmp, {"a.py": revision_file("a", upgrade='op.add_column("t", sa.Column("doc", postgresql.JSONB()))', downgrade='op.drop_column("t", "doc")', imports="from sqlalchemy.dialects import postgresql")})
    config = config_from_mapping({"rule_packs": ["lint-rules"]}, root=str(in_tmp))
    (finding,) = by_rule(check(in_tmp, config=config), "no-jsonb-columns")
    assert finding.message == "adds JSONB column doc to t" and finding.severity == "warning"
    # the pack's own examples run with the same harness as ours
    from migration_lint.catalogue import load_catalogue
    from migration_lint.rule_examples import all_examples, run_example

    catalogue = load_catalogue((str(in_tmp / "lint-rules"),))
    cases = [c for c in all_examples(catalogue) if c[0].name == "no-jsonb-columns"]
    assert len(cases) == 2 and all(run_example(r, item, kind == "valid", catalogue).ok for r, kind, _, item in cases)


def test_bad_rule_pack_is_a_clear_error(in_tmp):
    from migration_lint.errors import RuleError

    write_tree(in_tmp, {"lint-rules/oops.yaml": "name: oops\nseverity: fatal\nsummary: x\nmessage: y\nmatch: {kind: drop_table}\n"})
    layout(in_tmp, {"a.py": revision_file("a")})
    with pytest.raises(RuleError, match="severity must be one of"):
        check(in_tmp, config=config_from_mapping({"rule_packs": ["lint-rules"]}, root=str(in_tmp)))


def test_rule_pack_validation_catches_typos(in_tmp):
    from migration_lint.errors import RuleError

    layout(in_tmp, {"a.py": revision_file("a")})
    bad = {
        "kind: add_colum": "kind: unknown operation kind 'add_colum' \\(did you mean add_column",
        "column.type.name: {lt: 1}\n  kind: add_column\n  table: {lt: x}": "needs a number or a version",
        "tabel_is_new: false\n  kind: add_column": "unknown fact 'tabel_is_new' \\(did you mean table_is_new",
        "kind: add_column\n  column.nulable: false": "unknown fact 'column.nulable' \\(did you mean column.nullable",
        "kind: {in: [add_column], gt: 3, like: x}": "unknown operators \\['like'\\]",
        "kind: add_column\n  table_is_new: 'no'": "table_is_new: expected true, false or null",
        "kind: add_column\n  dialect: postgres": "dialect: unknown value 'postgres'",
    }
    for match, error in bad.items():
        write_tree(in_tmp, {"pack/r.yaml": f"name: r\nseverity: warning\nsummary: s\nmessage: m\nmatch:\n  {match}\n"})
        with pytest.raises(RuleError, match=error):
            check(in_tmp, config=config_from_mapping({"rule_packs": ["pack"]}, root=str(in_tmp)))
        from migration_lint import catalogue

        catalogue._CACHE.clear()
    write_tree(in_tmp, {"pack/r.yaml": "name: r\nseverity: warning\nsummary: s\nmessage: 'm {table'\nmatch: {kind: add_column}\n"})
    with pytest.raises(RuleError, match="message"):
        check(in_tmp, config=config_from_mapping({"rule_packs": ["pack"]}, root=str(in_tmp)))


def test_comparisons_on_non_numbers_do_not_match():
    from migration_lint.matcher import _compare

    assert _compare("json", {"lt": 11}) is False
    assert _compare((14,), {"ge": "11"}) is True
    assert _compare((10, 5), {"lt": 11}) is True


def test_incomplete_downgrade_trusts_drops_in_loops(in_tmp):
    upgrade = 'op.add_column("orders", sa.Column("a", sa.Integer()))\nop.add_column("orders", sa.Column("b", sa.Integer()))'
    downgrade = 'for c in ("a", "b"):\n    op.drop_column("orders", c)'
    layout(in_tmp, {"a.py": revision_file("a", upgrade=upgrade, downgrade=downgrade)})
    assert not by_rule(check(in_tmp), "incomplete-downgrade")


def test_suppression_anywhere_on_a_multi_line_statement(in_tmp):
    upgrade = 'op.create_index(\n    "ix_t_a", "t", ["a"],\n)  # migration-lint: ignore[create-index-not-concurrently] tiny table'
    layout(in_tmp, {"a.py": revision_file("a", upgrade=upgrade, downgrade='op.drop_index("ix_t_a", table_name="t")')})
    result = check(in_tmp)
    assert not by_rule(result, "create-index-not-concurrently") and not by_rule(result, "unused-suppression")


def test_suppressing_a_round_trip_rule_is_not_unused_without_the_round_trip(in_tmp):
    text = revision_file("a", upgrade="pass", downgrade='op.drop_table("t")  # migration-lint: ignore[roundtrip-downgrade-failed] known')
    layout(in_tmp, {"a.py": text})
    assert not by_rule(check(in_tmp), "unused-suppression")


def test_server_default_false_means_no_change():
    from migration_lint.frontend.alembic_ops import parse_migration

    r = parse_migration(b"from alembic import op\ndef upgrade():\n    op.alter_column('t', 'c', server_default=False, nullable=True)\n", "v.py")
    assert [o.kind for o in r.operations] == ["drop_not_null"]


def test_severity_for_all_is_rejected_and_packs_need_trust_for_python(in_tmp):
    from migration_lint.errors import ConfigError, RuleError
    from migration_lint import catalogue

    layout(in_tmp, {"a.py": revision_file("a")})
    with pytest.raises(ConfigError, match="severity: unknown rule 'ALL'"):
        check(in_tmp, config=config_from_mapping({"severity": {"ALL": "warning"}}))
    for target in ("myproject.checks:run", "migration_lint.cli:main", "migration_lint.checks.downgrade:incomplete_downgrade"):
        write_tree(in_tmp, {"pack/r.yaml": f"name: r\nseverity: warning\nsummary: s\nmessage: m\ncheck: {target}\n"})
        catalogue._CACHE.clear()
        with pytest.raises(RuleError, match="names Python code; rule packs may do so only when migration-lint is invoked with --trust-rule-packs"):
            check(in_tmp, config=config_from_mapping({"rule_packs": ["pack"]}, root=str(in_tmp)))


def test_trust_comes_from_the_invocation_never_from_the_config_file(in_tmp, monkeypatch, capsys):
    """A config file (the pull request's) asking for trust is ignored, and says so; the flag or
    the environment variable (the workflow's) grant it."""
    from migration_lint import catalogue
    from migration_lint.cli import main

    layout(in_tmp, {"a.py": revision_file("a", upgrade='op.drop_table("t")')})
    write_tree(in_tmp, {
        ".migration-lint.yaml": "trust-rule-packs: true\nrule-packs: [pack]\n",
        "pack/r.yaml": "name: r\nseverity: warning\nsummary: s\nmessage: m\ncheck: mychecks:run\n",
        "mychecks.py": "import os\ndef run(rule, run):\n    open(os.path.join(os.path.dirname(__file__), 'ran'), 'w').close()\n    return []\n",
    })
    monkeypatch.syspath_prepend(str(in_tmp))
    monkeypatch.delenv("MIGRATION_LINT_TRUST_RULE_PACKS", raising=False)
    catalogue._CACHE.clear()
    assert main(["check", str(in_tmp), "--no-cache"]) == 2
    assert "--trust-rule-packs" in capsys.readouterr().err and not (in_tmp / "ran").exists()
    catalogue._CACHE.clear()
    assert main(["check", str(in_tmp), "--no-cache", "--exit-zero", "--trust-rule-packs"]) == 0
    out = capsys.readouterr().out
    assert (in_tmp / "ran").exists()
    assert "trust-rule-packs is ignored here: a file in the repository cannot allow code to run" in out
    (in_tmp / "ran").unlink()
    monkeypatch.setenv("MIGRATION_LINT_TRUST_RULE_PACKS", "1")
    catalogue._CACHE.clear()
    assert main(["check", str(in_tmp), "--no-cache", "--exit-zero"]) == 0
    assert (in_tmp / "ran").exists()


def test_symlink_loop_in_versions_is_not_followed(in_tmp):
    import os

    layout(in_tmp, {"a.py": revision_file("a")})
    os.symlink("..", in_tmp / "migrations/versions/loop")
    result = check(in_tmp)
    assert result.environments[0].revision_count == 1


def test_renamed_rules_keep_their_former_names_working(in_tmp):
    from migration_lint import catalogue

    catalogue._CACHE.clear()
    write_tree(in_tmp, {"pack/no-big-tables.yaml": "name: no-big-tables\naliases: [no-huge-tables]\nseverity: warning\nsummary: s\nmessage: m\nmatch: {kind: create_table}\n"})
    upgrade = 'op.create_table("a", sa.Column("id", sa.Integer()))  # migration-lint: ignore[no-huge-tables] small\nop.create_table("b", sa.Column("id", sa.Integer()))'
    layout(in_tmp, {"a.py": revision_file("a", upgrade=upgrade)})
    packs = {"rule_packs": ["pack"]}
    result = check(in_tmp, config=config_from_mapping(packs, root=str(in_tmp)))
    lines = revision_file("a", upgrade=upgrade).splitlines()
    expected = lines.index('    op.create_table("b", sa.Column("id", sa.Integer()))') + 1
    assert [f.line for f in by_rule(result, "no-big-tables")] == [expected] and not by_rule(result, "unused-suppression")
    result = check(in_tmp, config=config_from_mapping({**packs, "ignore": ["no-huge-tables"]}, root=str(in_tmp)))
    assert not by_rule(result, "no-big-tables")
    result = check(in_tmp, config=config_from_mapping({**packs, "severity": {"no-huge-tables": "error"}}, root=str(in_tmp)))
    assert by_rule(result, "no-big-tables")[0].severity == "error"


def test_alter_column_type_speaks_each_dialects_terms():
    from migration_lint.api import lint_sources

    source = revision_file("a", upgrade='op.alter_column("t", "c", type_=sa.String(255), existing_type=sa.String(60))')
    (pg,) = [f for f in lint_sources({"a.py": source.replace("String(255)", "Integer()")}) if f.rule == "alter-column-type"]
    (my,) = [f for f in lint_sources({"a.py": source}, dialect="mysql", server_version=(8, 0)) if f.rule == "alter-column-type"]
    assert "ACCESS EXCLUSIVE" in pg.message
    assert "ALGORITHM=COPY" in my.message and "ACCESS EXCLUSIVE" not in my.message
