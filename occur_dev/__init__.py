"""Development code: the demo, benchmarks and evaluations behind ``occur demo``, ``occur bench`` and
``occur eval``. Installed with the firmware (``occur demo`` is the README's first command) but never
imported by the door: only :mod:`firmware.cli` reaches it, and only for those commands."""
