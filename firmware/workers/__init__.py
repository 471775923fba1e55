"""The running door's periodic work, each on its own thread and schedule (see :mod:`.base`):
status, retention, backups, backup push, update checks and the systemd watchdog. The frame
thread (:mod:`.frames`) does frames and nothing else."""
