"""The parts of the throwaway-database layer (``migration_lint.roundtrip.databases`` is its entry point).

``base``          :class:`Database`, :class:`DatabaseError`, drivers and admin engines
``cleanup``       the cleanup registry and the process-wide state: open resources, ``atexit``,
                  interrupts held while cleanup must not be cut short
``redact``        passwords out of every URL and message
``owner``         who made a scratch database or temp dir (host, boot, pid namespace, pid, start time)
``dialect_sql``   the PostgreSQL and MySQL/MariaDB statements: create, mark, drop, inspect, list
``server_url``    a scratch database on a server given by URL, and the sweep of dead runs' ones
``local``         throwaway local servers (initdb/postgres, mariadb-install-db/mariadbd)
``watchdog``      a process that stops a local server when migration-lint dies (SIGKILL);
                  ``watchdog_main`` is that process
``container``     Docker containers via testcontainers
``sqlite_file``   temporary SQLite files
"""
