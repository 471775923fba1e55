"""The appliance loop: frames to tracks, tracks to decisions, decisions to the door and records."""
