"""``python -m firmware`` runs the ``occur`` command line."""

import sys

from firmware.cli import main

sys.exit(main())
