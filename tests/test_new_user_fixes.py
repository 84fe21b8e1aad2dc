"""What a new user's first runs found: options that were ignored in silence, reports that cut
paths in two, listings and footers that said less than they should."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ENV_PY, revision_file, write_tree
from migration_lint.cli import main

LONG = "a_rather_long_directory_name_that_a_monorepo_would_have/" * 3


def project(root: Path, folder: str = "") -> Path:
    base = f"{folder}migrations"
    return write_tree(root, {
        f"{folder}alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\n",
        f"{base}/env.py": ENV_PY,
        f"{base}/versions/a.py": revision_file("a", upgrade='op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))', downgrade='op.drop_table("t")'),
        f"{base}/versions/b.py": revision_file("b", "a", upgrade='op.create_index("ix_t_id", "t", ["id"])', downgrade='op.drop_index("ix_t_id", table_name="t")'),
    })


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("args, named", [
    (["--db", "sqlite"], "--db"),
    (["--image", "postgres:16"], "--image"),
    (["--env", "builtin"], "--env"),
    (["--app", "myapp:create_app"], "--app"),
    (["--app-url-env", "DATABASE_URL"], "--app-url-env"),
    (["--base-schema", "schema.sql"], "--base-schema"),
    (["--base-stamp", "a"], "--base-stamp"),
    (["--drift", "--base-schema", "schema.sql"], "--base-schema"),  # a round-trip option, not drift's
])
def test_round_trip_options_without_the_round_trip_are_a_usage_error(in_tmp, capsys, args, named):
    project(in_tmp)
    code, out, err = run(capsys, "check", "--no-cache", *args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and named in err and "--roundtrip" in err


def test_a_path_and_the_header_stay_whole_off_a_terminal(tmp_path):
    project(tmp_path, LONG)
    # a CI log: stdout is a pipe, COLUMNS unset
    env = {k: v for k, v in __import__("os").environ.items() if k != "COLUMNS"}
    done = subprocess.run([sys.executable, "-m", "migration_lint", "check", "--no-cache", LONG], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert done.returncode == 1, done.stderr
    wanted = f"{LONG}migrations/versions/b.py"
    assert any(line.strip() == wanted for line in done.stdout.splitlines()), done.stdout
    header = done.stdout.splitlines()[0]
    assert "dialect" in header and len(header) > 100  # one line, not cut at 100 columns


def test_rules_listing_marks_opt_in_rules(capsys):
    code, out, _ = run(capsys, "rules")
    line = next(line for line in out.splitlines() if line.startswith("drop-index-not-concurrently "))
    assert code == 0 and "(opt-in)" in line
    assert "runs only when selected" in out
    assert not any("(opt-in)" in line for line in out.splitlines() if line.startswith("create-index-not-concurrently "))


def test_markdown_footer_counts_heads(in_tmp, capsys):
    project(in_tmp)
    _, out, _ = run(capsys, "check", "--no-cache", "--format", "markdown")
    assert ", head b" in out and "heads" not in out
    write_tree(in_tmp, {"migrations/versions/c.py": revision_file("c", "a", upgrade='op.create_table("u", sa.Column("id", sa.Integer(), primary_key=True))', downgrade='op.drop_table("u")')})
    _, out, _ = run(capsys, "check", "--no-cache", "--format", "markdown")
    assert ", heads b, c" in out or ", heads c, b" in out


def test_sarif_text_is_sentences(in_tmp, capsys):
    project(in_tmp)
    _, out, _ = run(capsys, "check", "--no-cache", "--format", "sarif")
    (result,) = [r for r in json.loads(out)["runs"][0]["results"] if r["ruleId"] == "create-index-not-concurrently"]
    text = result["message"]["text"]
    message, fix = text.split(" Fix: ")
    assert message.endswith(".") and fix.endswith((".", "`", ")"))
