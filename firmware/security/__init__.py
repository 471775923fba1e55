"""Keys, encryption and the tamper-evident secure log."""
