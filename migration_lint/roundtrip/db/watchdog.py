"""A watchdog process that stops a local server (and its setup) when migration-lint dies.

``kill -9`` runs no cleanup, and ``PR_SET_PDEATHSIG`` does not help: the servers run as another
user (postgres, mysql) and the death signal is cleared when a process changes credentials.  So
each local backend starts a small Python process in a session of its own whose stdin is the read
end of a pipe only migration-lint holds the write end of.  migration-lint tells it, one JSON line
at a time, which process groups (setup commands, the server) and directories to look after, and
which it has cleaned up itself.  When the pipe reaches end of file (migration-lint closed it, or
died), the watchdog stops the groups still on its list (the server's own clean-shutdown signal,
then SIGKILL after a grace period), waits until they are gone and removes the directories still on
its list.  On a normal run the list is empty by then and it simply exits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Optional

from migration_lint.roundtrip.db.cleanup import Cleanup, held_interrupts, wait_for

GRACE = 5.0  # seconds between the clean-shutdown signal and SIGKILL

_MAIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "watchdog_main.py")


class Watchdog:
    """The migration-lint side of the watchdog (see the module docstring)."""

    def __init__(self, res: Cleanup) -> None:
        self.proc: Optional[subprocess.Popen] = None
        self.fd: Optional[int] = None
        with held_interrupts():  # started and its stop registered, or neither
            read, write = os.pipe()  # not inheritable: only the watchdog gets the read end
            try:
                self.proc = subprocess.Popen(
                    [sys.executable, "-I", "-S", _MAIN, str(GRACE)],
                    stdin=read, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True,
                    start_new_session=True,  # Ctrl-C or a kill of our process group leaves it running
                )
            except OSError:
                os.close(write)
                self.proc = None
            else:
                self.fd = write
            finally:
                os.close(read)
            res.push("stop the watchdog", self.close)

    def _send(self, *message) -> None:
        if self.fd is None:
            return
        try:
            os.write(self.fd, (json.dumps(list(message)) + "\n").encode())  # < PIPE_BUF: one atomic write
        except OSError:  # the watchdog is gone; our own cleanup still runs
            pass

    def guard_group(self, pgid: int, first_signal: int) -> None:
        self._send("group", pgid, int(first_signal))

    def release_group(self, pgid: int) -> None:
        self._send("release-group", pgid)

    def guard_dir(self, path: str) -> None:
        self._send("dir", path)

    def release_dir(self, path: str) -> None:
        self._send("release-dir", path)

    def close(self) -> None:
        """End of file for the watchdog: it stops whatever is still on its list, then exits."""
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)
        if self.proc is not None:
            try:
                wait_for(self.proc, 2 * GRACE + 5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                try:
                    wait_for(self.proc, GRACE + 5)
                except subprocess.TimeoutExpired:
                    pass  # killed; the error below says what went wrong
                raise RuntimeError("the watchdog did not finish") from None
