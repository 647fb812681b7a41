"""``python -m rt_core``: the ``rt`` command."""

import sys

from rt_core.cli import main

if __name__ == "__main__":  # importing the module (e.g. to collect its doctests) runs nothing
    sys.exit(main())
