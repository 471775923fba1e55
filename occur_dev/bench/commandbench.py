"""``occur bench commands``: how long a signed unlock takes while junk floods the command topic.

A private mosquitto (Debian's, installed by ``./setup.sh --dev``) on a free loopback port; the
whole door (``occur run``'s code, mock GPIO pins, a replay of synthetic no-face frames at 15 fps)
connected to it with a fresh command key. A client in another process (an attacker is another
machine: it must not share the door's interpreter) floods ``<prefix>/cmd/unlock`` with junk at
QoS 1 as fast as it can: a mix of non-JSON, unsigned and wrongly signed payloads. The signed
unlock goes on the flooder's own connection, so it queues behind exactly the junk sent before it:
half the flood ("during") or all of it ("after").

The door's delay is measured from the broker's acknowledgement of the unlock (it has the command
from then on, behind whatever junk it still has to deliver) to the door's reply, which is sent
after the relay was energised. The flooder's own delay in getting the unlock onto the wire behind
its junk is shown separately: it is the attacker's client, not the door.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from firmware import service
from firmware.comms import commands, topics
from firmware.comms.client import MqttLink
from firmware.config import Config, DoorConfig, LoopConfig, MqttConfig
from firmware.errors import InvalidInputError, OccurError
from firmware.imaging.image import encode_jpeg
from firmware.store.db import reading
from firmware.store.store import settings_from

MOSQUITTO = "/usr/sbin/mosquitto"


@dataclass(frozen=True)
class CommandBench:
    """Figures of one run (seconds)."""

    flood: int
    idle_s: float  # broker acknowledgement to reply, no flood (median of 5)
    during_s: float  # ... behind half a flood
    after_s: float  # ... behind a whole flood
    during_from_publish_s: float  # from the flooder's publish call (includes its own send queue)
    after_from_publish_s: float
    flood_publish_s: float
    stayed_connected: bool
    refusals_counted: int
    refusal_records: int
    command_records: int
    network_cpu_us: float  # CPU of the door's MQTT network thread per message during the flood


class _Broker:
    def __init__(self, folder: Path) -> None:
        if not Path(MOSQUITTO).exists():
            raise InvalidInputError(f"{MOSQUITTO} is not installed: ./setup.sh --dev installs mosquitto")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        folder.mkdir(parents=True, exist_ok=True)
        conf = folder / "mosquitto.conf"
        conf.write_text(
            f"user {getpass.getuser()}\nlistener {self.port} 127.0.0.1\nallow_anonymous true\n"
            "max_queued_messages 100000\nlog_dest none\n"
        )
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        self.stop()
        raise OccurError(f"mosquitto did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class _Client:
    """The flooder and operator (one connection, through the firmware's own MQTT adapter): it
    records when the broker acknowledged each message and when each reply arrived."""

    def __init__(self, mqtt: MqttConfig, name: str, prefix: str) -> None:
        self.prefix = prefix
        self.acked: dict[int, float] = {}
        self.replies: dict[str, tuple[float, dict[str, Any]]] = {}
        self.offline = False
        self.door_online = threading.Event()
        self.ready = threading.Event()
        self.link = MqttLink(
            replace(mqtt, client_id=name, command_key_file=""),
            name,
            f"{prefix}/bench/{name}",
            self._connected,
            lambda _r: None,
            self._acked,
            self._message,
        )

    def _acked(self, mid: int) -> None:
        self.acked.setdefault(mid, time.monotonic())

    def _connected(self) -> None:
        self.link.subscribe(f"{self.prefix}/cmd/+/reply")
        self.link.subscribe(f"{self.prefix}/availability")
        self.ready.set()

    def _message(self, topic: str, payload: bytes, _retained: bool) -> None:
        if topic.endswith("/availability"):
            if payload == b"online":
                self.door_online.set()
            elif self.door_online.is_set():
                self.offline = True
            return
        doc = json.loads(payload)
        if doc.get("nonce"):
            self.replies.setdefault(str(doc["nonce"]), (time.monotonic(), doc))

    def publish(self, payload: str | bytes) -> tuple[int, float]:
        """Publish on cmd/unlock (waiting while disconnected); the message id and the time."""
        while (mid := self.link.publish(f"{self.prefix}/cmd/unlock", payload, 1, False)) is None:
            time.sleep(0.01)
        return mid, time.monotonic()

    def unlock(self, key: bytes, nonce: str, wait: bool = True) -> Any:
        """A signed unlock; with ``wait``, its figures (see :meth:`wait`), else what :meth:`wait`
        needs later."""
        mid, sent = self.publish(json.dumps(commands.sign(key, "unlock", time.time(), nonce)))
        return self.wait(nonce, mid, sent) if wait else (nonce, mid, sent)

    def wait(self, nonce: str, mid: int, sent: float, timeout_s: float = 300.0) -> tuple[float, float]:
        """(seconds from the broker's acknowledgement of the unlock to its reply, seconds from
        the publish call to the reply). The reply must say it unlocked."""
        deadline = sent + timeout_s
        while nonce not in self.replies and time.monotonic() < deadline:
            time.sleep(0.002)
        if nonce not in self.replies:
            raise OccurError(f"no reply to the signed unlock within {timeout_s:.0f} s")
        arrived, reply = self.replies[nonce]
        if not reply.get("ok"):
            raise OccurError(f"the signed unlock was refused: {reply.get('result')}")
        return arrived - self.acked.get(mid, sent), arrived - sent

    def flood(self, count: int, first: int) -> None:
        for i in range(first, first + count):
            self.publish(_junk(i))


def _junk(i: int) -> bytes:
    kinds = (
        b"{not json",
        json.dumps({"ts": time.time(), "nonce": f"junk-{i:08d}", "args": {}}).encode(),
        json.dumps(commands.sign(b"a guessed key", "unlock", time.time(), f"junk-{i:08d}")).encode(),
    )
    return kinds[i % len(kinds)]


def _attack(mqtt: MqttConfig, prefix: str, key: bytes, flood: int, out: Any) -> None:
    """The other machine (a child process): idle unlocks, then the two floods with an unlock
    in each; sends its figures back through ``out``."""
    client = _Client(mqtt, "occur-bench-flooder", prefix)
    client.link.start()
    try:
        if not client.ready.wait(30) or not client.door_online.wait(120):
            raise OccurError("the door did not come online on the bench's broker")
        time.sleep(1.0)  # the door subscribes to its commands right after it announces itself
        idle = [client.unlock(key, f"idle-{n:04d}") for n in range(5)]
        out.send({"flood": "started"})
        t0 = time.monotonic()
        client.flood(flood // 2, 0)
        during = client.unlock(key, "during-flood", wait=False)
        client.flood(flood - flood // 2, flood // 2)
        publish_s = time.monotonic() - t0
        after = client.unlock(key, "after-flood")
        during = client.wait(*during)
        time.sleep(1.0)
        out.send({"idle": sorted(idle)[2], "during": during, "after": after, "publish_s": publish_s,
                  "connected": not client.offline and client.link.connected})  # fmt: skip
    except OccurError as err:
        out.send({"error": str(err)})
    finally:
        client.link.stop()


def _scene(folder: Path, frames: int) -> Path:
    """Synthetic frames with no face: grey noise, one file hard-linked ``frames`` times."""
    folder.mkdir(parents=True, exist_ok=True)
    image = np.random.default_rng(0).integers(90, 160, (480, 640, 3), dtype=np.uint8)
    first = folder / "00000.jpg"
    first.write_bytes(encode_jpeg(image, 85))
    for i in range(1, frames):
        os.link(first, folder / f"{i:05d}.jpg")
    return folder


def run(config: Config, scratch: Path, flood: int = 20_000) -> CommandBench:
    """Start a broker and the door, measure, stop everything."""
    broker = _Broker(scratch / "broker")
    try:
        return _measure(config, scratch, flood, broker.port)
    finally:
        broker.stop()
        shutil.rmtree(scratch / "frames", ignore_errors=True)


def _measure(config: Config, scratch: Path, flood: int, port: int) -> CommandBench:
    import multiprocessing

    key = secrets.token_hex(32).encode()
    key_file = scratch / "command.key"
    key_file.write_bytes(key + b"\n")
    key_file.chmod(0o600)
    mqtt = MqttConfig(host="127.0.0.1", port=port, command_key_file=str(key_file), discovery=False)
    door = replace(
        config,
        data_dir=scratch / "data",
        mqtt=mqtt,
        door=DoorConfig(pulse_s=0.2),
        loop=LoopConfig(),
        camera=replace(config.camera, fps=15.0),
    )
    prefix = topics.prefix(mqtt.topic_prefix, door.device.id)
    stop = threading.Event()
    runner = threading.Thread(
        target=service.run, args=(door, f"replay:{_scene(scratch / 'frames', 15 * 900)}", "mock", False, stop)
    )
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    attacker = context.Process(target=_attack, args=(mqtt, prefix, key, flood, send), daemon=True)
    runner.start()
    attacker.start()
    try:
        cpu_before = 0.0
        while True:
            while not receive.poll(0.5):
                if not runner.is_alive() or not attacker.is_alive():
                    raise OccurError("the door or the flooding client stopped early (see the log above)")
            figures = receive.recv()
            if figures.get("flood") != "started":
                break
            cpu_before = _thread_cpu_s("mqtt-network")
        cpu_flood = _thread_cpu_s("mqtt-network") - cpu_before
    finally:
        attacker.join(30)
        stop.set()
        runner.join(120)
    if "error" in figures:
        raise OccurError(str(figures["error"]))
    with reading(door.paths.database, settings_from(door.storage)) as conn:
        rows: list[Any] = conn.execute(
            "SELECT details FROM system_events WHERE event_type = 'command_refusals'"
        ).fetchall()
        singles: Any = conn.execute("SELECT count(*) FROM system_events WHERE event_type = 'command'").fetchone()
    counted = sum(int(json.loads(str(r[0]))["total"]) for r in rows)
    figures["cpu_us"] = cpu_flood / (flood + 2) * 1e6
    return CommandBench(
        flood, figures["idle"][0], figures["during"][0], figures["after"][0], figures["during"][1],
        figures["after"][1], figures["publish_s"], bool(figures["connected"]), counted, len(rows), int(singles[0]),
        figures["cpu_us"],
    )  # fmt: skip


def _thread_cpu_s(name: str) -> float:
    """CPU seconds (user + system) used so far by this process's thread called ``name`` (Linux
    /proc; 0 when absent): the door's network thread, where every junk message is screened."""
    thread = next((t for t in threading.enumerate() if t.name == name), None)
    if thread is None or thread.native_id is None:
        return 0.0
    try:
        fields = Path(f"/proc/self/task/{thread.native_id}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
