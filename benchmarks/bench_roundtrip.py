"""Round-trip speed on a generated, runnable history, side by side with pytest-alembic.

Prints, in one run:
  - `migration-lint check --roundtrip` (upgrade, downgrade, upgrade of every revision, with three
    schema snapshots and two comparisons per revision) against a PostgreSQL server;
  - the same with `--trace` (the lock and rewrite trace of every first upgrade) on the same
    history and server, the two alternated --repeat times, best of each, and what the trace adds;
  - pytest-alembic's `test_up_down_consistency` (upgrade every revision one by one, then downgrade
    them one by one; no schema comparison) on the same history and the same server
    (`pip install pytest-alembic 'pytest<9.2'`);
  - the start time of each throwaway database backend available here.

Targets: no slower than pytest-alembic although it also compares schemas (issue 3); the trace
adds at most 30 % to the round trip.

    python benchmarks/bench_roundtrip.py [--revisions 60] [--repeat 3] [--url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from history import generate_history  # noqa: E402

CONFTEST = '''import pytest
import sqlalchemy


@pytest.fixture
def alembic_engine():
    return sqlalchemy.create_engine({url!r}, poolclass=sqlalchemy.pool.NullPool)
'''


def scratch_database(url: str):
    import sqlalchemy as sa

    scheme, rest = url.split("://", 1)
    if "+" not in scheme and scheme.startswith("postgres"):
        url = f"postgresql+psycopg2://{rest}"  # SQLAlchemy 2.1 would pick psycopg 3
    name = f"bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return engine, name, sa.make_url(url).set(database=name).render_as_string(hide_password=False)


def drop_database(engine, name: str) -> None:
    with engine.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--revisions", type=int, default=60)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres", help="a PostgreSQL server URL, or 'local': a server of its own from the local binaries (no other load)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the round trip with and without --trace, alternated (best of each)")
    args = parser.parse_args()
    if args.url != "local":
        return run(args)
    from migration_lint.roundtrip.databases import open_database

    with open_database("local", "postgresql", notes=[]) as database:  # stopped and removed afterwards
        args.url = database.url.render_as_string(hide_password=False)
        print(f"server: {database.description}")
        return run(args)


def run(args) -> int:
    work = Path(tempfile.mkdtemp(prefix="ml-bench-rt-"))
    rows = []
    try:
        root = work / "project"
        generate_history(root, args.revisions)
        bindir = Path(sys.executable).parent
        lint = str(bindir / "migration-lint") if (bindir / "migration-lint").exists() else None
        command = [lint] if lint else [sys.executable, "-m", "migration_lint"]
        env = {**os.environ, "MIGRATION_LINT_CACHE_DIR": str(work / "cache")}
        import json

        trip_rules = {"roundtrip-upgrade-failed", "roundtrip-downgrade-failed", "reupgrade-failed", "downgrade-leaves-trace", "reupgrade-differs"}
        import resource

        best = {False: None, True: None}
        cpu = {False: None, True: None}  # the command's own CPU time: what a loaded server does not blur
        described = {}
        for _ in range(max(args.repeat, 1)):
            for trace in (False, True):  # alternated: a warmer server or page cache favours neither
                used = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                proc = subprocess.run(command + ["check", str(root), "--roundtrip", "--db", args.url, "--format", "json", "--no-cache"] + (["--trace"] if trace else []), env=env, capture_output=True, text=True)
                elapsed = time.perf_counter() - start
                now = resource.getrusage(resource.RUSAGE_CHILDREN)
                spent = (now.ru_utime - used.ru_utime) + (now.ru_stime - used.ru_stime)
                cpu[trace] = spent if cpu[trace] is None else min(cpu[trace], spent)
                if proc.returncode not in (0, 1):
                    print(proc.stderr[-2000:], file=sys.stderr)
                    return 1
                report = json.loads(proc.stdout)
                problems = [f for f in report["findings"] if f["rule"] in trip_rules]
                traced = [s for env_ in report["summary"]["environments"] for r in (env_.get("roundtrip") or {}).get("revisions", []) for s in r["trace"]]
                described[trace] = f"{len(problems)} round-trip findings" + (f", {len(traced)} statements traced" if trace else "")
                best[trace] = elapsed if best[trace] is None else min(best[trace], elapsed)
        rows.append((f"migration-lint check --roundtrip ({args.revisions} revisions, {described[False]}; best of {args.repeat})", best[False]))
        rows.append((f"migration-lint check --roundtrip --trace ({described[True]}; best of {args.repeat})", best[True]))
        added = (best[True] - best[False]) / best[False] * 100
        rows.append((f"  the trace adds {added:+.1f} % (target: at most +30 %); CPU time of the command {cpu[False]:.1f} s -> {cpu[True]:.1f} s ({(cpu[True] - cpu[False]) / cpu[False] * 100:+.1f} %)", ""))

        try:
            import pytest_alembic  # noqa: F401
        except ImportError:
            pytest_alembic = None
        if pytest_alembic is not None:
            engine, name, url = scratch_database(args.url)
            try:
                # pytest-alembic binds its built-in tests to tests/conftest.py (its default)
                (root / "tests").mkdir(exist_ok=True)
                (root / "tests" / "conftest.py").write_text(CONFTEST.format(url=url))
                start = time.perf_counter()
                proc = subprocess.run(
                    [sys.executable, "-m", "pytest", "--test-alembic", "-k", "test_up_down_consistency", "-q", "-p", "no:cacheprovider", "--rootdir", str(root), "tests"],
                    cwd=root, capture_output=True, text=True,
                )
                elapsed = time.perf_counter() - start
                verdict = "passed" if proc.returncode == 0 else f"exit {proc.returncode}"
                rows.append((f"pytest-alembic test_up_down_consistency ({verdict})", elapsed))
                if proc.returncode != 0:
                    print(proc.stdout[-1500:], file=sys.stderr)
            finally:
                drop_database(engine, name)
        else:
            rows.append(("pytest-alembic test_up_down_consistency (not installed: pip install pytest-alembic 'pytest<9.2')", None))

        from migration_lint.errors import MigrationLintError
        from migration_lint.roundtrip.databases import open_database

        for label, spec, dialect in (("local PostgreSQL", "local", "postgresql"), ("local MariaDB", "local", "mysql"), ("SQLite file", "sqlite", "sqlite"), ("scratch database on the server", args.url, "postgresql"), ("Docker container", "docker", "postgresql")):
            try:
                start = time.perf_counter()
                with open_database(spec, dialect, notes=[]) as database:
                    ready = database.startup_seconds or (time.perf_counter() - start)
                rows.append((f"throwaway database ready: {label}", ready))
            except MigrationLintError as exc:
                rows.append((f"throwaway database: {label} (unavailable: {str(exc)[:60]})", None))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    width = max(len(r[0]) for r in rows)
    print(f"{os.cpu_count()} CPU(s)")
    for label, seconds in rows:
        if seconds == "":  # a comment on the row above
            print(f"  {label}")
            continue
        print(f"  {label:<{width}}  {seconds:8.3f} s" if seconds is not None else f"  {label:<{width}}         -")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
