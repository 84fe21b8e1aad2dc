"""The README's rule table is generated from the catalogue; this test keeps them in step."""

import re

from conftest import REPO
from migration_lint.catalogue import load_catalogue
from migration_lint.cli import rules_markdown


def readme_table():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- rules:start -->\n(.*?)<!-- rules:end -->", text, re.S)
    assert match, "README.md lost its rules:start/rules:end markers"
    return match.group(1).strip()


def test_readme_rule_table_matches_catalogue():
    expected = rules_markdown(load_catalogue()).strip()
    assert readme_table() == expected, "README rule list is stale: run `python tests/test_readme.py` to regenerate it"


def test_quickstart_has_exactly_two_commands_and_ci_runs_the_test_one():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    quickstart = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)\n```", quickstart, re.S)
    assert len(commands) == 2
    assert "migration-lint check examples/" in commands[0]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci


if __name__ == "__main__":  # regenerate the table
    path = REPO / "README.md"
    text = path.read_text(encoding="utf-8")
    table = rules_markdown(load_catalogue())
    text = re.sub(r"(<!-- rules:start -->\n).*?(<!-- rules:end -->)", lambda m: m.group(1) + table + "\n" + m.group(2), text, flags=re.S)
    path.write_text(text, encoding="utf-8")
    print("README.md rule table regenerated")
