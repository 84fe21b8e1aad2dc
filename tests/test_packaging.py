"""The wheel carries the rule catalogue (rules/ is data at the top of the repo)."""

import subprocess
import sys
import zipfile

import pytest

from conftest import REPO


def test_wheel_contains_every_rule_file(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0 and ("Could not find a version" in proc.stderr or "connection" in proc.stderr.lower()):
        pytest.skip(f"cannot fetch the build backend here: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("migration_lint-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    packaged = sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("migration_lint/rules/") and n.endswith(".yaml"))
    assert packaged == sorted(p.name for p in (REPO / "rules").glob("*.yaml"))
    assert "migration_lint/cli.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "migration-lint = migration_lint.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
