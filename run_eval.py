#!/usr/bin/env python
"""Zero-shot evaluation of SAM-family models: `python run_eval.py --help`."""
import sys

from evals.cli import main

if __name__ == "__main__":
    sys.exit(main())
