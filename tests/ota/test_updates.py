"""Model updates over TUF against a real nginx: the good path, attacks refused, a failing
self-test rolled back, and a SIGKILL at every install step leaving a working model set."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from firmware.config import load
from firmware.errors import UpdateError
from firmware.ota.install import Installer
from firmware.store.store import Store
from firmware.vision.engine import FaceEngine
from tests.conftest import query
from tests.ota.repo_fixture import FACES, PEOPLE, Site, broken_model, escaping_manifest, ota, repack, wrong_vectors

UPDATE_AVAILABLE = 10


def identify(site: Site, who: str) -> str | None:
    done = site.occur("identify", str(sorted((FACES / who).glob("*.jpg"))[0]), "--json")
    assert done.returncode == 0, done.stderr  # one readable photo: identify succeeds
    faces = json.loads(done.stdout)["images"][0]["faces"]
    assert faces, done.stdout
    return faces[0]["name"]


def status(site: Site) -> dict[str, object]:
    done = site.occur("ota", "status", "--json")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def model_shas(site: Site) -> set[str]:
    config = load(site.toml, str(site.data))
    engine = FaceEngine.load(config.active_vision())
    return {e.manifest.sha256 for e in engine.embedders}


def test_good_update_is_applied_recorded_and_can_be_rolled_back(site: Site) -> None:
    before = model_shas(site)
    assert site.occur("ota", "check").returncode == UPDATE_AVAILABLE
    done = site.occur("ota", "apply", "--json")
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["status"] == "installed" and outcome["release"] == "models-2026.12"
    assert outcome["selftest"]["sface"]["min_cosine"] > 0.999 and outcome["selftest"]["sface"]["vectors"] >= 4
    samples = query(load(site.toml, str(site.data)).paths, "SELECT count(*) FROM face_samples")[0][0]
    assert outcome["reembedded"] == {"sface": samples}
    after = model_shas(site)
    assert len(after - before) == 1  # sface changed, dlib did not
    state = status(site)
    assert state["installed"] == "models-2026.12" and state["previous"] == "setup" and state["in_progress"] is None
    for who in PEOPLE:
        assert identify(site, who) == who
    paths = load(site.toml, str(site.data)).paths
    kinds = [
        r[0] for r in query(paths, "SELECT event_type FROM system_events WHERE event_type LIKE 'ota_%' ORDER BY id")
    ]
    assert kinds == [
        "ota_download",
        "ota_verify",
        "ota_stage",
        "ota_selftest",
        "ota_reembed",
        "ota_switch",
        "ota_prune",
        "ota_installed",
    ]
    assert query(paths, "SELECT count(*) FROM outbox WHERE payload LIKE '%ota_installed%'")[0][0] == 1
    logged = site.occur("audit", "list", "--json")
    assert "model_update" in logged.stdout, logged.stderr
    # the running file's encodings were kept beside the new ones: rollback is instant and exact
    shas = {r[0] for r in query(paths, "SELECT DISTINCT model_sha256 FROM face_encodings WHERE model = 'sface'")}
    assert len(shas) == 2
    assert site.occur("ota", "check").returncode == 0  # up to date now
    back = site.occur("ota", "rollback", "--json")
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["release"] == "setup" and model_shas(site) == before
    assert identify(site, "amy") == "amy"


def _refused(site: Site, words: str) -> None:
    done = site.occur("ota", "apply")
    assert done.returncode != 0
    assert words in done.stderr, done.stderr
    assert status(site)["installed"] == "setup"
    assert identify(site, "bernadette") == "bernadette"


def _served_bundle(site: Site) -> Path:
    return next((site.repository / "targets" / "channels").glob("*.stable.bundle"))


def test_tampered_and_truncated_bundles_are_refused(site: Site) -> None:
    served = _served_bundle(site)
    original = served.read_bytes()
    body = bytearray(original)
    body[len(body) // 2] ^= 0xFF
    served.write_bytes(bytes(body))
    _refused(site, "differs from its signed length or hash")
    served.write_bytes(original[: len(original) // 3])
    _refused(site, "differs from its signed length or hash")
    served.write_bytes(original + b"\0" * 100_000)  # endless data: never more than the signed length
    _refused(site, "more than the signed")
    served.write_bytes(original)
    assert site.occur("ota", "apply").returncode == 0


def _resign(site: Site, role: str, change: object, key_role: str | None = None) -> None:
    """Edit and re-sign the served metadata of ``role`` as an attacker or a stale mirror would."""
    from tuf.api.metadata import Metadata

    from occur_ota.repo import Repository

    repo = Repository(site.operator)
    path = site.repository / "metadata" / "timestamp.json"
    md = Metadata.from_file(str(path))
    change(md.signed)  # type: ignore[operator]
    md.signatures.clear()
    if key_role is None:
        from securesystemslib.signer import CryptoSigner

        md.sign(CryptoSigner.generate_ed25519())
    else:
        md.sign(repo.signer(key_role))
    md.to_file(str(path))


def test_metadata_attacks_are_refused(site: Site) -> None:
    from datetime import UTC, datetime, timedelta

    timestamp = site.repository / "metadata" / "timestamp.json"
    signed = timestamp.read_bytes()
    _resign(site, "timestamp", lambda s: setattr(s, "expires", datetime.now(UTC) - timedelta(hours=1)), "timestamp")
    _refused(site, "metadata expired")
    _resign(site, "timestamp", lambda s: setattr(s, "version", s.version + 5), None)
    _refused(site, "not signed by the trusted keys")
    tampered = json.loads(signed)
    tampered["signed"]["version"] += 7  # content changed, signature kept
    timestamp.write_text(json.dumps(tampered))
    _refused(site, "not signed by the trusted keys")
    timestamp.write_bytes(signed)
    assert site.occur("ota", "check").returncode == UPDATE_AVAILABLE  # the device now trusts this timestamp
    assert ota("publish", site.operator).returncode == 0
    assert site.occur("ota", "check").returncode == UPDATE_AVAILABLE  # ... and then the newer one
    timestamp.write_bytes(signed)  # a replay of the older, validly signed timestamp
    _refused(site, "older than trusted: a replay")


def test_mixed_metadata_versions_are_refused(site: Site) -> None:
    """Mix-and-match: validly signed targets metadata of another version than the snapshot names."""
    metadata = site.repository / "metadata"
    assert ota("publish", site.operator).returncode == 0
    newest = max(int(f.name.split(".")[0]) for f in metadata.glob("*.targets.json"))
    (metadata / f"{newest}.targets.json").write_bytes((metadata / f"{newest - 1}.targets.json").read_bytes())
    _refused(site, "metadata version refused")


def test_rotated_keys_are_followed_and_old_keys_refused(site: Site) -> None:
    from firmware.ota.install import Installer  # noqa: F401 - the device side must import cleanly

    old_timestamp_key = (site.operator / "keys" / "timestamp.pem").read_bytes()
    assert site.occur("ota", "check").returncode == UPDATE_AVAILABLE
    done = ota("rotate-keys", site.operator, "--role", "timestamp", "--role", "root")
    assert done.returncode == 0, done.stderr
    assert site.occur("ota", "check").returncode == UPDATE_AVAILABLE  # root v2 fetched, new keys trusted
    (site.operator / "keys" / "timestamp.pem").write_bytes(old_timestamp_key)
    _resign(site, "timestamp", lambda s: setattr(s, "version", s.version + 1), "timestamp")
    _refused(site, "not signed by the trusted keys")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (wrong_vectors, "self-test: sface output differs from the expected"),
        (broken_model, "self-test: the release does not load"),
        (escaping_manifest, "names a file the bundle does not carry (sface)"),
    ],
)
def test_failing_self_test_is_rolled_back_and_the_old_model_serves(
    site: Site, good_bundle: Path, tmp_path: Path, change: Any, reason: str
) -> None:
    bad = tmp_path / "bad.bundle"
    repack(good_bundle, bad, "-bad", change)
    assert ota("add", site.operator, bad).returncode == 0 and ota("publish", site.operator).returncode == 0
    before = model_shas(site)
    _refused(site, reason)
    assert model_shas(site) == before
    models = load(site.toml, str(site.data)).paths.models
    assert [p.name for p in (models / "releases").iterdir()] == []  # the staged release is gone
    assert status(site)["last_result"]["status"] == "failed"  # type: ignore[index]


def test_an_update_that_does_not_fit_is_refused_before_writing(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """The card is nearly full (reported free space; filling a real card is not possible here)."""
    import shutil as real_shutil

    from firmware.ota import releases

    usage = real_shutil.disk_usage("/")
    monkeypatch.setattr(releases.shutil, "disk_usage", lambda _p: usage._replace(free=100 << 20))
    config = load(site.toml, str(site.data))
    with Store.open(config.paths) as store, pytest.raises(UpdateError, match="not enough free space"):
        Installer(config, store).apply()
    assert Installer(config).status()["installed"] == "setup"
    assert not list((config.paths.models / "releases").iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("step", ["download", "stage", "selftest", "reembed", "switch"])
def test_power_cut_at_each_step_leaves_a_working_model_set(site: Site, step: str, tmp_path: Path) -> None:
    marker = tmp_path / "killed"
    done = site.occur("ota", "apply", env={"OCCUR_FAULT_KILL_AT": step, "OCCUR_FAULT_MARKER": str(marker)})
    assert done.returncode == -signal.SIGKILL and marker.read_text() == step, done.stderr
    assert status(site)["installed"] in ("setup", "models-2026.12")
    assert len(model_shas(site)) == 2  # both models load and match their manifests
    assert identify(site, "amy") == "amy"
    assert status(site)["in_progress"] == step
    config = load(site.toml, str(site.data))
    with Store.open(config.paths) as store:  # what occur run does at start
        assert Installer(config, store).recover() == step
    assert status(site)["in_progress"] is None and status(site)["last_result"]["status"] == "failed"  # type: ignore[index]
    again = site.occur("ota", "apply", "--json")
    assert again.returncode == 0, again.stderr
    assert status(site)["installed"] == "models-2026.12"
    assert identify(site, "bernadette") == "bernadette"
    models = load(site.toml, str(site.data)).paths.models
    assert not list((models / "releases").glob("*.partial")) and not list((models / "downloads").glob("*"))
    if step == "download":  # the second run resumed the cut download with a Range request
        assert '"GET /repo/targets/channels/' in (site.server.folder / "access.log").read_text()
        assert " 206 " in (site.server.folder / "access.log").read_text()
