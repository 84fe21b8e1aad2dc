"""--format gitlab: GitLab's Code Quality report, checked against a schema written from GitLab's docs."""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from conftest import ENV_PY, REPO, revision_file, write_tree
from migration_lint.cli import build_parser, main
from migration_lint.model import SEVERITIES, Finding, with_fingerprints
from migration_lint.report import FORMATS, render
from migration_lint.report.gitlab import MAX_FIX, SEVERITIES as GITLAB_SEVERITIES, render_gitlab

SCHEMA_PATH = Path(__file__).with_name("gitlab-codequality.schema.json")
REPORT = "gl-code-quality-report.json"

CREATE_INDEX = 'op.create_index("ix_t_id", "t", ["id"])'
HISTORY = {
    "a.py": revision_file("a", upgrade='op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))', downgrade='op.drop_table("t")'),
    "b.py": revision_file("b", "a", upgrade=CREATE_INDEX, downgrade='op.drop_index("ix_t_id", table_name="t")'),
}


@pytest.fixture(autouse=True)
def _not_in_gitlab_ci(monkeypatch):
    """The suite may itself run in GitLab CI, whose $CI_PROJECT_DIR would re-anchor the paths."""
    monkeypatch.delenv("CI_PROJECT_DIR", raising=False)


@pytest.fixture(scope="module")
def validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def project(root: Path, revisions: dict, extra=None) -> Path:
    files = {"alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\n", "migrations/env.py": ENV_PY}
    files.update({f"migrations/versions/{name}": text for name, text in revisions.items()})
    files.update(extra or {})
    return write_tree(root, files)


def check(capsys, *args):
    code = main(["check", "--format", "gitlab", *args])
    out, err = capsys.readouterr()
    return code, out, err


def line_of(text: str, needle: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if needle in line)


def assert_valid_report(raw: bytes, validator) -> list:
    """What GitLab's parser needs: UTF-8 without a byte order mark, one JSON array, the schema,
    and one issue per fingerprint (GitLab keys issues by it: a duplicate would hide a finding)."""
    assert not raw.startswith(b"\xef\xbb\xbf")
    issues = json.loads(raw.decode("utf-8"))
    validator.validate(issues)
    assert len({issue["fingerprint"] for issue in issues}) == len(issues)
    return issues


# --- the schema itself ---------------------------------------------------------------------------


def test_schema_cites_gitlabs_documentation_and_accepts_its_example(validator):
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert "https://docs.gitlab.com/ci/testing/code_quality/#code-quality-report-format" in schema["description"]
    assert re.search(r"read on \d{4}-\d{2}-\d{2}", schema["description"])
    documented = [  # the example on that page
        {
            "description": "'unused' is assigned a value but never used.",
            "check_name": "no-unused-vars",
            "fingerprint": "7815696ecbf1c96e6894b779456d330e",
            "severity": "minor",
            "location": {"path": "lib/index.js", "lines": {"begin": 42}},
        }
    ]
    validator.validate(documented)
    positions = [dict(documented[0], location={"path": "lib/index.js", "positions": {"begin": {"line": 42}}})]
    validator.validate(positions)  # the documented alternative to lines.begin


@pytest.mark.parametrize(
    "change",
    [
        lambda i: i.pop("fingerprint"),
        lambda i: i.pop("check_name"),
        lambda i: i.update(severity="error"),  # migration-lint's word, not GitLab's
        lambda i: i["location"].pop("lines"),
        lambda i: i["location"].update(path="/abs/lib/index.js"),
        lambda i: i["location"].update(path="lib\\index.js"),
        lambda i: i["location"]["lines"].update(begin="42"),
    ],
)
def test_schema_rejects_what_gitlab_cannot_use(validator, change):
    issue = {"description": "d", "check_name": "c", "fingerprint": "f", "severity": "minor", "location": {"path": "lib/index.js", "lines": {"begin": 42}}}
    change(issue)
    assert not validator.is_valid([issue])
    assert not validator.is_valid({"issues": []})  # a single JSON array, nothing else


# --- the CLI end to end --------------------------------------------------------------------------


def test_cli_writes_a_valid_report(in_tmp, capsys, validator):
    project(in_tmp, HISTORY)
    code, out, _ = check(capsys, "--output", REPORT)
    assert code == 1 and out == ""  # exit codes as for every format; the report goes to the file
    issues = assert_valid_report((in_tmp / REPORT).read_bytes(), validator)
    (issue,) = [i for i in issues if i["check_name"] == "create-index-not-concurrently"]
    assert issue["severity"] == "critical"
    assert issue["location"]["path"] == "migrations/versions/b.py"
    assert issue["location"]["lines"]["begin"] == line_of(HISTORY["b.py"], CREATE_INDEX)
    assert issue["description"].startswith("creates index ix_t_id on existing table t without CONCURRENTLY")
    assert "Fix: Pass postgresql_concurrently=True" in issue["description"]
    assert "\n" not in issue["description"]

    # the same fingerprints as the JSON report (and so SARIF and baselines) carry
    main(["check", "--format", "json"])
    findings = json.loads(capsys.readouterr()[0])["findings"]
    assert {(f["rule"], f["fingerprint"]) for f in findings} == {(i["check_name"], i["fingerprint"]) for i in issues}


def test_cli_prints_the_report_without_output(in_tmp, capsys, validator):
    project(in_tmp, HISTORY)
    code, out, _ = check(capsys)
    assert code == 1
    assert_valid_report(out.encode("utf-8"), validator)


def test_gitlab_is_a_format_everywhere():
    assert "gitlab" in FORMATS
    (action,) = [a for a in build_parser()._subparsers._group_actions[0].choices["check"]._actions if "--format" in a.option_strings]
    assert tuple(action.choices) == FORMATS and "gitlab" in action.help
    assert render(SimpleNamespace(findings=[]), "gitlab", None) == "[]"


def test_no_findings_is_an_empty_array(in_tmp, capsys, validator):
    project(in_tmp, {"a.py": HISTORY["a.py"]})
    code, out, _ = check(capsys, "--no-cache")
    assert code == 0
    assert out.strip() == "[]"
    assert_valid_report(out.encode(), validator)
    assert check(capsys, "--output", REPORT)[0] == 0
    assert (in_tmp / REPORT).read_text(encoding="utf-8").strip() == "[]"


def test_severities_map_to_gitlabs_scale(in_tmp, capsys, validator):
    assert set(GITLAB_SEVERITIES) == set(SEVERITIES)  # every severity has a GitLab one
    assert GITLAB_SEVERITIES == {"error": "critical", "warning": "minor", "info": "info"}
    no_downgrade = revision_file("d", "c", upgrade='op.add_column("t", sa.Column("m", sa.Integer()))').split("\n\ndef downgrade")[0] + "\n"
    revisions = {
        **HISTORY,  # create-index-not-concurrently: error
        "c.py": revision_file("c", "b", upgrade='op.add_column("t", sa.Column("n", sa.Integer()))', downgrade='raise NotImplementedError("gone for good")'),  # irreversible-downgrade: info
        "d.py": no_downgrade,  # missing-downgrade: warning
    }
    project(in_tmp, revisions)
    issues = assert_valid_report(check(capsys)[1].encode(), validator)
    by_rule = {i["check_name"]: i["severity"] for i in issues}
    assert by_rule["create-index-not-concurrently"] == "critical"
    assert by_rule["missing-downgrade"] == "minor"
    assert by_rule["irreversible-downgrade"] == "info"

    # a severity changed in the config is the one that is mapped
    (in_tmp / ".migration-lint.yaml").write_text("severity:\n  create-index-not-concurrently: warning\n")
    issues = json.loads(check(capsys)[1])
    assert {i["severity"] for i in issues if i["check_name"] == "create-index-not-concurrently"} == {"minor"}


def test_fingerprints_are_unique_and_survive_line_shifts(in_tmp, capsys, validator):
    # (a COMMIT between them: in one transaction they would be one lock window, one finding)
    twice = revision_file("b", "a", upgrade=f"{CREATE_INDEX}\nop.execute(\"COMMIT\")\n{CREATE_INDEX}", downgrade='op.drop_index("ix_t_id", table_name="t")')
    project(in_tmp, {"a.py": HISTORY["a.py"], "b.py": twice})
    before = assert_valid_report(check(capsys)[1].encode(), validator)
    same = [i for i in before if i["check_name"] == "create-index-not-concurrently"]
    assert len(same) == 2 and same[0]["description"] == same[1]["description"]  # identical findings ...
    assert same[0]["fingerprint"] != same[1]["fingerprint"]  # ... still two issues in GitLab

    b = in_tmp / "migrations/versions/b.py"
    b.write_text(b.read_text().replace("def upgrade():", "# a comment\n\n\ndef upgrade():"))
    after = assert_valid_report(check(capsys)[1].encode(), validator)
    shifted = {i["fingerprint"]: i for i in after}
    assert set(shifted) == {i["fingerprint"] for i in before}  # nothing "new" in the merge request
    for issue in before:
        if issue["location"]["path"].endswith("b.py"):
            assert shifted[issue["fingerprint"]]["location"]["lines"]["begin"] == issue["location"]["lines"]["begin"] + 3

    # a real change is a new fingerprint
    b.write_text(b.read_text().replace('"ix_t_id", "t"', '"ix_t_other", "t"', 1))
    changed = {i["fingerprint"] for i in json.loads(check(capsys)[1])}
    assert changed != set(shifted)


def test_paths_are_relative_to_the_repository_root(in_tmp, capsys, monkeypatch, validator):
    project(in_tmp / "backend", HISTORY)
    monkeypatch.chdir(in_tmp / "backend")
    plain = json.loads(check(capsys)[1])
    assert {i["location"]["path"] for i in plain} == {"migrations/versions/b.py"}  # relative to the working directory

    monkeypatch.setenv("CI_PROJECT_DIR", str(in_tmp))  # in GitLab CI: the repository root
    anchored = assert_valid_report(check(capsys)[1].encode(), validator)
    assert {i["location"]["path"] for i in anchored} == {"backend/migrations/versions/b.py"}

    # the fingerprint follows the repository path, not the folder migration-lint ran in
    monkeypatch.chdir(in_tmp)
    from_root = json.loads(check(capsys, "backend")[1])
    assert {i["fingerprint"] for i in from_root} == {i["fingerprint"] for i in anchored}


def test_odd_characters_in_paths_and_messages_stay_valid_json(in_tmp, capsys, validator):
    name = 'b "quoted"\n\'x\' ünï€😀.py'  # a newline in a file name is legal on POSIX
    index = 'op.create_index("ix_\\"q\\"_😀\\nü", "t", ["id"])'
    revisions = {"a.py": HISTORY["a.py"], name: revision_file("b", "a", upgrade=index, downgrade='op.drop_index("ix_t_id", table_name="t")')}
    project(in_tmp, revisions)
    raw = check(capsys)[1].encode("utf-8")
    issues = assert_valid_report(raw, validator)
    (issue,) = [i for i in issues if i["check_name"] == "create-index-not-concurrently"]
    assert issue["location"]["path"] == f"migrations/versions/{name}"
    assert '"q"' in issue["description"] and "😀" in issue["description"]
    assert issue["description"].startswith('creates index ix_"q"_😀.')  # the name's newline ends the first line
    assert "\n" not in issue["description"]


def test_a_file_name_that_is_not_utf8(in_tmp, capsys, validator):
    project(in_tmp, {"a.py": HISTORY["a.py"]})
    try:
        (in_tmp / "migrations/versions").joinpath(os.fsdecode(b"caf\xe9.py")).write_text(HISTORY["b.py"])
    except (OSError, UnicodeError):
        pytest.skip("this file system takes only UTF-8 names")
    code, out, _ = check(capsys)
    assert code == 1
    issues = assert_valid_report(out.encode("utf-8"), validator)
    assert {i["location"]["path"] for i in issues} == {"migrations/versions/caf\ufffd.py"}


def F(rule, severity, path, line, message, **extra):
    """A finding as the engine hands it over (with a severity), written in the old field order."""
    return Finding(rule, path, line, message, severity=severity, **extra)


def test_render_escapes_and_cleans_odd_text(validator, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    findings = [
        F("drop-table", "error", 'migrations\\versions\\x "y".py', 3, 'drops table "naïve"\tnow \x00\x1b\nsecond line\u2028', help="line one\nline two", revision="x"),
        F("drop-table", "warning", "./migrations/versions/caf\udce9.py", 0, "\n\n  leading blank lines  \n", help="Use a \"soft\" delete"),
        F("drop-table", "info", "migrations/versions/z.py", 7, "x" * 500, help="y" * (MAX_FIX + 1), end_line=9),
    ]
    text = render_gitlab(SimpleNamespace(findings=findings))
    raw = text.encode("utf-8")  # strict: a lone surrogate would raise here
    first, second, third = assert_valid_report(raw, validator)

    assert first["location"]["path"] == 'migrations/versions/x "y".py'
    assert first["description"] == 'drops table "naïve" now \x00\x1b'  # first line only; the fix has two lines: left out
    assert second["location"]["path"] == "migrations/versions/caf\ufffd.py"  # not UTF-8: replaced
    assert second["location"]["lines"]["begin"] == 1  # GitLab lines start at 1
    assert second["description"] == 'leading blank lines. Fix: Use a "soft" delete'
    assert third["description"] == "x" * 500  # a long fix is left out
    assert third["location"]["lines"] == {"begin": 7, "end": 9}
    assert [i["severity"] for i in (first, second, third)] == ["critical", "minor", "info"]
    assert "\\u0000" in text and "\\u001b" in text  # control characters escaped, as JSON requires


def test_render_paths_relative_to_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    finding = F("drop-table", "error", "sub/./migrations/v.py", 1, "m")
    issues = json.loads(render_gitlab(SimpleNamespace(findings=[finding])))
    assert issues[0]["location"]["path"] == "sub/migrations/v.py"
    issues = json.loads(render_gitlab(SimpleNamespace(findings=[finding]), root=str(tmp_path / "sub")))
    assert issues[0]["location"]["path"] == "migrations/v.py"
    (expected,) = with_fingerprints([F("drop-table", "error", "migrations/v.py", 1, "m")])
    assert issues[0]["fingerprint"] == expected.fingerprint


# --- the README's .gitlab-ci.yml -----------------------------------------------------------------


def readme_gitlab_job():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert "## GitLab CI" in text
    section = text.split("## GitLab CI", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```yaml\n(.*?)```", section, re.S)
    return block


def test_readme_gitlab_ci_example_is_valid_and_uploads_the_report_it_writes(in_tmp, capsys, validator):
    block = readme_gitlab_job()
    config = yaml.safe_load(block)
    (job,) = [job for job in config.values() if isinstance(job, dict) and "script" in job]
    commands = [shlex.split(line, comments=True) for line in job["script"]]
    assert ["pip", "install", "alembic-lint"] in commands
    (report_command,) = [c for c in commands if c[:2] == ["migration-lint", "check"] and "gitlab" in c]
    args = build_parser().parse_args(report_command[1:])  # only options that exist
    assert args.format == "gitlab"
    artifacts = job["artifacts"]
    assert str(args.output) == artifacts["reports"]["codequality"] == REPORT
    assert artifacts["when"] == "always"
    assert REPORT in artifacts.get("paths", [])
    assert "allow_failure" in job

    # the command as written produces a report GitLab accepts
    project(in_tmp, HISTORY)
    assert main(report_command[1:]) == 0  # --exit-zero: the report step itself never fails on findings
    capsys.readouterr()
    assert_valid_report((in_tmp / REPORT).read_bytes(), validator)
    plain = [c for c in commands if c[:2] == ["migration-lint", "check"] and c is not report_command]
    assert plain and all(main(c[1:]) == 1 for c in plain)  # the step that fails the job


def test_readme_gitlab_ci_example_matches_gitlabs_ci_schema(tmp_path):
    pytest.importorskip("check_jsonschema")
    path = tmp_path / ".gitlab-ci.yml"
    path.write_text(readme_gitlab_job())
    proc = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.gitlab-ci", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
