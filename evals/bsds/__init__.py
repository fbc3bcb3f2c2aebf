"""BSDS500 zero-shot edge detection: SAM's edge protocol and the BSDS boundary benchmark."""
from .task import BsdsTask as TASK

__all__ = ["TASK"]
