"""The device data key and sealing primitives: the one adapter for the ``cryptography`` SDK."""
