"""Backups: sealed archives and the local copy (archive), pushing them off the device (push),
and moving a door to new hardware (migration)."""
