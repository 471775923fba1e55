"""Tests that need ../shared say so when it is missing, instead of failing with an unrelated
error (an empty list of photos became ``occur enroll: error: the following arguments are
required: IMAGE``)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO


def test_a_test_needing_the_shared_photos_names_what_is_missing(tmp_path: object) -> None:
    target = "tests/recognition/test_enrol.py::test_a_second_enrolment_adds_samples_to_the_same_user"
    env = {**os.environ, "OCCUR_TEST_SHARED": "/nonexistent/shared"}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", target],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode != 0
    assert "needs the project's shared data at /nonexistent/shared" in out.stdout
    assert "usage:" not in out.stdout and "the following arguments are required" not in out.stdout


def test_tests_without_shared_data_still_run(tmp_path: object) -> None:
    target = "tests/vision/test_gallery.py"
    env = {**os.environ, "OCCUR_TEST_SHARED": "/nonexistent/shared"}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", target],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout
