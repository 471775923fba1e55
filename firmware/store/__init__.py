"""SQLite storage: one database file, one writer, numbered migrations.

:mod:`firmware.store.db` is the only module that imports apsw; the rest of the package uses the
connection it returns and the errors it translates.
"""
