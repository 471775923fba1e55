"""People: enrol with consent, enable or disable, change role, forget with a receipt."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

from firmware.config import Config
from firmware.domain import Image
from firmware.errors import InvalidInputError
from firmware.platform.clock import now_iso
from firmware.recognition.enrol import EnrolReport, enrol
from firmware.recognition.forget import Receipt
from firmware.security.audit import audit
from firmware.store import users
from firmware.store.door_records import set_user_active
from firmware.store.store import Store
from firmware.vision.engine import FaceEngine


def require_consent(config: Config, given_by: str | None) -> str | None:
    """Who recorded consent; refuses (before anything is stored) when it is required and missing.

    Raises:
        InvalidInputError: consent is required and ``given_by`` is empty.
    """
    if config.privacy.consent == "required" and not (given_by and given_by.strip()):
        raise InvalidInputError(
            "consent is required for biometric enrolment: say who recorded it (--consent-by WHO), or set "
            '[privacy] consent = "collected_elsewhere" if the site records it'
        )
    return given_by.strip() if given_by else None


def record_consent(store: Store, config: Config, user_id: int | None, given_by: str | None) -> None:
    """Store the consent record and log it."""
    if user_id is None:
        return
    version = config.privacy.consent_text_version
    who = given_by or "collected elsewhere"
    store.write(lambda c: users.record_consent(c, user_id, who, version))
    audit(store, config.paths, "consent", {"given_by": who, "text_version": version}, user_id, config.device.id)


def enrol_person(
    store: Store,
    config: Config,
    engine: FaceEngine,
    name: str,
    images: Iterable[Path | tuple[str, Image]],
    actor: str,
    email: str | None = None,
    role: str | None = None,
    consent_by: str | None = None,
    user_id: int | None = None,
) -> EnrolReport:
    """Enrol photos of one person (see :func:`firmware.recognition.enrol.enrol`), with consent
    checked first and recorded, and the enrolment in the secure log.

    Raises:
        InvalidInputError: consent missing, bad fields, or no usable photo
            (:class:`~firmware.recognition.enrol.NothingEnrolledError` carries the reasons).
        NotFoundError: ``user_id`` names no user (any more).
    """
    consent = require_consent(config, consent_by)
    report = enrol(store, engine, name, images, email, role, user_id=user_id)
    record_consent(store, config, report.user_id, consent)
    data = {"samples": report.sample_ids, "rejected": len(report.rejected), "created": report.created, "by": actor}
    audit(store, config.paths, "enrolment", data, report.user_id, config.device.id)
    return report


def set_active(store: Store, config: Config, user_id: int, active: bool, actor: str) -> users.User:
    """Enable or disable a person at this door (their records stay).

    Raises:
        NotFoundError: no such user.
    """
    with store.reader() as conn:
        user = users.find_user(conn, user_id)
    store.write(lambda c: set_user_active(c, user.id, active, now_iso()))
    audit(store, config.paths, "user_enabled" if active else "user_disabled", {"by": actor}, user.id, config.device.id)
    return user


def set_role(store: Store, config: Config, user_id: int, role: str | None, actor: str) -> None:
    """Change a person's role (the access policy reads it at the next decision).

    Raises:
        InvalidInputError, NotFoundError.
    """
    store.write(lambda c: users.set_role(c, user_id, role))
    audit(store, config.paths, "user_role", {"role": role, "by": actor}, user_id, config.device.id)


def forget_person(store: Store, config: Config, ref: str | int, actor: str) -> tuple[Receipt, int]:
    """Erase a person (templates and their key, samples, chips, snapshots; attendance detached,
    events pseudonymised), drop their key from the local backups, and keep the receipt in the
    secure log. Returns the receipt and its secure-log entry.

    Raises:
        NotFoundError, AmbiguousError: bad reference (nothing erased).
    """
    from firmware.backup.archive import forget_keys_in_local_copies
    from firmware.recognition.forget import forget

    receipt = forget(store, config.paths, ref)
    store.sealer.forget(receipt.user_id)
    forget_keys_in_local_copies(config.paths, receipt.user_id)
    data = {**dataclasses.asdict(receipt), "by": actor}
    seq = audit(store, config.paths, "erasure", data, receipt.pseudonym, config.device.id)
    return receipt, seq
