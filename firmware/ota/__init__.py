"""Signed model updates over TUF: bundles, releases, self-test, install, schedule."""
