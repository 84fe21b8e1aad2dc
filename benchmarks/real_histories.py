"""Findings per rule per history, for real Alembic projects checked out somewhere on disk.

    python benchmarks/real_histories.py PATH [PATH ...] [--dialect D] [--markdown]

Each PATH is a repository root (or anything `migration-lint check` accepts).  Prints, per
history: its commit (when it is a git checkout), environments, revisions, time of a cold check,
and the number of findings of each rule.  Nothing is cached and nothing is written.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import time
from pathlib import Path


def commit_of(path: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip()[:12] if out.returncode == 0 else "-"
    except (OSError, subprocess.SubprocessError):
        return "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--dialect")
    parser.add_argument("--markdown", action="store_true", help="print one Markdown table (for docs/evaluation.md)")
    args = parser.parse_args()

    from migration_lint import api
    from migration_lint.errors import MigrationLintError

    rows = []
    per_rule = collections.defaultdict(dict)
    for path in args.paths:
        name = path.resolve().name
        cwd = os.getcwd()
        os.chdir(path)  # paths in findings relative to the repository, as a user sees them
        try:
            start = time.perf_counter()
            result = api.check([Path(".")], dialect=args.dialect, config=api.resolve_config([Path(".")], None), use_cache=False)
            elapsed = time.perf_counter() - start
        except MigrationLintError as exc:
            print(f"{name}: error: {exc}", file=sys.stderr)
            continue
        finally:
            os.chdir(cwd)
        counts = collections.Counter(f.rule for f in result.findings)
        for rule, count in counts.items():
            per_rule[rule][name] = count
        envs = ", ".join(f"{e.name} ({e.dialect}, {e.revision_count} rev, {len(e.heads)} head)" for e in result.environments)
        rows.append((name, commit_of(path), envs, sum(e.revision_count for e in result.environments), elapsed, len(result.findings)))

    names = [r[0] for r in rows]
    if args.markdown:
        print("| history | commit | revisions | cold check | findings | environments |")
        print("| --- | --- | ---: | ---: | ---: | --- |")
        for name, commit, envs, revisions, elapsed, total in rows:
            print(f"| {name} | `{commit}` | {revisions} | {elapsed:.2f} s | {total} | {envs} |")
        print()
        print("| rule | " + " | ".join(names) + " |")
        print("| --- | " + " | ".join("---:" for _ in names) + " |")
        for rule in sorted(per_rule):
            print(f"| `{rule}` | " + " | ".join(str(per_rule[rule].get(n, 0)) for n in names) + " |")
        return 0
    for name, commit, envs, revisions, elapsed, total in rows:
        print(f"{name} @ {commit}: {revisions} revisions, {total} findings, {elapsed:.2f} s cold; {envs}")
    print()
    width = max([len(r) for r in per_rule] + [4])
    print(f"{'rule':<{width}}  " + "  ".join(f"{n[:10]:>10}" for n in names))
    for rule in sorted(per_rule):
        print(f"{rule:<{width}}  " + "  ".join(f"{per_rule[rule].get(n, 0):>10}" for n in names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
