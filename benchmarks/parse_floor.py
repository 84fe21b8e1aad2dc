"""The least a libcst front end can cost: libcst.parse_module of every revision file's top-level
functions (the text migration-lint hands libcst), in as many processes as `check` uses on a cold
run, and nothing else: no imports of migration-lint, no extraction, no rules, no output.

    python benchmarks/parse_floor.py VERSIONS_DIR [--jobs N]
"""

from __future__ import annotations

import argparse
import ast
import multiprocessing
import os
import sys
from pathlib import Path


def functions_text(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    parts = []
    for node in ast.parse(text).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            parts.append("".join(lines[first - 1 : node.end_lineno]))
    return "".join(part if part.endswith("\n") else part + "\n" for part in parts)


def parse(paths) -> int:
    import libcst

    for path in paths:
        libcst.parse_module(functions_text(path))
    return len(paths)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("versions", type=Path)
    parser.add_argument("--jobs", type=int, default=min(os.cpu_count() or 1, 8))
    args = parser.parse_args()
    import libcst  # noqa: F401  (imported once, before the fork, as migration-lint does)

    paths = sorted(args.versions.glob("*.py"))
    chunks = [paths[i :: args.jobs] for i in range(args.jobs)]
    with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
        done = sum(pool.map(parse, chunks))
    print(f"{done} files", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
