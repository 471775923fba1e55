"""The documented face verification storage API (firmware.compat) on dlib encodings."""

from __future__ import annotations

import numpy as np
import pytest

from firmware import compat
from firmware.config import Paths
from firmware.errors import NotFoundError
from firmware.store import users


def test_store_retrieve_and_verify(compat_env: Paths) -> None:
    store = compat._store()
    alice = store.write(lambda c: users.add_user(c, "Alice"))
    bob = store.write(lambda c: users.add_user(c, "Bob"))
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 0.1, 128), rng.normal(0, 0.1, 128)
    compat.store_face_encoding(alice, a)
    compat.store_face_encoding(str(bob), b.tolist())
    assert np.allclose(compat.retrieve_face_encoding(alice), a, atol=1e-7)
    assert compat.retrieve_face_encoding(bob) is not None
    near = compat.verify_face(a + 0.01)
    assert near.verified and near.user_id == alice and near.name == "Alice" and near.distance < 0.6
    far = compat.verify_face(a + 1.0)
    assert not far.verified and far.distance is not None and far.distance > 0.6
    assert compat.verify_face(a + 0.01, threshold=0.05).verified is False


def test_no_encodings_means_not_verified(compat_env: Paths) -> None:
    result = compat.verify_face(np.zeros(128))
    assert result == compat.VerificationResult(False, None, None, None)


def test_bad_input_is_refused_and_nothing_written(compat_env: Paths) -> None:
    alice = compat._store().write(lambda c: users.add_user(c, "Alice"))
    with pytest.raises(ValueError, match="128 numbers"):
        compat.store_face_encoding(alice, np.zeros(127))
    with pytest.raises(ValueError, match="NaN"):
        compat.store_face_encoding(alice, np.full(128, np.nan))
    with pytest.raises(NotFoundError):
        compat.store_face_encoding("alicia", np.zeros(128))  # a name that is nobody's (names are accepted)
    with pytest.raises(ValueError, match="id or name"):
        compat.store_face_encoding(1.5, np.zeros(128))  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        compat.store_face_encoding(999, np.zeros(128))
    with pytest.raises(ValueError, match="threshold"):
        compat.verify_face(np.zeros(128), threshold=0)
    assert compat.retrieve_face_encoding(alice) is None
