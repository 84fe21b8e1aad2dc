"""Cleanup registry, and every piece of process-wide state the database layer has.

Each ``open_database`` call gets a :class:`Cleanup`: steps pushed as resources come into being
(the drop of a scratch database before it is created, the removal of a temp dir right after it
is made), run last-in first-out when the ``with`` block exits, each in its own ``try``.

Why some state must be process-wide (it is all here, nowhere else):

* ``_OPEN``: ``atexit`` runs once per process and must find every open resource, whoever opened it
  (the CLI, the pytest plugin, a library caller that never exits its ``with`` block).
* ``_HOLD``: signal handlers are per process and run in the main thread between any two Python
  bytecodes.  A handler that raises ``KeyboardInterrupt`` (the CLI's SIGINT/SIGTERM handler,
  Python's default SIGINT handler) can land between "temp dir made" and "its removal registered",
  or halfway through a cleanup step.  Code that must not be cut short runs inside
  :func:`held_interrupts`; a cooperating handler calls :func:`interrupt`, which raises at once
  outside such code and otherwise records the signal, raised as ``KeyboardInterrupt`` when the
  outermost held section ends.
* ``_SIGINT``: while databases are open, Python's default SIGINT handler is replaced by a
  cooperating one (main thread only), so that library callers get the same guarantees.

An interrupt can also land on the call that enters a held section, before anything is held.
Code that makes resources is written so that nothing exists yet at that point; cleanup, which
must run whatever happens, records that it started (``Cleanup.started``) and ``open_database``
calls it again until it has.  (``owner.py`` memoizes this process's identity: a fact, not state.)
"""

from __future__ import annotations

import atexit
import contextlib
import signal
import subprocess
import threading
import time
from typing import Callable, Iterator, List, Optional, Tuple

# --------------------------------------------------------------------------- process-wide state

_OPEN: "set[Cleanup]" = set()  # every Cleanup not yet closed (for cleanup_all / atexit)
_OPEN_LOCK = threading.Lock()


class _Hold:
    depth = 0  # nesting of held_interrupts() in the main thread
    signals: List[int] = []  # signals that arrived meanwhile


_HOLD = _Hold()


class _Sigint:
    users = 0  # open databases that installed the cooperating SIGINT handler
    replaced = None  # the handler it replaced


_SIGINT = _Sigint()


# --------------------------------------------------------------------------- interrupts


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def interrupt(signum: int) -> None:
    """What a SIGINT/SIGTERM handler calls instead of ``raise KeyboardInterrupt``: raise now, or,
    inside :func:`held_interrupts`, when it ends."""
    if _HOLD.depth > 0:
        _HOLD.signals.append(signum)
        return
    _HOLD.signals = []  # one landing just as a held section ended: this raise delivers them too
    raise KeyboardInterrupt


def redeliver(signum: int) -> None:
    """Send ``signum`` to the main thread again a moment from now.

    For a ``KeyboardInterrupt`` that Python swallowed because the signal handler ran inside a
    finalizer or weakref callback ("Exception ignored in ..."): raising it again right away would
    land in the same place (``sys.unraisablehook`` runs there too), so a helper thread sends the
    signal once the finalizer has returned.
    """
    import _thread

    if not hasattr(signal, "pthread_kill"):  # Windows: the run still ends as interrupted, at its end
        return
    target = threading.main_thread().ident

    def later() -> None:
        time.sleep(0.005)
        try:
            signal.pthread_kill(target, signum)
        except (OSError, ValueError):
            pass

    try:
        _thread.start_new_thread(later, ())
    except RuntimeError:  # interpreter shutting down: nothing left to interrupt
        pass


@contextlib.contextmanager
def held_interrupts() -> Iterator[None]:
    """Interrupts arriving inside (through :func:`interrupt`) are raised when it ends.

    For short steps that must complete (make a temp dir and register its removal; start a process
    and register its stop) and for cleanup.  A no-op outside the main thread, where no signal
    handler runs.
    """
    if not _main_thread():
        yield
        return
    _HOLD.depth += 1
    try:
        yield
    finally:
        _HOLD.depth -= 1
        if _HOLD.depth == 0 and _HOLD.signals:
            _HOLD.signals = []
            raise KeyboardInterrupt


def poll(proc: subprocess.Popen) -> Optional[int]:
    """``proc.poll()`` with interrupts held: Popen takes a private lock before its waitpid and an
    interrupt raised between the two leaves that lock taken, after which every poll() says
    "running" and every wait() times out (an interrupted initdb was reported as a TimeoutExpired)."""
    with held_interrupts():
        return proc.poll()


def wait_for(proc: subprocess.Popen, timeout: float) -> int:
    """``proc.wait(timeout)`` that an interrupt may cut short without breaking ``proc``: the
    interrupt lands in the sleep between polls, never inside one."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        code = poll(proc)
        if code is not None:
            return code
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise subprocess.TimeoutExpired(proc.args, timeout)
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.05)


def _cooperating_sigint(signum, frame) -> None:
    interrupt(signum)


def _install_sigint() -> None:
    """Replace Python's default SIGINT handler by a cooperating one while databases are open."""
    if not _main_thread():
        return
    if _SIGINT.users == 0:
        try:
            current = signal.getsignal(signal.SIGINT)
            if current is not signal.default_int_handler:
                return  # someone else's handler (the CLI's cooperates; others are left alone)
            signal.signal(signal.SIGINT, _cooperating_sigint)
        except (ValueError, OSError):
            return
        _SIGINT.replaced = current
    _SIGINT.users += 1


def _restore_sigint() -> None:
    if not _main_thread() or _SIGINT.users == 0:
        return
    _SIGINT.users -= 1
    if _SIGINT.users == 0:
        try:
            if signal.getsignal(signal.SIGINT) is _cooperating_sigint:
                signal.signal(signal.SIGINT, _SIGINT.replaced)
        except (ValueError, OSError):
            pass
        _SIGINT.replaced = None


# --------------------------------------------------------------------------- the registry


class Cleanup:
    """Cleanup steps of one open_database call, run last-in first-out, each in its own try."""

    def __init__(self) -> None:
        self._steps: List[Tuple[str, Callable[[], None]]] = []
        self._lock = threading.Lock()
        self.failures: List[str] = []
        self.started = False  # close() has begun (with interrupts held)
        self._sigint = False

    def open(self) -> None:
        with _OPEN_LOCK:
            _OPEN.add(self)
        _install_sigint()
        self._sigint = True

    def push(self, label: str, fn: Callable[[], None]) -> None:
        with self._lock:
            self._steps.append((label, fn))

    def close(self, on_closed: Optional[Callable[[List[str]], None]] = None) -> List[str]:
        """Run every step, interrupts held until all ran (and ``on_closed(failures)`` with them);
        returns this call's failures.

        An interrupt can still land on the call itself, before anything is held: then ``started``
        is False, nothing ran, and the caller must call ``close()`` again.
        """
        with held_interrupts():
            self.started = True
            from migration_lint.roundtrip.db.redact import one_line

            raised: Optional[BaseException] = None
            while True:
                with self._lock:
                    if not self._steps:
                        break
                    label, fn = self._steps.pop()
                try:
                    fn()
                except (KeyboardInterrupt, SystemExit) as exc:  # not from a signal: finish cleaning, then re-raise
                    raised = raised or exc
                    self.failures.append(f"cleanup interrupted while {label}")
                except BaseException as exc:  # noqa: BLE001 - every step must be attempted
                    self.failures.append(f"cleanup: could not {label}: {one_line(exc)}")
            with _OPEN_LOCK:
                _OPEN.discard(self)
            if self._sigint:
                self._sigint = False
                _restore_sigint()
            if on_closed is not None:
                on_closed(list(self.failures))
            if raised is not None:
                raise raised
        return list(self.failures)


def cleanup_all() -> List[str]:
    """Clean up every throwaway database still open (last resort; registered with atexit).

    Returns the cleanup failures, if any.
    """
    with _OPEN_LOCK:
        pending = list(_OPEN)
    failures: List[str] = []
    for resources in pending:
        close_fully(resources)
        failures.extend(resources.failures)
    return failures


atexit.register(cleanup_all)


def close_fully(resources: Cleanup, on_closed: Optional[Callable[[List[str]], None]] = None) -> None:
    """``resources.close()``, again if an interrupt landed before it could begin; an interrupt or
    exit that arrived meanwhile is raised once everything ran."""
    pending: Optional[BaseException] = None
    while True:
        try:
            resources.close(on_closed)
        except BaseException as exc:  # noqa: BLE001
            if resources.started:
                raise
            pending = pending or exc  # landed on the call: nothing ran yet
            continue
        break
    if pending is not None:
        raise pending


# --------------------------------------------------------------------------- failures travel with exceptions


def attach_failures(exc: BaseException, failures: List[str]) -> None:
    """Record cleanup failures on the exception that ends the run, for the CLI's last line."""
    if failures:
        try:
            exc.migration_lint_cleanup_failures = list(getattr(exc, "migration_lint_cleanup_failures", [])) + list(failures)  # type: ignore[attr-defined]
        except AttributeError:  # pragma: no cover - exceptions without a __dict__
            pass


def failures_of(exc: Optional[BaseException]) -> List[str]:
    """Cleanup failures recorded on ``exc`` and the exceptions it replaced (``__context__``)."""
    found: List[str] = []
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        found.extend(getattr(exc, "migration_lint_cleanup_failures", []))
        exc = exc.__context__
    return found
