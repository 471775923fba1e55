"""Junk commands must not drown real ones: refused cheaply before any write, audited in aggregate,
handled off paho's network thread, and the door stays connected. Deeply nested JSON is refused
with a reply, not a RecursionError."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from firmware import service
from firmware.comms import commands
from firmware.comms.handler import CommandHandler
from firmware.config import Paths
from firmware.store.store import Store
from tests.comms.broker import Broker, Subscriber
from tests.comms.test_commands import KEY, signed
from tests.comms.test_mqtt import NOFACE, PREFIX, config_for
from tests.conftest import query

FLOOD = 20_000


def handler_for(store: Store, replies: list[str], acted: list[str]) -> CommandHandler:
    actions = {c: (lambda _a, c=c: acted.append(c) or "done") for c in commands.COMMANDS}
    return CommandHandler(store, PREFIX, KEY, 30.0, actions, lambda _t, p: replies.append(p))  # type: ignore[misc]


def junk(i: int) -> bytes:
    kinds = [
        b"{not json",
        json.dumps({"ts": time.time(), "nonce": f"junk-{i:08d}", "args": {}}).encode(),  # unsigned
        json.dumps(commands.sign(b"a guessed key", "unlock", time.time(), f"junk-{i:08d}")).encode(),
        b"\xff\xfe",
    ]
    return kinds[i % len(kinds)]


def test_junk_is_refused_without_a_single_database_write(tmp_path: Path) -> None:
    with Store.open(Paths(tmp_path / "data")) as store:
        replies: list[str] = []
        acted: list[str] = []
        handler = handler_for(store, replies, acted)
        commits = store.writer.commits
        for i in range(2000):
            handler(f"{PREFIX}/cmd/unlock", junk(i), False)
        assert store.writer.commits == commits  # not one fsync for 2000 refusals
        assert acted == []
        assert 1 <= len(replies) < 100  # refusals are answered, at a bounded rate
        assert all(json.loads(r)["ok"] is False for r in replies)
        handler.flush_refusals()
        rows = query(store.paths, "SELECT details FROM system_events WHERE event_type = 'command_refusals'")
        assert len(rows) == 1
        report = json.loads(str(rows[0][0]))
        assert report["total"] == 2000
        counts = report["counts"]["cmd/unlock"]
        assert counts == {"payload is not JSON": 1000, "payload must have exactly ts, nonce, args and sig": 500,
                          "bad signature": 500}  # fmt: skip


def test_a_signed_command_is_still_audited_on_its_own(tmp_path: Path) -> None:
    with Store.open(Paths(tmp_path / "data")) as store:
        replies: list[str] = []
        acted: list[str] = []
        handler = handler_for(store, replies, acted)
        handler(f"{PREFIX}/cmd/unlock", signed("unlock", "nonce-signed-1").encode(), False)
        handler(f"{PREFIX}/cmd/unlock", signed("unlock", "nonce-signed-1").encode(), False)  # replay
        assert acted == ["unlock"]
        assert [json.loads(r)["ok"] for r in replies] == [True, False]
        audit = query(store.paths, "SELECT details FROM system_events WHERE event_type = 'command'")
        assert [json.loads(str(a[0]))["ok"] for a in audit] == [True]
        handler.flush_refusals()
        report = json.loads(str(query(store.paths, "SELECT details FROM system_events "
                                      "WHERE event_type = 'command_refusals'")[0][0]))  # fmt: skip
        assert report["counts"] == {"cmd/unlock": {"replayed nonce": 1}}


@pytest.mark.parametrize("depth", [100_000, 3_000, 990])
def test_deeply_nested_json_is_refused_with_a_reply_and_audited(tmp_path: Path, depth: int) -> None:
    with Store.open(Paths(tmp_path / "data")) as store:
        replies: list[str] = []
        handler = handler_for(store, replies, [])
        handler(f"{PREFIX}/cmd/unlock", b"[" * depth, False)
        nested_args = b'{"ts": 1, "nonce": "abcdefgh", "sig": "00", "args": ' + b'{"a": ' * depth + b"1" + b"}" * depth
        handler(f"{PREFIX}/cmd/unlock", nested_args + b"}", False)
        assert len(replies) == 2 and all(json.loads(r)["ok"] is False for r in replies)
        handler.flush_refusals()
        rows = query(store.paths, "SELECT details FROM system_events WHERE event_type = 'command_refusals'")
        assert json.loads(str(rows[0][0]))["total"] == 2


def test_verified_commands_wait_in_a_bounded_queue(tmp_path: Path) -> None:
    """The network thread only screens; acting happens on the command thread. When that queue is
    full a signed command is refused as busy, never blocking the network thread."""
    from firmware.comms.intake import CommandIntake

    with Store.open(Paths(tmp_path / "data")) as store:
        replies: list[str] = []
        gate, entered = threading.Event(), threading.Event()
        actions = {"unlock": lambda _a: (entered.set(), gate.wait(10)) and "done"}
        handler = CommandHandler(store, PREFIX, KEY, 30.0, actions, lambda _t, p: replies.append(p))  # type: ignore[dict-item]
        intake = CommandIntake(handler, max_queued=2)
        intake.start()
        try:
            started = time.monotonic()
            intake.offer(f"{PREFIX}/cmd/unlock", signed("unlock", "nonce-queued-0").encode(), False)
            assert entered.wait(10)  # the command thread is inside the first action
            for n in range(1, 5):
                intake.offer(f"{PREFIX}/cmd/unlock", signed("unlock", f"nonce-queued-{n}").encode(), False)
            assert time.monotonic() - started < 5  # offer never waited for the blocked action
            busy = [json.loads(r) for r in replies if "busy" in json.loads(r)["result"]]
            assert len(busy) == 2  # one acting, two queued, two refused
            assert intake.handler.screen(f"{PREFIX}/cmd/unlock", signed("unlock", busy[0]["nonce"]).encode(), False)
            # a command refused as busy was not acted on: sent again, it is not a replay
        finally:
            gate.set()
            intake.stop()
        assert sum(json.loads(r)["ok"] for r in replies) == 3


@pytest.fixture
def door(tmp_path: Path) -> Any:
    folder = tmp_path / "r"
    folder.mkdir()
    for i in range(3000):
        os.symlink(NOFACE, folder / f"{i:05d}.jpg")
    broker = Broker(tmp_path / "broker")  # started after everything that can fail without stopping it
    broker.start()
    key_file = tmp_path / "command.key"
    key_file.write_bytes(KEY + b"\n")
    config = config_for(tmp_path, broker.port, command_key_file=str(key_file), drain_timeout_s=2.0, keepalive_s=5)
    config = replace(config, camera=replace(config.camera, fps=10.0))
    stop = threading.Event()
    reports: list[service.RunReport] = []
    runner = threading.Thread(
        target=lambda: reports.append(service.run(config, f"replay:{folder}", gpio="mock", stop=stop))
    )
    runner.start()

    def stop_door() -> None:
        stop.set()
        runner.join(60)
        assert not runner.is_alive()

    try:
        yield config, broker, stop_door
    finally:
        stop_door()
        broker.stop()


def test_a_flood_of_junk_does_not_drown_a_signed_unlock(door: Any) -> None:
    config, broker, stop_door = door
    operator = Subscriber(broker.port, "#", client_id="operator")
    flooder = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="flooder", protocol=mqtt.MQTTv5)
    flooder.connect("127.0.0.1", broker.port)
    flooder.loop_start()
    try:
        assert operator.wait(lambda: operator.on(f"{PREFIX}/availability")[-1:] == [b"online"])
        time.sleep(0.5)
        sent = [flooder.publish(f"{PREFIX}/cmd/unlock", junk(i), qos=1) for i in range(FLOOD)]
        for info in sent:
            info.wait_for_publish(120)  # the broker has the whole flood, queued before the unlock
        operator.publish(f"{PREFIX}/cmd/unlock", signed("unlock", "nonce-after-flood"))
        answered = operator.wait(
            lambda: any(
                json.loads(p)["nonce"] == "nonce-after-flood" for p in operator.on(f"{PREFIX}/cmd/unlock/reply")
            ),
            120,
        )
        assert answered
        time.sleep(6)  # more than one keepalive interval after the flood
        reply = next(json.loads(p) for p in operator.on(f"{PREFIX}/cmd/unlock/reply")
                     if json.loads(p)["nonce"] == "nonce-after-flood")  # fmt: skip
        assert reply["ok"] is True and reply["result"].startswith("unlocked")
        assert b"offline" not in operator.on(f"{PREFIX}/availability")  # never dropped for keepalive
    finally:
        flooder.loop_stop()
        operator.close()
    stop_door()
    assert query(config.paths, "SELECT count(*) FROM system_events WHERE event_type = 'command'") == [(1,)]
    assert query(config.paths, "SELECT outcome, reason FROM door_events") == [("granted", "remote unlock command")]
    rows = query(config.paths, "SELECT details FROM system_events WHERE event_type = 'command_refusals'")
    assert sum(json.loads(str(r[0]))["total"] for r in rows) == FLOOD  # every refusal counted, in a few rows
    assert len(rows) <= 5


def test_bench_commands_reports_its_figures(tmp_path: Path, cli: Any) -> None:
    """The benchmark runs end to end on a small flood (figures are printed, not asserted)."""
    result = cli("bench", "commands", "--flood", "300", "--dir", str(tmp_path / "bench"), "--json")
    assert result.status == 0, result.err
    doc = json.loads(result.out)
    assert doc["stayed_connected"] is True and doc["refusals_counted"] == 300 and doc["command_records"] == 7
    assert all(doc[k] > 0 for k in ("idle_s", "during_s", "after_s"))
