"""The round trip: upgrade -> downgrade -> upgrade of every revision against a throwaway database.

``databases.py`` provides throwaway databases (local servers, containers, scratch databases on a
server, SQLite files) and always cleans them up (its parts are in ``db/``); ``snapshot.py``
captures and compares schemas; ``runner.py`` drives Alembic and returns results.  Nothing here
prints.
"""
