"""Who made a scratch database or a temp dir, and whether that process is still running.

A mark names the host, the kernel boot (``/proc/sys/kernel/random/boot_id``), the pid namespace,
the pid and the process start time (``/proc/<pid>/stat`` field 22, clock ticks since boot).  A run
may remove what a dead run left only when the mark proves the owner was a process it can see:
same host name, same boot and same pid namespace (so the pid means the same process table), and
that pid is gone or now belongs to a process that started at another time (pid reuse).  Anything
else (another host or container, an earlier boot, no ``/proc`` to check) is left alone.
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
from typing import Optional

_MARK = "migration-lint-owner/1"
_FIELDS = ("host", "boot", "pidns", "pid", "start")

RUNNING, DEAD, ELSEWHERE, UNKNOWN = "running", "dead", "elsewhere", "unknown"


@dataclasses.dataclass(frozen=True)
class Owner:
    host: str
    boot: str  # "" when unknown
    pidns: str  # "" when unknown
    pid: int
    start: str  # "" when unknown

    def mark(self) -> str:
        """One line of ``[A-Za-z0-9._:=/ -]`` only: safe inside any SQL string literal, with or
        without a driver's ``%`` parameter formatting."""
        values = {"host": self.host, "boot": self.boot, "pidns": self.pidns, "pid": str(self.pid), "start": self.start}
        return _MARK + " " + " ".join(f"{key}={_safe(values[key])}" for key in _FIELDS)

    @property
    def shown(self) -> str:
        return f"pid {self.pid} on {self.host}"


def _safe(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9._:-]", "_", value)


def parse(text: Optional[str]) -> Optional[Owner]:
    """The owner a mark names; None for anything else (no mark, another tool's comment)."""
    if not text or not str(text).startswith(_MARK + " "):
        return None
    values = dict(re.findall(r"(\w+)=(\S*)", str(text)[len(_MARK) + 1:]))
    if not all(key in values for key in _FIELDS) or not values["pid"].isdigit():
        return None
    return Owner(host=values["host"], boot=values["boot"], pidns=values["pidns"], pid=int(values["pid"]), start=values["start"])


def _read(path: str) -> str:
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return ""


def start_time(pid: int) -> str:
    """The start time of process ``pid`` (clock ticks after boot), "" when it does not exist or
    there is no /proc."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return ""
    fields = stat.rsplit(")", 1)[-1].split()  # the command name (field 2) may hold spaces and ")"
    # fields[0] is field 3 (state); field 22 is fields[19]
    if len(fields) < 20 or fields[0] in ("Z", "X"):  # a zombie has finished running
        return ""
    return fields[19]


def _pidns() -> str:
    try:
        return "".join(re.findall(r"\d", os.readlink("/proc/self/ns/pid")))  # "pid:[4026531836]"
    except OSError:
        return ""


_SELF: Optional[Owner] = None


def this_process() -> Owner:
    global _SELF
    pid = os.getpid()
    if _SELF is None or _SELF.pid != pid:  # recomputed after a fork
        _SELF = Owner(
            host=_safe(socket.gethostname()), boot=_safe(_read("/proc/sys/kernel/random/boot_id")), pidns=_pidns(),
            pid=pid, start=start_time(pid),
        )
    return _SELF


def state(owner: Owner) -> str:
    """RUNNING, DEAD (provably: this host, boot and pid namespace, and the process is gone),
    ELSEWHERE (another host, boot or container) or UNKNOWN (cannot be checked here)."""
    me = this_process()
    if (owner.host, owner.boot, owner.pidns) != (me.host, me.boot, me.pidns):
        return ELSEWHERE
    if not (owner.boot and owner.pidns and owner.start and me.start):
        return UNKNOWN  # no /proc: a pid alone cannot tell a dead run from a reused pid
    return RUNNING if start_time(owner.pid) == owner.start else DEAD
