"""``python -m seagull.cli``: the entrypoint that cluster jobs run (see seagull/cli/submit.py)."""

import sys

from seagull.cli import main

sys.exit(main())
