"""The process pool every metric uses to spread images over the CPU cores.

Workers come from a fork server: a fresh single-threaded process started once, so they never inherit the thread
pools (OpenMP, OpenCV) of a parent that has already run a model, which can deadlock a plainly forked child.
Scripts that use it need the usual `if __name__ == "__main__":` guard (run_eval.py and the benchmarks have it).
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.pool
import sys
from typing import Callable


def _single_threaded_worker(initializer: Callable[[], None] | None) -> None:
    import cv2

    cv2.setNumThreads(1)  # parallelism comes from the pool: one worker per core
    if initializer is not None:
        initializer()


def process_pool(workers: int, initializer: Callable[[], None] | None = None) -> multiprocessing.pool.Pool:
    method = "forkserver" if sys.platform.startswith("linux") else "spawn"
    context = multiprocessing.get_context(method)
    return context.Pool(workers, initializer=_single_threaded_worker, initargs=(initializer,))
