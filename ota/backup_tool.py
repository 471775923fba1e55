"""Operator side of the appliance's backups: make the key pair, open archives.

    python ota/backup_tool.py keygen --out DIR      # writes operator.key (keep offline) and operator.pub
    python ota/backup_tool.py open ARCHIVE --key operator.key --out DIR

Put operator.pub's content in the device's ``[backup] operator_public_key_file``. The device
seals every archive to it and cannot read them itself. Opening checks the seal and every file's
sha256 before writing anything.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main() -> int:
    """Run the tool; exit 0 on success, 1 on a refused archive."""
    parser = argparse.ArgumentParser(description="OCCUR backup tool (operator side)")
    sub = parser.add_subparsers(dest="command", required=True)
    k = sub.add_parser("keygen")
    k.add_argument("--out", type=Path, required=True)
    o = sub.add_parser("open")
    o.add_argument("archive", type=Path)
    o.add_argument("--key", type=Path, required=True)
    o.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from firmware.backup import open_archive
    from firmware.security.keys import IntegrityError, x25519_keypair

    if args.command == "keygen":
        private, public = x25519_keypair()
        args.out.mkdir(parents=True, exist_ok=True)
        fd = os.open(args.out / "operator.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(private.hex() + "\n")
        (args.out / "operator.pub").write_text(public.hex() + "\n")
        print(f"wrote {args.out / 'operator.key'} (keep it offline) and {args.out / 'operator.pub'}")
        return 0
    try:
        members = open_archive(args.archive, bytes.fromhex(args.key.read_text().strip()))
    except IntegrityError as err:
        print(f"refused: {err}", file=sys.stderr)
        return 1
    for name, data in members.items():
        target = args.out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    print(f"opened {args.archive.name}: {len(members)} files in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
