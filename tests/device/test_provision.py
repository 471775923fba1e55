"""First boot against a temporary root folder: identity, keys, config, units, secrets removed."""

from __future__ import annotations

import stat
from pathlib import Path

from firmware import config as config_module
from tests.conftest import REPO, Cli

SETTINGS = """
device_name = "Front door"
[mqtt]
host = "broker.example.org"
port = 8883
tls = true
username = "door-1"
password = "s3cret-mqtt"
[backup]
operator_public_key = "%s"
push_url = "https://backups.example.org/door-1"
push_auth = "user:s3cret-push"
[door]
relay_pin = 23
allowed_roles = ["staff"]
[ota]
repository_url = "https://updates.example.org/occur"
trusted_root_file = "ota-root.json"
channel = "beta"
""" % ("ab" * 32)


def operator_root(boot: Path, tmp_path: Path) -> bytes:
    from occur_ota.repo import Repository

    root_file = Repository(tmp_path / "operator").init()
    (boot / "ota-root.json").write_bytes(root_file.read_bytes())
    return root_file.read_bytes()


def test_first_boot_provisions_once_and_removes_secrets(cli: Cli, tmp_path: Path) -> None:
    root, boot = tmp_path / "root", tmp_path / "boot"
    boot.mkdir()
    settings = boot / "occur-settings.toml"
    settings.write_text(SETTINGS)
    trusted = operator_root(boot, tmp_path)
    result = cli("provision", str(settings), "--root", str(root))
    assert result.status == 0, result.err
    device_id = result.out.split()[2].rstrip(":")
    assert device_id.startswith("door-") and len(device_id) == 11
    toml = root / "etc/occur/occur.toml"
    text = toml.read_text()
    assert "s3cret" not in text and 'password_file = "/etc/occur/mqtt.password"' in text
    assert stat.S_IMODE(toml.stat().st_mode) == 0o600
    assert (root / "etc/occur/mqtt.password").read_text().strip() == "s3cret-mqtt"
    assert stat.S_IMODE((root / "etc/occur/command.key").stat().st_mode) == 0o600
    loaded = config_module.load(toml, environ={})
    assert loaded.device.id == device_id and loaded.door.relay_pin == 23 and loaded.mqtt.tls is True
    assert loaded.ota.trusted_root == "/etc/occur/ota-root.json" and loaded.ota.channel == "beta"
    assert (root / "etc/occur/ota-root.json").read_bytes() == trusted
    keys = root / "var/lib/occur/keys"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700 and (keys / "data.key").stat().st_size == 32
    assert stat.S_IMODE((keys / "device_ed25519.key").stat().st_mode) == 0o600
    unit = root / "etc/systemd/system/occur.service"
    assert (
        str(REPO) in unit.read_text()
        and (root / "etc/systemd/system/multi-user.target.wants/occur.service").is_symlink()
    )
    assert not settings.exists()
    done = (boot / "occur-settings.done.toml").read_text()
    assert "s3cret" not in done and "broker.example.org" in done
    boot_bytes = b"".join(p.read_bytes() for p in boot.iterdir())
    assert b"s3cret" not in boot_bytes
    data_key = (keys / "data.key").read_bytes()
    settings.write_text(SETTINGS)
    again = cli("provision", str(settings), "--root", str(root))
    assert again.status == 2 and "already provisioned" in again.err
    forced = cli("provision", str(settings), "--root", str(root), "--force")
    assert forced.status == 0
    assert (keys / "data.key").read_bytes() == data_key  # the identity and keys survive a forced re-run


def test_bad_settings_are_refused_and_nothing_is_written(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "root"
    settings = tmp_path / "occur-settings.toml"
    settings.write_text('[mqtt]\nhost = "b"\npassword = "x"\n[door]\nrelay_pin = "seventeen"\n')
    result = cli("provision", str(settings), "--root", str(root))
    assert result.status == 2 and "invalid configuration" in result.err
    assert not root.exists() and settings.exists()  # not even the secret files
    settings.write_text('[ota]\nrepository_url = "https://u.example.org"\ntrusted_root_file = "root.json"\n')
    (tmp_path / "root.json").write_text('{"signed": {"_type": "targets"}}')
    result = cli("provision", str(settings), "--root", str(root))
    assert result.status == 2 and "not TUF root metadata" in result.err and not root.exists()
