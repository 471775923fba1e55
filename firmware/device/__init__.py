"""The device as installed: first-boot provisioning and ``occur doctor``'s site checks."""
