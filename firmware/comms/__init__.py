"""MQTT: event ids and payloads, the outbox publisher, Home Assistant discovery, commands."""
