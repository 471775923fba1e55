"""``occur bench commands``: a signed unlock during a flood of junk commands."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from firmware.cli.common import Context, ExitStatus, add_json_flag
from firmware.errors import InvalidInputError


def register(bsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``bench commands``."""
    c = bsub.add_parser(
        "commands",
        help="how long a signed unlock takes while junk floods the command topic (private mosquitto)",
        description="Starts a private mosquitto and the door (mock pins, synthetic frames), floods "
        "cmd/unlock with junk and times signed unlocks: idle, half-way through the flood, after it.",
    )
    c.add_argument("--flood", type=int, default=20_000, help="junk messages per flood (default 20000)")
    c.add_argument("--dir", type=Path, help="scratch folder (default: a new temporary one)")
    add_json_flag(c)
    c.set_defaults(handler=bench_commands)


def bench_commands(ctx: Context, args: argparse.Namespace) -> int:
    """Print the unlock latencies and what the flood cost."""
    from occur_dev.bench import commandbench

    if args.flood < 2:
        raise InvalidInputError("--flood must be at least 2")
    folder = args.dir or Path(tempfile.mkdtemp(prefix="occur-bench-commands-"))
    folder.mkdir(parents=True, exist_ok=True)
    result = commandbench.run(ctx.config, folder, args.flood)
    if ctx.json:
        ctx.emit_json(result)
        return ExitStatus.SUCCESS
    n = result.flood
    ctx.out(f"signed unlocks during a flood of {n} junk commands (QoS 1, as fast as one client sends), on a")
    ctx.out("private mosquitto; the door on synthetic frames and mock pins. Seconds to the door's reply (sent")
    ctx.out("after the relay was energised), from the broker's acknowledgement of the unlock and from the")
    ctx.out("flooder's publish call (which also waits for the flooder's own queue of junk):")
    ctx.table(
        ["unlock", "from broker ack", "from publish call"],
        [
            ("no flood (median of 5)", f"{result.idle_s:.3f}", "-"),
            (f"half-way: behind {n // 2} junk", f"{result.during_s:.3f}", f"{result.during_from_publish_s:.3f}"),
            (f"at the end: behind {n} junk", f"{result.after_s:.3f}", f"{result.after_from_publish_s:.3f}"),
        ],
    )
    ctx.out(f"the flooder handed its {n} messages to its client in {result.flood_publish_s:.2f} s")
    ctx.out(
        f"CPU of the door's MQTT network thread: {result.network_cpu_us:.0f} us per message (paho's receive path "
        f"and the screening): one free core screens about {1e6 / max(result.network_cpu_us, 1):,.0f} messages/s"
    )
    ctx.out(
        f"door stayed connected: {'yes' if result.stayed_connected else 'NO'}; refusals counted: "
        f"{result.refusals_counted} in {result.refusal_records} record(s); commands audited one by one: "
        f"{result.command_records}"
    )
    return ExitStatus.SUCCESS
