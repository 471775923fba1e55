"""Signed commands over a real broker, the handler under fuzzing, and the discovery schema."""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware import service
from firmware.comms import commands, topics
from firmware.comms.handler import CommandHandler
from firmware.config import Paths
from firmware.store.store import Store
from tests.comms.broker import Broker, Subscriber
from tests.comms.test_mqtt import NOFACE, PREFIX, config_for
from tests.conftest import query

KEY = b"provisioned-command-key-0123456789"


def signed(name: str, nonce: str, ts: float | None = None, key: bytes = KEY) -> str:
    return json.dumps(commands.sign(key, name, time.time() if ts is None else ts, nonce))


def test_signed_commands_act_and_everything_else_is_refused_with_a_reason(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    folder.mkdir()
    for i in range(400):
        os.symlink(NOFACE, folder / f"{i:04d}.jpg")
    broker = Broker(tmp_path / "broker")  # started after everything that can fail without stopping it
    broker.start()
    key_file = tmp_path / "command.key"
    key_file.write_bytes(KEY + b"\n")
    config = config_for(tmp_path, broker.port, command_key_file=str(key_file), drain_timeout_s=2.0)
    config = replace(config, camera=replace(config.camera, fps=20.0))
    stop = threading.Event()
    reports: list[service.RunReport] = []
    runner = threading.Thread(
        target=lambda: reports.append(service.run(config, f"replay:{folder}", gpio="mock", stop=stop))
    )
    sub = Subscriber(broker.port, "#", client_id="operator")
    runner.start()
    replies: dict[str, Any] = {}
    try:
        assert sub.wait(lambda: sub.on(f"{PREFIX}/availability")[-1:] == [b"online"])
        time.sleep(0.3)
        cases = [
            ("unlock", signed("unlock", "nonce-0001"), False),
            ("unlock", signed("unlock", "nonce-0001"), False),  # replay
            ("unlock", signed("unlock", "nonce-0002", key=b"wrong key"), False),
            ("unlock", signed("unlock", "nonce-0003", ts=time.time() - 3600), False),
            ("unlock", "{not json", False),
            ("unlock", json.dumps({"ts": time.time(), "nonce": "nonce-0004", "args": {}}), False),
            ("unlock", signed("unlock", "nonce-0005"), True),  # retained
            ("reload", signed("reload", "nonce-0006"), False),
            ("backup", signed("backup", "nonce-0007"), False),
        ]
        for name, payload, retain in cases:
            count = len(sub.on(f"{PREFIX}/cmd/{name}/reply"))
            sub.publish(f"{PREFIX}/cmd/{name}", payload, retain=retain)
            assert sub.wait(lambda n=name, c=count: len(sub.on(f"{PREFIX}/cmd/{n}/reply")) > c, 10)
        discoveries = len(sub.on("homeassistant/device/door-1/config"))
        sub.publish("homeassistant/status", "online")  # Home Assistant restarted: announce again
        assert sub.wait(lambda: len(sub.on("homeassistant/device/door-1/config")) > discoveries, 10)
        answers = [json.loads(p) for p in sub.on(f"{PREFIX}/cmd/unlock/reply")]
        answers += [json.loads(p) for p in sub.on(f"{PREFIX}/cmd/reload/reply")]
        answers += [json.loads(p) for p in sub.on(f"{PREFIX}/cmd/backup/reply")]
        replies = {str(i): a for i, a in enumerate(answers)}
    finally:
        stop.set()
        runner.join(30)
        sub.close()
        broker.stop()
    results = [(a["ok"], a["result"]) for a in replies.values()]
    assert results[0] == (True, "unlocked for 0.2 s")
    assert results[1] == (False, "replayed nonce")
    assert results[2] == (False, "bad signature")
    assert results[3][1].startswith("expired")
    assert results[4] == (False, "payload is not JSON")
    assert results[5] == (False, "payload must have exactly ts, nonce, args and sig")
    assert results[6] == (False, "retained commands are never acted on")
    assert results[7][0] is True and results[7][1].startswith("gallery reloaded")
    assert results[8][0] is True and results[8][1].startswith("backup written: occur_")
    states = [s.state for s in reports[0].pin_factory.pin(17).states]
    assert sum(1 for a, b in itertools.pairwise(states) if not a and b) == 1  # exactly the one valid unlock
    assert query(config.paths, "SELECT outcome, reason FROM door_events") == [("granted", "remote unlock command")]
    audit = [
        json.loads(str(r[0]))
        for r in query(config.paths, "SELECT details FROM system_events WHERE event_type = 'command'")
    ]
    assert len(audit) == 3 and all(a["ok"] for a in audit)  # unlock, reload, backup, each on its own
    refused = [
        json.loads(str(r[0]))
        for r in query(config.paths, "SELECT details FROM system_events WHERE event_type = 'command_refusals'")
    ]
    assert sum(r["total"] for r in refused) == 6  # the refusals, counted per topic and reason
    counts = refused[-1]["counts"]["cmd/unlock"]
    assert counts["replayed nonce"] == 1 and counts["bad signature"] == 1 and counts["payload is not JSON"] == 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from([*commands.COMMANDS, "", "x", "../unlock"]),
    payload=st.one_of(
        st.binary(max_size=300),
        st.builds(
            lambda d: json.dumps(d).encode(),
            st.dictionaries(
                st.sampled_from(["ts", "nonce", "args", "sig", "cmd"]),
                st.one_of(
                    st.none(),
                    st.integers(),
                    st.floats(),
                    st.text(max_size=70),
                    st.dictionaries(st.text(max_size=5), st.integers()),
                ),
            ),
        ),
    ),
    retained=st.booleans(),
)
def test_fuzzed_commands_never_crash_and_never_act(
    tmp_path_factory: Any, name: str, payload: bytes, retained: bool
) -> None:
    store = fuzz_store(tmp_path_factory)
    acted: list[str] = []
    replies: list[str] = []
    actions = {c: (lambda _a, c=c: acted.append(c) or "done") for c in commands.COMMANDS}
    handler = CommandHandler(store, PREFIX, KEY, 30.0, actions, lambda _t, p: replies.append(p))  # type: ignore[misc]
    handler(f"{PREFIX}/cmd/{name}", payload, retained)
    assert acted == []
    assert len(replies) == 1 and json.loads(replies[0])["ok"] is False


_FUZZ: dict[str, Store] = {}


def fuzz_store(factory: Any) -> Store:
    if "store" not in _FUZZ:
        _FUZZ["store"] = Store.open(Paths(factory.mktemp("fuzz") / "data"))
    return _FUZZ["store"]


# Home Assistant's documented MQTT discovery abbreviations used by this payload
HA_DEVICE_KEYS = {"ids", "name", "mf", "mdl", "sw", "hw", "sn", "cns", "sa", "cu"}
HA_ORIGIN_KEYS = {"name", "sw", "url"}
HA_TOP_KEYS = {"dev", "o", "cmps", "avty_t", "avty", "qos", "stat_t", "cmd_t", "enc"}
HA_COMPONENT_KEYS = {
    "lock": {
        "p",
        "uniq_id",
        "name",
        "stat_t",
        "cmd_t",
        "stat_locked",
        "stat_unlocked",
        "opt",
        "pl_lock",
        "pl_unlk",
        "val_tpl",
        "ent_cat",
        "icon",
    },
    "event": {"p", "uniq_id", "name", "stat_t", "evt_typ", "val_tpl", "dev_cla", "ent_cat", "icon"},
    "binary_sensor": {"p", "uniq_id", "name", "stat_t", "dev_cla", "pl_on", "pl_off", "val_tpl", "ent_cat", "icon"},
    "sensor": {"p", "uniq_id", "name", "stat_t", "unit_of_meas", "stat_cla", "dev_cla", "val_tpl", "ent_cat", "icon"},
    "update": {"p", "uniq_id", "name", "stat_t", "cmd_t", "pl_inst", "val_tpl", "dev_cla", "ent_cat", "icon", "rel_u"},
}


def test_discovery_uses_only_documented_keys_and_unique_ids() -> None:
    doc = topics.discovery_payload(topics.Topics(PREFIX), "Front door", contact=True)
    assert set(doc) <= HA_TOP_KEYS and set(doc["dev"]) <= HA_DEVICE_KEYS and set(doc["o"]) <= HA_ORIGIN_KEYS
    assert {"dev", "o", "cmps"} <= set(doc) and doc["o"]["name"]
    platforms = set()
    for component in doc["cmps"].values():
        platforms.add(component["p"])
        assert set(component) <= HA_COMPONENT_KEYS[component["p"]], component
        assert component["uniq_id"].startswith("occur_door-1_")
    assert platforms == {"event", "binary_sensor", "sensor", "update"}
    assert doc["cmps"]["models"]["stat_t"] == f"{PREFIX}/ota/state"
    assert len({c["uniq_id"] for c in doc["cmps"].values()}) == len(doc["cmps"])
    assert topics.Topics(PREFIX).discovery == "homeassistant/device/door-1/config"
    assert set(doc["cmps"]["door_event"]["evt_typ"]) >= {
        "granted",
        "denied",
        "unknown_face",
        "door_forced",
        "door_held_open",
        "exit_request",
        "tamper",
    }


def test_discovery_offers_no_lock_that_home_assistant_cannot_sign_for() -> None:
    """Home Assistant cannot compute the HMAC signature, so no discovered entity may command
    ``cmd/unlock``; the lock state is a read-only binary sensor (unlocked = on)."""
    doc = topics.discovery_payload(topics.Topics(PREFIX), "Front door", contact=True)
    assert all(not str(c.get("cmd_t", "")).startswith(f"{PREFIX}/cmd/") for c in doc["cmps"].values())
    door = doc["cmps"]["door"]
    assert (door["p"], door["dev_cla"], door["stat_t"]) == ("binary_sensor", "lock", f"{PREFIX}/door/state")
    assert (door["pl_on"], door["pl_off"]) == ("unlocked", "locked")


@pytest.mark.parametrize("key", ["topic_prefix", "discovery_prefix"])
@pytest.mark.parametrize("value", ["occur/#", "occur/+/door", "#", "occur/\x00x", "$SYS/door", "$share/g/occur"])
def test_config_refuses_wildcards_in_the_prefix(key: str, value: str) -> None:
    """A prefix the door cannot publish under (wildcards, NUL, the broker's reserved ``$``
    topics) is a config error naming the key, not a crash of paho's thread at the first publish."""
    from firmware import config as config_module
    from firmware.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        config_module.from_mapping({"mqtt": {key: value}})
    assert [k for k, _ in info.value.problems] == [f"mqtt.{key}"]


@pytest.mark.parametrize("key", ["topic_prefix", "discovery_prefix"])
def test_config_accepts_ordinary_prefixes(key: str) -> None:
    from firmware import config as config_module

    loaded = config_module.from_mapping({"mqtt": {key: "site-1/doors/front"}})
    assert getattr(loaded.mqtt, key) == "site-1/doors/front"
