"""Changed-only mode (--diff-base) and baselines, on real git repositories."""

import json
import subprocess
from pathlib import Path


from conftest import ENV_PY, revision_file, write_tree
from migration_lint.cli import main

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"]


def git(root, *args):
    return subprocess.run(GIT + list(args), cwd=root, check=True, capture_output=True, text=True).stdout


def repo(root: Path, revisions: dict) -> Path:
    files = {"alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\n", "migrations/env.py": ENV_PY}
    files.update({f"migrations/versions/{name}": text for name, text in revisions.items()})
    write_tree(root, files)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    return root


def run(capsys, *args):
    code = main(["check", "--format", "json", "--no-cache", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def rules(data):
    return sorted((f["rule"], Path(f["path"]).name) for f in data["findings"])


BASE = {
    "a.py": revision_file("a", upgrade='op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))', downgrade='op.drop_table("t")'),
    "b.py": revision_file("b", "a", upgrade='op.drop_table("legacy")  # an old sin, merged long ago'),
}


def test_only_changed_revisions_are_checked(in_tmp, capsys):
    repo(in_tmp, BASE)
    git(in_tmp, "checkout", "-q", "-b", "feature")
    write_tree(in_tmp, {"migrations/versions/c.py": revision_file("c", "b", upgrade='op.drop_column("t", "x")')})
    code, data, _ = run(capsys, "--diff-base", "main")
    assert code == 1
    names = {name for _, name in rules(data)}
    assert names == {"c.py"}  # b.py's drop_table is not this change's doing
    assert ("drop-column", "c.py") in rules(data)
    full = run(capsys)[1]
    assert ("drop-table", "b.py") in rules(full)


def test_modified_deleted_and_renamed_revisions(in_tmp, capsys):
    repo(in_tmp, {**BASE, "c.py": revision_file("c", "b")})
    git(in_tmp, "checkout", "-q", "-b", "feature")
    b = in_tmp / "migrations/versions/b.py"
    b.write_text(b.read_text().replace("def downgrade():", "def downgrade():\n    op.execute('SELECT 1')"))
    (in_tmp / "migrations/versions/c.py").unlink()
    git(in_tmp, "mv", "migrations/versions/a.py", "migrations/versions/a_renamed.py")
    git(in_tmp, "commit", "-q", "-am", "edit history")
    code, data, _ = run(capsys, "--diff-base", "main")
    found = rules(data)
    assert ("modified-merged-migration", "b.py") in found
    assert ("deleted-migration", "c.py") in found
    assert not [f for f in found if f[1] == "a_renamed.py"]  # a pure rename is not an edit
    modified = next(f for f in data["findings"] if f["rule"] == "modified-merged-migration")
    assert modified["line"] == b.read_text().splitlines().index("    op.execute('SELECT 1')") + 1


def test_branch_from_a_stale_head_names_the_merge(in_tmp, capsys):
    repo(in_tmp, BASE)
    git(in_tmp, "checkout", "-q", "-b", "feature")
    write_tree(in_tmp, {"migrations/versions/c.py": revision_file("c", "b")})
    git(in_tmp, "add", "-A")
    git(in_tmp, "commit", "-q", "-m", "feature revision")
    git(in_tmp, "checkout", "-q", "main")
    write_tree(in_tmp, {"migrations/versions/d.py": revision_file("d", "b")})
    git(in_tmp, "add", "-A")
    git(in_tmp, "commit", "-q", "-m", "someone else's revision")
    git(in_tmp, "checkout", "-q", "feature")
    git(in_tmp, "merge", "-q", "--no-edit", "main")  # the PR now has both heads
    code, data, _ = run(capsys, "--diff-base", "main")
    heads = [f for f in data["findings"] if f["rule"] == "multiple-heads"]
    assert len(heads) == 1 and Path(heads[0]["path"]).name == "c.py"
    message = heads[0]["message"]
    assert "c (added by this change) branches from b" in message and "head at main is d" in message
    assert 'alembic merge -m "merge heads" c d' in message


def test_untracked_and_uncommitted_files_count_as_changes(in_tmp, capsys):
    repo(in_tmp, BASE)
    write_tree(in_tmp, {"migrations/versions/c.py": revision_file("c", "b", upgrade='op.drop_column("t", "x")')})
    code, data, _ = run(capsys, "--diff-base", "HEAD")
    assert ("drop-column", "c.py") in rules(data)


def test_roundtrip_only_the_new_revisions(in_tmp, capsys):
    repo(in_tmp, BASE | {"b.py": revision_file("b", "a", upgrade='op.add_column("t", sa.Column("x", sa.Integer()))', downgrade='op.drop_column("t", "x")')})
    git(in_tmp, "checkout", "-q", "-b", "feature")
    write_tree(in_tmp, {"migrations/versions/c.py": revision_file("c", "b", upgrade='op.add_column("t", sa.Column("y", sa.Integer()))', downgrade="pass")})
    code, data, _ = run(capsys, "--diff-base", "main", "--roundtrip", "--db", "sqlite", "--dialect", "sqlite")
    assert [(r, n) for r, n in rules(data) if "trace" in r or "upgrade" in r] == [("downgrade-leaves-trace", "c.py"), ("reupgrade-failed", "c.py")]
    notes = data["summary"]["environments"][0]["notes"]
    assert any("round trip: 1 revision " in note for note in notes)


def test_diff_base_errors(in_tmp, capsys):
    write_tree(in_tmp, {"alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\n", "migrations/env.py": ENV_PY, "migrations/versions/a.py": revision_file("a")})
    code, _, err = run(capsys, "--diff-base", "main")
    assert code == 2 and "not inside a git repository" in err
    git(in_tmp, "init", "-q")
    git(in_tmp, "add", "-A")
    git(in_tmp, "commit", "-q", "-m", "x")
    code, _, err = run(capsys, "--diff-base", "origin/nope")
    assert code == 2 and "unknown revision 'origin/nope'" in err


def test_baseline_hides_known_findings_and_reports_gone_ones(in_tmp, capsys):
    repo(in_tmp, BASE)
    assert main(["baseline", "--output", "baseline.json"]) == 0
    capsys.readouterr()
    stored = json.loads((in_tmp / "baseline.json").read_text())
    assert stored["format"] == 2 and any(e["rule"] == "drop-table" and e["object"] == ["table", "public", "legacy"] for e in stored["findings"])
    # lines shift: still known
    b = in_tmp / "migrations/versions/b.py"
    b.write_text("# a new comment\n\n" + b.read_text())
    code, data, _ = run(capsys, "--baseline", "baseline.json")
    assert code == 0 and data["findings"] == []
    # a new finding shows; a fixed one is listed as gone
    write_tree(in_tmp, {"migrations/versions/c.py": revision_file("c", "b", upgrade='op.drop_column("t", "x")')})
    b.write_text(b.read_text().replace('op.drop_table("legacy")', "pass"))
    code, data, _ = run(capsys, "--baseline", "baseline.json")
    assert code == 1 and {f["rule"] for f in data["findings"]} >= {"drop-column"}
    assert "drop-table" not in {f["rule"] for f in data["findings"]}
    gone = data["summary"]["baseline"]["gone"]
    assert any(entry["rule"] == "drop-table" for entry in gone)


def test_a_format_1_baseline_still_loads_and_matches_by_object(in_tmp, capsys):
    """Baselines written before fingerprints were made of object identity (format 1: rule, path,
    revision, phase and message) keep hiding their findings, even once messages are reworded."""
    from migration_lint import api
    from migration_lint.model import legacy_fingerprints

    repo(in_tmp, BASE)
    findings = api.check([in_tmp]).findings
    assert findings
    entries = [
        {"fingerprint": fp, "rule": f.rule, "path": f.path, "revision": f.revision, "message": f.message.split("\n")[0]}
        for f, fp in zip(findings, legacy_fingerprints(findings))
    ]
    reworded = [dict(e, fingerprint="0" * 32, message=e["message"].upper().replace(" ", "  ")) for e in entries]
    for written in (entries, reworded):
        (in_tmp / "old.json").write_text(json.dumps({"format": 1, "tool": "migration-lint 0.1.0", "findings": written}))
        code, data, _ = run(capsys, "--baseline", "old.json")
        assert code == 0 and data["findings"] == [], data["findings"]
        assert data["summary"]["baseline"]["matched"] == len(findings) and data["summary"]["baseline"]["gone"] == []
    # an entry whose object is not the finding's does not hide it
    other = [dict(e, fingerprint="0" * 32, message="drops table somewhere_else") for e in entries]
    (in_tmp / "old.json").write_text(json.dumps({"format": 1, "findings": other}))
    code, data, _ = run(capsys, "--baseline", "old.json")
    assert "drop-table" in {f["rule"] for f in data["findings"]}


def test_baseline_from_config_and_bad_baseline(in_tmp, capsys):
    repo(in_tmp, BASE)
    main(["baseline", "-o", "known.json"])
    capsys.readouterr()
    write_tree(in_tmp, {".migration-lint.yaml": "baseline: known.json\n"})
    code, data, _ = run(capsys)
    assert code == 0 and data["findings"] == []
    (in_tmp / "known.json").write_text("{not json")
    code, _, err = run(capsys)
    assert code == 2 and "not a baseline file" in err


def test_baseline_matches_from_any_working_directory(in_tmp, capsys, monkeypatch):
    repo(in_tmp, BASE)
    main(["baseline", "-o", "baseline.json"])
    capsys.readouterr()
    monkeypatch.chdir(in_tmp / "migrations")
    code, data, _ = run(capsys, "--baseline", "../baseline.json", ".")
    assert code == 0 and data["findings"] == []


def test_reformatting_a_merged_revision_is_not_an_edit(in_tmp, capsys):
    repo(in_tmp, BASE)
    b = in_tmp / "migrations/versions/b.py"
    b.write_text("# reformatted by black\n" + b.read_text().replace('"legacy"', "'legacy'"))
    code, data, _ = run(capsys, "--diff-base", "HEAD")
    assert code == 0 and data["findings"] == []
    assert any("formatting or comments only" in n for n in data["summary"]["environments"][0]["notes"])


def test_flask_migrate_projects_are_told_to_use_flask_db_merge(in_tmp, capsys):
    write_tree(in_tmp, {
        "migrations/alembic.ini": "[alembic]\n",
        "migrations/env.py": "from flask import current_app\nfrom alembic import context\n",
        "migrations/versions/a.py": revision_file("a"),
        "migrations/versions/b.py": revision_file("b", "a"),
        "migrations/versions/c.py": revision_file("c", "a"),
    })
    code, data, _ = run(capsys)
    heads = [f for f in data["findings"] if f["rule"] == "multiple-heads"]
    assert heads and all('flask db merge -m "merge heads" b c' in f["message"] for f in heads)
    # the message and the fix line agree, and name Flask-Migrate's upgrade command
    assert all('flask db merge -m "merge heads" b c' in f["help"] and "alembic merge" not in f["help"] for f in heads)
    assert all("`flask db upgrade` will fail" in f["message"] for f in heads)


def test_renamed_and_edited_revision_points_at_the_edit(in_tmp, capsys):
    repo(in_tmp, BASE)
    git(in_tmp, "mv", "migrations/versions/b.py", "migrations/versions/b_renamed.py")
    b = in_tmp / "migrations/versions/b_renamed.py"
    b.write_text(b.read_text().replace("def downgrade():\n    pass", "def downgrade():\n    op.execute('SELECT 2')"))
    git(in_tmp, "add", "-A")
    code, data, _ = run(capsys, "--diff-base", "HEAD")
    (modified,) = [f for f in data["findings"] if f["rule"] == "modified-merged-migration"]
    assert modified["line"] == b.read_text().splitlines().index("    op.execute('SELECT 2')") + 1


def test_rewriting_a_configured_baseline_records_everything(in_tmp, capsys):
    repo(in_tmp, BASE)
    write_tree(in_tmp, {".migration-lint.yaml": "baseline: known.json\n"})
    main(["baseline", "-o", "known.json"])
    first = json.loads((in_tmp / "known.json").read_text())["findings"]
    main(["baseline", "-o", "known.json"])
    capsys.readouterr()
    assert first and json.loads((in_tmp / "known.json").read_text())["findings"] == first


def test_changed_only_reads_unchanged_revisions_for_headers_only(in_tmp, capsys, monkeypatch):
    from migration_lint.frontend import alembic_ops

    repo(in_tmp, BASE)
    git(in_tmp, "checkout", "-q", "-b", "feature")
    write_tree(in_tmp, {"migrations/versions/c.py": revision_file("c", "b", upgrade='op.drop_column("t", "x")')})
    seen = []
    real = alembic_ops._FileReader._parse_functions
    monkeypatch.setattr(alembic_ops._FileReader, "_parse_functions", lambda self: seen.append(Path(self.result.path).name) or real(self))
    code, data, _ = run(capsys, "--diff-base", "main", "--jobs", "1")
    assert seen == ["c.py"]
    assert ("drop-column", "c.py") in rules(data)


def test_each_environment_is_compared_with_its_own_repository(in_tmp, capsys):
    first, second = in_tmp / "one", in_tmp / "two"
    repo(first, BASE)
    repo(second, BASE)
    for root in (first, second):
        git(root, "checkout", "-q", "-b", "feature")
    write_tree(second, {"migrations/versions/c.py": revision_file("c", "b", upgrade='op.drop_column("t", "x")')})
    code, data, _ = run(capsys, "--diff-base", "main", str(first), str(second))
    assert code == 1
    assert {name for _, name in rules(data)} == {"c.py"} and ("drop-column", "c.py") in rules(data)
    notes = [note for env in data["summary"]["environments"] for note in env["notes"] if note.startswith("changed-only")]
    assert sorted(n.split(" revision")[0] for n in notes) == ["changed-only: 0", "changed-only: 1"]


def test_versions_in_a_nested_repository_are_diffed_there(in_tmp, capsys):
    outer = in_tmp / "app"
    write_tree(outer, {
        "alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\nversion_locations = %(here)s/plugin/versions\n",
        "migrations/env.py": ENV_PY,
    })
    git(outer, "init", "-q")
    git(outer, "add", "-A")
    git(outer, "commit", "-q", "-m", "app")
    plugin = outer / "plugin"
    write_tree(plugin, {"versions/a.py": BASE["a.py"], "versions/b.py": BASE["b.py"]})
    git(plugin, "init", "-q")
    git(plugin, "add", "-A")
    git(plugin, "commit", "-q", "-m", "base")
    git(plugin, "checkout", "-q", "-b", "feature")
    git(outer, "checkout", "-q", "-b", "feature")
    write_tree(plugin, {"versions/c.py": revision_file("c", "b", upgrade='op.drop_column("t", "x")')})
    code, data, _ = run(capsys, "--diff-base", "main", str(outer))
    assert ("drop-column", "c.py") in rules(data)
    assert {name for _, name in rules(data)} == {"c.py"}


def test_changed_only_counts_no_excluded_files(in_tmp, capsys):
    repo(in_tmp, BASE)
    git(in_tmp, "checkout", "-q", "-b", "feature")
    write_tree(in_tmp, {
        ".migration-lint.yaml": "exclude: [migrations/versions/scratch_*.py]\n",
        "migrations/versions/c.py": revision_file("c", "b", upgrade='op.drop_column("t", "x")'),
        "migrations/versions/scratch_d.py": revision_file("d", "c", upgrade='op.drop_table("t")'),
    })
    _, data, _ = run(capsys, "--diff-base", "main")
    (note,) = [n for env in data["summary"]["environments"] for n in env["notes"] if n.startswith("changed-only")]
    assert note.startswith("changed-only: 1 revision file added")
    assert {name for _, name in rules(data)} == {"c.py"}


def test_excluded_files_report_nothing_in_changed_only_mode(in_tmp, capsys):
    repo(in_tmp, {**BASE, "private_c.py": revision_file("c", "b"), "d.py": revision_file("d", "c")})
    git(in_tmp, "checkout", "-q", "-b", "feature")
    write_tree(in_tmp, {".migration-lint.yaml": "exclude: [migrations/versions/private_*.py]\n"})
    (in_tmp / "migrations/versions/private_c.py").unlink()
    write_tree(in_tmp, {"migrations/versions/d.py": revision_file("d", "b")})
    git(in_tmp, "add", "-A")
    git(in_tmp, "commit", "-q", "-m", "drop the private revision")
    _, data, _ = run(capsys, "--diff-base", "main")
    assert not [f for f in data["findings"] if "private_c" in f["path"]]
    assert ("modified-merged-migration", "d.py") in rules(data)  # not excluded: still reported
