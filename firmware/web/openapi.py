"""The OpenAPI 3.1 description of the REST API (served at ``/api/v1/openapi.json``)."""

from __future__ import annotations

from typing import Any

from firmware import __version__

_ERROR = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}


def _answer(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    body = schema or {"$ref": "#/components/schemas/Error"}
    return {"description": description, "content": {"application/json": {"schema": body}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "bad input", 401: "no valid token", 403: "the token lacks the scope", 409: "the door shows a fault",
            413: "request too large", 429: "too many bad tokens", 503: "storage busy or full"}  # fmt: skip
    return {str(c): _answer(text[c]) for c in codes}


def spec(device_name: str) -> dict[str, Any]:
    """The description; each operation names the token scope it needs."""
    door = {
        "type": "object",
        "properties": {
            "device": {"type": "string"},
            "door": {"enum": ["locked", "unlocked"]},
            "indicator": {"type": "string", "description": "LED pattern: idle, processing, granted, denied, fault"},
            "camera_ok": {"type": "boolean"},
            "fps": {"type": "number"},
            "updated_at": {"type": ["string", "null"], "format": "date-time"},
        },
    }
    event = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "timestamp": {"type": "string", "format": "date-time"},
            "outcome": {"type": "string"},
            "reason": {"type": "string"},
            "person": {"type": "string"},
            "score": {"type": ["number", "null"]},
        },
    }
    photo = {"type": "object", "properties": {"photo": {"type": "string"}, "accepted": {"type": "boolean"},
             "reasons": {"type": "array", "items": {"type": "string"}}}}  # fmt: skip
    enrolled = {"type": "object", "properties": {"stored": {"type": "boolean"},
                "user_id": {"type": ["integer", "null"]}, "created": {"type": "boolean"},
                "photos": {"type": "array", "items": photo}}}  # fmt: skip
    form = {
        "type": "object",
        "required": ["name", "photos"],
        "properties": {
            "name": {"type": "string"},
            "role": {"type": "string"},
            "email": {"type": "string"},
            "consent_by": {
                "type": "string",
                "description": "who recorded consent (required unless collected elsewhere)",
            },
            "photos": {"type": "array", "items": {"type": "string", "format": "binary"}},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": f"OCCUR-CALL door API ({device_name})", "version": __version__},
        "servers": [{"url": "/api/v1"}],
        "security": [{"token": []}],
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer", "description": "occur web add-token"}},
            "schemas": {"Error": _ERROR, "Door": door, "Event": event, "Enrolled": enrolled},
        },
        "paths": {
            "/door": {"get": {"summary": "Door state", "x-scope": "read", "responses": {
                "200": _answer("the door", {"$ref": "#/components/schemas/Door"}), **_errors(401, 403)}}},
            "/events": {"get": {
                "summary": "The door log, newest first", "x-scope": "read",
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                    {"name": "outcome", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {"200": _answer("events", {"type": "object", "properties": {
                    "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}}}),
                    **_errors(400, 401, 403)}}},
            "/door/unlock": {"post": {
                "summary": "Open the door for the configured pulse (refused while the door shows a fault)",
                "x-scope": "unlock",
                "responses": {"200": _answer("opened", {"type": "object", "properties": {
                    "ok": {"type": "boolean"}, "result": {"type": "string"}}}), **_errors(401, 403, 409, 503)}}},
            "/people": {"post": {
                "summary": "Enrol a person from photos, with the reason for each photo refused", "x-scope": "enrol",
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": form}}},
                "responses": {"201": _answer("enrolled", {"$ref": "#/components/schemas/Enrolled"}),
                              "422": _answer("no photo was usable", {"$ref": "#/components/schemas/Enrolled"}),
                              **_errors(400, 401, 403, 413, 503)}}},
        },
    }  # fmt: skip
