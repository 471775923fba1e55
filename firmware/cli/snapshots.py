"""``occur snapshots export DIR``: decrypted copies of event pictures, where the operator asks."""

from __future__ import annotations

import argparse
from pathlib import Path

from firmware.cli.common import Context, ExitStatus, add_json_flag


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``snapshots``."""
    p = sub.add_parser("snapshots", help="event pictures (stored sealed)")
    ssub = p.add_subparsers(dest="snapshots_command", metavar="ACTION", required=True)
    ex = ssub.add_parser("export", help="write decrypted copies to DIR (the export is logged)")
    ex.add_argument("dir", type=Path, metavar="DIR")
    ex.add_argument("--user", help="only this user id's snapshots ('unknown' for strangers)")
    ex.add_argument("--unknown-faces", action="store_true", help="also the strangers' first pictures")
    add_json_flag(ex)
    ex.set_defaults(handler=export)


def export(ctx: Context, args: argparse.Namespace) -> int:
    """Decrypt into ``DIR`` keeping the relative layout; exit 1 if a file failed to open."""
    from firmware.crypto.keys import IntegrityError
    from firmware.platform.fileio import write_private
    from firmware.security.audit import audit

    paths = ctx.config.paths
    sources = [("snapshot", p) for p in sorted(paths.snapshots.rglob("*.jpg")) if paths.snapshots.is_dir()]
    if args.user:
        sources = [(k, p) for k, p in sources if p.parent.name == args.user]
    if args.unknown_faces and paths.unknown_faces.is_dir():
        sources += [("unknown", p) for p in sorted(paths.unknown_faces.glob("*.jpg"))]
    written, failed = [], []
    with ctx.open_store() as store:
        for kind, path in sources:
            relative = path.relative_to(paths.root)
            try:
                data = store.sealer.open_picture(kind, path.read_bytes())
            except (IntegrityError, OSError) as err:
                failed.append(f"{relative}: {err}")
                continue
            write_private(args.dir / relative, data)
            written.append(str(relative))
        audit(
            store,
            paths,
            "export",
            {"dir": str(args.dir), "files": len(written), "user": args.user},
            device_id=ctx.config.device.id,
        )
    if ctx.json:
        ctx.emit_json({"written": written, "failed": failed})
    else:
        ctx.out(f"wrote {len(written)} decrypted picture(s) to {args.dir}")
        for line in failed:
            print(f"occur: could not open {line}", file=ctx.stderr)
    return ExitStatus.ERROR if failed else ExitStatus.SUCCESS
