"""The door's operating point without running the door: for ``occur check-config`` and consoles.

Reads only what the running door would read to decide (the model manifests for the files'
sha256, ``fusion.json`` and, from the database, how many samples each enrolled user holds) and
loads no model, so it is cheap enough for a configuration check or a web page.
"""

from __future__ import annotations

from firmware.config import Config
from firmware.errors import ModelError, OccurError
from firmware.store.db import reading
from firmware.store.encodings import encoded_users
from firmware.store.store import settings_from
from firmware.vision.doorpoint import DoorPoint, DoorRule
from firmware.vision.farcurve import DoorCalibration, load_door_calibration
from firmware.vision.manifest import load_manifests


def gallery_samples(config: Config, models: dict[str, str]) -> list[int]:
    """Samples per enrolled user (the most any model holds), counting only encodings made by
    these model files with their alignment (name -> :attr:`Manifest.encoding_key`, what stored
    encodings are tied to); no database = nobody enrolled.

    Raises:
        StoreError: the database exists but cannot be read.
    """
    path = config.paths.database
    if not path.exists():
        return []
    counts: dict[int, int] = {}
    with reading(path, settings_from(config.storage)) as conn:
        for model, sha in models.items():
            for user, n in encoded_users(conn, model, sha).items():
                counts[user] = max(counts.get(user, 0), n)
    return list(counts.values())


def offline_point(config: Config) -> DoorPoint:
    """The operating point the door would use now with this config and data folder."""
    vision = config.active_vision()
    folder = vision.models_folder()
    try:
        manifests = load_manifests(folder) if folder.is_dir() else {}
    except ModelError as err:
        return DoorRule(DoorCalibration({}, None, str(err))).point([])
    missing = [m for m in vision.models if m not in manifests]
    if missing:
        reason = f"model(s) {', '.join(missing)} not installed in {folder}"
        return DoorRule(DoorCalibration({}, None, reason)).point([])
    shas = {m: manifests[m].sha256 for m in vision.models}
    rule = DoorRule(
        load_door_calibration(folder, shas), vision.stranger_accept_rate, vision.threshold, vision.min_people
    )
    try:
        samples = gallery_samples(config, {m: manifests[m].encoding_key for m in vision.models})
    except OccurError as err:
        return DoorRule(DoorCalibration({}, None, f"the gallery cannot be read: {err}")).point([])
    return rule.point(samples)
