"""Fleet settings from the boot partition: the site's command key (so building systems can sign
for every door), broker credentials with TLS client files, the backup operator key and the
update root; secrets gone from the boot partition after first boot; the service user owns the
data folder and can read, not change, /etc/occur."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from firmware.comms.commands import sign, verify
from tests.conftest import Cli
from tests.device.test_provision import operator_root

SITE_KEY = "ab12" * 16
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWNsaWVudC1rZXk=\n-----END PRIVATE KEY-----\n"
PEM_CERT = "-----BEGIN CERTIFICATE-----\nY2VydA==\n-----END CERTIFICATE-----\n"

SETTINGS = f"""
device_id = "door-7"
[mqtt]
host = "broker.example.org"
port = 8883
tls = true
username = "door-7"
password = "s3cret-mqtt"
command_key = "{SITE_KEY}"
ca_file = "site-ca.pem"
cert_file = "door-7.pem"
key_file = "door-7.key"
[backup]
operator_public_key = "{"cd" * 32}"
[ota]
repository_url = "https://updates.example.org/occur"
trusted_root_file = "ota-root.json"
"""


def boot_partition(tmp_path: Path, settings: str = SETTINGS) -> Path:
    boot = tmp_path / "boot"
    boot.mkdir()
    (boot / "occur-settings.toml").write_text(settings)
    (boot / "site-ca.pem").write_text(PEM_CERT)
    (boot / "door-7.pem").write_text(PEM_CERT)
    (boot / "door-7.key").write_text(PEM_KEY)
    operator_root(boot, tmp_path)
    return boot


def with_user(root: Path, uid: int = 4321, gid: int = 4322) -> None:
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc" / "passwd").write_text(
        f"root:x:0:0::/root:/bin/sh\noccur:x:{uid}:{gid}::/var/lib/occur:/usr/sbin/nologin\n"
    )


def test_the_site_command_key_signs_for_this_door_and_leaves_the_boot_partition(cli: Cli, tmp_path: Path) -> None:
    boot, root = boot_partition(tmp_path), tmp_path / "root"
    result = cli("provision", str(boot / "occur-settings.toml"), "--root", str(root))
    assert result.status == 0, result.err
    key_file = root / "etc/occur/command.key"
    assert key_file.read_text().strip() == SITE_KEY
    payload = sign(SITE_KEY.encode(), "unlock", time.time(), "nonce-123456")  # what a building system sends
    import json

    assert (
        verify("unlock", json.dumps(payload).encode(), False, key_file.read_text().strip().encode(), 30).name
        == "unlock"
    )
    text = (root / "etc/occur/occur.toml").read_text()
    assert 'ca_file = "/etc/occur/mqtt-ca.pem"' in text and 'key_file = "/etc/occur/mqtt-key.pem"' in text
    assert (root / "etc/occur/mqtt-key.pem").read_text() == PEM_KEY
    assert stat.S_IMODE((root / "etc/occur/mqtt-key.pem").stat().st_mode) == 0o600
    left = {p.name: p.read_text() for p in boot.iterdir()}
    assert "door-7.key" not in left and "occur-settings.toml" not in left
    everything = "".join(left.values())
    for secret in (SITE_KEY, "s3cret-mqtt", "c2VjcmV0LWNsaWVudC1rZXk="):
        assert secret not in everything
    assert "broker.example.org" in left["occur-settings.done.toml"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('command_key = "' + SITE_KEY + '"', 'command_key = "short"'), "command_key must be 64 hex"),
        (
            ('operator_public_key = "' + "cd" * 32 + '"', 'operator_public_key = "xyz"'),
            "operator_public_key must be 64 hex",
        ),
        (('key_file = "door-7.key"', 'key_file = "missing.key"'), "key_file"),
    ],
)
def test_bad_fleet_settings_are_refused_before_anything_is_written(
    cli: Cli, tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    boot, root = boot_partition(tmp_path, SETTINGS.replace(*change)), tmp_path / "root"
    result = cli("provision", str(boot / "occur-settings.toml"), "--root", str(root))
    assert result.status == 2 and message in result.err
    assert not root.exists() and (boot / "occur-settings.toml").exists() and (boot / "door-7.key").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="changing file owners needs root")
def test_the_service_user_owns_its_data_and_reads_its_settings(cli: Cli, tmp_path: Path) -> None:
    boot, root = boot_partition(tmp_path), tmp_path / "root"
    with_user(root)
    result = cli("provision", str(boot / "occur-settings.toml"), "--root", str(root), "--user", "occur")
    assert result.status == 0, result.err
    data = root / "var/lib/occur"
    for path in [data, *data.rglob("*")]:
        assert (path.stat().st_uid, path.stat().st_gid) == (4321, 4322), path
    etc = root / "etc/occur"
    assert (etc.stat().st_uid, etc.stat().st_gid, stat.S_IMODE(etc.stat().st_mode)) == (0, 4322, 0o750)
    modes = {p.name: (p.stat().st_uid, p.stat().st_gid, stat.S_IMODE(p.stat().st_mode)) for p in etc.iterdir()}
    assert modes["occur.toml"] == modes["mqtt.password"] == modes["command.key"] == (0, 4322, 0o640)
    assert modes["mqtt-key.pem"] == (0, 4322, 0o640) and modes["ota-root.json"] == (0, 4322, 0o644)


def test_an_unknown_service_user_is_refused(cli: Cli, tmp_path: Path) -> None:
    boot, root = boot_partition(tmp_path), tmp_path / "root"
    with_user(root)
    result = cli("provision", str(boot / "occur-settings.toml"), "--root", str(root), "--user", "door")
    assert result.status == 2 and "service user 'door' does not exist" in result.err
    assert not (root / "etc/occur").exists() and (boot / "occur-settings.toml").exists()


def test_the_report_lists_what_provisioning_wrote_not_the_whole_root(cli: Cli, tmp_path: Path) -> None:
    """On a device the root is '/': walking it reaches /proc (PermissionError on /proc/1/cwd, as
    the arm64 root build showed) and would list every file of the system."""
    from firmware.device import provision
    from tests.conftest import REPO

    boot, root = boot_partition(tmp_path), tmp_path / "root"
    (root / "home" / "pi").mkdir(parents=True)
    (root / "home" / "pi" / "notes.txt").write_text("not ours")
    report = provision.provision(boot / "occur-settings.toml", root, REPO)
    assert "home/pi/notes.txt" not in report.files
    assert "etc/occur/occur.toml" in report.files and "etc/occur/command.key" in report.files
    assert "etc/systemd/system/occur.service" in report.files and "var/lib/occur/keys/data.key" in report.files
