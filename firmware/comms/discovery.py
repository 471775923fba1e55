"""Home Assistant MQTT device discovery (one retained message per device).

Topic ``<discovery prefix>/device/<device id>/config``; payload with the device block (``dev``),
the origin (``o``), availability, and the components (``cmps``): the lock state (a binary sensor),
an event entity for door events, binary sensors for the door contact and tamper, sensors for the
last person, the frame rate and the outbox depth.

There is no MQTT lock entity: Home Assistant cannot sign the door's MQTT commands (HMAC with a
nonce and a time), so a lock there could only send commands the door refuses. Home Assistant
opens the door through the web console's REST API with an ``unlock`` token (``rest_command``;
see the README, "Home Assistant"). Home Assistant re-reads it when it restarts
(``homeassistant/status`` = ``online``), so the publisher sends it again then.
"""

from __future__ import annotations

from typing import Any

from firmware import __version__
from firmware.comms.payloads import EVENT_TYPES


def topic(discovery_prefix: str, device_id: str) -> str:
    """Where the discovery message goes."""
    return f"{discovery_prefix}/device/{device_id}/config"


def payload(device_id: str, device_name: str, prefix: str) -> dict[str, Any]:
    """The device discovery payload."""
    uid = f"occur_{device_id}"
    events = [t for t in EVENT_TYPES if t != "system"]
    return {
        "dev": {
            "ids": [uid],
            "name": device_name,
            "mf": "OCCUR-CALL",
            "mdl": "Face-recognition door",
            "sw": __version__,
        },
        "o": {"name": "occur-firmware", "sw": __version__},
        "avty_t": f"{prefix}/availability",
        "qos": 1,
        "cmps": {
            "door": {
                "p": "binary_sensor",
                "uniq_id": f"{uid}_door",
                "name": "Door lock",
                "dev_cla": "lock",
                "stat_t": f"{prefix}/door/state",
                "pl_on": "unlocked",
                "pl_off": "locked",
            },
            "door_event": {
                "p": "event",
                "uniq_id": f"{uid}_event",
                "name": "Door event",
                "stat_t": f"{prefix}/events",
                "evt_typ": events,
                "val_tpl": "{{ {'event_type': value_json.type} | tojson }}",
            },
            "contact": {
                "p": "binary_sensor",
                "uniq_id": f"{uid}_contact",
                "name": "Door contact",
                "dev_cla": "door",
                "stat_t": f"{prefix}/door/contact",
                "pl_on": "open",
                "pl_off": "closed",
            },
            "tamper": {
                "p": "binary_sensor",
                "uniq_id": f"{uid}_tamper",
                "name": "Tamper",
                "dev_cla": "tamper",
                "stat_t": f"{prefix}/door/tamper",
                "pl_on": "on",
                "pl_off": "off",
            },
            "last_person": {
                "p": "sensor",
                "uniq_id": f"{uid}_last_person",
                "name": "Last person",
                "stat_t": f"{prefix}/events",
                "val_tpl": "{{ value_json.user.name if value_json.user else value_json.type }}",
            },
            "fps": {
                "p": "sensor",
                "uniq_id": f"{uid}_fps",
                "name": "Frame rate",
                "stat_t": f"{prefix}/status",
                "unit_of_meas": "fps",
                "stat_cla": "measurement",
                "val_tpl": "{{ value_json.fps }}",
            },
            "models": {
                "p": "update",
                "uniq_id": f"{uid}_models",
                "name": "Face models",
                "stat_t": f"{prefix}/ota/state",
                "ent_cat": "diagnostic",
            },
            "outbox": {
                "p": "sensor",
                "uniq_id": f"{uid}_outbox",
                "name": "Outbox depth",
                "stat_t": f"{prefix}/status",
                "stat_cla": "measurement",
                "val_tpl": "{{ value_json.outbox_depth }}",
                "ent_cat": "diagnostic",
            },
        },
    }
