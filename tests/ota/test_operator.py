"""``occur-ota`` on the operator's machine: defaults, and clear refusals that change nothing."""

from __future__ import annotations

import re
from pathlib import Path

from firmware.ota import bundle
from firmware.platform.install import built_models_dir
from tests.ota.repo_fixture import ota


def test_bundle_defaults_to_the_doors_model_set_and_a_time_version(tmp_path: Path) -> None:
    out = tmp_path / "models.bundle"
    done = ota("bundle", built_models_dir(), "--out", out)
    assert done.returncode == 0, done.stderr
    info = bundle.read_info(out)
    assert info.models == ("sface", "dlib") and re.fullmatch(r"\d{8}\.\d{6}", info.version)
    assert set(info.selftests) == {"sface", "dlib"} and "fusion.json" in info.files


def test_refusals_name_the_problem(tmp_path: Path) -> None:
    unknown = ota("bundle", built_models_dir(), "--model", "no-such-model", "--out", tmp_path / "x.bundle")
    assert unknown.returncode == 1 and "no manifest for no-such-model" in unknown.stderr
    assert not (tmp_path / "x.bundle").exists()
    not_repo = ota("publish", tmp_path / "nothing")
    assert not_repo.returncode == 1 and "not an occur-ota repository" in not_repo.stderr
    assert ota("init", tmp_path / "fleet").returncode == 0
    keys = sorted(p.name for p in (tmp_path / "fleet" / "keys").iterdir())
    assert keys == ["root.pem", "snapshot.pem", "targets.pem", "timestamp.pem"]
    assert all((tmp_path / "fleet" / "keys" / k).stat().st_mode & 0o077 == 0 for k in keys)
    again = ota("init", tmp_path / "fleet")
    assert again.returncode == 1 and "already holds a repository" in again.stderr
    junk = tmp_path / "junk.bundle"
    junk.write_bytes(b"not a tar at all")
    refused = ota("add", tmp_path / "fleet", junk)
    assert refused.returncode == 1 and "not a readable bundle" in refused.stderr
    assert not list((tmp_path / "fleet" / "repository" / "targets").rglob("*.bundle"))


def test_backup_keygen_writes_a_private_key_once(tmp_path: Path) -> None:
    assert ota("backup-keygen", "--out", tmp_path / "k").returncode == 0
    key, pub = tmp_path / "k" / "operator.key", tmp_path / "k" / "operator.pub"
    assert key.stat().st_mode & 0o777 == 0o600 and pub.stat().st_mode & 0o777 == 0o644
    assert len(bytes.fromhex(key.read_text().strip())) == 32 and len(bytes.fromhex(pub.read_text().strip())) == 32
    before = key.read_bytes()
    again = ota("backup-keygen", "--out", tmp_path / "k")
    assert again.returncode == 1 and key.read_bytes() == before  # never overwrites the operator's key
