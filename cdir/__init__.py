"""cdir: cross-domain image retrieval by caption matching."""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
