"""A temporary SQLite file."""

from __future__ import annotations

import os

from sqlalchemy.engine import URL

from migration_lint.roundtrip.db.base import Database
from migration_lint.roundtrip.db.cleanup import Cleanup
from migration_lint.roundtrip.db.local import make_temp_dir


def open_sqlite(res: Cleanup) -> Database:
    directory = make_temp_dir("sqlite", res)
    path = os.path.join(directory, "roundtrip.db")

    def reset() -> None:
        for suffix in ("", "-journal", "-wal", "-shm"):
            try:
                os.remove(path + suffix)
            except FileNotFoundError:
                pass
        open(path, "wb").close()  # an empty file is an empty SQLite database

    reset()
    return Database(
        dialect="sqlite",
        url=URL.create("sqlite", database=path),
        description=f"throwaway SQLite file ({path})",
        backend="sqlite",
        startup_seconds=0.0,
        _reset=reset,
    )
