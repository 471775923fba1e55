"""1:N search and fusion on synthetic galleries (exact expectations, no models needed)."""

from __future__ import annotations

import numpy as np
import pytest

from firmware.vision.gallery import Fusion, Gallery
from firmware.vision.manifest import Calibration

FUSION = Fusion({"a": "cosine", "b": "euclidean"}, {"a": Calibration(0.3, 0.9), "b": Calibration(0.4, 0.9)}, 0.5, 0.05)


def unit(v: list[float]) -> np.ndarray:
    x = np.asarray(v, dtype=np.float32)
    return x / np.linalg.norm(x)


def gallery() -> Gallery:
    # user 7 has two samples; user 9 one; model b in raw (non-unit) Euclidean space
    ids = np.array([7, 7, 9], dtype=np.int64)
    a = np.stack([unit([1, 0, 0]), unit([0.9, 0.1, 0]), unit([0, 1, 0])])
    b = np.array([[1, 0, 0], [1.1, 0, 0], [0, 1, 0]], dtype=np.float32)
    return Gallery({"a": (ids, a), "b": (ids, b)}, version=3)


def test_best_user_uses_the_nearest_sample_of_each_model() -> None:
    found = gallery().search({"a": unit([0.9, 0.1, 0]), "b": np.array([1.1, 0, 0], np.float32)}, FUSION)
    assert found.decision == "match" and found.user_id == 7
    assert found.distances["a"] == pytest.approx(0.0, abs=1e-6)
    assert found.distances["b"] == pytest.approx(0.0, abs=1e-6)
    assert found.score == pytest.approx((-0.3 / 0.6 - 0.4 / 0.5) / 2, abs=1e-5)
    assert found.margin is not None and found.margin > 1


def test_nobody_close_enough_is_unknown_with_the_nearest_reported() -> None:
    found = gallery().search({"a": unit([0, 0, 1]), "b": np.array([0, 0, 1], np.float32)}, FUSION)
    assert found.decision == "unknown" and found.user_id is None
    assert found.best_user_id in (7, 9) and found.score is not None and found.score >= FUSION.threshold


def test_two_users_equally_close_is_ambiguous_not_a_guess() -> None:
    probe = {"a": unit([1, 1, 0]), "b": np.array([0.5, 0.5, 0], np.float32)}
    loose = Fusion(FUSION.metrics, FUSION.calibrations, threshold=2.0, margin=0.2)
    found = gallery().search(probe, loose)
    assert found.decision == "ambiguous" and found.user_id is None


def test_missing_model_embedding_or_empty_gallery_never_matches() -> None:
    assert gallery().search({"a": unit([1, 0, 0])}, FUSION).decision == "unknown"
    assert Gallery({}).search({"a": unit([1, 0, 0]), "b": np.zeros(3, np.float32)}, FUSION).decision == "unknown"


def test_rows_must_be_grouped_by_user() -> None:
    with pytest.raises(ValueError, match="grouped by user"):
        Gallery({"a": (np.array([2, 1]), np.eye(2, dtype=np.float32))})


def test_large_gallery_finds_the_planted_user() -> None:
    rng = np.random.default_rng(0)
    n = 20000
    ids = np.arange(1, n + 1, dtype=np.int64)
    a = rng.standard_normal((n, 128)).astype(np.float32)
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b = rng.standard_normal((n, 128)).astype(np.float32) * 0.1
    g = Gallery({"a": (ids, a), "b": (ids, b)})
    found = g.search({"a": a[12344], "b": b[12344]}, FUSION)
    assert found.decision == "match" and found.user_id == 12345


NON_FINITE = [float("nan"), float("inf"), float("-inf")]


@pytest.mark.parametrize("bad", NON_FINITE)
def test_a_non_finite_threshold_or_margin_never_matches(bad: float) -> None:
    """Defence in depth: even if a NaN got past the config, ``score >= nan`` being false must not
    turn every face into a match."""
    probe = {"a": unit([0.9, 0.1, 0]), "b": np.array([1.1, 0, 0], np.float32)}
    assert gallery().search(probe, FUSION).decision == "match"  # the same probe matches normally
    for fusion in (
        Fusion(FUSION.metrics, FUSION.calibrations, threshold=bad, margin=0.05),
        Fusion(FUSION.metrics, FUSION.calibrations, threshold=0.5, margin=bad),
    ):
        found = gallery().search(probe, fusion)
        assert found.decision == "unknown" and found.user_id is None
    stranger = {"a": unit([0, 0, 1]), "b": np.array([0, 0, 1], np.float32)}
    assert gallery().search(stranger, Fusion(FUSION.metrics, FUSION.calibrations, bad, 0.05)).user_id is None


@pytest.mark.parametrize("bad", NON_FINITE)
def test_a_non_finite_score_never_matches(bad: float) -> None:
    # a NaN or infinite probe component makes every distance non-finite
    probe = {"a": unit([0.9, 0.1, 0]), "b": np.array([1.1, bad, 0], np.float32)}
    found = gallery().search(probe, FUSION)
    assert found.decision == "unknown" and found.user_id is None


def test_a_nan_in_another_users_scores_does_not_skip_the_margin_check() -> None:
    """A corrupted gallery row (NaN) for the runner-up must not make the margin NaN and the
    ambiguity check pass: the search fails closed."""
    ids = np.array([7, 9], dtype=np.int64)
    a = np.stack([unit([1, 0, 0]), np.full(3, np.nan, dtype=np.float32)])
    b = np.array([[1, 0, 0], [np.nan, 0, 0]], dtype=np.float32)
    found = Gallery({"a": (ids, a), "b": (ids, b)}).search(
        {"a": unit([1, 0, 0]), "b": np.array([1, 0, 0], np.float32)}, FUSION
    )
    assert found.decision == "unknown" and found.user_id is None


@pytest.mark.parametrize("bad", NON_FINITE)
def test_fused_score_of_non_finite_distances_is_never_under_the_threshold(bad: float) -> None:
    """The 1:1 path (verify) uses Fusion.score: it must not be under any threshold."""
    score = FUSION.score({"a": bad, "b": 0.0})
    assert not FUSION.accepts(score)
    assert not Fusion(FUSION.metrics, FUSION.calibrations, bad, 0.05).accepts(-1.0)


def test_several_frames_are_scored_by_the_weighted_mean_of_their_scores() -> None:
    """A visit's frames: each user's score is the weighted mean of the frames' scores, so one
    frame close to user 7 among frames far from everyone is not a match."""
    near = {"a": unit([1, 0, 0]), "b": np.array([1, 0, 0], np.float32)}
    far = {"a": unit([0, 0, 1]), "b": np.array([0, 0, 1], np.float32)}
    g = gallery()
    single = [g.search(f, FUSION) for f in (near, far)]
    assert single[0].decision == "match" and single[1].decision == "unknown"
    mixed = g.search_frames([near, far, far], [1.0, 1.0, 2.0], FUSION)
    assert mixed.decision == "unknown" and mixed.best_user_id == 7
    assert mixed.score == pytest.approx(0.25 * single[0].score + 0.75 * g.search_frames([far], [1.0], FUSION).score)
    for model in ("a", "b"):
        expected = 0.25 * single[0].distances[model] + 0.75 * g.search_frames([far], [1.0], FUSION).distances[model]
        assert mixed.distances[model] == pytest.approx(expected, abs=1e-6)
    assert g.search_frames([near, near], [1.0, 3.0], FUSION).decision == "match"
    assert g.search_frames([], [], FUSION).decision == "unknown"
