"""Static check speed and memory on a generated 1,000-revision Alembic history.

Prints, in one run, side by side:
  - migration-lint check, cold (empty cache) and warm (nothing changed), and peak memory;
  - `alembic heads` on the same history (what loading it costs Alembic itself);
  - `alembic upgrade head --sql | squawk` (the pipeline users pick today), when squawk is installed
    (`pip install squawk-cli`).

Targets (issue 2): cold <= 3 s, warm <= 0.3 s, peak memory <= 300 MB.

    python benchmarks/bench_check.py [--revisions 1000] [--runs 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from history import generate_history, rev_id  # noqa: E402


def timed(cmd, env=None, cwd=None, stdin=None, shell=False, tree=None):
    """(seconds, peak RSS in MB of the largest process in the tree, returncode).  With ``tree`` (a
    list), the peak of the whole process tree's RSS, all processes together, sampled every 10 ms,
    is appended to it."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, shell=shell)
    sampler = None
    if tree is not None:
        import threading

        peak = [0]
        sampler = threading.Thread(target=_sample_tree, args=(proc, peak), daemon=True)
        sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if sampler is not None:
        sampler.join()
        tree.append(peak[0] / 1024 / 1024)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode not in (0, 1):
        raise SystemExit(f"command failed ({proc.returncode}): {cmd}\n{err[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024, proc.returncode


def _sample_tree(proc, peak) -> None:
    """Sum of the RSS of a process and its descendants, at its highest (Linux /proc)."""
    page = os.sysconf("SC_PAGE_SIZE")
    while proc.poll() is None:
        parents = {}
        rss = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
            rss[int(entry)] = int(fields[21]) * page
        members = {proc.pid}
        grew = True
        while grew:
            grew = False
            for pid, parent in parents.items():
                if parent in members and pid not in members:
                    members.add(pid)
                    grew = True
        peak[0] = max(peak[0], sum(rss.get(pid, 0) for pid in members))
        time.sleep(0.01)


def cpu_times():
    """Aggregate CPU jiffies from /proc/stat (None where there is none)."""
    try:
        with open("/proc/stat") as handle:
            fields = handle.readline().split()[1:]
    except OSError:
        return None
    return [int(v) for v in fields]


def stolen_share(before, after) -> str:
    """Share of CPU time the hypervisor took from this VM in between: on a shared host, the
    figures above are only comparable with each other, within one run."""
    if not before or not after or len(before) < 8:
        return "n/a"
    delta = [b - a for a, b in zip(before, after)]
    total = sum(delta[:8])
    return f"{100 * delta[7] / total:.0f}%" if total else "n/a"


def hostile_file(work: Path, env) -> tuple:
    """A history of 100 small revisions and one of 20 MB (generated data pasted into code): the
    big one is read for its headers only (file-too-large).  (seconds, MB of all processes)."""
    root = work / "big"
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    (root / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/migrations\n")
    (root / "migrations" / "env.py").write_text("")
    for i in range(100):
        down = "None" if i == 0 else repr(f"a{i - 1}")
        (versions / f"a{i}.py").write_text(f'from alembic import op\nimport sqlalchemy as sa\nrevision = "a{i}"\ndown_revision = {down}\ndef upgrade():\n    op.create_table("t{i}", sa.Column("id", sa.Integer(), primary_key=True))\ndef downgrade():\n    op.drop_table("t{i}")\n')
    body = "\n".join(f'    op.add_column("t{i}", sa.Column("c{i}", sa.String(length=50), nullable=True))' for i in range(230_000))
    (versions / "big.py").write_text(f'from alembic import op\nimport sqlalchemy as sa\nrevision = "big"\ndown_revision = "a99"\ndef upgrade():\n{body}\ndef downgrade():\n    pass\n')
    cache = work / "big-cache"
    memory: list = []
    seconds, _, _ = timed([str(Path(sys.executable).parent / "migration-lint"), "check", str(root), "--format", "json"], env={**env, "MIGRATION_LINT_CACHE_DIR": str(cache)}, tree=memory)
    return seconds, memory[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--revisions", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the history here and keep it")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ml-bench-"))
    try:
        root = args.keep or work / "project"
        generate_history(root, args.revisions)
        cache = work / "cache"
        # As on a user's machine: Python keeps bytecode of the tool's modules once it has run
        # (an editable install under PYTHONDONTWRITEBYTECODE would compile them on every run,
        # which site-packages' alembic and sqlalchemy never pay either).
        env = {**os.environ, "MIGRATION_LINT_CACHE_DIR": str(cache)}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        # Alembic imports every revision file; with no __pycache__ in versions/ it compiles them
        # all, as in a fresh CI checkout.  Keep it that way for every timed Alembic run.
        alembic_env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        bindir = Path(sys.executable).parent
        lint = [str(bindir / "migration-lint"), "check", str(root), "--format", "json"]
        if not Path(lint[0]).exists():
            lint = [sys.executable, "-m", "migration_lint", "check", str(root), "--format", "json"]

        timed(lint + ["--no-cache"], env=env)  # untimed: writes the bytecode cache, reads no parse cache
        cpu_before = cpu_times()
        rows = []
        cold, warm, peaks = [], [], []
        for _ in range(args.runs):
            shutil.rmtree(cache, ignore_errors=True)
            seconds, peak, _ = timed(lint, env=env)
            cold.append(seconds)
            peaks.append(peak)
            seconds, peak, _ = timed(lint, env=env)
            warm.append(seconds)
            peaks.append(peak)
        rows.append(("migration-lint check (cold, empty cache)", cold))
        rows.append(("migration-lint check (warm, nothing changed)", warm))
        one_job = []
        for _ in range(args.runs):
            shutil.rmtree(cache, ignore_errors=True)
            one_job.append(timed(lint + ["--jobs", "1"], env=env)[0])
        rows.append(("migration-lint check (cold, --jobs 1)", one_job))
        together = []
        shutil.rmtree(cache, ignore_errors=True)
        timed(lint, env=env, tree=together)
        recent = []  # the last 10 revisions in scope: the rest is read for headers only
        for _ in range(args.runs):
            shutil.rmtree(cache, ignore_errors=True)
            recent.append(timed(lint + ["--start-after", rev_id(args.revisions - 11)], env=env)[0])
        rows.append(("migration-lint check --start-after (last 10 in scope, cold)", recent))

        alembic = str(bindir / "alembic")
        if Path(alembic).exists():
            heads = [timed([alembic, "-c", str(root / "alembic.ini"), "heads"], env=alembic_env, cwd=root)[0] for _ in range(args.runs)]
            rows.append(("alembic heads (loads the same history)", heads))
            squawk = shutil.which("squawk") or (str(bindir / "squawk") if (bindir / "squawk").exists() else None)
            if squawk:
                # squawk reads stdin when given no path; pipefail makes a failing alembic visible
                pipeline = f"set -o pipefail; '{alembic}' -c '{root / 'alembic.ini'}' upgrade head --sql 2>/dev/null | '{squawk}' --reporter json > /dev/null"
                times = [timed(["bash", "-c", pipeline], env=alembic_env, cwd=root)[0] for _ in range(args.runs)]
                rows.append(("alembic upgrade head --sql | squawk --reporter json", times))
            else:
                rows.append(("alembic upgrade head --sql | squawk  (squawk not installed: pip install squawk-cli)", []))

        # The floor of a libcst front end: only libcst.parse_module of each file's functions (what
        # migration-lint hands libcst), nothing else, in as many processes as the check uses.
        floor = [timed([sys.executable, str(HERE / "parse_floor.py"), str(root / "migrations" / "versions")], env=env)[0] for _ in range(args.runs)]
        rows.append(("floor: libcst.parse_module of the functions alone, same processes", floor))

        print(f"history: {args.revisions} revisions, {sum(1 for _ in (root / 'migrations' / 'versions').glob('*.py'))} files; {os.cpu_count()} CPU(s); median (min-max) of {args.runs} runs")
        width = max(len(r[0]) for r in rows)
        for label, times in rows:
            shown = f"{statistics.median(times):7.3f} s   ({min(times):.2f}-{max(times):.2f})" if times else "      - "
            print(f"  {label:<{width}}  {shown}")
        print(f"  {'migration-lint peak memory (largest process)':<{width}}  {max(peaks):7.1f} MB")
        print(f"  {'migration-lint peak memory, cold (all processes together)':<{width}}  {max(together):7.1f} MB")
        big_seconds, big_memory = hostile_file(work, env)
        print(f"  {'a 20 MB revision file among 100 others, cold: time':<{width}}  {big_seconds:7.3f} s")
        print(f"  {'... peak memory (all processes together)':<{width}}  {big_memory:7.1f} MB")
        print(f"  {'CPU time stolen by the hypervisor meanwhile':<{width}}  {stolen_share(cpu_before, cpu_times()):>7}")
        print("targets: cold <= 3 s, warm <= 0.3 s, peak memory <= 300 MB; any input: all processes <= 1 GB")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
