"""``python -m seagull.cli``: the old spelling of ``python -m seagull_cli``."""

import sys

from seagull.cli import main

sys.exit(main())
