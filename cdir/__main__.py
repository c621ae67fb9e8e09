"""``python -m cdir`` entry point."""

import sys

from cdir.cli import main

if __name__ == "__main__":
    sys.exit(main())
