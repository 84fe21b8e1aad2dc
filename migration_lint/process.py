"""Process-wide state migration-lint changes, all of it, each with the reason it cannot be local.

Everything here is entered as a context manager and restored on the way out; nothing is left
switched for the rest of the process.  (The signal handlers of the command line live in cli.py,
which alone owns the process's exit; the round trip's cleanup registry in roundtrip/, and, while
the round trip runs project code, its connection guard (roundtrip/guard.py: SQLAlchemy class
events), its revision loader (roundtrip/loading.py: alembic.util.load_python_file) and --app's
environment variables and Flask context (roundtrip/app.py).)
"""

from __future__ import annotations

import gc
import sys
from contextlib import contextmanager
from typing import Iterator, Optional


@contextmanager
def quiet_gc() -> Iterator[None]:
    """No cyclic garbage collection while building or unpickling many small objects.

    Why process-wide: the collector has no other switch.  Parsing and unpickling a history
    allocate hundreds of thousands of objects that stay alive; every collection would walk all of
    them again, for nothing (libcst trees and our model hold no reference cycles, so reference
    counting frees what is dropped).  The collector is restored (not run) afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def libcst_validation_skipped() -> Iterator[None]:
    """libcst's per-node validation off, for trees its own parser builds from source CPython's
    parser has already accepted.

    Why process-wide: the check is ``CSTNode.__post_init__`` on the class; there is no per-call
    switch.  It exists for trees built by hand and costs a tenth of the parse for nothing here.
    For the duration of the block only; an embedding program building libcst nodes on another
    thread meanwhile would skip their checks too (migration-lint parses on one thread).  If
    libcst ever moves the hook, nothing is skipped.
    """
    import libcst as cst

    hook = vars(cst.CSTNode).get("__post_init__")
    if hook is None:
        yield
        return
    cst.CSTNode.__post_init__ = _no_validation  # type: ignore[method-assign]
    try:
        yield
    finally:
        cst.CSTNode.__post_init__ = hook  # type: ignore[method-assign]


def _no_validation(self) -> None:
    return None


@contextmanager
def project_importable(root: Optional[str]) -> Iterator[None]:
    """The project's root first on ``sys.path`` while the round trip runs its code (revision
    files import the project, as Alembic's ``prepend_sys_path = .`` does).

    Why process-wide: import resolution has only ``sys.path``.  Removed again afterwards, with the
    project's modules imported meanwhile (another history, or a test, may have a package of the
    same name); static mode never enters this.
    """
    added = root is not None and root not in sys.path
    if added:
        sys.path.insert(0, root)
        before = set(sys.modules)
    try:
        yield
    finally:
        if added and root in sys.path:
            sys.path.remove(root)
        if added:
            import os

            prefix = os.path.realpath(root) + os.sep
            for name in [n for n in sys.modules if n not in before]:
                filename = getattr(sys.modules.get(name), "__file__", None) or ""
                if filename and os.path.realpath(filename).startswith(prefix):
                    del sys.modules[name]
