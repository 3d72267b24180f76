"""`python -m replaystore`: the command line."""

import sys

from replaystore.cli import main

sys.exit(main())
