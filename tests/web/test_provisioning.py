"""Provisioning sets up the console: its certificate and the first admin, with no default
account and no password left in any file; ``occur web`` makes accounts and tokens later."""

from __future__ import annotations

from pathlib import Path

from firmware import config as config_module
from firmware.config import Paths
from firmware.crypto.keys import certificate_fingerprint
from firmware.security import accounts
from firmware.store.store import Store
from tests.conftest import Cli, query

SETTINGS = """
device_id = "door-7"
[web]
admin_name = "installer"
admin_password = "first admin passphrase"
port = 9443
"""


def test_provisioning_makes_the_certificate_and_the_first_admin(cli: Cli, tmp_path: Path) -> None:
    root, boot = tmp_path / "root", tmp_path / "boot"
    boot.mkdir()
    (boot / "occur-settings.toml").write_text(SETTINGS)
    result = cli("provision", str(boot / "occur-settings.toml"), "--root", str(root))
    assert result.status == 0, result.err
    data = root / "var/lib/occur"
    fingerprint = certificate_fingerprint((data / "web/cert.pem").read_bytes())
    assert f"web console certificate SHA-256: {fingerprint}" in result.out
    loaded = config_module.load(root / "etc/occur/occur.toml", environ={})
    assert loaded.web.enabled and loaded.web.port == 9443
    rows = query(Paths(data), "SELECT name, role, password_hash FROM web_accounts")
    assert [(r[0], r[1]) for r in rows] == [("installer", "admin")] and str(rows[0][2]).startswith("scrypt$")
    for path in [*root.rglob("*"), *boot.rglob("*")]:
        if path.is_file():
            assert b"first admin passphrase" not in path.read_bytes(), path
    with Store.open(Paths(data)) as store:
        assert accounts.login(store, "installer", "first admin passphrase", 5, 60).outcome == "ok"


def test_no_default_account_and_occur_web_commands(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "data"
    listing = cli("--data-dir", str(data), "web", "accounts")
    assert listing.status == 4 and not data.exists()  # read-only: no database yet, and none is made
    secret = tmp_path / "pw"
    secret.write_text("an admin pass phrase\n")
    assert cli("--data-dir", str(data), "web", "add-admin", "root-admin", "--password-file", str(secret)).status == 0
    short = tmp_path / "short"
    short.write_text("short\n")
    bad = cli("--data-dir", str(data), "web", "add-account", "v", "--password-file", str(short))
    assert bad.status == 2 and "at least 10 characters" in bad.err
    made = cli("--data-dir", str(data), "web", "add-token", "ha", "--scopes", "unlock")
    assert made.status == 0 and made.out.startswith("occur_")
    assert "ha" in cli("--data-dir", str(data), "web", "tokens").out
    assert cli("--data-dir", str(data), "web", "remove-account", "root-admin").status == 2  # the last admin stays
    cert = cli("--data-dir", str(data), "web", "cert")
    assert cert.status == 0 and "SHA-256 fingerprint" in cert.out and (data / "web/cert.pem").exists()
    stored = query(Paths(data), "SELECT digest FROM api_tokens")[0][0]
    assert made.out.strip().encode() not in bytes(stored)
