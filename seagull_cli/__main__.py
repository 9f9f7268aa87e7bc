"""``python -m seagull_cli``: the entrypoint that cluster jobs run (see seagull_cli/submit.py)."""

import sys

from seagull_cli import main

sys.exit(main())
