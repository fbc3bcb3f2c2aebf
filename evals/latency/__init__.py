"""Latency of the image encoder and the mask decoder at 1024x1024, batch 1 (the paper's latency table)."""
from .task import LatencyTask as TASK

__all__ = ["TASK"]
