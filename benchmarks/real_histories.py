"""Findings per rule per history, for real Alembic projects checked out somewhere on disk.

    python benchmarks/real_histories.py PATH [PATH ...] [--configs DIR] [--reports DIR]
                                        [--save COUNTS.json] [--compare COUNTS.json] [--markdown]

Each PATH is a repository root (or anything `migration-lint check` accepts).  Prints, per
history: its commit (when it is a git checkout), environments, revisions, time of a cold check,
and the number of findings of each rule.  Nothing is cached.

--configs DIR   the config for history NAME is DIR/NAME.yaml when it exists (the project's context
                -- deploy model, dialect -- as its own docs state it), else the nearest one
--reports DIR   also write each history's JSON report as DIR/NAME.json, paths made absolute, for
                `judge.py sample DIR/*.json`
--save FILE     write the counts (history -> rule -> findings) as JSON
--compare FILE  print the counts beside those saved in FILE (before -> after), per rule and history
"""

from __future__ import annotations

import argparse
import collections
import json
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


def check_history(path: Path, config_dir: Path | None, dialect: str | None):
    from migration_lint import api

    name = path.resolve().name
    config_file = (config_dir / f"{name}.yaml").resolve() if config_dir is not None and (config_dir / f"{name}.yaml").is_file() else None
    cwd = os.getcwd()
    os.chdir(path)  # paths in findings relative to the repository, as a user sees them
    try:
        start = time.perf_counter()
        result = api.check([Path(".")], dialect=dialect, config=api.resolve_config([Path(".")], config_file), use_cache=False)
        return result, time.perf_counter() - start, config_file
    finally:
        os.chdir(cwd)


def write_report(result, path: Path, root: Path) -> None:
    from migration_lint.report.json_report import render_json

    data = json.loads(render_json(result))
    for finding in data["findings"]:
        if not os.path.isabs(finding["path"]):
            finding["path"] = str((root / finding["path"]).resolve())
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--dialect")
    parser.add_argument("--configs", type=Path, help="DIR/NAME.yaml is the config of history NAME")
    parser.add_argument("--reports", type=Path, help="write DIR/NAME.json reports (absolute paths) for judge.py")
    parser.add_argument("--save", type=Path, help="write the counts per history and rule as JSON")
    parser.add_argument("--compare", type=Path, help="counts saved earlier with --save: print before -> after")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables (for docs/evaluation.md)")
    args = parser.parse_args()

    from migration_lint.errors import MigrationLintError

    before = {}
    if args.compare is not None:
        try:
            before = json.loads(args.compare.read_text(encoding="utf-8"))["counts"]
        except (OSError, ValueError, KeyError) as exc:
            print(f"real_histories: error: {args.compare}: not counts saved with --save ({exc})", file=sys.stderr)
            return 2
    if args.reports is not None:
        args.reports.mkdir(parents=True, exist_ok=True)

    rows = []
    counts: dict = {}
    for path in args.paths:
        name = path.resolve().name
        try:
            result, elapsed, config_file = check_history(path, args.configs, args.dialect)
        except MigrationLintError as exc:
            print(f"{name}: error: {exc}", file=sys.stderr)
            continue
        counts[name] = dict(collections.Counter(f.rule for f in result.findings))
        if args.reports is not None:
            write_report(result, args.reports / f"{name}.json", path.resolve())
        envs = ", ".join(f"{e.name} ({e.dialect}, {e.revision_count} rev)" for e in result.environments)
        rows.append((name, commit_of(path), envs, sum(e.revision_count for e in result.environments), elapsed, len(result.findings), config_file.name if config_file else "nearest"))

    if args.save is not None:
        args.save.write_text(json.dumps({"counts": counts, "histories": {r[0]: {"commit": r[1], "revisions": r[3]} for r in rows}}, indent=1, sort_keys=True), encoding="utf-8")

    names = [r[0] for r in rows]
    rules = sorted({rule for c in list(counts.values()) + [before.get(n, {}) for n in names] for rule in c})

    def cell(name: str, rule: str) -> str:
        now = counts.get(name, {}).get(rule, 0)
        if args.compare is None:
            return str(now)
        was = before.get(name, {}).get(rule, 0)
        return str(now) if was == now else f"{was}->{now}"

    def total(rule: str) -> str:
        now = sum(counts[n].get(rule, 0) for n in names)
        was = sum(before.get(n, {}).get(rule, 0) for n in names)
        return str(now) if args.compare is None or was == now else f"{was}->{now}"

    if args.markdown:
        print("| history | commit | config | revisions | cold check | findings | environments |")
        print("| --- | --- | --- | ---: | ---: | ---: | --- |")
        for name, commit, envs, revisions, elapsed, found, config in rows:
            was = sum(before.get(name, {}).values()) if args.compare is not None else None
            print(f"| {name} | `{commit}` | {config} | {revisions} | {elapsed:.2f} s | {found if was is None or was == found else f'{was}->{found}'} | {envs} |")
        print()
        print("| rule | " + " | ".join(names) + " | all |")
        print("| --- | " + " | ".join("---:" for _ in names) + " | ---: |")
        for rule in rules:
            print(f"| `{rule}` | " + " | ".join(cell(n, rule) for n in names) + f" | {total(rule)} |")
        return 0
    for name, commit, envs, revisions, elapsed, found, config in rows:
        print(f"{name} @ {commit} (config: {config}): {revisions} revisions, {found} findings, {elapsed:.2f} s cold; {envs}")
    print()
    width = max([len(r) for r in rules] + [4])
    print(f"{'rule':<{width}}  " + "  ".join(f"{n[:11]:>11}" for n in names) + f"  {'all':>11}")
    for rule in rules:
        print(f"{rule:<{width}}  " + "  ".join(f"{cell(n, rule):>11}" for n in names) + f"  {total(rule):>11}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
