"""Check out a fetched (bare) repository's HEAD tree into a directory, for real_histories.py.

    python benchmarks/extract_history.py GITDIR DEST

`git archive` fails on snapshots whose largest blobs are listed but absent; this writes every
blob that is present, skips the rest (listing how many), and points DEST/.git at GITDIR so the
tool can read which commit added each revision.  Nothing is executed from the checkout.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def extract(gitdir: Path, dest: Path) -> tuple[int, int]:
    listing = subprocess.run(
        ["git", "--git-dir", str(gitdir), "ls-tree", "-r", "-z", "HEAD"], capture_output=True, check=True
    ).stdout
    entries = []
    for item in listing.split(b"\0"):
        if not item:
            continue
        meta, _, name = item.partition(b"\t")
        mode, kind, sha = meta.split()
        if kind == b"blob" and mode != b"120000":
            entries.append((sha.decode(), name.decode("utf-8", "surrogateescape")))
    proc = subprocess.Popen(
        ["git", "--git-dir", str(gitdir), "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    written = skipped = 0
    for sha, name in entries:
        proc.stdin.write(sha.encode() + b"\n")
        proc.stdin.flush()
        header = proc.stdout.readline().split()
        if len(header) < 3 or header[1] == b"missing":
            skipped += 1
            continue
        data = proc.stdout.read(int(header[2]))
        proc.stdout.read(1)
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written += 1
    proc.stdin.close()
    proc.wait()
    (dest / ".git").write_text(f"gitdir: {gitdir.resolve()}\n", encoding="utf-8")
    return written, skipped


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    gitdir, dest = Path(argv[0]), Path(argv[1])
    if dest.exists() and any(dest.iterdir()):
        print(f"error: {dest} is not empty", file=sys.stderr)
        return 2
    try:
        written, skipped = extract(gitdir, dest)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{dest}: {written} files, {skipped} absent blobs skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
