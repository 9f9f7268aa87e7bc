import sys

from seagull.cli import main

sys.exit(main())
