"""The REST API with scoped tokens, and the Home Assistant set-up the README documents: its
``rest_command`` opening the door with an ``unlock`` token, sent exactly as configured."""

from __future__ import annotations

import json
import re
import ssl
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from firmware.security import tokens
from firmware.store import api_tokens
from firmware.store.store import Store
from tests.conftest import REPO, query
from tests.web.door import FACES, Door, multipart, running_door


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    with running_door(tmp_path_factory.mktemp("api-door")) as running:
        yield running


def token(door: Door, name: str, scopes: str) -> str:
    with Store.open(door.config.paths) as store:
        made, _ = store.write(lambda c: tokens.insert_token(c, name, tokens.parse_scopes(scopes), "test"))
    return made


def test_scopes_are_enforced(door: Door) -> None:
    reader = token(door, "dashboard", "read")
    status, doc = door.api("GET", "/api/v1/door", reader)
    assert status == 200 and doc["door"] == "locked" and doc["device"] == door.config.device.id
    status, doc = door.api("POST", "/api/v1/door/unlock", reader)
    assert status == 403 and "lacks the 'unlock' scope" in doc["error"]
    body, headers = multipart({"name": "x"}, [])
    status, doc = door.api("POST", "/api/v1/people", reader, body, headers)
    assert status == 403
    for bad in ("", "occur_not-a-token", reader[:-2] + "xx"):
        status, doc = door.api("GET", "/api/v1/door", bad)
        assert status == 401
    with Store.open(door.config.paths) as store:
        store.write(lambda c: api_tokens.revoke(c, "dashboard"))
    assert door.api("GET", "/api/v1/door", reader)[0] == 401
    assert query(door.config.paths, "SELECT count(*) FROM door_events") == [(0,)]


def test_enrol_and_events_over_the_api(door: Door) -> None:
    enroller = token(door, "hr-system", "enrol,read")
    photos = [("photos", p.name, p.read_bytes()) for p in sorted((FACES / "leonard").glob("*.jpg"))[1:3]]
    photos.append(("photos", "readme.txt", b"not a photo"))
    body, headers = multipart({"name": "leonard", "role": "staff", "consent_by": "hr"}, photos)
    status, doc = door.api("POST", "/api/v1/people", enroller, body, headers)
    assert status == 201 and doc["stored"] and doc["created"]
    assert [p["accepted"] for p in doc["photos"]] == [True, True, False]
    assert doc["photos"][2]["reasons"] == ["not a JPEG or PNG photo"]
    body, headers = multipart({"name": "nobody", "consent_by": "hr"}, [("photos", "x.txt", b"text")])
    status, doc = door.api("POST", "/api/v1/people", enroller, body, headers)
    assert status == 422 and not doc["stored"] and doc["user_id"] is None
    door.camera.visit(sorted((FACES / "leonard").glob("*.jpg"))[0])
    deadline = time.monotonic() + 30
    while not door.decisions and time.monotonic() < deadline:
        time.sleep(0.1)
    status, doc = door.api("GET", "/api/v1/events?limit=5", enroller)
    assert status == 200 and doc["events"][0]["person"] == "leonard" and doc["events"][0]["outcome"] == "granted"
    assert door.api("GET", "/api/v1/events?limit=5000", enroller)[0] == 400


def test_openapi_describes_every_api_route(door: Door) -> None:
    status, _, body = door.request("GET", "/api/v1/openapi.json")
    doc = json.loads(body)
    assert status == 200 and doc["openapi"].startswith("3.1")
    assert {"/door", "/events", "/door/unlock", "/people"} == set(doc["paths"])
    assert doc["components"]["securitySchemes"]["token"]["scheme"] == "bearer"


class _HaLoader(yaml.SafeLoader):
    """Home Assistant's YAML: ``!secret NAME`` reads secrets.yaml."""


def ha_config() -> tuple[dict[str, Any], dict[str, Any]]:
    """The configuration.yaml and secrets.yaml blocks of the README's Home Assistant section."""
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### Home Assistant") :]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    _HaLoader.add_constructor("!secret", lambda loader, node: ("secret", loader.construct_scalar(node)))
    return yaml.load(blocks[0], _HaLoader), yaml.load(blocks[1], _HaLoader)


def test_home_assistant_rest_command_opens_the_door(door: Door) -> None:
    configuration, secrets = ha_config()
    command = configuration["rest_command"]["front_door_unlock"]
    made = token(door, "home-assistant", "unlock")
    secrets["front_door_unlock_auth"] = f"Bearer {made}"
    headers = {k: secrets[v[1]] if isinstance(v, tuple) else v for k, v in command["headers"].items()}
    url = urllib.parse.urlsplit(command["url"])._replace(netloc=f"127.0.0.1:{door.port}").geturl()
    context = ssl.create_default_context(cafile=str(door.cert))
    if command.get("verify_ssl") is False:
        context = ssl._create_unverified_context()
    request = urllib.request.Request(url, method=command["method"].upper(), headers=headers)
    with urllib.request.urlopen(request, timeout=command["timeout"], context=context) as answer:
        assert answer.status == 200 and json.loads(answer.read())["ok"]
    rows = query(door.config.paths, "SELECT outcome, reason FROM door_events WHERE reason LIKE 'api%'")
    assert rows == [("granted", "api unlock by token home-assistant")]
    wrong = urllib.request.Request(url, method="POST", headers={"authorization": "Bearer occur_wrong"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(wrong, timeout=10, context=context)
    assert refused.value.code == 401
