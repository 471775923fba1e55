"""Operator tools: the TUF repository and bundles for model updates, and backup keys."""
