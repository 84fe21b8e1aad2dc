"""Inputs a hostile pull request or a careless user could give: every one is one line and exit 2
(or a finding), never a traceback, an internal error, a silent pass, a hang or a flood."""

import json
import os
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ENV_PY, revision_file, write_tree
from migration_lint.cli import main

INI = "[alembic]\nscript_location = %(here)s/migrations\n"


def project(root: Path, revisions=None, **extra) -> Path:
    files = {"alembic.ini": INI, "migrations/env.py": ENV_PY}
    for name, text in (revisions if revisions is not None else {"a.py": revision_file("a")}).items():
        files[f"migrations/versions/{name}"] = text
    files.update(extra)
    return write_tree(root, files)


def run(capsys, *args):
    code = main(["check", "--no-cache", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, *expected):
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("migration-lint: error: "), err
    assert "internal error" not in err and "Traceback" not in err
    for text in expected:
        assert text in err, err


# --- layouts that used to pass silently ------------------------------------------------------


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda v: None, "the versions folder does not exist"),
        (lambda v: v.write_text(""), "the versions folder is not a folder"),
        (lambda v: v.symlink_to("nowhere"), "dangling symbolic link"),
        (lambda v: v.symlink_to("versions"), "symbolic link that loops"),
    ],
    ids=["missing", "a-file", "dangling-link", "self-loop"],
)
def test_a_broken_versions_folder_is_an_error(tmp_path, capsys, make, expected):
    write_tree(tmp_path, {"alembic.ini": INI, "migrations/env.py": ENV_PY})
    make(tmp_path / "migrations" / "versions")
    one_line_error(*run(capsys, tmp_path)[::2], expected)


def test_a_script_location_that_is_a_file_is_an_error(tmp_path, capsys):
    write_tree(tmp_path, {"alembic.ini": "[alembic]\nscript_location = %(here)s/alembic.ini\n"})
    one_line_error(*run(capsys, tmp_path)[::2], "script_location of [alembic] in alembic.ini is not a folder")


@pytest.mark.parametrize("locations", ["[1, 2]", "5", '[["a"]]', "true"])
def test_version_locations_that_are_not_paths_are_an_error(tmp_path, capsys, locations):
    write_tree(tmp_path, {"pyproject.toml": f'[tool.alembic]\nscript_location = "migrations"\nversion_locations = {locations}\n', "migrations/env.py": ENV_PY, "migrations/versions/a.py": revision_file("a")})
    one_line_error(*run(capsys, tmp_path)[::2], "version_locations must be a list of folder paths")


def test_an_environment_pointed_at_with_no_revision_is_an_error_and_a_scanned_one_a_note(tmp_path, capsys):
    write_tree(tmp_path, {"alembic.ini": INI, "migrations/env.py": ENV_PY})
    (tmp_path / "migrations" / "versions").mkdir()
    one_line_error(*run(capsys, tmp_path / "alembic.ini")[::2], "no revision files in")
    one_line_error(*run(capsys, tmp_path / "migrations")[::2], "no revision files in")
    code, out, _ = run(capsys, tmp_path, "--format", "json")
    assert code == 0 and "no revision files yet in" in json.dumps(json.loads(out)["summary"])


# --- config files ------------------------------------------------------------------------------

BAD_CONFIGS = {
    "pyproject.toml": [
        ("tool = 5\n", "[tool] must be a table"),
        ('[tool.migration-lint]\nselect = 5\n', "select must be a list of strings"),
        ('[tool.migration-lint]\nseverity = ["x"]\n', "severity must map rule names"),
        ('[tool.migration-lint]\nfail-on = 3\n', "fail-on must be one of"),
        ('[tool.migration-lint]\nexclude = {a = 1}\n', "exclude must be a list of strings"),
        ('[tool.migration-lint]\ndialect = 7\n', "unknown dialect"),
        ('[tool.migration-lint]\nserver-version = []\n', "expected a version"),
        ('[tool.migration-lint]\nstart-after = true\n', "start-after must be a revision id"),
        ('[tool.migration-lint]\nmax-file-size = "big"\n', "expected a size"),
        ('[tool.migration-lint]\ndowngrades = "never"\n', "downgrades must be"),
        ('[tool.migration-lint]\nroundtrip-requires = 1\n', "roundtrip-requires must map"),
        ('[tool.migration-lint]\nbogus = 1\n', "unknown setting 'bogus'"),
        ("[tool.migration-lint]\nx = " + "[" * 5000 + "]" * 5000 + "\n", "nested more than"),
        ("\x00\x01binary\xff", "cannot read TOML"),
    ],
    ".migration-lint.yaml": [
        ("- a\n- b\n", "expected a mapping of settings"),
        ("select: {a: 1}\n", "select must be a list of strings"),
        ("x: " + "[" * 100000 + "]" * 100000 + "\n", "nested more than"),  # the C loader would crash the process
        ("a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi")), "expands to more than"),
        ("select: [\n", "cannot read YAML"),
        ("\xff\xfe\x00b\x00", "not UTF-8"),
    ],
}


@pytest.mark.parametrize("name, text, expected", [(name, text, expected) for name, cases in BAD_CONFIGS.items() for text, expected in cases], ids=lambda v: v[:30] if isinstance(v, str) else None)
def test_a_malformed_config_is_one_line_and_exit_2(tmp_path, capsys, name, text, expected):
    project(tmp_path)
    (tmp_path / name).write_bytes(text.encode("latin-1") if name.endswith(".toml") and "\x00" in text else text.encode("utf-8", "surrogatepass") if "\xff\xfe" not in text else text.encode("latin-1"))
    one_line_error(*run(capsys, tmp_path)[::2], expected)


def test_a_rule_pack_nested_too_deep_is_a_load_error(tmp_path, capsys):
    deep = "match:\n  kind: add_column\n  " + "".join("  " * i + "any:\n" + "  " * i + "  - " for i in range(3)) + "x: 1\n"
    nested = {"kind": "add_column"}
    for _ in range(200):
        nested = {"any": [nested]}
    project(tmp_path, **{".migration-lint.yaml": "rule-packs: [pack]\n", "pack/r.yaml": "name: r\nseverity: warning\nsummary: s\nmessage: m\nmatch: " + json.dumps(nested) + "\n"})
    code, _, err = run(capsys, tmp_path)
    one_line_error(code, err, "pack/r.yaml")
    assert "nested more than" in err
    del deep


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "folder"])
@pytest.mark.parametrize("what", ["config", "baseline", "rule-pack", "alembic.ini"])
def test_special_files_are_refused_not_read_forever(tmp_path, capsys, kind, what):
    project(tmp_path)
    target = {"config": tmp_path / ".migration-lint.yaml", "baseline": tmp_path / "known.json", "rule-pack": tmp_path / "pack" / "r.yaml", "alembic.ini": tmp_path / "alembic.ini"}[what]
    target.parent.mkdir(exist_ok=True)
    if target.exists():
        target.unlink()
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "dev-zero":
        target.symlink_to("/dev/zero")
    else:
        target.mkdir()
    extra = []
    if what == "baseline":
        extra = ["--baseline", target]
    if what == "rule-pack":
        write_tree(tmp_path, {".migration-lint.yaml": "rule-packs: [pack/r.yaml]\n"})
    started = time.monotonic()
    code, _, err = run(capsys, tmp_path, *extra)
    assert time.monotonic() - started < 20
    if what == "alembic.ini" and kind == "folder":
        return  # a folder named alembic.ini is no config file: the scan goes on without it
    one_line_error(code, err)
    assert re.search(r"must be a regular file|not a regular file|cannot read|not a folder|holds no rule files", err), err


# --- fuzz: any config text, any revision header ---------------------------------------------------

CONFIG_KEYS = ["dialect", "server-version", "select", "ignore", "severity", "start-after", "exclude", "downgrades", "rule-packs", "fail-on", "baseline", "max-file-size", "roundtrip-requires", "default-schema", "trust-rule-packs", "tool", "bogus"]
values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**12) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(document=st.dictionaries(st.sampled_from(CONFIG_KEYS), values, max_size=5), as_toml=st.booleans())
def test_fuzz_config_files_never_crash(tmp_path_factory, capsys, document, as_toml):
    root = project(tmp_path_factory.mktemp("fuzz"))
    if as_toml:
        try:
            import tomli_w  # noqa: F401
        except ImportError:
            as_toml = False
    text = json.dumps(document)  # JSON is YAML
    (root / ".migration-lint.yaml").write_text(text)
    code, out, err = run(capsys, root)
    assert code in (0, 1, 2), (text, err)
    assert "internal error" not in err and "Traceback" not in err, (text, err)
    if code == 2:
        assert err.count("\n") == 1


header_value = st.one_of(
    st.none(), st.text(max_size=12), st.integers(), st.lists(st.text(max_size=6), max_size=4).map(tuple), st.lists(st.one_of(st.text(max_size=4), st.integers()), max_size=3),
    st.just("some_call()"), st.just("(" * 50 + "'a'" + ")" * 50), st.just("f'{x}'"), st.just("b'bytes'"),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(headers=st.dictionaries(st.sampled_from(["revision", "down_revision", "branch_labels", "depends_on"]), header_value, max_size=4), count=st.integers(1, 3))
def test_fuzz_revision_headers_never_crash(tmp_path_factory, capsys, headers, count):
    def literal(value):
        return value if isinstance(value, str) and value.endswith((")", "'")) and not value.startswith("'") else repr(value)

    text = "".join(f"{name} = {literal(value)}\n" for name, value in headers.items()) + "def upgrade():\n    op.drop_table('t')\n"
    root = project(tmp_path_factory.mktemp("fuzz"), {f"r{i}.py": text for i in range(count)})
    for fmt in ("json", "text"):
        code, out, err = run(capsys, root, "--format", fmt)
        assert code in (0, 1), (text, err)
        assert "internal error" not in err and "Traceback" not in err


# --- output that reaches GitHub --------------------------------------------------------------------

NASTY = "x\n::error::owned\n##[add-mask]secret|`tick` <b>@octocat www.evil.example\r.py"  # no "/": one file name


def test_names_from_the_checkout_cannot_form_workflow_commands(tmp_path, capsys):
    project(tmp_path, {NASTY: revision_file("a", upgrade='op.drop_table("t")')})
    for fmt in ("text", "markdown", "json", "sarif", "gitlab", "github"):
        code, out, err = run(capsys, tmp_path, "--format", fmt, "--exit-zero")
        assert code == 0, err
        for line in (out + err).splitlines():
            assert not line.lstrip().startswith("::") or (fmt == "github" and re.match(r"^::(error|warning|notice) file=", line)), (fmt, line)
            assert "##[" not in line, (fmt, line)
        if fmt == "json":
            assert any(f["path"].endswith(NASTY) for f in json.loads(out)["findings"])  # the data itself is intact
        if fmt == "github":  # one line per finding: the data, file name included, escaped
            assert len(out.splitlines()) == len(json.loads(run(capsys, tmp_path, "--format", "json")[1])["findings"])
        if fmt == "markdown":
            counts, *rows = [line for line in out.splitlines() if line.startswith("| :")]
            assert len(rows) == len(json.loads(run(capsys, tmp_path, "--format", "json")[1])["findings"])
            assert all(len(re.split(r"(?<!\\)\|", row)) == 6 for row in rows), rows  # four cells: nothing broke out
            prose = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", out)  # code spans render literally: no mention, link or tag
            assert "@octocat" not in prose and "www.evil" not in prose and "<b>" not in prose


def test_an_error_quoting_a_file_name_stays_one_line(tmp_path, capsys):
    one_line_error(*run(capsys, tmp_path / "no\n::error::such")[::2], "\\n")


# --- bounded: big files, many findings ---------------------------------------------------------------


def test_a_revision_file_over_the_size_limit_is_reported_with_its_headers_read(tmp_path, capsys):
    body = "\n".join(f'    op.add_column("t{i}", sa.Column("c{i}", sa.Integer(), nullable=True))' for i in range(30000))
    big = revision_file("b", "a", upgrade=body)
    assert len(big) > 2 * 1024 * 1024
    project(tmp_path, {"a.py": revision_file("a"), "b.py": big, "c.py": revision_file("c", "b")})
    started = time.monotonic()
    code, out, _ = run(capsys, tmp_path, "--format", "json")
    assert time.monotonic() - started < 20
    data = json.loads(out)
    rules = {(f["rule"], Path(f["path"]).name) for f in data["findings"]}
    assert ("file-too-large", "b.py") in rules
    assert not {r for r, _ in rules} & {"missing-parent", "multiple-heads"}  # its headers linked the graph
    assert data["summary"]["environments"][0]["revisions"] == 3


def test_thousands_of_heads_give_one_finding_and_a_small_report(tmp_path, capsys):
    project(tmp_path, {f"r{i:04d}.py": f"revision = 'r{i:04d}'\ndown_revision = None\n" for i in range(3000)})
    code, out, _ = run(capsys, tmp_path, "--format", "json", "--select", "multiple-heads")
    assert len(out) < 100_000  # linear in heads (the summary lists them): not one message per head listing all
    (heads,) = json.loads(out)["findings"]
    assert "the history has 3000 heads (r0000, r0001" in heads["message"] and "and 2980 more" in heads["message"]
    assert 'merge -m "merge heads" heads' in heads["message"]


def test_a_huge_header_renders_in_linear_time(tmp_path, capsys):
    parents = tuple(f"p{i}" for i in range(100_000))
    project(tmp_path, {"a.py": f"revision = 'a'\ndown_revision = {parents!r}\n"})
    timings = {}
    for fmt in ("json", "text"):
        started = time.monotonic()
        code, out, _ = run(capsys, tmp_path, "--format", fmt, "--select", "missing-parent")
        timings[fmt] = time.monotonic() - started
        assert code == 1 and len(out) < 50_000
    assert max(len(line) for line in out.splitlines()) < 400  # the code frame is cut
    assert timings["text"] < 3 * timings["json"] + 2
