"""``occur-ota``: the operator's side of updates and backups.

    occur-ota init DIR                         keys + repository; prints the root to provision
    occur-ota bundle MODEL_DIR --out FILE [--model sface --model dlib] [--version 2026.12]
    occur-ota add DIR sface.bundle [--channel stable]
    occur-ota publish DIR                      sign targets/snapshot/timestamp, new expiry
    occur-ota rotate-keys DIR [--role targets ...]
    occur-ota backup-keygen --out DIR          operator.key (offline) + operator.pub (devices)
    occur-ota decrypt-backup FILE --key operator.key --out occur.db|DIR

Serve ``DIR/repository`` from any static host (nginx, S3, a CDN); devices poll
``timestamp.json`` only, so thousands of them cost a few hundred bytes each per check. Exit
status: 0 done, 1 refused (bad archive, bad bundle, repository error), 2 usage.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="occur-ota", description="OCCUR-CALL updates and backups (operator side)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("init", help="create a repository and its keys")
    p.add_argument("dir", type=Path)
    p.add_argument("--timestamp-days", type=float, default=7.0, help="timestamp expiry, days (re-publish before)")
    p = sub.add_parser("bundle", help="pack built models with self-test vectors")
    p.add_argument("model_dir", type=Path)
    p.add_argument(
        "--model",
        action="append",
        help="manifest name, embedding or presentation-attack model; repeat for several (default: sface, dlib)",
    )
    p.add_argument("--version", help="release version (default: the UTC time, YYYYMMDD.HHMMSS)")
    p.add_argument("--name", default="models")
    p.add_argument("--photos", type=Path, help="folder of face photos for the vectors (default MODEL_DIR/demo)")
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("add", help="make a bundle the channel's current one (signed at publish)")
    p.add_argument("dir", type=Path)
    p.add_argument("file", type=Path)
    p.add_argument("--channel", default="stable")
    p = sub.add_parser("publish", help="sign and set expiry")
    p.add_argument("dir", type=Path)
    p = sub.add_parser("rotate-keys", help="new keys for roles (default: the online ones)")
    p.add_argument("dir", type=Path)
    p.add_argument("--role", action="append", choices=("root", "targets", "snapshot", "timestamp"))
    p = sub.add_parser("backup-keygen", help="operator key pair for sealed backups")
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("decrypt-backup", help="open a sealed backup")
    p.add_argument("file", type=Path)
    p.add_argument("--key", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="occur.db path (other files beside it) or a folder")
    return parser


def _backup_keygen(out: Path) -> None:
    from firmware.crypto.keys import x25519_keypair
    from firmware.platform.fileio import write_private

    private, public = x25519_keypair()
    write_private(out / "operator.key", (private.hex() + "\n").encode(), exclusive=True)
    write_private(out / "operator.pub", (public.hex() + "\n").encode(), 0o644)
    print(f"wrote {out / 'operator.key'} (keep it offline) and {out / 'operator.pub'}")


def _decrypt_backup(archive: Path, key: Path, out: Path) -> None:
    from firmware.backup.archive import open_archive

    members = open_archive(archive, bytes.fromhex(key.read_text().strip()))
    members = {k: v for k, v in members.items() if not k.startswith("migration/")}  # a device key is never written out
    folder = out.with_name(out.name + ".files") if out.suffix == ".db" else out
    for name, data in members.items():
        target = out if out.suffix == ".db" and name == "occur.db" else folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    print(f"opened {archive.name}: {len(members)} files -> {out}")


def _run(args: argparse.Namespace) -> None:
    from occur_ota.repo import Repository

    if args.command == "init":
        root = Repository(args.dir).init({"timestamp": args.timestamp_days})
        print(f"repository ready; serve {args.dir / 'repository'}; install {root} on devices as [ota] trusted_root")
    elif args.command == "bundle":
        from occur_ota import bundler

        photos_dir = args.photos or args.model_dir / "demo"
        photos = sorted(p for p in photos_dir.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        version = args.version or datetime.now(UTC).strftime("%Y%m%d.%H%M%S")
        info = bundler.make(args.model_dir, args.model or ["sface", "dlib"], args.name, version, args.out, photos)
        print(f"wrote {args.out}: {info.release_id}, models {', '.join(info.models)}, {len(info.files)} files")
    elif args.command == "add":
        entry = Repository(args.dir).add(args.file, args.channel)
        print(f"channel {args.channel} -> {entry['name']}-{entry['version']} (run publish to sign)")
    elif args.command == "publish":
        versions = Repository(args.dir).publish()
        print("published " + ", ".join(f"{k} v{v}" for k, v in versions.items()))
    elif args.command == "rotate-keys":
        version = Repository(args.dir).rotate_keys(args.role or ["targets", "snapshot", "timestamp"])
        print(f"keys rotated; root v{version} published")
    elif args.command == "backup-keygen":
        _backup_keygen(args.out)
    else:
        _decrypt_backup(args.file, args.key, args.out)


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    args = _parser().parse_args(argv)
    from firmware.crypto.keys import IntegrityError
    from firmware.errors import OccurError
    from occur_ota.repo import RepoError

    try:
        _run(args)
    except (RepoError, OccurError, IntegrityError, OSError, ValueError) as err:
        print(f"occur-ota: refused: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
