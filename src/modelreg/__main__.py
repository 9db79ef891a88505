"""``python -m modelreg``: the same as the ``modelreg`` command."""

import sys

from modelreg.cli import main

sys.exit(main())
