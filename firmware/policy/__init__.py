"""Pure door policies: who may enter when (access) and what a liveness verdict allows (liveness)."""
