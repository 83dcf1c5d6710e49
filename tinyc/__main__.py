"""`python -m tinyc ...`: the `tinyc` command, for an environment whose scripts directory
is not on PATH (the firmware examples' Makefiles fall back to it)."""

import sys

from tinyc.cli import main

sys.exit(main())
