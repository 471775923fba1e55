"""First boot: turn a freshly flashed SD card into a unique, secured appliance.

``occur provision SETTINGS --root /`` (run once by ``occur-firstboot.service``) reads the settings
file dropped on the boot partition and, under ``--root``:

- creates the device identity: id (given or ``door-<6 hex>``), Ed25519 signing key and data key
  (``/var/lib/occur/keys``, 0700/0600), MQTT command key (``/etc/occur/command.key``);
- writes ``/etc/occur/occur.toml`` (0600) and the secrets it points to (MQTT password, backup
  push credentials, operator public key) as separate 0600 files: never in the TOML;
- installs the update repository's TUF root metadata (``[ota] trusted_root_file``) as
  ``/etc/occur/ota-root.json``;
- installs and enables ``occur.service`` (the unit from ``provisioning/``);
- removes the settings file from the boot partition, keeping a copy without secrets
  (``occur-settings.done.toml``), and writes ``/var/lib/occur/.provisioned``: a second run is
  refused unless ``--force``.

Wi-Fi stays with the OS (Raspberry Pi Imager / NetworkManager).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware import config as config_module
from firmware.crypto.keys import Keys
from firmware.errors import ConfigError, InvalidInputError
from firmware.platform.fileio import write_private

SECRET_KEYS = {("mqtt", "password"), ("mqtt", "command_key"), ("backup", "push_auth"), ("web", "admin_password")}
_HEX_KEY = re.compile(r"[0-9a-fA-F]{64}")
PUBLIC_FILES = {"ota-root.json", "operator.pub", "mqtt-ca.pem", "mqtt-cert.pem", "web-cert.pem"}
PASSTHROUGH = ("door", "camera", "vision", "loop", "snapshots", "retention", "privacy", "logging")


@dataclass
class ProvisionReport:
    """What first boot created."""

    device_id: str
    files: list[str] = field(default_factory=list)
    web_fingerprint: str = ""  # SHA-256 of the console's certificate, to compare on first connection


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise InvalidInputError(f"settings value {value!r} is not a string, number, boolean or list")


def _toml(sections: dict[str, dict[str, Any]], top: dict[str, Any]) -> str:
    lines = [f"{k} = {_toml_value(v)}" for k, v in top.items()]
    for name, values in sections.items():
        if values:
            lines += ["", f"[{name}]", *(f"{k} = {_toml_value(v)}" for k, v in values.items())]
    return "\n".join(lines) + "\n"


def _tls_files(mqtt: dict[str, Any], settings_file: Path, etc: Path) -> tuple[list[tuple[Path, str, int]], list[Path]]:
    """``[mqtt] ca_file``, ``cert_file``, ``key_file`` given as file names beside the settings
    (on the boot partition) are copied to ``/etc/occur``; returns the files to write and the
    private keys to remove from the boot partition afterwards."""
    pending: list[tuple[Path, str, int]] = []
    remove: list[Path] = []
    for key, mode in (("ca_file", 0o644), ("cert_file", 0o644), ("key_file", 0o600)):
        name = mqtt.get(key)
        if not isinstance(name, str) or not name or Path(name).is_absolute():
            continue
        source = settings_file.parent / name
        try:
            text = source.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as err:
            raise InvalidInputError(f"[mqtt] {key} {source}: not a readable PEM file ({err})") from err
        if "-----BEGIN " not in text:
            raise InvalidInputError(f"[mqtt] {key} {source}: not a PEM file")
        pending.append((etc / f"mqtt-{key.removesuffix('_file')}.pem", text, mode))
        mqtt[key] = f"/etc/occur/mqtt-{key.removesuffix('_file')}.pem"
        if key == "key_file":
            remove.append(source)
    return pending, remove


def _secrets_to_files(
    settings: dict[str, Any], etc: Path, sections: dict[str, dict[str, Any]]
) -> list[tuple[Path, str, int]]:
    """Move secrets out of the config sections into files to write; returns the files."""
    pending: list[tuple[Path, str, int]] = []
    mqtt = sections.get("mqtt", dict(settings.get("mqtt", {})))
    if mqtt:
        if "password" in mqtt:
            pending.append((etc / "mqtt.password", str(mqtt.pop("password")) + "\n", 0o600))
            mqtt["password_file"] = "/etc/occur/mqtt.password"  # noqa: S105 - a path, not a password
        given = mqtt.pop("command_key", None)
        if given is not None:
            if not isinstance(given, str) or not _HEX_KEY.fullmatch(given):
                raise InvalidInputError("[mqtt] command_key must be 64 hex characters (a 256-bit key)")
            pending.append((etc / "command.key", given.lower() + "\n", 0o600))
        elif not (etc / "command.key").exists():
            pending.append((etc / "command.key", secrets.token_hex(32) + "\n", 0o600))
        mqtt["command_key_file"] = "/etc/occur/command.key"
        sections["mqtt"] = mqtt
    backup = dict(settings.get("backup", {}))
    if "operator_public_key" in backup:
        if not _HEX_KEY.fullmatch(str(backup["operator_public_key"])):
            raise InvalidInputError("[backup] operator_public_key must be 64 hex characters (occur-ota backup-keygen)")
        pending.append((etc / "operator.pub", str(backup.pop("operator_public_key")) + "\n", 0o644))
        backup["operator_public_key_file"] = "/etc/occur/operator.pub"
    if "push_auth" in backup:
        pending.append((etc / "push.auth", str(backup.pop("push_auth")) + "\n", 0o600))
        backup["push_auth_file"] = "/etc/occur/push.auth"
    if backup:
        sections["backup"] = backup
    return pending


def _ota_root(
    settings: dict[str, Any], settings_file: Path, etc: Path, sections: dict[str, dict[str, Any]]
) -> list[tuple[Path, str, int]]:
    """``[ota]``: the TUF root metadata file named by ``trusted_root_file`` (on the boot
    partition, beside the settings) becomes ``/etc/occur/ota-root.json``, the device's anchor
    of trust for model updates."""
    ota = dict(settings.get("ota", {}))
    if not ota:
        return []
    name = ota.pop("trusted_root_file", "")
    pending = []
    if name:
        source = settings_file.parent / str(name)
        try:
            text = source.read_text(encoding="utf-8")
            if json.loads(text)["signed"]["_type"] != "root":
                raise ValueError("not a TUF root")
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise InvalidInputError(f"[ota] trusted_root_file {source}: not TUF root metadata ({err})") from err
        pending.append((etc / "ota-root.json", text, 0o644))
        ota["trusted_root"] = "/etc/occur/ota-root.json"
    elif ota.get("repository_url"):
        raise InvalidInputError("[ota] repository_url needs trusted_root_file (the repository's root metadata)")
    sections["ota"] = ota
    return pending


def _web(
    settings: dict[str, Any], settings_file: Path, etc: Path, sections: dict[str, dict[str, Any]]
) -> tuple[list[tuple[Path, str, int]], tuple[str, str] | None]:
    """``[web]``: the console is turned on; an operator-supplied certificate and key (files on
    the boot partition named by ``cert_file`` / ``key_file``) go to ``/etc/occur``; the first
    admin (``admin_name`` / ``admin_password``) is returned to be created, never written as text.

    Raises:
        InvalidInputError: a half-given admin or certificate, or an unreadable certificate file.
    """
    web = {"enabled": True, **dict(settings.get("web", {}))}
    name, password = web.pop("admin_name", None), web.pop("admin_password", None)
    if (name is None) != (password is None):
        raise InvalidInputError("[web] admin_name and admin_password go together")
    pending = []
    if ("cert_file" in web) != ("key_file" in web):
        raise InvalidInputError("[web] cert_file and key_file go together")
    if "cert_file" in web:
        for key, target, mode in (("cert_file", "web-cert.pem", 0o644), ("key_file", "web-key.pem", 0o600)):
            source = settings_file.parent / str(web[key])
            try:
                pending.append((etc / target, source.read_text(encoding="utf-8"), mode))
            except (OSError, UnicodeDecodeError) as err:
                raise InvalidInputError(f"[web] {key} {source}: {err}") from err
            web[key] = f"/etc/occur/{target}"
    sections["web"] = web
    if name is not None:
        from firmware.security.accounts import validate

        validate(str(name), "admin", str(password))
    return pending, (None if name is None else (str(name), str(password)))


def _web_identity(data_dir: Path, device_id: str, admin: tuple[str, str] | None, supplied: bool) -> str:
    """Make the console's certificate (unless the operator supplied one) and the first admin;
    returns the certificate's fingerprint ('' when supplied)."""
    from firmware.config import Paths
    from firmware.crypto.keys import make_tls_certificate
    from firmware.security.accounts import create
    from firmware.store.store import Store

    fingerprint = ""
    if not supplied:
        names = [device_id, f"{device_id}.local", "localhost", "127.0.0.1", "::1"]
        fingerprint = make_tls_certificate(data_dir / "web" / "key.pem", data_dir / "web" / "cert.pem", names)
    if admin is not None:
        with Store.open(Paths(data_dir)) as store:
            create(store, admin[0], "admin", admin[1], "provisioning")
    return fingerprint


def _install_units(root: Path, install_dir: Path) -> None:
    unit = (install_dir / "provisioning" / "occur.service").read_text().replace("@REPO@", str(install_dir))
    units = root / "etc/systemd/system"
    write_private(units / "occur.service", unit.encode(), 0o644)
    wants = units / "multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    link = wants / "occur.service"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to("../occur.service")


def _retire_settings(settings_file: Path, settings: dict[str, Any]) -> None:
    redacted = {
        k: ({kk: vv for kk, vv in v.items() if (k, kk) not in SECRET_KEYS} if isinstance(v, dict) else v)
        for k, v in settings.items()
    }
    text = _toml(
        {k: v for k, v in redacted.items() if isinstance(v, dict)},
        {k: v for k, v in redacted.items() if not isinstance(v, dict)},
    )
    write_private(settings_file.with_name("occur-settings.done.toml"), text.encode())
    settings_file.unlink()


def _account(root: Path, user: str) -> tuple[int, int]:
    """uid and gid of ``user`` in ``root``'s own ``/etc/passwd`` (the image's, not the host's).

    Raises:
        InvalidInputError: no such user there.
    """
    try:
        lines = (root / "etc/passwd").read_text().splitlines()
    except OSError as err:
        raise InvalidInputError(f"cannot read {root / 'etc/passwd'} to find the service user: {err}") from err
    for line in lines:
        fields = line.split(":")
        if len(fields) >= 4 and fields[0] == user:
            return int(fields[2]), int(fields[3])
    raise InvalidInputError(f"the service user {user!r} does not exist in {root / 'etc/passwd'}")


def _hand_over(root: Path, user: str, etc: Path, data_dir: Path) -> None:
    """The service user owns the data folder; ``/etc/occur`` stays root's, readable by the
    user's group (0750, files 0640; public files 0644), so the door reads its settings and
    secrets but cannot change them."""
    uid, gid = _account(root, user)
    for path in [data_dir, *data_dir.rglob("*")]:
        os.chown(path, uid, gid, follow_symlinks=False)
    os.chown(etc, 0, gid)
    etc.chmod(0o750)
    for path in etc.iterdir():
        os.chown(path, 0, gid)
        path.chmod(0o644 if path.name in PUBLIC_FILES else 0o640)


def provision(
    settings_file: Path, root: Path, install_dir: Path, force: bool = False, user: str | None = None
) -> ProvisionReport:
    """Run first boot against ``root`` (``/`` on a device, a folder in tests).

    Args:
        user: the service user (``occur`` on an image) that gets the data folder and may read
            ``/etc/occur``; None leaves every file owned by the caller.

    Raises:
        InvalidInputError: already provisioned (without ``force``), settings that would give an
            invalid configuration, or an unknown ``user`` (nothing is written then).
    """
    if user is not None:
        _account(root, user)
    data_dir, etc = root / "var/lib/occur", root / "etc/occur"
    marker = data_dir / ".provisioned"
    if marker.exists() and not force:
        raise InvalidInputError(f"already provisioned ({marker}); pass --force to provision again")
    try:
        settings = tomllib.loads(settings_file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise InvalidInputError(f"{settings_file}: {err}") from err
    device_id = str(settings.get("device_id") or f"door-{secrets.token_hex(3)}")
    report = ProvisionReport(device_id)
    sections: dict[str, dict[str, Any]] = {"device": {"id": device_id, "name": settings.get("device_name", device_id)}}
    for name in PASSTHROUGH:
        if isinstance(settings.get(name), dict):
            sections[name] = dict(settings[name])
    tls, private_keys = _tls_files(sections.setdefault("mqtt", dict(settings.get("mqtt", {}))), settings_file, etc)
    if not sections["mqtt"]:
        del sections["mqtt"]
    pending = tls + _secrets_to_files(settings, etc, sections) + _ota_root(settings, settings_file, etc, sections)
    web_files, admin = _web(settings, settings_file, etc, sections)
    pending += web_files
    text = _toml(sections, {"data_dir": "/var/lib/occur"})
    try:
        config_module.from_mapping(tomllib.loads(text), "provisioned occur.toml")
    except ConfigError as err:
        raise InvalidInputError(f"the settings give an invalid configuration: {err}") from err
    for path, content, mode in pending:
        write_private(path, content.encode(), mode)
    write_private(etc / "occur.toml", text.encode())
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    keys = Keys(data_dir / "keys", create=True)
    report.web_fingerprint = _web_identity(data_dir, device_id, admin, bool(web_files))
    _install_units(root, install_dir)
    _retire_settings(settings_file, settings)
    for private in private_keys:
        private.unlink(missing_ok=True)
    write_private(marker, json.dumps({"device_id": device_id, "public_key": keys.public_key_pem().decode()}).encode())
    if user is not None:
        _hand_over(root, user, etc, data_dir)
    written = [path for path, _, _ in pending] + [etc / "occur.toml", marker, root / "etc/systemd/system/occur.service"]
    written += [p for p in (data_dir / "keys").iterdir() if p.is_file()]
    report.files = sorted(str(p.relative_to(root)) for p in written)  # never a walk of '/' (it reaches /proc)
    return report
