"""A setting chosen per call, per process (a CLI or app flag) or by an environment variable:
``--quantize``/``$CDIR_QUANTIZE`` and ``--device``/``$CDIR_DEVICE``."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class ProcessSetting:
    """One of ``choices``: given explicitly, else the process default (:meth:`set`), else
    ``$env``, else ``default``; compared in lower case."""

    flag: str
    env: str
    choices: tuple[str, ...]
    default: str
    _process_default: str | None = None

    def get(self, explicit: str | None = None) -> str:
        """The value in force; raises ValueError (naming the flag or the variable it came from)
        for one not in ``choices``."""
        given = explicit or self._process_default
        value = (given or os.environ.get(self.env) or self.default).strip().lower()
        if value not in self.choices:
            source = self.flag if given else f"${self.env}"
            raise ValueError(f"{source} must be one of {', '.join(self.choices)}, not {value!r}")
        return value

    def set(self, value: str | None) -> str | None:
        """Make ``value`` this process's default (None: back to ``$env``); returns the previous
        default so a caller can put it back."""
        previous = self._process_default
        self._process_default = self.get(value) if value else None
        return previous
