"""OCCUR-CALL door appliance firmware.

Importing this package does no work: no environment reads, no device probes, no database
access. Everything starts from :mod:`firmware.cli` or :mod:`firmware.service`.
"""

__version__ = "0.1.0"
