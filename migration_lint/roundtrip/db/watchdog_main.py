"""The watchdog process itself (see ``watchdog.py``): ``python -I -S watchdog_main.py GRACE``.

Standard library only, and run in isolated mode: nothing from the environment or the current
directory is imported.  Reads JSON lines from stdin until end of file, then stops the process
groups and removes the directories still on its list.
"""

import json
import os
import shutil
import signal
import sys
import time


def start_time(pid):
    """Field 22 of /proc/<pid>/stat; "" when the process is gone or a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as fh:
            fields = fh.read().rsplit(")", 1)[-1].split()
    except OSError:
        return ""
    return "" if fields[0] in ("Z", "X") else fields[19]


def running(pgid):
    """Whether a live process of group pgid remains (zombies have ended)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as fh:
                fields = fh.read().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


def main(grace):
    groups = {}  # pgid -> (first signal, start time of its leader when registered)
    dirs = []
    try:
        for line in sys.stdin:
            try:
                op, value, *rest = json.loads(line)
            except ValueError:
                continue
            if op == "group":
                groups[value] = (rest[0], start_time(value))
            elif op == "release-group":
                groups.pop(value, None)
            elif op == "dir":
                dirs.append(value)
            elif op == "release-dir" and value in dirs:
                dirs.remove(value)
    except KeyboardInterrupt:
        pass
    # a group whose leader is now another process (the id was reused) is not ours any more
    live = [(pgid, sig) for pgid, (sig, started) in groups.items() if not (started and start_time(pgid) not in ("", started))]
    for pgid, sig in live:
        try:
            if sig == signal.SIGKILL:
                os.killpg(pgid, sig)
            else:
                os.kill(pgid, sig)  # the leader: a server shuts down cleanly, initdb closes its backend's pipe
        except OSError:
            pass
    for last in (False, True):
        deadline = time.monotonic() + grace
        while any(running(pgid) for pgid, _ in live) and time.monotonic() < deadline:
            time.sleep(0.02)
        if last or not any(running(pgid) for pgid, _ in live):
            break
        for pgid, _ in live:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except OSError:
                pass
    for path in dirs:
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main(float(sys.argv[1]))
