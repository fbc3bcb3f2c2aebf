"""The suite's console messages: one logger, `samzero`, on standard error (results and tables go to standard out).

Under torchrun every rank runs the same command: rank 0 says everything from INFO up; the other ranks only
warnings and errors, each prefixed with its rank, so N ranks do not print N copies of the same progress line.
The handler looks up `sys.stderr` when it writes (not when it is made), so a caller that redirects stderr, or a
test that captures it, gets the messages.
"""
from __future__ import annotations

import logging
import os
import sys

LOGGER = logging.getLogger("samzero")


class _CurrentStderr(logging.StreamHandler):
    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ sets it; the property always answers sys.stderr
        pass


def setup() -> logging.Logger:
    """Configure `samzero` once per process for this rank (torchrun's RANK; 0 without torchrun)."""
    rank = int(os.environ.get("RANK", "0"))
    if not LOGGER.handlers:
        LOGGER.addHandler(_CurrentStderr())
        LOGGER.propagate = False
    LOGGER.handlers[0].setFormatter(logging.Formatter("%(message)s" if rank == 0 else f"[rank {rank}] %(message)s"))
    LOGGER.setLevel(logging.INFO if rank == 0 else logging.WARNING)
    return LOGGER
