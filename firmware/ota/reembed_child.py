"""An update's re-embedding step, run in its own process.

Why a process: re-embedding loads the new release's embedding models (and the face mesh model
for mesh-aligned ones) while the door keeps running on the old ones. In the door's process that
put both model sets in one address space: the door's peak RSS through an install was 244.8 MiB
for SFace alone (164 before it; README, "Memory"), above the 200 MiB a 512 MB Pi Zero 2 W can
give it; with the child, 196.4. The new models' memory is returned to the system when the child
exits (glibc would keep much of it in the door's arenas). The self-test already runs the
same way (:mod:`firmware.ota.selftest`), so the unit's memory limit already allows for such a
child.

``python -m firmware.ota.reembed_child`` reads the door's configuration (pickled, from its
parent only, on stdin) and the release folder and model names from its arguments, writes the
new encodings through its own :class:`~firmware.store.store.Store` on the same database (WAL
lets both processes write), and prints one JSON line.
"""

from __future__ import annotations

import json
import logging
import pickle
import sys
from pathlib import Path

from firmware.config import Config
from firmware.errors import OccurError, UpdateError
from firmware.ota.child import run_child
from firmware.store.encodings import users_missing_model
from firmware.store.store import Store

log = logging.getLogger(__name__)


def reembed(config: Config, folder: Path, models: list[str]) -> tuple[dict[str, int], int]:
    """Encodings by ``folder``'s files for every kept chip, beside the running ones.

    Returns:
        Samples embedded per model, and how many samples could not be (no chip, unreadable).

    Raises:
        UpdateError: a user who can be recognised now would not be after the switch.
        ModelError: a model of the release does not load.
    """
    from firmware.recognition.reembed import reembed_with
    from firmware.vision.embed import Embedder
    from firmware.vision.engine import load_landmarks
    from firmware.vision.manifest import load_manifests

    manifests = load_manifests(folder)
    unknown = [m for m in models if m not in manifests]
    if unknown:
        raise UpdateError(f"re-embedding: {folder.name} has no model {', '.join(unknown)}")
    embedders = [Embedder.load(manifests[m], config.vision.threads) for m in models]
    landmarks = load_landmarks(folder) if any(e.needs_mesh for e in embedders) else None
    with Store.open(config.paths, config.storage, create=False) as store:
        report = reembed_with(store, embedders, config.vision.mirror, keep_other_files=True, landmarks=landmarks)
        with store.reader() as conn:
            for e in embedders:
                lost = users_missing_model(conn, e.name, e.manifest.encoding_key)
                if lost:
                    raise UpdateError(f"{len(lost)} users would have no {e.name} encoding (chips unreadable)")
    return dict(report.embedded), len(report.failed)


def run_isolated(config: Config, folder: Path, models: list[str], timeout_s: float) -> dict[str, int]:
    """Run :func:`reembed` in a child process; returns samples embedded per model.

    Raises:
        UpdateError: the child refused the release, crashed (signal) or ran out of time; what
            it wrote before is kept (re-embedding resumes where it stopped).
    """
    answer = run_child(
        "re-embedding", "firmware.ota.reembed_child", [str(folder), *models], timeout_s, pickle.dumps(config)
    )
    if answer.get("failed"):
        log.warning("ota: %d samples could not be re-embedded", int(answer["failed"]))
    return {str(k): int(v) for k, v in dict(answer.get("embedded", {})).items()}


def main(argv: list[str]) -> int:
    """Child entry point: ``FOLDER MODEL...`` with the pickled config on stdin (written by
    :func:`run_isolated` in the parent; never read from anywhere else)."""
    try:
        config = pickle.loads(sys.stdin.buffer.read())  # noqa: S301 - our own parent's pipe
        if not isinstance(config, Config) or not argv:
            raise UpdateError("re-embedding: no configuration or release folder given")
        embedded, failed = reembed(config, Path(argv[0]), argv[1:])
    except (OccurError, ValueError, KeyError, OSError) as err:
        sys.stdout.write(json.dumps({"ok": False, "error": str(err)}) + "\n")
        return 1
    sys.stdout.write(json.dumps({"ok": True, "embedded": embedded, "failed": failed}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
