"""Whether ``occur run`` is running on a data folder: its status file (``run/status.json``,
written by the status worker) names a live process and no clean stop.

Read by commands that must not act behind the running door's back (``occur keys rotate``,
``occur pad record``) and by ``occur doctor``, which then takes the camera and pins from the
running door instead of opening them a second time.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def running_status(root: Path) -> dict[str, Any] | None:
    """The running door's status document, or None when ``occur run`` is not running on the data
    folder ``root`` (no status file, an unreadable one, a clean stop, or a dead process). A
    process owned by another user counts as running."""
    try:
        doc = json.loads((root / "run" / "status.json").read_text())
        pid = int(doc.get("pid", 0))
    except (OSError, ValueError, AttributeError):
        return None
    if pid <= 0 or doc.get("stopped"):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return dict(doc)
