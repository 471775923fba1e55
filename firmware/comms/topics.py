"""Every MQTT topic of the door and every Home Assistant entity, in one place.

Topics live under a prefix: ``[mqtt] topic_prefix`` or ``occur/<device id>``. Outbox rows carry
the part after the prefix (:data:`EVENTS`, :data:`AUDIT`; written by
:mod:`firmware.store.eventlog` and the secure log); the publisher prepends the prefix.

Home Assistant discovery (one retained message per device on
``<discovery prefix>/device/<device id>/config``) announces only topics the door publishes: the
lock state, door events (tamper among them), the door contact (retained, from the door inputs;
announced only when ``[door] contact_pin`` is set), the last person, the frame rate, the outbox
depth and the models' update entity. There is no tamper sensor: the switch reports when it
trips, not when it is put back, so a retained on/off state would stay ``on`` for ever.

There is no MQTT lock entity: Home Assistant cannot sign the door's MQTT commands (HMAC with a
nonce and a time), so a lock there could only send commands the door refuses. Home Assistant
opens the door through the web console's REST API with an ``unlock`` token (see the README,
"Home Assistant"). Home Assistant re-reads discovery when it restarts (``homeassistant/status``
= ``online``), so the bridge sends it again then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from firmware import __version__
from firmware.config import Config
from firmware.store.eventlog import EVENT_TYPES

AVAILABILITY = "availability"
EVENTS = "events"
AUDIT = "audit"
STATUS = "status"
DOOR_STATE = "door/state"
DOOR_CONTACT = "door/contact"
OTA_STATE = "ota/state"
RETAINED_OUTBOX = frozenset({AUDIT})
"""Outbox topics published retained: a subscriber that connects later still gets the newest
signed secure-log checkpoint, to hold outside the device (see firmware.security.loghead)."""


def prefix(topic_prefix: str, device_id: str) -> str:
    """The topic prefix: ``[mqtt] topic_prefix`` or ``occur/<device id>``."""
    return topic_prefix.rstrip("/") if topic_prefix else f"occur/{device_id}"


@dataclass(frozen=True)
class Topics:
    """The door's full topic names."""

    prefix: str
    discovery_prefix: str = "homeassistant"
    device_id: str = "door-1"

    @classmethod
    def of(cls, config: Config) -> Topics:
        """The topics a config names."""
        mqtt = config.mqtt
        return cls(prefix(mqtt.topic_prefix, config.device.id), mqtt.discovery_prefix, config.device.id)

    def full(self, name: str) -> str:
        """``<prefix>/<name>`` for one of the names above."""
        return f"{self.prefix}/{name}"

    @property
    def commands(self) -> str:
        """The subscription for every command: ``<prefix>/cmd/+``."""
        return f"{self.prefix}/cmd/+"

    def is_command(self, topic: str) -> bool:
        """A command topic (not a reply)."""
        return topic.startswith(f"{self.prefix}/cmd/") and not topic.endswith("/reply")

    def reply(self, command: str) -> str:
        """Where a command is answered."""
        return f"{self.prefix}/cmd/{command}/reply"

    @property
    def discovery(self) -> str:
        """Where the discovery message goes."""
        return f"{self.discovery_prefix}/device/{self.device_id}/config"

    @property
    def ha_status(self) -> str:
        """Home Assistant's own availability (``online`` after it restarts)."""
        return f"{self.discovery_prefix}/status"


def discovery_payload(topics: Topics, device_name: str, contact: bool) -> dict[str, Any]:
    """The device discovery payload; the contact sensor only when a contact is fitted (nothing
    would be published on its topic otherwise)."""
    uid = f"occur_{topics.device_id}"
    p = topics.full
    cmps: dict[str, dict[str, Any]] = {
        "door": {"p": "binary_sensor", "uniq_id": f"{uid}_door", "name": "Door lock", "dev_cla": "lock",
                 "stat_t": p(DOOR_STATE), "pl_on": "unlocked", "pl_off": "locked"},
        "door_event": {"p": "event", "uniq_id": f"{uid}_event", "name": "Door event", "stat_t": p(EVENTS),
                       "evt_typ": [t for t in EVENT_TYPES if t != "system"],
                       "val_tpl": "{{ {'event_type': value_json.type} | tojson }}"},
    }  # fmt: skip
    if contact:
        cmps["contact"] = {"p": "binary_sensor", "uniq_id": f"{uid}_contact", "name": "Door contact",
                           "dev_cla": "door", "stat_t": p(DOOR_CONTACT),
                           "pl_on": "open", "pl_off": "closed"}  # fmt: skip
    cmps |= {
        "last_person": {"p": "sensor", "uniq_id": f"{uid}_last_person", "name": "Last person", "stat_t": p(EVENTS),
                        "val_tpl": "{{ value_json.user.name if value_json.user else value_json.type }}"},
        "fps": {"p": "sensor", "uniq_id": f"{uid}_fps", "name": "Frame rate", "stat_t": p(STATUS),
                "unit_of_meas": "fps", "stat_cla": "measurement", "val_tpl": "{{ value_json.fps }}"},
        "models": {"p": "update", "uniq_id": f"{uid}_models", "name": "Face models", "stat_t": p(OTA_STATE),
                   "ent_cat": "diagnostic"},
        "outbox": {"p": "sensor", "uniq_id": f"{uid}_outbox", "name": "Outbox depth", "stat_t": p(STATUS),
                   "stat_cla": "measurement", "val_tpl": "{{ value_json.outbox_depth }}", "ent_cat": "diagnostic"},
    }  # fmt: skip
    return {
        "dev": {
            "ids": [uid],
            "name": device_name,
            "mf": "OCCUR-CALL",
            "mdl": "Face-recognition door",
            "sw": __version__,
        },
        "o": {"name": "occur-firmware", "sw": __version__},
        "avty_t": p(AVAILABILITY),
        "qos": 1,
        "cmps": cmps,
    }
