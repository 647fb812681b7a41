"""``python -m rt_core``: the ``rt`` command."""

import sys

from rt_core.cli import main

sys.exit(main())
