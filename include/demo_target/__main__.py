"""Entry point: ``python -m include.demo_target <command>``."""

import sys

from include.demo_target.cli import main

sys.exit(main())
